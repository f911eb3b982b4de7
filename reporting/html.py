"""`report.html`: one self-contained file (inline CSS, no script, no external request) for auditors.

Personal data as `rules/privacy.yaml` shows it to the report: nobody identifiable; every table cell is scrubbed of
ID numbers and phones (`jingzhun.masking.scrub_text`) whatever the table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from ingest.mapping import SOURCE_NAMES
from jingzhun.masking import mask_raw_values, scrub_text
from matching.reference import CHECKS_SCHEMA
from reporting import charts

OUTCOME_LABELS = {"dispatched": "派单", "no_action": "无需处置", "review": "待人工判断", "quarantined": "隔离"}
FIELD_NAMES = {"name": "姓名", "id_number": "证件号码", "phone": "手机号码", "address": "地址"}
RATE_COLUMNS = ("person_match_rate", "routing_rate", "completeness", "validity", "repair_rate", "within_deadline")
HOURS_COLUMNS = ("median_hours", "p90_hours", "disposal_median_hours")
DISPOSAL_GOAL_HOURS = 12  # the center's target for dispatch → disposal (it was 48)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _bar(part: int, whole: int) -> Markup:
    share = part / whole if whole else 0.0
    return Markup('<span class="bar"><span style="width:{:.1f}%"></span></span> {}').format(share * 100, _pct(share))


def _table(frame: pl.DataFrame, headers: dict[str, str]) -> Markup:
    if frame.is_empty():
        return Markup('<p class="note">（无）</p>')
    columns = [c for c in headers if c in frame.columns]
    head = "".join(f"<th>{escape(headers[c])}</th>" for c in columns)
    body = []
    for row in frame.select(columns).iter_rows(named=True):
        cells = []
        for c in columns:
            value = row[c]
            if c in RATE_COLUMNS:
                cells.append(f'<td class="num">{_pct(value)}</td>')
            elif c in HOURS_COLUMNS:
                cells.append(f'<td class="num">{_hours(value)}</td>')
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f'<td class="num">{value:,.2f}</td>' if isinstance(value, float)
                             else f'<td class="num">{value:,}</td>')
            else:
                cells.append(f"<td>{escape('' if value is None else scrub_text(str(value)))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Markup(f"<table><tr>{head}</tr>{''.join(body)}</table>")


def _named(frame: pl.DataFrame) -> pl.DataFrame:
    """Chinese names for the codes people read."""
    if "source" in frame.columns:
        frame = frame.with_columns(source_name=pl.col("source").replace_strict(SOURCE_NAMES, default=pl.col("source")))
    if "field" in frame.columns:
        frame = frame.with_columns(field_name=pl.col("field").replace_strict(FIELD_NAMES, default=pl.col("field")))
    return frame


def render_report(path: Path, *, run_date: dt.date, inputs_fingerprint: str, code_version: str,
                  head: dict[str, Any],
                  by_source: pl.DataFrame, by_method: pl.DataFrame, by_subdistrict: pl.DataFrame,
                  quality: dict[str, Any], validation: pl.DataFrame,
                  quarantine: pl.DataFrame, unreadable: pl.DataFrame, trend: pl.DataFrame,
                  disposal: pl.DataFrame, disposal_distribution: list[tuple[str, int]],
                  feedback_issues: pl.DataFrame, returned_lines: int) -> None:
    environment = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                              autoescape=select_autoescape(["html", "j2"]))
    examples = mask_raw_values(quarantine.filter(pl.col("reason_code") != "empty_row").head(10), "report")
    html = environment.get_template("report.html.j2").render(
        run_date=run_date.isoformat(),
        # No clock time: the run date and the inputs' checksum say which report this is, and a rerun of the same
        # inputs writes the same bytes.
        inputs_fingerprint=inputs_fingerprint[:12],
        code_version=code_version,
        head=head,
        outcome_labels=OUTCOME_LABELS,
        pct=_pct, bar=_bar, table=_table,
        by_source=_named(by_source),
        by_method=by_method.with_columns(pl.col("match_method").fill_null("未匹配")),
        by_subdistrict=by_subdistrict.with_columns(pl.col("subdistrict_name").fill_null("未定位")),
        quality={**quality, "fields": _named(quality["fields"]), "id_status": _named(quality["id_status"])},
        validation=_named(validation).with_columns(
            result=pl.when(pl.col("success")).then(pl.lit("通过")).otherwise(pl.lit("未通过"))),
        quarantine_reasons=quarantine.group_by("reason").agg(rows=pl.len())
        .sort("rows", "reason", descending=[True, False]),
        unreadable=unreadable,
        quarantine_examples=_named(examples),
        trend=trend,
        reference_checks=pl.DataFrame(head.get("reference_checks", []), schema=CHECKS_SCHEMA),
        disposal=disposal, feedback_issues=feedback_issues, returned_lines=returned_lines, hours=_hours,
        charts=_charts(head, _named(by_source), by_method, by_subdistrict, trend, disposal, disposal_distribution),
    )
    path.write_text(html, encoding="utf-8")


def _charts(head: dict[str, Any], by_source: pl.DataFrame, by_method: pl.DataFrame, by_subdistrict: pl.DataFrame,
            trend: pl.DataFrame, disposal: pl.DataFrame, distribution: list[tuple[str, int]]) -> dict[str, Markup]:
    """Every chart of the report, drawn from the same frames as its tables."""
    def pairs(frame: pl.DataFrame, label: str, value: str, missing: str = "未定位") -> list[tuple[str, Any]]:
        return [(missing if r[label] is None else str(r[label]), r[value]) for r in frame.iter_rows(named=True)]

    sources = [(r["source_name"], {o: r[o] for o in OUTCOME_LABELS}) for r in by_source.iter_rows(named=True)]
    subdistricts = disposal.filter(pl.col("closed") > 0)
    dates = [d.strftime("%m-%d") for d in trend["run_date"]]
    count = str
    return {
        "outcomes": charts.stacked([("全部", head["outcomes"]), *sources], charts.OUTCOME_COLORS, OUTCOME_LABELS,
                                   title="处理结果：全部与按来源"),
        "person_by_source": charts.hbar(pairs(by_source, "source_name", "person_match_rate"), scale=1,
                                        title="人员匹配率（按来源）"),
        "routing_by_source": charts.hbar(pairs(by_source, "source_name", "routing_rate"), scale=1,
                                         title="居委定位率（按来源）", color=charts.GREEN),
        "by_method": charts.hbar(pairs(by_method, "match_method", "rows", "未匹配"), fmt=count,
                                 title="行数（按匹配方式）"),
        "by_subdistrict": charts.hbar(pairs(by_subdistrict, "subdistrict_name", "person_match_rate"), scale=1,
                                      title="人员匹配率（按街镇）"),
        "dispatched_by_subdistrict": charts.hbar(
            pairs(by_subdistrict.filter(pl.col("dispatched") > 0), "subdistrict_name", "dispatched"), fmt=count,
            title="派单记录数（按街镇）", color=charts.ORANGE),
        "disposal_median": charts.hbar(pairs(subdistricts, "subdistrict_name", "median_hours"), fmt=_hours,
                                       title="处置时间中位数（小时，按街镇）"),
        "disposal_distribution": charts.columns(
            distribution, title="处置时间分布",
            colors=[charts.GREEN, charts.GREEN, charts.BLUE, charts.ORANGE, charts.RED, charts.RED]),
        "trend_rates": charts.line(list(zip(dates, trend["person_match_rate"], strict=True)), scale=1,
                                   title="人员匹配率趋势"),
        "trend_disposal": charts.line(
            list(zip(dates, trend["disposal_median_hours"], strict=True)) if "disposal_median_hours" in trend.columns
            else [], fmt=_hours, title="处置时间中位数趋势（小时）", color=charts.ORANGE,
            target=(DISPOSAL_GOAL_HOURS, f"目标 {DISPOSAL_GOAL_HOURS} 小时")),
    }
