"""Cleanse: raw records to the data standard, one normalizer per field as `jingzhun/rules/cleansing.yaml` says.

Each normalizer is a pure scalar function from `cleansing/`; it runs once per distinct value (the repeat cache:
the same address or checkpoint name recurs thousands of times a day) and the results are joined back. This stage
never removes a row: it only adds standardized columns and the quarantine code of rows that cannot be used.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import polars as pl

from jingzhun.cleansing.address import (
    ADDRESS_FIELDS,
    Gazetteer,
    parse_address,
    parse_normalized_address,
    place_name_of_text,
)
from jingzhun.cleansing.datetimes import parse_datetime
from jingzhun.cleansing.idcard import parse_id_number, settled_id_numbers
from jingzhun.cleansing.names import name_of_text, name_pinyin, pinyin_fuzzy_key, pinyin_of_normalized_name
from jingzhun.cleansing.parse_store import AddressParses, parser_version
from jingzhun.cleansing.phone import normalize_phone, settled_phones
from jingzhun.cleansing.text import normalize_text_flagged
from jingzhun.core import progress, rules


def _text(value: str) -> dict[str, Any]:
    text, traditional = normalize_text_flagged(value)
    return {"": text, "traditional": traditional}


def _place(value: str) -> dict[str, Any]:
    text, traditional = normalize_text_flagged(value)
    return {"": place_name_of_text(text), "traditional": traditional}


def _datetime(value: str) -> dict[str, Any]:
    return {"": parse_datetime(value)}


def _name(value: str) -> dict[str, Any]:
    # The text is normalized once for the name and whether it was written in traditional characters; the pinyin
    # normalizes its name again, unless the name is the value as written (then it comes out as itself).
    text, traditional = normalize_text_flagged(value)
    name = name_of_text(text)
    pinyin = pinyin_of_normalized_name(name) if name == value else name_pinyin(name)
    return {"": name, "pinyin": pinyin, "key": pinyin_fuzzy_key(pinyin), "traditional": traditional}


def _id_number(value: str) -> dict[str, Any]:
    parsed = parse_id_number(value)
    # A near-miss (bad_length, bad_date) has no value but its digits: matching may still compare them.
    return {
        "": parsed.value,
        "status": parsed.status,
        "repairs": "|".join(parsed.repairs) or None,
        "candidate": parsed.candidate_digits,
    }


def _phone(value: str) -> dict[str, Any]:
    parsed = normalize_phone(value)
    return {"": parsed.value, "status": parsed.status, "repairs": "|".join(parsed.repairs) or None}


def _address(value: str, district_code: str | None = None, gazetteer: Gazetteer | None = None) -> dict[str, Any]:
    text, traditional = normalize_text_flagged(value)
    # The parser normalizes what it is given; a value the normalization left as it was (most of a register's) is
    # known to come out as itself, so it is not normalized a second time.
    parse = parse_normalized_address if text == value else parse_address
    parsed = parse(text, context_district_code=district_code, gazetteer=gazetteer)
    return {
        "": text,
        "traditional": traditional,
        **dict(zip(_ADDRESS_COLUMNS, map(parsed.get, ADDRESS_FIELDS), strict=True)),
    }


_ADDRESS_COLUMNS = tuple(f"addr_{f}" for f in ADDRESS_FIELDS)


NORMALIZERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "text": _text,
    "place": _place,
    "datetime": _datetime,
    "name": _name,
    "id_number": _id_number,
    "phone": _phone,
    "address": _address,
}

# The same results on a whole column at once, for the values most rows hold (an ID number or a mobile written as
# it should be): ten million persons are not ten million Python calls. Each gives the normalizer's keys for the
# values it settles; the others go through the normalizer.
SETTLED: dict[str, Callable[[pl.Series], pl.DataFrame]] = {
    "id_number": lambda values: settled_id_numbers(values).select(
        "raw", pl.col("value").alias(""), "status", repairs=pl.lit(None, pl.Utf8), candidate=pl.lit(None, pl.Utf8)
    ),
    "phone": lambda values: settled_phones(values).select(
        "raw", pl.col("value").alias(""), status=pl.lit("valid"), repairs=pl.lit(None, pl.Utf8)
    ),
}


def cleanse(
    raw: pl.DataFrame, fields: tuple[str, ...], gazetteer: Gazetteer | None = None, parses: AddressParses | None = None
) -> pl.DataFrame:
    """Standardize every field of `raw`; add `event_at` and `quarantine_code`. Addresses are read with the
    district's `gazetteer` (its towns and places) before the national names, and those `parses` keeps are not
    parsed again."""
    config = rules.load("cleansing")
    standard = raw
    for done, field in enumerate(fields):
        progress.doing(f"the fields of the day ({field})", done, len(fields))
        standard = normalize_column(standard, field, config["fields"].get(field, "text"), gazetteer, parses)
    event_fields = [f for f in config["event_time"] if f in fields]
    standard = standard.with_columns(event_at=pl.coalesce(event_fields) if event_fields else pl.lit(None))
    return standard.with_columns(quarantine_code=_quarantine_code())


def normalize_column(
    frame: pl.DataFrame,
    field: str,
    kind: str,
    gazetteer: Gazetteer | None = None,
    parses: AddressParses | None = None,
    district_code: str | None = None,
) -> pl.DataFrame:
    """Normalize each distinct raw value of `field` once with the `kind` normalizer; its result keys become
    `field` and `field_<key>` columns (an `addr_` key is used as it is). The raw value is kept as `field_raw`.
    An address `parses` keeps (parsed on an earlier day, or of the register) is read from there, not parsed; the
    others are parsed and kept there. Addresses are read in the district `district_code`, else the gazetteer's,
    else the cleansing rules' `district_code`."""
    config = rules.load("cleansing")
    normalize = NORMALIZERS[kind]
    district = district_code or (gazetteer and gazetteer.district_code) or config.get("district_code")
    if kind == "address":  # the district of the day's data, read once per column rather than once per value
        normalize = partial(_address, district_code=district, gazetteer=gazetteer)
    placeholders = {str(p).casefold() for p in config["placeholders"]} if kind in config["placeholder_kinds"] else set()
    distinct = frame.get_column(field).drop_nulls().unique()
    settled = None
    if kind in SETTLED:
        settled = SETTLED[kind](
            distinct.filter(~distinct.str.to_lowercase().is_in(pl.Series(list(placeholders), dtype=pl.Utf8).implode()))
        )
        distinct = distinct.filter(~distinct.is_in(settled["raw"].implode()))
    names = _names(normalize, field)
    kept = None
    if parses is not None and kind == "address":
        key = (parser_version(district, frozenset(placeholders)), gazetteer and gazetteer.digest())
        kept = parses.known(*key, distinct, _stored_schema(kind, names)).rename(_stored_names(names))
        distinct = distinct.filter(~distinct.is_in(kept["__raw"].implode()))
    # In chunks: a register of four million houses is four million addresses, and their parsed fields as Python
    # objects all at once took gigabytes; a chunk's objects are gone once its rows are in a frame.
    chunks = []
    for start in range(0, max(distinct.len(), 1), CHUNK_VALUES):
        if distinct.len() > CHUNK_VALUES:  # a long column (the houses of the reference) says how far it is
            progress.values_done(start, distinct.len())
        chunks.append(_lookup(distinct.slice(start, CHUNK_VALUES).to_list(), normalize, placeholders, field, kind))
    lookup = pl.concat(chunks, how="vertical_relaxed")
    if kept is not None:
        if lookup.height:
            parses.keep(*key, lookup.rename({v: k for k, v in _stored_names(names).items()}))
        lookup = pl.concat([kept.cast(dict(lookup.schema)), lookup])
    if settled is not None:
        lookup = pl.concat(
            [
                lookup,
                settled.select(
                    pl.col("raw").alias("__raw"), *(pl.col(key).alias(name) for key, name in names.items())
                ).cast(dict(lookup.schema)),
            ]
        )
    return frame.rename({field: f"{field}_raw"}).join(
        lookup, left_on=f"{field}_raw", right_on="__raw", how="left", maintain_order="left"
    )


CHUNK_VALUES = 100_000  # distinct values normalized at once


def _names(normalize: Callable[[str], dict[str, Any]], field: str) -> dict[str, str]:
    """The normalizer's result keys → the columns they become (`field`, `field_<key>`, an `addr_` key as it is)."""
    return {key: (key if key.startswith("addr_") else f"{field}_{key}" if key else field) for key in normalize("")}


def _stored_names(names: dict[str, str]) -> dict[str, str]:
    """A kept parse's columns (the normalizer's result keys; its value as `text`) → the column's own names."""
    return {key or "text": name for key, name in names.items()}


def _stored_schema(kind: str, names: dict[str, str]) -> dict[str, pl.DataType]:
    return {key or "text": _output_type(kind, key) for key in names}


def _lookup(
    values: list[str], normalize: Callable[[str], dict[str, Any]], placeholders: set[str], field: str, kind: str
) -> pl.DataFrame:
    """`__raw` (each of `values`) and the columns of its normalized result."""
    if placeholders:
        values_read = ["" if value.strip().casefold() in placeholders else value for value in values]
    else:
        values_read = values
    names = _names(normalize, field)
    results = _normalized(normalize, values_read, {key: _output_type(kind, key) for key in names})
    return results.rename(names).insert_column(0, pl.Series("__raw", values, dtype=pl.Utf8))


# A long list of values is normalized in two processes where the machine has two cores or more: a normalizer is
# Python, one core at a time. The second process is forked: it starts in milliseconds with the parent's tables and
# caches (the division tables, the gazetteer, OpenCC) as they are, where a spawned one would import and load them
# again (seconds). It only runs the normalizer (no Polars, DuckDB or logging, whose threads a fork does not copy)
# and sends its half's results back as tuples (the dicts' keys pickled once per value cost more than the values).
PARALLEL_VALUES = 20_000  # below, the fork and the results' way back cost more than half the work saves
# A fork copies only the thread that forks: a lock another thread (Prefect's, Polars') held at that moment stays
# held in the child. The normalizer takes none of them, but should the child ever hang or die, its half is done
# here once it has taken this much longer than the parent's own half (seconds: at least, and times the parent's).
FORKED_PATIENCE = (60.0, 10.0)
_FORKED: tuple[Callable[[str], dict[str, Any]], list[str], tuple[str, ...]] | None = None  # what the fork reads


def _normalized(
    normalize: Callable[[str], dict[str, Any]], values: list[str], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """`normalize` of each of `values`, in their order, as columns of `schema` (the normalizer's keys)."""
    # The results' dicts are made columns by Polars at once, not one Python list per column.
    if len(values) < PARALLEL_VALUES or not _may_fork():
        return pl.DataFrame([normalize(value) for value in values], schema=schema, strict=False)
    global _FORKED
    half = len(values) // 2
    _FORKED = (normalize, values, tuple(schema))
    context = mp.get_context("fork")
    received, sent = context.Pipe(duplex=False)
    # Frozen, the parent's objects are out of the forked process's garbage collections: a collection there would
    # touch, and so copy, every page of the parent's heap.
    gc.freeze()
    try:
        child = context.Process(target=_normalized_forked, args=(half, len(values), sent), daemon=True)
        child.start()
        sent.close()
        gc.unfreeze()
        started = time.monotonic()
        first = pl.DataFrame([normalize(value) for value in values[:half]], schema=schema, strict=False)
        rows = _forked_rows(received, max(FORKED_PATIENCE[0], FORKED_PATIENCE[1] * (time.monotonic() - started)))
        child.kill()  # done, dead or hung: it is not waited for any longer
        child.join()
        if rows is None:
            rows = [tuple(map(normalize(value).get, schema)) for value in values[half:]]
        return pl.concat([first, pl.DataFrame(rows, schema=schema, orient="row", strict=False)])
    finally:
        gc.unfreeze()
        received.close()
        _FORKED = None


def _forked_rows(received: Connection, patience: float) -> list[tuple[Any, ...]] | None:
    """The forked half's rows, or None when the process died (killed, out of memory) or sent nothing in time."""
    if not received.poll(patience):
        logging.getLogger(__name__).warning(
            "the second process sent nothing in %.0f s; its half of the values is normalized here", patience
        )
        return None
    try:
        return received.recv()
    except (EOFError, OSError):
        return None


def _may_fork() -> bool:
    """Two cores or more, fork available, and not a daemonic process (a Dask worker's: it may have no children)."""
    return (os.cpu_count() or 1) > 1 and "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


def _normalized_forked(start: int, end: int, sent: Connection) -> None:
    assert _FORKED is not None, "runs in the process `_normalized` forked"
    normalize, values, keys = _FORKED
    sent.send([tuple(map(normalize(value).get, keys)) for value in values[start:end]])
    sent.close()


def _output_type(kind: str, key: str) -> pl.DataType:
    """The type of a normalizer's output, declared so that a column no row of the day fills (every name blank,
    a source without addresses) has the type it has on any other day, not Polars' typeless Null."""
    if key == "traditional":
        return pl.Boolean()
    if kind == "datetime" and key == "":
        return pl.Datetime("us")
    return pl.Utf8()


def _quarantine_code() -> pl.Expr:
    place = pl.coalesce("addr_road", "addr_community", "addr_town")
    unusable = pl.col("name").is_null() & pl.col("id_number").is_null() & pl.col("phone").is_null() & place.is_null()
    return (
        pl.when(pl.col("ingest_issue").is_not_null())
        .then(pl.col("ingest_issue"))
        .when(unusable)
        .then(pl.lit("no_usable_field"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
