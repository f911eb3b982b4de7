"""File formats of the synthetic inbox: CSV in UTF-8, UTF-8 with BOM or GB18030, and .xlsx;
times as text in several layouts, as Excel datetimes or as bare Excel serial numbers.

Writers are byte-deterministic (fixed workbook timestamps) so the same seed gives identical
files. This module must never change a cell's content beyond its on-disk representation.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

Cell = str | int | float | datetime.datetime | None

CSV_ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
XLSX = "xlsx"
FORMATS = (*CSV_ENCODINGS, XLSX)

# strftime layouts seen in real exports: 2026-11-22 08:13:05, 2026/11/22 8:13, 2026年11月22日 08时13分, 20261122081305
TEXT_TIME_LAYOUTS = ("%Y-%m-%d %H:%M:%S", "%Y/%-m/%-d %-H:%M", "%Y年%m月%d日 %H时%M分", "%Y%m%d%H%M%S")
EXCEL_DATETIME = "excel_datetime"  # a real datetime cell
EXCEL_SERIAL = "excel_serial"  # the bare day number Excel stores, written as a plain number
XLSX_TIME_LAYOUTS = (EXCEL_DATETIME, EXCEL_SERIAL, *TEXT_TIME_LAYOUTS)

EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "s")
FIXED_CREATED = datetime.datetime(2026, 1, 1)  # workbook metadata, fixed for reproducible bytes


def render_times(times: pl.Series, layout: str) -> list[Cell]:
    if layout == EXCEL_DATETIME:
        return times.to_list()
    if layout == EXCEL_SERIAL:
        seconds = (times.cast(pl.Datetime("us")).to_numpy().astype("datetime64[s]") - EXCEL_EPOCH).astype(np.int64)
        return np.round(seconds / 86_400, 8).tolist()
    return times.dt.strftime(layout).to_list()


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Cell]], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if cell is None else cell for cell in row] for row in rows])


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    # Text stays text (ID numbers would lose digits as numbers); numbers only where we pass numbers.
    workbook = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_urls": False})
    workbook.set_properties({"created": FIXED_CREATED})
    sheet = workbook.add_worksheet("Sheet1")
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, cell in enumerate(row):
            if cell is None or cell == "":
                continue  # an empty cell, as Excel leaves it
            if isinstance(cell, datetime.datetime):
                sheet.write_datetime(r, c, cell, stamp)
            elif isinstance(cell, str):
                sheet.write_string(r, c, cell)
            else:
                sheet.write_number(r, c, cell)
    workbook.close()
