"""Run one Great Expectations suite per source over the standardized records; results as a table for the report."""

from __future__ import annotations

import os
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


def validate(standard: pl.DataFrame) -> pl.DataFrame:
    """One row per (source, expectation) with its outcome, over the records that go on to matching (quarantined
    rows are counted in the report's quarantine section instead); a source with no such records is skipped."""
    gx = great_expectations()
    config = rules.load("expectations")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    datasource = context.data_sources.add_pandas("jingzhun")
    rows: list[dict[str, Any]] = []
    for source, declared in config["sources"].items():
        records = standard.filter((pl.col("source") == source) & pl.col("quarantine_code").is_null())
        if records.is_empty():
            continue
        suite = context.suites.add(gx.ExpectationSuite(name=source))
        for spec in [*config["common"], *declared]:
            arguments = {k: v for k, v in spec.items() if k != "expectation"}
            suite.add_expectation(_expectation_class(gx, spec["expectation"])(**arguments))
        batch = datasource.add_dataframe_asset(source).add_batch_definition_whole_dataframe("day")
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=source, data=batch, suite=suite))
        columns = sorted(
            {
                c
                for spec in [*config["common"], *declared]
                for c in ([spec["column"]] if "column" in spec else spec.get("column_list", []))
            }
        )
        result = definition.run(batch_parameters={"dataframe": records.select(columns).to_pandas()})
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
