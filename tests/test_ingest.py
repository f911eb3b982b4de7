"""Ingest on real files: every data row becomes a record, every unreadable file a reason, headers via aliases."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from jingzhun.core.errors import UserError
from jingzhun.ingest.inbox import read_inbox
from jingzhun.ingest.mapping import HeaderMapping

HEALTH_HEADER = ["申报时间", "姓名", "证件号码", "手机号码", "居住地址", "近14天旅居地", "是否发热", "健康码"]
ROW = ["2026-11-22 08:00:00", "王伟", "310115199001011234", "13812345678", "碧波路455弄3号502室", "无", "否", "绿码"]


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\r\n".join(",".join(r) for r in rows).encode(encoding) + b"\r\n")
    return path


def write_xlsx(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if merge:
        book.active.merge_cells(merge)
    book.save(path)
    return path


@pytest.fixture
def mapping() -> HeaderMapping:
    return HeaderMapping.load()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_every_encoding_reads_the_same_values(tmp_path, mapping, encoding):
    write_csv(tmp_path / "health" / "a.csv", [HEALTH_HEADER, ROW], encoding)
    records = read_inbox(tmp_path, mapping).records
    assert records.height == 1
    assert records.row(0, named=True)["name"] == "王伟"
    assert records.row(0, named=True)["address"] == "碧波路455弄3号502室"


def test_aliases_map_to_standard_fields(tmp_path, mapping):
    header = ["通行时间", "道口", "驾乘人员姓名", "身份证号码", "联系电话", "车牌号", "来自", "在沪居住地址"]
    write_csv(
        tmp_path / "checkpoint" / "a.csv", [header, ["t", "S20道口", "李娜", "x", "1", "沪A1", "武汉", "addr"]], "utf-8"
    )
    row = read_inbox(tmp_path, mapping).records.row(0, named=True)
    assert (
        row["registered_at"],
        row["checkpoint"],
        row["name"],
        row["id_number"],
        row["phone"],
        row["plate"],
        row["origin"],
        row["address"],
    ) == ("t", "S20道口", "李娜", "x", "1", "沪A1", "武汉", "addr")


def test_extra_columns_are_kept_not_dropped(tmp_path, mapping):
    write_csv(tmp_path / "health" / "a.csv", [["序号", *HEALTH_HEADER, "备注"], ["1", *ROW, "复工人员"]], "utf-8")
    row = read_inbox(tmp_path, mapping).records.row(0, named=True)
    assert json.loads(row["extras"]) == {"序号": "1", "备注": "复工人员"}


def test_mapping_override_adds_an_alias(tmp_path):
    override = tmp_path / "mapping.yaml"
    override.write_text("health:\n  name: [申报人]\n", encoding="utf-8")
    header = ["申报人" if h == "姓名" else h for h in HEALTH_HEADER]
    write_csv(tmp_path / "inbox" / "health" / "a.csv", [header, ROW], "utf-8")
    row = read_inbox(tmp_path / "inbox", HeaderMapping.load(override)).records.row(0, named=True)
    assert row["name"] == "王伟"


def test_bad_rows_are_kept_with_their_issue_and_position(tmp_path, mapping):
    rows = [HEALTH_HEADER, ROW, [""] * 8, HEALTH_HEADER, [*ROW, "多出的一格"], ROW]
    write_csv(tmp_path / "health" / "a.csv", rows, "utf-8")
    records = read_inbox(tmp_path, mapping).records
    assert records["source_row"].to_list() == [1, 2, 3, 4, 5]
    assert records["ingest_issue"].to_list() == [None, "empty_row", "repeated_header", "ragged_row", None]


def test_title_row_above_the_header_is_not_data(tmp_path, mapping):
    write_xlsx(tmp_path / "health" / "a.xlsx", [["健康云申报导出 2026-11-22"], HEALTH_HEADER, ROW], merge="A1:H1")
    records = read_inbox(tmp_path, mapping).records
    assert records.height == 1 and records["name"].to_list() == ["王伟"]


def test_xlsx_numbers_and_dates_become_text(tmp_path, mapping):
    import datetime as dt

    row = [dt.datetime(2026, 11, 22, 8, 30), "王伟", 310115199001011234.0, 13812345678.0, "碧波路", "无", "否", "绿码"]
    write_xlsx(tmp_path / "health" / "a.xlsx", [HEALTH_HEADER, row])
    got = read_inbox(tmp_path, mapping).records.row(0, named=True)
    assert got["declared_at"] == "2026-11-22 08:30:00"
    assert got["phone"] == "13812345678"
    # An ID number stored as an Excel number has lost its last digits: it must not pass as an exact ID.
    assert got["id_number"] == "3.10115199001011e+17"


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.csv", b"", "empty_file"),
        ("blank.csv", b"\r\n\r\n", "empty_file"),
        # Most lines in neither encoding (Windows-1252 with € and ÿ): not a file we can read, not a few bad rows.
        ("latin.csv", "姓名\n".encode() + b"\x80 5,\xff\n\xff\x80,1\n2,\x80\xff\n", "unreadable_encoding"),
        ("truncated.xlsx", b"PK\x03\x04" + b"\x00" * 20, "not_a_table"),
        ("notes.txt", b"hello", "unsupported_type"),
    ],
)
def test_unreadable_files_are_reported_and_the_rest_goes_on(tmp_path, mapping, name, content, code):
    (tmp_path / "health").mkdir()
    (tmp_path / "health" / name).write_bytes(content)
    write_csv(tmp_path / "health" / "good.csv", [HEALTH_HEADER, ROW], "utf-8")
    inbox = read_inbox(tmp_path, mapping)
    bad = next(f for f in inbox.files if f.name == name)
    assert bad.error_code == code and bad.data_rows == 0
    assert inbox.records["source_file"].to_list() == ["good.csv"]


def test_header_only_file_has_no_rows_and_no_error(tmp_path, mapping):
    write_csv(tmp_path / "health" / "a.csv", [HEALTH_HEADER], "utf-8-sig")
    inbox = read_inbox(tmp_path, mapping)
    assert inbox.records.height == 0
    assert inbox.files[0].error_code is None and inbox.files[0].data_rows == 0


def test_file_without_recognized_header_quarantines_every_row(tmp_path, mapping):
    write_csv(tmp_path / "hotline" / "a.csv", [["列A", "列B"], ["1", "2"], ["3", "4"]], "utf-8")
    records = read_inbox(tmp_path, mapping).records
    assert records["ingest_issue"].to_list() == ["unmapped_header", "unmapped_header"]


def test_missing_inbox_is_a_user_error(tmp_path, mapping):
    with pytest.raises(UserError, match="inbox folder not found"):
        read_inbox(tmp_path / "nope", mapping)
