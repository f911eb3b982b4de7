"""Access to the declarative rules: the YAML files an auditor reads, and the data tables shipped with them.

Code interprets these files; it never carries its own copy of a threshold, alias or rule text. The rules in force
are those installed with the package, unless a user names a folder of their own (`--rules DIR`, or the
environment variable `JINGZHUN_RULES`). That choice is a setting of the process, kept in its environment, so that
every step of a run reads the same rules in whatever thread or worker process Prefect runs it; one process
therefore runs one set of rules at a time. Rules are read when they are used, never at import.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from jingzhun.core.errors import UserError

RULES_ENV = "JINGZHUN_RULES"


def _shipped(folder: str) -> Path:
    """A data folder shipped inside the package: `jingzhun/<folder>`, in a checkout as in the wheel."""
    return Path(str(files("jingzhun") / folder))


INSTALLED_RULES_DIR = _shipped("rules")
REFERENCE_DATA_DIR = _shipped("reference_data")
# The real division tables of China, read by the address parser and the district generator.
DIVISIONS_DIR = REFERENCE_DATA_DIR / "admin_divisions"


def chosen() -> Path | None:
    """The user's own rules folder in force, or None when the installed rules are."""
    folder = os.environ.get(RULES_ENV)
    return Path(folder) if folder else None


def rules_dir() -> Path:
    """The folder the rules in force are read from."""
    return chosen() or INSTALLED_RULES_DIR


def use(folder: Path | None) -> None:
    """Make `folder` the rules in force for this process and the processes it starts (None: leave them be)."""
    if folder is not None:
        os.environ[RULES_ENV] = str(Path(folder).resolve())


@contextmanager
def using(folder: Path | None) -> Iterator[None]:
    """`folder` in force for the body only (a step of a run), as it was before afterwards."""
    before = os.environ.get(RULES_ENV)
    use(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RULES_ENV, None)
        else:
            os.environ[RULES_ENV] = before


def check(folder: Path) -> Path:
    """`folder` when it can stand in for the installed rules: a readable YAML mapping for each of their files.
    A folder of one's own is complete, so that what a run applied is all in one place."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"rules folder not found: {folder} (规则目录不存在)")
    missing = [path.name for path in sorted(INSTALLED_RULES_DIR.glob("*.yaml")) if not (folder / path.name).is_file()]
    if missing:
        raise UserError(
            f"rules folder {folder} lacks {', '.join(missing)}; start from a copy of the installed "
            f"rules in {INSTALLED_RULES_DIR} (规则目录缺少文件)"
        )
    for path in sorted(folder.glob("*.yaml")):
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            reason = str(error).replace("\n", " ")
            raise UserError(f"rules file {path} cannot be read: {reason} (规则文件无法读取)") from error
        if not isinstance(content, dict):
            raise UserError(f"rules file {path} does not hold a mapping of settings (规则文件格式不对)")
    return folder


def load(name: str) -> dict[str, Any]:
    """The parsed content of `<name>.yaml` in the rules in force."""
    return _load(rules_dir(), name)


@cache
def _load(folder: Path, name: str) -> dict[str, Any]:
    with open(folder / f"{name}.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def versions() -> dict[str, str]:
    """sha256 of every rules file in force, so a run's manifest says exactly which rules produced it."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(rules_dir().glob("*.yaml"))}
