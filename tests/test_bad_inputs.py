"""The bad-input corpus: files as they really arrive broken, each kind with the outcome it must get, through the real
steps of a run (`jingzhun.flows.steps`, prepare to reconcile, on a small generated reference).

Every kind states its whole account: which files (or sheets) are read and how many rows each gives, which of those
rows are quarantined and why, and what is listed as not read, with its rows where they can be counted. The run's
own `reconcile` step must pass; the tests then check each kind against the match results, `quarantine/` and
`manifest.json`. Inputs = outcomes + what is listed: no row vanishes, none is counted twice.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from markupsafe import escape

from jingzhun.core import rules
from jingzhun.core.errors import ReconciliationError
from jingzhun.core.run import Run
from jingzhun.core.warehouse import connect, read_run
from jingzhun.flows import steps

RUN_DATE = dt.date(2026, 11, 22)
HEADER = ["申报时间", "姓名", "证件号码", "手机号码", "居住地址", "近14天旅居地", "是否发热", "健康码"]
ROW = ["2026-11-22 08:00:00", "王伟", "110105194912310021", "13812345678", "碧波路455弄3号502室", "无", "否", "绿码"]
VALID_ID = "11010519491231002X"  # the standard's own example
STEPS = ("prepare", "feedback", "ingest", "cleanse", "validate", "match", "screen", "dispatch", "report", "reconcile")
ROW_REASONS: dict[str, str] = rules.load("quarantine")["rows"]
FILE_REASONS: dict[str, str] = rules.load("quarantine")["files"]


def _line(cells: list[str]) -> str:
    return ",".join(cells)


def _csv(rows: list[list[str]], end: str = "\r\n") -> str:
    return "".join(_line(row) + end for row in rows)


def _row(**changes: str) -> list[str]:
    values = dict(zip(HEADER, ROW, strict=True))
    values.update(changes)
    return list(values.values())


def _rows(n: int) -> list[list[str]]:
    return [ROW] * n


def _broken() -> list[str]:
    """A row whose ID cell opens a quote that never closes."""
    return _row(证件号码='"' + ROW[2])


def _book(sheets: dict[str, list[list[object]]], merge: str | None = None, chart_at: int | None = None) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    if merge:
        book.worksheets[0].merge_cells(merge)
    if chart_at is not None:
        from openpyxl.chart import BarChart

        book.create_chartsheet("图表", chart_at).add_chart(BarChart())
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx(rows: list[list[object]], merge: str | None = None) -> bytes:
    return _book({"Sheet1": rows}, merge)


@dataclass
class Kind:
    """One kind of bad input: the files it puts in the inbox and the whole account it must give."""

    files: dict[str, bytes | Callable[[Path], None]]  # path under the inbox -> content, or a maker of the path
    read: dict[str, int] = field(default_factory=dict)  # source_file -> data rows read
    quarantined: dict[tuple[str, int], str] = field(default_factory=dict)  # (source_file, row) -> reason code
    listed: dict[tuple[str, str | None], tuple[str, int | None]] = field(default_factory=dict)
    # (path under the inbox, sheet) -> (reason code, rows not read or None when they cannot be counted)


def _symlink_to_nowhere(path: Path) -> None:
    path.symlink_to(path.parent / "does-not-exist.csv")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


GBK_NAME = os.fsdecode(b"health/" + "健康云申报_gbk名".encode("gbk") + b".csv")
BAD_NAME = os.fsdecode(b"health/\xff\xfe_name.csv")


def _corpus() -> dict[str, Kind]:
    gbk_rows = _csv([HEADER, *_rows(10)]).encode("gb18030")
    utf8_line = _csv([_row(姓名="李娜")]).encode()
    good = _xlsx([HEADER, ROW, ROW])
    quoted_cell = _row(居住地址='"碧波路455弄""3号"",502室"')
    multiline = _row(居住地址='"碧波路455弄\n3号502室"')
    crlf_in_cell = _row(居住地址='"碧波路455弄\r\n3号502室"')
    same = _csv([HEADER, *_rows(3)]).encode()
    formula = _xlsx([HEADER, [*ROW[:5], "=1/0", "否", "绿码"]])
    return {
        # Encodings and byte-level damage.
        "gb18030": Kind(
            {
                "health/gb18030.csv": _csv(
                    [HEADER, _row(姓名="欧阳娜娜", 居住地址="張江鎮碧波路455弄3號502室")]
                ).encode("gb18030")
            },
            read={"gb18030.csv": 1},
        ),
        "utf8_bom": Kind({"health/bom.csv": _csv([HEADER, ROW]).encode("utf-8-sig")}, read={"bom.csv": 1}),
        "utf16_le_bom": Kind({"health/utf16.csv": _csv([HEADER, ROW, ROW]).encode("utf-16")}, read={"utf16.csv": 2}),
        "utf16_be_bom": Kind(
            {"health/utf16be.csv": b"\xfe\xff" + _csv([HEADER, ROW]).encode("utf-16-be")}, read={"utf16be.csv": 1}
        ),
        "utf16_cut_at_odd_byte": Kind(
            {"health/utf16cut.csv": _csv([HEADER, ROW, ROW]).encode("utf-16")[:-1]}, read={"utf16cut.csv": 2}
        ),
        "truncated_row": Kind(
            {"health/truncated_row.csv": _csv([HEADER, ROW, ROW]).encode()[:-40]}, read={"truncated_row.csv": 2}
        ),
        "truncated_mid_character": Kind(
            {"health/cut_char.csv": _csv([HEADER, ROW]).encode()[:-13]}, read={"cut_char.csv": 1}
        ),
        "truncated_gbk_mid_character": Kind(
            {"health/cut_gbk.csv": _csv([HEADER, ROW]).encode("gb18030")[:-11]}, read={"cut_gbk.csv": 1}
        ),
        "truncated_in_open_quote": Kind(
            {"health/truncated_quote.csv": (_csv([HEADER, ROW]) + '2026-11-22,李娜,,,"碧波路455弄3号').encode()},
            read={"truncated_quote.csv": 2},
        ),
        "gbk_file_with_one_utf8_line": Kind(
            {"health/gbk_mixed.csv": gbk_rows + utf8_line + _csv(_rows(10)).encode("gb18030")},
            read={"gbk_mixed.csv": 21},
            quarantined={("gbk_mixed.csv", 11): "mixed_encoding"},
        ),
        "utf8_file_with_one_gbk_line": Kind(
            {
                "health/utf8_mixed.csv": _csv([HEADER, *_rows(5)]).encode()
                + _csv([_row(姓名="李娜")]).encode("gb18030")
                + _csv(_rows(5)).encode()
            },
            read={"utf8_mixed.csv": 11},
            quarantined={("utf8_mixed.csv", 6): "mixed_encoding"},
        ),
        "bom_file_with_one_gbk_line": Kind(
            {
                "health/bom_mixed.csv": _csv([HEADER, ROW]).encode("utf-8-sig")
                + _csv([_row(姓名="李娜")]).encode("gb18030")
                + _csv([ROW]).encode()
            },
            read={"bom_mixed.csv": 3},
            quarantined={("bom_mixed.csv", 2): "mixed_encoding"},
        ),
        "utf8_with_a_bad_byte": Kind(
            {
                "health/bad_byte.csv": _csv([HEADER, ROW, ROW]).encode()
                + _line(ROW).encode()[:25]
                + b"\xff"
                + _line(ROW).encode()[25:]
                + b"\r\n"
                + _csv([ROW]).encode()
            },
            read={"bad_byte.csv": 4},
            quarantined={("bad_byte.csv", 3): "bad_bytes"},
        ),
        "gbk_with_a_bad_byte": Kind(
            {"health/gbk_bad.csv": gbk_rows + b"2026-11-22,\xff\x80,1,2,3\r\n" + _csv([ROW]).encode("gb18030")},
            read={"gbk_bad.csv": 12},
            quarantined={("gbk_bad.csv", 11): "bad_bytes"},
        ),
        "control_and_zero_width_chars": Kind(
            {
                "health/control_chars.csv": _csv(
                    [
                        HEADER,
                        _row(
                            姓名="王\x1b伟",
                            证件号码=VALID_ID[:6] + "\x00" + VALID_ID[6:],
                            手机号码="138\u200b1234\u200b5678",
                        ),
                    ]
                ).encode()
            },
            read={"control_chars.csv": 1},
        ),
        "binary_with_nuls": Kind(
            {"health/binary.csv": b"\x89PNG\r\n\x1a\n" + (b"\x00" * 64 + bytes(range(256))) * 8},
            listed={("health/binary.csv", None): ("not_a_table", None)},
        ),
        "windows_1252_file": Kind(
            {"health/latin.csv": "姓名\n".encode() + b"\x80 5,\xff\n\xff\x80,1\n2,\x80\xff\n"},
            listed={("health/latin.csv", None): ("unreadable_encoding", None)},
        ),
        "xlsx_renamed_csv": Kind(
            {"health/really_xlsx.csv": good}, listed={("health/really_xlsx.csv", None): ("not_a_table", None)}
        ),
        "csv_renamed_xlsx": Kind(
            {"health/really_csv.xlsx": _csv([HEADER, ROW]).encode()},
            listed={("health/really_csv.xlsx", None): ("not_a_table", None)},
        ),
        "truncated_xlsx": Kind(
            {"health/truncated.xlsx": good[: len(good) // 2]},
            listed={("health/truncated.xlsx", None): ("not_a_table", None)},
        ),
        "zip_with_broken_xml": Kind(
            {"health/broken_parts.xlsx": _broken_zip()},
            listed={("health/broken_parts.xlsx", None): ("not_a_table", None)},
        ),
        # Line ends, quotes and cells.
        "cr_only_line_ends": Kind({"health/cr.csv": _csv([HEADER, *_rows(30)], "\r").encode()}, read={"cr.csv": 30}),
        "lf_only_line_ends": Kind({"health/lf.csv": _csv([HEADER, *_rows(3)], "\n").encode()}, read={"lf.csv": 3}),
        "mixed_line_ends": Kind(
            {
                "health/mixed_ends.csv": (
                    _line(HEADER) + "\r\n" + _line(ROW) + "\n" + _line(ROW) + "\r" + _line(ROW) + "\r\n"
                ).encode()
            },
            read={"mixed_ends.csv": 3},
        ),
        "cr_only_with_bom": Kind(
            {"health/cr_bom.csv": _csv([HEADER, *_rows(4)], "\r").encode("utf-8-sig")}, read={"cr_bom.csv": 4}
        ),
        "unbalanced_quote": Kind(
            {
                "health/quote.csv": _csv(
                    [HEADER, *_rows(9), _broken(), *_rows(19), _row(居住地址='"碧波路455弄3号502室"'), ROW]
                ).encode()
            },
            read={"quote.csv": 31},
            quarantined={("quote.csv", 10): "unbalanced_quote"},
        ),
        "unbalanced_quote_in_first_row": Kind(
            {"health/quote_first.csv": _csv([HEADER, _broken(), *_rows(4)]).encode()},
            read={"quote_first.csv": 5},
            quarantined={("quote_first.csv", 1): "unbalanced_quote"},
        ),
        "unbalanced_quote_in_last_row": Kind(
            {"health/quote_last.csv": _csv([HEADER, *_rows(4), _broken()]).encode()},
            read={"quote_last.csv": 5},
            quarantined={("quote_last.csv", 5): "unbalanced_quote"},
        ),
        "unbalanced_quote_at_end_without_newline": Kind(
            {"health/quote_eof.csv": (_csv([HEADER, *_rows(2)]) + _line(_broken())).encode()},
            read={"quote_eof.csv": 3},
            quarantined={("quote_eof.csv", 3): "unbalanced_quote"},
        ),
        "two_unbalanced_quotes": Kind(
            {"health/quotes2.csv": _csv([HEADER, *_rows(2), _broken(), *_rows(4), _broken(), *_rows(2)]).encode()},
            read={"quotes2.csv": 10},
            quarantined={("quotes2.csv", 3): "unbalanced_quote", ("quotes2.csv", 8): "unbalanced_quote"},
        ),
        "unbalanced_quote_in_gbk": Kind(
            {"health/quote_gbk.csv": _csv([HEADER, ROW, _broken(), ROW]).encode("gb18030")},
            read={"quote_gbk.csv": 3},
            quarantined={("quote_gbk.csv", 2): "unbalanced_quote"},
        ),
        "multiline_quoted_cell": Kind(
            {"health/multiline.csv": _csv([HEADER, ROW, multiline, ROW]).encode()}, read={"multiline.csv": 3}
        ),
        "crlf_inside_quoted_cell": Kind(
            {"health/crlf_cell.csv": _csv([HEADER, crlf_in_cell, ROW]).encode()}, read={"crlf_cell.csv": 2}
        ),
        "doubled_quotes_and_commas_in_a_cell": Kind(
            {"health/quoted.csv": _csv([HEADER, quoted_cell]).encode()}, read={"quoted.csv": 1}
        ),
        "stray_quote_inside_a_cell": Kind(
            {"health/stray_quote.csv": _csv([HEADER, _row(姓名='王"伟')]).encode()}, read={"stray_quote.csv": 1}
        ),
        "huge_cell_under_the_limit": Kind(
            {
                "health/big_cell.csv": _csv(
                    [HEADER, _row(居住地址="碧波路455弄3号502室" + "很长的说明" * 20_000)]
                ).encode()
            },
            read={"big_cell.csv": 1},
        ),
        "cell_over_128k": Kind(
            {"health/oversized.csv": _csv([HEADER, ROW, _row(居住地址="碧波路" + "很" * 140_000), ROW]).encode()},
            read={"oversized.csv": 3},
            quarantined={("oversized.csv", 2): "oversized_cell"},
        ),
        # Shapes of tables.
        "empty_file": Kind({"health/empty.csv": b""}, listed={("health/empty.csv", None): ("empty_file", 0)}),
        "blank_lines_only": Kind(
            {"health/blank.csv": b"\r\n\r\n"}, listed={("health/blank.csv", None): ("empty_file", 0)}
        ),
        "whitespace_only": Kind(
            {"health/spaces.csv": b"   \r\n \t \r\n"}, listed={("health/spaces.csv", None): ("empty_file", 0)}
        ),
        "header_only": Kind({"health/header_only.csv": _csv([HEADER]).encode()}, read={"header_only.csv": 0}),
        "title_row_above_header": Kind(
            {"health/title_row.csv": _csv([["健康云申报导出 2026-11-22"], HEADER, ROW]).encode()},
            read={"title_row.csv": 1},
        ),
        "header_below_ten_title_rows": Kind(
            {"health/deep_header.csv": _csv([[f"说明{i}"] for i in range(11)] + [HEADER, ROW, ROW]).encode()},
            read={"deep_header.csv": 13},
            quarantined={("deep_header.csv", i): "unmapped_header" for i in range(1, 14)},
        ),
        "no_known_header": Kind(
            {"health/no_fields.csv": _csv([["列A", "列B"], ["1", "2"], ["3", "4"]]).encode()},
            read={"no_fields.csv": 2},
            quarantined={("no_fields.csv", 1): "unmapped_header", ("no_fields.csv", 2): "unmapped_header"},
        ),
        "semicolon_delimited": Kind(
            {"health/semicolon.csv": "".join(";".join(r) + "\r\n" for r in [HEADER, ROW]).encode()},
            read={"semicolon.csv": 1},
            quarantined={("semicolon.csv", 1): "unmapped_header"},
        ),
        "tab_delimited": Kind(
            {"health/tabs.csv": "".join("\t".join(r) + "\r\n" for r in [HEADER, ROW]).encode()},
            read={"tabs.csv": 1},
            quarantined={("tabs.csv", 1): "unmapped_header"},
        ),
        "extra_columns": Kind(
            {"health/extra_columns.csv": _csv([[*HEADER, "备注", "备注"], [*ROW, "复工", "返沪"]]).encode()},
            read={"extra_columns.csv": 1},
        ),
        "duplicate_header_names": Kind(
            {"health/duplicate_headers.csv": _csv([[*HEADER, "姓名"], [*ROW, "李娜"]]).encode()},
            read={"duplicate_headers.csv": 1},
        ),
        "trailing_delimiter": Kind(
            {"health/trailing.csv": _csv([[*HEADER, ""], [*ROW, ""], [*ROW, ""]]).encode()}, read={"trailing.csv": 2}
        ),
        "ragged_row": Kind(
            {"health/ragged.csv": _csv([HEADER, ROW, [*ROW, "多出的一格"], ROW]).encode()},
            read={"ragged.csv": 3},
            quarantined={("ragged.csv", 2): "ragged_row"},
        ),
        "repeated_header": Kind(
            {"health/repeated.csv": _csv([HEADER, ROW, HEADER, ROW]).encode()},
            read={"repeated.csv": 3},
            quarantined={("repeated.csv", 2): "repeated_header"},
        ),
        "empty_rows_between": Kind(
            {"health/gaps.csv": _csv([HEADER, ROW, [""] * 8, [], ROW]).encode()},
            read={"gaps.csv": 4},
            quarantined={("gaps.csv", 2): "empty_row", ("gaps.csv", 3): "empty_row"},
        ),
        "short_rows": Kind({"health/short.csv": _csv([HEADER, ROW[:3], ROW]).encode()}, read={"short.csv": 2}),
        # Workbooks.
        "xlsx_merged_cells": Kind(
            {"health/merged.xlsx": _xlsx([HEADER, ROW, _row(居住地址="")], merge="E2:E3")}, read={"merged.xlsx": 2}
        ),
        "xlsx_numbers_and_dates": Kind(
            {
                "health/typed.xlsx": _xlsx(
                    [
                        HEADER,
                        [dt.datetime(2026, 11, 22, 8, 30), "王伟", ROW[2], 13812345678, ROW[4], "无", "否", "绿码"],
                    ]
                )
            },
            read={"typed.xlsx": 1},
        ),
        "xlsx_formula_without_cached_value": Kind({"health/formula.xlsx": formula}, read={"formula.xlsx": 1}),
        "xlsx_second_sheet_with_data": Kind(
            {"health/two_sheets.xlsx": _book({"上午": [HEADER, ROW], "下午": [HEADER, ROW, ROW]})},
            read={"two_sheets.xlsx": 1, "two_sheets.xlsx[下午]": 2},
        ),
        "xlsx_second_sheet_unknown_header": Kind(
            {
                "health/notes_sheet.xlsx": _book(
                    {"数据": [HEADER, ROW], "统计": [["街镇", "人数"], ["张江镇", "3"], ["川沙新镇", "4"]]}
                )
            },
            read={"notes_sheet.xlsx": 1},
            listed={("health/notes_sheet.xlsx", "统计"): ("unmapped_sheet", 2)},
        ),
        "xlsx_instructions_first": Kind(
            {
                "health/instructions.xlsx": _book(
                    {"填写说明": [["请按模板填写"], ["每行一人"], ["不要改表头"]], "数据": [HEADER, ROW, ROW]}
                )
            },
            read={"instructions.xlsx[数据]": 2},
            listed={("health/instructions.xlsx", "填写说明"): ("unmapped_sheet", 2)},
        ),
        "xlsx_empty_second_sheet": Kind(
            {"health/empty_sheet.xlsx": _book({"Sheet1": [HEADER, ROW], "Sheet2": []})},
            read={"empty_sheet.xlsx": 1},
            listed={("health/empty_sheet.xlsx", "Sheet2"): ("empty_sheet", 0)},
        ),
        "xlsx_chart_sheet_first": Kind(
            {"health/chart_first.xlsx": _book({"数据": [HEADER, ROW, ROW]}, chart_at=0)},
            read={"chart_first.xlsx[数据]": 2},
            listed={("health/chart_first.xlsx", "图表"): ("chart_sheet", None)},
        ),
        "xlsx_only_a_chart": Kind(
            {"health/only_chart.xlsx": _book({}, chart_at=0)},
            listed={("health/only_chart.xlsx", "图表"): ("chart_sheet", None)},
        ),
        "xlsx_no_sheet_known": Kind(
            {"health/unknown_book.xlsx": _book({"A": [["列A", "列B"], ["1", "2"]], "B": [["列C"], ["3"], ["4"]]})},
            read={"unknown_book.xlsx": 1},
            quarantined={("unknown_book.xlsx", 1): "unmapped_header"},
            listed={("health/unknown_book.xlsx", "B"): ("unmapped_sheet", 2)},
        ),
        # Where files are and what they are called.
        "file_in_a_subfolder": Kind(
            {"health/2026-11-22/sub.csv": _csv([HEADER, _row(近14天旅居地="子文件夹")]).encode()},
            read={"2026-11-22/sub.csv": 1},
        ),
        "file_in_a_nested_subfolder": Kind(
            {"health/a/b/nested.csv": _csv([HEADER, ROW, _row(近14天旅居地="多层")]).encode()},
            read={"a/b/nested.csv": 2},
        ),
        "file_in_the_inbox_root": Kind(
            {"root.csv": _csv([HEADER, ROW, ROW]).encode()}, listed={("root.csv", None): ("outside_source_folder", 2)}
        ),
        "csv_in_an_unknown_folder": Kind(
            {"exports/x.csv": _csv([HEADER, *_rows(3)]).encode()},
            listed={("exports/x.csv", None): ("outside_source_folder", 3)},
        ),
        "xlsx_in_an_unknown_folder": Kind(
            {"exports/y.xlsx": _book({"S1": [HEADER, ROW], "S2": [HEADER, ROW, ROW]})},
            listed={("exports/y.xlsx", None): ("outside_source_folder", 3)},
        ),
        "unreadable_file_in_an_unknown_folder": Kind(
            {"exports/readme.txt": b"hello"}, listed={("exports/readme.txt", None): ("outside_source_folder", None)}
        ),
        "file_name_in_gbk": Kind(
            {GBK_NAME: _csv([HEADER, _row(近14天旅居地="GBK文件名")]).encode()}, read={"健康云申报_gbk名.csv": 1}
        ),
        "file_name_in_no_encoding": Kind(
            {BAD_NAME: _csv([HEADER, _row(近14天旅居地="乱码文件名")]).encode()}, read={"\ufffd\ufffd_name.csv": 1}
        ),
        "upper_case_suffix": Kind(
            {"health/UPPER.CSV": _csv([HEADER, _row(近14天旅居地="大写")]).encode()}, read={"UPPER.CSV": 1}
        ),
        "hidden_file": Kind(
            {"health/.DS_Store": b"\x00\x00\x00\x01Bud1"},
            listed={("health/.DS_Store", None): ("not_a_data_file", None)},
        ),
        "excel_lock_file": Kind(
            {"health/~$merged.xlsx": b"\x08jingzhun"},
            listed={("health/~$merged.xlsx", None): ("not_a_data_file", None)},
        ),
        "link_to_nowhere": Kind(
            {"health/gone.csv": _symlink_to_nowhere}, listed={("health/gone.csv", None): ("unreadable_file", None)}
        ),
        "named_pipe": Kind({"health/pipe.csv": _fifo}, listed={("health/pipe.csv", None): ("unreadable_file", None)}),
        "text_file": Kind(
            {"health/notes.txt": b"hello"}, listed={("health/notes.txt", None): ("unsupported_type", None)}
        ),
        "old_excel_xls": Kind(
            {"health/old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64},
            listed={("health/old.xls", None): ("unsupported_type", None)},
        ),
        # Delivered twice.
        "same_file_twice_in_a_source": Kind(
            {"health/dup_a.csv": same, "health/dup_b.csv": same},
            read={"dup_a.csv": 3},
            listed={("health/dup_b.csv", None): ("duplicate_file", 3)},
        ),
        "same_file_in_two_sources": Kind(
            {
                "checkpoint/both.csv": _csv([HEADER, ROW, ROW]).encode("gb18030"),
                "health/both_again.csv": _csv([HEADER, ROW, ROW]).encode("gb18030"),
            },
            read={"both.csv": 2},
            listed={("health/both_again.csv", None): ("duplicate_file", 2)},
        ),
        "same_file_in_a_source_and_the_root": Kind(
            {"health/kept.csv": same + b"\r\n", "kept_copy.csv": same + b"\r\n"},
            read={"kept.csv": 3},
            listed={("kept_copy.csv", None): ("outside_source_folder", 3)},
        ),
    }


def _broken_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("xl/workbook.xml", "<workbook")
    return buffer.getvalue()


CORPUS = _corpus()


def _run(run: Run) -> dict:
    done = {}
    for name in STEPS:
        done[name] = getattr(steps, name)(run)
    return done


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    from jingzhun.synthetic.generate import generate

    base = tmp_path_factory.mktemp("bad-district")
    generate(base, persons=2000, seed=1, day=RUN_DATE)
    return base / "reference"


@pytest.fixture(scope="module")
def bad_run(district, tmp_path_factory) -> Run:
    """Every kind of the corpus in one inbox, one run of every step."""
    base = tmp_path_factory.mktemp("bad")
    inbox = base / "inbox"
    for source in ("checkpoint", "hotline", "health"):
        (inbox / source).mkdir(parents=True)
    for kind in CORPUS.values():
        for name, content in kind.files.items():
            path = inbox / name
            path.parent.mkdir(parents=True, exist_ok=True)
            content(path) if callable(content) else path.write_bytes(content)
    run = Run(inbox=inbox, reference=district, out=base / "out", run_date=RUN_DATE)
    _run(run)
    return run


def _table(run: Run, name: str) -> pl.DataFrame:
    with connect(run.warehouse) as con:
        return read_run(con, name, run.run_date)


def _standard_row(run: Run, file: str, row: int = 1) -> dict:
    standard = _table(run, "standard_records")
    return standard.filter((pl.col("source_file") == file) & (pl.col("source_row") == row)).row(0, named=True)


def _written(run: Run, path: str) -> pl.DataFrame:
    return pl.read_csv(run.dir / path, infer_schema=False, encoding="utf8-lossy")


def test_the_corpus_has_at_least_sixty_kinds():
    assert len(CORPUS) >= 60


@pytest.mark.parametrize("kind", list(CORPUS))
def test_every_row_of_each_kind_has_one_outcome_and_the_rest_is_listed(bad_run, kind):
    expected = CORPUS[kind]
    decided = _table(bad_run, "match_results")
    for name, rows in expected.read.items():
        got = decided.filter(pl.col("source_file") == name)
        assert sorted(got["source_row"]) == list(range(1, rows + 1)), name
        assert got["outcome"].is_not_null().all()
        quarantined = {
            (name, r["source_row"]): r["quarantine_code"]
            for r in got.join(
                _table(bad_run, "standard_records").select("record_id", "quarantine_code"), on="record_id"
            )
            .filter(pl.col("outcome") == "quarantined")
            .iter_rows(named=True)
        }
        # Only the affected rows are quarantined, each with its own reason; the rest of the file is read.
        assert quarantined == {k: v for k, v in expected.quarantined.items() if k[0] == name}

    written = _written(bad_run, "quarantine/rows.csv")
    for (name, row), code in expected.quarantined.items():
        line = written.filter((pl.col("source_file") == name) & (pl.col("source_row") == str(row))).row(0, named=True)
        assert (line["reason_code"], line["reason"]) == (code, ROW_REASONS[code])
        assert int(line["source_line"]) >= row + 1  # the line in the file, below its header

    inputs = json.loads((bad_run.dir / "manifest.json").read_text(encoding="utf-8"))["inputs"]
    files_csv = _written(bad_run, "quarantine/files.csv")
    for (path, sheet), (code, rows) in expected.listed.items():
        entry = next(i for i in inputs if i["path"] == path and i["sheet"] == sheet and i["error_code"])
        assert (entry["error_code"], entry["unread_rows"], entry["data_rows"]) == (code, rows, 0), path
        listed = files_csv.filter((pl.col("path") == path) & (pl.col("reason_code") == code))
        assert listed.height == 1 and listed["reason"].item() == FILE_REASONS[code]
    # Nothing else of the kind's files is listed: what is not listed is read.
    paths = {os.fsencode(p).decode("utf-8", errors="ignore") for p in expected.files}
    extra = [
        i for i in inputs if i["error_code"] and i["path"] in paths and (i["path"], i["sheet"]) not in expected.listed
    ]
    assert extra == []


def test_the_run_reconciles_inputs_with_outcomes_and_listed_rows(bad_run):
    manifest = json.loads((bad_run.dir / "manifest.json").read_text(encoding="utf-8"))
    account = manifest["reconciliation"]
    read_rows = sum(rows for kind in CORPUS.values() for rows in kind.read.values())
    listed_rows = sum(rows or 0 for kind in CORPUS.values() for _, rows in kind.listed.values())
    assert account["input_rows"] == account["result_rows"] == read_rows
    assert account["balanced"] and account["unread_rows"] == listed_rows
    assert account["delivered_rows"] == read_rows + listed_rows
    html = (bad_run.dir / "report.html").read_text(encoding="utf-8")
    assert f"未读取 {listed_rows:,} 行" in html and FILE_REASONS["duplicate_file"] in html
    assert "health/notes_sheet.xlsx" in html and FILE_REASONS["chart_sheet"] in html


def test_a_lost_row_fails_the_run_loudly(bad_run, tmp_path):
    shutil.copy(bad_run.warehouse, tmp_path / "warehouse.duckdb")
    run = Run(inbox=bad_run.inbox, reference=bad_run.reference, out=tmp_path, run_date=RUN_DATE)
    shutil.copytree(bad_run.dir, run.dir)
    with connect(run.warehouse) as con:
        con.execute("DELETE FROM match_results WHERE source_file = 'quote.csv' AND source_row = 12")
    with pytest.raises(ReconciliationError, match="quote.csv: 31 rows read, 30 results"):
        steps.reconcile(run)


def test_the_line_of_a_quarantined_row_is_where_it_starts_in_the_file(bad_run):
    raw = _table(bad_run, "raw_records")

    def line(file: str, row: int) -> int:
        return raw.filter((pl.col("source_file") == file) & (pl.col("source_row") == row))["source_line"].item()

    assert line("quote.csv", 10) == 11
    assert line("multiline.csv", 3) == 5  # row 2 took lines 3 and 4
    assert line("title_row.csv", 1) == 3
    assert line("two_sheets.xlsx[下午]", 2) == 3
    assert line("gbk_mixed.csv", 11) == 12


def test_rows_around_a_broken_one_keep_their_values(bad_run):
    after = _standard_row(bad_run, "quote.csv", 11)
    assert (after["name"], after["phone"], after["addr_road"]) == ("王伟", "13812345678", "碧波路")
    # The broken row keeps what it had in quarantine; its open cell holds the rest of its line.
    broken = (
        _table(bad_run, "raw_records")
        .filter((pl.col("source_file") == "quote.csv") & (pl.col("source_row") == 10))
        .row(0, named=True)
    )
    assert broken["name"] == "王伟" and broken["id_number"].startswith(ROW[2] + ",138")
    assert _standard_row(bad_run, "gbk_mixed.csv", 12)["name"] == "王伟"
    # The line in the other encoding is shown as it was written, not as mojibake.
    assert (
        _table(bad_run, "raw_records")
        .filter((pl.col("source_file") == "gbk_mixed.csv") & (pl.col("source_row") == 11))["name"]
        .item()
        == "李娜"
    )


def test_encodings_are_read_and_traditional_characters_repaired(bad_run):
    row = _standard_row(bad_run, "gb18030.csv")
    assert (row["name"], row["addr_road"], row["addr_town"], row["address_traditional"]) == (
        "欧阳娜娜",
        "碧波路",
        "张江镇",
        True,
    )
    for name in (
        "bom.csv",
        "utf16.csv",
        "utf16be.csv",
        "utf16cut.csv",
        "cr.csv",
        "cr_bom.csv",
        "UPPER.CSV",
        "健康云申报_gbk名.csv",
        "2026-11-22/sub.csv",
        "two_sheets.xlsx[下午]",
    ):
        assert _standard_row(bad_run, name)["name"] == "王伟", name


def test_cells_with_quotes_and_line_breaks_are_read_as_written(bad_run):
    assert _standard_row(bad_run, "multiline.csv", 2)["address_raw"] == "碧波路455弄\n3号502室"
    assert _standard_row(bad_run, "crlf_cell.csv", 1)["address_raw"] == "碧波路455弄\n3号502室"
    assert _standard_row(bad_run, "quoted.csv")["address_raw"] == '碧波路455弄"3号",502室'
    assert _standard_row(bad_run, "stray_quote.csv")["name_raw"] == '王"伟'


def test_truncated_rows_keep_what_arrived(bad_run):
    cut = _standard_row(bad_run, "truncated_row.csv", 2)
    assert cut["name"] == "王伟" and cut["address_raw"] is None  # the cut took the address and what follows
    quoted = _standard_row(bad_run, "truncated_quote.csv", 2)
    assert quoted["name"] == "李娜" and quoted["addr_road"] == "碧波路"
    assert _standard_row(bad_run, "cut_char.csv")["name"] == "王伟"


def test_merged_cells_leave_the_merged_away_cell_empty_not_guessed(bad_run):
    assert _standard_row(bad_run, "merged.xlsx", 1)["address"] == "碧波路455弄3号502室"
    assert _standard_row(bad_run, "merged.xlsx", 2)["address_raw"] is None


def test_extra_and_duplicate_columns_are_kept_not_overwritten(bad_run):
    assert json.loads(_standard_row(bad_run, "extra_columns.csv")["extras"]) == {"备注": "复工", "备注（列10）": "返沪"}
    duplicate = _standard_row(bad_run, "duplicate_headers.csv")
    assert duplicate["name"] == "王伟" and json.loads(duplicate["extras"]) == {"姓名": "李娜"}


def test_a_huge_cell_is_parsed_without_stalling_and_an_oversized_one_is_cut(bad_run):
    row = _standard_row(bad_run, "big_cell.csv")
    assert row["addr_road"] == "碧波路" and len(row["address"]) > 100_000
    oversized = (
        _table(bad_run, "raw_records")
        .filter((pl.col("source_file") == "oversized.csv") & (pl.col("source_row") == 2))
        .row(0, named=True)
    )
    assert oversized["name"] == "王伟" and len(oversized["address"]) == 1_001


def test_control_and_zero_width_characters_are_removed_and_the_values_repaired(bad_run):
    row = _standard_row(bad_run, "control_chars.csv")
    assert row["name"] == "王伟"
    assert (row["id_number"], row["id_number_status"]) == (VALID_ID, "valid")
    assert "invisible" in row["id_number_repairs"]
    assert (row["phone"], row["phone_status"]) == ("13812345678", "valid")


def test_near_miss_id_numbers_stay_available_to_matching(bad_run):
    row = _standard_row(bad_run, "bom.csv")  # ROW's ID has a wrong check digit
    assert (row["id_number"], row["id_number_status"], row["quarantine_code"]) == (
        "110105194912310021",
        "bad_check_digit",
        None,
    )


# As root, permissions are checked only without the capabilities to override them.
AS_A_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
READ_INBOX = """
import json, sys
from pathlib import Path
from jingzhun.ingest.inbox import read_inbox
from jingzhun.ingest.mapping import HeaderMapping
inbox = read_inbox(Path(sys.argv[1]), HeaderMapping.load())
print(json.dumps({f.path: [f.error_code, f.data_rows] for f in inbox.files}))
"""


@pytest.mark.skipif(AS_A_USER != [] and shutil.which("setpriv") is None, reason="root without setpriv")
def test_a_file_or_folder_without_read_permission_is_listed(tmp_path):
    import subprocess
    import sys

    inbox = tmp_path / "inbox"
    (inbox / "health" / "locked").mkdir(parents=True)
    (inbox / "health" / "locked" / "a.csv").write_text(_csv([HEADER, ROW]), encoding="utf-8")
    (inbox / "health" / "secret.csv").write_text(_csv([HEADER, ROW]), encoding="utf-8")
    (inbox / "health" / "open.csv").write_text(_csv([HEADER, ROW, ROW]), encoding="utf-8")
    (inbox / "health" / "secret.csv").chmod(0)
    (inbox / "health" / "locked").chmod(0)
    try:
        done = subprocess.run(
            [*AS_A_USER, sys.executable, "-c", READ_INBOX, str(inbox)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent.parent,
            check=True,
        )
    finally:
        (inbox / "health" / "locked").chmod(0o755)
    assert json.loads(done.stdout) == {
        "health/locked": ["unreadable_folder", 0],
        "health/open.csv": [None, 2],
        "health/secret.csv": ["unreadable_file", 0],
    }


# Whole days whose exports leave a column empty everywhere: every step runs to the end and reconciles.
EMPTY_COLUMN_DAYS = {
    "every_name_blank": lambda r: _row(姓名=""),
    "addresses_only": lambda r: ["", "", "", "", r[4], "", "", ""],
    "every_address_blank": lambda r: _row(居住地址=""),
    "id_numbers_only": lambda r: ["", "", r[2], "", "", "", "", ""],
    "no_time_and_no_phone": lambda r: _row(申报时间="", 手机号码=""),
}


@pytest.mark.parametrize("day", list(EMPTY_COLUMN_DAYS))
def test_a_day_with_a_column_empty_everywhere_runs_to_the_end(district, tmp_path, day):
    inbox = tmp_path / "inbox"
    (inbox / "health").mkdir(parents=True)
    rows = [EMPTY_COLUMN_DAYS[day](ROW) for _ in range(4)]
    (inbox / "health" / "a.csv").write_text(_csv([HEADER, *rows]), encoding="utf-8")
    run = Run(inbox=inbox, reference=district, out=tmp_path / "out", run_date=RUN_DATE)
    done = _run(run)
    assert done["reconcile"]["input_rows"] == 4 and done["report"]["result_rows"] == 4


def test_a_row_whose_quote_swallowed_its_cells_is_masked_whole_in_the_report(district, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "health").mkdir(parents=True)
    swallowed = _row(申报时间='"2026-11-22 08:00:00', 手机号码="13900001111")
    (inbox / "health" / "a.csv").write_text(_csv([HEADER, swallowed, ROW]), encoding="utf-8")
    run = Run(inbox=inbox, reference=district, out=tmp_path / "out", run_date=RUN_DATE)
    _run(run)
    html = (run.dir / "report.html").read_text(encoding="utf-8")
    # The time cell, shown as it is, holds the name, ID number and phone that followed its open quote.
    assert str(escape(ROW_REASONS["unbalanced_quote"])) in html
    assert "13900001111" not in html and ROW[2] not in html


def test_a_day_with_nothing_readable_runs_to_the_end(district, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "health").mkdir(parents=True)
    (inbox / "health" / "notes.txt").write_text("nothing today", encoding="utf-8")
    done = _run(Run(inbox=inbox, reference=district, out=tmp_path / "out", run_date=RUN_DATE))
    assert done["reconcile"] == {"input_rows": 0, "not_read": 1, "unread_rows": 0}


def test_a_file_delivered_again_on_a_later_day_is_read_once_and_a_changed_one_is_read(district, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "health").mkdir(parents=True)
    (inbox / "health" / "same.csv").write_text(_csv([HEADER, *_rows(3)]), encoding="utf-8")
    (inbox / "health" / "changed.csv").write_text(_csv([HEADER, *_rows(2)]), encoding="utf-8")
    out = tmp_path / "out"
    _run(Run(inbox=inbox, reference=district, out=out, run_date=RUN_DATE))

    (inbox / "health" / "changed.csv").write_text(_csv([HEADER, *_rows(5)]), encoding="utf-8")
    day2 = Run(inbox=inbox, reference=district, out=out, run_date=RUN_DATE + dt.timedelta(days=1))
    done = _run(day2)
    assert done["report"]["input_rows"] == 5 and done["report"]["unread_rows"] == 3
    decided = _table(day2, "match_results")
    assert set(decided["source_file"]) == {"changed.csv"}
    inputs = {i["path"]: i for i in json.loads((day2.dir / "manifest.json").read_text(encoding="utf-8"))["inputs"]}
    assert inputs["health/same.csv"]["error_code"] == "duplicate_file"
    assert inputs["health/same.csv"]["error_detail"] == f"{RUN_DATE} health/same.csv"
    assert inputs["health/changed.csv"]["data_rows"] == 5
    # A rerun of day 1 still reads its own files: only earlier days count as an earlier delivery.
    rerun = _run(Run(inbox=inbox, reference=district, out=out, run_date=RUN_DATE))
    assert rerun["report"]["input_rows"] == 8


def test_a_200000_row_file_with_one_unbalanced_quote_is_read_in_comparable_time(tmp_path):
    """Ingest only: the rest of the day is the same with or without the quote."""
    import time

    from jingzhun.ingest.inbox import read_inbox
    from jingzhun.ingest.mapping import HeaderMapping

    mapping = HeaderMapping.load()
    timings = {}
    for name, broken in (("clean", ROW), ("broken", _broken())):
        inbox = tmp_path / name
        (inbox / "health").mkdir(parents=True)
        rows = [HEADER, *_rows(100_000), broken, *_rows(99_999)]
        (inbox / "health" / "big.csv").write_text(_csv(rows), encoding="utf-8")
        start = time.process_time()
        records = read_inbox(inbox, mapping).records
        timings[name] = time.process_time() - start
        assert records.height == 200_000
    issues = records.filter(pl.col("ingest_issue").is_not_null())
    assert issues.select("source_row", "source_line", "ingest_issue").rows() == [(100_001, 100_002, "unbalanced_quote")]
    assert timings["broken"] < 1.5 * timings["clean"] + 1, timings


def test_truncated_zip_inside_xlsx_is_not_a_table(tmp_path):
    from jingzhun.ingest.files import UnreadableFile, read_sheet

    path = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
    with pytest.raises(UnreadableFile) as error:
        read_sheet(Path(path))
    assert error.value.code == "not_a_table"


def test_placeholders_in_identity_fields_count_as_empty():
    from jingzhun.cleansing.pipeline import normalize_column

    frame = pl.DataFrame({"name": ["test", "测试", "王伟", " 无 "], "travel": ["无", "无", "武汉", None]})
    names = normalize_column(frame, "name", "name")
    assert names["name"].to_list() == [None, None, "王伟", None]
    assert names["name_raw"].to_list() == ["test", "测试", "王伟", " 无 "]  # what arrived is kept
    # 无 is an answer to 近14天旅居地, not a missing value.
    assert normalize_column(frame, "travel", "text")["travel"].to_list() == ["无", "无", "武汉", None]


def test_a_column_without_any_value_is_still_text_for_matching():
    """A population (or a day) whose ID numbers are all empty: the standardized column is text, so the features
    person linkage builds from it are computed, not a type error."""
    import polars as pl

    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.matching.features import person_features

    frame = pl.DataFrame(
        {
            "person_id": ["P1", "P2"],
            "name": ["王伟", "李娜"],
            "id_number": [None, "无"],
            "phone": [None, None],
            "house_id": ["H1", "H2"],
            "building_id": [None, None],
            "committee_code": [None, None],
        },
        schema_overrides={c: pl.Utf8 for c in ("id_number", "phone", "building_id", "committee_code")},
    )
    for column in ("name", "id_number", "phone"):
        frame = normalize_column(frame, column, column)
    assert frame.schema["id_number"] == pl.Utf8 and frame.schema["phone"] == pl.Utf8
    features = person_features(frame, "person_id")
    assert features["id_digits"].to_list() == [None, None]
    assert features["name"].to_list() == ["王伟", "李娜"]
