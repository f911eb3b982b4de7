"""The figures of one run, computed once from the stage tables, and what each of them means (`DEFINITIONS`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from jingzhun.ingest.inbox import InputFile
from jingzhun.ingest.mapping import IDENTIFYING_FIELDS
from jingzhun.screening.outcome import OUTCOMES

# What the report calls the identity fields.
FIELD_NAMES = {"name": "姓名", "id_number": "证件号码", "phone": "手机号码", "address": "地址"}

# Every figure the report shows, by the column or key that holds it: its name and a one-line definition, the
# numerator and denominator of every rate. The report links each figure to its line; a figure without a line
# here fails the report's test.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "input_files": ("输入文件", "收件箱三个来源文件夹中的文件数，含无法读取的文件。"),
    "input_rows": ("输入数据行", "所有可读文件的数据行数之和（不含表头）。"),
    "result_rows": ("结果行", "match_results.parquet 的行数：每个输入数据行恰有一行，应等于输入数据行。"),
    "rows": ("行数", "该组（来源、匹配方式、街镇、原因、状态）的输入数据行数。"),
    "usable": ("可用行", "未隔离的数据行数。"),
    "person_match_rate": ("人员匹配率", "匹配到人口库中一人的行 ÷ 未隔离的行。"),
    "routing_rate": ("居委定位率", "定位到居委的行 ÷ 未隔离的行。"),
    "quarantine_share": ("隔离占比", "隔离的行 ÷ 输入数据行。"),
    "review_share": ("待人工判断占比", "结果为待人工判断的行 ÷ 输入数据行。"),
    "dispatched": ("派单", "结果为派单的数据行数（一个案件可含同一人的多行）。"),
    "no_action": ("无需处置", "已匹配或定位、但未触发筛查规则的数据行数。"),
    "review": ("待人工判断", "匹配无法自动决定、需分析人员判断的数据行数。"),
    "quarantined": ("隔离", "无法使用、带原因留在 quarantine/ 的数据行数。"),
    "dispatch_subdistricts": ("涉及街镇", "当天有派单的街镇数。"),
    "completeness": ("完整率", "原始值不为空的行 ÷ 该来源的行。"),
    "validity": ("有效率", "能转换为标准格式的值（证件号码还须通过 GB 11643 校验位）÷ 原始值不为空的行。"),
    "repair_rate": ("修复率", "经繁简转换、证件号或手机号修正的行 ÷ 该来源的行。"),
    "finding_share": ("问题占比", "出现该情况的行 ÷ 该来源中此字段原始值不为空的行。"),
    "unexpected_count": ("不符合行数", "不符合该校验规则的行数（Great Expectations）。"),
    "unexpected_percent": ("不符合占比", "不符合该校验规则的行 ÷ 该字段不为空的行，以百分数表示。"),
    "source_row": ("行号", "记录在其文件中的数据行序号，从 1 开始，不含表头。"),
    "feedback_row": ("回流行号", "回流文件中的数据行序号，从 1 开始，不含表头。"),
    "cases": ("今日派单（案件）", "当天派出的案件数：一个案件是同一人当天被派单的全部记录。"),
    "new_cases": ("新派", "当天首次派发的案件数。"),
    "continued_cases": ("延续", "此前已派发、尚未回流办结、当天沿用原编号再次派发的案件数。"),
    "closed_cases": ("回流已办结（累计）", "截至当天，回流中有核查结果和可读处置时间的案件数。"),
    "closed": ("已办结", "截至当天回流办结的案件数。"),
    "open": ("未办结", "已派发、尚无可用回流的案件数。"),
    "overdue": ("其中已超时", "未办结案件中，截止时间早于当天派单时间的案件数。"),
    "median_hours": ("处置时间中位数", "已办结案件（回流的处置时间 − 首次派发时间，小时）的中位数。"),
    "p90_hours": ("处置时间 P90", "同上处置时间的第 90 百分位数（线性插值）：九成案件不超过此小时数。"),
    "within_deadline": ("时限内办结占比", "在处置时限内办结的案件 ÷ 已办结案件。"),
    "day_closed": ("当日办结", "当天读到的回流中首次办结的案件数。"),
    "day_median_hours": ("当日处置中位数", "当日办结案件的处置时间（小时）的中位数。"),
    "day_p90_hours": ("当日处置 P90", "当日办结案件的处置时间（小时）的第 90 百分位数（线性插值）。"),
    "disposal_distribution": ("处置时间分布", "已办结案件按处置时间（小时）分段的案件数。"),
    "problem_rows": ("问题行数", "参照表中有该问题的行数（重复编号只计多出的行）。"),
    "table_rows": ("总行数", "该参照表的行数。"),
}


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
            quarantine_share=pl.col("quarantined") / pl.col("rows"),
            review_share=pl.col("review") / pl.col("rows"),
        )
        .sort(group, nulls_last=True)
    )


# Statuses of a field that make its value valid: an ID number that fails its check digit keeps its value for
# near-miss matching, but it is not a valid ID.
VALID_STATUSES = ("valid", "upgraded_15")


def field_quality(standard: pl.DataFrame, source_fields: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """Per source and identity field the source has: filled (raw not empty), valid (standardized value obtained
    and, for a field with a status, a valid status) and repaired (traditional characters converted, ID or phone
    repaired)."""
    has_field = pl.col("source").replace_strict(
        {source: list(fields) for source, fields in source_fields.items()}, return_dtype=pl.List(pl.Utf8)
    )
    frames = []
    for field in IDENTIFYING_FIELDS:
        repaired = [
            flag(c) if c.endswith("_traditional") else pl.col(c).is_not_null()
            for c in (f"{field}_traditional", f"{field}_repairs")
            if c in standard.columns
        ]
        frames.append(
            standard.filter(has_field.list.contains(field))
            .group_by("source")
            .agg(
                field=pl.lit(field),
                rows=pl.len(),
                filled=pl.col(f"{field}_raw").is_not_null().sum(),
                valid=(
                    pl.col(field).is_not_null()
                    & (
                        pl.col(f"{field}_status").is_in(VALID_STATUSES)
                        if f"{field}_status" in standard.columns
                        else True
                    )
                ).sum(),
                repaired=pl.any_horizontal(repaired).sum() if repaired else pl.lit(0, pl.UInt32),
            )
        )
    return (
        pl.concat(frames, how="vertical_relaxed")
        .with_columns(
            completeness=pl.col("filled") / pl.col("rows"),
            validity=pl.when(pl.col("filled") > 0).then(pl.col("valid") / pl.col("filled")),
            repair_rate=pl.col("repaired") / pl.col("rows"),
        )
        .sort("source", "field")
    )


def status_counts(standard: pl.DataFrame, field: str) -> pl.DataFrame:
    """How often each status of a filled field (e.g. ID number: valid, bad_check_digit, upgraded_15) occurs."""
    return (
        standard.filter(pl.col(f"{field}_raw").is_not_null())
        .group_by("source", f"{field}_status")
        .agg(rows=pl.len())
        .sort("source", "rows", f"{field}_status", descending=[False, True, False])
    )


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
    per = (
        closed.group_by(keys)
        .agg(_disposal(closed))
        .join(still_open.group_by(keys).agg(waiting), on=keys, how="full", coalesce=True)
    )
    district = pl.concat(
        [
            closed.select(
                pl.lit("").alias("subdistrict_code"), pl.lit("全区").alias("subdistrict_name"), *_disposal(closed)
            ),
            still_open.select(*waiting),
        ],
        how="horizontal",
    )
    return pl.concat([per.sort("subdistrict_code"), district], how="diagonal_relaxed").with_columns(
        pl.col("closed", "open", "overdue").fill_null(0).cast(pl.Int64)
    )


def disposal_distribution(closed: pl.DataFrame) -> list[tuple[str, int]]:
    """How many closed cases took up to 6, 12, 24, 48, 72 hours and more."""
    edges = [0, *DISPOSAL_BINS]
    hours = pl.col("hours")
    bins = [
        (f"{lo}–{hi}小时", closed.filter((hours > lo) & (hours <= hi)).height)
        for lo, hi in zip(edges, edges[1:], strict=False)
    ]
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
