"""Precision and recall of person linkage, accuracy of routing and rows sent to a wrong subdistrict, from a run
folder and a truth file; over all rows and split by the phenomena the truth lists per row.

The one evaluation of the project: `jingzhun evaluate`, `make demo` and the benchmarks all count here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.core.errors import UserError

KEYS = ["source", "source_file", "source_row"]
TRUTH_COLUMNS = ("person_id", "house_id", "committee_code", "subdistrict_code")
# Optional truth columns (the generator writes them): "a|b" phenomena per row, and whether the row's evidence
# names one person of the population; without the latter, every row of a person in the population counts.
PHENOMENA, NAMES_ONE_PERSON = "phenomena", "names_one_person"
NO_PHENOMENON = "none"

# The targets of issue 8, on every swept setting: (bound, True when the figure must reach it from below).
TARGETS: dict[str, tuple[float, bool]] = {
    "person_precision": (0.999, True),
    "person_recall": (0.995, True),
    "routing_accuracy": (0.995, True),
    "wrong_subdistrict": (0, False),
    "review_share": (0.01, False),
}


def target_met(name: str, value: float | None) -> bool | None:
    """Whether a figure meets its target; None when it has no target or no value."""
    if name not in TARGETS or value is None:
        return None
    bound, at_least = TARGETS[name]
    return value >= bound if at_least else value <= bound


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
    named = (
        (pl.col(NAMES_ONE_PERSON).str.to_lowercase() == "true")
        if NAMES_ONE_PERSON in truth.columns
        else pl.col("person_id").is_not_null()
    )
    return truth.with_columns(named.fill_null(False).alias(NAMES_ONE_PERSON))


def evaluate(results: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """`results` has the key columns, outcome, person_id, house_id, committee_code and subdistrict_code, as
    match_results does; `truth` is what `read_truth` returns. The figures of all rows, and in `by_phenomenon`
    the same figures for the rows showing each phenomenon (and for those showing none)."""
    both = truth.select(
        *KEYS,
        *(pl.col(c).alias(f"true_{c}") for c in TRUTH_COLUMNS),
        NAMES_ONE_PERSON,
        pl.col(PHENOMENA).fill_null("").str.split("|").list.eval(pl.element().filter(pl.element() != ""))
        if PHENOMENA in truth.columns
        else pl.lit([], pl.List(pl.Utf8)).alias(PHENOMENA),
    ).join(results, on=KEYS, how="full", coalesce=True)
    figures = _figures(both)
    shown = sorted(set(both[PHENOMENA].explode().drop_nulls()))
    if shown:
        figures["by_phenomenon"] = {
            **{name: _figures(both.filter(pl.col(PHENOMENA).list.contains(name))) for name in shown},
            NO_PHENOMENON: _figures(both.filter(pl.col(PHENOMENA).list.len().fill_null(0) == 0)),
        }
    return figures


def _figures(both: pl.DataFrame) -> dict[str, Any]:
    predicted = both.filter(pl.col("person_id").is_not_null())
    named = both.filter(pl.col(NAMES_ONE_PERSON).fill_null(False))
    with_house = both.filter(pl.col("true_committee_code").is_not_null())
    routed = both.filter(pl.col("committee_code").is_not_null())
    wrong_subdistrict = both.filter(
        pl.col("subdistrict_code").is_not_null()
        & pl.col("true_subdistrict_code").is_not_null()
        & (pl.col("subdistrict_code") != pl.col("true_subdistrict_code"))
    )
    return {
        "rows": both.height,
        "rows_without_result": both.filter(pl.col("outcome").is_null()).height,
        "rows_without_truth": both.filter(
            pl.col("true_committee_code").is_null() & pl.col("true_person_id").is_null()
        ).height,
        "person_precision": _share((predicted["person_id"] == predicted["true_person_id"]).sum(), predicted.height),
        "person_recall": _share((named["person_id"] == named["true_person_id"]).sum(), named.height),
        "persons_named": named.height,
        "routing_accuracy": _share(
            (with_house["committee_code"] == with_house["true_committee_code"]).sum(), with_house.height
        ),
        "routing_precision": _share((routed["committee_code"] == routed["true_committee_code"]).sum(), routed.height),
        "house_accuracy": _share((with_house["house_id"] == with_house["true_house_id"]).sum(), with_house.height),
        "wrong_subdistrict": wrong_subdistrict.height,
        "wrong_subdistrict_dispatched": (wrong_subdistrict["outcome"] == "dispatched").sum(),
        "review_share": _share((both["outcome"] == "review").sum(), both.height),
        "quarantine_share": _share((both["outcome"] == "quarantined").sum(), both.height),
    }


def pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def format_evaluation(figures: dict[str, Any]) -> str:
    lines = [
        f"rows evaluated            {figures['rows']}",
        f"rows with no result       {figures['rows_without_result']}",
        f"person linkage precision  {pct(figures['person_precision'])}  (of rows linked to a person)",
        f"person linkage recall     {pct(figures['person_recall'])}  (over {figures['persons_named']} rows "
        "whose evidence names one person of the population)",
        f"committee routing         {pct(figures['routing_accuracy'])}  (of rows with a true house)",
        f"routing precision         {pct(figures['routing_precision'])}  (of rows routed)",
        f"wrong subdistrict         {figures['wrong_subdistrict']} rows routed to another subdistrict than the "
        f"truth's, {figures['wrong_subdistrict_dispatched']} of them dispatched",
        f"house accuracy            {pct(figures['house_accuracy'])}",
        f"sent to review            {pct(figures['review_share'])}",
        f"quarantined               {pct(figures['quarantine_share'])}",
    ]
    if "by_phenomenon" in figures:
        lines += ["", "by phenomenon (a row may show several):", _phenomenon_table(figures["by_phenomenon"])]
    return "\n".join(lines)


def _phenomenon_table(by_phenomenon: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"  {'phenomenon':22} {'rows':>7} {'precision':>10} {'recall':>8} {'routing':>8} "
        f"{'wrong sub.':>10} {'review':>7}"
    ]
    for name, f in by_phenomenon.items():
        lines.append(
            f"  {name:22} {f['rows']:>7} {pct(f['person_precision']):>10} {pct(f['person_recall']):>8} "
            f"{pct(f['routing_accuracy']):>8} {f['wrong_subdistrict']:>10} {pct(f['review_share']):>7}"
        )
    return "\n".join(lines)
