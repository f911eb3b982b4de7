"""The figures of the report's data-quality section, for auditors: per source and field how complete and valid the
data arrived, what cleansing repaired and how often, each finding as a Chinese sentence with a few masked examples.

Computed from the standardized records (raw value next to standard value, status and repair tags). It must never
put an unmasked personal value into its output: every example goes through `jingzhun.core.masking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.cleansing.address import ADDRESS_FIELDS, CHINESE_NUMERAL_CHARS, has_chinese_numerals
from jingzhun.core.masking import shown
from jingzhun.dispatch.files import write_csv
from jingzhun.ingest.mapping import SOURCE_NAMES
from jingzhun.reporting.figures import FIELD_NAMES, field_quality, flag, status_counts

MAX_EXAMPLES = 3
# The standardized records' columns no figure or finding of the report reads (what matching compares, the parsed
# address below the road, the rows' own text): not read from the warehouse for it, on a day of a million records.
NOT_READ = (
    "source_line",
    "extras",
    "name_pinyin",
    "name_key",
    "id_number_candidate",
    *(f"addr_{f}" for f in ADDRESS_FIELDS if f not in ("town", "community", "road")),
)


@dataclass(frozen=True)
class Finding:
    """One thing found in a field: which rows (a condition on the standardized records) and how to say it; `key`
    names its CSV of rows, `findings/<source>_<key>.csv`."""

    key: str
    field: str
    sentence: str
    rows: pl.Expr


def _tag(column: str, tag: str) -> pl.Expr:
    return pl.col(column).fill_null("").str.split("|").list.contains(tag)


def _status(field: str, status: str) -> pl.Expr:
    return pl.col(f"{field}_status") == status


# The order is the order of the report; each rate is the share of the source's rows where the field is filled.
FINDINGS = (
    Finding(
        "id_bad_check_digit",
        "id_number",
        "证件号码校验位错误（保留供模糊匹配）",
        _status("id_number", "bad_check_digit"),
    ),
    Finding("id_bad_length", "id_number", "证件号码位数不对（保留数字供模糊匹配）", _status("id_number", "bad_length")),
    Finding("id_bad_date", "id_number", "证件号码出生日期无效", _status("id_number", "bad_date")),
    Finding("id_malformed", "id_number", "证件号码无法识别", _status("id_number", "malformed")),
    Finding("id_upgraded_15", "id_number", "15位旧证件号已升级为18位", _status("id_number", "upgraded_15")),
    Finding("id_separators", "id_number", "证件号码去除空格/分隔符", _tag("id_number_repairs", "separators")),
    Finding("id_fullwidth", "id_number", "证件号码全角字符已转换", _tag("id_number_repairs", "fullwidth")),
    Finding(
        "id_x_variant",
        "id_number",
        "证件号码末位小写x或形似字符已改为X",
        _tag("id_number_repairs", "lowercase_x") | _tag("id_number_repairs", "x_variant"),
    ),
    Finding("phone_country_code", "phone", "手机号去除+86/0086国家代码", _tag("phone_repairs", "country_code")),
    Finding("phone_separators", "phone", "手机号去除空格/分隔符", _tag("phone_repairs", "separators")),
    Finding("phone_fullwidth", "phone", "手机号全角数字已转换", _tag("phone_repairs", "fullwidth")),
    Finding("phone_excel_float", "phone", "手机号Excel数值格式（末尾.0）已修正", _tag("phone_repairs", "excel_float")),
    Finding("phone_invalid", "phone", "手机号无法识别（非手机号或上海固话）", _status("phone", "invalid")),
    Finding("name_traditional", "name", "姓名繁体字已转换", flag("name_traditional")),
    Finding("address_traditional", "address", "地址繁体字已转换", flag("address_traditional")),
    Finding(
        "address_fullwidth",
        "address",
        "地址中的全角数字已转换",
        pl.col("address_raw").str.contains("[０-９]").fill_null(False),
    ),
    Finding("address_cn_numerals", "address", "地址中的中文数字已转换", pl.col("address_cn_numerals")),
    Finding(
        "address_unparsed",
        "address",
        "地址无法解析出道路、小区或街镇",
        pl.col("address_raw").is_not_null() & pl.coalesce("addr_road", "addr_community", "addr_town").is_null(),
    ),
)
# The columns the findings read: where a row is, and each finding's field, its raw value and what its condition names
# (`address_cn_numerals` is added from `address` and `address_raw`).
FINDINGS_READ = frozenset(
    {"source", "source_file", "source_row"}
    | {c for f in FINDINGS for c in (f.field, f"{f.field}_raw", *f.rows.meta.root_names())}
)

# The columns of a finding's CSV, in Chinese for the auditor who opens it: where the row is and the field's
# value as it arrived and as standardized, both masked as the report masks them.
FINDING_COLUMNS = {
    "source_name": "来源",
    "source_file": "来源文件",
    "source_row": "行号",
    "field_name": "字段",
    "finding": "发现",
    "raw": "原始值（已脱敏）",
    "standard": "标准值（已脱敏）",
}


def quality_section(standard: pl.DataFrame, source_fields: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """`fields`: completeness/validity/repair rate per source and field; `findings`: per source, the findings with
    their rate, masked examples, and their rows (`table`, masked) for the CSV at `csv`; `id_status`: ID number
    statuses per source."""
    # Only the columns the findings read: each source's rows were taken with all seventy of the day's.
    records = _with_numerals(standard.select(c for c in standard.columns if c in FINDINGS_READ))
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
            table = _masked_rows(hits, source, finding)
            examples = table[FINDING_COLUMNS["raw"]].unique(maintain_order=True).head(MAX_EXAMPLES).to_list()
            items.append(
                {
                    "field": finding.field,
                    "sentence": f"{finding.sentence}：{hits.height / filled.height:.1%}",
                    "rows": hits.height,
                    "csv": f"findings/{source}_{finding.key}.csv",
                    "table": table,
                    "examples": examples,
                }
            )
        findings.append(
            {"source": source, "source_name": SOURCE_NAMES.get(source, source), "rows": rows.height, "items": items}
        )
    return {
        "fields": field_quality(standard, source_fields),
        "findings": findings,
        "id_status": status_counts(standard, "id_number"),
    }


def _masked_rows(hits: pl.DataFrame, source: str, finding: Finding) -> pl.DataFrame:
    return (
        hits.sort("source_file", "source_row")
        .select(
            pl.lit(SOURCE_NAMES.get(source, source)).alias("source_name"),
            "source_file",
            "source_row",
            pl.lit(FIELD_NAMES[finding.field]).alias("field_name"),
            pl.lit(finding.sentence).alias("finding"),
            shown("report", finding.field, f"{finding.field}_raw").alias("raw"),
            shown("report", finding.field, pl.col(finding.field).cast(pl.Utf8)).alias("standard"),
        )
        .rename(FINDING_COLUMNS)
    )


def write_findings(run_dir: Path, quality: dict[str, Any]) -> list[Path]:
    """Each finding's rows as the CSV its line in the report links to."""
    written = []
    for source in quality["findings"]:
        for item in source["items"]:
            write_csv(run_dir / item["csv"], item["table"])
            written.append(run_dir / item["csv"])
    return written


def _with_numerals(standard: pl.DataFrame) -> pl.DataFrame:
    # Chinese numerals are found once per distinct raw address, as cleansing parses them, and only in those whose
    # normalized form (`address`, what the parser read) writes a numeral at all: normalizing every distinct raw
    # address again (OpenCC) took 11 s of a million-row day's report, for about one in ten that could hold one.
    distinct = (
        standard.filter(pl.col("address").str.contains(f"[{CHINESE_NUMERAL_CHARS}]"))
        .get_column("address_raw")
        .drop_nulls()
        .unique()
    )
    flags = pl.DataFrame(
        {"address_raw": distinct, "address_cn_numerals": [has_chinese_numerals(v) for v in distinct]},
        schema={"address_raw": pl.Utf8, "address_cn_numerals": pl.Boolean},
    )
    # In the records' order: the report's examples are the first ones, the same on every rerun.
    return standard.join(flags, on="address_raw", how="left", maintain_order="left").with_columns(
        pl.col("address_cn_numerals").fill_null(False)
    )


__all__ = ["FINDINGS", "quality_section", "write_findings"]
