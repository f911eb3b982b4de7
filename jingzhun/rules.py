"""Access to the declarative rules in `rules/`: the YAML files an auditor reads.

Code interprets these files; it never carries its own copy of a threshold, alias or rule text.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
REFERENCE_DATA_DIR = Path(__file__).resolve().parent.parent / "reference_data"
# The real division tables of China, read by the address parser and the district generator.
DIVISIONS_DIR = REFERENCE_DATA_DIR / "admin_divisions"


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed content of `rules/<name>.yaml`."""
    with open(RULES_DIR / f"{name}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def versions() -> dict[str, str]:
    """sha256 of every rules file, so a run's manifest says exactly which rules produced it."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(RULES_DIR.glob("*.yaml"))
    }
