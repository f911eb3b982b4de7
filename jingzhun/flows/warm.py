"""What the daily run's steps load on their first use, loaded while Prefect's temporary server boots.

`jingzhun run` starts the server first (`jingzhun/flows/server.py`); the run's own process checks the inputs and
imports the flow, then would only wait for the server to answer. That wait is spent here instead, on work every run
does anyway a little later, in the order the steps need it: the administrative division tables the address parser
builds from CSV (cleanse), Splink, sqlglot's DuckDB dialect and PyArrow (match). (Great Expectations is imported
by the process the validate step's suites run in: `jingzhun.validation.suites.in_background`.) It stops as soon
as the server answers, so that it never holds the flow back: what is left is loaded where it is used, as without
it. Nothing loaded here depends on the day: the run's outputs are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable


def _divisions() -> None:
    from jingzhun.cleansing.address import warm_divisions

    warm_divisions()


def _splink() -> None:
    import pyarrow  # noqa: F401 - DuckDB's and Polars' Arrow hand-over imports it on first use
    import sqlglot
    from splink import DuckDBAPI, Linker  # noqa: F401

    sqlglot.parse_one("l.a = r.a", read="duckdb")  # the dialect's tokenizer and parser tables, built on first use


# In the order the steps first need them.
LOADS = (_divisions, _splink)


def warm_up(until: Callable[[], bool] = lambda: False) -> int:
    """Load what the steps would on first use (each is cached where it is used), one after another until `until()`
    says to stop; returns how many were loaded."""
    for done, load in enumerate(LOADS):
        if until():
            return done
        load()
    return len(LOADS)
