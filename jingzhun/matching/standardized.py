"""The standardized reference: the houses keyed and placed, the population standardized and placed in them, and the
persons' features with their holder counts, made through the same normalizers as a day's records (equal means equal
on both sides) and kept in the warehouse under the digest of the files and of the code that made them.

Its own module so that the digest covers what standardizes and nothing else: with the match stage's orchestration
in the same file, any change to how a day is matched standardized a ten-million-person reference again (15 minutes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from functools import cache, partial
from pathlib import Path

import duckdb
import polars as pl

from jingzhun.cleansing.address import ADDRESS_FIELDS
from jingzhun.cleansing.parse_store import AddressParses
from jingzhun.cleansing.pipeline import normalize_column
from jingzhun.core import rules
from jingzhun.core.code_version import code_digest
from jingzhun.core.warehouse import has_table
from jingzhun.matching.address_keys import KEY_COLUMNS, with_address_keys, with_building_id
from jingzhun.matching.features import PERSON_INPUTS, person_features, with_holders_sql
from jingzhun.matching.reference import Reference, grid_district

# The reference tables the houses are made of.
HOUSE_TABLES = ("grid", "housing")
# What linkage reads of the standardized population (`person_features`, the persons' homes): kept and read back
# without the raw values and the columns no stage compares, which at ten million persons are gigabytes.
POPULATION_COLUMNS = (
    "person_id",
    *PERSON_INPUTS,
    "house_id",
    "building_id",
    "committee_code",
    "home_grid_id",
)
# What the address stages read of the standardized houses (the keys, the parsed fields, the words of the text):
# kept without the raw columns of the housing file.
HOUSE_COLUMNS = (
    "house_id",
    "grid_id",
    "address",
    *(f"addr_{f}" for f in ADDRESS_FIELDS),
    *KEY_COLUMNS,
    "building_id",
    "committee_code",
    "subdistrict_code",
)
# What the warehouse keeps of the reference, each table under the fingerprint of the files it is made from and the
# version of what standardized them (`standardized_key`):
# the standardized houses (`standardize_houses`), the standardized population and its person features with
# their holder counts (`stored_population`).
HOUSES = "reference_houses"
POPULATION = "reference_population"
POPULATION_FEATURES = "reference_person_features"
# Persons standardized, and their features made, at once on the first day of a reference (a test makes it small).
CHUNK_PERSONS = 1_000_000
# The columns of the standardized population `person_features` reads.
FEATURE_INPUTS = tuple(column for column in POPULATION_COLUMNS if column != "home_grid_id")


# What the standardized reference is made by besides its files: the cleansing code (address parser, names, ID
# numbers, phones, text), the code here and in address.py and features.py that keys, places and counts them, the
# division tables and cleansing rules they read, and the tables of the libraries they call (OpenCC, pypinyin,
# Unicode). Kept under the files' fingerprint alone, a reference standardized by an earlier version would meet a day
# cleansed by this one (a community parsed one way in the register, another in the day's addresses): a new version of
# any of them standardizes the reference again, once (the houses' addresses mostly read back from the parses kept).
_STANDARDIZING_CODE = ("cleansing/*.py", "matching/standardized.py", "matching/address_keys.py", "matching/features.py")


def standard_version() -> str:
    """The digest of what standardizes the reference: `_STANDARDIZING_CODE` and the rest above (the rules in force
    read each time: a long-lived process may run with another rules folder, or the same folder edited)."""
    cleansing_rules = (rules.rules_dir() / "cleansing.yaml").read_bytes()
    return hashlib.sha256(_code_version().encode() + b"\0" + cleansing_rules).hexdigest()


@cache
def _code_version() -> str:
    package = Path(__file__).resolve().parent.parent
    return code_digest(sorted({path for pattern in _STANDARDIZING_CODE for path in package.glob(pattern)}))


def standardized_key(reference: Reference, tables: tuple[str, ...] | None = None) -> str:
    """What the reference's standardized tables are kept under: its files (`tables` of them) and `standard_version`."""
    return hashlib.sha256(f"{reference.fingerprint(tables)}:{standard_version()}".encode()).hexdigest()


def standardize_reference(con: duckdb.DuckDBPyConnection, reference: Reference) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Houses with their match keys, building and committee; the population standardized and placed in them.

    The reference goes through the same normalizers as the records, so that equal means equal on both sides.
    It changes rarely and costs most of the stage at 10M persons, so the result is kept in the warehouse under
    the hash of the reference files (and of the code that standardizes them: `standardized_key`) and reused while
    they are unchanged: the houses under the hash of the grid and housing files alone, so that a changed population
    does not parse the houses again.
    """
    houses = standardize_houses(con, reference)
    return houses, _standardized_population(con, reference, houses)


def _standardized_population(
    con: duckdb.DuckDBPyConnection, reference: Reference, houses: pl.DataFrame
) -> pl.DataFrame:
    fingerprint = standardized_key(reference)
    return _cached(
        con, POPULATION, fingerprint, lambda: _store_population(con, reference, houses, fingerprint), POPULATION_COLUMNS
    )


def standardize_houses(
    con: duckdb.DuckDBPyConnection, reference: Reference, columns: tuple[str, ...] = HOUSE_COLUMNS
) -> pl.DataFrame:
    """The houses of `standardize_reference`, which need only the grid and housing tables (the gazetteer of the
    cleanse step is built from them, before the population is read); only `columns` of them (the gazetteer reads
    two of 24: four million houses whole are gigabytes)."""
    # A replaced housing file parses only the addresses the warehouse has not parsed before.
    make = partial(_standardize_houses, reference, AddressParses(con))
    return _cached(con, HOUSES, standardized_key(reference, HOUSE_TABLES), make, HOUSE_COLUMNS, columns)


def houses_scan(con: duckdb.DuckDBPyConnection, reference: Reference) -> pl.LazyFrame:
    """The houses of `standardize_houses`, not read: a scan of their Parquet copy, of which each address stage
    collects only the rows the day's records could meet (their keys, numbers, names, candidates). Four million
    houses read whole were 2 GB, and what the stages made of all of them (keyed, filtered, joined) took the match
    step from 4 to 13.7 GB in its first minute. The frame itself, lazily, where there is no copy (the first day
    of a register, a warehouse in memory)."""
    fingerprint = standardized_key(reference, HOUSE_TABLES)
    copy = _parquet_copy(con, HOUSES, fingerprint)
    if copy is not None:
        if not copy.is_file() and _kept(con, HOUSES, fingerprint, HOUSE_COLUMNS):
            _keep_parquet_copy(con, HOUSES, fingerprint, HOUSE_COLUMNS, copy)
        if copy.is_file():
            try:
                pl.read_parquet_schema(copy)
                return pl.scan_parquet(copy)
            except (pl.exceptions.PolarsError, OSError):  # a copy that cannot be read is made again from the table
                pass
    return standardize_houses(con, reference).lazy()


def _cached(
    con: duckdb.DuckDBPyConnection,
    table: str,
    fingerprint: str,
    make: Callable[[], pl.DataFrame | None],
    columns: tuple[str, ...],
    read: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """The `read` columns (default: all `columns`) of `table`'s rows of `fingerprint` from the warehouse, else of
    `make()`, stored there in their place with its `columns` (only those: what is read back is what is kept), or
    which stores them there itself (in chunks) and returns None. A table kept without one of them is made again.
    Once read from the warehouse they are also kept as a Parquet file beside it (`_parquet_copy`), which later runs
    read."""
    read = read or columns
    copy = _parquet_copy(con, table, fingerprint)
    if copy is not None and copy.is_file():
        try:
            return pl.read_parquet(copy, columns=list(read))
        except (pl.exceptions.PolarsError, OSError):  # a copy that cannot be read is made again from the table
            pass
    if _kept(con, table, fingerprint, columns):
        if copy is None:
            return _rows(con, table, fingerprint, read)
        _keep_parquet_copy(con, table, fingerprint, columns, copy)
        return pl.read_parquet(copy, columns=list(read))
    made = make()
    if made is None:  # stored by `make`, chunk by chunk: read back as a cached day reads it (no copy yet)
        return _rows(con, table, fingerprint, read)
    frame = made.select(columns)
    _store(con, table, fingerprint, frame)
    return frame.select(read)


def _rows(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """The `columns` of `table`'s rows of `fingerprint`, in the order they were stored."""
    return con.sql(f"SELECT {', '.join(columns)} FROM {table} WHERE reference_hash = ?", params=[fingerprint]).pl()


def _chunks(
    con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, columns: tuple[str, ...]
) -> Iterator[pl.DataFrame]:
    """`_rows`, `CHUNK_PERSONS` at a time (on a cursor of its own: `con` may store while they are read)."""
    with con.cursor() as cursor:
        reader = cursor.sql(
            f"SELECT {', '.join(columns)} FROM {table} WHERE reference_hash = ?", params=[fingerprint]
        ).to_arrow_reader(CHUNK_PERSONS)
        for batch in reader:
            yield pl.from_arrow(batch)


def _kept(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, columns: tuple[str, ...]) -> bool:
    """Whether `table` holds rows of `fingerprint`, with `columns`."""
    return (
        has_table(con, table)
        and set(columns) <= {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
        and bool(con.execute(f"SELECT 1 FROM {table} WHERE reference_hash = ? LIMIT 1", [fingerprint]).fetchall())
    )


def _store(
    con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, frame: pl.DataFrame, append: bool = False
) -> None:
    """`frame` as the content of `table`, its rows of `fingerprint` (a table keeps one reference's rows); with
    `append`, added after the rows stored before (the next chunk of them)."""
    # An all-null column has no type in Polars; give it text, as the warehouse's tables do.
    con.register("standardized", frame.with_columns(pl.col(pl.Null).cast(pl.Utf8), reference_hash=pl.lit(fingerprint)))
    if append:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM standardized")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM standardized")
    con.unregister("standardized")


def _store_chunks(
    con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, chunks: Iterable[pl.DataFrame], empty: pl.DataFrame
) -> None:
    """`_store` of the concatenation of `chunks`, one chunk at a time; `empty` (the columns, no rows) if none. They
    go to a table aside that replaces `table` once all are there: a run killed between two chunks leaves `table` as
    it was, not a part of the rows that `_kept` would take for all of them."""
    partial = f"{table}_partial"
    stored = False
    for chunk in chunks:
        _store(con, partial, fingerprint, chunk, append=stored)
        stored = True
    if not stored:
        _store(con, partial, fingerprint, empty)
    con.execute(f"BEGIN TRANSACTION; DROP TABLE IF EXISTS {table}; ALTER TABLE {partial} RENAME TO {table}; COMMIT")


def _parquet_copy(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str) -> Path | None:
    """Where the copy of a cached reference table lives: `OUT/.reference-cache/<table>-<fingerprint>.parquet`
    beside the warehouse file (none for a warehouse in memory). Polars reads a million standardized persons from
    Parquet in a third of the time DuckDB takes to hand them over from its table (1.7 s against 4.4 s, 0.8 against
    2.0 s of CPU, at a load of 6); the warehouse's table stays the record of what was standardized."""
    paths = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    if not paths or not paths[0][0]:
        return None
    return Path(paths[0][0]).parent / ".reference-cache" / f"{table}-{fingerprint}.parquet"


def _keep_parquet_copy(
    con: duckdb.DuckDBPyConnection, table: str, fingerprint: str, columns: tuple[str, ...], copy: Path
) -> None:
    """Write the copy of the `columns` of `table`'s rows of `fingerprint`, in the order they were stored, by DuckDB
    straight from the table (a table handed from DuckDB to Polars takes about four times its size as a frame at
    peak: gigabytes for the four million standardized houses of ten million persons); whole (a rename: a run killed
    here leaves none); and drop the table's copies of other fingerprints (reference files since replaced)."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    partial = copy.with_name(copy.name + ".partial")
    target = str(partial).replace("'", "''")
    # The fingerprint is hexadecimal: safe to write into the statement (COPY takes no parameters).
    con.execute(
        f"COPY (SELECT {', '.join(columns)} FROM {table} WHERE reference_hash = '{fingerprint}') "
        f"TO '{target}' (FORMAT parquet)"
    )
    partial.replace(copy)
    for other in copy.parent.glob(f"{table}-*.parquet"):
        if other != copy:
            other.unlink(missing_ok=True)


def _standardize_houses(reference: Reference, parses: AddressParses | None = None) -> pl.DataFrame:
    district = grid_district(reference.grid)
    houses = normalize_column(reference.houses(), "address", "address", parses=parses, district_code=district)
    if "community" in houses.columns:
        # A lane-style address (碧波路455弄3号502室) does not name its community; the optional column does, written
        # as the parser reads a place inside an address.
        houses = normalize_column(houses, "community", "place").with_columns(
            addr_community=pl.coalesce("addr_community", "community")
        )
    houses = with_building_id(with_address_keys(houses))
    return _placed(
        houses.join(reference.grid.select("grid_id", "committee_code"), on="grid_id", how="left"), reference.grid
    )


def _store_population(
    con: duckdb.DuckDBPyConnection, reference: Reference, houses: pl.DataFrame, fingerprint: str
) -> None:
    """The population standardized and placed in its houses, stored in the warehouse `CHUNK_PERSONS` at a time:
    each person's standardization depends on that person and the houses only, and ten million persons with all
    their columns at once took more than 14 GB."""
    homes = houses.select("house_id", "building_id", "committee_code", home_grid_id="grid_id")

    def standardized(persons: pl.DataFrame) -> pl.DataFrame:
        for field in ("name", "id_number", "phone"):
            persons = normalize_column(persons, field, field)
        return persons.join(homes, on="house_id", how="left", maintain_order="left").select(POPULATION_COLUMNS)

    chunks = (standardized(persons) for persons in reference.persons_in_chunks(CHUNK_PERSONS))
    _store_chunks(con, POPULATION, fingerprint, chunks, standardized(reference.population.head(0)))


def _placed(houses: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """The houses with the subdistrict of their committee, which the fuzzy and token stages keep to: standardized
    with the houses (the grid is among the files they are kept under), not joined every day, which copied four
    million houses."""
    subdistricts = grid.select("committee_code", "subdistrict_code").unique("committee_code")
    return houses.join(subdistricts, on="committee_code", how="left")


def kept_population(con: duckdb.DuckDBPyConnection, reference: Reference, houses: pl.DataFrame | pl.LazyFrame) -> str:
    """The fingerprint of all the reference files (what they are made of) under which the standardized population
    (`standardize_reference`) and its person features with their holder counts are in the warehouse, made when they
    are not there yet: they depend on the reference only, and counting holders over ten million persons every day
    would cost a minute and gigabytes. On a day they are there, the population is not read out of the warehouse."""
    fingerprint = standardized_key(reference)
    if not (
        _kept(con, POPULATION, fingerprint, POPULATION_COLUMNS) and _kept(con, POPULATION_FEATURES, fingerprint, ())
    ):
        if not _kept(con, POPULATION, fingerprint, POPULATION_COLUMNS):
            _store_population(con, reference, houses.lazy().collect(), fingerprint)
        _store_person_features(con, fingerprint)
    return fingerprint


def _store_person_features(con: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    """The person features of the stored population with their holder counts: the features made and stored
    `CHUNK_PERSONS` at a time, then their holder counts, which are over the whole population, counted and joined to
    them in DuckDB (`with_holders_sql`), which spills what does not fit (counted in Polars, the key columns of ten
    million persons and their counts were gigabytes held while the chunks were joined to them)."""
    uncounted = f"{POPULATION_FEATURES}_uncounted"
    chunks = (person_features(chunk, "person_id") for chunk in _chunks(con, POPULATION, fingerprint, FEATURE_INPUTS))
    empty = person_features(pl.DataFrame(schema=dict.fromkeys(FEATURE_INPUTS, pl.Utf8)), "person_id")
    _store_chunks(con, uncounted, fingerprint, chunks, empty)
    partial = f"{POPULATION_FEATURES}_partial"
    con.execute(f"CREATE OR REPLACE TABLE {partial} AS {with_holders_sql(uncounted)}")
    con.execute(
        f"BEGIN TRANSACTION; DROP TABLE IF EXISTS {POPULATION_FEATURES}; DROP TABLE {uncounted}; "
        f"ALTER TABLE {partial} RENAME TO {POPULATION_FEATURES}; COMMIT"
    )
