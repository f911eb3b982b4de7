"""`manifest.json`: every file a run wrote (rows, sha256), every input file, versions, and the reconciliation."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from ingest.inbox import InputFile
from jingzhun import rules

MANIFEST_NAME = "manifest.json"


def count_rows(path: Path) -> int | None:
    """Data rows of a written table, read back from disk (so the manifest states what is there)."""
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return max(sum(1 for _ in csv.reader(f)) - 1, 0)
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        try:
            return max(book.worksheets[0].max_row - 1, 0)
        finally:
            book.close()
    return None


def inputs_fingerprint(inputs: list[InputFile]) -> str:
    """One checksum of the day's input files (their sources, names and contents, in any order of reading): the
    report states it instead of a clock time, so a rerun of the same inputs writes the same report."""
    lines = sorted(f"{f.source}/{f.name}\t{f.sha256}" for f in inputs)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def write_manifest(run_dir: Path, *, run_date: str, code_version: str, inputs: list[InputFile],
                   head: dict[str, Any]) -> Path:
    outputs = [
        {"path": str(p.relative_to(run_dir)), "rows": count_rows(p),
         "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
        for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != MANIFEST_NAME
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
        "headline": head,
    }
    path = run_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path
