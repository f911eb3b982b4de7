"""The figures of one run, computed once from the stage tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ingest.inbox import InputFile
from ingest.mapping import IDENTIFYING_FIELDS
from screening.outcome import OUTCOMES


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def flag(column: str) -> pl.Expr:
    """A yes/no column of the standardized records as a Boolean, whatever type the day gave it: a field empty in
    every row of a day (a hotline export without names) has no type and is stored as text, so the warehouse
    may return null or 'true'/'false' text instead of booleans."""
    return (pl.col(column).cast(pl.Utf8) == "true").fill_null(False)


def headline(decided: pl.DataFrame, files: list[InputFile]) -> dict[str, Any]:
    outcomes = {o: decided.filter(pl.col("outcome") == o).height for o in OUTCOMES}
    usable = decided.filter(pl.col("outcome") != "quarantined")
    return {
        "input_files": len({(f.source, f.path or f.name) for f in files}),
        # Files and sheets not read (unreadable, not a table we know, delivered twice), and their rows where
        # they can be counted: inputs = outcomes + these.
        "unreadable_files": sum(f.error_code is not None for f in files),
        "unread_rows": sum(f.unread_rows or 0 for f in files),
        "input_rows": sum(f.data_rows for f in files),
        "result_rows": decided.height,
        "outcomes": outcomes,
        "person_match_rate": _rate(usable["person_id"].is_not_null().sum(), usable.height),
        "routing_rate": _rate(usable["committee_code"].is_not_null().sum(), usable.height),
        "house_match_rate": _rate(usable["house_id"].is_not_null().sum(), usable.height),
        "dispatch_subdistricts": decided.filter(pl.col("outcome") == "dispatched")["subdistrict_code"].n_unique(),
    }


def by_group(decided: pl.DataFrame, group: str) -> pl.DataFrame:
    """Rows, person and routing match rates and outcomes per value of `group`."""
    usable = pl.col("outcome") != "quarantined"
    return (
        decided.group_by(group)
        .agg(
            rows=pl.len(),
            usable=usable.sum(),
            person_matched=(usable & pl.col("person_id").is_not_null()).sum(),
            routed=(usable & pl.col("committee_code").is_not_null()).sum(),
            **{o: (pl.col("outcome") == o).sum() for o in OUTCOMES},
        )
        .with_columns(
            # A group with no usable row (all quarantined) has no rate, not a NaN.
            person_match_rate=pl.when(pl.col("usable") > 0).then(pl.col("person_matched") / pl.col("usable")),
            routing_rate=pl.when(pl.col("usable") > 0).then(pl.col("routed") / pl.col("usable")),
        )
        .sort(group, nulls_last=True)
    )


def field_quality(standard: pl.DataFrame, source_fields: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """Per source and identity field the source has: filled (raw not empty), valid (standardized value obtained)
    and repaired (traditional characters converted, ID or phone repaired)."""
    has_field = pl.col("source").replace_strict(
        {source: list(fields) for source, fields in source_fields.items()}, return_dtype=pl.List(pl.Utf8))
    frames = []
    for field in IDENTIFYING_FIELDS:
        repaired = [flag(c) if c.endswith("_traditional") else pl.col(c).is_not_null()
                    for c in (f"{field}_traditional", f"{field}_repairs") if c in standard.columns]
        frames.append(
            standard.filter(has_field.list.contains(field)).group_by("source").agg(
                field=pl.lit(field),
                rows=pl.len(),
                filled=pl.col(f"{field}_raw").is_not_null().sum(),
                valid=pl.col(field).is_not_null().sum(),
                repaired=pl.any_horizontal(repaired).sum() if repaired else pl.lit(0, pl.UInt32),
            )
        )
    return pl.concat(frames, how="vertical_relaxed").with_columns(
        completeness=pl.col("filled") / pl.col("rows"),
        validity=pl.when(pl.col("filled") > 0).then(pl.col("valid") / pl.col("filled")),
        repair_rate=pl.col("repaired") / pl.col("rows"),
    ).sort("source", "field")


def status_counts(standard: pl.DataFrame, field: str) -> pl.DataFrame:
    """How often each status of a filled field (e.g. ID number: valid, bad_check_digit, upgraded_15) occurs."""
    return (standard.filter(pl.col(f"{field}_raw").is_not_null())
            .group_by("source", f"{field}_status").agg(rows=pl.len())
            .sort("source", "rows", f"{field}_status", descending=[False, True, False]))


# Disposal time in hours, binned for the report's distribution: the goal is 12 hours, the old practice 48.
DISPOSAL_BINS = (6, 12, 24, 48, 72)


def _disposal(closed: pl.DataFrame) -> list[pl.Expr]:
    return [
        pl.len().alias("closed"),
        pl.col("hours").median().alias("median_hours"),
        # Linear interpolation between the closest ranks (numpy's default), so the figure can be checked by hand.
        pl.col("hours").quantile(0.9, "linear").alias("p90_hours"),
        pl.col("within_deadline").mean().alias("within_deadline"),
    ]


def disposal_by_subdistrict(closed: pl.DataFrame, still_open: pl.DataFrame, now: dt.datetime) -> pl.DataFrame:
    """Per subdistrict and for the district (全区): cases closed by feedback, median and p90 hours from dispatch
    to 处置时间, the share closed within the deadline, and cases still open (of them overdue at `now`)."""
    waiting = [pl.len().alias("open"), (pl.col("deadline_at") < now).sum().alias("overdue")]
    keys = ["subdistrict_code", "subdistrict_name"]
    per = (closed.group_by(keys).agg(_disposal(closed))
           .join(still_open.group_by(keys).agg(waiting), on=keys, how="full", coalesce=True))
    district = pl.concat([
        closed.select(pl.lit("").alias("subdistrict_code"), pl.lit("全区").alias("subdistrict_name"),
                      *_disposal(closed)),
        still_open.select(*waiting),
    ], how="horizontal")
    return (pl.concat([per.sort("subdistrict_code"), district], how="diagonal_relaxed")
            .with_columns(pl.col("closed", "open", "overdue").fill_null(0).cast(pl.Int64)))


def disposal_distribution(closed: pl.DataFrame) -> list[tuple[str, int]]:
    """How many closed cases took up to 6, 12, 24, 48, 72 hours and more."""
    edges = [0, *DISPOSAL_BINS]
    hours = pl.col("hours")
    bins = [(f"{lo}–{hi}小时", closed.filter((hours > lo) & (hours <= hi)).height)
            for lo, hi in zip(edges, edges[1:], strict=False)]
    # Disposal at the minute of dispatch (0 hours) belongs to the first bin.
    bins[0] = (bins[0][0], closed.filter(hours <= edges[1]).height)
    return [*bins, (f">{edges[-1]}小时", closed.filter(hours > edges[-1]).height)]


def case_figures(cases: pl.DataFrame, run_date: dt.date, closed: pl.DataFrame) -> dict[str, Any]:
    """The dispatch headline: cases sent today (new and continued) and disposal over every closed case."""
    return {
        "cases": cases.height,
        "new_cases": cases.filter(pl.col("first_dispatched_on") == run_date).height,
        "continued_cases": cases.filter(pl.col("first_dispatched_on") < run_date).height,
        "closed_cases": closed.height,
        "disposal_median_hours": closed["hours"].median(),
        "disposal_p90_hours": closed["hours"].quantile(0.9, "linear"),
        "within_deadline": closed["within_deadline"].mean() if closed.height else None,
    }
