"""The match stage in parts, so that it can run past one machine, with exactly the results of one process.

Only how the work is split lives here; the stages are `jingzhun/matching/link.py`'s, called on parts of the day
and of the population. What may be split follows from what each stage compares:

- **Addresses** resolve against all the houses: a key that names two houses, in whichever subdistricts they lie,
  resolves nothing; a road runs through several subdistricts and a community name may be found in two; the fuzzy
  stage looks at the houses with the same numbers anywhere. A record's result depends on the record and the houses
  only (`link.resolve_records`). So the records are split, by the subdistrict their address names (whole subdistricts
  to a part; those naming none by their record id), and every part reads all the houses: splitting the houses by
  subdistrict would resolve a key that names two houses across a border, or miss the house across it. Since
  every part reads all the houses, there are as many parts as the cluster runs at once, not one per subdistrict.
  The token stage is not split: its model is trained on all the open records of a register's first day
  (`link.resolve_day`), and a part's records would train another; it runs where the stage runs, on what the parts
  left open.
- **Persons** are candidates of a record when any blocking rule of the model holds, and each rule is an equality
  of keys (`l.phone = r.phone`). So for each rule the records and the persons are split by the hash of that rule's
  key: every pair of the rule is in exactly one part. A pair's score depends on the pair and on the population's
  term frequencies, which are counted once, over the whole population. The parts' pairs are put together, a pair
  that several rules found once (as Splink keeps it under its first rule), and decided per record as in one
  process. A rule that is not an equality of keys is not split.
- **Case keys** group the day's records with each other: decided after the parts, where the stage runs.

Data passes through Parquet files in a folder that the stage and the workers both see (`Partitions.folder`, in
the run's output folder), read back with DuckDB where a part needs only some rows; results come back as Polars
frames. The folder is removed when the stage ends.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from jingzhun.core import rules
from jingzhun.matching.link import Population, person_inputs, resolve_day, resolve_records, usable_records
from jingzhun.matching.person import TF_COLUMNS, score_pairs
from jingzhun.matching.reference import Reference
from jingzhun.matching.standardized import HOUSE_TABLES, standardize_houses, standardized_key

# Runs a part's function on each part, wherever it likes; returns the results in the order of the parts.
Runner = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


@dataclass(frozen=True)
class Partitions:
    """Where the parts run: `run` them, `width` of them at once (the cluster's threads), their files in `folder`,
    which every worker must see at the same path."""

    run: Runner
    width: int
    folder: Path


def in_process(folder: Path, width: int = 2) -> Partitions:
    """The parts one after another in this process: the same split, for tests and measurements."""
    return Partitions(run=lambda fn, parts: [fn(part) for part in parts], width=width, folder=folder)


@dataclass(frozen=True)
class AddressPart:
    """The records of part `part` (whole subdistricts, by the one their address names), against all the houses."""

    folder: Path
    part: int
    rules: Path | None  # the rules in force where the stage runs (a worker has only its installed ones)

    def __str__(self) -> str:
        return f"addresses part {self.part + 1}"


@dataclass(frozen=True)
class PersonPart:
    """The pairs of blocking rule `rule` whose key hashes to `bucket` of `buckets`."""

    folder: Path
    rule: int
    bucket: int
    buckets: int
    settings: dict[str, Any]

    def __str__(self) -> str:
        return f"persons rule {self.rule} part {self.bucket + 1}/{self.buckets}"


def linkage_in_partitions(
    con: duckdb.DuckDBPyConnection,
    standard: pl.DataFrame,
    reference: Reference,
    settings: dict[str, Any],
    partitions: Partitions,
) -> tuple[pl.DataFrame, pl.DataFrame, Population, pl.DataFrame]:
    """What `link.linkage_inputs` and `score_pairs` give in one process: (addresses, record features,
    the population in the warehouse, scored pairs), the addresses and the pairs worked out in parts."""
    folder = partitions.folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        houses = standardize_houses(con, reference)
        usable = usable_records(standard, houses, reference.grid)
        addresses = resolve_day(
            con, _addresses(con, usable, houses, partitions), usable, houses, standardized_key(reference, HOUSE_TABLES)
        )
        records, population_features = person_inputs(con, usable, addresses, reference, houses)
        pairs = _pairs(records, population_features, settings, partitions)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return addresses, records, population_features, pairs


def _addresses(
    con: duckdb.DuckDBPyConnection, usable: pl.DataFrame, houses: pl.DataFrame, partitions: Partitions
) -> pl.DataFrame:
    """`resolve_records` of all usable records, in parts."""
    folder = partitions.folder
    usable = usable.with_columns(part=_address_parts(usable, partitions.width))
    if usable.is_empty():  # nothing to resolve: the stage's empty answer, with its columns
        return resolve_records(con, usable.drop("part"), houses)
    usable.write_parquet(folder / "records.parquet")
    houses.write_parquet(folder / "houses.parquet")
    parts = [AddressPart(folder, part, rules.chosen()) for part in sorted(usable["part"].unique())]
    return pl.concat(partitions.run(resolve_part, parts)).sort("record_id")


def _address_parts(usable: pl.DataFrame, width: int) -> pl.Series:
    """Each record's part, 0 … width-1: a subdistrict's records together, the subdistricts dealt to the parts
    largest first, each to the part with the fewest records so far; records whose address names no subdistrict
    spread by their id. As many parts as run at once, because every part reads all the houses."""
    group = pl.coalesce("written_subdistrict_code", pl.lit("~") + (pl.col("record_id") % width).cast(pl.Utf8))
    sizes = usable.group_by(group.alias("group")).len().sort(["len", "group"], descending=[True, False])
    load, part_of = [0] * width, {}
    for name, rows in sizes.iter_rows():
        part = min(range(width), key=lambda p: (load[p], p))
        part_of[name] = part
        load[part] += rows
    return usable.select(group.replace_strict(part_of, return_dtype=pl.Int64).alias("part")).to_series()


def resolve_part(part: AddressPart) -> pl.DataFrame:
    """The address stages for one part's records (run on a worker)."""
    with rules.using(part.rules), duckdb.connect() as con:
        records = con.sql(
            f"SELECT * EXCLUDE (part) FROM read_parquet('{part.folder / 'records.parquet'}') WHERE part = $part",
            params={"part": part.part},
        ).pl()
        return resolve_records(con, records, pl.read_parquet(part.folder / "houses.parquet"))


def _pairs(
    records: pl.DataFrame, population_features: Population, settings: dict[str, Any], partitions: Partitions
) -> pl.DataFrame:
    """The scored pairs of the records and the persons some blocking rule pairs with them (as in one process:
    the others are in no pair), each rule's pairs split into parts by its keys."""
    folder = partitions.folder
    population = population_features.blocked(records, settings["blocking_rules_to_generate_predictions"])
    records.write_parquet(folder / "record_features.parquet")
    population.write_parquet(folder / "population_features.parquet")
    for column, frequencies in population_features.frequencies(records, population).items():
        frequencies.write_parquet(folder / f"tf_{column}.parquet")
    blocking = [_rule_sql(rule) for rule in settings["blocking_rules_to_generate_predictions"]]
    parts = [
        PersonPart(folder, i, bucket, buckets, settings)
        for i, rule in enumerate(blocking)
        for buckets in [partitions.width if rule_keys(rule) else 1]
        for bucket in range(buckets)
    ]
    scored = [pairs for pairs in partitions.run(score_part, parts) if pairs is not None]
    if not scored:  # no part had a record and a person: the one-process answer, with its columns
        return score_pairs(records.head(0), population.head(0), settings)
    # A pair several rules found is kept once (its scores are the same whichever rule found it).
    return (
        pl.concat(scored)
        .sort("unique_id_l", "unique_id_r", "rule")
        .unique(["unique_id_l", "unique_id_r"], keep="first", maintain_order=True)
        .drop("rule")
    )


def score_part(part: PersonPart) -> pl.DataFrame | None:
    """The scored pairs of one rule's part (run on a worker); None when the part holds no record or no person."""
    rule = _rule_sql(part.settings["blocking_rules_to_generate_predictions"][part.rule])
    keys = rule_keys(rule)
    with duckdb.connect() as con:

        def rows(table: str, side: int) -> pl.DataFrame:
            where = "true"
            if keys:
                exprs = [pair[side] for pair in keys]
                where = (
                    " AND ".join(f"({e}) IS NOT NULL" for e in exprs)
                    + f" AND hash({', '.join(exprs)}) % {part.buckets} = {part.bucket}"
                )
            return con.sql(f"SELECT * FROM read_parquet('{part.folder / table}') WHERE {where}").pl()

        records, population = rows("record_features.parquet", 0), rows("population_features.parquet", 1)
    if records.is_empty() or population.is_empty():
        return None
    settings = {
        **part.settings,
        "blocking_rules_to_generate_predictions": [part.settings["blocking_rules_to_generate_predictions"][part.rule]],
    }
    frequencies = {column: pl.read_parquet(part.folder / f"tf_{column}.parquet") for column in TF_COLUMNS}
    return score_pairs(records, population, settings, frequencies).with_columns(rule=pl.lit(part.rule))


def _rule_sql(rule: str | dict[str, Any]) -> str:
    return rule if isinstance(rule, str) else rule["blocking_rule"]


_SIDE = re.compile(r"\b([lr])\.")


def rule_keys(rule: str) -> list[tuple[str, str]] | None:
    """A blocking rule as its keys, [(record expression, person expression)], when it is a conjunction of
    equalities each of whose sides reads one side only (`right(l.id_digits, 4) = right(r.id_digits, 4)`);
    None when it is anything else, and then its pairs are not split."""
    keys = []
    for conjunct in re.split(r"\s+AND\s+", rule.strip(), flags=re.IGNORECASE):
        sides = conjunct.split("=")
        if len(sides) != 2 or re.search(r"[<>!]$", sides[0].strip()) or re.search(r"\bOR\b", conjunct, re.I):
            return None
        left, right = (side.strip() for side in sides)
        if {m for m in _SIDE.findall(left)} != {"l"} or {m for m in _SIDE.findall(right)} != {"r"}:
            return None
        keys.append((_SIDE.sub("", left), _SIDE.sub("", right)))
    return keys or None
