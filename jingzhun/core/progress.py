"""Progress a person can see on a long day: while a step of the run works, its log says every half minute how
far it is, how fast it goes and about how long it has left, so that nobody wonders whether a day of a million
rows is still alive; when it ends, its rows, time and rate.

One place for it: the flow runs every step inside `tracked` (with Prefect's run logger, so the lines are in the
UI and on the console). A step's code may call `advance(rows)` as it finishes pieces of work; that is all it ever
needs, and outside a tracked step it does nothing. Without such calls, the time left is estimated from the same
step of the last run (`step_times` in the warehouse). This module logs and never prints, and it is silent once
its step has ended: the run's final figures are the last thing a person reads.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from jingzhun.core.warehouse import has_table

FIRST_AFTER = 10.0  # seconds: a step that ends sooner logs only its end
EVERY = 30.0


@dataclass
class Step:
    name: str
    rows: int | None  # the rows the step works through, when known before it starts
    expected: float | None  # seconds it should take, from the last run; None on the first
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    done: int = 0  # rows reported done by `advance`
    doing: str | None = None  # what it is doing now, from `doing`
    pieces: tuple[int, int] | None = None  # (done, of) of work counted in pieces, not rows
    values: tuple[int, int, float] | None = None  # (done, of, since) of the values the current work goes through

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    @property
    def rows_done(self) -> int | None:
        """At the end: the rows reported done, else the rows it was given."""
        return self.done or self.rows

    def progress_line(self) -> str:
        line = self._progress_line()
        line = f"{line}; now: {self.doing}" if self.doing else line
        if self.values:  # how far the work of now is, and at its pace how long it has left
            done, of, since = self.values
            line += f" ({done:,} of {of:,} values"
            if 0 < done < of:
                line += f", about {_duration((time.monotonic() - since) / done * (of - done))} left"
            line += ")"
        return line

    def _progress_line(self) -> str:
        elapsed = self.seconds
        if self.pieces and not self.done:  # measured in pieces (a file per subdistrict): the pace so far
            done, of = self.pieces
            head = f"{self.name}: {f'{self.rows:,} rows, ' if self.rows else ''}{done} of {of} in {_duration(elapsed)}"
            if 0 < done < of:
                return f"{head}, about {_duration(elapsed / done * (of - done))} left"
        elif self.done:  # measured: rows done and the rate so far
            rate = self.done / elapsed
            head = (
                f"{self.name}: {self.done:,} of {self.rows:,} rows ({self.done / self.rows:.0%})"
                if self.rows
                else f"{self.name}: {self.done:,} rows"
            )
            head += f" in {_duration(elapsed)}, {rate:,.0f} rows/s"
            if self.rows and self.done < self.rows:
                return f"{head}, about {_duration((self.rows - self.done) / rate)} left"
        else:
            head = f"{self.name}: {f'{self.rows:,} rows, ' if self.rows else ''}{_duration(elapsed)} so far"
        if self.expected is None:
            return f"{head} (no earlier run to estimate the time left from)"
        if elapsed >= self.expected:
            return f"{head}, longer than the last run's {_duration(self.expected)}"
        share = "" if self.done else f" (about {elapsed / self.expected:.0%} done)"
        return f"{head}, about {_duration(self.expected - elapsed)} left at the last run's pace{share}"

    def end_line(self) -> str:
        rows, seconds = self.rows_done, self.seconds
        if not rows:
            return f"{self.name}: done in {_duration(seconds)}"
        return f"{self.name}: {rows:,} rows in {_duration(seconds)}, {rows / max(seconds, 1e-3):,.0f} rows/s"


_current: contextvars.ContextVar[Step | None] = contextvars.ContextVar("jingzhun_progress", default=None)


@contextmanager
def tracked(
    name: str,
    rows: int | None = None,
    expected: float | None = None,
    logger: Any = None,
    first_after: float | None = None,
    every: float | None = None,
) -> Iterator[Step]:
    """Log the progress of the step `name` while the body runs (first after `first_after` seconds, then every
    `every`), and its end. `rows` the rows it works through, if known; `expected` its seconds at the last run."""
    log = logger or logging.getLogger("jingzhun")
    step = Step(name, rows, expected)
    stop = threading.Event()

    def heartbeat() -> None:
        wait = FIRST_AFTER if first_after is None else first_after
        while not stop.wait(wait):
            log.info(step.progress_line())
            wait = EVERY if every is None else every

    token = _current.set(step)
    # The thread runs in a copy of this context, so that Prefect knows which task run its lines belong to.
    beating = threading.Thread(
        target=contextvars.copy_context().run, args=(heartbeat,), daemon=True, name=f"progress-{name}"
    )
    beating.start()
    try:
        yield step
    finally:
        step.ended = time.monotonic()
        stop.set()
        beating.join()
        _current.reset(token)
    log.info(step.end_line())


def advance(rows: int) -> None:
    """`rows` more rows of the current step are done (nothing happens outside a tracked step)."""
    step = _current.get()
    if step is not None:
        step.done += rows


def doing(what: str, done: int | None = None, of: int | None = None) -> None:
    """The current step is now doing `what` (said on its progress lines); for work counted in pieces rather than
    rows (a file per subdistrict), `done` of `of` pieces are done, and the time left follows their pace.
    Nothing happens outside a tracked step."""
    step = _current.get()
    if step is not None:
        step.doing = what
        step.pieces = (done or 0, of) if of else None
        step.values = None


def values_done(done: int, of: int) -> None:
    """Of the `of` values the current work (`doing`) goes through one by one (the addresses of a register),
    `done` are done: the progress lines say how far it is and how long it has left at its pace so far."""
    step = _current.get()
    if step is not None:
        since = step.values[2] if step.values and done else time.monotonic()  # 0 done: it starts
        step.values = (done, of, since)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


# What earlier runs took, per step: the base of the estimate when a step reports no rows done.
STEP_TIMES_DDL = "CREATE TABLE IF NOT EXISTS step_times (run_date DATE, step TEXT, rows BIGINT, seconds DOUBLE)"


def day_rows(con: duckdb.DuckDBPyConnection, run_date: date) -> int | None:
    """The rows of the day's inputs, once ingest has stored them: the work of every step after it."""
    if not has_table(con, "raw_records"):
        return None
    return con.execute("SELECT count(*) FROM raw_records WHERE run_date = ?", [run_date]).fetchall()[0][0] or None


def expected_seconds(con: duckdb.DuckDBPyConnection, step: str, rows: int | None) -> float | None:
    """The seconds `step` took at its latest run, scaled to `rows` when both runs know their rows."""
    if not has_table(con, "step_times"):
        return None
    last = con.execute(
        "SELECT rows, seconds FROM step_times WHERE step = ? ORDER BY run_date DESC LIMIT 1", [step]
    ).fetchall()
    if not last:
        return None
    last_rows, seconds = last[0]
    return seconds * rows / last_rows if rows and last_rows else seconds


def record(con: duckdb.DuckDBPyConnection, run_date: date, step: Step) -> None:
    """Keep what `step` took, for the estimates of the next run."""
    con.execute(STEP_TIMES_DDL)
    con.execute("DELETE FROM step_times WHERE run_date = ? AND step = ?", [run_date, step.name])
    con.execute("INSERT INTO step_times VALUES (?, ?, ?, ?)", [run_date, step.name, step.rows_done, step.seconds])
