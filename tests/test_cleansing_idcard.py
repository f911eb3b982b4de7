"""jingzhun.cleansing.idcard: GB 11643-1999 check digit, classification, repairs, near-miss helpers."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.cleansing.idcard import STATUSES, IdNumber, check_digit, parse_id_number


# The two worked examples printed in GB 11643-1999.
@pytest.mark.parametrize(("first17", "expected"), [("11010519491231002", "X"), ("44052418800101001", "4")])
def test_check_digit_standard_examples(first17, expected):
    assert check_digit(first17) == expected


@pytest.mark.parametrize("bad", ["", "123", "1101051949123100X", "１１０１０５１９４９１２３１００２"])
def test_check_digit_rejects_non_17_digits(bad):
    assert check_digit(bad) == ""


CASES = [
    ("11010519491231002X", "11010519491231002X", "valid", ()),
    ("11010519491231002x", "11010519491231002X", "valid", ("lowercase_x",)),
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", "valid", ("fullwidth",)),
    ("110105 1949 1231 002X", "11010519491231002X", "valid", ("separators",)),
    ("110105-19491231-002X", "11010519491231002X", "valid", ("separators",)),
    ("'11010519491231002X", "11010519491231002X", "valid", ("separators",)),
    ("11010519491231002×", "11010519491231002X", "valid", ("x_variant",)),
    ("440524188001010014", "440524188001010014", "valid", ()),
    ("110105491231002", "11010519491231002X", "upgraded_15", ()),
    ("110105194912310021", "110105194912310021", "bad_check_digit", ()),
    ("11010519491231002", None, "bad_length", ()),
    ("1101051949123100211", None, "bad_length", ()),
    ("11010519491331002X", None, "bad_date", ()),
    ("110105194902300028", None, "bad_date", ()),
    ("110105491331002", None, "bad_date", ()),
    ("abc", None, "malformed", ()),
    ("11010519491231002Y", None, "malformed", ()),
    ("3.10115199001011E+17", None, "malformed", ("separators",)),
    ("", None, "missing", ()),
    ("   ", None, "missing", ()),
    (None, None, "missing", ()),
]


@pytest.mark.parametrize(("raw", "value", "status", "repairs"), CASES)
def test_classification(raw, value, status, repairs):
    parsed = parse_id_number(raw)
    assert isinstance(parsed, IdNumber)
    assert (parsed.value, parsed.status, parsed.repairs) == (value, status, repairs)


def test_fields_of_a_valid_id():
    parsed = parse_id_number("11010519491231002X")
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.sex == "女"  # 17th digit 2
    assert parsed.area_code == "110105"
    male = parse_id_number("440524188001010014")
    assert male.sex == "男" and male.birth_date == dt.date(1880, 1, 1)


def test_bad_length_keeps_candidate_digits():
    parsed = parse_id_number("3101151990 0101123")
    assert parsed.status == "bad_length" and parsed.value is None
    assert parsed.candidate_digits == "31011519900101123"


def test_frozen():
    with pytest.raises(AttributeError):
        parse_id_number("11010519491231002X").value = "x"  # type: ignore[misc]


AREAS = st.sampled_from(["310115", "310104", "110105", "440305", "510107", "500103", "150102"])
BIRTH = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31))
SEQ = st.integers(min_value=0, max_value=999)


def _make_id(area: str, birth: dt.date, seq: int) -> str:
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)


@settings(max_examples=300, deadline=None)
@given(AREAS, BIRTH, SEQ, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_single_digit_change_is_detected(area, birth, seq, position, delta):
    valid = _make_id(area, birth, seq)
    parsed = parse_id_number(valid)
    assert parsed.status == "valid" and parsed.birth_date == birth
    changed = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1 :]
    assert parse_id_number(changed).status in ("bad_check_digit", "bad_date")


@settings(max_examples=200, deadline=None)
@given(AREAS, st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1999, 12, 31)), SEQ)
def test_15_digit_upgrade(area, birth, seq):
    old = f"{area}{birth:%y%m%d}{seq:03d}"
    parsed = parse_id_number(old)
    assert parsed.status == "upgraded_15"
    assert parsed.birth_date == birth
    assert parsed.sex == ("男" if seq % 2 else "女")
    again = parse_id_number(parsed.value)
    assert again.status == "valid" and again.birth_date == birth and again.sex == parsed.sex


@settings(max_examples=200, deadline=None)
@given(AREAS, BIRTH, SEQ, st.integers(min_value=0, max_value=16))
def test_a_dropped_digit_is_kept_as_a_candidate_for_matching(area, birth, seq, position):
    valid = _make_id(area, birth, seq)
    dropped = valid[:position] + valid[position + 1 :]
    parsed = parse_id_number(dropped)
    assert parsed.status == "bad_length" and parsed.value is None
    assert parsed.candidate_digits == dropped


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_never_raises(s):
    parsed = parse_id_number(s)
    assert parsed.status in STATUSES
    assert (parsed.value is not None) == (parsed.status in ("valid", "upgraded_15", "bad_check_digit"))
