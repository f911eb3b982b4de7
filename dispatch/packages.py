"""The work lists of one run: per-subdistrict dispatch packages, the review queue and the quarantine."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from dispatch.files import Sheet, write_csv, write_workbook
from jingzhun import rules
from jingzhun.masking import mask_id_number

SOURCE_NAMES = {"checkpoint": "道口登记", "hotline": "12345工单", "health": "健康云申报"}
# Left for staff to fill in; the feedback loop reads them back.
FEEDBACK_HEADERS = ("核查结果", "处置时间", "备注")


def dispatch_rows(decided: pl.DataFrame, standard: pl.DataFrame, houses: pl.DataFrame,
                  run_date: dt.date) -> pl.DataFrame:
    """The dispatched records with everything a committee needs, and nothing more, under Chinese headers."""
    rows = (
        decided.filter(pl.col("outcome") == "dispatched")
        .join(standard.select("record_id", "name", "id_number", "phone", "address", "event_at", "extras"),
              on="record_id")
        .join(houses.select("house_id", house_address="address"), on="house_id", how="left")
    )
    start = pl.coalesce(pl.col("event_at"), pl.lit(dt.datetime.combine(run_date, dt.time())))
    return rows.sort("subdistrict_code", "committee_code", "priority", "source", "source_file", "source_row") \
        .select(
            pl.col("subdistrict_code").alias("__subdistrict_code"),
            pl.col("subdistrict_name").alias("__subdistrict_name"),
            pl.col("dispatch_id").alias("派单编号"),
            pl.col("committee_name").alias("居委"),
            pl.col("grid_id").alias("网格"),
            pl.col("priority").alias("优先级"),
            pl.col("deadline_hours").alias("处置时限(小时)"),
            (start + pl.duration(hours=pl.col("deadline_hours"))).alias("截止时间"),
            pl.col("rule_ids").list.join("、").alias("触发规则"),
            pl.col("reasons").alias("筛查原因"),
            pl.col("source").replace_strict(SOURCE_NAMES).alias("来源"),
            pl.col("name").alias("姓名"),
            pl.col("id_number").map_elements(mask_id_number, return_dtype=pl.Utf8).alias("证件号码"),
            pl.col("phone").alias("手机号码"),
            pl.col("address").alias("登记地址"),
            pl.col("house_address").alias("匹配房屋"),
            pl.col("match_explanation").alias("匹配说明"),
            pl.col("event_at").alias("登记时间"),
            pl.col("source_file").alias("来源文件"),
            pl.col("source_row").alias("来源行号"),
            pl.col("extras").alias("其他信息"),
            *[pl.lit(None, pl.Utf8).alias(h) for h in FEEDBACK_HEADERS],
        )


def write_dispatch(run_dir: Path, rows: pl.DataFrame, run_date: dt.date) -> list[Path]:
    """One `.xlsx` and one `.csv` per subdistrict with work: `dispatch/<code>_<name>.*`."""
    written = []
    created = dt.datetime.combine(run_date, dt.time())
    for (code, name), group in rows.group_by("__subdistrict_code", "__subdistrict_name", maintain_order=True):
        work = group.drop("__subdistrict_code", "__subdistrict_name")
        summary = (work.group_by("居委").agg(pl.len().alias("派单数"),
                                            (pl.col("优先级") == 1).sum().alias("一级(最紧急)"))
                   .sort("居委"))
        stem = run_dir / "dispatch" / f"{code}_{name}"
        write_workbook(stem.with_suffix(".xlsx"), [Sheet("派单", work), Sheet("汇总", summary)], created)
        write_csv(stem.with_suffix(".csv"), work)
        written += [stem.with_suffix(".xlsx"), stem.with_suffix(".csv")]
    return written


def write_review(run_dir: Path, decided: pl.DataFrame, standard: pl.DataFrame, run_date: dt.date) -> list[Path]:
    rows = (
        decided.filter(pl.col("outcome") == "review")
        .join(standard.select("record_id", "name", "id_number", "phone", "address"), on="record_id")
        .sort("record_id")
        .select(
            pl.col("source").replace_strict(SOURCE_NAMES).alias("来源"),
            pl.col("source_file").alias("来源文件"), pl.col("source_row").alias("来源行号"),
            pl.col("reasons").alias("需判断的问题"),
            pl.col("name").alias("姓名"), pl.col("id_number").alias("证件号码"), pl.col("phone").alias("手机号码"),
            pl.col("address").alias("登记地址"),
            pl.col("committee_name").alias("系统建议居委"), pl.col("match_explanation").alias("匹配说明"),
            pl.lit(None, pl.Utf8).alias("分析员决定(居委编码)"), pl.lit(None, pl.Utf8).alias("备注"),
        )
    )
    stem = run_dir / "review" / "review"
    write_workbook(stem.with_suffix(".xlsx"), [Sheet("待人工判断", rows)], dt.datetime.combine(run_date, dt.time()))
    write_csv(stem.with_suffix(".csv"), rows)
    return [stem.with_suffix(".xlsx"), stem.with_suffix(".csv")]


def quarantine_rows(decided: pl.DataFrame, raw: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Every quarantined row with its position, reason code, reason and the values as they arrived."""
    raw_values = raw.select(
        "record_id",
        pl.struct([*fields, "extras"]).map_elements(
            lambda r: json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False),
            return_dtype=pl.Utf8,
        ).alias("raw_values"),
    )
    return (
        decided.filter(pl.col("outcome") == "quarantined")
        .join(raw_values, on="record_id")
        .sort("record_id")
        .select("source", "source_file", "source_row", reason_code="quarantine_code", reason="reasons",
                raw_values="raw_values")
    )


def write_quarantine(run_dir: Path, rows: pl.DataFrame, unreadable: pl.DataFrame) -> list[Path]:
    folder = run_dir / "quarantine"
    write_csv(folder / "rows.csv", rows)
    write_csv(folder / "files.csv", unreadable)
    return [folder / "rows.csv", folder / "files.csv"]


def unreadable_files(files: list, ) -> pl.DataFrame:
    reasons = rules.load("quarantine")["files"]
    return pl.DataFrame(
        [{"source": f.source, "source_file": f.name, "reason_code": f.error_code,
          "reason": reasons.get(f.error_code, f.error_code), "detail": f.error_detail}
         for f in files if f.error_code],
        schema={c: pl.Utf8 for c in ("source", "source_file", "reason_code", "reason", "detail")},
    )
