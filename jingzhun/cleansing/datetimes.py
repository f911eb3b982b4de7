"""Date-time parsing for every format seen in the exports, returning naive China-time values.

Accepted: `2026-11-22 08:13:05`, `2026/11/22 8:13`, `2026.2.3`, `2026年2月3日`,
`2026年11月22日 08时13分(05秒)`, compact `20261122` / `202611220813` / `20261122081305`, ISO 8601
with `T` and optional fraction and offset (converted to UTC+8), Excel 1900-system serial
numbers written as text (`45678.34375`), full-width digits.  Exports are always year first:
this module must never try day/month orders, never raise, and never accept a year outside
1900–2100 (such values are typing errors, not dates).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

__all__ = ["parse_datetime"]

MIN_YEAR, MAX_YEAR = 1900, 2100
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))

# Excel's 1900 date system counts from 1899-12-30 (its fictitious 1900-02-29 is absorbed).
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# Serials 32874 (1990-01-01) … 73051 (2100-01-01): outside this window a number is not a date.
_EXCEL_MIN, _EXCEL_MAX = 32874, 73051

_SEPARATED = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:\s*T\s*|\s+|(?<=日))"
    r"(?P<H>\d{1,2})\s*[:时點点]\s*(?P<M>\d{1,2})"
    r"(?:\s*[:分]\s*(?P<S>\d{1,2})(?P<frac>\.\d{1,9})?\s*秒?|\s*分)?"
    r")?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)
_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_SPACES = re.compile(r"\s+")


def _build(groups: dict[str, str | None]) -> dt.datetime | None:
    def number(key: str) -> int:
        return int(groups.get(key) or 0)

    year = number("y")
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    frac = groups.get("frac")
    micro = round(float(frac) * 1_000_000) if frac else 0
    try:
        value = dt.datetime(year, number("m"), number("d"), number("H"), number("M"), number("S"), min(micro, 999_999))
    except ValueError:
        return None
    tz = groups.get("tz")
    if tz:
        offset = dt.UTC if tz == "Z" else _parse_offset(tz)
        if offset is None:
            return None
        value = value.replace(tzinfo=offset).astimezone(CHINA_TZ).replace(tzinfo=None)
    return value


def _parse_offset(tz: str) -> dt.timezone | None:
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        return None
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _from_excel_serial(text: str) -> dt.datetime | None:
    serial = float(text)
    if not _EXCEL_MIN <= serial < _EXCEL_MAX:
        return None
    # Round to the second: 45678.34375 is exactly 08:15:00 but floats drift by microseconds.
    return _EXCEL_EPOCH + dt.timedelta(seconds=round(serial * 86400))


def parse_datetime(s: str | None) -> dt.datetime | None:
    """Parse one exported date/date-time; None for missing or unparseable values."""
    if not isinstance(s, str) or not s or len(s) > 64:
        return None
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", s)).strip()
    if not text:
        return None
    try:
        for pattern in (_SEPARATED, _COMPACT):
            match = pattern.fullmatch(text)
            if match:
                return _build(match.groupdict())
        if _SERIAL.fullmatch(text):
            return _from_excel_serial(text)
    except (ValueError, OverflowError):
        return None
    return None
