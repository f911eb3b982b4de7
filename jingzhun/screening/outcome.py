"""The outcome of every record: quarantined, dispatched, review or no_action, with its reasons in words.

This is the one place where the four outcomes are decided; later stages only read them.
"""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl

from jingzhun.core import rules

OUTCOMES = ("dispatched", "no_action", "review", "quarantined")
REVIEW_UNROUTABLE = "需人工判断：触发筛查规则，但地址和人员均未能确定所属居委。"
REVIEW_AMBIGUOUS = "需人工判断：地址或人员有多个相近的候选，系统不替人选择。"
NO_ACTION = "未触发筛查规则。"


# One schema for the still-open cases of earlier days that `decide` continues (see
# `jingzhun.feedback.cases.open_cases`).
OPEN_CASES_SCHEMA = {"case_key": pl.Utf8, "dispatch_id": pl.Utf8, "first_dispatched_on": pl.Date}


def case_key(columns: list[str]) -> pl.Expr:
    """The case a record belongs to: matching's `case_key` (one person on one day) when it has one, otherwise
    the record alone, named by its position in its source file."""
    record = pl.lit("record:") + pl.concat_str(
        ["source", "source_file", pl.col("source_row").cast(pl.Utf8)], separator="/"
    )
    return pl.coalesce(pl.col("case_key"), record) if "case_key" in columns else record


def decide(
    standard: pl.DataFrame,
    matched: pl.DataFrame,
    screened: pl.DataFrame,
    run_date: date,
    open_cases: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Join the stages' results on record_id and decide each record's outcome, case and dispatch id.

    A dispatched record's case that an earlier day dispatched and nobody has closed keeps that day's dispatch id
    (`continued_from` says which day), so the same work is never sent twice as new."""
    reasons = rules.load("quarantine")["rows"]
    if open_cases is None:
        open_cases = pl.DataFrame(schema=OPEN_CASES_SCHEMA)
    fired = pl.col("rule_ids").is_not_null()
    table = (
        standard.select("record_id", "source", "source_file", "source_row", "quarantine_code")
        .join(matched, on="record_id", how="left")
        .join(screened, on="record_id", how="left")
    )
    outcome = (
        pl.when(pl.col("quarantine_code").is_not_null())
        .then(pl.lit("quarantined"))
        .when(
            fired & (pl.col("committee_code").is_null() | pl.col("ambiguous") | pl.col("review_reason").is_not_null())
        )
        .then(pl.lit("review"))
        .when(fired)
        .then(pl.lit("dispatched"))
        .otherwise(pl.lit("no_action"))
    )
    table = table.with_columns(outcome=outcome, case_key=case_key(table.columns))
    earlier = open_cases.select("case_key", earlier_id="dispatch_id", continued_from="first_dispatched_on")
    return (
        table.join(earlier, on="case_key", how="left")
        .with_columns(
            reasons=pl.when(pl.col("outcome") == "quarantined")
            .then(pl.col("quarantine_code").replace_strict(reasons, default=pl.col("quarantine_code")))
            .when(pl.col("outcome") == "review")
            .then(
                pl.coalesce(
                    pl.col("review_reason"),
                    pl.when(pl.col("ambiguous")).then(pl.lit(REVIEW_AMBIGUOUS)),
                    pl.lit(REVIEW_UNROUTABLE),
                )
                + pl.lit("规则：")
                + pl.col("screening_reasons")
            )
            .when(pl.col("outcome") == "dispatched")
            .then(pl.col("screening_reasons"))
            .otherwise(pl.lit(NO_ACTION)),
            # Stable across reruns of the same inputs: the day and the case (a person, or one record's position).
            dispatch_id=pl.when(pl.col("outcome") == "dispatched").then(
                pl.coalesce(
                    "earlier_id",
                    pl.lit(f"{run_date:%Y%m%d}-")
                    + pl.col("case_key").map_elements(
                        lambda key: hashlib.sha256(key.encode()).hexdigest()[:10], return_dtype=pl.Utf8
                    ),
                )
            ),
            continued_from=pl.when(pl.col("outcome") == "dispatched").then("continued_from"),
        )
        .drop("earlier_id")
        .sort("record_id")
    )
