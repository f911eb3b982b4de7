"""The figures of one run, computed once from the stage tables."""

from __future__ import annotations

from typing import Any

import polars as pl

from ingest.inbox import InputFile
from screening.outcome import OUTCOMES

IDENTITY_FIELDS = ("name", "id_number", "phone", "address")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def headline(decided: pl.DataFrame, files: list[InputFile]) -> dict[str, Any]:
    outcomes = {o: decided.filter(pl.col("outcome") == o).height for o in OUTCOMES}
    usable = decided.filter(pl.col("outcome") != "quarantined")
    return {
        "input_files": len(files),
        "unreadable_files": sum(f.error_code is not None for f in files),
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
            person_match_rate=pl.col("person_matched") / pl.col("usable"),
            routing_rate=pl.col("routed") / pl.col("usable"),
        )
        .sort(group, nulls_last=True)
    )


def field_quality(standard: pl.DataFrame, source_fields: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """Per source and identity field the source has: filled (raw not empty), valid (standardized value obtained)
    and repaired (traditional characters converted, ID or phone repaired)."""
    has_field = pl.col("source").replace_strict(
        {source: list(fields) for source, fields in source_fields.items()}, return_dtype=pl.List(pl.Utf8))
    frames = []
    for field in IDENTITY_FIELDS:
        repaired = [pl.col(c).is_not_null() & (pl.col(c) != False)  # noqa: E712 - booleans and repair tags
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
            .sort("source", "rows", descending=[False, True]))
