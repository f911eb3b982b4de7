"""Changing a generated export the way a source system changes it: a renamed header, a column emptied or garbled,
rows missing. Works on the files as they are (CSV in UTF-8, BOM or GB18030; XLSX) and writes them back in the same
format, so the day goes through ingest like any other."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

Cell = object


def edit_export(
    path: Path,
    *,
    rename: dict[str, str] | None = None,
    cells: dict[str, Callable[[Cell], Cell]] | None = None,
    keep_row: Callable[[int], bool] | None = None,
) -> None:
    """Rename headers (`rename`), replace the cells under a header (`cells`: header -> new value from old), keep
    only the data rows (numbered from 1) for which `keep_row` says so."""
    rename, cells = rename or {}, cells or {}
    keep = keep_row or (lambda _: True)
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path)
        sheet = book.worksheets[0]
        headers = [c.value for c in sheet[1]]
        for row in range(sheet.max_row, 1, -1):
            if not keep(row - 1):
                sheet.delete_rows(row)
        for col, header in enumerate(headers, start=1):
            for r in range(2, sheet.max_row + 1):
                if header in cells:
                    sheet.cell(r, col).value = cells[header](sheet.cell(r, col).value)
            if header in rename:
                sheet.cell(1, col).value = rename[header]
        book.save(path)
        return
    data = path.read_bytes()
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "gb18030", data.decode("gb18030")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    headers = rows[0]
    body = [
        [cells[h](v) if h in cells else v for h, v in zip(headers, row, strict=False)] + row[len(headers) :]
        for i, row in enumerate(rows[1:], start=1)
        if keep(i)
    ]
    out = io.StringIO(newline="")
    csv.writer(out).writerows([[rename.get(h, h) for h in headers], *body])
    path.write_bytes(out.getvalue().encode(encoding))


def edit_source(inbox: Path, source: str, **changes) -> None:
    for path in sorted((inbox / source).iterdir()):
        edit_export(path, **changes)
