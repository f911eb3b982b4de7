"""The digest of the code and tables a kept result was made by, so that a cache is read back only by the code
that would make the same result.

Two caches of the warehouse outlive a run: the parsed addresses (`jingzhun/cleansing/parse_store.py`) and the
standardized reference (`jingzhun/matching/standardized.py`). Each names the source files its results run through; both
read the division tables and normalize text through OpenCC, pypinyin and Python's Unicode tables, so those are
always part of the digest: an upgrade of any of them makes the result anew, once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from jingzhun.core.rules import DIVISIONS_DIR

_TEXT_LIBRARIES = ("OpenCC", "pypinyin")


def code_digest(files: Iterable[Path], *parts: str) -> str:
    """sha256 of `files` (name and content, in the order given), the division tables, the versions of Python,
    Unicode and the text libraries, and `parts` (settings the result depends on besides the code)."""
    digest = hashlib.sha256()
    for path in [*files, *sorted(DIVISIONS_DIR.glob("*.csv"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    versions = [sys.version, unicodedata.unidata_version, *map(importlib.metadata.version, _TEXT_LIBRARIES)]
    for part in (*versions, *parts):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()
