"""The analysts' notebooks run from top to bottom against a real run's outputs (the session's Prefect run)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["explore_matches", "trace_record"])
def test_notebook_runs_without_error(flow_run, name, monkeypatch):
    monkeypatch.setenv("JINGZHUN_RUN_DIR", str(flow_run[0]))
    monkeypatch.setenv("JINGZHUN_HOME", str(NOTEBOOKS.parent))
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    # The kernel inherits this process's environment, so it sees the variables set above.
    NotebookClient(book, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for cell in book.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
