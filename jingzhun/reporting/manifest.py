"""`manifest.json`: every file a run wrote (rows, sha256), every input file, versions, and the reconciliation."""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.core import rules
from jingzhun.core.errors import UserError
from jingzhun.core.masking import scrub_text
from jingzhun.dispatch.encryption import PACKAGE_SUFFIX
from jingzhun.ingest.inbox import InputFile

MANIFEST_NAME = "manifest.json"
# Checksums are what they are; every other text (file names, error details) is scrubbed of ID numbers and phones.
CHECKSUM_KEYS = ("sha256", "rule_versions")


def count_rows(path: Path) -> int | None:
    """Data rows of a written table, read back from disk (so the manifest states what is there)."""
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return max(sum(1 for _ in csv.reader(f)) - 1, 0)
    if path.suffix == ".xlsx":
        return _xlsx_rows(path)
    return None


# The first sheet's XML as `jingzhun.dispatch.files` (xlsxwriter) names it in every workbook it writes.
FIRST_SHEET = "xl/worksheets/sheet1.xml"


def _xlsx_rows(path: Path) -> int:
    """Rows below the header of the first sheet, up to its last row that holds a cell, as a spreadsheet reads
    them: the row number of the sheet XML's last `<row>` with content (a row with no cells is written `<row …/>`).
    Only the sheet's XML is inflated, not its cells parsed: calamine took 12 s on a million-row day's work lists.
    A workbook laid out otherwise is read by calamine."""
    import zipfile

    with zipfile.ZipFile(path) as book:
        if FIRST_SHEET not in book.namelist():
            import fastexcel

            sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string")
            return max(sheet.height - 1, 0)
        xml = book.read(FIRST_SHEET)
    end = xml.rfind(b"</row>")
    if end < 0:
        return 0
    start = xml.rfind(b'<row r="', 0, end) + len(b'<row r="')
    return max(int(xml[start : xml.index(b'"', start)]) - 1, 0)


def inputs_fingerprint(inputs: list[InputFile]) -> str:
    """One checksum of the day's input files (their sources, names and contents, in any order of reading): the
    report states it instead of a clock time, so a rerun of the same inputs writes the same report."""
    lines = sorted(f"{f.source}/{f.name}\t{f.sha256}" for f in inputs)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def package_contents(path: Path) -> list[dict[str, Any]] | None:
    """The files in an encrypted package with their rows and sha256, so that a recipient who opened it can check
    each file; None when the package cannot be opened here."""
    from jingzhun.dispatch.encryption import PackageError, load_passwords, open_package

    try:
        members = open_package(path, load_passwords())
    except (PackageError, UserError):
        return None
    contents = []
    with tempfile.TemporaryDirectory(prefix="jingzhun-manifest-") as unpacked:
        for name, content in members:
            copy = Path(unpacked) / Path(name).name
            copy.write_bytes(content)
            contents.append(
                {
                    "path": name,
                    "rows": count_rows(copy),
                    "sha256": hashlib.sha256(content).hexdigest(),
                    "bytes": len(content),
                }
            )
    return contents


def write_manifest(
    run_dir: Path, *, run_date: str, code_version: str, inputs: list[InputFile], head: dict[str, Any]
) -> Path:
    outputs = [
        {
            "path": str(p.relative_to(run_dir)),
            "rows": count_rows(p),
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "bytes": p.stat().st_size,
            **({"contents": package_contents(p)} if p.suffix == PACKAGE_SUFFIX else {}),
        }
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    ]
    manifest = {
        "run_date": run_date,
        "code_version": code_version,
        "rule_versions": rules.versions(),
        "inputs": [asdict(f) for f in inputs],
        "inputs_fingerprint": inputs_fingerprint(inputs),
        "outputs": outputs,
        "reconciliation": {
            "input_rows": head["input_rows"],
            "result_rows": head["result_rows"],
            "outcomes": head["outcomes"],
            "balanced": head["input_rows"] == head["result_rows"] == sum(head["outcomes"].values()),
            "unreadable_files": head["unreadable_files"],
            # Rows of the files and sheets listed in `inputs` with an error_code, where they can be counted.
            "unread_rows": head["unread_rows"],
            "delivered_rows": head["input_rows"] + head["unread_rows"],
        },
        # Problems of the reference tables, counted before the run (jingzhun/rules/reference_checks.yaml).
        "reference_checks": head.get("reference_checks", []),
        "headline": {k: v for k, v in head.items() if k != "reference_checks"},
    }
    path = run_dir / MANIFEST_NAME
    path.write_text(json.dumps(_scrubbed(manifest), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def _scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v if k in CHECKSUM_KEYS else _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return scrub_text(value)
