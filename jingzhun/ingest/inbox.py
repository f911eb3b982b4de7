"""The inbox as one table of raw records: one row per data row of every readable file, all values text.

Everything in the inbox is accounted for. A file in a source folder (subfolders included) is read: every data
row of every sheet whose header the mapping knows becomes one record. Whatever is not read is listed as an
`InputFile` with its reason and, where they can be counted, its rows: a file that cannot be opened or decoded, a
sheet the mapping does not cover, a chart sheet, a file outside the source folders, a file delivered twice (by
content, today or on an earlier day). Nothing is skipped in silence.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from jingzhun.core import progress
from jingzhun.core.errors import UserError
from jingzhun.ingest.files import (
    FEEDBACK_FOLDER,
    HEADER_SEARCH_ROWS,
    REVIEW_FOLDER,
    Cell,
    Sheet,
    UnreadableFile,
    is_empty,
    read_sheets,
)
from jingzhun.ingest.mapping import IDENTIFYING_FIELDS, SOURCES, HeaderMapping, header_key

KEY_COLUMNS = ("source", "source_file", "source_row")
# record_id numbers the records of one run in inbox order; it is the join key of every later stage.
# source_line is where the row starts in its file: the line of a CSV, the row of a worksheet.


@dataclass(frozen=True)
class InputFile:
    """One part of the inbox: a CSV, a sheet of a workbook, or something that was not read and why.

    `name` is what the records carry as `source_file`: the path under the source folder, and for a workbook's
    sheet other than its first, the sheet in brackets (`导出.xlsx[Sheet2]`). `path` is the file as delivered,
    relative to the inbox.
    """

    source: str | None  # None for a file outside the source folders
    name: str
    sha256: str | None
    bytes: int | None
    encoding: str | None
    data_rows: int  # rows read: each one record, each with an outcome
    error_code: str | None = None  # why it was not read (jingzhun/rules/quarantine.yaml, files)
    error_detail: str | None = None
    path: str | None = None
    sheet: str | None = None
    unread_rows: int | None = None  # rows not read, where they can be counted


@dataclass(frozen=True)
class Inbox:
    records: pl.DataFrame  # record_id, KEY_COLUMNS, source_line, ingest_issue, one text column per field, extras
    files: list[InputFile]


# An earlier delivery of the same content: where and when it was read, and its rows.
@dataclass(frozen=True)
class Delivery:
    where: str
    rows: int


def read_inbox(inbox: Path, mapping: HeaderMapping, delivered: dict[str, Delivery] | None = None) -> Inbox:
    """Read the inbox. `delivered` maps the sha256 of files read on earlier days to that delivery: such a file
    is listed as a duplicate, not read again."""
    if not inbox.is_dir():
        raise UserError(f"inbox folder not found: {inbox}")
    try:
        entries = sorted(inbox.iterdir())
    except OSError as error:
        raise UserError(f"inbox {inbox} cannot be read: {error.strerror}") from error
    if not any((inbox / source).is_dir() for source in SOURCES):
        raise UserError(f"inbox {inbox} has none of the source folders {', '.join(SOURCES)}")
    fields = mapping.all_fields()
    frames: list[pl.DataFrame] = []
    seen = dict(delivered or {})
    files: list[InputFile] = []
    for source in SOURCES:
        folder = inbox / source
        if folder.is_dir():
            for path, problem in _walk(folder):
                read = _read_file(source, inbox, folder, path, problem, mapping, frames, seen)
                progress.advance(sum(f.data_rows for f in read))
                files += read
    for entry in entries:
        if entry.name not in (*SOURCES, FEEDBACK_FOLDER, REVIEW_FOLDER):
            for path, problem in _walk(entry) if entry.is_dir() and not entry.is_symlink() else [(entry, None)]:
                files.append(_outside(inbox, path, problem))
    records = pl.concat([pl.DataFrame(schema=_schema(fields)), *frames]).with_row_index("record_id")
    return Inbox(records.with_columns(pl.col("record_id").cast(pl.Int64)), files)


def _schema(fields: tuple[str, ...]) -> dict[str, pl.DataType]:
    return {
        "source": pl.Utf8,
        "source_file": pl.Utf8,
        "source_row": pl.Int64,
        "source_line": pl.Int64,
        "ingest_issue": pl.Utf8,
        **{f: pl.Utf8 for f in fields},
        "extras": pl.Utf8,
    }


def _walk(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """Every file under `folder`, subfolders included, in name order; a folder that cannot be listed comes
    with its reason instead of its files."""
    try:
        children = sorted(folder.iterdir())
    except OSError:
        yield folder, "unreadable_folder"
        return
    for child in children:
        if child.is_dir() and not child.is_symlink():
            yield from _walk(child)
        else:
            yield child, None


def _display(path: Path, base: Path) -> str:
    """A path as people read it. A name that is not UTF-8 (a zip made on Windows, unpacked here) is read as
    GB18030, as Windows wrote it."""
    raw = os.fsencode(path.relative_to(base))
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _is_data_file(path: Path) -> bool:
    # Hidden files (.DS_Store, ._name from a Mac) and Excel's lock files (~$name.xlsx) are not exports.
    return not path.name.startswith((".", "~$"))


def _read_file(
    source: str,
    inbox: Path,
    folder: Path,
    path: Path,
    problem: str | None,
    mapping: HeaderMapping,
    frames: list[pl.DataFrame],
    seen: dict[str, Delivery],
) -> list[InputFile]:
    name, where = _display(path, folder), _display(path, inbox)
    listed = {"source": source, "name": name, "path": where, "encoding": None, "data_rows": 0}
    if problem is not None:
        return [InputFile(**listed, sha256=None, bytes=None, error_code=problem)]
    if not _is_data_file(path):
        return [InputFile(**listed, sha256=None, bytes=None, error_code="not_a_data_file")]
    data, why = _content(path)
    if data is None:
        return [InputFile(**listed, sha256=None, bytes=None, error_code="unreadable_file", error_detail=why)]
    sha256 = hashlib.sha256(data).hexdigest()
    facts = {**listed, "sha256": sha256, "bytes": len(data)}
    if sha256 in seen:
        earlier = seen[sha256]
        return [InputFile(**facts, error_code="duplicate_file", error_detail=earlier.where, unread_rows=earlier.rows)]
    try:
        sheets = read_sheets(path, data)
    except UnreadableFile as error:
        return [
            InputFile(
                **facts,
                error_code=error.code,
                error_detail=error.detail or None,
                unread_rows=0 if error.code == "empty_file" else None,
            )
        ]

    parts = []
    headers = [_header(sheet, source, mapping) for sheet in sheets]
    tables = [i for i, sheet in enumerate(sheets) if sheet.problem is None]
    # Every sheet whose header we know is read. A file none of whose sheets we know (every CSV is one sheet) is
    # read all the same, its first table: its rows are quarantined one by one with the reason.
    read = [i for i in tables if _maps(headers[i][1])] or tables[:1]
    for i, sheet in enumerate(sheets):
        part = {
            **facts,
            "name": name if i == 0 else f"{name}[{sheet.name}]",
            "sheet": sheet.name,
            "encoding": sheet.encoding,
        }
        if i in read:
            frame = _records(source, part["name"], sheet, *headers[i], mapping.all_fields())
            frames.append(frame)
            parts.append(InputFile(**{**part, "data_rows": frame.height}))
        elif sheet.problem is not None:
            parts.append(
                InputFile(**part, error_code=sheet.problem, unread_rows=0 if sheet.problem == "empty_sheet" else None)
            )
        else:
            parts.append(InputFile(**part, error_code="unmapped_sheet", unread_rows=_count_rows(sheet)))
    seen[sha256] = Delivery(where, sum(p.data_rows for p in parts))
    return parts


def _outside(inbox: Path, path: Path, problem: str | None) -> InputFile:
    """A file outside the source folders: its source is unknown, so it is listed, with its rows where it is a
    table, and not read."""
    where = _display(path, inbox)
    listed = {"source": None, "name": where, "path": where, "encoding": None, "data_rows": 0}
    if problem is not None:
        return InputFile(**listed, sha256=None, bytes=None, error_code=problem)
    data, why = _content(path)
    if data is None:
        return InputFile(**listed, sha256=None, bytes=None, error_code="unreadable_file", error_detail=why)
    try:
        rows: int | None = sum(_count_rows(s) for s in read_sheets(path, data) if s.problem is None)
    except UnreadableFile:
        rows = None
    return InputFile(
        **listed,
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        error_code="outside_source_folder",
        unread_rows=rows,
    )


def _content(path: Path) -> tuple[bytes | None, str | None]:
    """A file's bytes, or why it cannot be read. Only a regular file is opened: a named pipe would block the run,
    a link to nowhere has nothing to read."""
    try:
        if not path.is_file():
            return None, "not a regular file (a link to nowhere, a pipe or a device)"
        return path.read_bytes(), None
    except OSError as error:
        return None, error.strerror or type(error).__name__


def _count_rows(sheet: Sheet) -> int:
    """Rows of a sheet that is not read: its filled rows but the first (its header, as far as anyone knows)."""
    return max(sum(not is_empty(row) for row in sheet.rows) - 1, 0)


def _header(sheet: Sheet, source: str, mapping: HeaderMapping) -> tuple[int, dict[int, str]]:
    """The header row (the first of the leading rows that names at least two fields; title rows above it are not
    data) and the field under each of its columns."""
    at = next(
        (
            i
            for i, row in enumerate(sheet.rows[:HEADER_SEARCH_ROWS])
            if len({mapping.field_of(source, c) for c in row if c} - {None}) >= 2
        ),
        0,
    )
    fields: dict[int, str] = {}
    for position, cell in enumerate(sheet.rows[at] if sheet.rows else []):
        field = mapping.field_of(source, cell)
        if field is not None and field not in fields.values():
            fields[position] = field
    return at, fields


def _maps(fields: dict[int, str]) -> bool:
    return bool(set(fields.values()) & set(IDENTIFYING_FIELDS))


# What Python's str.strip() strips (str.isspace), which Polars' strip_chars() without characters does not all do.
_BLANKS = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# How json.dumps(..., ensure_ascii=False) writes the characters of a string that it escapes.
_JSON_ESCAPES = {c: json.dumps(c)[1:-1] for c in ('"', "\\", *map(chr, range(0x20)))}


def _records(
    source: str, name: str, sheet: Sheet, header_at: int, field_at: dict[int, str], fields: tuple[str, ...]
) -> pl.DataFrame:
    """The records of the rows under the sheet's header, a column per cell position (column by column, not row by
    row): the cells stripped (blanks are no value), each mapped field's column, the row's issue, and as `extras`
    (JSON) the cells the mapping does not know, by the header's names (列N where it names none or past its end)."""
    header = sheet.rows[header_at]
    first = header_at + 1
    rows = sheet.rows[first:]
    width = max([len(header), *map(len, rows)])
    columns = list(itertools.zip_longest(*rows))
    cells = pl.DataFrame(
        [pl.Series(f"c{p}", columns[p] if p < len(columns) else [None] * len(rows), pl.Utf8) for p in range(width)]
    ).with_columns(pl.all().str.strip_chars(_BLANKS).replace("", None))
    extra_at: dict[int, str] = {}
    for p in range(width):
        if p not in field_at:
            h = header[p] if p < len(header) else None
            label = (str(h).strip() if h else "") or f"列{p + 1}"  # past the header, or a header cell of blanks
            # Two columns of the same name (two 备注) are two values: neither may overwrite the other.
            extra_at[p] = label if label not in extra_at.values() else f"{label}（列{p + 1}）"
    line_issues = pl.Series([sheet.issues.get(first + i) for i in range(len(rows))] if sheet.issues else None)
    at = {field: p for p, field in field_at.items()}
    return cells.select(
        source=pl.lit(source, pl.Utf8),
        source_file=pl.lit(name, pl.Utf8),
        source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        source_line=pl.Series(sheet.lines[first : first + len(rows)], dtype=pl.Int64),
        ingest_issue=pl.coalesce(
            pl.lit(None if _maps(field_at) else "unmapped_header", pl.Utf8),
            pl.lit(None, pl.Utf8) if line_issues.is_empty() else line_issues.cast(pl.Utf8),
            _row_issue(cells, len(header), _HeaderNames(header)),
        ),
        **{field: pl.col(f"c{at[field]}") if field in at else pl.lit(None, pl.Utf8) for field in fields},
        extras=_extras_json({f"c{p}": label for p, label in extra_at.items()}),
    )


def _extras_json(labels: dict[str, str]) -> pl.Expr:
    """Per row, what json.dumps({label: cell}, ensure_ascii=False) writes of the cells of `labels`' columns that
    hold a value, in their order; null when none does."""
    escapes = list(_JSON_ESCAPES)
    pairs = [
        json.dumps(label, ensure_ascii=False)
        + ': "'
        + pl.col(column).str.replace_many(escapes, [_JSON_ESCAPES[c] for c in escapes])
        + '"'
        for column, label in labels.items()
    ]
    if not pairs:
        return pl.lit(None, pl.Utf8)
    inside = pl.concat_str(pairs, separator=", ", ignore_nulls=True)
    return pl.when(inside != "").then("{" + inside + "}")


class _HeaderNames:
    """Which cells name a column of the header (`*姓名` names 姓名): asked once per distinct short text of the
    sheet (无, 否, 绿码 recur all day); a long one (an ID number, an address) is no header name."""

    def __init__(self, header: list[Cell]):
        self.keys = {header_key(h) for h in header if h}
        self.longest = max((len(str(h)) for h in header if h), default=0) + 4

    def named(self, cells: pl.DataFrame) -> list[str]:
        short = pl.concat([cells.get_column(c) for c in cells.columns]) if cells.width else pl.Series([], dtype=pl.Utf8)
        texts = short.filter(short.str.len_chars() <= self.longest).unique()
        return [text for text in texts if header_key(text) in self.keys]


def _row_issue(cells: pl.DataFrame, header_width: int, names_header: _HeaderNames) -> pl.Expr:
    """Why a row is no record: empty, longer than its header (ragged), or the header again (two or more of its
    cells name columns of the header); null for a row that is a record."""
    columns = cells.columns
    beyond = columns[header_width:]
    return (
        pl.when(pl.all_horizontal(pl.col(columns).is_null()) if columns else True)
        .then(pl.lit("empty_row"))
        .when(pl.any_horizontal(pl.col(beyond).is_not_null()) if beyond else False)
        .then(pl.lit("ragged_row"))
        .when(pl.sum_horizontal(pl.col(columns).is_in(names_header.named(cells))) >= 2 if columns else False)
        .then(pl.lit("repeated_header"))
    )
