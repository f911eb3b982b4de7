"""What the daily run's steps load on their first use, loaded while Prefect's temporary server boots.

`jingzhun run` starts the server first (`jingzhun/flows/server.py`); the run's own process checks the inputs and
imports the flow, then would only wait for the server to answer. That wait is spent here instead, on work every run
does anyway a little later: Great Expectations' import (the validate step), the administrative division tables the
address parser builds from CSV (cleanse), Splink and sqlglot's DuckDB dialect (match), PyArrow (DuckDB hands
Polars frames over through it), pypinyin's and OpenCC's dictionaries. Nothing computed here depends on the day, so
the run's outputs are the same with or without it; on a machine with a free core the steps start with it done.
"""

from __future__ import annotations


def warm_up() -> None:
    """Import and build, once per process, what the steps would on first use (each cached where it is used)."""
    import pyarrow  # noqa: F401 - DuckDB's and Polars' Arrow hand-over imports it on first use
    import sqlglot
    from pypinyin import lazy_pinyin
    from splink import DuckDBAPI, Linker  # noqa: F401

    from jingzhun.cleansing.address import warm_divisions
    from jingzhun.cleansing.text import normalize_text
    from jingzhun.validation.suites import great_expectations

    great_expectations()
    warm_divisions()
    sqlglot.parse_one("l.a = r.a", read="duckdb")  # the dialect's tokenizer and parser tables, built on first use
    lazy_pinyin("精准")
    normalize_text("精準")
