"""Reading one export file (CSV in UTF-8, UTF-8 with BOM, GB18030 or UTF-16 with BOM, or XLSX) into rows of text.

Reading is per row: a row that cannot be read cleanly (bytes in another encoding or in none, an unbalanced quote,
a cell larger than anyone types) keeps its position and an issue code from `jingzhun/rules/quarantine.yaml`, and the
rows after it are read as usual. Must never guess silently: such a row is marked, never repaired; a file that is not
a table at all raises `UnreadableFile` with a reason code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import operator
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_SUFFIXES = (".csv", ".xlsx")
# How many leading rows may hold a title ("道口登记表 2026-11-22") before the real header.
HEADER_SEARCH_ROWS = 10
# The folders of the inbox where people put back what they worked on; ingest never reads them as a source.
FEEDBACK_FOLDER = "feedback"
REVIEW_FOLDER = "review"
# A cell longer than csv's field limit (131,072 characters) is no value anyone typed: a quote that never closed,
# or a broken export. Its row is marked `oversized_cell`, and what is kept of each cell is cut to this length.
KEPT_CHARS = 1_000

Cell = str | None

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_ESCAPED = re.compile("[\udc80-\udcff]")
_CUT_CHARACTER = re.compile("[\udc80-\udcff]{1,3}\\Z")


class UnreadableFile(Exception):
    def __init__(self, code: str, detail: str = ""):
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Sheet:
    """The cells of a CSV or of one worksheet as text, top to bottom, with trailing empty rows removed."""

    rows: list[list[Cell]]
    encoding: str  # utf-8, utf-8-sig, gb18030, utf-16 or xlsx
    name: str | None = None  # the worksheet's name; None for a CSV
    # Where each row starts: the line of a CSV file (as an editor numbers them) or the row of a worksheet.
    lines: list[int] = field(default_factory=list)
    issues: dict[int, str] = field(default_factory=dict)  # row index -> why the row could not be read cleanly
    problem: str | None = None  # why the sheet holds no table: chart_sheet, empty_sheet


def returned_files(folder: Path) -> list[Path]:
    """The spreadsheets people put back in a folder of the inbox (feedback/, review/), subfolders included, in
    name order; Excel's lock files (~$name.xlsx, beside a workbook still open) and hidden files are not theirs."""
    if not folder.is_dir():
        return []
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(("~$", "."))
    ]


def read_sheet(path: Path, sheet_name: str | None = None) -> Sheet:
    """The cells of a CSV, or of a workbook's sheet `sheet_name` (the first worksheet when it has none by that
    name)."""
    sheets = [s for s in read_sheets(path) if s.problem != "chart_sheet"]
    sheet = next((s for s in sheets if s.name == sheet_name), sheets[0] if sheets else None)
    if sheet is None or not sheet.rows:
        raise UnreadableFile("empty_file")
    return sheet


def read_sheets(path: Path, data: bytes | None = None) -> list[Sheet]:
    """Every sheet of a file, in its order: the one table of a CSV, or each sheet of a workbook (a chart sheet or
    an empty one with its `problem`). `data` is the file's content when the caller has read it already."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile("unsupported_type", suffix)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise UnreadableFile("unreadable_file", error.strerror or type(error).__name__) from error
    if suffix == ".csv":
        return [_read_csv(data)]
    return _read_xlsx(data)


# CSV --------------------------------------------------------------------------------------------------------------


def _read_csv(data: bytes) -> Sheet:
    lines, encoding, line_issues = _decode_lines(data)
    width = max(len(_cells_of_line(line)) for line in lines[:HEADER_SEARCH_ROWS])
    rows: list[list[Cell]] = []
    starts: list[int] = []
    issues: dict[int, str] = {}
    for begin, end, cells, issue in _records(lines, width):
        if issue is None and line_issues:
            issue = next((line_issues[i] for i in range(begin, end) if i in line_issues), None)
        if issue is not None:
            issues[len(rows)] = issue
        rows.append([cell if cell != "" else None for cell in cells])
        starts.append(begin + 1)
    while rows and is_empty(rows[-1]):
        rows.pop()
        issues.pop(len(rows), None)
    if not rows:
        raise UnreadableFile("empty_file")
    return Sheet(rows, encoding, lines=starts[: len(rows)], issues=issues)


def _decode_lines(data: bytes) -> tuple[list[str], str, dict[int, str]]:
    """The file's lines (split at CRLF, LF or a lone CR), its encoding, and the lines that are not in it:
    `mixed_encoding` (the line reads in the other encoding: a UTF-8 line in a GBK file) or `bad_bytes`."""
    if not data.strip():
        raise UnreadableFile("empty_file")
    if data.startswith(_UTF16_BOMS):
        # Excel's "Unicode" save and some Windows tools: UTF-16 announced by its BOM. An odd byte at the end is
        # half a character: the file was cut off there.
        data = data[: len(data) - len(data) % 2]
        try:
            text, issues = data.decode("utf-16"), {}
        except UnicodeDecodeError:
            text = data.decode("utf-16", errors="replace")
            issues = {i: "bad_bytes" for i, line in enumerate(_split_lines(text)) if "\ufffd" in line}
        _check_text(text)
        return _split_lines(text), "utf-16", issues
    bom = data.startswith(_UTF8_BOM)
    payload = data[3:] if bom else data
    text = _decode_whole(payload)
    if text is not None:
        _check_text(text)
        return _split_lines(text), "utf-8-sig" if bom else "utf-8", {}

    # Not UTF-8 throughout: each line is read in the encoding it is in, and the file's encoding is the one most
    # of its lines are in (a BOM says UTF-8 outright). Both readings split into the same lines: neither encoding
    # has a CR or LF byte inside a character, and surrogateescape keeps each byte it cannot read as one
    # character (U+DC80 + byte).
    as_utf8 = payload.decode("utf-8", errors="surrogateescape")
    _check_text(as_utf8)
    readings = {
        "utf-8": _split_lines(as_utf8),
        "gb18030": _split_lines(payload.decode("gb18030", errors="surrogateescape")),
    }
    for lines in readings.values():
        # A file cut off inside its last character (an interrupted copy) loses it; its row keeps the rest.
        lines[-1] = _CUT_CHARACTER.sub("", lines[-1])
    not_utf8 = [i for i, found in enumerate(map(_ESCAPED.search, readings["utf-8"])) if found]
    bad = [i for i in not_utf8 if _ESCAPED.search(readings["gb18030"][i])]
    utf8 = [
        i
        for i, (line, found) in enumerate(zip(readings["utf-8"], map(_ESCAPED.search, readings["utf-8"]), strict=True))
        if not found and not line.isascii()
    ]
    if len(bad) > len(not_utf8) - len(bad) + len(utf8):
        raise UnreadableFile("unreadable_encoding", f"{len(bad)} of {len(readings['utf-8'])} lines")
    encoding = "utf-8" if bom or len(utf8) >= len(not_utf8) - len(bad) else "gb18030"
    issues = dict.fromkeys(utf8 if encoding == "gb18030" else not_utf8, "mixed_encoding")
    issues.update(dict.fromkeys(bad, "bad_bytes"))
    lines = readings[encoding]
    other = readings["gb18030" if encoding == "utf-8" else "utf-8"]
    for i, issue in issues.items():
        # A line in the other encoding is read in it; a bad line as the file's encoding reads it, the bytes it
        # cannot read shown as U+FFFD.
        lines[i] = other[i] if issue == "mixed_encoding" else _ESCAPED.sub("\ufffd", lines[i])
    return lines, "utf-8-sig" if bom else encoding, issues


def _split_lines(text: str) -> list[str]:
    """Lines ending in CRLF, LF or a lone CR (an old Mac export)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _decode_whole(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data" and error.start >= len(payload) - 3:
            # A file cut off mid-character (an interrupted copy): its last, partial character is dropped, the
            # rows before it are read; the cut row keeps what arrived.
            return payload[: error.start].decode("utf-8")
        return None


def _check_text(text: str) -> None:
    # A binary file that happens to decode is full of NULs; a stray NUL in a text cell is cleansed later.
    if text.count("\x00") > max(16, len(text) // 100):
        raise UnreadableFile("not_a_table", "contains NUL bytes")


def _records(lines: list[str], width: int) -> Iterator[tuple[int, int, list[str], str | None]]:
    """The CSV records of `lines`: (first line, line after the last, cells, issue). A quoted cell may run over
    several lines; when those lines are not one well-formed record, its quote never closed: that line alone is
    `unbalanced_quote`, and reading starts again on the next line."""
    start = 0
    while start < len(lines):
        reader = csv.reader(_with_line_ends(itertools.islice(lines, start, None)))
        begin = start
        try:
            for cells in reader:
                end = start + reader.line_num
                # A quote still open at the end of the file: a cut-off cell keeps what arrived, but a cell that
                # holds a delimiter has swallowed the cells after it.
                open_at_end = end == len(lines) and bool(cells) and "," in cells[-1]
                if (end - begin > 1 or open_at_end) and not _one_record(lines[begin:end], width):
                    break
                yield begin, end, cells, None
                begin = end
            else:
                return
        except csv.Error:  # a field over csv's limit
            end = start + reader.line_num
            if end - begin == 1:
                yield begin, end, _cells_of_line(lines[begin]), "oversized_cell"
                start = end
                continue
        yield begin, begin + 1, _cells_of_line(lines[begin]), "unbalanced_quote"
        start = begin + 1


def _with_line_ends(lines: Iterable[str]) -> Iterator[str]:
    # The csv module needs the line ends to keep a quoted cell's line breaks.
    return map(operator.add, lines, itertools.repeat("\n"))


def _one_record(lines: list[str], width: int) -> bool:
    """Whether the lines a quoted cell ran over are one well-formed record: every closing quote followed by a
    delimiter or the line end, and no more cells than the header. A quote that never closed runs to the next
    quote further down, which opens a cell there (`,"碧波路...`), or to the end of the file: neither is."""
    try:
        records = list(csv.reader(_with_line_ends(lines), strict=True))
    except csv.Error:
        return False
    return len(records) == 1 and len(records[0]) <= width


def _cells_of_line(line: str) -> list[str]:
    """One line's cells on their own (an open quote runs to the end of the line), each cut to `KEPT_CHARS` when
    it is over csv's field limit."""
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        cells = next(csv.reader([line[: csv.field_size_limit() - 1]]), [])
        return [c if len(c) <= KEPT_CHARS else c[:KEPT_CHARS] + "…" for c in cells]


# XLSX -------------------------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> list[Sheet]:
    return _read_xlsx_by_calamine(data) or _read_xlsx_by_openpyxl(data)


# Calamine reads a workbook's cells, each with its type, five to ten times faster than openpyxl, to the same values
# (a time to the millisecond, as Excel keeps it) but for three: a formula's error (calamine: an empty cell; openpyxl:
# its text, #N/A), a character Excel escaped (_x000D_: calamine the character, openpyxl the escape) and a whole
# number of 16 digits or more that the exporting system wrote out (calamine: a double, shown as the approximation;
# openpyxl: every digit). A workbook holding any of them, a sheet of another kind than a worksheet or a chart, or a
# file calamine cannot open is read by openpyxl: the same rows and reasons either way.
_EXCEL_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")
_LONG_NUMBER = re.compile(rb"<v>-?\d{16,}</v>")


def _calamine_differs(xml: bytes) -> bool:
    return b' t="e"' in xml or b" t='e'" in xml or bool(_EXCEL_ESCAPE.search(xml) or _LONG_NUMBER.search(xml))


def _read_xlsx_by_calamine(data: bytes) -> list[Sheet] | None:
    import python_calamine

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if any(_calamine_differs(archive.read(part)) for part in archive.namelist() if part.endswith(".xml")):
                return None
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = []
        for sheet in book.sheets_metadata:
            if sheet.typ == python_calamine.SheetTypeEnum.ChartSheet:
                sheets.append(Sheet([], "xlsx", name=sheet.name, problem="chart_sheet"))
            elif sheet.typ == python_calamine.SheetTypeEnum.WorkSheet:
                cells = book.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)
                sheets.append(_worksheet(sheet.name, [[_excel_cell_text(value) for value in row] for row in cells]))
            else:
                return None
        return sheets
    except Exception:  # noqa: BLE001 - whatever calamine fails on, openpyxl reads or names
        return None


def _read_xlsx_by_openpyxl(data: bytes) -> list[Sheet]:
    import openpyxl

    # openpyxl fails on a broken workbook with whatever its parser meets (a bad zip, missing parts, broken XML,
    # a part of the wrong type): any of them means the file is not a table we can read.
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001
        raise UnreadableFile("not_a_table", f"{type(error).__name__}: {error}") from error
    try:
        sheets = []
        for name in book.sheetnames:
            worksheet = book[name]
            if not hasattr(worksheet, "iter_rows"):
                sheets.append(Sheet([], "xlsx", name=name, problem="chart_sheet"))
                continue
            rows = [[_excel_cell_text(value) for value in row] for row in worksheet.iter_rows(values_only=True)]
            sheets.append(_worksheet(name, rows))
        return sheets
    except Exception as error:  # noqa: BLE001 - as above, for the parts read sheet by sheet
        raise UnreadableFile("not_a_table", f"{type(error).__name__}: {error}") from error
    finally:
        book.close()


def _worksheet(name: str, rows: list[list[Cell]]) -> Sheet:
    while rows and is_empty(rows[-1]):
        rows.pop()
    lines = list(range(1, len(rows) + 1))
    return Sheet(rows, "xlsx", name=name, lines=lines, problem=None if rows else "empty_sheet")


def _excel_cell_text(value: object) -> Cell:
    """Excel stores numbers, dates and text; downstream everything is text, as in a CSV export."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # blanks are no value (and calamine reads a cell of blanks as an empty one)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        # A cell formatted as a date alone: openpyxl gives it as a datetime at midnight, calamine as a date.
        return f"{value.isoformat()} 00:00:00"
    if isinstance(value, float):
        # Excel keeps 15 significant digits: an 18-digit ID typed as a number has already lost its last digits,
        # so it is shown as the approximation it is, never as an exact (and wrong) ID number.
        if abs(value) >= 1e15:
            return f"{value:.15g}"
        if value.is_integer():
            return str(int(value))
    return str(value)


def is_empty(row: Iterable[Cell]) -> bool:
    return all(cell is None or not str(cell).strip() for cell in row)
