"""`report.html`: one self-contained file (inline CSS, no script, no external request) for auditors.

Personal data as `jingzhun/rules/privacy.yaml` shows it to the report: nobody identifiable; every table cell is scrubbed
of ID numbers and phones (`jingzhun.core.masking.scrub_text`) whatever the table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from jingzhun.core import rules
from jingzhun.core.masking import mask_raw_values, scrub_text
from jingzhun.ingest.mapping import SOURCE_NAMES
from jingzhun.matching.reference import CHECKS_SCHEMA
from jingzhun.reporting import charts
from jingzhun.reporting.figures import DEFINITIONS, FIELD_NAMES
from jingzhun.reporting.history import History

OUTCOME_LABELS = {"dispatched": "派单", "no_action": "无需处置", "review": "待人工判断", "quarantined": "隔离"}
RATE_COLUMNS = (
    "person_match_rate",
    "routing_rate",
    "completeness",
    "validity",
    "repair_rate",
    "within_deadline",
    "quarantine_share",
    "review_share",
)
HOURS_COLUMNS = ("median_hours", "p90_hours", "day_median_hours", "day_p90_hours")
HISTORY_TABLE_DAYS = 7  # the per-field and per-subdistrict history tables show the latest runs only
DISPOSAL_GOAL_HOURS = 12  # the center's target for dispatch → disposal (it was 48)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _bar(part: int, whole: int) -> Markup:
    share = part / whole if whole else 0.0
    return Markup('<span class="bar"><span style="width:{:.1f}%"></span></span> {}').format(share * 100, _pct(share))


def _defined(key: str, label: str | None = None) -> Markup:
    """A figure's name, linked to its definition at the end of the report."""
    return Markup('<a class="def" href="#def-{}">{}</a>').format(key, DEFINITIONS[key][0] if label is None else label)


def _table(frame: pl.DataFrame, headers: dict[str, str]) -> Markup:
    if frame.is_empty():
        return Markup('<p class="note">（无）</p>')
    columns = [c for c in headers if c in frame.columns]
    head = "".join(f"<th>{_defined(c, headers[c]) if c in DEFINITIONS else escape(headers[c])}</th>" for c in columns)
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
                cells.append(
                    f'<td class="num">{value:,.2f}</td>'
                    if isinstance(value, float)
                    else f'<td class="num">{value:,}</td>'
                )
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


def render_report(
    path: Path,
    *,
    run_date: dt.date,
    inputs_fingerprint: str,
    code_version: str,
    head: dict[str, Any],
    by_source: pl.DataFrame,
    by_method: pl.DataFrame,
    by_subdistrict: pl.DataFrame,
    quality: dict[str, Any],
    validation: pl.DataFrame,
    quarantine: pl.DataFrame,
    unreadable: pl.DataFrame,
    disposal: pl.DataFrame,
    disposal_distribution: list[tuple[str, int]],
    feedback_issues: pl.DataFrame,
    returned_lines: int,
    history: History,
) -> None:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    examples = mask_raw_values(quarantine.filter(pl.col("reason_code") != "empty_row").head(10), "report")
    html = environment.get_template("report.html.j2").render(
        run_date=run_date.isoformat(),
        # No clock time: the run date and the inputs' checksum say which report this is, and a rerun of the same
        # inputs writes the same bytes.
        inputs_fingerprint=inputs_fingerprint[:12],
        code_version=code_version,
        head=head,
        outcome_labels=OUTCOME_LABELS,
        pct=_pct,
        bar=_bar,
        table=_table,
        defined=_defined,
        definitions=DEFINITIONS,
        by_source=_named(by_source),
        by_method=by_method.with_columns(pl.col("match_method").fill_null("未匹配")),
        by_subdistrict=by_subdistrict.with_columns(pl.col("subdistrict_name").fill_null("未定位")),
        quality={**quality, "fields": _named(quality["fields"]), "id_status": _named(quality["id_status"])},
        validation=_named(validation).with_columns(
            result=pl.when(pl.col("success")).then(pl.lit("通过")).otherwise(pl.lit("未通过"))
        ),
        quarantine_reasons=quarantine.group_by("reason")
        .agg(rows=pl.len())
        .sort("rows", "reason", descending=[True, False]),
        unreadable=unreadable,
        quarantine_examples=_named(examples),
        reference_checks=pl.DataFrame(head.get("reference_checks", []), schema=CHECKS_SCHEMA).rename(
            {"rows": "problem_rows"}
        ),
        overall_history=_overall_history(history),
        disposal=disposal,
        feedback_issues=feedback_issues,
        returned_lines=returned_lines,
        hours=_hours,
        history=history,
        history_days=rules.load("report")["history"]["days"],
        history_table_days=HISTORY_TABLE_DAYS,
        source_trends=SOURCE_TRENDS,
        field_history=_field_history(history),
        disposal_history=_disposal_history(history),
        charts={
            **_charts(head, _named(by_source), by_method, by_subdistrict, disposal, disposal_distribution),
            **_history_charts(history),
        },
    )
    path.write_text(html, encoding="utf-8")


def _charts(
    head: dict[str, Any],
    by_source: pl.DataFrame,
    by_method: pl.DataFrame,
    by_subdistrict: pl.DataFrame,
    disposal: pl.DataFrame,
    distribution: list[tuple[str, int]],
) -> dict[str, Markup]:
    """Every chart of the report, drawn from the same frames as its tables."""

    def pairs(frame: pl.DataFrame, label: str, value: str, missing: str = "未定位") -> list[tuple[str, Any]]:
        return [(missing if r[label] is None else str(r[label]), r[value]) for r in frame.iter_rows(named=True)]

    sources = [(r["source_name"], {o: r[o] for o in OUTCOME_LABELS}) for r in by_source.iter_rows(named=True)]
    subdistricts = disposal.filter(pl.col("closed") > 0)
    count = str
    return {
        "outcomes": charts.stacked(
            [("全部", head["outcomes"]), *sources],
            charts.OUTCOME_COLORS,
            OUTCOME_LABELS,
            title="处理结果：全部与按来源",
        ),
        "person_by_source": charts.hbar(
            pairs(by_source, "source_name", "person_match_rate"), scale=1, title="人员匹配率（按来源）"
        ),
        "routing_by_source": charts.hbar(
            pairs(by_source, "source_name", "routing_rate"), scale=1, title="居委定位率（按来源）", color=charts.GREEN
        ),
        "by_method": charts.hbar(
            pairs(by_method, "match_method", "rows", "未匹配"), fmt=count, title="行数（按匹配方式）"
        ),
        "by_subdistrict": charts.hbar(
            pairs(by_subdistrict, "subdistrict_name", "person_match_rate"), scale=1, title="人员匹配率（按街镇）"
        ),
        "dispatched_by_subdistrict": charts.hbar(
            pairs(by_subdistrict.filter(pl.col("dispatched") > 0), "subdistrict_name", "dispatched"),
            fmt=count,
            title="派单记录数（按街镇）",
            color=charts.ORANGE,
        ),
        "disposal_median": charts.hbar(
            pairs(subdistricts, "subdistrict_name", "median_hours"), fmt=_hours, title="处置时间中位数（小时，按街镇）"
        ),
        "disposal_distribution": charts.columns(
            distribution,
            title="处置时间分布",
            colors=[charts.GREEN, charts.GREEN, charts.BLUE, charts.ORANGE, charts.RED, charts.RED],
        ),
    }


# The trends per source, in the order of the report, with their titles.
SOURCE_TRENDS = {
    "rows": "输入行数",
    "person_match_rate": "人员匹配率",
    "routing_rate": "居委定位率",
    "quarantine_share": "隔离占比",
    "review_share": "待人工判断占比",
}


def _history_charts(history: History) -> dict[str, Markup]:
    dates = [d.strftime("%m-%d") for d in history.dates]

    def count(value: float | None) -> str:
        return "—" if value is None else f"{value:,.0f}"

    trends = {
        f"trend_{figure}": charts.lines(
            dates,
            history.series(figure),
            fmt=count if figure == "rows" else charts.percent,
            scale=None if figure == "rows" else 1,
            title=f"{title}（按来源）",
        )
        for figure, title in SOURCE_TRENDS.items()
    }
    trends["trend_disposal"] = charts.lines(
        dates,
        history.district_disposal(),
        fmt=_hours,
        title="当日办结案件的处置时间（小时，全区）",
        target=(DISPOSAL_GOAL_HOURS, f"目标 {DISPOSAL_GOAL_HOURS} 小时"),
    )
    return trends


def _overall_history(history: History) -> pl.DataFrame:
    """The district's figures run by run, with the disposal time of the cases closed that day."""
    district = history.disposal.filter(pl.col("subdistrict_code") == "").select(
        "run_date", "day_closed", "day_median_hours", "day_p90_hours"
    )
    return history.overall.join(district, on="run_date", how="left").sort("run_date", descending=True)


def _latest_dates(history: History) -> list[dt.date]:
    return history.dates[-HISTORY_TABLE_DAYS:]


def _field_history(history: History) -> tuple[pl.DataFrame, dict[str, str]]:
    """Per source and field, completeness / validity on each of the latest runs: where a field broke, and when."""
    dates = _latest_dates(history)
    fields = _named(history.fields.filter(pl.col("run_date").is_in(dates))).with_columns(
        cell=pl.struct("completeness", "validity").map_elements(
            lambda r: f"{_pct(r['completeness'])} / {_pct(r['validity'])}", return_dtype=pl.Utf8
        ),
        day=pl.col("run_date").dt.strftime("%m-%d"),
        order=pl.col("source").replace_strict({s: i for i, s in enumerate(SOURCE_NAMES)}, default=9),
    )
    return _by_day(
        fields, ["order", "source_name", "field", "field_name"], dates, {"source_name": "来源", "field_name": "字段"}
    )


def _disposal_history(history: History) -> tuple[pl.DataFrame, dict[str, str]]:
    """Per subdistrict and for the district, median / P90 hours (cases) of the cases closed on each latest run."""
    dates = _latest_dates(history)
    disposal = history.disposal.filter(pl.col("run_date").is_in(dates) & (pl.col("day_closed") > 0)).with_columns(
        cell=pl.struct("day_median_hours", "day_p90_hours", "day_closed").map_elements(
            lambda r: f"{_hours(r['day_median_hours'])} / {_hours(r['day_p90_hours'])}（{r['day_closed']}件）",
            return_dtype=pl.Utf8,
        ),
        day=pl.col("run_date").dt.strftime("%m-%d"),
        # The district's row last, under its subdistricts.
        order=pl.when(pl.col("subdistrict_code") == "").then(pl.lit("~")).otherwise(pl.col("subdistrict_code")),
    )
    return _by_day(disposal, ["order", "subdistrict_name"], dates, {"subdistrict_name": "街镇"})


def _by_day(
    frame: pl.DataFrame, keys: list[str], dates: list[dt.date], headers: dict[str, str]
) -> tuple[pl.DataFrame, dict[str, str]]:
    days = [d.strftime("%m-%d") for d in dates]
    if frame.is_empty():
        return frame, headers
    wide = frame.pivot(on="day", index=keys, values="cell").sort(keys)
    return wide.with_columns(pl.col(d).fill_null("—") for d in days if d in wide.columns), {
        **headers,
        **{d: d for d in days},
    }
