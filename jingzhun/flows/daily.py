"""The daily flow as Prefect runs it: the run book, one task per step, retries where a file system may hiccup.

Thin by design: every task is a step from `jingzhun.flows.steps`, so the flow and the tests run the same code.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from jingzhun.core import progress
from jingzhun.core import rules as rulebook
from jingzhun.core.run import Run, exclusive
from jingzhun.core.warehouse import connect, out_of_memory
from jingzhun.flows import cluster, steps

# File-system errors that may pass by themselves (a busy or briefly unreachable share). Anything else, a missing
# file, a refused permission, a full disk, a bad input or a bug, fails the same way on a second try.
TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.EIO, errno.ESTALE, errno.ETIMEDOUT})


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry a step only for an error that a second try may not meet."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS


def _step(fn: Any, retries: int = 0, counted: bool = True) -> Any:
    """`fn` as a Prefect task that applies the run's rules in whatever process runs it and logs its progress;
    `counted` when the step works through the day's rows (known once ingest has stored them)."""

    @functools.wraps(fn)
    def step(run: Run) -> Any:
        rows = expected = None
        if run.warehouse.exists():
            with connect(run.warehouse) as con:
                rows = progress.day_rows(con, run.run_date) if counted else None
                expected = progress.expected_seconds(con, fn.__name__, rows)
        with rulebook.using(run.rules), progress.tracked(fn.__name__, rows, expected, get_run_logger()) as tracker:
            try:
                result = fn(run)
            except Exception as error:
                # DuckDB at its memory limit is the machine's size, not a bug: say so, and what to do.
                reason = out_of_memory(error, fn.__name__, tracker.doing)
                if reason is None:
                    raise
                raise reason from error
        with connect(run.warehouse) as con:
            progress.record(con, run.run_date, tracker)
        return result

    # Steps pass a small Run and keep their data in the warehouse; nothing is worth caching between runs.
    return task(
        step,
        name=fn.__name__,
        retries=retries,
        retry_delay_seconds=5,
        retry_condition_fn=_transient,
        cache_policy=NO_CACHE,
    )


# The day's rows are known once ingest has stored them: the steps before are timed, not counted.
prepare = _step(steps.prepare, counted=False)
feedback = _step(steps.feedback, retries=2, counted=False)
ingest = _step(steps.ingest, retries=2, counted=False)
cleanse = _step(steps.cleanse)
validate = _step(steps.validate)
match = _step(steps.match)
screen = _step(steps.screen)
dispatch = _step(steps.dispatch, retries=2)
report = _step(steps.report, retries=2)
reconcile = _step(steps.reconcile)
publish = _step(steps.publish, retries=2, counted=False)  # a rename: timed, not counted


@flow(name="jingzhun-daily", log_prints=True)
def daily(
    inbox: Path,
    reference: Path,
    out: Path,
    mapping: Path | None = None,
    run_date: dt.date | None = None,
    rules: Path | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """`rules`: a folder of one's own rules; without it, those of JINGZHUN_RULES or else the installed ones.
    `dask_address`: a Dask scheduler (tcp://host:8786) that runs the match stage's parts; without it, that of
    JINGZHUN_DASK_ADDRESS, or else the stage runs in this process."""
    run = Run(
        inbox=Path(inbox),
        reference=Path(reference),
        out=Path(out),
        run_date=run_date or dt.date.today(),
        mapping=Path(mapping) if mapping else None,
        rules=Path(rules).resolve() if rules else rulebook.chosen(),
        dask_address=cluster.dask_address(dask_address),
    )
    # One run at a time on an output folder. The run's rules in force for the whole flow, not only step by step:
    # two steps run at once below, and one step's putting back what was in force before it must not take the rules
    # from under the other.
    with exclusive(run.out), rulebook.using(run.rules):
        prepare(run)
        feedback(run)  # first: the cases it closes are not continued by today's screening
        ingest(run)
        cleanse(run)
        # Only the report reads what the expectations found: their suites run beside the match, on the machine's
        # other core (under `jingzhun run`, in the process that imports Great Expectations during the first steps).
        validation = validate.submit(run)
        try:
            match(run)
            screen(run)
            dispatch(run)
        finally:
            validation.wait()  # never a step still writing to the warehouse once the run has let go of it
        validation.result()  # a failed validation fails the run, as before its report
        head = report(run)
        reconcile(run)  # inputs = outcomes + what was listed as not read, or the run fails
        publish(run)  # the day's folder, whole, replaces the previous one
    _artifacts(run, head)
    return head


def _artifacts(run: Run, head: dict[str, Any]) -> None:
    """The headline figures in the Prefect UI, per run: the same numbers as report.html."""

    def hours(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f} h"

    create_table_artifact(
        key="jingzhun-outcomes",
        table=[{"outcome": k, "rows": v} for k, v in head["outcomes"].items()],
        description=f"Outcomes of the run of {run.run_date}",
    )
    create_table_artifact(
        key="jingzhun-disposal",
        table=[
            {
                "街镇": r["subdistrict_name"],
                "已办结": r["closed"],
                "中位数(小时)": r["median_hours"],
                "P90(小时)": r["p90_hours"],
                "时限内办结占比": r["within_deadline"],
                "未办结": r["open"],
                "其中已超时": r["overdue"],
            }
            for r in head["disposal_by_subdistrict"]
        ],
        description=f"Disposal time from dispatch to 处置时间, per subdistrict, as of {run.run_date}",
    )
    create_markdown_artifact(
        key="jingzhun-headline",
        markdown=(
            f"# jingzhun {run.run_date}\n\n"
            f"| figure | value |\n|---|---|\n"
            f"| input rows | {head['input_rows']} |\n| result rows | {head['result_rows']} |\n"
            f"| person match rate | {head['person_match_rate']} |\n| routing rate | {head['routing_rate']} |\n"
            f"| dispatched | {head['outcomes']['dispatched']} |\n| review | {head['outcomes']['review']} |\n"
            f"| quarantined | {head['outcomes']['quarantined']} |\n"
            f"| cases dispatched (new / continued) | {head['cases']} ({head['new_cases']} / "
            f"{head['continued_cases']}) |\n| cases closed by feedback | {head['closed_cases']} |\n"
            f"| disposal median / p90 | {hours(head['disposal_median_hours'])} / "
            f"{hours(head['disposal_p90_hours'])} |\n| within deadline | {head['within_deadline']} |\n\n"
            + "".join(f"- **{alert}**\n" for alert in head["alerts"])
            + f"\nOutputs: `{run.day_dir}`\n"
        ),
        description="Headline figures",
    )
