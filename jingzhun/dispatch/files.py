"""Writing tables that people open in Excel or WPS: `.xlsx` with a header that stays in view, and `.csv` with BOM;
a work list that staff take on their rounds also prints, one page wide, with room to write in.

Must never write a cell that a spreadsheet would execute: the public types hotline texts, so a value starting
with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with an apostrophe, as OWASP advises for CSV injection.
Must never write an ID number or phone number that no rule allows: every text cell goes through
`jingzhun.core.masking.scrub_text`, except the columns a table declares `shown` (already shown as
`jingzhun/rules/privacy.yaml` says, or codes such as 派单编号).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from jingzhun.core.masking import scrub_frame

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMN_WIDTH = 60
# A printed line is tall enough to write a result, a time and a note by hand (36 points, about 13 mm); a longer
# text wraps, at about 15 points a line of 11-point CJK text.
WRITE_IN_HEIGHT = 36
LINE_HEIGHT = 15


def safe_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        value = "、".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class Printout:
    """How a work list prints: A4 landscape, one page wide, the header row on every page, gridlines, rows tall
    enough to write in, and a page header saying whose list it is, of which day, page x of y. Columns not in
    `widths` stay in the sheet (the loop back reads them) but are grouped and collapsed out of the printed view;
    they come last, so that one button opens them."""

    title: str  # page header, left: e.g. the subdistrict
    subtitle: str  # page header, centre: e.g. the run date
    widths: dict[str, int]  # the printed columns: their width in Excel character units (a CJK character is 2)


@dataclass(frozen=True)
class Sheet:
    name: str
    frame: pl.DataFrame  # columns are the Chinese headers people read
    filter_and_freeze: bool = True
    freeze_columns: int = 0  # e.g. 1 keeps the id in view while staff fill the columns on the right
    # Column header -> xlsxwriter data_validation options (a drop-down list, an input hint) for columns staff fill.
    validations: dict[str, dict] = field(default_factory=dict)
    # Columns written as they are: values `jingzhun.core.masking.show` already decided (the phone staff call), and codes
    # that must survive intact (派单编号); every other text cell is scrubbed of ID numbers and phones.
    shown: tuple[str, ...] = ()
    printout: Printout | None = None


def write_csv(path: Path, frame: pl.DataFrame, shown: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = scrub_frame(frame, keep=shown)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(frame.columns)
        writer.writerows([safe_cell(v) for v in row] for row in frame.iter_rows())


def write_workbook(path: Path, sheets: list[Sheet], created: dt.datetime) -> None:
    """Every cell is written as text (or a number for counts), never as a formula; `created` is fixed so that
    the same inputs give a byte-identical file."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"created": created, "author": "jingzhun"})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"})
    wrap = book.add_format({"text_wrap": True, "valign": "top", "align": "left"})
    for spec in sheets:
        spec = replace(spec, frame=scrub_frame(spec.frame, keep=spec.shown))
        sheet = book.add_worksheet(spec.name)
        printed = spec.printout.widths if spec.printout else {}
        columns = spec.frame.columns
        printed_at = [printed.get(name) for name in columns]  # the printed width of each column, if printed
        widths = [_width(c) for c in columns]
        lines = [1] * (spec.frame.height + 1)  # printed lines each row needs
        for col, name in enumerate(columns):
            sheet.write_string(0, col, name, header)
        for row_at, row in enumerate(spec.frame.iter_rows(), start=1):
            for col, value in enumerate(row):
                if value is None:
                    continue  # an empty cell stays empty, not an empty string
                if isinstance(value, int | float) and not isinstance(value, bool):
                    sheet.write_number(row_at, col, value)
                    text = str(value)
                else:
                    text = safe_cell(value)
                    sheet.write_string(row_at, col, text)
                widths[col] = max(widths[col], _width(text))
                if printed_at[col] is not None:
                    lines[row_at] = max(lines[row_at], _wrapped_lines(text, printed_at[col]))
        for col, name in enumerate(spec.frame.columns):
            width = min(widths[col] + 2, MAX_COLUMN_WIDTH)
            if name in printed:
                sheet.set_column(col, col, printed[name], wrap)
            elif spec.printout:
                sheet.set_column(col, col, width, None, {"level": 1, "hidden": True})
            else:
                sheet.set_column(col, col, width)
        if spec.filter_and_freeze:
            sheet.freeze_panes(1, spec.freeze_columns)
            sheet.autofilter(0, 0, max(spec.frame.height, 1), max(len(spec.frame.columns) - 1, 0))
            # Work lists get printed: landscape A4, the header on every page.
            sheet.set_landscape()
            sheet.set_paper(9)
            sheet.repeat_rows(0)
        if spec.printout:
            _lay_out_for_print(sheet, spec.printout, lines, spec.frame.columns)
        for name, options in spec.validations.items():
            col = spec.frame.columns.index(name)
            sheet.data_validation(1, col, max(spec.frame.height, 1), col, options)
    book.close()


def _lay_out_for_print(sheet, printout: Printout, lines: list[int], columns: list[str]) -> None:
    """One page wide, as many pages long as needed; the grouped columns collapsed (their button is on the
    column after them); each data row tall enough for its wrapped text and for a hand-written answer."""
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.5)
    sheet.center_horizontally()
    sheet.hide_gridlines(0)  # printed gridlines: the lines to write on
    sheet.set_header(
        f"&L{_header_text(printout.title)}&C{_header_text(printout.subtitle)}&R第 &P 页 共 &N 页", {"margin": 0.3}
    )
    if set(columns) - set(printout.widths):
        sheet.set_column(len(columns), len(columns), None, None, {"collapsed": True})
    for row_at, needed in enumerate(lines[1:], start=1):
        sheet.set_row(row_at, max(WRITE_IN_HEIGHT, needed * LINE_HEIGHT + 6))


def _header_text(text: str) -> str:
    return text.replace("&", "&&")  # `&` starts a control code in a page header


def _wrapped_lines(text: str, width: int) -> int:
    """Lines a text takes in a wrapping column of `width` characters, less a character for the cell's padding."""
    room = max(width - 1, 1)
    return sum(max(1, -(-_width(part) // room)) for part in text.split("\n"))


def _width(text: str) -> int:
    """Display width: a CJK character (any above U+2E80) takes two columns in Excel."""
    return len(text) + len(_WIDE.findall(text))


_WIDE = re.compile("[\u2e81-\U0010ffff]")


def write_table(stem: Path, sheets: list[Sheet], run_date: dt.date) -> list[Path]:
    """`stem.xlsx` with `sheets` and `stem.csv` with the first sheet's rows, created "on" the run date so that
    the same inputs give the same bytes."""
    write_workbook(stem.with_suffix(".xlsx"), sheets, dt.datetime.combine(run_date, dt.time()))
    write_csv(stem.with_suffix(".csv"), sheets[0].frame, sheets[0].shown)
    return [stem.with_suffix(".xlsx"), stem.with_suffix(".csv")]
