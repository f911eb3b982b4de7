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
from jingzhun import rules
from jingzhun.errors import UserError
from jingzhun.run import Run, code_version
from jingzhun.warehouse import connect, read_run, replace_latest, replace_run
from matching.reference import load_reference


def check_inputs(run: Run) -> None:
    """Fail fast, before any work, when the run cannot be done: a missing inbox, reference table, mapping or
    rules file."""
    if run.rules is not None:
        rules.check(run.rules)
    if not run.inbox.is_dir():
        raise UserError(f"inbox folder not found: {run.inbox}")
    load_reference(run.reference, header_only=True)
    HeaderMapping.load(run.mapping)


def prepare(run: Run) -> None:
    """Check the inputs and start the day's output folder afresh, so that a rerun leaves no stale file."""
    check_inputs(run)
    if run.dir.exists():
        shutil.rmtree(run.dir)
    run.dir.mkdir(parents=True)


def feedback(run: Run) -> dict[str, int]:
    """Read the work lists staff returned to `INBOX/feedback/`, check each line, store what they said; lines
    that cannot close a case are listed in `feedback/issues.csv` of the run."""
    from dispatch.files import write_csv
    from feedback.cases import check, labels
    from feedback.returned import issues_table, read_returned
    from matching.review import read_decisions

    person_labels, unreadable_decisions = read_decisions(run.inbox)
    with connect(run.warehouse) as con:
        checked = check(con, read_returned(run.inbox), run.run_date)
        replace_run(con, "feedback", run.run_date, checked)
        replace_run(con, "feedback_labels", run.run_date, labels(con, checked))
        # Analysts' decisions on person pairs: labels for the weekly retrain.
        replace_run(con, "person_labels", run.run_date, person_labels)
    if not checked.is_empty():
        write_csv(run.dir / "feedback" / "issues.csv", issues_table(checked))
    return {"returned_lines": checked.height, "issues": checked["issue"].is_not_null().sum(),
            "person_labels": person_labels.height, "unreadable_decisions": unreadable_decisions}


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
    from matching.link import standardize_reference
    from matching.reference import gazetteer

    fields = HeaderMapping.load(run.mapping).all_fields()
    reference = load_reference(run.reference)
    with connect(run.warehouse) as con:
        # The reference's own names read the day's addresses first; standardized once and cached for matching.
        houses, _ = standardize_reference(con, reference)
        standard = cleanse_records(read_run(con, "raw_records", run.run_date), fields,
                                   gazetteer(houses, reference.grid))
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
        matching = match_records(con, read_run(con, "standard_records", run.run_date), reference)
        matched = matching.matched
        replace_run(con, "matches", run.run_date, matched)
        # What the model compared, kept for the weekly retrain and for analysts.
        replace_run(con, "person_features_records", run.run_date, matching.record_features)
        replace_latest(con, "person_features_population", run.run_date, matching.population_features)
        replace_run(con, "person_candidates", run.run_date, matching.candidates)
    return {"person_matched": matched["person_id"].is_not_null().sum(),
            "routed": matched["committee_code"].is_not_null().sum()}


def screen(run: Run) -> dict[str, int]:
    from feedback.cases import open_cases
    from screening.outcome import decide
    from screening.rules import screen as screen_records

    with connect(run.warehouse) as con:
        standard = read_run(con, "standard_records", run.run_date)
        screened = screen_records(con, standard, run.run_date)
        decided = decide(standard, read_run(con, "matches", run.run_date), screened, run.run_date,
                         open_cases(con, run.run_date))
        replace_run(con, "match_results", run.run_date, decided)
    return dict(decided.group_by("outcome").len().iter_rows())


def dispatch(run: Run) -> dict[str, int]:
    from dispatch.packages import (
        case_table,
        quarantine_rows,
        unreadable_files,
        work_list,
        write_dispatch,
        write_person_candidates,
        write_quarantine,
        write_review,
    )
    from matching.review import candidate_rows

    reference = load_reference(run.reference)
    fields = HeaderMapping.load(run.mapping).all_fields()
    with connect(run.warehouse) as con:
        decided = read_run(con, "match_results", run.run_date)
        standard = read_run(con, "standard_records", run.run_date)
        raw = read_run(con, "raw_records", run.run_date)
        files = _input_files(con, run)
        candidates = read_run(con, "person_candidates", run.run_date)
        cases = case_table(decided, run.run_date)
        replace_run(con, "cases", run.run_date, cases)
    decided.drop("record_id").write_parquet(run.dir / "match_results.parquet")
    rows = work_list(cases, decided, standard, reference.housing, run.run_date)
    written = write_dispatch(run.dir, rows, run.run_date)
    write_review(run.dir, decided, standard, run.run_date)
    persons = reference.population.join(reference.housing.select("house_id", "address"), on="house_id", how="left")
    write_person_candidates(run.dir, candidate_rows(candidates, decided, standard, persons, run.run_date),
                            run.run_date)
    write_quarantine(run.dir, quarantine_rows(decided, raw, fields), unreadable_files(files))
    return {"dispatch_files": len(written), "cases": rows.height}


def report(run: Run) -> dict[str, Any]:
    from dispatch.packages import issued_at, quarantine_rows, unreadable_files
    from feedback.cases import closed_cases, open_cases
    from reporting import figures
    from reporting.html import render_report
    from reporting.manifest import write_manifest
    from reporting.quality import quality_section

    mapping = HeaderMapping.load(run.mapping)
    with connect(run.warehouse) as con:
        decided = read_run(con, "match_results", run.run_date)
        standard = read_run(con, "standard_records", run.run_date)
        raw = read_run(con, "raw_records", run.run_date)
        validation = read_run(con, "validation_results", run.run_date)
        files = _input_files(con, run)
        closed = closed_cases(con, run.run_date)
        disposal = figures.disposal_by_subdistrict(closed, open_cases(con, run.run_date, before=False),
                                                   issued_at(run.run_date))
        returned = read_run(con, "feedback", run.run_date)
        head = {**figures.headline(decided, files),
                **figures.case_figures(read_run(con, "cases", run.run_date), run.run_date, closed),
                "disposal_by_subdistrict": disposal.to_dicts()}
        summary = pl.DataFrame([{
            "input_rows": head["input_rows"], **head["outcomes"],
            "person_match_rate": head["person_match_rate"], "routing_rate": head["routing_rate"],
            **{k: head[k] for k in ("cases", "continued_cases", "closed_cases", "disposal_median_hours",
                                    "within_deadline")},
        }], schema_overrides={"disposal_median_hours": pl.Float64, "within_deadline": pl.Float64})
        replace_run(con, "run_summary", run.run_date, summary)
        trend = con.sql("SELECT * FROM run_summary WHERE run_date <= ? ORDER BY run_date DESC LIMIT 30",
                        params=[run.run_date]).pl().reverse()
    render_report(
        run.dir / "report.html", run_date=run.run_date, code_version=code_version(), head=head,
        by_source=figures.by_group(decided, "source"),
        by_method=figures.by_group(decided, "match_method"),
        by_subdistrict=figures.by_group(decided, "subdistrict_name"),
        quality=quality_section(standard, mapping.fields),
        validation=validation,
        quarantine=quarantine_rows(decided, raw, mapping.all_fields()),
        unreadable=unreadable_files(files),
        trend=trend,
        disposal=disposal,
        disposal_distribution=figures.disposal_distribution(closed),
        feedback_issues=returned.filter(pl.col("issue").is_not_null()),
        returned_lines=returned.height,
    )
    write_manifest(run.dir, run_date=run.run_date.isoformat(), code_version=code_version(), inputs=files, head=head)
    return head


def _input_files(con: Any, run: Run) -> list[InputFile]:
    return [InputFile(**row) for row in read_run(con, "input_files", run.run_date).iter_rows(named=True)]
