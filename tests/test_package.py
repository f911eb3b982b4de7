"""The product as someone installs it elsewhere: the wheel `uv build` makes, in a fresh virtual environment with the
locked dependencies, runs the demo from a folder outside the checkout, on rules of the user's own.

Offline by design: the dependencies come from uv's cache, which `make test` filled when it synced `.venv`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import polars as pl
import pytest
import yaml

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).with_name("uv")
# Folders of the checkout that are not the product: they stay out of the wheel.
NOT_SHIPPED = ("tests/", "benchmarks/", "notebooks/", "docs/", "scripts/", ".ci/")


def _run(*args: object, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run(UV, "build", "--wheel", "--offline", "--out-dir", dist, ROOT)
    (built,) = dist.glob("jingzhun-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A new virtual environment: the locked dependencies (not the dev group), then the wheel."""
    venv = tmp_path_factory.mktemp("venv")
    _run(
        UV,
        "sync",
        "--frozen",
        "--offline",
        "--no-dev",
        "--no-install-project",
        "--project",
        ROOT,
        "--python",
        sys.executable,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    _run(UV, "pip", "install", "--offline", "--no-deps", "--python", venv / "bin" / "python", wheel)
    _run(UV, "pip", "check", "--python", venv / "bin" / "python")  # the wheel's requirements are all met
    return venv


def test_the_wheel_holds_every_package_rule_table_and_model(wheel):
    listed = _run("git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard").stdout.split()
    product = {path for path in listed if "/" in path and not path.startswith(NOT_SHIPPED) and (ROOT / path).is_file()}
    # The rules and the division tables go inside the one import name.
    expected = {f"jingzhun/{p}" if p.startswith(("rules/", "reference_data/")) else p for p in product}
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if ".dist-info/" not in name}
        entry_points = archive.read(next(n for n in archive.namelist() if n.endswith("entry_points.txt"))).decode()
    assert shipped == expected
    for needed in (
        "jingzhun/rules/screening.yaml",
        "jingzhun/reference_data/admin_divisions/areas.csv",
        "jingzhun/feedback/cases.py",
        "jingzhun/evaluation/metrics.py",
    ):
        assert any(name.endswith(needed) for name in shipped), needed
    assert any(name.endswith("jingzhun/matching/model/person_linkage.json") for name in shipped)
    assert "jingzhun = jingzhun.cli:console" in entry_points


def test_the_installed_demo_runs_outside_the_checkout_on_ones_own_rules(venv, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JINGZHUN_", "PYTHON", "VIRTUAL_ENV", "UV_"))}
    python = venv / "bin" / "python"

    # The code that runs is the installed one: nothing of the checkout is on the path.
    modules = [
        "jingzhun.cli",
        "jingzhun.core.rules",
        "jingzhun.flows.daily",
        "jingzhun.matching.link",
        "jingzhun.feedback.cases",
        "jingzhun.evaluation.metrics",
    ]
    where = json.loads(
        _run(
            python,
            "-c",
            "import importlib, json, sys; print(json.dumps({'path': sys.path, "
            f"'files': {{n: importlib.import_module(n).__file__ for n in {modules}}}}}))",
            cwd=elsewhere,
            env=env,
        ).stdout
    )
    site = next(venv.glob("lib/python3*/site-packages"))
    assert all(Path(file).is_relative_to(site) for file in where["files"].values()), where["files"]
    assert not any(entry and Path(entry).resolve().is_relative_to(ROOT) for entry in where["path"]), where["path"]

    # A user's rules folder, started from the installed rules: hotline work orders now due in 5 hours.
    own_rules = elsewhere / "my-rules"
    shutil.copytree(site / "jingzhun" / "rules", own_rules)
    screening = yaml.safe_load((own_rules / "screening.yaml").read_text(encoding="utf-8"))
    for rule in screening["rules"]:
        if rule["id"] == "HL01":
            rule["deadline_hours"] = 5
    (own_rules / "screening.yaml").write_text(yaml.safe_dump(screening, allow_unicode=True), encoding="utf-8")

    done = subprocess.run(
        [venv / "bin" / "jingzhun", "demo", "--persons", "300", "--out", "out", "--rules", "my-rules"],
        cwd=elsewhere,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        env={**env, "PREFECT_LOGGING_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stdout
    (run_dir,) = (elsewhere / "out").glob("20*-*-*")
    assert (run_dir / "report.html").is_file() and list((run_dir / "dispatch").glob("*.xlsx"))

    # Every step said how it went, before the final figures.
    lines = done.stdout.splitlines()
    figures = next(i for i, line in enumerate(lines) if line.startswith("outputs "))
    for step in ("ingest", "cleanse", "validate", "match", "screen", "dispatch", "report"):
        said = [i for i, line in enumerate(lines) if f"{step}: " in line and " rows in " in line]
        assert said and said[-1] < figures, step

    results = pl.read_parquet(run_dir / "match_results.parquet").explode("rule_ids")
    hotline = results.filter(pl.col("rule_ids") == "HL01")
    assert hotline.height > 0 and hotline["deadline_hours"].to_list() == [5] * hotline.height
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert (
        manifest["rule_versions"]["screening.yaml"]
        == hashlib.sha256((own_rules / "screening.yaml").read_bytes()).hexdigest()
    )
    assert manifest["code_version"] == f"jingzhun {version('jingzhun')}"  # no commit: not run from a checkout
