"""The match stage: standardized records in, one routing and person decision per record out.

Order: addresses first (they give the house, building and committee that person linkage compares), then
persons (the exact stage, then the active version of the trained model: `jingzhun/matching/person.py`), then routing:
where the record says the person is, else the person's registered home. Every decision says how it was made
(`address_method`, `person_method`) in words staff read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from jingzhun.cleansing.address import ADDRESS_FIELDS
from jingzhun.core import progress, rules
from jingzhun.matching.address import (
    decide_address_tokens,
    resolve_addresses,
    resolve_fuzzy,
    score_address_tokens,
)
from jingzhun.matching.address_keys import with_address_keys
from jingzhun.matching.cases import case_keys
from jingzhun.matching.features import PERSON_INPUTS, holder_counts_sql, person_features, with_counts
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
    with_frequencies_sql,
    with_levels,
)
from jingzhun.matching.reference import Reference
from jingzhun.matching.standardized import (
    HOUSE_TABLES,
    POPULATION,
    POPULATION_FEATURES,
    houses_scan,
    kept_population,
    standardized_key,
)
from jingzhun.matching.versions import Model, builtin

if TYPE_CHECKING:
    from jingzhun.matching.partitions import Partitions

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


def stored_population(
    con: duckdb.DuckDBPyConnection, reference: Reference, houses: pl.DataFrame | pl.LazyFrame
) -> Population:
    """The standardized population and its person features in the warehouse (`kept_population`), as `Population`."""
    return Population(con, kept_population(con, reference, houses))


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
            "day_keys", records.select("phone", "name_pinyin", "surname", "titled", "building_id", "committee_code")
        )
        try:
            # The counts by surname for the titled records only (two groupings for every record's phone and surname
            # took a million-row day past DuckDB's 4 GB at ten million persons).
            counts = holder_counts_sql(f"({self.sql()})", "day_keys", titled="(SELECT * FROM day_keys WHERE titled)")
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
            # Joined to the distinct persons paired: a semi-join built its table on every pair (23.5 million at ten
            # million persons).
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE day_persons AS SELECT p.* FROM ({self.sql()}) AS p
                JOIN (SELECT DISTINCT unique_id_r AS unique_id FROM day_candidates) USING (unique_id)""")
            day_frequencies = self._frequencies(
                lambda column: f"SELECT {column} FROM day_records UNION SELECT {column} FROM day_persons"
            )
            for column, frequencies in day_frequencies.items():
                con.register("tf_frame", frequencies)
                try:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {tf_tables[column]} AS SELECT * FROM tf_frame")
                finally:
                    con.unregister("tf_frame")
            # Both sides with their term frequencies once: joined in every scoring statement, the five million
            # persons' frequencies were looked up again for each.
            for side, table in (("day_l", "day_records"), ("day_r", "day_persons")):
                con.execute(f"CREATE OR REPLACE TEMP TABLE {side} AS {with_frequencies_sql(table, tf_tables)}")
                con.execute(f"DROP TABLE temp.{table}")
            batch_pairs = "SELECT * FROM day_candidates WHERE unique_id_l IN (SELECT unique_id FROM batch_ids)"
            yield DayBlocks(con, settings, scoring_sql(settings, batch_pairs, "day_l", "day_r", {}))
        finally:
            for table in ("day_records", "day_candidates", "day_persons", "day_l", "day_r", *tf_tables.values()):
                con.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def frequencies(self, *sides: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """`term_frequencies` over the whole population of the values of `TF_COLUMNS` that `sides` hold (the only
        ones Splink looks up)."""
        self.con.register("values_held", pl.concat([side.select(TF_COLUMNS) for side in sides]))
        try:
            return self._frequencies(lambda column: f"SELECT {column} FROM values_held")
        finally:
            self.con.unregister("values_held")

    def _frequencies(self, held: Callable[[str], str]) -> dict[str, pl.DataFrame]:
        """`term_frequencies` over the whole population of the values of each of `TF_COLUMNS` that the SQL
        `held(column)` gives."""
        frequencies = {}
        for column in TF_COLUMNS:
            [(total,)] = self.con.execute(f"SELECT count({column}) FROM ({self.sql()})").fetchall()
            counts = self.con.sql(f"""
                SELECT {column}, count(*) AS len FROM ({self.sql()})
                WHERE {column} IN ({held(column)}) GROUP BY {column}""").pl()
            frequencies[column] = shares(counts, column, total)
        return frequencies


@dataclass(frozen=True)
class DayBlocks:
    """A day's records blocked against the population once (`Population.blocked_day`): in the warehouse's temp
    tables, every (record, person) pair of a blocking rule (`day_candidates`), the records' and those persons' rows
    with the term frequencies over the whole population of their values of `TF_COLUMNS` (`day_l`, `day_r`);
    `scoring`, the SQL scoring with the model `settings` the pairs of the records in `batch_ids`."""

    con: duckdb.DuckDBPyConnection
    settings: dict[str, Any]
    scoring: str

    def scored(self, records: pl.DataFrame) -> pl.DataFrame:
        """`score_pairs` of `records` (records of the day) against the whole population, scored where the day's
        pairs are: no person is read out of the warehouse, nor copied into another database."""
        with self.scores(records) as read:
            return read(records)

    @contextmanager
    def scores(self, records: pl.DataFrame) -> Iterator[Callable[[pl.DataFrame], pl.DataFrame]]:
        """The pairs of `records` scored in one statement into a table sorted by record (`day_scored`), for the
        block's length; yields what reads the scored pairs of some of `records` (with their levels' labels) out of
        it. Every statement scoring pairs reads the day's persons and the term frequencies of their values whole
        (five million persons at ten million): scored 25,000 records at a time, a million-record day read them forty
        times, and that was two thirds of its scoring. Records read in ranges of `unique_id` read only their rows."""
        con = self.con
        con.register("batch_ids", records.select("unique_id"))
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE day_scored AS {self.scoring} ORDER BY unique_id_l")
        finally:
            con.unregister("batch_ids")
        try:
            yield self._scored_of
        finally:
            con.execute("DROP TABLE IF EXISTS temp.day_scored")

    def _scored_of(self, records: pl.DataFrame) -> pl.DataFrame:
        ids = records["unique_id"]
        self.con.register("part_ids", records.select("unique_id"))
        try:
            # The range is implied by the list; given, it skips the table's row groups outside it.
            pairs = self.con.sql(
                "SELECT * FROM day_scored WHERE unique_id_l BETWEEN ? AND ? "
                "AND unique_id_l IN (SELECT unique_id FROM part_ids)",
                params=[ids.min(), ids.max()],
            ).pl()
        finally:
            self.con.unregister("part_ids")
        return with_levels(pairs, self.settings)


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


# Records decided at once: a million records against ten million persons are tens of millions of candidate pairs;
# 100,000 of them were 2.6 million pairs and took about 6 GB at peak in Splink's DuckDB, Arrow and Polars when
# `predict_between` gave 57 columns a pair (now 8 and the 4 levels' labels; a test makes it small).
RECORDS_PER_BATCH = 25_000
# Records whose pairs are scored in one statement (`DayBlocks.scores`), kept in the warehouse (spilled to disk past
# its memory limit) for their batches to be read from: about six million pairs at ten million persons.
RECORDS_SCORED_AT_ONCE = 250_000


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
    # In order of unique_id: each batch is a range of the table its pairs are scored into.
    records = records.sort("unique_id")
    groups = list(records.iter_slices(RECORDS_SCORED_AT_ONCE)) or [records]
    parts = []
    progress.doing("blocking the day's records against the population")
    with population.blocked_day(records, settings) as day:
        for number, group in enumerate(groups, 1):
            progress.doing(f"scoring candidate persons (Splink's SQL; records {number} of {len(groups)} parts)")
            with day.scores(group) as scored:
                for batch in list(group.iter_slices(RECORDS_PER_BATCH)) or [group]:
                    parts.append(Scored.of(scored(batch), thresholds))
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
