"""Shared fixtures: a real synthetic district, and one real run of the daily flow under Prefect on it."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from jingzhun import flows  # noqa: F401  (the product's Prefect settings, before any test imports Prefect)

# Prefect keeps its database under PREFECT_HOME; the tests use their own, never the user's, and remove it when the
# session ends (each session and each xdist worker made one: a developer's /tmp held dozens of 9 MB databases).
if "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="jingzhun-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Prefect's INFO lines (server start and stop) would be written after pytest has closed its capture streams.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# Hypothesis's deadline (200 ms an example) measures the machine, not the code: on a CI runner shared with other
# jobs one slow example failed a property that held (334 ms, then 22 ms on the retry). Properties are asserted;
# speed is the benchmarks' to measure.
settings.register_profile("jingzhun", deadline=None)
settings.load_profile("jingzhun")

RUN_DATE = dt.date(2026, 11, 22)
PERSONS = 4000


@pytest.fixture(scope="session")
def district(tmp_path_factory) -> Path:
    from jingzhun.synthetic.generate import generate

    folder = tmp_path_factory.mktemp("district")
    generate(folder, persons=PERSONS, seed=11, day=RUN_DATE)
    return folder


@pytest.fixture(scope="session")
def flow_run(district, tmp_path_factory) -> tuple[Path, dict]:
    """The daily flow run once, for real, by Prefect; returns the run folder and the headline it returned."""
    from jingzhun.flows.daily import daily

    out = tmp_path_factory.mktemp("out")
    head = daily(inbox=district / "inbox", reference=district / "reference", out=out, run_date=RUN_DATE)
    return out / RUN_DATE.isoformat(), head
