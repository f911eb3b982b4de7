"""The figures of the report's data-quality section, for auditors: per source and field how complete and valid the
data arrived, what cleansing repaired and how often, each finding as a Chinese sentence with a few masked examples.

Computed from the standardized records (raw value next to standard value, status and repair tags). It must never
put an unmasked personal value into its output: every example goes through `jingzhun.masking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from cleansing.address import has_chinese_numerals
from ingest.mapping import SOURCE_NAMES
from jingzhun.masking import show
from reporting.figures import field_quality, flag, status_counts

MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Finding:
    """One thing found in a field: which rows (a condition on the standardized records) and how to say it."""

    field: str
    sentence: str
    rows: pl.Expr


def _tag(column: str, tag: str) -> pl.Expr:
    return pl.col(column).fill_null("").str.split("|").list.contains(tag)


def _status(field: str, status: str) -> pl.Expr:
    return pl.col(f"{field}_status") == status


# The order is the order of the report; each rate is the share of the source's rows where the field is filled.
FINDINGS = (
    Finding("id_number", "证件号码校验位错误（保留供模糊匹配）", _status("id_number", "bad_check_digit")),
    Finding("id_number", "证件号码位数不对（保留数字供模糊匹配）", _status("id_number", "bad_length")),
    Finding("id_number", "证件号码出生日期无效", _status("id_number", "bad_date")),
    Finding("id_number", "证件号码无法识别", _status("id_number", "malformed")),
    Finding("id_number", "15位旧证件号已升级为18位", _status("id_number", "upgraded_15")),
    Finding("id_number", "证件号码去除空格/分隔符", _tag("id_number_repairs", "separators")),
    Finding("id_number", "证件号码全角字符已转换", _tag("id_number_repairs", "fullwidth")),
    Finding("id_number", "证件号码末位小写x或形似字符已改为X",
            _tag("id_number_repairs", "lowercase_x") | _tag("id_number_repairs", "x_variant")),
    Finding("phone", "手机号去除+86/0086国家代码", _tag("phone_repairs", "country_code")),
    Finding("phone", "手机号去除空格/分隔符", _tag("phone_repairs", "separators")),
    Finding("phone", "手机号全角数字已转换", _tag("phone_repairs", "fullwidth")),
    Finding("phone", "手机号Excel数值格式（末尾.0）已修正", _tag("phone_repairs", "excel_float")),
    Finding("phone", "手机号无法识别（非手机号或上海固话）", _status("phone", "invalid")),
    Finding("name", "姓名繁体字已转换", flag("name_traditional")),
    Finding("address", "地址繁体字已转换", flag("address_traditional")),
    Finding("address", "地址中的全角数字已转换", pl.col("address_raw").str.contains("[０-９]").fill_null(False)),
    Finding("address", "地址中的中文数字已转换", pl.col("address_cn_numerals")),
    Finding("address", "地址无法解析出道路、小区或街镇",
            pl.col("address_raw").is_not_null() & pl.coalesce("addr_road", "addr_community", "addr_town").is_null()),
)


def quality_section(standard: pl.DataFrame, source_fields: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """`fields`: completeness/validity/repair rate per source and field; `findings`: per source, the findings with
    their rate and masked examples; `id_status`: ID number statuses per source."""
    records = _with_numerals(standard)
    findings = []
    for source, fields in source_fields.items():
        rows = records.filter(pl.col("source") == source)
        items = []
        for finding in FINDINGS:
            if finding.field not in fields or f"{finding.field}_raw" not in rows.columns or rows.is_empty():
                continue
            filled = rows.filter(pl.col(f"{finding.field}_raw").is_not_null())
            hits = filled.filter(finding.rows)
            if hits.is_empty():
                continue
            share = hits.height / filled.height
            examples = [show("report", finding.field, v)
                        for v in hits[f"{finding.field}_raw"].unique(maintain_order=True).head(MAX_EXAMPLES)]
            items.append({"field": finding.field, "sentence": f"{finding.sentence}：{share * 100:.1f}%",
                          "rows": hits.height, "examples": examples})
        findings.append({"source": source, "source_name": SOURCE_NAMES.get(source, source), "rows": rows.height,
                         "items": items})
    return {"fields": field_quality(standard, source_fields), "findings": findings,
            "id_status": status_counts(standard, "id_number")}


def _with_numerals(standard: pl.DataFrame) -> pl.DataFrame:
    # Chinese numerals are found once per distinct raw address, as cleansing parses them.
    distinct = standard.get_column("address_raw").drop_nulls().unique()
    flags = pl.DataFrame({"address_raw": distinct,
                          "address_cn_numerals": [has_chinese_numerals(v) for v in distinct]},
                         schema={"address_raw": pl.Utf8, "address_cn_numerals": pl.Boolean})
    # In the records' order: the report's examples are the first ones, the same on every rerun.
    return standard.join(flags, on="address_raw", how="left", maintain_order="left").with_columns(
        pl.col("address_cn_numerals").fill_null(False))


__all__ = ["FINDINGS", "quality_section"]
