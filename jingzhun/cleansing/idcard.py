"""Resident identity card numbers (GB 11643-1999): normalization, validation, 15→18 upgrade.

The status tells the matcher how far to trust a number: `valid` and `upgraded_15` are exact
keys; `bad_check_digit` and `bad_length` are near-miss candidates that the matcher compares by one
Damerau-Levenshtein edit (`jingzhun/matching/comparisons.py`).  This module must never raise, never invent digits
(the only computed digit is the check digit of an upgraded 15-digit number) and never depend
on today's date: the plausible birth-year window is fixed so results are reproducible.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from jingzhun.cleansing.address import division_name
from jingzhun.cleansing.text import strip_invisible

__all__ = ["STATUSES", "IdNumber", "check_digit", "parse_id_number", "settled_id_numbers"]

STATUSES = ("valid", "upgraded_15", "bad_check_digit", "bad_length", "bad_date", "malformed", "missing")

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# Birth years outside this window are typing errors, not people (fixed: see module docstring).
MIN_BIRTH_YEAR = 1870  # the standard's own example is born 1880
MAX_BIRTH_YEAR = 2099

_SEPARATORS = re.compile(r"[\s\-_.,/·*'\"]+")
# Look-alikes of X typed on phones and by OCR: multiplication sign, Cyrillic Kha.
_X_VARIANTS = str.maketrans({"×": "X", "Х": "X", "х": "X"})
_ID18 = re.compile(r"\d{17}[\dX]")
_ID15 = re.compile(r"\d{15}")
_NEAR_LENGTH = re.compile(r"\d{13,19}X?|\d{13,18}X")


@dataclass(frozen=True, slots=True)
class IdNumber:
    value: str | None
    status: str
    repairs: tuple[str, ...] = ()
    birth_date: dt.date | None = None
    sex: str | None = None
    area_code: str | None = None
    # The cleaned characters when they do not form a usable ID (bad_length, bad_date).
    candidate_digits: str | None = None


def check_digit(first17: str) -> str:
    """GB 11643 check character for 17 digits ('' if the input is not 17 digits)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        return ""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _birth_date(yyyymmdd: str) -> dt.date | None:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    if not MIN_BIRTH_YEAR <= year <= MAX_BIRTH_YEAR:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _clean(s: str) -> tuple[str, tuple[str, ...]]:
    repairs: list[str] = []
    visible = strip_invisible(s)
    if visible != s:
        repairs.append("invisible")  # NUL, ESC, zero-width characters pasted along with the number
    text = unicodedata.normalize("NFKC", visible)
    if text != visible:
        repairs.append("fullwidth")
    translated = text.translate(_X_VARIANTS)
    if translated != text:
        repairs.append("x_variant")
    text = translated.strip()
    stripped = _SEPARATORS.sub("", text)
    if stripped != text:
        repairs.append("separators")
    if "x" in stripped:
        repairs.append("lowercase_x")
        stripped = stripped.replace("x", "X")
    return stripped, tuple(repairs)


def _from_18(value: str, status: str, repairs: tuple[str, ...]) -> IdNumber:
    birth = _birth_date(value[6:14])
    if birth is None:
        return IdNumber(None, "bad_date", repairs, area_code=value[:6], candidate_digits=value)
    if value[17] != check_digit(value[:17]) and status == "valid":
        status = "bad_check_digit"
    sex = "男" if int(value[16]) % 2 else "女"
    return IdNumber(value, status, repairs, birth, sex, value[:6])


def parse_id_number(s: str | None) -> IdNumber:
    """Normalize and classify one ID number; never raises."""
    if not isinstance(s, str) or not s.strip():
        return IdNumber(None, "missing")
    text, repairs = _clean(s)
    if not text:
        return IdNumber(None, "missing", repairs)
    if _ID18.fullmatch(text):
        return _from_18(text, "valid", repairs)
    if _ID15.fullmatch(text):
        # Old form: 6 area + YYMMDD + 3 sequence; all were issued to people born in the 1900s.
        first17 = text[:6] + "19" + text[6:]
        return _from_18(first17 + check_digit(first17), "upgraded_15", repairs)
    if _NEAR_LENGTH.fullmatch(text):
        return IdNumber(None, "bad_length", repairs, candidate_digits=text)
    return IdNumber(None, "malformed", repairs)


def settled_id_numbers(values: pl.Series) -> pl.DataFrame:
    """`parse_id_number` on a whole column at once, for the values most rows hold: 17 ASCII digits and a digit
    or X, with a birth date in the window (no repair). Columns `raw`, `value` and `status` (`valid` or
    `bad_check_digit`); every other value is left out, for `parse_id_number` to read."""
    raw = pl.col("raw")
    digit = [raw.str.slice(i, 1).cast(pl.Int32) for i in range(17)]
    year, month, day = (raw.str.slice(start, length).cast(pl.Int32) for start, length in ((6, 4), (10, 2), (12, 2)))
    # One filter after the other (eagerly): each step's casts and dates hold only for what the step before kept.
    candidates = (
        pl.DataFrame({"raw": values}, schema={"raw": pl.Utf8})
        .filter(raw.str.contains(r"^[0-9]{17}[0-9X]$"))
        .filter(year.is_between(MIN_BIRTH_YEAR, MAX_BIRTH_YEAR) & month.is_between(1, 12) & (day >= 1))
    )
    month_days = pl.date(year, month, 1).dt.month_end().dt.day().cast(pl.Int32)
    check = (pl.sum_horizontal(d * w for d, w in zip(digit, _WEIGHTS, strict=True)) % 11).replace_strict(
        dict(enumerate(_CHECK_CHARS)), return_dtype=pl.Utf8
    )
    return candidates.filter(day <= month_days).select(
        "raw",
        value=raw,
        status=pl.when(raw.str.slice(17, 1) == check).then(pl.lit("valid")).otherwise(pl.lit("bad_check_digit")),
    )


def id_birth_and_area(value: str | None) -> tuple[str | None, str | None]:
    """What the masked part of an ID number encodes that an analyst needs to tell two people apart: the birth date
    (1980-05-01) and the area of issue (上海市浦东新区)."""
    parsed = parse_id_number(value)
    birth = parsed.birth_date.isoformat() if parsed.birth_date else None
    return birth, division_name(parsed.area_code)


def id_details(column: str, prefix: str = "") -> list[pl.Expr]:
    """`<prefix>出生日期` and `<prefix>地区` of the ID numbers in `column`, to stand beside the masked number."""
    facts = pl.col(column).map_elements(
        lambda v: dict(zip(("birth", "area"), id_birth_and_area(v), strict=True)),
        return_dtype=pl.Struct({"birth": pl.Utf8, "area": pl.Utf8}),
    )
    return [facts.struct.field("birth").alias(f"{prefix}出生日期"), facts.struct.field("area").alias(f"{prefix}地区")]
