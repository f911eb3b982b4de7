"""Telephone numbers: mainland mobiles and Shanghai landlines in one canonical digit form.

Mobiles become their 11 digits, Shanghai landlines `021` + 8 digits.  The module must never
raise and never guess missing digits: a bare 8-digit local number, an extension, a second
number in the same cell or another city's landline is `invalid` (value None) — completing or
choosing would manufacture matches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import polars as pl

from jingzhun.cleansing.text import strip_invisible

__all__ = ["Phone", "normalize_phone", "settled_phones"]

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_.()\[\]{}【】〔〕/\\'\"]+")
_EXCEL_FLOAT = re.compile(r"(?<=\d)\.0+$")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_SHANGHAI_LANDLINE = re.compile(r"021[2-9]\d{7}")
# Country code: '+86' / '0086' always; a bare '86' only where what follows is a complete number.
_COUNTRY_CODE = re.compile(r"(?:\+|00)86")
_BARE_86 = re.compile(r"86(?=1[3-9]\d{9}$|21[2-9]\d{7}$)")
# After stripping '+86', the Shanghai area code is written without its trunk zero: 21XXXXXXXX.
_INTERNATIONAL_SHANGHAI = re.compile(r"21[2-9]\d{7}")


@dataclass(frozen=True, slots=True)
class Phone:
    value: str | None
    kind: str | None  # 'mobile' | 'landline' | None
    status: str  # 'valid' | 'invalid' | 'missing'
    repairs: tuple[str, ...] = ()


def normalize_phone(s: str | None) -> Phone:
    """Canonical phone number with kind and the repairs applied; never raises."""
    if not isinstance(s, str) or not s.strip():
        return Phone(None, None, "missing")
    repairs: list[str] = []
    visible = strip_invisible(s)
    if visible != s:
        repairs.append("invisible")
    text = unicodedata.normalize("NFKC", visible)
    if text != visible:
        repairs.append("fullwidth")
    text = text.strip()
    if _EXCEL_FLOAT.search(text):
        # A numeric Excel cell exported as float: 13812345678.0
        text = _EXCEL_FLOAT.sub("", text)
        repairs.append("excel_float")
    digits = _SEPARATORS.sub("", text)
    if digits != text:
        repairs.append("separators")
    had_country_code = False
    for pattern in (_COUNTRY_CODE, _BARE_86):
        if pattern.match(digits):
            digits = pattern.sub("", digits, count=1)
            had_country_code = True
            break
    if had_country_code:
        repairs.append("country_code")
        if _INTERNATIONAL_SHANGHAI.fullmatch(digits):
            digits = "0" + digits
    if _MOBILE.fullmatch(digits):
        return Phone(digits, "mobile", "valid", tuple(repairs))
    if _SHANGHAI_LANDLINE.fullmatch(digits):
        return Phone(digits, "landline", "valid", tuple(repairs))
    return Phone(None, None, "invalid", tuple(repairs))


def settled_phones(values: pl.Series) -> pl.DataFrame:
    """`normalize_phone` on a whole column at once, for the values most rows hold: a mobile or a Shanghai
    landline written as its bare ASCII digits, valid as it is. Columns `raw` and `value`; every other value is left
    out, for `normalize_phone` to read."""
    written_right = pl.col("raw").str.contains(r"^(1[3-9][0-9]{9}|021[2-9][0-9]{7})$")
    return (
        pl.DataFrame({"raw": values}, schema={"raw": pl.Utf8}).filter(written_right).select("raw", value=pl.col("raw"))
    )
