"""The steps of the daily run as plain functions of a `Run`: ingest, cleanse, validate, match, screen, dispatch,
report. Each reads what earlier steps left in the warehouse and stores its own result there; data flows one
way and no step reaches back. Testable without Prefect."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from typing import Any

import polars as pl

from ingest.inbox import InputFile, read_inbox
from ingest.mapping import HeaderMapping
from jingzhun.errors import UserError
from jingzhun.run import Run, code_version
from jingzhun.warehouse import connect, read_run, replace_run
from matching.reference import load_reference


def check_inputs(run: Run) -> None:
    """Fail fast, before any work, when the run cannot be done: a missing inbox, reference table or mapping."""
    if not run.inbox.is_dir():
        raise UserError(f"inbox folder not found: {run.inbox}")
    load_reference(run.reference)
    HeaderMapping.load(run.mapping)


def prepare(run: Run) -> None:
    """Check the inputs and start the day's output folder afresh, so that a rerun leaves no stale file."""
    check_inputs(run)
    if run.dir.exists():
        shutil.rmtree(run.dir)
    run.dir.mkdir(parents=True)


def ingest(run: Run) -> dict[str, int]:
    inbox = read_inbox(run.inbox, HeaderMapping.load(run.mapping))
    files = pl.DataFrame([asdict(f) for f in inbox.files],
                         schema={**{k: pl.Utf8 for k in InputFile.__dataclass_fields__}, "bytes": pl.Int64,
                                 "data_rows": pl.Int64})
    with connect(run.warehouse) as con:
        replace_run(con, "raw_records", run.run_date, inbox.records)
        replace_run(con, "input_files", run.run_date, files)
    return {"files": len(inbox.files), "rows": inbox.records.height}


def cleanse(run: Run) -> dict[str, int]:
    from cleansing.pipeline import cleanse as cleanse_records

    fields = HeaderMapping.load(run.mapping).all_fields()
    with connect(run.warehouse) as con:
        standard = cleanse_records(read_run(con, "raw_records", run.run_date), fields)
        replace_run(con, "standard_records", run.run_date, standard)
    return {"rows": standard.height, "quarantined": standard["quarantine_code"].is_not_null().sum()}


def validate(run: Run) -> dict[str, int]:
    from validation.suites import validate as run_suites

    with connect(run.warehouse) as con:
        results = run_suites(read_run(con, "standard_records", run.run_date))
        replace_run(con, "validation_results", run.run_date, results)
    return {"expectations": results.height, "failed": (~results["success"]).sum()}


def match(run: Run) -> dict[str, int]:
    from matching.link import match as match_records

    reference = load_reference(run.reference)
    with connect(run.warehouse) as con:
        matched = match_records(con, read_run(con, "standard_records", run.run_date), reference)
        replace_run(con, "matches", run.run_date, matched)
    return {"person_matched": matched["person_id"].is_not_null().sum(),
            "routed": matched["committee_code"].is_not_null().sum()}


def screen(run: Run) -> dict[str, int]:
    from screening.outcome import decide
    from screening.rules import screen as screen_records

    with connect(run.warehouse) as con:
        standard = read_run(con, "standard_records", run.run_date)
        screened = screen_records(con, standard, run.run_date)
        decided = decide(standard, read_run(con, "matches", run.run_date), screened, run.run_date)
        replace_run(con, "match_results", run.run_date, decided)
    return dict(decided.group_by("outcome").len().iter_rows())


def dispatch(run: Run) -> dict[str, int]:
    from dispatch.packages import (
        dispatch_rows,
        quarantine_rows,
        unreadable_files,
        write_dispatch,
        write_quarantine,
        write_review,
    )

    reference = load_reference(run.reference)
    fields = HeaderMapping.load(run.mapping).all_fields()
    with connect(run.warehouse) as con:
        decided = read_run(con, "match_results", run.run_date)
        standard = read_run(con, "standard_records", run.run_date)
        raw = read_run(con, "raw_records", run.run_date)
        files = _input_files(con, run)
    decided.drop("record_id").write_parquet(run.dir / "match_results.parquet")
    rows = dispatch_rows(decided, standard, reference.housing, run.run_date)
    written = write_dispatch(run.dir, rows, run.run_date)
    write_review(run.dir, decided, standard, run.run_date)
    write_quarantine(run.dir, quarantine_rows(decided, raw, fields), unreadable_files(files))
    return {"dispatch_files": len(written), "dispatched_rows": rows.height}


def report(run: Run) -> dict[str, Any]:
    from dispatch.packages import quarantine_rows, unreadable_files
    from reporting import figures
    from reporting.html import render_report
    from reporting.manifest import write_manifest

    mapping = HeaderMapping.load(run.mapping)
    with connect(run.warehouse) as con:
        decided = read_run(con, "match_results", run.run_date)
        standard = read_run(con, "standard_records", run.run_date)
        raw = read_run(con, "raw_records", run.run_date)
        validation = read_run(con, "validation_results", run.run_date)
        files = _input_files(con, run)
        head = figures.headline(decided, files)
        summary = pl.DataFrame([{
            "input_rows": head["input_rows"], **head["outcomes"],
            "person_match_rate": head["person_match_rate"], "routing_rate": head["routing_rate"],
        }])
        replace_run(con, "run_summary", run.run_date, summary)
        trend = con.sql("SELECT * FROM run_summary ORDER BY run_date DESC LIMIT 30").pl()
    render_report(
        run.dir / "report.html", run_date=run.run_date, code_version=code_version(), head=head,
        by_source=figures.by_group(decided, "source"),
        by_method=figures.by_group(decided, "match_method"),
        by_subdistrict=figures.by_group(decided, "subdistrict_name"),
        quality=figures.field_quality(standard, mapping.fields),
        id_status=figures.status_counts(standard, "id_number"),
        validation=validation,
        quarantine=quarantine_rows(decided, raw, mapping.all_fields()),
        unreadable=unreadable_files(files),
        trend=trend,
    )
    write_manifest(run.dir, run_date=run.run_date.isoformat(), code_version=code_version(), inputs=files, head=head)
    return head


def _input_files(con: Any, run: Run) -> list[InputFile]:
    return [InputFile(**row) for row in read_run(con, "input_files", run.run_date).iter_rows(named=True)]
