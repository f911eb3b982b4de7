"""Model versions kept with the data: written once, activated on purpose, rolled back, listed; and the command."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from jingzhun.core.errors import UserError
from jingzhun.matching import versions

JINGZHUN = [sys.executable, "-m", "jingzhun.cli"]


def trained(folder, recall: float) -> versions.Model:
    """A version as the retrain saves it: the builtin model's parameters with notes of its own."""
    return versions.save(
        folder,
        versions.builtin().settings,
        {
            "trained_at": "2026-11-23T02:00:00",
            "m_from": "em",
            "labelled_pairs": 0,
            "figures": {"holdout": {"precision": 1.0, "recall": recall}, "labels": {}},
        },
    )


def test_versions_are_written_once_and_activated_and_rolled_back_on_purpose(tmp_path):
    folder = tmp_path / "models"
    assert versions.versions(folder) == ["builtin"] and versions.active(folder).version == "builtin"
    first, second = trained(folder, 0.99), trained(folder, 0.98)
    assert (first.version, second.version) == ("v1", "v2")
    assert versions.versions(folder) == ["builtin", "v1", "v2"]
    assert versions.active(folder).version == "builtin", "saving a version does not activate it"
    written = (folder / "v1.json").read_bytes()
    assert hashlib.sha256(written).hexdigest() == versions.load(folder, "v1").sha256
    assert json.loads(written)["jingzhun_training"]["version"] == "v1"

    versions.activate(folder, "v1", "retrain", "not worse")
    versions.activate(folder, "v2", "promote", "by an analyst")
    assert versions.active(folder).version == "v2"
    assert versions.rollback(folder) == "v1" and versions.active(folder).version == "v1"
    assert versions.rollback(folder) == "builtin"
    with pytest.raises(UserError, match="nothing to roll back"):
        versions.rollback(folder)
    with pytest.raises(UserError, match="no model version v7"):
        versions.activate(folder, "v7", "promote", "typo")
    log = [json.loads(line) for line in (folder / "activations.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["version"], e["action"]) for e in log] == [
        ("v1", "retrain"),
        ("v2", "promote"),
        ("v1", "rollback"),
        ("builtin", "rollback"),
    ]
    assert (folder / "v1.json").read_bytes() == written, "a version file is never rewritten"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*JINGZHUN, *args], capture_output=True, text=True, timeout=120)


def test_model_command_lists_promotes_and_rolls_back(tmp_path):
    out = tmp_path / "out"
    trained(versions.models_dir(out), 0.995)
    listed = run_cli("model", "list", "--out", str(out))
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {"builtin", "v1"} and rows["builtin"].split()[1] == "*"
    assert "100.00%/99.50%" in rows["v1"]

    assert run_cli("model", "promote", "v1", "--out", str(out)).stdout.strip() == "model v1 is active"
    assert versions.active(versions.models_dir(out)).version == "v1"
    assert run_cli("model", "rollback", "--out", str(out)).stdout.strip() == "model builtin is active"

    for args, message in (
        (("promote", "v5"), "no model version v5"),
        (("rollback",), "nothing to roll back"),
        (("train",), "no warehouse"),
    ):
        done = run_cli("model", *args, "--out", str(out))
        assert done.returncode == 2 and message in done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
