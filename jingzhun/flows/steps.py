"""The steps of the daily run as plain functions of a `Run`: ingest, cleanse, validate, match, screen, dispatch,
report. Each reads what earlier steps left in the warehouse and stores its own result there; data flows one
way and no step reaches back. Testable without Prefect."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import asdict
from typing import Any

import polars as pl

from jingzhun.core import progress, rules
from jingzhun.core.errors import ReconciliationError, UserError
from jingzhun.core.run import Run, code_version
from jingzhun.core.warehouse import connect, has_table, read_run, replace_latest, replace_run
from jingzhun.flows.cluster import dask_address, on_dask, worker_threads
from jingzhun.ingest.inbox import Delivery, InputFile, read_inbox
from jingzhun.ingest.mapping import HeaderMapping
from jingzhun.matching.reference import check_reference, failed_checks_message, load_reference, subdistrict_codes


def check_inputs(run: Run) -> pl.DataFrame:
    """Fail fast, before any work, when the run cannot be done: a missing inbox, reference table or mapping, a
    reference whose checks (`jingzhun/rules/reference_checks.yaml`) are above their limits, or packages to encrypt
    without a password for every subdistrict, or a rules file that cannot be read, or a Dask cluster for the match
    stage that cannot be reached. Returns the reference checks, for the report."""
    if run.rules is not None:
        rules.check(run.rules)
    if not run.inbox.is_dir():
        raise UserError(f"inbox folder not found: {run.inbox} (收件目录不存在)")
    checks = reference_checks(run)
    failed = failed_checks_message(checks)
    if failed:
        raise UserError(failed)
    HeaderMapping.load(run.mapping)
    _package_passwords(run)
    address = dask_address(run.dask_address)
    if address:
        worker_threads(address)
    return checks


# The last reference checks of an output folder, with the key they were counted under (`_checks_key`).
CHECKS_CACHE = ".reference_checks.parquet"
_checked: dict[str, pl.DataFrame] = {}  # this process's checks by key: the CLI's before Prefect starts, then prepare's


def reference_checks(run: Run) -> pl.DataFrame:
    """`check_reference` of the run's reference, counted once per content of its files and of the check rules:
    scanning ten million persons takes seconds, and the reference changes far less often than the day. The last
    result is kept in `OUT/.reference_checks.parquet` (`prepare` writes it) and in this process."""
    key = _checks_key(run.reference)
    if key not in _checked:
        cache = run.out / CHECKS_CACHE
        try:
            cached = pl.read_parquet(cache) if cache.is_file() else None
        except (pl.exceptions.PolarsError, OSError):  # a cache that cannot be read is counted again
            cached = None
        if cached is not None and cached["key"].eq(key).all() and not cached.is_empty():
            _checked[key] = cached.drop("key")
        else:
            _checked[key] = check_reference(run.reference)
    return _checked[key]


def _keep_reference_checks(run: Run, checks: pl.DataFrame) -> None:
    """Write what `reference_checks` read, unless the file holds it already; replaced whole (a rename), so a run
    killed here leaves the previous file or none."""
    key = _checks_key(run.reference)
    cache = run.out / CHECKS_CACHE
    try:
        if cache.is_file() and pl.read_parquet(cache, columns=["key"])["key"].eq(key).all():
            return
    except (pl.exceptions.PolarsError, OSError):
        pass
    partial = cache.with_name(cache.name + ".partial")
    cache.parent.mkdir(parents=True, exist_ok=True)
    checks.with_columns(key=pl.lit(key)).write_parquet(partial)
    partial.replace(cache)


def _checks_key(folder: Any) -> str:
    """sha256 over the reference files' contents (`Reference.fingerprint`) and the check rules they are counted by.
    Memoized per file state, so that a run hashes its reference once however often it asks."""
    reference = load_reference(folder, header_only=True)  # a missing table or column is said here, plainly
    states = tuple((name, str(path.resolve()), *_state(path)) for name, path in sorted(reference.files.items()))
    checks_rules = json.dumps(rules.load("reference_checks"), sort_keys=True, default=str)
    if (states, checks_rules) not in _keys:
        _keys[states, checks_rules] = hashlib.sha256(f"{reference.fingerprint()}:{checks_rules}".encode()).hexdigest()
    return _keys[states, checks_rules]


_keys: dict[tuple[Any, str], str] = {}  # `_checks_key` by the files' states and the check rules


def _state(path: Any) -> tuple[int, ...]:
    stat = path.stat()  # what make and rsync trust to say a file is unchanged
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _package_passwords(run: Run) -> Any:
    """The subdistricts' passwords when packages are encrypted (`jingzhun/rules/packages.yaml`), else None; a passwords
    file that is named but unusable is said even when they are not (returned packages are opened with it)."""
    from jingzhun.dispatch.encryption import load_passwords, require_passwords

    load_passwords(run.out)
    return require_passwords(run.out, subdistrict_codes(run.reference))


def prepare(run: Run) -> None:
    """Check the inputs and start the day's folder afresh, beside the published day, so that a rerun leaves no
    stale file and the previous good day stays in place until this one is complete. Runs under the lock."""
    checks = check_inputs(run)
    _keep_reference_checks(run, checks)
    with connect(run.warehouse) as con:  # the report shows them
        replace_run(con, "reference_checks", run.run_date, checks)
    if run.set_aside.exists():  # a run killed in the middle of `publish`
        if run.day_dir.exists():
            shutil.rmtree(run.set_aside)
        else:
            run.set_aside.rename(run.day_dir)
    if run.dir.exists():  # what a killed run had written
        shutil.rmtree(run.dir)
    run.dir.mkdir(parents=True)


def feedback(run: Run) -> dict[str, int]:
    """Read the work lists staff returned to `INBOX/feedback/`, check each line, store what they said; lines
    that cannot close a case are listed in `feedback/issues.csv` of the run."""
    from jingzhun.dispatch.encryption import load_passwords
    from jingzhun.dispatch.files import write_csv
    from jingzhun.feedback.cases import check, labels
    from jingzhun.feedback.returned import issues_table, read_returned
    from jingzhun.matching.review import read_decisions

    person_labels, unreadable_decisions = read_decisions(run.inbox)
    with connect(run.warehouse) as con:
        checked = check(con, read_returned(run.inbox, load_passwords(run.out)), run.run_date)
        replace_run(con, "feedback", run.run_date, checked)
        replace_run(con, "feedback_labels", run.run_date, labels(con, checked))
        # Analysts' decisions on person pairs: labels for the weekly retrain.
        replace_run(con, "person_labels", run.run_date, person_labels)
    if not checked.is_empty():
        write_csv(run.dir / "feedback" / "issues.csv", issues_table(checked))
    return {
        "returned_lines": checked.height,
        "issues": checked["issue"].is_not_null().sum(),
        "person_labels": person_labels.height,
        "unreadable_decisions": unreadable_decisions,
    }


def ingest(run: Run) -> dict[str, int]:
    """Read the inbox; a file already read on an earlier day into this OUT (same content) is listed, not read."""
    with connect(run.warehouse) as con:
        delivered = _earlier_deliveries(con, run)
    inbox = read_inbox(run.inbox, HeaderMapping.load(run.mapping), delivered)
    files = pl.DataFrame(
        [asdict(f) for f in inbox.files],
        schema={
            **{k: pl.Utf8 for k in InputFile.__dataclass_fields__},
            "bytes": pl.Int64,
            "data_rows": pl.Int64,
            "unread_rows": pl.Int64,
        },
    )
    with connect(run.warehouse) as con:
        replace_run(con, "raw_records", run.run_date, inbox.records)
        replace_run(con, "input_files", run.run_date, files)
    return {
        "files": len(inbox.files),
        "rows": inbox.records.height,
        "not_read": sum(f.error_code is not None for f in inbox.files),
    }


def _earlier_deliveries(con: Any, run: Run) -> dict[str, Delivery]:
    """The content (sha256) of every file read on a day before this one, with the first day and its rows."""
    if not has_table(con, "input_files"):
        return {}
    read = con.execute(
        "SELECT sha256, run_date, min(source || '/' || name), sum(data_rows) FROM input_files "
        "WHERE run_date < ? AND sha256 IS NOT NULL AND error_code IS NULL "
        "GROUP BY sha256, run_date ORDER BY run_date DESC",
        [run.run_date],
    ).fetchall()
    return {sha256: Delivery(f"{day.isoformat()} {where}", rows) for sha256, day, where, rows in read}


def cleanse(run: Run) -> dict[str, int]:
    from jingzhun.cleansing.parse_store import AddressParses
    from jingzhun.cleansing.pipeline import cleanse as cleanse_records
    from jingzhun.matching.reference import gazetteer
    from jingzhun.matching.standardized import standardize_houses

    fields = HeaderMapping.load(run.mapping).all_fields()
    # The population is the match's; the houses are read only if their standardized form is not kept yet.
    reference = load_reference(run.reference, read=("grid", "housing"), later=("housing",))
    with connect(run.warehouse) as con:
        # The reference's own names read the day's addresses first; standardized once and cached for matching.
        progress.doing("the standardized houses (parsed and cached when the grid or housing file changed)")
        houses = standardize_houses(con, reference, ("addr_community", "addr_road"))
        # An address parsed on an earlier day (under the same parser and register) is read back, not parsed.
        standard = cleanse_records(
            read_run(con, "raw_records", run.run_date), fields, gazetteer(houses, reference.grid), AddressParses(con)
        )
        replace_run(con, "standard_records", run.run_date, standard)
    return {"rows": standard.height, "quarantined": standard["quarantine_code"].is_not_null().sum()}


def validate(run: Run) -> dict[str, int]:
    from jingzhun.validation.suites import read_columns
    from jingzhun.validation.suites import validate as run_suites

    with connect(run.warehouse) as con:
        results = run_suites(read_run(con, "standard_records", run.run_date, read_columns()))
        replace_run(con, "validation_results", run.run_date, results)
    return {"expectations": results.height, "failed": (~results["success"]).sum()}


def match(run: Run) -> dict[str, int]:
    from jingzhun.matching import versions
    from jingzhun.matching.link import RECORD_COLUMNS
    from jingzhun.matching.link import match as match_records

    # The population and the houses are read only if their standardized form is not in the warehouse yet.
    reference = load_reference(run.reference, later=("population", "housing"))
    model = versions.active(versions.models_dir(run.out))  # the version in force; the builtin one on a first day
    partitions = None
    if run.dask_address:  # the parts on a Dask cluster, their files where its workers see the output folder
        partitions = on_dask(run.dask_address, run.out / f".{run.run_date.isoformat()}.match-parts")
    with connect(run.warehouse) as con:
        standard = read_run(con, "standard_records", run.run_date, RECORD_COLUMNS)
        matching = match_records(con, standard, reference, model, partitions)
        matched = matching.matched
        replace_run(con, "matches", run.run_date, matched)
        # What the model compared, kept for the weekly retrain and for analysts.
        replace_run(con, "person_features_records", run.run_date, matching.record_features)
        population = matching.population_features  # in the warehouse already: copied there, once per reference
        replace_latest(
            con,
            "person_features_population",
            run.run_date,
            population.sql(),
            digest=f"reference:{population.fingerprint}",
        )
        replace_run(con, "person_candidates", run.run_date, matching.candidates)
    return {
        "person_matched": matched["person_id"].is_not_null().sum(),
        "routed": matched["committee_code"].is_not_null().sum(),
    }


def screen(run: Run) -> dict[str, int]:
    from jingzhun.feedback.cases import open_cases
    from jingzhun.screening.outcome import decide
    from jingzhun.screening.rules import screen as screen_records

    with connect(run.warehouse) as con:
        standard = read_run(con, "standard_records", run.run_date)
        screened = screen_records(con, standard, run.run_date)
        decided = decide(
            standard, read_run(con, "matches", run.run_date), screened, run.run_date, open_cases(con, run.run_date)
        )
        replace_run(con, "match_results", run.run_date, decided)
    return dict(decided.group_by("outcome").len().iter_rows())


def dispatch(run: Run) -> dict[str, int]:
    from jingzhun.dispatch.packages import (
        RECORD_COLUMNS,
        case_table,
        quarantine_rows,
        unreadable_files,
        work_list,
        write_dispatch,
        write_person_candidates,
        write_quarantine,
        write_review,
    )
    from jingzhun.matching.review import candidate_rows

    reference = load_reference(run.reference, later=("population", "housing"))
    fields = HeaderMapping.load(run.mapping).all_fields()
    with connect(run.warehouse) as con:
        decided = read_run(con, "match_results", run.run_date)
        standard = read_run(con, "standard_records", run.run_date, RECORD_COLUMNS)
        raw = _quarantined_raw(con, run)
        files = _input_files(con, run)
        candidates = read_run(con, "person_candidates", run.run_date)
        cases = case_table(decided, run.run_date)
        replace_run(con, "cases", run.run_date, cases)
    decided.drop("record_id").write_parquet(run.dir / "match_results.parquet")
    # Only the persons some record was compared with (a few thousand of millions), and the houses of the cases and
    # of those persons, read in one pass over the housing file.
    persons = reference.persons_of(candidates["person_id"])
    houses = reference.houses_of(pl.concat([cases["house_id"], persons["house_id"]]))
    rows = work_list(cases, decided, standard, houses, run.run_date)
    written = write_dispatch(run.dir, rows, run.run_date, _package_passwords(run))
    progress.doing("the review, person candidate and quarantine files")
    write_review(run.dir, decided, standard, run.run_date)
    persons = persons.join(houses.select("house_id", "address"), on="house_id", how="left")
    write_person_candidates(run.dir, candidate_rows(candidates, decided, standard, persons, run.run_date), run.run_date)
    write_quarantine(run.dir, quarantine_rows(decided, raw, fields), unreadable_files(files))
    return {"dispatch_files": len(written), "cases": rows.height}


def report(run: Run) -> dict[str, Any]:
    from jingzhun.dispatch.packages import issued_at, quarantine_rows, unreadable_files
    from jingzhun.feedback.cases import closed_cases, open_cases
    from jingzhun.reporting import figures, history
    from jingzhun.reporting.html import render_report
    from jingzhun.reporting.manifest import inputs_fingerprint, write_manifest
    from jingzhun.reporting.quality import NOT_READ, quality_section, write_findings

    mapping = HeaderMapping.load(run.mapping)
    with connect(run.warehouse) as con:
        decided = read_run(con, "match_results", run.run_date)
        standard = read_run(con, "standard_records", run.run_date, without=NOT_READ)
        raw = _quarantined_raw(con, run)
        validation = read_run(con, "validation_results", run.run_date)
        files = _input_files(con, run)
        closed = closed_cases(con, run.run_date)
        still_open = open_cases(con, run.run_date, before=False)
        disposal = figures.disposal_by_subdistrict(closed, still_open, issued_at(run.run_date))
        returned = read_run(con, "feedback", run.run_date)
        head = {
            **figures.headline(decided, files),
            "reference_checks": read_run(con, "reference_checks", run.run_date).to_dicts(),
            **figures.case_figures(read_run(con, "cases", run.run_date), run.run_date, closed),
            "disposal_by_subdistrict": disposal.to_dicts(),
            # Which person-linkage model version decided the day's matches (`jingzhun model list`).
            "model_version": ", ".join(sorted(decided["model_version"].drop_nulls().unique())) or None,
        }
        summary = pl.DataFrame(
            [
                {
                    "input_rows": head["input_rows"],
                    **head["outcomes"],
                    "person_match_rate": head["person_match_rate"],
                    "routing_rate": head["routing_rate"],
                    **{
                        k: head[k]
                        for k in (
                            "cases",
                            "continued_cases",
                            "closed_cases",
                            "disposal_median_hours",
                            "within_deadline",
                        )
                    },
                }
            ],
            schema_overrides={"disposal_median_hours": pl.Float64, "within_deadline": pl.Float64},
        )
        replace_run(con, "run_summary", run.run_date, summary)
        by_source = figures.by_group(decided, "source")
        # The cases the feedback read today closed: the disposal time of the day, for the trend.
        closed_before = closed_cases(con, run.run_date - dt.timedelta(days=1)).select("dispatch_id")
        history.store_day(
            con,
            run.run_date,
            by_source=by_source,
            fields=figures.field_quality(standard, mapping.fields),
            disposal=figures.disposal_by_subdistrict(
                closed.join(closed_before, on="dispatch_id", how="anti"), still_open, issued_at(run.run_date)
            ),
        )
        past = history.load(con, run.run_date)
    head["alerts"] = [str(alert) for alert in past.alerts]
    quality = quality_section(standard, mapping.fields)
    write_findings(run.dir, quality)
    render_report(
        run.dir / "report.html",
        run_date=run.run_date,
        inputs_fingerprint=inputs_fingerprint(files),
        code_version=code_version(),
        head=head,
        by_source=by_source,
        by_method=figures.by_group(decided, "match_method"),
        by_subdistrict=figures.by_group(decided, "subdistrict_name"),
        quality=quality,
        validation=validation,
        quarantine=quarantine_rows(decided, raw, mapping.all_fields()),
        unreadable=unreadable_files(files),
        disposal=disposal,
        disposal_distribution=figures.disposal_distribution(closed),
        feedback_issues=returned.filter(pl.col("issue").is_not_null()),
        returned_lines=returned.height,
        history=past,
    )
    write_manifest(run.dir, run_date=run.run_date.isoformat(), code_version=code_version(), inputs=files, head=head)
    return head


def _quarantined_raw(con: Any, run: Run) -> pl.DataFrame:
    """The raw rows of the day's quarantined records, all that `quarantine_rows` reads of them: a day has a million
    raw rows, read whole they took seconds and a gigabyte for a few thousand."""
    return con.sql(
        "SELECT * EXCLUDE (run_date) FROM raw_records WHERE run_date = $day AND record_id IN "
        "(SELECT record_id FROM match_results WHERE run_date = $day AND outcome = 'quarantined')",
        params={"day": run.run_date},
    ).pl()


def _input_files(con: Any, run: Run) -> list[InputFile]:
    return [InputFile(**row) for row in read_run(con, "input_files", run.run_date).iter_rows(named=True)]


def reconcile(run: Run) -> dict[str, int]:
    """The run's own account, checked at its end and not only by the tests: every row read from the inbox has
    exactly one outcome, in the warehouse and in the files written, and whatever was not read is listed in the
    manifest. A run whose account does not add up fails (`ReconciliationError`): outputs that lost a row must
    not pass for a good day."""
    import json

    from jingzhun.reporting.manifest import MANIFEST_NAME, count_rows

    with connect(run.warehouse) as con:
        files = _input_files(con, run)
        results = con.sql(
            "SELECT source, source_file, count(*) AS rows, count(DISTINCT source_row) AS distinct_rows, "
            "min(source_row) AS first, max(source_row) AS last, count(outcome) AS decided "
            "FROM match_results WHERE run_date = ? GROUP BY ALL",
            params=[run.run_date],
        ).fetchall()
    problems = []
    read = {(f.source, f.name): f.data_rows for f in files if f.error_code is None}
    for source, name, rows, distinct_rows, first, last, decided in results:
        expected = read.pop((source, name), None)
        if expected is None:
            problems.append(f"{source}/{name}: {rows} results for a file that was not read")
        elif not rows == distinct_rows == decided == expected == last or first != 1:
            problems.append(
                f"{source}/{name}: {expected} rows read, {rows} results ({distinct_rows} distinct "
                f"rows {first}–{last}, {decided} with an outcome)"
            )
    problems += [f"{source}/{name}: {rows} rows read, no result" for (source, name), rows in read.items() if rows]

    input_rows = sum(f.data_rows for f in files)
    unread_rows = sum(f.unread_rows or 0 for f in files)
    written = count_rows(run.dir / "match_results.parquet")
    if written != input_rows:
        problems.append(f"match_results.parquet has {written} rows, {input_rows} were read")
    manifest = json.loads((run.dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    account = manifest["reconciliation"]
    if (account["input_rows"], account["result_rows"], sum(account["outcomes"].values())) != (input_rows,) * 3:
        problems.append(
            f"manifest.json counts {account['input_rows']} input rows, {account['result_rows']} "
            f"results, {sum(account['outcomes'].values())} outcomes; {input_rows} were read"
        )
    listed = [i for i in manifest["inputs"] if i["error_code"] is not None]
    if len(listed) != sum(f.error_code is not None for f in files) or account.get("unread_rows") != unread_rows:
        problems.append("manifest.json does not list every file and sheet that was not read")
    quarantined = count_rows(run.dir / "quarantine" / "rows.csv")
    if quarantined != account["outcomes"]["quarantined"]:
        problems.append(
            f"quarantine/rows.csv has {quarantined} rows, {account['outcomes']['quarantined']} were quarantined"
        )
    if problems:
        raise ReconciliationError(
            f"核对失败：输入行与处理结果不一致 / reconciliation failed for {run.run_date}: "
            + "; ".join(problems[:5])
            + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
    return {"input_rows": input_rows, "not_read": len(listed), "unread_rows": unread_rows}


def publish(run: Run) -> None:
    """Move the complete day into place: `OUT/<date>` holds either the previous run's day or this one, whole.
    The previous folder is set aside, the new one renamed in (both renames are atomic on one file system), and
    the old one removed; `prepare` puts the day back if a run is killed between the two renames."""
    if run.day_dir.exists():
        run.day_dir.rename(run.set_aside)
    run.dir.rename(run.day_dir)
    shutil.rmtree(run.set_aside, ignore_errors=True)
