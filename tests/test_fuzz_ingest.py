"""Property-based tests of ingest: random cells, bytes, encodings, line ends and sizes through `read_inbox`.

What must hold for any input: no exception; every file is read or listed with a reason from
`jingzhun/rules/quarantine.yaml`; a file read gives exactly its `data_rows` records; what a CSV writer wrote is read
back cell for cell; one broken quote costs its own row and no other.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jingzhun.core import rules
from jingzhun.ingest import files
from jingzhun.ingest.inbox import read_inbox
from jingzhun.ingest.mapping import HeaderMapping

HEADER = ["申报时间", "姓名", "证件号码", "手机号码", "居住地址", "近14天旅居地", "是否发热", "健康码"]
FIELDS = ["declared_at", "name", "id_number", "phone", "address", "travel", "fever", "code_color"]
MAPPING = HeaderMapping.load()
REASONS = rules.load("quarantine")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any character a cell may hold but NUL (a file full of NULs is not a table) and lone surrogates (not text).
any_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
# What Chinese exports mostly hold: hanzi, digits, Latin letters, the punctuation of addresses.
export_text = st.text(st.sampled_from("王伟李娜张江镇碧波路弄号室栋单元浦东新区0123456789ABCxyz -/（）#"), max_size=20)
line_ends = st.sampled_from(["\r\n", "\n", "\r"])
encodings = st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"])


def _inbox(files: dict[str, bytes]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-inbox-"))
    for name, content in files.items():
        (folder / "health" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "health" / name).write_bytes(content)
    return folder


def _read(files: dict[str, bytes]):
    folder = _inbox(files)
    try:
        return read_inbox(folder, MAPPING)
    finally:
        shutil.rmtree(folder)


def _written(rows: list[list[str]], end: str) -> str:
    """Rows as a CSV writer writes them, ending in `end`. (Python's writer quotes a cell holding CR or LF only
    when its line terminator holds that character: each row is written with CRLF, then given its end.)"""

    def line(row: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(row)
        return buffer.getvalue().removesuffix("\r\n")

    return "".join(line(row) + end for row in [HEADER, *rows])


def _as_read(cell: str) -> str | None:
    """A cell as ingest gives it: line breaks as LF, padding stripped, empty as None."""
    return cell.replace("\r\n", "\n").replace("\r", "\n").strip() or None


def _accounted(inbox) -> None:
    for f in inbox.files:
        got = inbox.records.filter(inbox.records["source_file"] == f.name).height
        assert got == f.data_rows, f
        assert f.error_code is None or f.error_code in REASONS["files"], f
    issues = set(inbox.records["ingest_issue"].drop_nulls())
    assert issues <= set(REASONS["rows"]), issues


rows_of = st.lists(st.lists(any_text, min_size=8, max_size=8), max_size=12)


@FUZZ
@given(rows=rows_of, end=line_ends, encoding=encodings)
def test_what_a_csv_writer_wrote_is_read_back_cell_for_cell(rows, end, encoding):
    text = _written(rows, end)
    data = text.encode(encoding)
    assume(_reads_as_written(data, encoding))
    inbox = _read({"a.csv": data})
    _accounted(inbox)
    records = inbox.records
    # Blank rows at the end of a file are not data rows (Excel leaves them); blank rows between are, and are
    # quarantined as empty rows.
    while rows and all(_as_read(c) is None for c in rows[-1]):
        rows = rows[:-1]
    assert records.height == len(rows)
    for row, record in zip(rows, records.iter_rows(named=True), strict=True):
        assert [record[f] for f in FIELDS] == [_as_read(c) for c in row]
        assert record["ingest_issue"] in (None, "empty_row", "repeated_header")


def _reads_as_written(data: bytes, encoding: str) -> bool:
    """Without a BOM the encoding is read from the bytes, line by line: a GB18030 line that is also valid UTF-8
    reads as UTF-8 (and is quarantined as a line in another encoding). Real Chinese text is never that; random
    characters can be."""
    return encoding != "gb18030" or not any(not line.isascii() and _is_utf8(line) for line in data.splitlines())


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


plain_rows = st.lists(st.lists(export_text, min_size=8, max_size=8), min_size=1, max_size=15)


@FUZZ
@given(rows=plain_rows, end=line_ends, encoding=encodings, data=st.data())
def test_one_unbalanced_quote_costs_its_own_row_and_no_other(rows, end, encoding, data):
    broken_row = data.draw(st.integers(0, len(rows) - 1))
    broken_column = data.draw(st.integers(0, 7))
    text = "".join(",".join(r) + end for r in [HEADER, *rows])
    lines = text.split(end)
    cells = lines[broken_row + 1].split(",")
    cells[broken_column] = '"' + cells[broken_column]
    lines[broken_row + 1] = ",".join(cells)
    content = end.join(lines).encode(encoding)
    assume(_reads_as_written(content, encoding))
    inbox = _read({"a.csv": content})
    _accounted(inbox)
    records = list(inbox.records.iter_rows(named=True))
    assert len(records) == len(rows)
    for number, (row, record) in enumerate(zip(rows, records, strict=True)):
        if number == broken_row:
            assert record["ingest_issue"] == "unbalanced_quote"
        else:
            assert [record[f] for f in FIELDS] == [_as_read(c) for c in row]


@FUZZ
@given(content=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".xlsx", ".CSV", ".txt"]))
def test_any_bytes_are_read_or_listed_never_a_crash(content, suffix):
    _accounted(_read({"random" + suffix: content}))


@FUZZ
@given(rows=plain_rows, encoding=encodings, end=line_ends, data=st.data())
def test_damaged_files_are_read_or_listed_never_a_crash(rows, encoding, end, data):
    content = bytearray(_written(rows, end).encode(encoding))
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(content)))
        damage = data.draw(
            st.sampled_from(
                [
                    b'"',
                    b"\r",
                    b"\n",
                    b"\x00",
                    b"\xff",
                    b"\x80",
                    b",",
                    "王".encode(),
                    "王".encode("gb18030"),
                    b"\xef\xbb\xbf",
                ]
            )
        )
        content[at:at] = damage
    cut = data.draw(st.integers(0, len(content)))
    inbox = _read({"damaged.csv": bytes(content[:cut]), "whole.csv": bytes(content)})
    _accounted(inbox)
    lines = [r["source_line"] for r in inbox.records.iter_rows(named=True) if r["source_file"] == "whole.csv"]
    assert lines == sorted(set(lines))  # each row starts on its own line, in file order


@settings(max_examples=8, deadline=None)
@given(length=st.integers(131_060, 131_090))
def test_a_cell_over_csv_field_limit_quarantines_its_row_and_one_under_it_is_read(length):
    cell = "碧" * length
    rows = [["t", "王伟", "1", "2", cell, "", "", ""], ["t", "李娜", "1", "2", "碧波路", "", "", ""]]
    records = list(_read({"big.csv": _written(rows, "\r\n").encode()}).records.iter_rows(named=True))
    assert [r["name"] for r in records] == ["王伟", "李娜"]
    if length > csv.field_size_limit():
        assert records[0]["ingest_issue"] == "oversized_cell" and len(records[0]["address"]) == 1_001
    else:
        assert records[0]["ingest_issue"] is None and records[0]["address"] == cell
    assert records[1]["ingest_issue"] is None


@pytest.mark.parametrize("end", ["\r\n", "\n", "\r"])
def test_the_same_rows_read_alike_whatever_the_line_ends(end):
    rows = [["t", "王伟", "1", "2", "碧波路\n455弄", "", "", ""], ["t", "李娜", "", "", "x", "", "", ""]]
    records = _read({"a.csv": _written(rows, end).encode()}).records
    assert records["address"].to_list() == ["碧波路\n455弄", "x"]
    assert records["source_line"].to_list() == [2, 4]


# A workbook's cell: what exports and people put in one (text, numbers of any size, dates, times, durations,
# booleans, nothing), written by openpyxl or by xlsxwriter (shared strings, as Excel writes them).
cell_values = st.one_of(
    st.none(),
    # Any character a worksheet may hold (XML's: no control character but tab and line feed; Excel escapes a CR as
    # _x000D_, which openpyxl reads: below).
    st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n"), max_size=30),
    export_text,
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.times().map(lambda t: t.replace(microsecond=0)),
    st.timedeltas(dt.timedelta(0), dt.timedelta(days=3)).map(lambda d: dt.timedelta(seconds=d.seconds)),
)
sheets = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.lists(st.lists(cell_values, max_size=6), max_size=8)),
    min_size=1,
    max_size=3,
)


def _workbook(content: list[tuple[int, int, list[list[object]]]], writer: str) -> bytes:
    """Sheets of rows placed `top` rows and `left` columns from A1, written by `writer`."""
    buffer = io.BytesIO()
    if writer == "openpyxl":
        book = openpyxl.Workbook()
        book.remove(book.active)
        for number, (top, left, rows) in enumerate(content):
            sheet = book.create_sheet(f"表{number}")
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    cell = sheet.cell(top + r + 1, left + c + 1, value)
                    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                        cell.number_format = "yyyy-mm-dd"
        book.save(buffer)
    else:
        book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
        formats = {
            dt.datetime: book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            dt.date: book.add_format({"num_format": "yyyy-mm-dd"}),
            dt.time: book.add_format({"num_format": "hh:mm:ss"}),
            dt.timedelta: book.add_format({"num_format": "[h]:mm:ss"}),
        }
        for number, (top, left, rows) in enumerate(content):
            sheet = book.add_worksheet(f"表{number}")
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
                        value = float(value)  # xlsxwriter writes a number as Excel keeps it: 15 digits
                    if type(value) in formats:
                        sheet.write_datetime(top + r, left + c, value, formats[type(value)])
                    elif value is not None:
                        sheet.write(top + r, left + c, value)
        book.close()
    return buffer.getvalue()


@FUZZ
@given(content=sheets, writer=st.sampled_from(["openpyxl", "xlsxwriter"]))
def test_calamine_reads_a_workbook_as_openpyxl_does_or_leaves_it_to_openpyxl(content, writer):
    data = _workbook(content, writer)
    by_openpyxl = files._read_xlsx_by_openpyxl(data)
    by_calamine = files._read_xlsx_by_calamine(data)
    # openpyxl pads every row to the sheet's recorded dimension, calamine to the last column holding a value: the
    # columns between hold nothing in any row, so no row reads otherwise (none of their cells is a value).
    assert by_calamine is None or _trimmed(by_calamine) == _trimmed(by_openpyxl)
    # Only what the two read otherwise is left to openpyxl: here, numbers of 16 digits or more (as every digit).
    large = any(
        isinstance(v, int | float) and not isinstance(v, bool) and abs(v) >= 10**15
        for _, _, rows in content
        for row in rows
        for v in row
    )
    assert by_calamine is not None or large


def _trimmed(sheets: list[files.Sheet]) -> list[files.Sheet]:
    def row(cells: list) -> list:
        while cells and cells[-1] is None:
            cells = cells[:-1]
        return cells

    return [dataclasses.replace(s, rows=[row(r) for r in s.rows]) for s in sheets]


@pytest.mark.parametrize(
    ("xml", "openpyxl_reads"),
    [
        ('<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c>', "#DIV/0!"),  # a formula's error
        ('<c r="B2" t="inlineStr"><is><t>碧波路_x000D_455弄</t></is></c>', "碧波路_x000D_455弄"),  # an escaped CR
        ('<c r="B2"><v>310116199708296450</v></c>', "310116199708296450"),  # an ID written out as a number
    ],
)
def test_what_calamine_reads_otherwise_is_read_by_openpyxl(xml, openpyxl_reads):
    buffer = io.BytesIO()
    book = openpyxl.Workbook()
    book.active["A1"], book.active["B1"], book.active["A2"], book.active["B2"] = "姓名", "证件号码", "王伟", "x"
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out := io.BytesIO(), "w") as target:
        for part in source.infolist():
            content = source.read(part)
            if part.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<c r="B2"[^>]*>.*?</c>', xml.encode(), content)
            target.writestr(part, content)
    data = out.getvalue()
    assert files._read_xlsx_by_calamine(data) is None
    assert files._read_xlsx(data)[0].rows[1] == ["王伟", openpyxl_reads]


one_line_text = any_text.filter(lambda text: not {"\r", "\n"} & set(text))


@FUZZ
@given(
    # (A quoted cell running over lines, in a record with more cells than any of the first ten lines has, is read
    # as a broken quote: the reader takes the widest of those lines as the table's width. Not here.)
    labels=st.lists(one_line_text, min_size=1, max_size=3),
    rows=st.lists(st.lists(one_line_text, max_size=13), max_size=10),
)
def test_cells_the_mapping_does_not_know_are_kept_by_their_column_and_a_longer_row_is_ragged(labels, rows):
    """Columns after the mapped ones, under any header text (blank, repeated, quotes, backslashes, control
    characters) and past the header's end: each value is kept in `extras` (JSON) under its column's name, or 列N."""
    header = [*HEADER, *labels]
    text = "".join(_written([row], "\n").split("\n", 1)[1] for row in rows)
    data = (_written([], "\n").replace(",".join(HEADER), ",".join(_quoted(h) for h in header)) + text).encode()
    inbox = _read({"a.csv": data})
    _accounted(inbox)
    while rows and all(_as_read(c) is None for c in rows[-1]):
        rows = rows[:-1]
    assert inbox.records.height == len(rows)
    for row, record in zip(rows, inbox.records.iter_rows(named=True), strict=True):
        names: list[str] = []
        for position in range(len(HEADER), len(row)):
            label = header[position].strip() if position < len(header) else ""
            name = label or f"列{position + 1}"
            names.append(name if name not in names else f"{name}（列{position + 1}）")
        kept = {n: _as_read(c) for n, c in zip(names, row[len(HEADER) :], strict=False) if _as_read(c) is not None}
        assert (json.loads(record["extras"]) if record["extras"] else {}) == kept
        filled = [c for c in row if _as_read(c) is not None]
        ragged = any(_as_read(c) is not None for c in row[len(header) :])
        expected = "empty_row" if not filled else "ragged_row" if ragged else record["ingest_issue"]
        assert record["ingest_issue"] == expected


def _quoted(cell: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([cell])  # quotes a cell holding CR or LF (see _written)
    return buffer.getvalue().removesuffix("\r\n")
