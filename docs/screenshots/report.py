"""Refresh `report.png` and `report_history.png`: two weeks of a synthetic district run into one output folder, then
the last day's report rendered by headless Chromium (`make browser` installs it).

Each day sends a different share of the exports, staff return the previous day's work lists with some cases
done, and on the last day the checkpoint system renames its ID column, so the report opens with an alert.

    .venv/bin/python docs/screenshots/report.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import openpyxl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jingzhun.core.run import Run  # noqa: E402
from jingzhun.flows import steps  # noqa: E402
from jingzhun.synthetic.generate import generate  # noqa: E402
from tests.browser import render  # noqa: E402
from tests.exports import edit_source  # noqa: E402

FIRST_DAY, DAYS, PERSONS = dt.date(2026, 11, 9), 14, 4000
STEPS = ("prepare", "feedback", "ingest", "cleanse", "validate", "match", "screen", "dispatch", "report")


def return_work_lists(run_dir: Path, feedback: Path, rng: np.random.Generator) -> None:
    """Staff answer about two thirds of the new cases, most within the day, and half of the continued ones."""
    feedback.mkdir(parents=True, exist_ok=True)
    dispatched_at = dt.datetime.combine(dt.date.fromisoformat(run_dir.name), dt.time(7, 30))
    for path in sorted((run_dir / "dispatch").glob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        sheet = book["派单"]
        col = {c.value: i + 1 for i, c in enumerate(sheet[1])}
        for row in range(2, sheet.max_row + 1):
            if rng.random() < (0.65 if sheet.cell(row, col["状态"]).value == "新派" else 0.5):
                hours = float(rng.lognormal(2.0, 0.7))
                sheet.cell(row, col["核查结果"], "已核实-无异常")
                sheet.cell(row, col["处置时间"], (dispatched_at + dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M"))
        book.save(feedback / path.name.replace(".xlsx", f"_{run_dir.name}.xlsx"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the district and output folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="jingzhun-screenshots-"))
    rng = np.random.default_rng(5)
    generate(work / "district", persons=PERSONS, seed=5, day=FIRST_DAY)
    feedback = work / "feedback"
    for i in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=i)
        inbox = work / "inbox" / day.isoformat()
        shutil.copytree(work / "district" / "inbox", inbox)
        for source, share in zip(("checkpoint", "hotline", "health"), rng.uniform(0.75, 1.0, 3), strict=True):
            edit_source(inbox, source, keep_row=lambda _, share=share: rng.random() < share)
        if i == DAYS - 1:
            edit_source(inbox, "checkpoint", rename={h: "公民身份号码" for h in ("证件号码", "身份证号", "身份证号码")})
        if feedback.exists():
            shutil.copytree(feedback, inbox / "feedback")
        run = Run(inbox=inbox, reference=work / "district" / "reference", out=work / "out", run_date=day)
        for step in STEPS:
            head = getattr(steps, step)(run)
        print(day, head["alerts"])
        return_work_lists(run.dir, feedback, rng)

    report = run.dir / "report.html"
    render(report, ROOT / "docs" / "screenshots" / "report.png", height=2600)
    # The history section: the report in a frame scrolled to it (the report itself stays script-free).
    frame = work / "history.html"
    frame.write_text(
        f'<html><body style="margin:0"><iframe src="{report.as_uri()}#history" scrolling="no" '
        f'style="border:0;width:1200px;height:2000px"></iframe></body></html>',
        encoding="utf-8",
    )
    render(frame, ROOT / "docs" / "screenshots" / "report_history.png", height=2000)
    print(f"report: {report}")


if __name__ == "__main__":
    main()
