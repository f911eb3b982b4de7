"""What one run is: its inputs, its date and where it writes. Passed from step to step instead of data."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.metadata import version
from pathlib import Path


@dataclass(frozen=True)
class Run:
    inbox: Path
    reference: Path
    out: Path
    run_date: date
    mapping: Path | None = None
    rules: Path | None = None  # a folder of the user's own rules; None for the installed ones

    @property
    def dir(self) -> Path:
        return self.out / self.run_date.isoformat()

    @property
    def warehouse(self) -> Path:
        """One warehouse per output folder, shared by all run dates: the report reads the trend from it."""
        return self.out / "warehouse.duckdb"


@cache
def code_version() -> str:
    """The package version and, in a checkout, the commit (with `+dirty` when files differ from it)."""
    described = f"jingzhun {version('jingzhun')}"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return described
    return f"{described} ({commit}{'+dirty' if dirty else ''})"
