"""jingzhun.cleansing.datetimes: parse_datetime."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.cleansing.datetimes import parse_datetime

D = dt.datetime
CASES = [
    ("2026-11-22 08:13:05", D(2026, 11, 22, 8, 13, 5)),
    ("2026/11/22 8:13", D(2026, 11, 22, 8, 13)),
    ("2026/2/3", D(2026, 2, 3)),
    ("2026.2.3", D(2026, 2, 3)),
    ("2026年2月3日", D(2026, 2, 3)),
    ("2026年11月22日 08时13分", D(2026, 11, 22, 8, 13)),
    ("2026年11月22日08时13分05秒", D(2026, 11, 22, 8, 13, 5)),
    ("2026年11月22日 8:13:05", D(2026, 11, 22, 8, 13, 5)),
    ("20261122", D(2026, 11, 22)),
    ("202611220813", D(2026, 11, 22, 8, 13)),
    ("20261122081305", D(2026, 11, 22, 8, 13, 5)),
    ("2026-11-22T08:13:05", D(2026, 11, 22, 8, 13, 5)),
    ("2026-11-22T08:13:05.250", D(2026, 11, 22, 8, 13, 5, 250000)),
    ("2026-11-22T00:13:05Z", D(2026, 11, 22, 8, 13, 5)),
    ("2026-11-22T08:13:05+08:00", D(2026, 11, 22, 8, 13, 5)),
    ("2026-11-22T01:13:05+01:00", D(2026, 11, 22, 8, 13, 5)),
    ("45678.34375", D(2025, 1, 21, 8, 15)),
    ("45678", D(2025, 1, 21)),
    ("36526", D(2000, 1, 1)),
    ("２０２６－１１－２２　０８：１３", D(2026, 11, 22, 8, 13)),
    ("２０２６年２月３日", D(2026, 2, 3)),
    ("  2026-11-22  ", D(2026, 11, 22)),
    ("2026-02-30", None),
    ("2026-13-01", None),
    ("2026-11-22 24:00", None),
    ("22/11/2026", None),  # day-first: never guessed
    ("11/22/2026", None),  # month-first: never guessed
    ("26/11/22", None),
    ("2026", None),
    ("12345", None),  # serial before 1990
    ("99999", None),  # serial after 2100
    ("0001-01-01", None),
    ("abc", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_examples(raw, expected):
    assert parse_datetime(raw) == expected


DATETIMES = st.datetimes(min_value=D(1990, 1, 1), max_value=D(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)
FULLWIDTH = str.maketrans("0123456789-:/ ", "０１２３４５６７８９－：／\u3000")


@settings(max_examples=300, deadline=None)
@given(DATETIMES)
def test_written_styles_round_trip(value):
    minute = value.replace(second=0)
    day = value.replace(hour=0, minute=0, second=0)
    styles = {
        f"{value:%Y-%m-%d %H:%M:%S}": value,
        f"{value:%Y-%m-%dT%H:%M:%S}": value,
        f"{value.year}/{value.month}/{value.day} {value.hour}:{value.minute:02d}": minute,
        f"{value.year}/{value.month}/{value.day}": day,
        f"{value.year}年{value.month}月{value.day}日": day,
        f"{value:%Y年%m月%d日 %H时%M分}": minute,
        f"{value:%Y%m%d}": day,
        f"{value:%Y%m%d%H%M%S}": value,
        f"{value:%Y-%m-%d %H:%M:%S}".translate(FULLWIDTH): value,
    }
    for text, expected in styles.items():
        assert parse_datetime(text) == expected, text


@settings(max_examples=300, deadline=None)
@given(DATETIMES)
def test_excel_serial_round_trip(value):
    serial = (value - D(1899, 12, 30)).total_seconds() / 86400
    assert parse_datetime(repr(serial)) == value


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_never_raises(s):
    out = parse_datetime(s)
    assert out is None or isinstance(out, dt.datetime)
