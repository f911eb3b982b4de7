"""Run one Great Expectations suite per source over the standardized records; results as a table for the report."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from jingzhun.core import rules

RESULT_SCHEMA = {
    "source": pl.Utf8,
    "expectation": pl.Utf8,
    "column": pl.Utf8,
    "arguments": pl.Utf8,
    "success": pl.Boolean,
    "element_count": pl.Int64,
    "unexpected_count": pl.Int64,
    "unexpected_percent": pl.Float64,
}


def great_expectations() -> Any:
    """The Great Expectations module, analytics off, with our own expectations registered. Heavy (seconds to
    import): imported only when a run validates."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    import jingzhun.validation.expectations  # noqa: F401 - registers our expectations and metrics with GX

    return gx


# The process of `in_background`, while one is open.
_background: ProcessPoolExecutor | None = None


@contextmanager
def in_background() -> Iterator[None]:
    """While the body runs, `validate` runs the suites in a process of its own, started now: Great Expectations
    takes seconds to import (most of a small day's validate step), and that process imports it on the machine's
    other core while the run's first steps work. `jingzhun run` opens it for the whole flow; a flow run another way
    validates in its own process. If the process fails (killed, out of memory), the suites run here instead. The
    first `validate` stops it."""
    global _background
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=great_expectations)
    executor.submit(int)  # the process starts on the first task, not with the executor
    _background = executor
    try:
        yield
    finally:
        _background = None
        _stop(executor)


def _stop(executor: ProcessPoolExecutor) -> None:
    """`executor` shut down and its process ended (when `validate` has not ended it already): Python joins an
    executor's processes when it exits, so a run that stopped before validating (a check that failed, a user's
    Ctrl-C) waited for the process to finish importing Great Expectations, a minute under load."""
    processes = list((executor._processes or {}).values())  # the executor gives no public handle on them
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
        process.join(10)


def validate(standard: pl.DataFrame) -> pl.DataFrame:
    """One row per (source, expectation) with its outcome, over the records that go on to matching (quarantined
    rows are counted in the report's quarantine section instead); a source with no such records is skipped."""
    global _background
    config = rules.load("expectations")
    batches = _batches(standard, config)
    # The process serves one validate step: stopped once it has answered, it gives back what it holds (Great
    # Expectations and the day's batches: 0.85 GB on a million-row day) while the match step goes on beside it.
    executor, _background = _background, None
    if executor is not None:
        try:
            return executor.submit(_run_suites_with, str(rules.rules_dir()), batches, config).result()
        except BrokenProcessPool:
            pass
        finally:
            # Not waited for: the process's exit (Python's teardown with Great Expectations loaded) takes a second,
            # which it spends on the other core while the run goes on.
            executor.shutdown(wait=False, cancel_futures=True)
    return _run_suites(batches, config)


def read_columns() -> tuple[str, ...]:
    """The standardized records' columns `validate` reads: the suites' and what chooses the records of each (a
    million-row day's 72 columns read whole for about a dozen)."""
    config = rules.load("expectations")
    declared = [*config["common"], *(spec for specs in config["sources"].values() for spec in specs)]
    return tuple(sorted({"source", "quarantine_code", *(c for spec in declared for c in _columns(spec))}))


def _columns(spec: dict[str, Any]) -> list[str]:
    """The columns an expectation reads."""
    return [spec["column"]] if "column" in spec else spec.get("column_list", [])


def _batches(standard: pl.DataFrame, config: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """Each source's records that go on to matching, only the columns its suite reads (all a process is sent)."""
    batches = {}
    for source, declared in config["sources"].items():
        records = standard.filter((pl.col("source") == source) & pl.col("quarantine_code").is_null())
        if records.is_empty():
            continue
        columns = sorted({c for spec in [*config["common"], *declared] for c in _columns(spec)})
        batches[source] = records.select(columns)
    return batches


def _run_suites_with(folder: str, batches: dict[str, pl.DataFrame], config: dict[str, Any]) -> pl.DataFrame:
    """`_run_suites` under the rules of the run that sent them (the expectations' normalizers read rules)."""
    with rules.using(Path(folder)):
        return _run_suites(batches, config)


def _run_suites(batches: dict[str, pl.DataFrame], config: dict[str, Any]) -> pl.DataFrame:
    gx = great_expectations()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    datasource = context.data_sources.add_pandas("jingzhun")
    rows: list[dict[str, Any]] = []
    for source, records in batches.items():
        suite = context.suites.add(gx.ExpectationSuite(name=source))
        for spec in [*config["common"], *config["sources"][source]]:
            arguments = {k: v for k, v in spec.items() if k != "expectation"}
            suite.add_expectation(_expectation_class(gx, spec["expectation"])(**arguments))
        batch = datasource.add_dataframe_asset(source).add_batch_definition_whole_dataframe("day")
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=source, data=batch, suite=suite))
        result = definition.run(batch_parameters={"dataframe": records.to_pandas()})
        for outcome in result.results:
            kwargs = {k: v for k, v in outcome.expectation_config.kwargs.items() if k != "batch_id"}
            rows.append(
                {
                    "source": source,
                    "expectation": outcome.expectation_config.type,
                    "column": kwargs.get("column") or ",".join(kwargs.get("column_list", [])),
                    "arguments": ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("column", "column_list")),
                    "success": bool(outcome.success),
                    "element_count": outcome.result.get("element_count"),
                    "unexpected_count": outcome.result.get("unexpected_count"),
                    "unexpected_percent": outcome.result.get("unexpected_percent"),
                }
            )
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def _expectation_class(gx: Any, name: str) -> Any:
    from jingzhun.validation.expectations import CUSTOM_EXPECTATIONS  # registers our metrics with GX on first import

    if name in CUSTOM_EXPECTATIONS:
        return CUSTOM_EXPECTATIONS[name]
    class_name = "".join(part.capitalize() for part in name.split("_"))
    try:
        return getattr(gx.expectations, class_name)
    except AttributeError as error:
        raise ValueError(f"unknown expectation in jingzhun/rules/expectations.yaml: {name}") from error
