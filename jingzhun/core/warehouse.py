"""The DuckDB warehouse file of an output folder: every stage's table, kept per run date.

Stages write through `replace_run`, so a rerun of a day replaces that day's rows and leaves other days alone
(the report's trend reads them); each table's rows of a day are replaced in one transaction. Nothing outside
this module opens the file by path, and every DuckDB connection of a run is opened here (`open_duckdb`): bounded
in memory, spilling what does not fit to disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from jingzhun.core.errors import UserError

# DuckDB's own default is 80% of the machine's memory; a run shares its machine with Polars' frames and with
# other work, so joins larger than this spill to disk instead. An administrator may set another (e.g. "12GB").
MEMORY_LIMIT_ENV = "JINGZHUN_DUCKDB_MEMORY"
MEMORY_LIMIT = "4GB"


# DuckDB hands every connection to one file in a process the same database, but two threads connecting at once
# may both open it, and the second fails ("Unique file handle conflict: Cannot attach …"): the validate step,
# which runs beside the match step, did so once in CI. Connections are opened one at a time.
_CONNECTING = threading.Lock()


def open_duckdb(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the file `path`, or to a database in memory, whose work above the memory limit
    spills to `<path>.tmp` beside the file (for one in memory: the system's temporary folder)."""
    spill = Path(f"{path}.tmp") if path else Path(tempfile.gettempdir()) / "jingzhun-duckdb"
    with _CONNECTING:
        return duckdb.connect(
            str(path) if path else ":memory:",
            config={"memory_limit": os.environ.get(MEMORY_LIMIT_ENV) or MEMORY_LIMIT, "temp_directory": str(spill)},
        )


def out_of_memory(error: BaseException, step: str | None = None, doing: str | None = None) -> UserError | None:
    """When `error` is DuckDB's OutOfMemoryException (or was raised because of it: Splink wraps DuckDB's errors),
    the one-line reason to give the user: what ran out and what to do. None for any other error."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, duckdb.OutOfMemoryException):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    where = f"the {step} step" + (f" (now: {doing})" if doing else "") if step else "the run"
    limit = os.environ.get(MEMORY_LIMIT_ENV) or MEMORY_LIMIT
    return UserError(
        f"{where} ran out of memory: DuckDB's limit is {limit}; set {MEMORY_LIMIT_ENV} higher (e.g. 12GB) or free "
        f"memory on this machine, and run again ({where} 内存不足：DuckDB 内存上限为 {limit}，"
        f"请调高 {MEMORY_LIMIT_ENV}（如 12GB）或释放本机内存后重新运行)"
    )


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = open_duckdb(path)
    try:
        yield con
    finally:
        con.close()


def replace_run(con: duckdb.DuckDBPyConnection, table: str, run_date: date, frame: pl.DataFrame) -> None:
    """Store `frame` as the rows of `table` for `run_date`; the table is created from the first frame stored.
    One transaction: a run killed here leaves the day's previous rows, never none."""
    with _transaction(con):
        _store(con, table, run_date, frame)


def _store(con: duckdb.DuckDBPyConnection, table: str, run_date: date, frame: pl.DataFrame) -> None:
    # An all-null column has no type in Polars; give it text so the table's schema does not depend on the day.
    rows = frame.with_columns(pl.col(pl.Null).cast(pl.Utf8), run_date=pl.lit(run_date, pl.Date))  # noqa: F841
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM rows LIMIT 0")
    # A stage that gained a column still writes into a warehouse of earlier days; their rows get nulls there.
    known = {row[0]: row[1] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM rows").fetchall():
        if name not in known:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {kind}')
        elif known[name] == "VARCHAR" and kind != "VARCHAR" and _all_null(con, table, name):
            # Text only because every earlier day left it empty: the first day with values gives it its type.
            con.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" SET DATA TYPE {kind}')
    con.execute(f"DELETE FROM {table} WHERE run_date = ?", [run_date])
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows")


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Tables that keep history across days (cases, feedback) do not exist before their first day."""
    return bool(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchall()[0][0]
    )


def read_run(
    con: duckdb.DuckDBPyConnection,
    table: str,
    run_date: date,
    columns: tuple[str, ...] | None = None,
    without: tuple[str, ...] = (),
) -> pl.DataFrame:
    """The rows of `table` for `run_date`: all its columns but the date, or only `columns`, or all but those
    `without` names that the table has (a day's records are 72 columns; a step that reads a few of a million rows
    should not convert the rest)."""
    if without:
        stored = con.sql(f"SELECT * EXCLUDE (run_date) FROM {table} LIMIT 0").columns
        columns = tuple(c for c in stored if c not in without)
    selected = ", ".join(f'"{c}"' for c in columns) if columns else "* EXCLUDE (run_date)"
    return con.sql(f"SELECT {selected} FROM {table} WHERE run_date = ?", params=[run_date]).pl()


def replace_latest(
    con: duckdb.DuckDBPyConnection, table: str, run_date: date, frame: pl.DataFrame | str, digest: str | None = None
) -> None:
    """Store `frame` as the only content of `table`, stamped with `run_date`: for tables as large as the
    population that only the latest run needs (kept per day, they would grow by millions of rows a day). Rows equal
    to those stored (the population did not change) only get the new date: writing a million rows again takes
    seconds, comparing their digest a tenth of one. `frame` may be the SQL of rows already in the warehouse, with
    the `digest` that says what they are: they are then copied there without passing through Python."""
    if digest is None:
        assert isinstance(frame, pl.DataFrame), "rows given as SQL need the digest that says what they are"
        digest = _digest(frame)
    with _transaction(con):
        con.execute("CREATE TABLE IF NOT EXISTS latest_digests (table_name VARCHAR PRIMARY KEY, digest VARCHAR)")
        stored = con.execute("SELECT digest FROM latest_digests WHERE table_name = ?", [table]).fetchall()
        if has_table(con, table) and stored == [(digest,)]:
            con.execute(f"UPDATE {table} SET run_date = ?", [run_date])
            return
        con.execute(f"DROP TABLE IF EXISTS {table}")
        if isinstance(frame, str):
            con.execute(f"CREATE TABLE {table} AS SELECT *, DATE '{run_date.isoformat()}' AS run_date FROM ({frame})")
        else:
            _store(con, table, run_date, frame)
        con.execute("INSERT OR REPLACE INTO latest_digests VALUES (?, ?)", [table, digest])


def _digest(frame: pl.DataFrame) -> str:
    """sha256 of the frame's columns, types and rows in order (Polars' row hashes: stable within one version)."""
    digest = hashlib.sha256(repr(list(frame.schema.items())).encode())
    digest.update(frame.hash_rows().to_numpy().tobytes())
    return digest.hexdigest()


def _all_null(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return con.execute(f'SELECT count("{column}") FROM {table}').fetchall()[0][0] == 0
