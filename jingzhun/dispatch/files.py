"""Writing tables that people open in Excel or WPS: `.xlsx` with a header that stays in view, and `.csv` with BOM;
a work list that staff take on their rounds also prints, one page wide, with room to write in.

Must never write a cell that a spreadsheet would execute: the public types hotline texts, so a value starting
with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with an apostrophe, as OWASP advises for CSV injection.
Must never write an ID number or phone number that no rule allows: every text cell goes through
`jingzhun.core.masking.scrub_text`, except the columns a table declares `shown` (already shown as
`jingzhun/rules/privacy.yaml` says, or codes such as 派单编号).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
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
    _write_csv_texts(path, _cell_texts(scrub_frame(frame, keep=shown)))


def _write_csv_texts(path: Path, texts: pl.DataFrame) -> None:
    """What `csv.writer` with a UTF-8 BOM writes (quoted only where needed, CRLF), byte for byte, written by Polars.
    Polars quotes an empty string to tell it from a missing value, `csv.writer` writes both as nothing, except
    the one field of a one-column row, which it quotes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = texts.fill_null("") if texts.width == 1 else texts.with_columns(pl.all().replace("", None))
    texts.write_csv(path, include_bom=True, line_terminator="\r\n", quote_style="necessary", null_value="")


def write_workbook(path: Path, sheets: list[Sheet], created: dt.datetime) -> None:
    """Every cell is written as text (or a number for counts), never as a formula; `created` is fixed so that
    the same inputs give a byte-identical file."""
    _write_workbook(path, [(spec, scrub_frame(spec.frame, keep=spec.shown)) for spec in sheets], created)


def _write_workbook(path: Path, sheets: list[tuple[Sheet, pl.DataFrame]], created: dt.datetime) -> None:
    """`write_workbook` of frames already scrubbed. The header and the sheet's layout go through xlsxwriter; the
    data rows' XML is made by Polars a column at a time (`_Body`): xlsxwriter's own cell calls cost about 12 µs of
    CPU a cell, minutes for a million-row day."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties({"created": created, "author": "jingzhun"})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"})
    wrap = book.add_format({"text_wrap": True, "valign": "top", "align": "left"})
    for spec, frame in sheets:
        sheet = book.add_worksheet(spec.name, worksheet_class=_bulk_worksheet())
        printed = spec.printout.widths if spec.printout else {}
        columns = frame.columns
        texts = _cell_texts(frame, numbers_as_written=True)
        widths = _widths(texts)
        for col, name in enumerate(columns):
            sheet.write_string(0, col, name, header)
        heights = _row_heights(texts, printed) if spec.printout else None
        sheet.body = _Body(_cell_xml(frame, texts), {n for n, t in frame.schema.items() if _is_number(t)}, heights)
        last_row = frame.height if heights is not None else _last_row_with_a_value(frame)
        if last_row:
            sheet._check_dimensions(last_row, 0)  # what writing the rows' cells would have recorded
        for col, name in enumerate(columns):
            width = min(max(_width(name), widths[name]) + 2, MAX_COLUMN_WIDTH)
            if name in printed:
                sheet.set_column(col, col, printed[name], wrap)
            elif spec.printout:
                sheet.set_column(col, col, width, None, {"level": 1, "hidden": True})
            else:
                sheet.set_column(col, col, width)
        if spec.filter_and_freeze:
            sheet.freeze_panes(1, spec.freeze_columns)
            sheet.autofilter(0, 0, max(frame.height, 1), max(len(columns) - 1, 0))
            # Work lists get printed: landscape A4, the header on every page.
            sheet.set_landscape()
            sheet.set_paper(9)
            sheet.repeat_rows(0)
        if spec.printout:
            _lay_out_for_print(sheet, spec.printout, columns)
        for name, options in spec.validations.items():
            col = columns.index(name)
            sheet.data_validation(1, col, max(frame.height, 1), col, options)
    book.close()


def _lay_out_for_print(sheet, printout: Printout, columns: list[str]) -> None:
    """One page wide, as many pages long as needed; the grouped columns collapsed (their button is on the
    column after them). Each data row's height, tall enough for its wrapped text and for a hand-written answer,
    is in the sheet's body (`_row_heights`)."""
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.5)
    sheet.center_horizontally()
    sheet.hide_gridlines(0)  # printed gridlines: the lines to write on
    sheet.set_header(
        f"&L{_header_text(printout.title)}&C{_header_text(printout.subtitle)}&R第 &P 页 共 &N 页", {"margin": 0.3}
    )
    if set(columns) - set(printout.widths):
        sheet.set_column(len(columns), len(columns), None, None, {"collapsed": True})


def _header_text(text: str) -> str:
    return text.replace("&", "&&")  # `&` starts a control code in a page header


def _wrapped_lines(text: str, width: int) -> int:
    """Lines a text takes in a wrapping column of `width` characters, less a character for the cell's padding."""
    room = max(width - 1, 1)
    return sum(max(1, -(-_width(part) // room)) for part in text.split("\n"))


def _width(text: str) -> int:
    """Display width: a CJK character (any above U+2E80) takes two columns in Excel."""
    return len(text) + len(_WIDE.findall(text))


_WIDE_CLASS = "[\u2e81-\U0010ffff]"
_WIDE = re.compile(_WIDE_CLASS)


# ---------------------------------------------------------------------------------------------------------------
# The cells' texts, a column at a time


def _cell_texts(frame: pl.DataFrame, numbers_as_written: bool = False) -> pl.DataFrame:
    """Every value as `safe_cell` writes it, a missing value missing. With `numbers_as_written`, a number's text
    is the number as the workbook shows it (`str`), not made safe: the workbook writes it as a number."""
    return frame.select(
        (_number_text(name, dtype) if numbers_as_written and _is_number(dtype) else _safe_text(name, dtype)).alias(name)
        for name, dtype in frame.schema.items()
    )


def _is_number(dtype: pl.DataType) -> bool:
    return dtype.is_integer() or dtype.is_float()  # what the workbook writes as a number (not bool, not Decimal)


def _number_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype.is_integer():
        return column.cast(pl.Utf8)
    # Python's own text of a float (1e-05, where Polars writes 1e-5), as `safe_cell` has it.
    return column.map_batches(lambda s: pl.Series([None if v is None else str(v) for v in s], dtype=pl.Utf8))


def _safe_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """`safe_cell` as a Polars expression; a type without one here is given to `safe_cell` value by value."""
    column = pl.col(name)
    if dtype in (pl.Utf8, pl.Categorical, pl.Enum) or dtype.is_integer() or dtype == pl.Date:
        text = column.cast(pl.Utf8)
    elif dtype == pl.Null:
        return column.cast(pl.Utf8)
    elif isinstance(dtype, pl.Datetime):
        text = column.dt.strftime("%Y-%m-%d %H:%M")
    elif dtype == pl.Boolean:
        text = pl.when(column).then(pl.lit("True")).otherwise(pl.lit("False"))
    elif isinstance(dtype, pl.List) and (dtype.inner == pl.Utf8 or dtype.inner.is_integer()):
        text = column.list.eval(pl.element().cast(pl.Utf8).fill_null("None")).list.join("、")
    else:
        return column.map_elements(safe_cell, return_dtype=pl.Utf8)
    return pl.when(text.str.contains(_FORMULA_START)).then(pl.lit("'") + text).otherwise(text)


_FORMULA_START = r"^[=+\-@\t\r]"  # FORMULA_STARTS


def _display_width(text: pl.Expr) -> pl.Expr:
    """`_width` of each text."""
    return text.str.len_chars() + text.str.count_matches(_WIDE_CLASS)


def _widths(texts: pl.DataFrame) -> dict[str, int]:
    """The widest text of each column (0 for a column with none)."""
    widest = texts.select(_display_width(pl.all()).max().fill_null(0))
    return {name: int(value) for name, value in widest.row(0, named=True).items()}


def _row_heights(texts: pl.DataFrame, printed: dict[str, int]) -> pl.Series:
    """Each data row's height in points: the lines its longest printed text wraps to (`_wrapped_lines`), at least
    the room to write an answer in."""
    lines = [
        pl.col(name)
        .str.split("\n")
        .list.eval(((_display_width(pl.element()) + (room - 1)) // room).clip(lower_bound=1))
        .list.sum()
        for name, room in ((name, max(printed[name] - 1, 1)) for name in texts.columns if name in printed)
    ]
    needed = pl.max_horizontal(pl.lit(1), *lines) if lines else pl.lit(1)
    return texts.select(pl.max_horizontal(pl.lit(WRITE_IN_HEIGHT), needed * LINE_HEIGHT + 6)).to_series()


def _last_row_with_a_value(frame: pl.DataFrame) -> int:
    """The last data row (1 = the first below the header) holding any value; 0 when none does."""
    if not frame.width:
        return 0
    held = frame.select(pl.any_horizontal(pl.all().is_not_null()).arg_true().max()).item()
    return 0 if held is None else held + 1


# ---------------------------------------------------------------------------------------------------------------
# The sheet's data rows as XML


def _cell_xml(frame: pl.DataFrame, texts: pl.DataFrame) -> pl.DataFrame:
    """Each cell's content as it goes into the sheet's XML, a missing value missing: a number as xlsxwriter writes
    one (`%.16G`); a text as an inline string does, control characters as `_xHHHH_` and whitespace at either end
    kept (what a shared string holds the same way)."""
    from xlsxwriter.utility import _utf16_truncate

    out = []
    for name, dtype in frame.schema.items():
        if _is_number(dtype):
            largest = frame[name].abs().max() if dtype.is_integer() else None
            plain = largest is None or largest < 10**15  # an integer's digits are its `%.16G`
            number = pl.col(name).cast(pl.Utf8) if dtype.is_integer() and plain else _as_g16(name)
            out.append(frame.select(number).to_series())
            continue
        text = texts[name]
        if (text.str.len_chars() > _UTF16_MAX // 2).any():  # a cell holds at most 32,767 UTF-16 units
            text = text.map_elements(lambda t: _utf16_truncate(t, _UTF16_MAX), return_dtype=pl.Utf8)
        out.append(_escaped(text))
    return pl.DataFrame(out) if out else pl.DataFrame()


def _as_g16(name: str) -> pl.Expr:
    return pl.col(name).map_elements(lambda v: f"{v:.16G}", return_dtype=pl.Utf8)


_UTF16_MAX = 32767


def _escaped(text: pl.Series) -> pl.Series:
    """A text as xlsxwriter escapes an inline string: `_xHHHH_` written as such escaped, control characters as
    `_xHHHH_`, then `&`, `<`, `>`; with `xml:space="preserve"` on its `<t>` when it starts or ends with whitespace.
    The result is what follows `<t` (the attribute, `>`, the text)."""
    name = text.name
    column = pl.col(name)
    if text.str.contains("_x", literal=True).any():
        column = column.str.replace_all("(_x[0-9a-fA-F]{4}_)", "_x005F${1}")
    if text.str.contains(_CONTROL).any():
        column = column.str.replace_many(_CONTROLS, [f"_x{ord(c):04X}_" for c in _CONTROLS])
    escaped = column.str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"])
    preserve = pl.when(column.str.contains("^\\s|\\s$")).then(pl.lit(' xml:space="preserve">')).otherwise(pl.lit(">"))
    return text.to_frame().select(pl.concat_str(preserve, escaped).alias(name)).to_series()


# Control characters and the two non-characters, which XML cannot hold.
_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0xFFFE, 0xFFFF)]
_CONTROL = r"[\x00-\x08\x0b-\x1f\x{FFFE}\x{FFFF}]"


class _Body:
    """A sheet's data rows (below its header), rendered as `<row>` elements when xlsxwriter writes the sheet:
    only then are the cells' formats (a printed column's wrapping) given their numbers."""

    ROWS_AT_ONCE = 20_000

    def __init__(self, cells: pl.DataFrame, numbers: set[str], heights: pl.Series | None) -> None:
        self.cells = cells
        self.numbers = numbers  # the columns written as numbers
        self.heights = heights

    def rows(self, sheet) -> Iterator[str]:
        from xlsxwriter.utility import xl_col_to_name

        cells = []
        for col, name in enumerate(self.cells.columns):
            column = sheet.col_info.get(col)
            style = column.column_format if column is not None else None
            s = f' s="{style._get_xf_index()}"' if style is not None else ""
            start = f'<c r="{xl_col_to_name(col)}'
            number = name in self.numbers
            cells.append(
                pl.concat_str(pl.lit(start), pl.col("__row"), pl.lit(f'"{s}><v>'), pl.col(name), pl.lit("</v></c>"))
                if number
                else pl.concat_str(
                    pl.lit(start),
                    pl.col("__row"),
                    pl.lit(f'"{s} t="inlineStr"><is><t'),
                    pl.col(name),
                    pl.lit("</t></is></c>"),
                )
            )
        filled = pl.concat_str([c.fill_null("") for c in cells]) if cells else pl.lit("")
        attributes = pl.col("__height") if self.heights is not None else pl.lit("")
        opened = pl.concat_str(pl.lit('<row r="'), pl.col("__row"), pl.lit('"'), attributes)
        row = (
            pl.when(filled != "")
            .then(pl.concat_str(opened, pl.lit(">"), filled, pl.lit("</row>")))
            .when(pl.lit(self.heights is not None))
            .then(pl.concat_str(opened, pl.lit("/>")))
            .otherwise(pl.lit(""))
        )
        frame = self.cells.with_columns(__row=pl.int_range(2, self.cells.height + 2).cast(pl.Utf8))
        if self.heights is not None:
            frame = frame.with_columns(__height=_height_attributes(self.heights))
        for offset in range(0, frame.height, self.ROWS_AT_ONCE):
            yield frame.slice(offset, self.ROWS_AT_ONCE).select(row.str.join("")).item()


def write_table(stem: Path, sheets: list[Sheet], run_date: dt.date) -> list[Path]:
    """`stem.xlsx` with `sheets` and `stem.csv` with the first sheet's rows, created "on" the run date so that
    the same inputs give the same bytes. Each frame is scrubbed once for both files."""
    scrubbed = [(spec, scrub_frame(spec.frame, keep=spec.shown)) for spec in sheets]
    _write_workbook(stem.with_suffix(".xlsx"), scrubbed, dt.datetime.combine(run_date, dt.time()))
    _write_csv_texts(stem.with_suffix(".csv"), _cell_texts(scrubbed[0][1]))
    return [stem.with_suffix(".xlsx"), stem.with_suffix(".csv")]


def _height_attributes(points: pl.Series) -> pl.Series:
    """The `<row>` attributes xlsxwriter's `set_row(row, points)` writes (the height rounded to whole pixels);
    every height here is above the default, so each is written."""

    def attributes(height: int) -> str:
        pixels = int(height * 4.0 / 3.0 + 0.5)
        return f' ht="{pixels * 0.75:.16g}" customHeight="1"'

    return points.replace_strict({p: attributes(p) for p in points.unique().to_list()}, return_dtype=pl.Utf8)


@cache
def _bulk_worksheet() -> type:
    """An xlsxwriter worksheet that writes the header as xlsxwriter holds it and then its `body`'s rows."""
    from xlsxwriter.worksheet import Worksheet

    class BulkWorksheet(Worksheet):
        body: _Body | None = None

        def _write_sheet_data(self) -> None:
            if self.body is None or self.dim_rowmin is None:
                super()._write_sheet_data()
                return
            self._xml_start_tag("sheetData")
            last = self.dim_rowmax
            self.dim_rowmax = 0  # the header, the one row xlsxwriter holds
            self._write_rows()
            self.dim_rowmax = last
            for chunk in self.body.rows(self):
                self.fh.write(chunk)
            self._xml_end_tag("sheetData")

    return BulkWorksheet
