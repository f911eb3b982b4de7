"""`report.html`: one self-contained file (inline CSS, no script, no external request) for auditors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from dispatch.packages import SOURCE_NAMES
from jingzhun.masking import mask_record

OUTCOME_LABELS = {"dispatched": "派单", "no_action": "无需处置", "review": "待人工判断", "quarantined": "隔离"}
FIELD_NAMES = {"name": "姓名", "id_number": "证件号码", "phone": "手机号码", "address": "地址"}
RATE_COLUMNS = ("person_match_rate", "routing_rate", "completeness", "validity", "repair_rate")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


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
            elif isinstance(value, int | float) and not isinstance(value, bool):
                cells.append(f'<td class="num">{value:,.2f}</td>' if isinstance(value, float)
                             else f'<td class="num">{value:,}</td>')
            else:
                cells.append(f"<td>{escape('' if value is None else value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Markup(f"<table><tr>{head}</tr>{''.join(body)}</table>")


def _named(frame: pl.DataFrame) -> pl.DataFrame:
    """Chinese names for the codes people read."""
    if "source" in frame.columns:
        frame = frame.with_columns(source_name=pl.col("source").replace_strict(SOURCE_NAMES, default=pl.col("source")))
    if "field" in frame.columns:
        frame = frame.with_columns(field_name=pl.col("field").replace_strict(FIELD_NAMES, default=pl.col("field")))
    return frame


def render_report(path: Path, *, run_date: dt.date, code_version: str, head: dict[str, Any],
                  by_source: pl.DataFrame, by_method: pl.DataFrame, by_subdistrict: pl.DataFrame,
                  quality: pl.DataFrame, id_status: pl.DataFrame, validation: pl.DataFrame,
                  quarantine: pl.DataFrame, unreadable: pl.DataFrame, trend: pl.DataFrame) -> None:
    environment = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                              autoescape=select_autoescape(["html", "j2"]))
    examples = quarantine.filter(pl.col("reason_code") != "empty_row").head(10).with_columns(
        raw_values=pl.col("raw_values").map_elements(
            lambda text: json.dumps(mask_record(json.loads(text)), ensure_ascii=False), return_dtype=pl.Utf8)
    )
    html = environment.get_template("report.html.j2").render(
        run_date=run_date.isoformat(),
        generated_at=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        code_version=code_version,
        head=head,
        outcome_labels=OUTCOME_LABELS,
        pct=_pct, bar=_bar, table=_table,
        by_source=_named(by_source),
        by_method=by_method.with_columns(pl.col("match_method").fill_null("未匹配")),
        by_subdistrict=by_subdistrict.with_columns(pl.col("subdistrict_name").fill_null("未定位")),
        quality=_named(quality),
        id_status=_named(id_status),
        validation=_named(validation).with_columns(
            result=pl.when(pl.col("success")).then(pl.lit("通过")).otherwise(pl.lit("未通过"))),
        quarantine_reasons=quarantine.group_by("reason").agg(rows=pl.len()).sort("rows", descending=True),
        unreadable=unreadable,
        quarantine_examples=_named(examples),
        trend=trend,
    )
    path.write_text(html, encoding="utf-8")
