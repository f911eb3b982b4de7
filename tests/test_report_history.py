"""The report over several days of one output folder, each day run for real by the Prefect flow:

1. exports with whole columns empty (a hotline export without names, health exports with only addresses, no
   checkpoint file): the first day of a fresh warehouse, which used to crash the report step;
2. the full day's exports;
3. the same exports again (re-exported, one row fewer): nothing moved, so no alert;
4. the checkpoint system renamed its ID header (the column is read as an extra, the field goes empty) and the
   health system's IDs went through Excel as numbers (the last three digits become 000).

Checked: the alert at the top names the source and the field that moved, the trends have one series per source,
every figure links to a one-line definition, every finding links to a CSV of exactly its rows, masked."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.core import rules
from jingzhun.reporting.figures import DEFINITIONS
from tests.browser import render
from tests.conftest import RUN_DATE
from tests.exports import edit_source

PERSONS = 2000  # the checkpoint sends 60 rows, past the alerts' min_rows; the hotline 30, under it
DAYS = [RUN_DATE + dt.timedelta(days=i) for i in range(4)]
SOURCES = ("道口登记", "12345工单", "健康云申报")


def _excel_number(value):
    """An 18-digit ID stored by Excel as a number: 15 significant digits, the rest zeros."""
    text = str(value or "")
    return text[:15] + "000" if re.fullmatch(r"\d{17}[\dXx]", text) else value


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> dict[dt.date, tuple[Path, dict]]:
    from jingzhun.flows.daily import daily
    from jingzhun.synthetic.generate import generate

    tmp = tmp_path_factory.mktemp("history")
    generate(tmp / "district", persons=PERSONS, seed=23, day=RUN_DATE)
    full = tmp / "district" / "inbox"

    empty = tmp / "inbox-empty"
    for source in ("hotline", "health"):
        shutil.copytree(full / source, empty / source)
    edit_source(empty, "hotline", cells={h: (lambda _: None) for h in ("当事人", "当事人姓名")})
    edit_source(
        empty,
        "health",
        cells={
            h: (lambda _: None)
            for h in (
                "申报时间",
                "填报时间",
                "姓名",
                "证件号码",
                "身份证号",
                "手机号码",
                "手机号",
                "近14天旅居地",
                "旅居史",
                "是否发热",
                "发热",
                "健康码",
                "健康码颜色",
            )
        },
    )

    # Each day's exports are new files (a file delivered again is read once): the next day's re-export of the same
    # records lacks one row, the day after another.
    again = tmp / "inbox-again"
    shutil.copytree(full, again)
    changed = tmp / "inbox-changed"
    shutil.copytree(full, changed)
    for inbox, dropped in ((again, 1), (changed, 2)):
        for source in ("checkpoint", "hotline", "health"):
            edit_source(inbox, source, keep_row=lambda row, dropped=dropped: row != dropped)
    edit_source(changed, "checkpoint", rename={h: "公民身份号码" for h in ("证件号码", "身份证号", "身份证号码")})
    edit_source(changed, "health", cells={h: _excel_number for h in ("证件号码", "身份证号")})

    out = tmp / "out"
    runs = {}
    for day, inbox in zip(DAYS, (empty, full, again, changed), strict=True):
        head = daily(inbox=inbox, reference=tmp / "district" / "reference", out=out, run_date=day)
        runs[day] = (out / day.isoformat(), head)
    return runs


def _html(days, day: dt.date) -> str:
    return (days[day][0] / "report.html").read_text(encoding="utf-8")


def _alerts(html: str) -> str:
    return html[html.index('id="alerts"') : html.index("<h2>一、总览</h2>")]


def test_a_day_with_whole_columns_empty_is_reported_as_empty_not_a_crash(days):
    run_dir, head = days[DAYS[0]]
    assert head["input_rows"] == head["result_rows"] > 0
    with duckdb.connect(str(run_dir.parent / "warehouse.duckdb"), read_only=True) as con:
        fields = con.sql(
            "SELECT source, field, rows, filled FROM field_daily WHERE run_date = ?", params=[DAYS[0]]
        ).pl()
        volumes = dict(con.sql("SELECT source, rows FROM source_daily WHERE run_date = ?", params=[DAYS[0]]).fetchall())
    filled = {(r["source"], r["field"]): r["filled"] for r in fields.iter_rows(named=True)}
    assert filled[("hotline", "name")] == 0 and filled[("hotline", "address")] > 0
    assert filled[("health", "id_number")] == filled[("health", "name")] == filled[("health", "phone")] == 0
    assert volumes["checkpoint"] == 0 and volumes["hotline"] > 0
    assert "第一次运行" in _alerts(_html(days, DAYS[0]))


def test_the_next_day_names_the_source_that_arrived_and_the_fields_that_filled(days):
    run_dir, _ = days[DAYS[1]]
    alerts = _alerts(_html(days, DAYS[1]))
    assert re.search(r"道口登记 输入行数 0 → \d+", alerts)
    assert re.search(r"健康云申报 [^<]*证件号码 完整率 0\.0% → 9\d\.\d%", alerts)
    # The hotline's names arrived too, but from fewer rows than a rate needs to be compared: no alert for it.
    with duckdb.connect(str(run_dir.parent / "warehouse.duckdb"), read_only=True) as con:
        hotline = con.sql(
            "SELECT rows FROM source_daily WHERE source = 'hotline' AND run_date = ?", params=[DAYS[1]]
        ).fetchall()[0][0]
    assert hotline < rules.load("report")["alerts"]["min_rows"]
    assert "12345工单" not in alerts


def test_a_day_like_the_one_before_raises_no_alert(days):
    _, head = days[DAYS[2]]
    assert head["alerts"] == []
    assert "无超过阈值的变动" in _alerts(_html(days, DAYS[2]))


def test_an_export_that_changed_shape_is_named_by_source_and_field_at_the_top(days):
    _, head = days[DAYS[3]]
    html = _html(days, DAYS[3])
    alerts = _alerts(html)
    assert html.index('class="alert"') < html.index("<h2>一、总览</h2>")
    checkpoint = re.search(r"道口登记 [^<]*证件号码 完整率 (\d+\.\d)% → 0\.0%", alerts)
    health = re.search(r"健康云申报 [^<]*证件号码 有效率 (\d+\.\d)% → (\d+\.\d)%", alerts)
    assert checkpoint and float(checkpoint[1]) > 90
    assert health and float(health[1]) > 90 and float(health[2]) < 20
    assert "12345工单" not in alerts  # its exports did not change
    assert len(head["alerts"]) == 2 and all(a.startswith(("道口登记", "健康云申报")) for a in head["alerts"])
    # The day before, as its own report showed it: the alert's "before" is that figure.
    before = _quality_rows(_html(days, DAYS[2]))
    assert before[("道口登记", "证件号码")]["完整率"] == checkpoint[1] + "%"
    assert before[("健康云申报", "证件号码")]["有效率"] == health[1] + "%"
    assert _quality_rows(html)[("健康云申报", "证件号码")]["有效率"] == health[2] + "%"


def test_the_thresholds_are_the_rules_and_the_report_says_them(days):
    config = rules.load("report")["alerts"]
    alerts = _alerts(_html(days, DAYS[3]))
    assert f"超过 {config['rate_points']} 个百分点" in alerts and f"不少于 {config['min_rows']} 行" in alerts


def test_trends_have_one_series_per_source_and_a_point_per_run(days):
    page = _Page(_html(days, DAYS[3]))
    trends = [svg for svg in page.svgs if svg["section"] == "history" and svg["series"]]
    per_source = [svg for svg in trends if "按来源" in svg["title"]]
    assert len(per_source) == 5  # volume, person match, routing, quarantine share, review share
    for svg in per_source:
        assert list(svg["series"]) == list(SOURCES), svg["title"]
    volume = next(svg for svg in per_source if svg["title"].startswith("输入行数"))
    assert [len(points) for points in volume["series"].values()] == [4, 4, 4]
    assert volume["series"]["道口登记"][0].endswith("：0")
    person = next(svg for svg in per_source if svg["title"].startswith("人员匹配率"))
    assert len(person["series"]["道口登记"]) == 3  # no rate on the day it sent nothing


def test_every_figure_links_to_a_one_line_definition(days):
    page = _Page(_html(days, DAYS[3]))
    assert set(page.links) <= set(page.definitions), set(page.links) - set(page.definitions)
    assert page.definitions.keys() == DEFINITIONS.keys()
    for key, text in page.definitions.items():
        assert text and "\n" not in text.strip()
        if key.endswith(("_rate", "_share")) or key in ("completeness", "validity", "within_deadline"):
            assert "÷" in text, key  # numerator ÷ denominator
    for table in page.tables:
        for column, (header, numeric) in enumerate(zip(table["headers"], table["numeric"], strict=True)):
            if numeric and not re.fullmatch(r"\d\d-\d\d", header["text"]):
                assert header["link"], f"column {header['text']} (#{column}) has no definition"
    assert page.cards and all(card["link"] for card in page.cards)
    assert page.chart_titles and all(title["link"] for title in page.chart_titles)


def test_every_finding_links_to_a_masked_csv_of_exactly_its_rows(days):
    run_dir, _ = days[DAYS[3]]
    html = _html(days, DAYS[3])
    links = re.findall(r'<a class="rows" href="(findings/[^"]+\.csv)">([\d,]+) 行</a>', html)
    assert len(links) >= 5
    manifest = {o["path"]: o for o in json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["outputs"]}
    for href, count in links:
        with open(run_dir / href, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == int(count.replace(",", "")), href
        assert manifest[href]["rows"] == len(rows)
        for row in rows:
            assert row["来源文件"] and int(row["行号"]) >= 1
            for value in (row["原始值（已脱敏）"], row["标准值（已脱敏）"]):
                assert not re.search(r"\d{17}[\dXx]|(?<!\d)1[3-9]\d{9}(?!\d)|\d+\s*[号弄室幢栋]", value), value
    # The health IDs Excel turned into numbers are one finding: every health row with an ID is in it.
    garbled = [(href, count) for href, count in links if href.startswith("findings/health_id_bad_check_digit")]
    assert garbled and int(garbled[0][1].replace(",", "")) > 0


def test_the_report_with_its_history_renders_in_headless_chromium(days, tmp_path):
    render(days[DAYS[3]][0] / "report.html", tmp_path / "report.png", height=3000)


def _quality_rows(html: str) -> dict[tuple[str, str], dict[str, str]]:
    """The 数据质量 table of a report: (source, field) -> column -> cell text."""
    page = _Page(html)
    table = next(t for t in page.tables if [h["text"] for h in t["headers"]][:3] == ["来源", "字段", "行数"])
    names = [h["text"] for h in table["headers"]]
    return {(row[0], row[1]): dict(zip(names, row, strict=True)) for row in table["rows"]}


class _Page(HTMLParser):
    """What the tests read from a report: tables (header text, whether it links to a definition, which columns hold
    numbers, the cell texts), cards, chart titles, SVGs with their series' points, definition links and the list
    of definitions."""

    CAPTURED = ("th", "td", "h4", "dd", "title")

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.cards: list[dict] = []
        self.chart_titles: list[dict] = []
        self.svgs: list[dict] = []
        self.links: list[str] = []
        self.definitions: dict[str, str] = {}
        self._stack: list[tuple[str, dict]] = []
        self._section = ""
        self._text: list[str] = []
        self._term = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._stack.append((tag, a))
        if tag in self.CAPTURED:
            self._text = []
        if tag == "h2":
            self._section = a.get("id", "")
        elif tag == "table":
            self.tables.append({"headers": [], "numeric": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag == "div" and "card" in a.get("class", "").split():
            self.cards.append({"link": False})
        elif tag == "a" and a.get("href", "").startswith("#def-"):
            self.links.append(a["href"][len("#def-") :])
            for open_tag, open_attrs in reversed(self._stack):
                if open_tag in ("th", "h4") or "card" in open_attrs.get("class", "").split():
                    (self.cards[-1] if open_tag == "div" else open_attrs)["link"] = True
                    break
        elif tag == "svg":
            self.svgs.append({"section": self._section, "title": "", "series": {}})
        elif tag == "g" and "data-series" in a:
            self.svgs[-1]["series"][a["data-series"]] = []
        elif tag == "dt":
            self._term = a["id"][len("def-") :]

    def handle_endtag(self, tag):
        while self._stack:
            open_tag, a = self._stack.pop()
            if open_tag == tag:
                break
        text = "".join(self._text).strip()
        parent = self._stack[-1][0] if self._stack else ""
        if tag == "th":
            self.tables[-1]["headers"].append({"text": text, "link": a.get("link", False)})
            self.tables[-1]["numeric"].append(False)
        elif tag == "td":
            table = self.tables[-1]
            if "num" in a.get("class", "").split():
                table["numeric"][len(table["rows"][-1])] = True
            table["rows"][-1].append(text)
        elif tag == "tr" and self.tables and not self.tables[-1]["rows"][-1]:
            self.tables[-1]["rows"].pop()  # the header row
        elif tag == "h4" and "chart" in (self._stack[-1][1].get("class", "").split() if self._stack else []):
            self.chart_titles.append({"text": text, "link": a.get("link", False)})
        elif tag == "dd":
            self.definitions[self._term] = text
        elif tag == "title" and parent == "svg":
            self.svgs[-1]["title"] = text
        elif tag == "title" and parent == "circle":
            list(self.svgs[-1]["series"].values())[-1].append(text)

    def handle_data(self, data):
        self._text.append(data)


def test_day_over_day_compares_rates_only_past_the_threshold_and_over_enough_rows():
    from jingzhun.reporting.history import FIELD_DAILY, SOURCE_DAILY, day_over_day

    thresholds = {"rate_points": 10, "min_rows": 50, "volume_change": 0.5}

    def sources(rows: int, rate: float | None) -> pl.DataFrame:
        return pl.DataFrame(
            [
                {
                    "source": "checkpoint",
                    "rows": rows,
                    "usable": rows,
                    "person_match_rate": rate,
                    "routing_rate": 1.0,
                    "quarantine_share": 0.0,
                    "review_share": 0.0,
                }
            ],
            schema={
                k: v
                for k, v in SOURCE_DAILY.items()
                if k
                in ("source", "rows", "usable", "person_match_rate", "routing_rate", "quarantine_share", "review_share")
            },
        )

    no_fields = pl.DataFrame(schema=FIELD_DAILY)
    assert day_over_day(sources(100, 0.95), sources(100, 0.85), no_fields, no_fields, thresholds) == []  # 10 points
    [moved] = day_over_day(sources(100, 0.95), sources(100, 0.849), no_fields, no_fields, thresholds)
    assert str(moved) == "道口登记 人员匹配率 95.0% → 84.9%"
    # 49 → 100 rows is a volume move; the rate had too few rows the day before to be compared.
    [grown] = day_over_day(sources(49, 0.95), sources(100, 0.5), no_fields, no_fields, thresholds)
    assert [m.figure for m in grown.moves] == ["输入行数"]
    [gone] = day_over_day(sources(120, 0.95), sources(0, None).clear(), no_fields, no_fields, thresholds)
    assert str(gone) == "道口登记 输入行数 120 → 0"


@given(
    st.lists(
        st.text(alphabet="一二两兩三十百零〇⼀㈠㊁貳弄号幢楼室-# 12３路小区长宁ＡnullNULL", max_size=12),
        min_size=1,
        max_size=20,
    )
)
@settings(deadline=None)
def test_the_chinese_numerals_finding_is_the_parsers_own_reading_of_each_raw_address(raws):
    """The report looks for numerals only in the raw addresses whose normalized form writes one (OpenCC again on
    every raw address was most of its CPU): the same flag, row for row, as `has_chinese_numerals` on the raw value,
    through compatibility forms (⼀, ㈠) and traditional ones (兩) that normalize into numerals."""
    from jingzhun.cleansing.address import has_chinese_numerals
    from jingzhun.cleansing.text import normalize_text
    from jingzhun.reporting.quality import _with_numerals

    standard = pl.DataFrame(
        {"address_raw": raws, "address": [normalize_text(raw) for raw in raws]},
        schema={"address_raw": pl.Utf8, "address": pl.Utf8},
    )
    flags = _with_numerals(standard)["address_cn_numerals"].to_list()
    assert flags == [has_chinese_numerals(raw) for raw in raws]
