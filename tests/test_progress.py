"""Progress a person can see: rows done, rate and time left while a step works, its figures when it ends, and
nothing after that; and a run's own rules reaching its steps as Prefect runs them."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from pathlib import Path

import pytest
import yaml

from jingzhun.core import progress, rules
from jingzhun.core.errors import UserError
from jingzhun.core.run import Run
from jingzhun.core.warehouse import connect

DAY = dt.date(2026, 11, 22)


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "jingzhun"]


def test_a_step_that_counts_its_rows_says_how_far_how_fast_and_how_long_left(caplog):
    caplog.set_level(logging.INFO, logger="jingzhun")
    with progress.tracked("match", rows=1000, first_after=0.2, every=0.2):
        for _ in range(5):
            time.sleep(0.1)
            progress.advance(100)
        time.sleep(0.05)
    lines = _lines(caplog)
    assert len(lines) >= 2
    heartbeat = lines[0]
    assert heartbeat.startswith("match: ") and " of 1,000 rows (" in heartbeat and " rows/s, about " in heartbeat
    assert heartbeat.endswith(" left")
    assert lines[-1].startswith("match: 500 rows in ") and lines[-1].endswith(" rows/s")
    after = len(caplog.records)
    time.sleep(0.5)
    assert len(caplog.records) == after  # silent once the step has ended
    progress.advance(10)  # outside a step: nothing happens


def test_a_step_without_counts_is_estimated_from_the_last_run(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="jingzhun")
    with connect(tmp_path / "warehouse.duckdb") as con:
        assert progress.expected_seconds(con, "match", 2000) is None  # the first run: nothing to go by
        with progress.tracked("match", rows=1000) as step:
            pass
        progress.record(con, DAY - dt.timedelta(days=1), step)
        step.started -= 60  # as if the last run's match took a minute more
        progress.record(con, DAY - dt.timedelta(days=1), step)  # a rerun of a day replaces its time
        assert con.execute("SELECT count(*) FROM step_times").fetchall()[0][0] == 1
        expected = progress.expected_seconds(con, "match", 2000)
    assert 120 <= expected < 121  # twice the rows, twice the time

    early = progress.Step("match", rows=2000, expected=expected, started=time.monotonic() - 30)
    assert (
        "2,000 rows, 30 s so far, about 1 min 30 s left at the last run's pace (about 25% done)"
        in early.progress_line()
    )
    late = progress.Step("match", rows=2000, expected=expected, started=time.monotonic() - 200)
    assert late.progress_line().endswith("longer than the last run's 2 min 0 s")
    first = progress.Step("ingest", rows=None, expected=None, started=time.monotonic() - 12)
    assert first.progress_line() == "ingest: 12 s so far (no earlier run to estimate the time left from)"


def test_a_step_counted_in_pieces_says_what_it_does_how_many_are_done_and_the_time_left(caplog):
    caplog.set_level(logging.INFO, logger="jingzhun")
    with progress.tracked("dispatch", rows=1000, first_after=0.25, every=10):
        progress.doing("the subdistricts' work lists", 0, 4)
        time.sleep(0.1)
        progress.doing("the subdistricts' work lists", 1, 4)
        time.sleep(0.3)
    heartbeat = _lines(caplog)[0]
    assert heartbeat.startswith("dispatch: 1,000 rows, 1 of 4 in ") and ", about " in heartbeat
    assert heartbeat.endswith(" left; now: the subdistricts' work lists")

    step = progress.Step("match", rows=2000, expected=None, started=time.monotonic() - 30)
    step.doing = "scoring candidate persons (Splink)"
    assert step.progress_line() == (
        "match: 2,000 rows, 30 s so far (no earlier run to estimate the time left "
        "from); now: scoring candidate persons (Splink)"
    )
    # Pieces are forgotten when the step moves on to work it does not count.
    step.pieces = (3, 16)
    token = progress._current.set(step)
    try:
        progress.doing("the review files")
    finally:
        progress._current.reset(token)
    assert step.pieces is None and "30 s so far" in step.progress_line()
    progress.doing("nothing")  # outside a step: nothing happens


def test_a_long_column_normalized_value_by_value_says_how_far_it_is_and_the_time_left(caplog, monkeypatch):
    import polars as pl

    from jingzhun.cleansing import pipeline

    caplog.set_level(logging.INFO, logger="jingzhun")
    slow = {**pipeline.NORMALIZERS, "text": lambda value: (time.sleep(0.001), {"": value.upper()})[1]}
    monkeypatch.setattr(pipeline, "NORMALIZERS", slow)
    monkeypatch.setattr(pipeline, "CHUNK_VALUES", 100)
    houses = pl.DataFrame({"address": [f"a{i}" for i in range(500)]})
    with progress.tracked("cleanse", rows=10, first_after=0.2, every=0.2):
        progress.doing("the standardized houses")
        normalized = pipeline.normalize_column(houses, "address", "text")
    # (A line while the first chunk works knows no pace yet: any later one does.)
    heartbeat = next(line for line in _lines(caplog) if " of 500 values, about " in line)
    assert heartbeat.startswith("cleanse: 10 rows, ") and "; now: the standardized houses (" in heartbeat
    assert heartbeat.endswith(" left)")
    # In chunks, the same values as at once.
    assert normalized.sort("address_raw")["address"].to_list() == sorted(f"A{i}" for i in range(500))


def _own_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "my-rules"
    shutil.copytree(rules.INSTALLED_RULES_DIR, folder)
    thresholds = yaml.safe_load((folder / "thresholds.yaml").read_text(encoding="utf-8"))
    thresholds["person"]["accept"] = 0.5
    (folder / "thresholds.yaml").write_text(yaml.safe_dump(thresholds), encoding="utf-8")
    return folder


def test_a_runs_own_rules_reach_its_steps_in_prefect_and_leave_the_process_as_it_was(tmp_path, monkeypatch):
    from prefect import flow

    from jingzhun.flows.daily import _step

    monkeypatch.delenv(rules.RULES_ENV, raising=False)
    seen = []

    def probe(run: Run) -> None:
        seen.append(rules.load("thresholds")["person"]["accept"])
        progress.advance(3)

    probe_step = _step(probe, counted=False)

    @flow
    def one_step(run: Run) -> None:
        probe_step(run)

    run = Run(inbox=tmp_path, reference=tmp_path, out=tmp_path / "out", run_date=DAY, rules=_own_rules(tmp_path))
    one_step(run)
    one_step(Run(inbox=tmp_path, reference=tmp_path, out=tmp_path / "out", run_date=DAY))
    assert seen == [0.5, rules.load("thresholds")["person"]["accept"]] and seen[1] != 0.5
    assert rules.chosen() is None
    with connect(run.warehouse) as con:  # the step was timed, with the rows it reported
        assert con.execute("SELECT step, rows FROM step_times").fetchall() == [("probe", 3)]


def test_rules_of_ones_own_are_checked_whole(tmp_path):
    folder = _own_rules(tmp_path)
    assert rules.check(folder) == folder
    (folder / "screening.yaml").unlink()
    (folder / "feedback.yaml").unlink()
    with pytest.raises(UserError, match=r"lacks feedback.yaml, screening.yaml; start from a copy"):
        rules.check(folder)
    with pytest.raises(UserError, match="rules folder not found"):
        rules.check(tmp_path / "nowhere")
    shutil.copytree(rules.INSTALLED_RULES_DIR, folder, dirs_exist_ok=True)
    (folder / "quarantine.yaml").write_text("rows: [unclosed\n", encoding="utf-8")
    with pytest.raises(UserError, match="quarantine.yaml cannot be read"):
        rules.check(folder)
