"""Person linkage: a day's records to the population (人口库), in two stages, cheapest and surest first (as
uk_address_matcher resolves addresses: an exact stage, then the Splink model):

1. the exact stage: a candidate that meets one of the `exact_rules` of `jingzhun/rules/thresholds.yaml` is the person,
   whatever else differs, unless another candidate meets a rule too. An ID number that passes its check with an
   agreeing name is such a rule: an address that differs (people living away from their registered home, 人户分离)
   or a new phone cannot overturn it. So is a phone only that person has, with an agreeing name or house.
2. the model: every candidate of the model's blocking rules is scored by the Splink model (Splink's own SQL for
   its levels and weights, `scoring_sql`), with term frequencies of names and phones in the population (王伟 or a
   household's shared phone count for less), and decided by the thresholds: accept, review, or no person.

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
    match_probability and the level of each comparison (gamma_*, and its label in level_*): `scoring_sql` on the
    pairs `blocked_pairs_sql` finds, in a database of its own.

    `frequencies`: the term frequencies of `TF_COLUMNS` (`term_frequencies`) of the whole population, when
    `population` is only a part of it; by default those of `population`."""
    settings = copy.deepcopy(model) if isinstance(model, dict) else load_model(model)
    frequencies = frequencies or {column: term_frequencies(population, column) for column in TF_COLUMNS}
    tf_tables = {column: f"tf_{column}" for column in TF_COLUMNS}
    frames = {"records": records, "population": population, **{tf_tables[c]: frequencies[c] for c in TF_COLUMNS}}
    with frame_tables(**frames) as con:
        pairs = blocked_pairs_sql(settings["blocking_rules_to_generate_predictions"], "records", "population")
        scored = con.sql(scoring_sql(settings, pairs, "records", "population", tf_tables)).pl()
    return with_levels(scored, settings)


def blocked_pairs_sql(blocking_rules: list[Any], records: str, persons: str) -> str:
    """The SQL of every (record unique_id_l, person unique_id_r) pair that some blocking rule joins, once: the pairs
    Splink's blocking gives (its rules are these joins). `records` and `persons` are tables or subqueries."""
    if any(isinstance(rule, dict) and rule.get("arrays_to_explode") for rule in blocking_rules):
        raise ValueError("the person stage blocks by joins: a blocking rule over exploded lists is not one")
    rules_sql = [rule if isinstance(rule, str) else rule["blocking_rule"] for rule in blocking_rules]
    pairs = "SELECT l.unique_id AS unique_id_l, r.unique_id AS unique_id_r"
    return " UNION ".join(f"{pairs} FROM {records} AS l JOIN {persons} AS r ON {rule}" for rule in rules_sql)


def scoring_sql(settings: dict[str, Any], pairs: str, records: str, persons: str, frequencies: dict[str, str]) -> str:
    """The SQL scoring the pairs of the query `pairs` (unique_id_l of `records`, unique_id_r of `persons`), with the
    term frequencies of the tables `frequencies` (`with_frequencies_sql`; none: the tables carry them): unique_id_l,
    unique_id_r, match_weight, match_probability and gamma_* of each comparison.

    Splink's own SQL for the model's levels, term-frequency adjustments, weights and probabilities (what
    `predict_between` runs once it has blocked), generated from `settings`, run where the pairs already are.
    Not `predict_between` itself: it blocked again what the day had blocked (its rules, one after another, and a
    join on text keys), wanted the persons copied into a database of its own, and gave every comparison's values,
    weights and term frequencies on both sides (57 columns, 4 of them read) through Arrow to Polars."""
    from splink.internals.dialects import SplinkDialect
    from splink.internals.predict import predict_from_comparison_vectors_sqls
    from splink.internals.settings import Settings
    from splink.internals.settings_creator import SettingsCreator

    splink_settings = SettingsCreator.from_path_or_dict(settings).get_settings("duckdb")
    unique_ids = splink_settings.column_info_settings.unique_id_input_columns
    comparisons = splink_settings.core_model_settings.comparisons

    def side(table: str, source: str) -> str:
        return f"SELECT '{source}' AS source_dataset, * FROM ({with_frequencies_sql(table, frequencies)})"

    vectors = Settings.columns_to_select_for_comparison_vector_values(
        unique_id_input_columns=unique_ids,
        comparisons=comparisons,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
    )
    # training_mode: the gamma columns without the values compared or the intermediate weights.
    *weights, predict = predict_from_comparison_vectors_sqls(
        unique_id_input_columns=unique_ids,
        core_model_settings=splink_settings.core_model_settings,
        sql_dialect=SplinkDialect.from_string("duckdb"),
        training_mode=True,
    )
    steps = {
        "l_side": side(records, "records"),
        "r_side": side(persons, "population"),
        "blocked_with_cols": f"SELECT {', '.join(splink_settings._columns_to_select_for_blocking)}, 0 AS match_key "
        f"FROM ({pairs}) AS b JOIN l_side AS l ON l.unique_id = b.unique_id_l "
        "JOIN r_side AS r ON r.unique_id = b.unique_id_r",
        "__splink__df_comparison_vectors": f"SELECT {', '.join(vectors)} FROM blocked_with_cols",
        **{step["output_table_name"]: step["sql"] for step in weights},
    }
    gammas = ", ".join(comparison._gamma_column_name for comparison in comparisons)
    return (
        "WITH "
        + ",\n".join(f"{name} AS ({sql})" for name, sql in steps.items())
        + f"\nSELECT unique_id_l, unique_id_r, match_weight, match_probability, {gammas} FROM ({predict['sql']})"
    )


def with_frequencies_sql(table: str, frequencies: dict[str, str]) -> str:
    """The rows of `table` with the term frequency of each of their values in `frequencies` (column → table of the
    column and tf_<column>; null for a value without one, as Splink's lookup gives); none: the rows as they are
    (they carry their frequencies already)."""
    joins = " ".join(f"LEFT JOIN {tf} USING ({column})" for column, tf in frequencies.items())
    tfs = "".join(f", {tf}.tf_{column}" for column, tf in frequencies.items())
    return f"SELECT t.*{tfs} FROM {table} AS t {joins}"


def blocked_persons(
    records: pl.DataFrame,
    population: pl.DataFrame | str,
    blocking_rules: list[Any],
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """The persons that some blocking rule pairs with a record: the only candidates there are, so a day's cost
    follows its rows (the term frequencies and phone holders, counted over the whole population, come with the
    rows). `population` is a frame, or the SQL of its rows in `con` (the warehouse's cached features: then only
    these persons are ever read out of it)."""
    source = "r_frame" if isinstance(population, pl.DataFrame) else f"({population})"
    found = blocked_pairs_sql(blocking_rules, "l_frame", source)
    with contextlib.nullcontext(con) if con is not None else open_duckdb() as db:
        db.register("l_frame", records)
        if isinstance(population, pl.DataFrame):
            db.register("r_frame", population)
        try:
            return db.sql(f"SELECT * FROM {source} AS r WHERE unique_id IN (SELECT unique_id_r FROM ({found}))").pl()
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
def frame_tables(**frames: pl.DataFrame) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB database of its own holding `frames` as real tables, named by their keywords, for the block's length.

    Tables, not views over Arrow data: DuckDB rescans a registered Arrow object on every reference, which made
    one day's blocking take 30 s instead of 0.1 s. The connection is closed on leaving."""
    with open_duckdb() as con:
        for name, frame in frames.items():
            con.register("source_frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM source_frame")
            con.unregister("source_frame")
        yield con


@contextlib.contextmanager
def splink_tables(**frames: pl.DataFrame) -> Iterator[tuple[Any, list[Any]]]:
    """A Splink DuckDB backend over `frame_tables` of `frames`, for the block's length. Its connection closed on
    leaving matters here: Splink's linker and its backend refer to each other, so without it the database (the
    inputs and every scored pair) stays in memory until Python's cycle collector happens to run; the person
    stage's batches piled up half a gigabyte each.
    """
    from splink import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    with frame_tables(**frames) as con:
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
    # Only what the decision reads is ranked (a batch's pairs carry every comparison's gamma too), and only the
    # first two candidates of a record are put into words.
    ranked = (
        pairs.select("unique_id_l", "unique_id_r", "match_weight", "match_probability", *level_columns)
        .with_columns(exact=exact)
        # Two candidates meeting exact rules: the exact stage decides nothing, the model weighs them.
        .with_columns(exact=pl.col("exact") & (pl.col("exact").sum().over("unique_id_l") == 1))
        # The person id last: candidates at the same weight are ranked the same way whatever order they came in.
        .sort(["unique_id_l", "exact", "match_weight", "unique_id_r"], descending=[False, True, True, False])
        .with_columns(rank=pl.int_range(pl.len()).over("unique_id_l"))
        .filter(pl.col("rank") <= 1)
        .with_columns(evidence=pl.concat_str([pl.col(c).fill_null("") for c in level_columns], separator="|"))
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
