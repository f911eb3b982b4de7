"""Masking of personal data: the one place that decides how a person's ID number, phone, name and address are
shown, and that masks whatever looks like an ID number or a phone in any other text.

By allowlist: each kind of output shows a field as `jingzhun/rules/privacy.yaml` says (dispatch files the phone in full
for the visit, review files the last four digits, the report nothing identifiable); a field the file does not list is
masked. Every other text of every file — extra columns, 诉求内容, raw cells, file details — goes through
`scrub_text`, so that an ID number under a header nobody mapped still leaves masked. Never log or print an unmasked
value outside the cells meant for it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable
from functools import partial
from typing import Any

import polars as pl

from jingzhun.core import rules

# House numbers and rooms in any digits (\d is every Unicode digit: full-width １５８ too) or Chinese numerals.
_NUMBERS = re.compile(r"[\d〇零一二三四五六七八九十百千两幺]")

# Anything that may be an ID number or a phone: a run of digits (any Unicode digits), single spaces or hyphens
# between them allowed (310115 19800501 1234, 138-1234-5678), an ID's final X included. A written date
# (2026-11-22 07:30, 2026年11月22日) is matched first and left alone.
_X = "XxＸｘ×"
_GAP = "[ \u00a0\u3000\\-－‐‑–—]"
_DATE = r"(?<!\d)\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:[ T]?\d{1,2}[:：时]\d{1,2}(?:[:：分]\d{1,2}秒?)?)?(?!\d)"
_NUMBER = rf"(?<!\d)\+?\d(?:{_GAP}?\d)*(?:{_GAP}?[{_X}](?![A-Za-z]))?"
# A phone that went through a spreadsheet as a number: 1.3812345678E+10.
_SCIENTIFIC = r"(?<!\d)\d\.\d{6,}[Ee]\+?\d{1,2}(?!\d)"
_DATE_OR_NUMBER = re.compile(f"(?P<date>{_DATE})|(?P<scientific>{_SCIENTIFIC})|(?P<number>{_NUMBER})")
_MOBILE = re.compile(r"(?:0?86)?1[3-9]\d{9}")
# Shorter than this, a number is a house number, a count or a code, not a phone (local landlines have 7 or 8).
PHONE_MIN_DIGITS = 7
ID_MIN_DIGITS = 15
# A run glued to Latin letters or "_" is a code (工单号 HL20261201000004, a file name's time stamp) unless it is
# as long as an ID number or is a mobile number.
_GLUE = re.compile(r"[A-Za-z_]")

# Quarantine reasons under which a row's cells may not be under their headers: no header says what a value is.
COLUMNS_UNTRUSTED = ("ragged_row", "unmapped_header", "unbalanced_quote", "oversized_cell")
# Fields that hold free text rather than one value: what a caller typed, the extra columns of an export.
FREE_TEXT_FIELDS = ("content", "extras")


def mask_id_number(value: str | None) -> str | None:
    """Keep the area code and the last four characters: enough to tell people apart, not to misuse."""
    if not value:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"


def mask_address(value: str | None) -> str | None:
    """House numbers and rooms are what identify a home; the road and community names are kept (a numeral in a
    name, 三林镇, is masked too: over-masking a report is the safe side)."""
    return _NUMBERS.sub("*", value) if value else value


def mask_last4(value: str | None) -> str | None:
    """The last four characters only (the tail of a phone number an analyst compares): *******5678."""
    if not value:
        return value
    return "*" * (len(value) - 4) + value[-4:] if len(value) > 4 else "*" * len(value)


def mask_unknown(value: str | None) -> str | None:
    """A value no rule says anything about: every digit and every character after the first masked."""
    return mask_address(mask_name(value))


MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone, "address": mask_address}


def _is_date(digits: str) -> bool:
    """20261122, 202611220730 or 20261122073015: a date or a time stamp, no phone or ID number is written so."""
    if len(digits) not in (8, 12, 14) or not digits.isdigit():
        return False
    parts = [int(digits[:4]), int(digits[4:6]), int(digits[6:8]), *map(int, re.findall("..", digits[8:]))]
    try:
        dt.datetime(*parts)
    except ValueError:
        return False
    return 1900 <= parts[0] <= 2099


def _mask_number(match: re.Match[str]) -> str:
    run = match.group()
    if match.group("date"):
        return run
    if match.group("scientific"):
        mantissa = run.index(".") + 1
        return run[:mantissa] + "*" * (len(run) - mantissa)
    at = [i for i, ch in enumerate(run) if ch.isdigit() or ch in _X]
    if len(at) < PHONE_MIN_DIGITS:
        return run
    digits = unicodedata.normalize("NFKC", "".join(run[i] for i in at))
    if _is_date(digits):
        return run  # 20261122 in a file name, 20261122073015 as a health export writes its times
    text, start, end = match.string, match.start(), match.end()
    glued = bool(_GLUE.match(text[start - 1 : start]) or _GLUE.match(text[end : end + 1]))
    if glued and len(at) < ID_MIN_DIGITS and not _MOBILE.fullmatch(digits):
        return run
    head = 6 if len(at) >= ID_MIN_DIGITS else 3 if len(at) >= 11 else 0
    hidden = set(at[head : len(at) - 4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(run))


def scrub_text(value: Any) -> Any:
    """Text with every ID number and phone number in it masked, however written (spaced, hyphenated, full-width
    digits); what is not text is returned as it is. Dates stay readable; an 8-digit number that is a date
    (20261122) too."""
    if not isinstance(value, str):
        return value
    return _DATE_OR_NUMBER.sub(_mask_number, value)


def scrub_frame(frame: pl.DataFrame, keep: Iterable[str] = ()) -> pl.DataFrame:
    """Every text cell scrubbed (`scrub_text`), except in the columns `keep`: those hold a field whose showing
    `show` already decided."""
    keep = set(keep)
    scrubbed = []
    for name, dtype in frame.schema.items():
        if name in keep:
            continue
        if dtype == pl.Utf8:
            scrubbed.append(scrub_texts(frame[name]))
        elif dtype == pl.List(pl.Utf8):
            scrubbed.append(
                pl.col(name).map_elements(lambda values: [scrub_text(v) for v in values], return_dtype=dtype)
            )
    return frame.with_columns(scrubbed) if scrubbed else frame


def scrub_texts(texts: pl.Series) -> pl.Series:
    """`scrub_text` of every text of a column. Only the texts that may hold a number it masks go through Python,
    each distinct one once: a masked run has at least six digits with at most single gaps between them (seven
    digits, or six and an X), and so does the scientific form; most cells of a work list (names, committees,
    house numbers) have none."""
    may = texts.str.contains(_SIX_DIGITS).fill_null(False)
    if not may.any():
        return texts
    at = may.arg_true()
    held = texts.gather(at)
    distinct = held.unique()
    scrubbed = held.replace_strict(distinct, distinct.map_elements(scrub_text, return_dtype=pl.Utf8))
    return texts.clone().scatter(at, scrubbed)


_SIX_DIGITS = rf"\d(?:{_GAP}?\d){{5}}"


def _policy(output: str, field: str) -> str:
    key = "free_text" if field in FREE_TEXT_FIELDS else field
    return rules.load("privacy")["outputs"][output].get(key, "masked")


def show(output: str, field: str, value: str | None) -> str | None:
    """`value` of `field` as `jingzhun/rules/privacy.yaml` lets `output` show it; a field not listed there is masked."""
    how = _policy(output, field)
    if value is None or how == "full":
        return value
    if how == "hidden":
        return None
    if how == "last4":
        return mask_last4(value)
    if field in FREE_TEXT_FIELDS:
        return scrub_text(value)
    return MASKS.get(field, mask_unknown)(value)


def shown(output: str, field: str, column: str | pl.Expr) -> pl.Expr:
    """The column as `show` shows it (keeps the column's name), in Polars: a work list of a million records would
    otherwise call `show` five million times."""
    expr = pl.col(column) if isinstance(column, str) else column
    how = _policy(output, field)
    if how == "full":
        return expr
    if how == "hidden":
        return pl.when(pl.lit(False)).then(expr.cast(pl.Utf8))
    if how == "last4":
        return _masked(expr, keep_head=0, keep_tail=4, above=4)
    if field in FREE_TEXT_FIELDS:
        return expr.map_batches(scrub_texts, return_dtype=pl.Utf8)
    masks = {
        "name": partial(_masked, keep_head=1, keep_tail=0, above=1),
        "id_number": partial(_masked, keep_head=6, keep_tail=4, above=10),
        "phone": partial(_masked, keep_head=3, keep_tail=4, above=10, stars=4),
        "address": _masked_numbers,
    }
    return masks.get(field, lambda e: _masked_numbers(_masked(e, keep_head=1, keep_tail=0, above=1)))(expr)


def _masked(text: pl.Expr, keep_head: int, keep_tail: int, above: int, stars: int | None = None) -> pl.Expr:
    """`mask_name`, `mask_id_number`, `mask_phone` and `mask_last4` as an expression: a text longer than `above`
    keeps its first `keep_head` and last `keep_tail` characters, the rest starred (`stars` of them when given);
    a shorter one is all stars; an empty one stays empty."""
    length = text.str.len_chars()
    hidden = pl.lit(stars * "*") if stars is not None else _stars(length - (keep_head + keep_tail))
    kept = pl.concat_str(text.str.slice(0, keep_head), hidden, text.str.slice(-keep_tail) if keep_tail else pl.lit(""))
    return pl.when(length > above).then(kept).otherwise(_stars(length))


def _stars(count: pl.Expr) -> pl.Expr:
    return pl.lit("").str.pad_end(count, "*")


def _masked_numbers(text: pl.Expr) -> pl.Expr:
    """`mask_address`: every numeral starred."""
    return text.str.replace_all(_NUMBERS.pattern, "*")


def mask_record(values: dict[str, object], output: str = "report", columns_trusted: bool = True) -> dict[str, object]:
    """A raw record (field -> value) as `output` may show it: personal fields by `jingzhun/rules/privacy.yaml`, fields
    known to be harmless scrubbed of ID numbers and phones, any other field masked. When the row's cells may sit under
    the wrong headers (a ragged row, an unknown header), no name tells what a value is, so every value is masked."""
    harmless = set(rules.load("privacy")["not_personal"])
    masked: dict[str, object] = {}
    for field, value in values.items():
        free_text = field in FREE_TEXT_FIELDS
        if _policy(output, field) == "hidden":
            continue
        if value is None:
            masked[field] = None
        elif isinstance(value, dict):  # the extra columns of a row, by header
            masked[field] = (
                mask_record(value, output, columns_trusted=False)
                if not columns_trusted
                else {k: scrub_text(v) for k, v in value.items()}
            )
        elif not columns_trusted:
            masked[field] = mask_unknown(str(value))
        elif free_text or field in harmless:
            masked[field] = scrub_text(str(value))
        elif field in MASKS:
            masked[field] = show(output, field, str(value))
        else:
            masked[field] = mask_unknown(str(value))
    return masked


def mask_raw_values(frame: pl.DataFrame, output: str) -> pl.DataFrame:
    """Quarantined rows (`raw_values` as JSON, `reason_code`) with their values as `output` may show them."""

    def masked(row: dict[str, Any]) -> str:
        values = json.loads(row["raw_values"])
        return json.dumps(mask_record(values, output, row["reason_code"] not in COLUMNS_UNTRUSTED), ensure_ascii=False)

    return frame.with_columns(
        raw_values=pl.struct("raw_values", "reason_code").map_elements(masked, return_dtype=pl.Utf8)
    )
