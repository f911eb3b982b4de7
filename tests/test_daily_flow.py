"""The daily flow end to end on a generated district, run by Prefect: every input row has one outcome, files
reconcile with the manifest, each subdistrict gets only its rows, routing agrees with the ground truth."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from jingzhun.evaluation.metrics import evaluate_run
from tests.browser import render
from tests.conftest import RUN_DATE

KEYS = ["source", "source_file", "source_row"]
# What a clerk on a visit reads and writes (issue 11), in the order the work list prints them.
CLERK_COLUMNS = [
    "居委",
    "派单编号",
    "优先级",
    "截止时间",
    "姓名",
    "手机号码",
    "登记地址",
    "筛查原因",
    "核查结果",
    "处置时间",
    "备注",
]


@pytest.fixture(scope="module")
def results(flow_run) -> pl.DataFrame:
    return pl.read_parquet(flow_run[0] / "match_results.parquet")


def test_every_input_row_has_exactly_one_outcome(flow_run, district, results):
    truth = pl.read_csv(district / "truth.csv", infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))
    assert results.height == truth.height
    assert results.select(KEYS).is_duplicated().sum() == 0
    assert results.select(KEYS).sort(KEYS).equals(truth.select(KEYS).sort(KEYS))
    assert set(results["outcome"].unique()) <= {"dispatched", "no_action", "review", "quarantined"}
    assert results.filter(pl.col("outcome") == "quarantined")["reasons"].null_count() == 0


def test_manifest_reconciles_inputs_outputs_and_files_on_disk(flow_run, results):
    run_dir, head = flow_run
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reconciliation"]["balanced"] is True
    assert manifest["reconciliation"]["input_rows"] == results.height == head["input_rows"]
    assert sum(f["data_rows"] for f in manifest["inputs"]) == results.height
    for output in manifest["outputs"]:
        path = run_dir / output["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == output["sha256"]
    listed = {o["path"] for o in manifest["outputs"]}
    on_disk = {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == on_disk
    assert {"report.html", "match_results.parquet"} <= listed
    assert manifest["rule_versions"] and manifest["code_version"].startswith("jingzhun")


def test_dispatch_workbooks_hold_their_subdistrict_only(flow_run, results):
    """One line per case (a person's dispatched records of the day), in its subdistrict's file only; headers,
    masking, frozen header and id column, filter, the same lines in the CSV, a summary that adds up."""
    import duckdb

    run_dir, _ = flow_run
    dispatched = results.filter(pl.col("outcome") == "dispatched")
    with duckdb.connect(str(run_dir.parent / "warehouse.duckdb"), read_only=True) as con:
        cases = con.sql("SELECT * FROM cases WHERE run_date = ?", params=[RUN_DATE]).pl()
    assert set(cases["dispatch_id"]) == set(dispatched["dispatch_id"])
    assert cases["records"].sum() == dispatched.height
    assert cases.filter(pl.col("records") > 1).height > 0, "some people come through two sources in a day"
    show_id = set(cases.filter(pl.col("show_id"))["dispatch_id"])
    workbooks = sorted((run_dir / "dispatch").glob("*.xlsx"))
    assert len(workbooks) == cases["subdistrict_code"].n_unique()
    seen = 0
    for path in workbooks:
        code = path.stem.split("_")[0]
        book = openpyxl.load_workbook(path)
        sheet = book["派单"]
        headers = [c.value for c in sheet[1]]
        assert headers[:11] == CLERK_COLUMNS
        assert {
            "状态",
            "处置时限(小时)",
            "证件号码",
            "触发规则",
            "来源",
            "匹配说明",
            "来源文件及行号",
            "其他信息",
        } <= set(headers)
        assert sheet.freeze_panes == "C2" and sheet.auto_filter.ref  # 居委 and 派单编号 stay in view
        rows = [dict(zip(headers, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)]
        ids = [r["派单编号"] for r in rows]
        assert sorted(ids) == sorted(cases.filter(pl.col("subdistrict_code") == code)["dispatch_id"].to_list())
        order = [(r["居委"], r["优先级"], r["截止时间"]) for r in rows]
        assert order == sorted(order)
        for r in rows:
            assert r["状态"] == "新派"
            masked = r["证件号码"] is None or all("*" in v for v in r["证件号码"].split("、"))
            assert masked != (r["派单编号"] in show_id) or r["证件号码"] is None
            assert len(r["来源文件及行号"].split("；")) == len(r["其他信息"].split("；"))
        summary = list(book["汇总"].iter_rows(values_only=True))
        assert summary[0][:2] == ("居委", "派单数") and summary[-1][:2] == ("合计", len(ids))
        with open(path.with_suffix(".csv"), encoding="utf-8-sig", newline="") as f:
            lines = list(csv.reader(f))
        assert lines == [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        seen += len(ids)
    assert seen == cases.height


def test_work_lists_print_one_page_wide_with_the_clerks_columns(flow_run):
    """On paper: A4 landscape, one page wide at a readable scale, the header row on every page, a page header
    saying whose list, which day and page x of y, gridlines, rows tall enough to write in; the other columns
    stay in the sheet for the loop back, grouped and collapsed out of the printed view."""
    run_dir, _ = flow_run
    for path in sorted((run_dir / "dispatch").glob("*.xlsx")):
        code, name = path.stem.split("_", 1)
        sheet = openpyxl.load_workbook(path)["派单"]
        assert sheet.page_setup.orientation == "landscape"
        assert int(sheet.page_setup.paperSize) == 9  # A4
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
        assert sheet.page_setup.fitToWidth in (None, 1)  # absent is 1, the OOXML default: one page wide
        assert sheet.page_setup.fitToHeight == 0  # as many pages long as needed
        assert sheet.print_title_rows == "$1:$1"
        assert sheet.print_options.gridLines is True
        header = sheet.oddHeader
        assert name in header.left.text and code in header.left.text
        assert RUN_DATE.isoformat() in header.center.text
        assert header.right.text == "第 &P 页 共 &N 页"

        headers = [c.value for c in sheet[1]]
        dimension = {col: d for d in sheet.column_dimensions.values() for col in range(d.min, d.max + 1)}
        printed = [h for i, h in enumerate(headers, start=1) if not dimension[i].hidden]
        assert printed == CLERK_COLUMNS
        for i, h in enumerate(headers, start=1):
            assert dimension[i].outlineLevel == (0 if h in CLERK_COLUMNS else 1), h
        assert dimension[len(headers) + 1].collapsed is True  # the group's button shows it collapsed
        # Excel draws a column 7 pixels per unit of its stored width (Calibri 11); A4 landscape within 0.4-inch
        # margins is 1,045 pixels at 96 dpi, so fitting the printed columns to it keeps the text at 90% or more.
        pixels = sum(7 * dimension[headers.index(h) + 1].width for h in CLERK_COLUMNS)
        assert pixels * 0.9 <= (11.69 - 0.8) * 96

        for row in range(2, sheet.max_row + 1):
            assert sheet.row_dimensions[row].height >= 36  # half an inch to write in
        address = sheet.cell(2, headers.index("登记地址") + 1)
        assert address.alignment.wrap_text is True and address.alignment.vertical == "top"


def test_routing_and_linkage_agree_with_ground_truth(flow_run, district):
    figures = evaluate_run(flow_run[0], district / "truth.csv")
    assert figures["rows_without_result"] == 0
    # A small district (a few hundred rows), so the floors sit below the 100,000-person benchmark's figures
    # (precision 100%, recall 99.9%, routing 99.9%) by a margin for its sampling noise.
    assert figures["person_precision"] >= 0.995
    assert figures["routing_precision"] >= 0.995
    assert figures["person_recall"] >= 0.98
    assert figures["routing_accuracy"] >= 0.98
    assert figures["review_share"] < 0.01


def test_results_and_report_say_which_model_version_decided(flow_run, results):
    usable = results.filter(pl.col("outcome") != "quarantined")
    assert usable["model_version"].unique().to_list() == ["builtin"]  # a first day: the model committed with the code
    assert "人员匹配模型 builtin" in (flow_run[0] / "report.html").read_text(encoding="utf-8")


def test_empty_and_garbage_rows_are_quarantined_or_never_dispatched(flow_run, district, results):
    truth = pl.read_csv(district / "truth.csv", infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))
    bad = truth.filter(pl.col("defects").str.contains("empty_row|garbage_row")).join(results, on=KEYS)
    assert bad.height > 0
    assert bad.filter(pl.col("defects").str.contains("empty_row"))["outcome"].unique().to_list() == ["quarantined"]
    assert bad.filter(pl.col("outcome") == "dispatched").height == 0


def test_report_is_self_contained(flow_run):
    html = (flow_run[0] / "report.html").read_text(encoding="utf-8")
    assert "数据质量" in html and "人员匹配率" in html
    for external in ("http://", "https://", "<script", 'src="//'):
        assert external not in html


def test_report_shows_no_personal_value_unmasked(flow_run, district):
    import re

    html = (flow_run[0] / "report.html").read_text(encoding="utf-8")
    assert re.search(r"(?<!\d)\d{17}[\dXx](?!\d)", html) is None  # ID numbers, in any digits
    assert re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", html) is None  # mobiles
    assert re.search(r"\d+\s*[号弄室幢栋]", html) is None  # house numbers and rooms
    population = pl.read_csv(district / "reference" / "population.csv", infer_schema=False)
    full_names = {n for n in population["name"].to_list() if n and len(n) >= 3}
    text = re.sub(r"<[^>]+>", " ", html)
    assert [n for n in full_names if n in text] == []


ALL_STEPS = ("prepare", "feedback", "ingest", "cleanse", "validate", "match", "screen", "dispatch", "report", "publish")


def _files(day_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(day_dir)): p.read_bytes() for p in sorted(day_dir.rglob("*")) if p.is_file()}


def test_a_rerun_of_the_same_inputs_writes_the_same_bytes_report_included(flow_run, district, tmp_path):
    """Every file of the day, the report and the manifest too: the report states the inputs' checksum, not a
    clock time, and its tables break ties in a fixed order."""
    from jingzhun.core.run import Run
    from jingzhun.flows import steps

    run = Run(inbox=district / "inbox", reference=district / "reference", out=tmp_path, run_date=RUN_DATE)
    for name in ALL_STEPS:
        getattr(steps, name)(run)
    first, again = _files(flow_run[0]), _files(run.day_dir)
    assert {"report.html", "manifest.json", "match_results.parquet"} <= set(first)
    assert sorted(again) == sorted(first)
    assert [name for name in first if first[name] != again[name]] == []
    manifest = json.loads(first["manifest.json"])
    assert manifest["inputs_fingerprint"][:12] in first["report.html"].decode("utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".2026")] == []  # nothing left aside


# Runs the steps in a process of its own and kills it, SIGKILL, as soon as the named step has finished.
KILLED_RERUN = """
import datetime as dt, os, signal, sys
from pathlib import Path
from jingzhun.flows import steps
from jingzhun.core.run import Run, exclusive

inbox, reference, out, kill_after = sys.argv[1:]
run = Run(inbox=Path(inbox), reference=Path(reference), out=Path(out), run_date=dt.date.fromisoformat("{day}"))
with exclusive(run.out):
    for name in {steps}:
        getattr(steps, name)(run)
        if name == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("kill_after", ["match", "dispatch"])
def test_a_killed_rerun_leaves_the_previous_day_whole(flow_run, district, tmp_path, kill_after):
    """A rerun killed mid-way (after `dispatch` it has written half a day's files) changes nothing users open;
    the next run puts a complete day in place, byte for byte the same for the same inputs."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    shutil.copytree(flow_run[0].parent, out)
    day = out / RUN_DATE.isoformat()
    before = _files(day)
    script = KILLED_RERUN.format(day=RUN_DATE.isoformat(), steps=ALL_STEPS)
    command = [sys.executable, "-c", script, str(district / "inbox"), str(district / "reference"), str(out)]
    killed = subprocess.run([*command, kill_after], capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (out / f".{RUN_DATE.isoformat()}.partial").is_dir()  # the killed run's half day, aside
    assert _files(day) == before

    done = subprocess.run([*command, "none"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _files(day) == before
    # Nothing of the killed run is left beside the day, the warehouse and the reference checks' cache.
    assert sorted(p.name for p in out.iterdir()) == [
        ".lock",
        ".reference-cache",
        ".reference_checks.parquet",
        RUN_DATE.isoformat(),
        "warehouse.duckdb",
    ]


def test_a_run_killed_between_the_two_renames_of_publish_gets_its_day_back(district, tmp_path):
    from jingzhun.core.run import Run
    from jingzhun.flows import steps

    run = Run(inbox=district / "inbox", reference=district / "reference", out=tmp_path, run_date=RUN_DATE)
    # The previous day was set aside and the new one not yet renamed in: the next run restores the old one.
    run.set_aside.mkdir(parents=True)
    (run.set_aside / "report.html").write_text("previous", encoding="utf-8")
    run.dir.mkdir()
    (run.dir / "report.html").write_text("new, complete", encoding="utf-8")
    steps.prepare(run)
    assert (run.day_dir / "report.html").read_text(encoding="utf-8") == "previous"
    assert not run.set_aside.exists() and list(run.dir.iterdir()) == []
    # Killed after both renames: the day in place is the new one; the old one set aside goes.
    run.set_aside.mkdir()
    (run.set_aside / "report.html").write_text("older", encoding="utf-8")
    steps.prepare(run)
    assert not run.set_aside.exists() and (run.day_dir / "report.html").read_text(encoding="utf-8") == "previous"


def test_only_file_system_errors_that_may_pass_are_retried():
    """Steps that touch files have two retries; a missing file, a refused permission, a bad input or a bug would
    fail the same way again, and is not retried."""
    import errno

    from prefect.states import Failed

    from jingzhun.core.errors import UserError
    from jingzhun.flows.daily import _transient

    def retried(error: BaseException) -> bool:
        return _transient(None, None, Failed(data=error))

    assert retried(OSError(errno.EIO, "I/O error")) and retried(TimeoutError(errno.ETIMEDOUT, "timed out"))
    assert retried(OSError(errno.ESTALE, "Stale file handle"))
    for error in (
        FileNotFoundError(errno.ENOENT, "gone"),
        PermissionError(errno.EACCES, "refused"),
        OSError(errno.ENOSPC, "disk full"),
        UserError("bad input"),
        ValueError("a bug"),
    ):
        assert not retried(error), error


def test_warehouse_keeps_the_run_for_the_trend(flow_run):
    import duckdb

    con = duckdb.connect(str(flow_run[0].parent / "warehouse.duckdb"), read_only=True)
    dates = [r[0] for r in con.execute("SELECT DISTINCT run_date FROM match_results").fetchall()]
    assert dates == [RUN_DATE]


def test_report_renders_in_headless_chromium_without_network_or_errors(flow_run, tmp_path):
    render(flow_run[0] / "report.html", tmp_path / "report.png")
