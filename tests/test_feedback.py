"""The loop back: staff fill in a day's work list and return it; the next run closes those cases, keeps the
others open under their first dispatch id, reports the lines it could not trust, and measures disposal time
against the deadline — checked here against figures computed by hand."""

from __future__ import annotations

import csv
import datetime as dt
import shutil

import duckdb
import openpyxl
import polars as pl
import pytest

from jingzhun.core.run import Run
from jingzhun.flows import steps
from tests.conftest import RUN_DATE

DAY2 = RUN_DATE + dt.timedelta(days=1)
STEPS = ("prepare", "feedback", "ingest", "cleanse", "validate", "match", "screen", "dispatch", "report", "reconcile")


def _run_day(run: Run) -> dict:
    head = {}
    for name in STEPS:
        done = getattr(steps, name)(run)
        head = done if name == "report" else head
    return head


def _new_rows(sheet, headers: list[str], hours: int) -> list[int]:
    """Sheet rows of new cases with the given deadline."""
    return [
        r
        for r in range(2, sheet.max_row + 1)
        if sheet.cell(r, headers.index("处置时限(小时)") + 1).value == hours
        and sheet.cell(r, headers.index("状态") + 1).value == "新派"
    ]


@pytest.fixture(scope="module")
def day2(flow_run, district, tmp_path_factory):
    """Day 1 is the session's Prefect run; day 2 reads the same exports again plus the returned work lists."""
    tmp = tmp_path_factory.mktemp("feedback")
    out = tmp / "out"
    shutil.copytree(flow_run[0].parent, out)
    inbox = tmp / "inbox"
    for source in ("checkpoint", "hotline", "health"):
        shutil.copytree(district / "inbox" / source, inbox / source)
    # Day 2's exports hold day 1's rows again, as new files: a file delivered twice unchanged is read only once.
    for path in sorted(inbox.glob("*/*")):
        if path.suffix == ".csv":
            path.write_bytes(path.read_bytes() + b"\r\n")  # a trailing empty line: the same rows
        else:
            export = openpyxl.load_workbook(path)
            export.properties.title = f"{DAY2} export"
            export.save(path)
    returned = inbox / "feedback"
    returned.mkdir()
    workbooks = sorted((flow_run[0] / "dispatch").glob("*.xlsx"))
    pick = {}
    for path in workbooks:
        sheet = openpyxl.load_workbook(path)["派单"]
        headers = [c.value for c in sheet[1]]
        if "a" not in pick and _new_rows(sheet, headers, 12) and sheet.max_row >= 7:
            pick["a"] = path
        elif "b" not in pick and _new_rows(sheet, headers, 24):
            pick["b"] = path
    assert set(pick) == {"a", "b"}, "the generated day has 12-hour and 24-hour work in two subdistricts"

    # Subdistrict A returns its workbook: three closed cases, one unreadable time, one edited id.
    book = openpyxl.load_workbook(pick["a"])
    sheet = book["派单"]
    headers = [c.value for c in sheet[1]]
    col = {h: headers.index(h) + 1 for h in headers}
    # Whatever the deadline, 6 and 12 hours are within it (deadlines are 12, 24 or 48 hours); the 24-hour
    # answer goes to a 12-hour case, so it is late.
    late = _new_rows(sheet, headers, 12)[0]
    rows = [r for r in range(2, 6) if r != late][:2] + [late] + [r for r in range(2, 7) if r != late][2:3]
    answers = [
        ("已核实-已落实措施", "2026-11-22 13:30"),  # 6 h after the 07:30 dispatch
        ("查无此人", dt.datetime(2026, 11, 22, 19, 30)),  # 12 h, typed as an Excel date
        ("已核实-无异常", "2026/11/23 07:30"),  # 24 h, past the 12-hour deadline
        ("已核实-无异常", "明天上午"),
    ]  # not a time: reported, case stays open
    ids = {}
    for row, (result, when) in zip(rows, answers, strict=False):
        sheet.cell(row, col["核查结果"], result)
        sheet.cell(row, col["处置时间"], when)
        ids[result if when != "明天上午" else "unreadable"] = sheet.cell(row, col["派单编号"]).value
    edited = max(set(range(2, sheet.max_row + 1)) - set(rows))
    sheet.cell(edited, col["派单编号"], "20261122-0000000000")
    sheet.cell(edited, col["核查结果"], "已核实-无异常")
    sheet.cell(edited, col["处置时间"], "2026-11-22 10:00")
    book.save(returned / pick["a"].name)

    # Subdistrict B returns the CSV, saved again by Excel as GBK: one case closed in 22 hours (deadline 24).
    with open(pick["b"].with_suffix(".csv"), encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    b_row = next(
        i
        for i, r in enumerate(table)
        if i and r[table[0].index("处置时限(小时)")] == "24" and r[table[0].index("状态")] == "新派"
    )
    table[b_row][table[0].index("核查结果")] = "已核实-已落实措施"
    table[b_row][table[0].index("处置时间")] = "2026-11-23 05:30"
    ids["b"] = table[b_row][table[0].index("派单编号")]
    with open(returned / pick["b"].with_suffix(".csv").name, "w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows(table)
    # And a stray workbook that is not a work list at all.
    stray = openpyxl.Workbook()
    stray.active.append(["姓名", "电话"])
    stray.save(returned / "通讯录.xlsx")

    run = Run(inbox=inbox, reference=district / "reference", out=out, run_date=DAY2)
    head = _run_day(run)
    return {"run": run, "head": head, "ids": ids, "pick": pick, "day1": flow_run[0]}


def _cases(run: Run, day: dt.date) -> pl.DataFrame:
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        return con.sql("SELECT * FROM cases WHERE run_date = ?", params=[day]).pl()


def test_disposal_time_per_subdistrict_is_the_hand_computed_figure(day2):
    figures = {r["subdistrict_name"]: r for r in day2["head"]["disposal_by_subdistrict"]}
    a_name = day2["pick"]["a"].stem.split("_", 1)[1]
    b_name = day2["pick"]["b"].stem.split("_", 1)[1]
    a, b, district = figures[a_name], figures[b_name], figures["全区"]
    # A: 6, 12, 24 hours; median 12; p90 = 12 + 0.8 × (24 − 12) = 21.6; within 12 h: 6 and 12 → 2 of 3.
    assert (a["closed"], a["median_hours"], a["within_deadline"]) == (3, 12.0, pytest.approx(2 / 3))
    assert a["p90_hours"] == pytest.approx(21.6)
    # B: one case, 22 hours against 24.
    assert (b["closed"], b["median_hours"], b["within_deadline"]) == (1, 22.0, 1.0)
    # District: 6, 12, 22, 24; median 17; p90 = 22 + 0.7 × (24 − 22) = 23.4; 3 of 4 within the deadline.
    assert (district["closed"], district["median_hours"]) == (4, 17.0)
    assert district["p90_hours"] == pytest.approx(23.4)
    assert district["within_deadline"] == pytest.approx(0.75)
    assert day2["head"]["closed_cases"] == 4


def test_closed_cases_are_not_continued_and_open_ones_keep_their_first_id(day2):
    run, ids = day2["run"], day2["ids"]
    day1, today = _cases(run, RUN_DATE), _cases(run, DAY2)
    closed = {ids["已核实-已落实措施"], ids["查无此人"], ids["已核实-无异常"], ids["b"]}
    # The same exports again: every case of day 1 comes back; the open ones continue under their id.
    assert today.height == day1.height
    continued = today.filter(pl.col("first_dispatched_on") == RUN_DATE)
    assert set(continued["dispatch_id"]) == set(day1["dispatch_id"]) - closed
    assert ids["unreadable"] in set(continued["dispatch_id"])
    assert not closed & set(today["dispatch_id"])
    assert today.filter(pl.col("first_dispatched_on") == DAY2).height == len(closed)
    assert day2["head"]["continued_cases"] == day1.height - len(closed)

    sheet = openpyxl.load_workbook(run.dir / "dispatch" / day2["pick"]["a"].name)["派单"]
    headers = [c.value for c in sheet[1]]
    status = {
        row[headers.index("派单编号")]: row[headers.index("状态")]
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert status[ids["unreadable"]] == "延续（已于11-22派发，未办结）"


def test_lines_that_cannot_close_a_case_are_reported_not_fatal(day2):
    run = day2["run"]
    with open(run.dir / "feedback" / "issues.csv", encoding="utf-8-sig", newline="") as f:
        issues = list(csv.DictReader(f))
    problems = sorted(r["问题"].split("：")[0] for r in issues)
    assert problems == ["不是派单文件", "处置时间无法识别", "派单编号不存在（可能被改动）"]
    html = (run.dir / "report.html").read_text(encoding="utf-8")
    assert "派单编号不存在" in html and "处置时间中位数" in html


def test_what_staff_said_is_stored_as_labels_for_the_matching_engineers(day2):
    with duckdb.connect(str(day2["run"].warehouse), read_only=True) as con:
        labels = con.sql("SELECT * FROM feedback_labels WHERE run_date = ?", params=[DAY2]).pl()
    wrong = labels.filter(pl.col("dispatch_id") == day2["ids"]["查无此人"])
    assert wrong.height >= 1 and set(wrong["label"]) == {"wrong_person"}
    assert set(labels["dispatch_id"]) == {v for k, v in day2["ids"].items() if k != "unreadable"}
    assert wrong["source_file"].null_count() == 0  # each label points at the record it is about


def test_a_rerun_gives_the_same_files_and_no_new_work(day2):
    run = day2["run"]
    before = {p.name: p.read_bytes() for p in (run.dir / "dispatch").iterdir()}
    cases = _cases(run, DAY2)
    _run_day(run)
    after = {p.name: p.read_bytes() for p in (run.dir / "dispatch").iterdir()}
    assert before == after
    assert _cases(run, DAY2).sort("dispatch_id").equals(cases.sort("dispatch_id"))
