"""The inbox as one table of raw records: one row per data row of every readable file, all values text."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ingest.files import HEADER_SEARCH_ROWS, SUPPORTED_SUFFIXES, Cell, UnreadableFile, read_sheet
from ingest.mapping import IDENTIFYING_FIELDS, SOURCES, HeaderMapping, header_key
from jingzhun import progress
from jingzhun.errors import UserError

KEY_COLUMNS = ("source", "source_file", "source_row")
# record_id numbers the records of one run in inbox order; it is the join key of every later stage.


@dataclass(frozen=True)
class InputFile:
    source: str
    name: str
    sha256: str
    bytes: int
    encoding: str | None
    data_rows: int
    error_code: str | None = None
    error_detail: str | None = None


@dataclass(frozen=True)
class Inbox:
    records: pl.DataFrame  # record_id, KEY_COLUMNS, ingest_issue, one text column per standard field, extras (JSON)
    files: list[InputFile]


def read_inbox(inbox: Path, mapping: HeaderMapping) -> Inbox:
    if not inbox.is_dir():
        raise UserError(f"inbox folder not found: {inbox}")
    if not any((inbox / source).is_dir() for source in SOURCES):
        raise UserError(f"inbox {inbox} has none of the source folders {', '.join(SOURCES)}")
    fields = mapping.all_fields()
    columns: dict[str, list] = {c: [] for c in (*KEY_COLUMNS, "ingest_issue", *fields, "extras")}
    files = []
    for source in SOURCES:
        folder = inbox / source
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and not path.name.startswith((".", "~$")):
                files.append(_read_file(source, path, mapping, columns))
                progress.advance(files[-1].data_rows)
    records = pl.DataFrame(columns, schema=_schema(fields)).with_row_index("record_id")
    return Inbox(records.with_columns(pl.col("record_id").cast(pl.Int64)), files)


def _schema(fields: tuple[str, ...]) -> dict[str, pl.DataType]:
    return {"source": pl.Utf8, "source_file": pl.Utf8, "source_row": pl.Int64, "ingest_issue": pl.Utf8,
            **{f: pl.Utf8 for f in fields}, "extras": pl.Utf8}


def _read_file(source: str, path: Path, mapping: HeaderMapping, columns: dict[str, list]) -> InputFile:
    data = path.read_bytes()
    facts = {"source": source, "name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    try:
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise UnreadableFile("unsupported_type", path.suffix)
        sheet = read_sheet(path)
    except UnreadableFile as error:
        return InputFile(**facts, encoding=None, data_rows=0, error_code=error.code, error_detail=error.detail)

    header_at = _find_header(sheet.rows, source, mapping)
    header = sheet.rows[header_at]
    field_at: dict[int, str] = {}
    for position, cell in enumerate(header):
        field = mapping.field_of(source, cell)
        if field is not None and field not in field_at.values():
            field_at[position] = field
    extra_at: dict[int, str] = {}
    for p, h in enumerate(header):
        if p not in field_at:
            name = str(h).strip() if h else f"列{p + 1}"
            # Two columns of the same name (two 备注) are two values: neither may overwrite the other.
            extra_at[p] = name if name not in extra_at.values() else f"{name}（列{p + 1}）"
    file_issue = None if set(field_at.values()) & set(IDENTIFYING_FIELDS) else "unmapped_header"
    header_keys = {header_key(h) for h in header if h}

    data_rows = sheet.rows[header_at + 1:]
    all_fields = mapping.all_fields()
    for number, row in enumerate(data_rows, start=1):
        cells = [_clean_cell(c) for c in row]
        columns["source"].append(source)
        columns["source_file"].append(path.name)
        columns["source_row"].append(number)
        columns["ingest_issue"].append(file_issue or _row_issue(cells, len(header), header_keys))
        for field in all_fields:
            columns[field].append(None)
        for position, field in field_at.items():
            if position < len(cells):
                columns[field][-1] = cells[position]
        extras = {name: cells[p] for p, name in extra_at.items() if p < len(cells) and cells[p] is not None}
        extras.update({f"列{p + 1}": cells[p] for p in range(len(header), len(cells)) if cells[p] is not None})
        columns["extras"].append(json.dumps(extras, ensure_ascii=False) if extras else None)
    return InputFile(**facts, encoding=sheet.encoding, data_rows=len(data_rows))


def _find_header(rows: list[list[Cell]], source: str, mapping: HeaderMapping) -> int:
    """The first of the leading rows that names at least two fields; title rows above it are not data."""
    for at, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if len({mapping.field_of(source, c) for c in row if c} - {None}) >= 2:
            return at
    return 0


def _clean_cell(cell: Cell) -> Cell:
    if cell is None:
        return None
    text = str(cell).strip()
    return text or None


def _row_issue(cells: list[Cell], header_width: int, header_keys: set[str]) -> str | None:
    filled = [c for c in cells if c is not None]
    if not filled:
        return "empty_row"
    if any(c is not None for c in cells[header_width:]):
        return "ragged_row"
    if sum(header_key(c) in header_keys for c in filled) >= 2:
        return "repeated_header"
    return None
