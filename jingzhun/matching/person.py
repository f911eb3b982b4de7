"""Person linkage: a day's records to the population (人口库), in two stages, cheapest and surest first (as
uk_address_matcher resolves addresses: an exact stage, then the Splink model):

1. the exact stage: a candidate that meets one of the `exact_rules` of `jingzhun/rules/thresholds.yaml` is the person,
   whatever else differs, unless another candidate meets a rule too. An ID number that passes its check with an
   agreeing name is such a rule: an address that differs (people living away from their registered home, 人户分离)
   or a new phone cannot overturn it. So is a phone only that person has, with an agreeing name or house.
2. the model: every candidate of the model's blocking rules is scored by `predict_between`, with term frequencies
   of names and phones in the population (王伟 or a household's shared phone count for less), and decided by the
   thresholds: accept, review, or no person.

Both stages read the same comparison levels (`jingzhun/matching/comparisons.py`) by their labels. It never picks between
candidates: when the evidence cannot tell two apart (陈先生 calling from a phone his household shares) the record
names no person, which is neither a review item nor an error; candidates that differ but score alike go to review.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from jingzhun.core import rules
from jingzhun.core.warehouse import open_duckdb
from jingzhun.matching.comparisons import EXPLANATIONS
from jingzhun.matching.versions import BUILTIN_PATH as MODEL_PATH
from jingzhun.matching.versions import TRAINING_KEY

# Comparisons whose level is explained to staff, in the order they read best.
EXPLAINED = ("id_digits", "name", "phone", "address")
# Columns whose agreement counts for less the more common the value is in the population.
TF_COLUMNS = ("name", "phone")
# Candidates below this probability are dropped after the decision (unless an exact rule named them).
KEEP_PROBABILITY = 0.01


@dataclass(frozen=True)
class Thresholds:
    accept: float
    review: float
    min_weight_gap: float
    # Each rule: comparison → the levels (labels) any of which it must be at; all comparisons of a rule must hold.
    exact_rules: tuple[dict[str, tuple[str, ...]], ...] = ()

    @classmethod
    def load(cls) -> Thresholds:
        config = rules.load("thresholds")["person"]
        exact_rules = tuple(
            {comparison: tuple(levels) for comparison, levels in rule.items()} for rule in config.get("exact_rules", [])
        )
        _check_levels(exact_rules)
        return cls(
            accept=float(config["accept"]),
            review=float(config["review"]),
            min_weight_gap=float(config["min_weight_gap"]),
            exact_rules=exact_rules,
        )


def _check_levels(exact_rules: tuple[dict[str, tuple[str, ...]], ...]) -> None:
    """A rule naming a level that does not exist would silently never hold: refuse it."""
    from jingzhun.matching.comparisons import comparisons

    known = {
        c["output_column_name"]: {"missing", *(lvl["label_for_charts"] for lvl in c["comparison_levels"])}
        for c in comparisons()
    }
    for rule in exact_rules:
        for comparison, levels in rule.items():
            unknown = set(levels) - known.get(comparison, set())
            if comparison not in known or unknown:
                raise ValueError(
                    f"jingzhun/rules/thresholds.yaml exact_rules: no level {sorted(unknown) or ''} of "
                    f"comparison {comparison!r} in jingzhun/matching/comparisons.py"
                )


def term_frequencies(population: pl.DataFrame, column: str) -> pl.DataFrame:
    """How common each value is in the population: 王伟 agreeing says less than a rare name agreeing."""
    counts = population.filter(pl.col(column).is_not_null()).group_by(column).len()
    return shares(counts, column, counts["len"].sum())


def shares(counts: pl.DataFrame, column: str, total: int) -> pl.DataFrame:
    """`term_frequencies` from the `len` of some values of `column` and the number of all values `total`. Polars
    divides a column by a number as by multiplying with its inverse (not always the nearest double of the share):
    every count is divided here, so that the frequencies are the same to the last bit whoever counted them."""
    return counts.select(column, (pl.col("len").cast(pl.UInt32) / pl.lit(total, pl.UInt32)).alias(f"tf_{column}"))


def score_pairs(
    records: pl.DataFrame,
    population: pl.DataFrame,
    model: Path | dict = MODEL_PATH,
    frequencies: dict[str, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Every candidate pair of the blocking rules (record unique_id_l, person unique_id_r) with match_weight,
    match_probability, the level of each comparison (gamma_*, and its label in level_*) and its Bayes factor.

    `frequencies`: the term frequencies of `TF_COLUMNS` (`term_frequencies`) of the whole population, when
    `population` is only a part of it; by default those of `population`."""
    from splink import Linker

    settings = copy.deepcopy(model) if isinstance(model, dict) else load_model(model)
    frequencies = frequencies or {column: term_frequencies(population, column) for column in TF_COLUMNS}
    population = blocked_persons(records, population, settings["blocking_rules_to_generate_predictions"])
    tables = {"records": records, "population": population, **{f"tf_{c}": frequencies[c] for c in TF_COLUMNS}}
    with splink_tables(**tables) as (_, (left, right, *tfs)):
        # The model was trained on these columns (`jingzhun/matching/training.py`); Splink's check of its settings
        # against them only logs, and parses every level's SQL once more to do it (a few tenths of a second a day).
        linker = Linker([left, right], settings, log_level=logging.WARNING, validate_settings=False)
        for column, tf in zip(TF_COLUMNS, tfs, strict=True):
            linker.table_management.register_term_frequency_lookup(tf, column)
        pairs = linker.inference.predict_between(left, right).as_duckdbpyrelation().to_arrow_table()
    return with_levels(pl.from_arrow(pairs), settings)


def blocked_persons(
    records: pl.DataFrame,
    population: pl.DataFrame | str,
    blocking_rules: list[Any],
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """The persons that some blocking rule pairs with a record: the only candidates there are. Splink then reads
    these instead of the whole population, so a day's cost follows its rows (the term frequencies and phone
    holders, counted over the whole population, come with the rows). `population` is a frame, or the SQL of its
    rows in `con` (the warehouse's cached features: then only these persons are ever read out of it)."""
    source = "r_frame" if isinstance(population, pl.DataFrame) else f"({population})"
    with contextlib.nullcontext(con) if con is not None else open_duckdb() as db:
        if any(isinstance(rule, dict) and rule.get("arrays_to_explode") for rule in blocking_rules):
            # a rule over exploded lists is Splink's to join
            return population if isinstance(population, pl.DataFrame) else db.sql(population).pl()
        rules_sql = [rule if isinstance(rule, str) else rule["blocking_rule"] for rule in blocking_rules]
        db.register("l_frame", records)
        if isinstance(population, pl.DataFrame):
            db.register("r_frame", population)
        found = " UNION ".join(
            f"SELECT r.unique_id FROM l_frame AS l JOIN {source} AS r ON {rule}" for rule in rules_sql
        )
        try:
            return db.sql(f"SELECT * FROM {source} AS r WHERE unique_id IN ({found})").pl()
        finally:
            db.unregister("l_frame")
            if isinstance(population, pl.DataFrame):
                db.unregister("r_frame")


def with_levels(pairs: pl.DataFrame, settings: dict[str, Any]) -> pl.DataFrame:
    """`level_<comparison>`: the label of the level each pair is at (`exact`, `pinyin`, …, `null`, `else`).

    Splink numbers levels from the else level (0) upwards and the null level (`missing`: a value absent on either
    side) -1; our comparisons list them most specific first. Labels are read from the model that scored the pairs,
    so every version explains itself."""
    levels = {}
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        labelled = [lvl["label_for_charts"] for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        mapping = {-1: "missing", **{len(labelled) - 1 - i: label for i, label in enumerate(labelled)}}
        levels[f"level_{name}"] = pl.col(f"gamma_{name}").replace_strict(mapping, default=None, return_dtype=pl.Utf8)
    missing = {f"level_{c}": pl.lit(None, pl.Utf8) for c in EXPLAINED if f"level_{c}" not in levels}
    return pairs.with_columns(**levels, **missing)


@contextlib.contextmanager
def splink_tables(**frames: pl.DataFrame) -> Iterator[tuple[Any, list[Any]]]:
    """A Splink DuckDB backend holding `frames` as real tables, named by their keywords, for the block's length.

    Tables, not views over Arrow data: DuckDB rescans a registered Arrow object on every reference, which made
    one day's blocking take 30 s instead of 0.1 s. The connection is closed on leaving: Splink's linker and its
    backend refer to each other, so without it the database (the inputs and every scored pair) stays in memory
    until Python's cycle collector happens to run; the person stage's batches piled up half a gigabyte each.
    """
    from splink import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    with open_duckdb() as con:
        for name, frame in frames.items():
            con.register("source_frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM source_frame")
            con.unregister("source_frame")
        db_api = DuckDBAPI(con)
        yield db_api, [db_api.register(name, dataset_display_name=name) for name in frames]


def load_model(path: Path | str = MODEL_PATH) -> dict:
    """Splink's settings from the model file, without our training notes (Splink does not know them)."""
    model = json.loads(Path(path).read_text(encoding="utf-8"))
    model.pop(TRAINING_KEY, None)
    return model


def exact_rule_met(exact_rules: tuple[dict[str, tuple[str, ...]], ...]) -> pl.Expr:
    """Whether a pair meets one of the exact rules: all its comparisons at one of the levels it names."""
    met = pl.lit(False)
    for rule in exact_rules:
        met = met | pl.all_horizontal(
            pl.col(f"level_{c}").is_in(list(levels)).fill_null(False) for c, levels in rule.items()
        )
    return met


def decide_persons(pairs: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """One row per record with candidates: person_id (when linked) and person_method (`exact` stage or `model`),
    match_probability and match_weight of the best candidate, `person_review` when a person must decide, and
    the explanation in words."""
    exact = exact_rule_met(thresholds.exact_rules)
    level_columns = [c for c in pairs.columns if c.startswith("level_")]
    ranked = (
        pairs.with_columns(exact=exact)
        # Two candidates meeting exact rules: the exact stage decides nothing, the model weighs them.
        .with_columns(exact=pl.col("exact") & (pl.col("exact").sum().over("unique_id_l") == 1))
        # The person id last: candidates at the same weight are ranked the same way whatever order they came in.
        .sort(["unique_id_l", "exact", "match_weight", "unique_id_r"], descending=[False, True, True, False])
        .with_columns(
            rank=pl.int_range(pl.len()).over("unique_id_l"),
            evidence=pl.concat_str([pl.col(c).fill_null("") for c in level_columns], separator="|"),
        )
    )
    best = ranked.filter(pl.col("rank") == 0)
    second = ranked.filter(pl.col("rank") == 1).select(
        "unique_id_l", second_weight="match_weight", second_probability="match_probability", second_evidence="evidence"
    )
    decided = best.join(second, on="unique_id_l", how="left").with_columns(
        distinct=pl.col("second_weight").is_null()
        | (pl.col("match_weight") - pl.col("second_weight") >= thresholds.min_weight_gap)
        | (pl.col("second_probability") < thresholds.review),
    )
    # The same level on every comparison: nothing in the record tells the two apart, nor could an analyst.
    names_no_one = ~pl.col("distinct") & (pl.col("evidence") == pl.col("second_evidence"))
    by_model = (pl.col("match_probability") >= thresholds.accept) & pl.col("distinct")
    linked = pl.col("exact") | by_model
    return decided.select(
        pl.col("unique_id_l").alias("record_key"),
        person_id=pl.when(linked).then(pl.col("unique_id_r")),
        candidate_person_id=pl.col("unique_id_r"),
        person_method=pl.when(pl.col("exact")).then(pl.lit("exact")).when(by_model).then(pl.lit("model")),
        match_probability=pl.col("match_probability"),
        match_weight=pl.col("match_weight"),
        person_review=~linked & ~names_no_one & (pl.col("match_probability") >= thresholds.review),
        person_explanation=explain(),
    )


def explain() -> pl.Expr:
    """The agreeing comparison levels in words, e.g. 「身份证号一致；姓名同音；同一楼栋」."""
    return pl.concat_str(
        [pl.col(f"level_{c}").replace_strict(EXPLANATIONS[c], default=None) for c in EXPLAINED],
        separator="；",
        ignore_nulls=True,
    )
