"""The bad-input corpus: files as they really arrive broken, each with the outcome it must get, through the real
steps of a run (`flows.steps` on a small generated reference).

Outcomes are of three kinds: the file is reported with a reason code; rows are quarantined with their position,
reason code and Chinese sentence; or values are repaired. Inputs = outcomes: every data row of every readable file
is one row of the run's match results.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from flows import steps
from jingzhun import rules
from jingzhun.run import Run
from jingzhun.warehouse import connect, read_run

RUN_DATE = dt.date(2026, 11, 22)
HEADER = ["申报时间", "姓名", "证件号码", "手机号码", "居住地址", "近14天旅居地", "是否发热", "健康码"]
ROW = ["2026-11-22 08:00:00", "王伟", "110105194912310021", "13812345678", "碧波路455弄3号502室", "无", "否", "绿码"]
VALID_ID = "11010519491231002X"  # the standard's own example


def _csv(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\r\n" for row in rows)


def _xlsx(rows: list[list[object]], merge: str | None = None) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if merge:
        book.active.merge_cells(merge)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _row(**changes: str) -> list[str]:
    values = dict(zip(HEADER, ROW, strict=True))
    values.update(changes)
    return list(values.values())


# file name -> (bytes, data rows the file holds: None when the file must be reported unreadable)
def _corpus() -> dict[str, tuple[bytes, int | None]]:
    good = _xlsx([HEADER, ROW, ROW])
    corpus = {
        "gb18030.csv": (
            _csv([HEADER, _row(姓名="欧阳娜娜", 居住地址="張江鎮碧波路455弄3號502室")]).encode("gb18030"), 1),
        "bom.csv": (_csv([HEADER, ROW]).encode("utf-8-sig"), 1),
        "utf16.csv": (_csv([HEADER, ROW, ROW]).encode("utf-16"), 2),
        "truncated_row.csv": (_csv([HEADER, ROW, ROW]).encode()[:-40], 2),
        "truncated_quote.csv": ((_csv([HEADER, ROW]) + '2026-11-22,李娜,,,"碧波路455弄3号').encode(), 2),
        "truncated.xlsx": (good[: len(good) // 2], None),
        "empty.csv": (b"", None),
        "header_only.csv": (_csv([HEADER]).encode(), 0),
        "merged.xlsx": (_xlsx([HEADER, ROW, _row(居住地址="")], merge="E2:E3"), 2),
        "extra_columns.csv": (_csv([[*HEADER, "备注", "备注"], [*ROW, "复工", "返沪"]]).encode(), 1),
        "big_cell.csv": (_csv([HEADER, _row(居住地址="碧波路455弄3号502室" + "很长的说明" * 20_000)]).encode(), 1),
        "control_chars.csv": (_csv([HEADER, _row(姓名="王\x1b伟", 证件号码=VALID_ID[:6] + "\x00" + VALID_ID[6:],
                                                  手机号码="138\u200b1234\u200b5678")]).encode(), 1),
        "title_row.csv": (_csv([["健康云申报导出 2026-11-22"], HEADER, ROW]).encode(), 1),
        "duplicate_headers.csv": (_csv([[*HEADER, "姓名"], [*ROW, "李娜"]]).encode(), 1),
        "no_fields.csv": (_csv([["列A", "列B"], ["1", "2"], ["3", "4"]]).encode(), 2),
    }
    return corpus


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory) -> tuple[Run, dict[str, tuple[bytes, int | None]]]:
    from synthetic.generate import generate

    base = tmp_path_factory.mktemp("bad")
    generate(base / "district", persons=2000, seed=1, day=RUN_DATE)
    inbox = base / "inbox"
    (inbox / "health").mkdir(parents=True)
    corpus = _corpus()
    for name, (content, _) in corpus.items():
        (inbox / "health" / name).write_bytes(content)
    run = Run(inbox=inbox, reference=base / "district" / "reference", out=base / "out", run_date=RUN_DATE)
    steps.prepare(run)
    for step in (steps.ingest, steps.cleanse, steps.validate, steps.match, steps.screen):
        step(run)
    return run, corpus


def _table(run: Run, name: str) -> pl.DataFrame:
    with connect(run.warehouse) as con:
        return read_run(con, name, run.run_date)


def _standard_row(run: Run, file: str, row: int = 1) -> dict:
    standard = _table(run, "standard_records")
    return standard.filter((pl.col("source_file") == file) & (pl.col("source_row") == row)).row(0, named=True)


def test_unreadable_files_are_reported_with_their_reason(bad_run):
    run, _ = bad_run
    files = {f["name"]: f for f in _table(run, "input_files").iter_rows(named=True)}
    assert files["truncated.xlsx"]["error_code"] == "not_a_table"
    assert files["empty.csv"]["error_code"] == "empty_file"
    reasons = rules.load("quarantine")["files"]
    assert all(f["error_code"] in reasons for f in files.values() if f["error_code"])


def test_every_data_row_of_every_readable_file_has_exactly_one_outcome(bad_run):
    run, corpus = bad_run
    decided = _table(run, "match_results")
    for name, (_, rows) in corpus.items():
        got = decided.filter(pl.col("source_file") == name)["source_row"].sort().to_list()
        assert got == list(range(1, (rows or 0) + 1)), name
    assert decided["outcome"].is_not_null().all()


def test_encodings_are_read_and_traditional_characters_repaired(bad_run):
    run, _ = bad_run
    row = _standard_row(run, "gb18030.csv")
    assert (row["name"], row["addr_road"], row["addr_town"], row["address_traditional"]) == \
        ("欧阳娜娜", "碧波路", "张江镇", True)
    for name in ("bom.csv", "utf16.csv"):
        assert _standard_row(run, name)["name"] == "王伟", name


def test_truncated_rows_keep_what_arrived(bad_run):
    run, _ = bad_run
    cut = _standard_row(run, "truncated_row.csv", 2)
    assert cut["name"] == "王伟" and cut["address_raw"] is None  # the cut took the address and what follows
    quoted = _standard_row(run, "truncated_quote.csv", 2)
    assert quoted["name"] == "李娜" and quoted["addr_road"] == "碧波路"


def test_merged_cells_leave_the_merged_away_cell_empty_not_guessed(bad_run):
    run, _ = bad_run
    assert _standard_row(run, "merged.xlsx", 1)["address"] == "碧波路455弄3号502室"
    assert _standard_row(run, "merged.xlsx", 2)["address_raw"] is None


def test_extra_and_duplicate_columns_are_kept_not_overwritten(bad_run):
    import json

    run, _ = bad_run
    assert json.loads(_standard_row(run, "extra_columns.csv")["extras"]) == {"备注": "复工", "备注（列10）": "返沪"}
    duplicate = _standard_row(run, "duplicate_headers.csv")
    assert duplicate["name"] == "王伟" and json.loads(duplicate["extras"]) == {"姓名": "李娜"}


def test_a_huge_cell_is_parsed_without_stalling(bad_run):
    run, _ = bad_run
    row = _standard_row(run, "big_cell.csv")
    assert row["addr_road"] == "碧波路" and len(row["address"]) > 100_000


def test_control_and_zero_width_characters_are_removed_and_the_values_repaired(bad_run):
    run, _ = bad_run
    row = _standard_row(run, "control_chars.csv")
    assert row["name"] == "王伟"
    assert (row["id_number"], row["id_number_status"]) == (VALID_ID, "valid")
    assert "invisible" in row["id_number_repairs"]
    assert (row["phone"], row["phone_status"]) == ("13812345678", "valid")


def test_title_row_is_not_data_and_header_only_file_has_no_rows(bad_run):
    run, _ = bad_run
    assert _standard_row(run, "title_row.csv")["name"] == "王伟"
    files = {f["name"]: f for f in _table(run, "input_files").iter_rows(named=True)}
    assert files["header_only.csv"]["error_code"] is None and files["header_only.csv"]["data_rows"] == 0


def test_file_without_our_fields_is_quarantined_row_by_row_with_a_chinese_reason(bad_run):
    from dispatch.packages import quarantine_rows
    from ingest.mapping import HeaderMapping

    run, _ = bad_run
    quarantine = quarantine_rows(_table(run, "match_results"), _table(run, "raw_records"),
                                 HeaderMapping.load().all_fields())
    rows = quarantine.filter(pl.col("source_file") == "no_fields.csv")
    assert rows["source_row"].to_list() == [1, 2]
    assert set(rows["reason_code"]) == {"unmapped_header"}
    assert all("表头" in reason for reason in rows["reason"])


def test_near_miss_id_numbers_stay_available_to_matching(bad_run):
    run, _ = bad_run
    row = _standard_row(run, "bom.csv")  # ROW's ID has a wrong check digit
    assert (row["id_number"], row["id_number_status"], row["quarantine_code"]) == \
        ("110105194912310021", "bad_check_digit", None)


def test_truncated_zip_inside_xlsx_is_not_a_table(tmp_path):
    from ingest.files import UnreadableFile, read_sheet

    path = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
    with pytest.raises(UnreadableFile) as error:
        read_sheet(Path(path))
    assert error.value.code == "not_a_table"


def test_placeholders_in_identity_fields_count_as_empty():
    import polars as pl

    from cleansing.pipeline import normalize_column

    frame = pl.DataFrame({"name": ["test", "测试", "王伟", " 无 "], "travel": ["无", "无", "武汉", None]})
    names = normalize_column(frame, "name", "name")
    assert names["name"].to_list() == [None, None, "王伟", None]
    assert names["name_raw"].to_list() == ["test", "测试", "王伟", " 无 "]  # what arrived is kept
    # 无 is an answer to 近14天旅居地, not a missing value.
    assert normalize_column(frame, "travel", "text")["travel"].to_list() == ["无", "无", "武汉", None]
