"""Precision and recall of person linkage and accuracy of routing, from a run folder and a truth file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.errors import UserError

KEYS = ["source", "source_file", "source_row"]
TRUTH_COLUMNS = ("person_id", "house_id", "committee_code", "subdistrict_code")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def evaluate_run(run_dir: Path, truth_file: Path) -> dict[str, Any]:
    results_path = run_dir / "match_results.parquet"
    if not results_path.is_file():
        raise UserError(f"no match_results.parquet in {run_dir}: give the run's dated folder, e.g. OUT/2026-11-22")
    return evaluate(pl.read_parquet(results_path), read_truth(truth_file))


def read_truth(truth_file: Path) -> pl.DataFrame:
    if not truth_file.is_file():
        raise UserError(f"truth file not found: {truth_file}")
    truth = pl.read_csv(truth_file, infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))
    missing = [c for c in (*KEYS, *TRUTH_COLUMNS) if c not in truth.columns]
    if missing:
        raise UserError(f"truth file {truth_file} lacks columns: {', '.join(missing)}")
    return truth


def evaluate(results: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """`results` has the key columns, outcome, person_id, house_id and committee_code, as match_results does."""
    both = truth.select(*KEYS, *(pl.col(c).alias(f"true_{c}") for c in TRUTH_COLUMNS)).join(
        results, on=KEYS, how="full", coalesce=True
    )
    predicted = both.filter(pl.col("person_id").is_not_null())
    in_population = both.filter(pl.col("true_person_id").is_not_null())
    with_house = both.filter(pl.col("true_committee_code").is_not_null())
    routed = both.filter(pl.col("committee_code").is_not_null())
    return {
        "rows": both.height,
        "rows_without_result": both.filter(pl.col("outcome").is_null()).height,
        "rows_without_truth": both.filter(pl.col("true_committee_code").is_null()
                                          & pl.col("true_person_id").is_null()).height,
        "person_precision": _share((predicted["person_id"] == predicted["true_person_id"]).sum(), predicted.height),
        "person_recall": _share((in_population["person_id"] == in_population["true_person_id"]).sum(),
                                in_population.height),
        "persons_in_population": in_population.height,
        "routing_accuracy": _share((with_house["committee_code"] == with_house["true_committee_code"]).sum(),
                                   with_house.height),
        "routing_precision": _share((routed["committee_code"] == routed["true_committee_code"]).sum(),
                                    routed.height),
        "house_accuracy": _share((with_house["house_id"] == with_house["true_house_id"]).sum(), with_house.height),
        "review_share": _share((both["outcome"] == "review").sum(), both.height),
        "quarantine_share": _share((both["outcome"] == "quarantined").sum(), both.height),
    }


def format_evaluation(figures: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.2f}%"

    lines = [
        f"rows evaluated            {figures['rows']}",
        f"rows with no result       {figures['rows_without_result']}",
        f"person linkage precision  {pct(figures['person_precision'])}",
        f"person linkage recall     {pct(figures['person_recall'])}  (over {figures['persons_in_population']} rows "
        "whose person is in the population)",
        f"committee routing         {pct(figures['routing_accuracy'])}  (of rows with a true house)",
        f"routing precision         {pct(figures['routing_precision'])}  (of rows routed)",
        f"house accuracy            {pct(figures['house_accuracy'])}",
        f"sent to review            {pct(figures['review_share'])}",
        f"quarantined               {pct(figures['quarantine_share'])}",
    ]
    return "\n".join(lines)
