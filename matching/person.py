"""Person linkage: a day's records to the population (人口库) with the trained Fellegi–Sunter model (Splink).

Candidates come from the model's blocking rules, are scored by `predict_between` with term frequencies of the
population registered, and are decided by `rules/thresholds.yaml`: accept, review, or no person. It never picks
between two near-identical candidates: those go to review.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from jingzhun import rules
from matching.comparisons import EXPLANATIONS

MODEL_PATH = Path(__file__).resolve().parent / "model" / "person_linkage.json"
# The model file is Splink's settings plus, under this key, how and on what it was trained.
TRAINING_KEY = "jingzhun_training"
# Comparisons whose level is explained to staff, in the order they read best.
EXPLAINED = ("id_digits", "name", "phone", "address")


@dataclass(frozen=True)
class Thresholds:
    accept: float
    review: float
    min_weight_gap: float

    @classmethod
    def load(cls) -> Thresholds:
        return cls(**{k: float(v) for k, v in rules.load("thresholds")["person"].items()})


def term_frequencies(population: pl.DataFrame, column: str) -> pl.DataFrame:
    """How common each value is in the population: 王伟 agreeing says less than a rare name agreeing."""
    counts = population.filter(pl.col(column).is_not_null()).group_by(column).len()
    return counts.select(column, (pl.col("len") / pl.col("len").sum()).alias(f"tf_{column}"))


def score_pairs(records: pl.DataFrame, population: pl.DataFrame, model: Path | dict = MODEL_PATH,
                threshold: float = 0.01) -> pl.DataFrame:
    """Scored candidate pairs (record unique_id_l, person unique_id_r) with match_weight, match_probability
    and the level (gamma) of each comparison."""
    from splink import Linker

    db_api, (left, right, tf) = splink_tables(
        records=records, population=population, tf_name=term_frequencies(population, "name"))
    linker = Linker([left, right], load_model(model) if not isinstance(model, dict) else model,
                    log_level=logging.WARNING)
    linker.table_management.register_term_frequency_lookup(tf, "name")
    pairs = linker.inference.predict_between(left, right, threshold_match_probability=threshold)
    return pl.from_arrow(pairs.as_duckdbpyrelation().to_arrow_table())


def splink_tables(**frames: pl.DataFrame) -> tuple[Any, list[Any]]:
    """A Splink DuckDB backend holding `frames` as real tables, named by their keywords.

    Tables, not views over Arrow data: DuckDB rescans a registered Arrow object on every reference, which made
    one day's blocking take 30 s instead of 0.1 s.
    """
    from splink import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register("source_frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM source_frame")
        con.unregister("source_frame")
    db_api = DuckDBAPI(con)
    return db_api, [db_api.register(name, dataset_display_name=name) for name in frames]


def load_model(path: Path | str = MODEL_PATH) -> dict:
    """Splink's settings from the model file, without our training notes (Splink does not know them)."""
    model = json.loads(Path(path).read_text(encoding="utf-8"))
    model.pop(TRAINING_KEY, None)
    return model


def decide_persons(pairs: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """One row per record with candidates: person_id (when accepted), match_probability, match_weight of the
    best candidate, `person_review` when a person must decide, and the explanation in words."""
    ranked = pairs.sort(["unique_id_l", "match_weight"], descending=[False, True]).with_columns(
        rank=pl.int_range(pl.len()).over("unique_id_l")
    )
    best = ranked.filter(pl.col("rank") == 0)
    second = ranked.filter(pl.col("rank") == 1).select("unique_id_l", second_weight="match_weight",
                                                       second_probability="match_probability")
    decided = best.join(second, on="unique_id_l", how="left").with_columns(
        distinct=pl.col("second_weight").is_null()
        | (pl.col("match_weight") - pl.col("second_weight") >= thresholds.min_weight_gap)
        | (pl.col("second_probability") < thresholds.review),
    )
    accepted = (pl.col("match_probability") >= thresholds.accept) & pl.col("distinct")
    return decided.select(
        pl.col("unique_id_l").alias("record_key"),
        person_id=pl.when(accepted).then(pl.col("unique_id_r")),
        candidate_person_id=pl.col("unique_id_r"),
        match_probability=pl.col("match_probability"),
        match_weight=pl.col("match_weight"),
        person_review=~accepted & (pl.col("match_probability") >= thresholds.review),
        person_explanation=explain(),
    )


def explain() -> pl.Expr:
    """The agreeing comparison levels in words, e.g. 「身份证号一致；姓名同音；同一楼栋」."""
    parts = []
    for comparison in EXPLAINED:
        labels = EXPLANATIONS[comparison]
        parts.append(pl.col(f"gamma_{comparison}").cast(pl.Utf8).replace_strict(
            _gamma_labels(comparison), default=None).replace_strict(labels, default=None))
    return pl.concat_str(parts, separator="；", ignore_nulls=True)


def _gamma_labels(comparison: str) -> dict[str, str]:
    """Splink numbers levels from the else level (0) upwards; our comparisons list them most specific first."""
    from matching.comparisons import comparisons

    levels = next(c for c in comparisons() if c["output_column_name"] == comparison)["comparison_levels"]
    labelled = [lvl["label_for_charts"] for lvl in levels if not lvl.get("is_null_level")]
    return {str(len(labelled) - 1 - i): label for i, label in enumerate(labelled)}
