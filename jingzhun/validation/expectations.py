"""Great Expectations expectations of our own: the GB 11643 checksum of ID numbers and phone validity.

They run on the raw values (`id_number_raw`, `phone_raw`), so the report shows how many arrived broken, not only
how many cleansing could repair. The rules themselves live in `cleansing/` (one definition of a valid ID number
and of a valid phone); this module only makes them expectations. It must never repair or change a value.
Importing it registers the expectations and their metrics with Great Expectations (GX 1.x custom API).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd
import polars as pl
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from jingzhun.cleansing.idcard import parse_id_number, settled_id_numbers
from jingzhun.cleansing.phone import normalize_phone, settled_phones


def is_valid_id_as_written(value: Any) -> bool:
    """An 18-character GB 11643 number, birth date and check digit right, exactly as written (no repair)."""
    if not isinstance(value, str):
        return False
    parsed = parse_id_number(value)
    return parsed.status == "valid" and parsed.value == value


def is_valid_phone(value: Any) -> bool:
    """A mainland mobile or Shanghai landline, once separators and +86 are taken off."""
    return isinstance(value, str) and normalize_phone(value).status == "valid"


def valid_ids_as_written(column: pd.Series) -> pd.Series:
    """`is_valid_id_as_written` of each value of the column."""
    return _on_column(
        column,
        lambda values: settled_id_numbers(values).select("raw", valid=pl.col("status") == "valid"),
        is_valid_id_as_written,
    )


def valid_phones(column: pd.Series) -> pd.Series:
    """`is_valid_phone` of each value of the column."""
    return _on_column(column, lambda values: settled_phones(values).select("raw", valid=pl.lit(True)), is_valid_phone)


def _on_column(
    column: pd.Series, settled: Callable[[pl.Series], pl.DataFrame], one: Callable[[Any], bool]
) -> pd.Series:
    """`one` of each value, on a whole column at once: the values written as they should be (most of a million
    rows) are `settled` by Polars, the same way cleansing settles them; only the others are read one by one, each
    distinct value once, and joined back in the column's order."""
    texts = pl.from_pandas(column.reset_index(drop=True), nan_to_null=True) if len(column) else None
    if texts is None or texts.dtype != pl.Utf8:  # not a column of texts (or empty): each value as it is
        return column.map(one).astype(bool)
    distinct = texts.drop_nulls().unique()
    known = settled(distinct)
    rest = distinct.filter(~distinct.is_in(known["raw"].implode()))
    lookup = pl.concat(
        [known, pl.DataFrame({"raw": rest, "valid": [one(value) for value in rest]}, schema=known.schema)]
    )
    valid = texts.to_frame("raw").join(lookup, on="raw", how="left", maintain_order="left")["valid"]
    return pd.Series(valid.fill_null(False).to_numpy(), index=column.index)


class ColumnValuesValidChineseId(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_chinese_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):  # noqa: N805 - GX's metric providers take the class as `cls`
        return valid_ids_as_written(column)


class ColumnValuesValidPhone(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_phone"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):  # noqa: N805
        return valid_phones(column)


class ExpectColumnValuesToBeValidChineseId(ColumnMapExpectation):
    """Expect each ID number to be a valid 18-character resident ID (GB 11643-1999) as written."""

    map_metric = "column_values.valid_chinese_id"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["jingzhun"], "contributors": ["jingzhun"]}


class ExpectColumnValuesToBeValidPhoneNumber(ColumnMapExpectation):
    """Expect each phone to be a mainland mobile or a Shanghai landline (separators and +86 allowed)."""

    map_metric = "column_values.valid_phone"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["jingzhun"], "contributors": ["jingzhun"]}


CUSTOM_EXPECTATIONS = {
    "expect_column_values_to_be_valid_chinese_id": ExpectColumnValuesToBeValidChineseId,
    "expect_column_values_to_be_valid_phone_number": ExpectColumnValuesToBeValidPhoneNumber,
}
