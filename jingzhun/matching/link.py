"""The match stage: standardized records in, one routing and person decision per record out.

Order: addresses first (they give the house, building and committee that person linkage compares), then
persons (the exact stage, then the active version of the trained model: `jingzhun/matching/person.py`), then routing:
where the record says the person is, else the person's registered home. Every decision says how it was made
(`address_method`, `person_method`) in words staff read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from jingzhun.cleansing.address import ADDRESS_FIELDS
from jingzhun.cleansing.parse_store import AddressParses
from jingzhun.cleansing.pipeline import normalize_column
from jingzhun.core import progress, rules
from jingzhun.core.code_version import code_digest
from jingzhun.core.warehouse import has_table
from jingzhun.matching.address import (
    KEY_COLUMNS,
    decide_address_tokens,
    resolve_addresses,
    resolve_fuzzy,
    score_address_tokens,
    with_address_keys,
    with_building_id,
)
from jingzhun.matching.cases import case_keys
from jingzhun.matching.features import holder_counts_sql, person_features, with_counts, with_holders_sql
from jingzhun.matching.person import (
    KEEP_PROBABILITY,
    TF_COLUMNS,
    Thresholds,
    blocked_pairs_sql,
    blocked_persons,
    decide_persons,
    exact_rule_met,
    scoring_sql,
    shares,
    with_levels,
)
from jingzhun.matching.reference import Reference
from jingzhun.matching.versions import Model, builtin

if TYPE_CHECKING:
    from jingzhun.matching.partitions import Partitions

# The reference tables the houses are made of.
HOUSE_TABLES = ("grid", "housing")
# What `person_features` makes the features of, on both sides: the standardized name, ID number and phone.
PERSON_INPUTS = ("name", "name_pinyin", "name_key", "id_number", "id_number_status", "id_number_candidate", "phone")
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
# What the match step reads of a day's standardized records: what decides quarantine, the address and its fields,
# what the person features are made of (the raw values, their traditional forms and the extra columns are for the
# report and dispatch: a million records' 72 columns read out of the warehouse took 1.9 GB for a frame of 0.5).
RECORD_COLUMNS = (
    "record_id",
    "quarantine_code",
    "address",
    *(f"addr_{f}" for f in ADDRESS_FIELDS),
    *PERSON_INPUTS,
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
REVIEW_AGAINST_ADDRESS = "需人工判断：匹配到的房屋或人员所在街镇与地址所写街镇（或小区）不一致。"
REVIEW_HOME_AGAINST_ADDRESS = "需人工判断：地址未能匹配，人口库登记住址所在街镇与地址所写街镇（或小区）不一致。"
ADDRESS_EXPLANATIONS = {
    "house": "地址匹配到房屋（室号一致）",
    "house_fuzzy": "地址匹配到房屋（门牌和室号一致，路名或小区名相近）",
    "building": "地址匹配到楼栋，未匹配到室号",
    "lane": "地址匹配到弄/门牌号，未匹配到楼栋",
    "community": "地址匹配到小区，未匹配到楼栋",
    "person_home": "地址未能匹配，按人口库登记住址派发",
    "phone_home": "地址未能匹配，未能确定是哪一位；按来电号码登记人员的共同住址派发",
    "house_tokens": "地址按词语和门牌号码匹配到房屋",
    "building_tokens": "地址按词语和门牌号码匹配到楼栋，未能确定房屋",
    "community_tokens": "地址按词语匹配到居委辖区，未能确定楼栋",
}


# What the standardized reference is made by besides its files: the cleansing code (address parser, names, ID
# numbers, phones, text), the code here and in address.py and features.py that keys, places and counts them, the
# division tables and cleansing rules they read, and the tables of the libraries they call (OpenCC, pypinyin,
# Unicode). Kept under the files' fingerprint alone, a reference standardized by an earlier version would meet a day
# cleansed by this one (a community parsed one way in the register, another in the day's addresses): a new version of
# any of them standardizes the reference again, once (the houses' addresses mostly read back from the parses kept).
_STANDARDIZING_CODE = ("cleansing/*.py", "matching/link.py", "matching/address.py", "matching/features.py")


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
    houses = normalize_column(reference.houses(), "address", "address", parses=parses)
    if "community" in houses.columns:
        # A lane-style address (碧波路455弄3号502室) does not name its community; the optional column does.
        houses = normalize_column(houses, "community", "text").with_columns(
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


def written_subdistricts(usable: pl.DataFrame, houses: pl.DataFrame | pl.LazyFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """record_id → `written_subdistrict_code`: the subdistrict the address itself names, by its town (张江镇,
    金桥) or, when it names none, by a community, else a road, that lies in one subdistrict only (a crossing of
    two roads of one town, 栖明路潍川路口, names that town). Null when it names none of these: then nothing in
    the text speaks against a routing."""
    towns = grid.select(addr_town="subdistrict_name", town_subdistrict="subdistrict_code").unique("addr_town")
    committees = grid.select("committee_code", "subdistrict_code").unique("committee_code")

    def of_one_subdistrict(column: str) -> pl.DataFrame:
        # Only the houses of the communities and roads the day's records write: the others name nothing of theirs.
        return (
            houses.lazy()
            .select(column, "committee_code")
            .filter(pl.col(column).is_in(usable[column].drop_nulls().unique().implode()))
            .drop_nulls()
            .collect()
            .join(committees, on="committee_code")
            .group_by(column)
            .agg(pl.col("subdistrict_code").unique())
            .filter(pl.col("subdistrict_code").list.len() == 1)
            .select(column, pl.col("subdistrict_code").list.first().alias(f"{column}_subdistrict"))
        )

    return (
        usable.select("record_id", "addr_town", "addr_community", "addr_road")
        .join(towns, on="addr_town", how="left")
        .join(of_one_subdistrict("addr_community"), on="addr_community", how="left")
        .join(of_one_subdistrict("addr_road"), on="addr_road", how="left")
        .select(
            "record_id",
            written_subdistrict_code=pl.coalesce(
                "town_subdistrict", "addr_community_subdistrict", "addr_road_subdistrict"
            ),
        )
    )


def linkage_inputs(
    con: duckdb.DuckDBPyConnection, standard: pl.DataFrame, reference: Reference
) -> tuple[pl.DataFrame, pl.DataFrame, Population]:
    """(addresses resolved per record, record features, the population in the warehouse) for one day."""
    progress.doing("the standardized reference (parsed and cached when its files changed)")
    houses = houses_scan(con, reference)
    progress.doing("addresses to houses")
    usable = usable_records(standard, houses, reference.grid)
    addresses = resolve_day(
        con, resolve_records(con, usable, houses), usable, houses, standardized_key(reference, HOUSE_TABLES)
    )
    progress.doing("person features")
    return addresses, *person_inputs(con, usable, addresses, reference, houses)


def usable_records(standard: pl.DataFrame, houses: pl.DataFrame | pl.LazyFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """The records not quarantined, with their address keys and the subdistrict their address names."""
    usable = with_address_keys(standard.filter(pl.col("quarantine_code").is_null()))
    return usable.join(written_subdistricts(usable, houses, grid), on="record_id", how="left")


def _placed(houses: pl.DataFrame, grid: pl.DataFrame) -> pl.DataFrame:
    """The houses with the subdistrict of their committee, which the fuzzy and token stages keep to: standardized
    with the houses (the grid is among the files they are kept under), not joined every day, which copied four
    million houses."""
    subdistricts = grid.select("committee_code", "subdistrict_code").unique("committee_code")
    return houses.join(subdistricts, on="committee_code", how="left")


def resolve_records(
    con: duckdb.DuckDBPyConnection, usable: pl.DataFrame, houses: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    """The address stages that look at one record at a time, cheapest first: exact keys, then misspelt names.

    A record's result depends on that record and all the (placed) houses only, never on the day's other records:
    the match stage's partitions (`jingzhun/matching/partitions.py`) split the records here and rely on it."""
    return with_fuzzy_houses(resolve_addresses(con, usable, houses), usable, houses)


def resolve_day(
    con: duckdb.DuckDBPyConnection,
    addresses: pl.DataFrame,
    usable: pl.DataFrame,
    houses: pl.DataFrame | pl.LazyFrame,
    houses_fingerprint: str,
) -> pl.DataFrame:
    """The address stages that look at the whole day, on what `resolve_records` left open: the token stage, whose
    model is trained on the open records of the first day of a register (so it is never split) and kept in the
    warehouse `con` with the houses' words; and the subdistrict each address names."""
    addresses = with_token_houses(con, addresses, usable, houses, houses_fingerprint)
    return addresses.join(usable.select("record_id", "written_subdistrict_code"), on="record_id", how="left")


def person_inputs(
    con: duckdb.DuckDBPyConnection,
    usable: pl.DataFrame,
    addresses: pl.DataFrame,
    reference: Reference,
    houses: pl.DataFrame | pl.LazyFrame,
) -> tuple[pl.DataFrame, Population]:
    """(record features, the population): what the person stages compare, with the phones' holders. The
    population's features are made once per reference and kept in the warehouse (`Population`)."""
    features = stored_population(con, reference, houses)
    records = features.holders_of(person_features(usable.join(addresses, on="record_id"), "record_id"))
    return records, features


def stored_population(
    con: duckdb.DuckDBPyConnection, reference: Reference, houses: pl.DataFrame | pl.LazyFrame
) -> Population:
    """The standardized population (`standardize_reference`) and its person features with their holder counts, in
    the warehouse under the fingerprint of all the reference files (what they are made of), made when they are not
    there yet: they depend on the reference only, and counting holders over ten million persons every day would
    cost a minute and gigabytes. On a day they are there, the population is not read out of the warehouse."""
    fingerprint = standardized_key(reference)
    if not (
        _kept(con, POPULATION, fingerprint, POPULATION_COLUMNS) and _kept(con, POPULATION_FEATURES, fingerprint, ())
    ):
        if not _kept(con, POPULATION, fingerprint, POPULATION_COLUMNS):
            _store_population(con, reference, houses.lazy().collect(), fingerprint)
        _store_person_features(con, fingerprint)
    return Population(con, fingerprint)


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


@dataclass(frozen=True)
class Population:
    """The standardized population and its person features as the warehouse `con` keeps them
    (`stored_population`). A day reads of them by SQL only what its records need: the persons a blocking rule pairs
    with them (with their holder counts), the persons sharing what the records' holder counts count, the term
    frequencies of their values, the homes of its candidates."""

    con: duckdb.DuckDBPyConnection
    fingerprint: str

    def sql(self) -> str:
        """The rows, as SQL on `con` (the fingerprint is hexadecimal: safe to write into it)."""
        return (
            f"SELECT * EXCLUDE (reference_hash) FROM {POPULATION_FEATURES} WHERE reference_hash = '{self.fingerprint}'"
        )

    def all(self) -> pl.DataFrame:
        """The whole population's, for training and the partitioned stage."""
        return self.con.sql(self.sql()).pl()

    def homes(self, person_ids: pl.Series) -> pl.DataFrame:
        """The registered home (house, building, grid, committee) of each of `person_ids`."""
        self.con.register("wanted", person_ids.unique().to_frame("person_id"))
        try:
            return self.con.sql(f"""
                SELECT person_id, house_id, building_id, home_grid_id, committee_code FROM {POPULATION}
                WHERE reference_hash = '{self.fingerprint}'
                  AND person_id IN (SELECT person_id FROM wanted)""").pl()
        finally:
            self.con.unregister("wanted")

    def holders_of(self, records: pl.DataFrame) -> pl.DataFrame:
        """`with_holders` of `records` over the whole population, counted in the warehouse for the keys the records
        hold (the persons sharing them, read out whole, were gigabytes at ten million persons)."""
        self.con.register(
            "day_keys", records.select("phone", "name_pinyin", "surname", "building_id", "committee_code")
        )
        try:
            counts = holder_counts_sql(f"({self.sql()})", "day_keys")
            return with_counts(records, tuple(self.con.sql(counts[count]).pl() for count in counts))
        finally:
            self.con.unregister("day_keys")

    def blocked(self, records: pl.DataFrame, blocking_rules: list[Any]) -> pl.DataFrame:
        """The persons some blocking rule pairs with `records` (`blocked_persons`), with their holder counts."""
        return blocked_persons(records, self.sql(), blocking_rules, self.con)

    @contextmanager
    def blocked_day(self, records: pl.DataFrame, settings: dict[str, Any]) -> Iterator[DayBlocks]:
        """The day's `records` blocked against the population once (`DayBlocks`), for the batches of
        `scored_in_batches` to be scored from: blocked per batch, every batch joined the whole population once per
        rule and counted its values again (ten million persons read a dozen times for each of forty batches)."""
        con = self.con
        con.register("day_frame", records)
        try:
            # Tables, not the registered frame: DuckDB rescans a registered Arrow object on every reference.
            con.execute("CREATE OR REPLACE TEMP TABLE day_records AS SELECT * FROM day_frame")
        finally:
            con.unregister("day_frame")
        tf_tables = {column: f"day_tf_{column}" for column in TF_COLUMNS}
        try:
            pairs = blocked_pairs_sql(
                settings["blocking_rules_to_generate_predictions"], "day_records", f"({self.sql()})"
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE day_candidates AS {pairs}")
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE day_persons AS
                SELECT * FROM ({self.sql()}) WHERE unique_id IN (SELECT unique_id_r FROM day_candidates)""")
            for column in TF_COLUMNS:
                [(total,)] = con.execute(f"SELECT count({column}) FROM ({self.sql()})").fetchall()
                held = f"SELECT {column} FROM day_records UNION SELECT {column} FROM day_persons"
                counts = con.sql(f"""
                    SELECT {column}, count(*) AS len FROM ({self.sql()})
                    WHERE {column} IN ({held}) GROUP BY {column}""").pl()
                con.register("tf_frame", shares(counts, column, total))
                try:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {tf_tables[column]} AS SELECT * FROM tf_frame")
                finally:
                    con.unregister("tf_frame")
            batch_pairs = "SELECT * FROM day_candidates WHERE unique_id_l IN (SELECT unique_id FROM batch_ids)"
            yield DayBlocks(con, settings, scoring_sql(settings, batch_pairs, "day_records", "day_persons", tf_tables))
        finally:
            for table in ("day_records", "day_candidates", "day_persons", *tf_tables.values()):
                con.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def frequencies(self, *sides: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """`term_frequencies` over the whole population of the values of `TF_COLUMNS` that `sides` hold (the only
        ones Splink looks up)."""
        frequencies = {}
        for column in TF_COLUMNS:
            self.con.register("values_held", pl.concat([side.select(column) for side in sides]).unique())
            try:
                [(total,)] = self.con.execute(f"SELECT count({column}) FROM ({self.sql()})").fetchall()
                counts = self.con.sql(f"""
                    SELECT {column}, count(*) AS len FROM ({self.sql()})
                    WHERE {column} IN (SELECT {column} FROM values_held) GROUP BY {column}""").pl()
            finally:
                self.con.unregister("values_held")
            frequencies[column] = shares(counts, column, total)
        return frequencies


@dataclass(frozen=True)
class DayBlocks:
    """A day's records blocked against the population once (`Population.blocked_day`): in the warehouse's temp
    tables, every (record, person) pair of a blocking rule (`day_candidates`), those persons' rows (`day_persons`)
    and the term frequencies over the whole population of the values of `TF_COLUMNS` that the records or those
    persons hold (`day_tf_*`); `scoring`, the SQL scoring with the model `settings` the pairs of the records in
    `batch_ids`."""

    con: duckdb.DuckDBPyConnection
    settings: dict[str, Any]
    scoring: str

    def scored(self, records: pl.DataFrame) -> pl.DataFrame:
        """`score_pairs` of `records` (records of the day) against the whole population, scored where the day's
        pairs are: no person is read out of the warehouse, nor copied into another database."""
        self.con.register("batch_ids", records.select("unique_id"))
        try:
            return with_levels(self.con.sql(self.scoring).pl(), self.settings)
        finally:
            self.con.unregister("batch_ids")


def phone_candidates(pairs: pl.DataFrame) -> pl.DataFrame:
    """(record_id, person_id) of the pairs whose phone agrees and whom neither the name nor the ID number written
    contradicts: the persons a record's phone may name."""
    agree = ("sole", "sole_named", "shared")
    against = ("else", "similar")
    return pairs.filter(
        pl.col("level_phone").is_in(agree)
        & ~pl.col("level_name").is_in(against).fill_null(False)
        & (pl.col("level_id_digits").fill_null("missing") != "else")
    ).select(record_id=pl.col("unique_id_l").cast(pl.Int64), person_id=pl.col("unique_id_r"))


def households(candidates: pl.DataFrame, homes: pl.DataFrame) -> pl.DataFrame:
    """record_id → `household_committee_code`, `household_grid_id`, `household_subdistrict_code`: the one
    registered home (grid) of every person the record's phone may name (its `phone_candidates`). A household sharing
    a phone lives in one house, so 陈先生 calling from it, or a caller giving only the phone, is routed there even
    when no one person is named. None when the candidates live in more than one grid."""
    return (
        candidates.join(homes, on="person_id")
        .group_by("record_id")
        .agg(
            pl.col("home_grid_id").n_unique().alias("grids"),
            pl.col("home_grid_id").first(),
            pl.col("home_committee_code").first(),
            pl.col("home_subdistrict_code").first(),
            pl.col("home_grid_id").null_count().alias("unplaced"),
        )
        .filter((pl.col("grids") == 1) & (pl.col("unplaced") == 0))
        .select(
            "record_id",
            household_committee_code="home_committee_code",
            household_grid_id="home_grid_id",
            household_subdistrict_code="home_subdistrict_code",
        )
    )


# Records scored at once: a million records against ten million persons are tens of millions of candidate pairs;
# 100,000 of them were 2.6 million pairs and took about 6 GB at peak in Splink's DuckDB, Arrow and Polars when
# `predict_between` gave 57 columns a pair (now 8 and the 4 levels' labels; a test makes it small).
RECORDS_PER_BATCH = 25_000


@dataclass(frozen=True)
class Scored:
    """What a day keeps of its scored pairs: every pair is read once, here, and then dropped."""

    persons: pl.DataFrame  # `decide_persons`, by record_id
    by_phone: pl.DataFrame  # `phone_candidates`: the persons a record's phone may name
    candidates: pl.DataFrame  # the pairs kept for analysts and review (`Matching.candidates`)

    @classmethod
    def of(cls, pairs: pl.DataFrame, thresholds: Thresholds) -> Scored:
        return cls(
            persons=decide_persons(pairs, thresholds)
            .with_columns(pl.col("record_key").cast(pl.Int64).alias("record_id"))
            .drop("record_key"),
            by_phone=phone_candidates(pairs),
            candidates=pairs.filter(
                (pl.col("match_probability") >= KEEP_PROBABILITY) | exact_rule_met(thresholds.exact_rules)
            ).select(
                pl.col("unique_id_l").cast(pl.Int64).alias("record_id"),
                pl.col("unique_id_r").alias("person_id"),
                "match_weight",
                "match_probability",
                pl.col("^gamma_.*$"),
                pl.col("^level_.*$"),
                pl.col("^bf_.*$"),
            ),
        )

    @classmethod
    def concat(cls, parts: list[Scored]) -> Scored:
        return cls(
            persons=pl.concat([part.persons for part in parts]),
            by_phone=pl.concat([part.by_phone for part in parts]),
            # In a stable order: Splink gives the pairs in whatever order its threads found them.
            candidates=pl.concat([part.candidates for part in parts]).sort("record_id", "person_id"),
        )


def scored_in_batches(
    records: pl.DataFrame, population: Population, settings: dict[str, Any], thresholds: Thresholds
) -> Scored:
    """The persons' stage of one process, `RECORDS_PER_BATCH` records at a time: a record's pairs, their scores
    and its decision depend on that record, the persons its blocking rules pair it with and the population's term
    frequencies only, so batches of records give the same decisions as all records at once."""
    batches = list(records.iter_slices(RECORDS_PER_BATCH)) or [records]
    parts = []
    progress.doing("blocking the day's records against the population")
    with population.blocked_day(records, settings) as day:
        for number, batch in enumerate(batches, 1):
            progress.doing(f"scoring candidate persons (Splink's SQL; records {number} of {len(batches)} parts)")
            parts.append(Scored.of(day.scored(batch), thresholds))
    return Scored.concat(parts)


@dataclass(frozen=True)
class Matching:
    matched: pl.DataFrame  # one row per record (see `match`)
    record_features: pl.DataFrame  # what the model compared, per record and per person
    population_features: Population  # kept in the warehouse, once per reference
    candidates: pl.DataFrame  # every scored pair, with its match weight and levels, for analysts and review


def with_fuzzy_houses(
    addresses: pl.DataFrame, usable: pl.DataFrame, houses: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    """The fuzzy stage, after the exact ones: records not resolved to a house may be, if a misspelt road or
    community name is the only difference."""
    config = rules.load("thresholds")["address"]
    open_records = usable.join(
        addresses.filter(pl.col("address_level").fill_null("") != "house").select("record_id"), on="record_id"
    )
    # Never a house in another subdistrict than the one the address names.
    fuzzy = resolve_fuzzy(
        open_records,
        houses,
        config["fuzzy_min_score"],
        config["fuzzy_min_gap"],
        same=("written_subdistrict_code", "subdistrict_code"),
    )
    hits = fuzzy.filter(pl.col("house_id").is_not_null())
    found = hits.join(
        houses.lazy()
        .filter(pl.col("house_id").is_in(hits["house_id"].implode()))
        .select("house_id", f_building_id="building_id", f_grid_id="grid_id", f_committee_code="committee_code")
        .collect(),
        on="house_id",
    ).rename({"house_id": "f_house_id"})
    merged = addresses.join(found.drop("fuzzy_ambiguous"), on="record_id", how="left").join(
        fuzzy.select("record_id", "fuzzy_ambiguous"), on="record_id", how="left"
    )
    hit = pl.col("f_house_id").is_not_null()
    return merged.select(
        "record_id",
        address_level=pl.when(hit).then(pl.lit("house_fuzzy")).otherwise("address_level"),
        house_id=pl.when(hit).then("f_house_id").otherwise("house_id"),
        building_id=pl.when(hit).then("f_building_id").otherwise("building_id"),
        grid_id=pl.when(hit).then("f_grid_id").otherwise("grid_id"),
        committee_code=pl.when(hit).then("f_committee_code").otherwise("committee_code"),
        address_ambiguous=pl.col("address_ambiguous") | pl.col("fuzzy_ambiguous").fill_null(False),
    )


def with_token_houses(
    con: duckdb.DuckDBPyConnection,
    addresses: pl.DataFrame,
    usable: pl.DataFrame,
    houses: pl.DataFrame | pl.LazyFrame,
    houses_fingerprint: str,
) -> pl.DataFrame:
    """The token stage, after the exact and fuzzy ones (as uk_address_matcher: exact, then Splink): a record not
    resolved to a house may be, by the words and numbers of its address, or to the building or committee its
    near-equal candidates share. It refines an exact stage's committee, never contradicts it, and never takes a
    house in another subdistrict than the text names."""
    config = rules.load("thresholds")["address"]["tokens"]
    open_records = usable.filter(pl.col("address").is_not_null()).join(
        addresses.filter(~pl.col("address_level").fill_null("").str.starts_with("house")).select(
            "record_id", "committee_code"
        ),
        on="record_id",
    )
    pairs = score_address_tokens(con, open_records, houses, config, houses_fingerprint)
    found = decide_address_tokens(pairs, open_records, houses, config)
    merged = addresses.join(found.rename(lambda c: c if c == "record_id" else f"t_{c}"), on="record_id", how="left")
    # A coarser exact level (building, lane, community) gives way to a house only.
    hit = pl.col("t_token_level").is_not_null() & (
        pl.col("address_level").is_null() | (pl.col("t_token_level") == "house")
    )
    return merged.select(
        "record_id",
        address_level=pl.when(hit)
        .then(pl.concat_str([pl.col("t_token_level"), pl.lit("_tokens")]))
        .otherwise("address_level"),
        **{
            c: pl.when(hit).then(f"t_{c}").otherwise(c)
            for c in ("house_id", "building_id", "grid_id", "committee_code")
        },
        address_ambiguous=pl.col("address_ambiguous")
        | (pl.col("t_token_ambiguous").fill_null(False) & pl.col("address_level").is_null()),
    )


def match(
    con: duckdb.DuckDBPyConnection,
    standard: pl.DataFrame,
    reference: Reference,
    model: Model | None = None,
    partitions: Partitions | None = None,
) -> Matching:
    """Per record: person_id, house_id, grid_id, committee/subdistrict codes and names, person_method,
    address_method, match_method, match_probability, match_weight, match_explanation, ambiguous, case_key,
    and the version of the person-linkage `model` that decided (default: the builtin one).

    With `partitions`, addresses and persons are matched in parts that it runs (on a Dask cluster, say), with
    the same results; without, in this process."""
    model = model or builtin()
    thresholds = Thresholds.load()
    if partitions is None:
        addresses, records, population_features = linkage_inputs(con, standard, reference)
        kept = scored_in_batches(records, population_features, model.settings, thresholds)
    else:  # the same stages on parts of the day and of the population, where `partitions` runs them
        from jingzhun.matching.partitions import linkage_in_partitions

        addresses, records, population_features, pairs = linkage_in_partitions(
            con, standard, reference, model.settings, partitions
        )
        kept = Scored.of(pairs, thresholds)
    progress.doing("deciding persons and routing")
    persons = kept.persons

    routing = reference.grid.select("committee_code", "committee_name", "subdistrict_code", "subdistrict_name").unique(
        "committee_code"
    )
    subdistrict_of = dict(routing.select("committee_code", "subdistrict_code").iter_rows())
    # Only the homes of the persons decided and of those a phone may name: no other home is read.
    homes = (
        population_features.homes(pl.concat([persons["person_id"].drop_nulls(), kept.by_phone["person_id"]]))
        .select(
            "person_id",
            home_house_id="house_id",
            home_building_id="building_id",
            home_grid_id="home_grid_id",
            home_committee_code="committee_code",
        )
        .with_columns(home_subdistrict_code=pl.col("home_committee_code").replace_strict(subdistrict_of, default=None))
    )
    written = pl.col("written_subdistrict_code")
    # The registered home is a fallback only where the address says nothing against it: the linked person's,
    # else the one home of everyone the phone may be (陈先生 on his household's phone).
    home_against_text = written.is_not_null() & (pl.col("home_subdistrict_code") != written).fill_null(False)
    from_home = pl.col("address_level").is_null() & pl.col("home_committee_code").is_not_null() & ~home_against_text
    linked_home = pl.col("person_id").is_not_null()
    household = households(kept.by_phone, homes)
    decided = (
        addresses.join(persons, on="record_id", how="left")
        .join(homes, on="person_id", how="left")
        .join(household, on="record_id", how="left")
        .with_columns(
            **{
                f"home_{c}": pl.when(linked_home).then(f"home_{c}").otherwise(f"household_{c}")
                for c in ("committee_code", "grid_id", "subdistrict_code")
            }
        )
        .with_columns(
            model_version=pl.lit(model.version),
            address_method=pl.when(from_home & linked_home)
            .then(pl.lit("person_home"))
            .when(from_home)
            .then(pl.lit("phone_home"))
            .otherwise(pl.col("address_level")),
            committee_code=pl.when(from_home).then("home_committee_code").otherwise("committee_code"),
            grid_id=pl.when(from_home).then("home_grid_id").otherwise("grid_id"),
            # The address named the person's own building but no room: their registered home is the house.
            house_id=pl.coalesce(
                "house_id", pl.when(pl.col("building_id") == pl.col("home_building_id")).then("home_house_id")
            ),
            ambiguous=(pl.col("address_ambiguous") & pl.col("address_level").is_null())
            | pl.col("person_review").fill_null(False),
            # (Only a linked person's home against the text asks for a person: the household's is only not used.)
            home_against_text=pl.col("address_level").is_null() & home_against_text & linked_home,
        )
    )
    routed_subdistrict = pl.col("committee_code").replace_strict(subdistrict_of, default=None)
    decided = decided.with_columns(
        # Never dispatch against the written address: a routing that lands outside the subdistrict the address
        # names goes to a person, with the reason.
        review_reason=pl.when(written.is_not_null() & (routed_subdistrict != written).fill_null(False))
        .then(pl.lit(REVIEW_AGAINST_ADDRESS))
        .when(pl.col("home_against_text"))
        .then(pl.lit(REVIEW_HOME_AGAINST_ADDRESS)),
    )
    decided = decided.with_columns(
        match_method=pl.concat_str(
            [
                pl.col("person_method").replace_strict(
                    {"model": "person_model", "exact": "person_exact"}, default=None
                ),
                pl.concat_str([pl.lit("address_"), pl.col("address_method")]),
            ],
            separator="+",
            ignore_nulls=True,
        ).replace("", None),
        match_probability=pl.when(pl.col("person_id").is_not_null()).then(pl.col("match_probability")),
        match_explanation=pl.concat_str(
            [
                pl.when(pl.col("person_id").is_not_null()).then(pl.col("person_explanation")),
                pl.col("address_method").replace_strict(ADDRESS_EXPLANATIONS, default=None),
            ],
            separator="；",
            ignore_nulls=True,
        ).replace("", None),
    )
    matched = (
        standard.select("record_id")
        .join(decided, on="record_id", how="left")
        .join(routing, on="committee_code", how="left")
    )
    matched = matched.join(case_keys(matched, records), on="record_id", how="left")
    return Matching(
        matched=matched.select(
            "record_id",
            "person_id",
            "candidate_person_id",
            "house_id",
            "grid_id",
            "committee_code",
            "committee_name",
            "subdistrict_code",
            "subdistrict_name",
            "person_method",
            "address_method",
            "match_method",
            "match_probability",
            "match_weight",
            "match_explanation",
            pl.col("ambiguous").fill_null(False),
            "review_reason",
            "case_key",
            "model_version",
        ),
        record_features=records,
        population_features=population_features,
        candidates=kept.candidates,
    )
