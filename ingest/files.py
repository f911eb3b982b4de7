"""Reading one export file (CSV in UTF-8, UTF-8 with BOM, GB18030 or UTF-16 with BOM, or XLSX) into rows of text.

Must never guess silently: a file that decodes in neither encoding, or is not a table, raises `UnreadableFile`
with a reason code from `rules/quarantine.yaml`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError

SUPPORTED_SUFFIXES = (".csv", ".xlsx")
# How many leading rows may hold a title ("道口登记表 2026-11-22") before the real header.
HEADER_SEARCH_ROWS = 10

Cell = str | None


class UnreadableFile(Exception):
    def __init__(self, code: str, detail: str = ""):
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Sheet:
    """The cells of one file as text, top to bottom, with trailing empty rows removed."""

    rows: list[list[Cell]]
    encoding: str  # utf-8, utf-8-sig, gb18030, utf-16 or xlsx


def returned_files(folder: Path) -> list[Path]:
    """The spreadsheets people put back in a folder of the inbox (feedback/, review/), subfolders included, in
    name order; Excel's lock files (~$name.xlsx, beside a workbook still open) and hidden files are not theirs."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(("~$", "."))]


def read_sheet(path: Path, sheet_name: str | None = None) -> Sheet:
    """The cells of a CSV, or of a workbook's sheet `sheet_name` (the first sheet when it has none by that name)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text, encoding = _decode(path.read_bytes())
        rows = [[cell if cell != "" else None for cell in row] for row in csv.reader(io.StringIO(text))]
    elif suffix == ".xlsx":
        rows, encoding = _read_xlsx(path, sheet_name), "xlsx"
    else:
        raise UnreadableFile("unsupported_type", suffix)
    while rows and _is_empty(rows[-1]):
        rows.pop()
    if not rows:
        raise UnreadableFile("empty_file")
    return Sheet(rows, encoding)


def _decode(data: bytes) -> tuple[str, str]:
    if not data.strip():
        raise UnreadableFile("empty_file")
    if data.startswith(b"\xef\xbb\xbf"):
        candidates: tuple[tuple[str, bytes], ...] = (("utf-8-sig", data[3:]),)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode" save and some Windows tools: UTF-16 announced by its BOM.
        candidates = (("utf-16", data),)
    else:
        candidates = (("utf-8", data), ("gb18030", data))
    for encoding, payload in candidates:
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError as error:
            if error.reason != "unexpected end of data" or error.start < len(payload) - 4:
                continue
            # A file cut off mid-character (an interrupted copy): its last, partial character is dropped, the
            # rows before it are read; the cut row keeps what arrived.
            text = payload[: error.start].decode(encoding)
        # A binary file that happens to decode is full of NULs; a stray NUL in a text cell is cleansed later.
        if text.count("\x00") > max(16, len(text) // 100):
            raise UnreadableFile("not_a_table", "contains NUL bytes")
        return text, encoding
    raise UnreadableFile("unreadable_encoding")


def _read_xlsx(path: Path, sheet_name: str | None = None) -> list[list[Cell]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, ParseError) as error:
        raise UnreadableFile("not_a_table", str(error)) from error
    try:
        sheet = book[sheet_name] if sheet_name in book.sheetnames else book.worksheets[0]
        return [[_excel_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    except (zipfile.BadZipFile, KeyError, ValueError, ParseError) as error:  # a zip of broken XML parts
        raise UnreadableFile("not_a_table", str(error)) from error
    finally:
        book.close()


def _excel_cell_text(value: object) -> Cell:
    """Excel stores numbers, dates and text; downstream everything is text, as in a CSV export."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel keeps 15 significant digits: an 18-digit ID typed as a number has already lost its last digits,
        # so it is shown as the approximation it is, never as an exact (and wrong) ID number.
        if abs(value) >= 1e15:
            return f"{value:.15g}"
        if value.is_integer():
            return str(int(value))
    return str(value)


def _is_empty(row: Iterable[Cell]) -> bool:
    return all(cell is None or not str(cell).strip() for cell in row)
