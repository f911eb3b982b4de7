"""jingzhun.cleansing.phone: normalize_phone."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.cleansing.phone import Phone, normalize_phone

CASES = [
    ("13812345678", "13812345678", "mobile", "valid"),
    ("138 1234 5678", "13812345678", "mobile", "valid"),
    ("138-1234-5678", "13812345678", "mobile", "valid"),
    ("+86 138 1234 5678", "13812345678", "mobile", "valid"),
    ("+86-13812345678", "13812345678", "mobile", "valid"),
    ("008613812345678", "13812345678", "mobile", "valid"),
    ("8613812345678", "13812345678", "mobile", "valid"),
    ("(+86)13812345678", "13812345678", "mobile", "valid"),
    ("１３８１２３４５６７８", "13812345678", "mobile", "valid"),
    ("13812345678.0", "13812345678", "mobile", "valid"),
    ("19912345678", "19912345678", "mobile", "valid"),
    ("021-62345678", "02162345678", "landline", "valid"),
    ("(021)62345678", "02162345678", "landline", "valid"),
    ("（０２１）６２３４－５６７８", "02162345678", "landline", "valid"),
    ("+86 21 6234 5678", "02162345678", "landline", "valid"),
    ("0086-21-62345678", "02162345678", "landline", "valid"),
    ("862162345678", "02162345678", "landline", "valid"),
    ("62345678", None, None, "invalid"),  # no area code: not completed
    ("0571-88888888", None, None, "invalid"),  # other city
    ("021-6234567", None, None, "invalid"),
    ("12812345678", None, None, "invalid"),
    ("1381234567", None, None, "invalid"),
    ("13812345678/13912345678", None, None, "invalid"),
    ("无", None, None, "invalid"),
    ("", None, None, "missing"),
    ("  ", None, None, "missing"),
    (None, None, None, "missing"),
]


@pytest.mark.parametrize(("raw", "value", "kind", "status"), CASES)
def test_examples(raw, value, kind, status):
    phone = normalize_phone(raw)
    assert isinstance(phone, Phone)
    assert (phone.value, phone.kind, phone.status) == (value, kind, status)


def test_repairs_are_reported():
    assert normalize_phone("+86 138-1234-5678").repairs == ("separators", "country_code")
    assert normalize_phone("１３８１２３４５６７８").repairs == ("fullwidth",)
    assert normalize_phone("13812345678").repairs == ()


MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
FULLWIDTH = str.maketrans("0123456789+-() ", "０１２３４５６７８９＋－（）\u3000")


def _variants(m: str) -> list[str]:
    spaced = f"{m[:3]} {m[3:7]} {m[7:]}"
    dashed = f"{m[:3]}-{m[3:7]}-{m[7:]}"
    return [
        m,
        spaced,
        dashed,
        f"+86{m}",
        f"+86 {spaced}",
        f"0086{m}",
        f"86{m}",
        f"(+86) {dashed}",
        f" {m} ",
        m.translate(FULLWIDTH),
        f"+86 {spaced}".translate(FULLWIDTH),
        f"{m}.0",
    ]


@settings(max_examples=200, deadline=None)
@given(MOBILE)
def test_mobile_variants_normalize_to_the_number(mobile):
    for variant in _variants(mobile):
        phone = normalize_phone(variant)
        assert (phone.value, phone.kind, phone.status) == (mobile, "mobile", "valid"), variant


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[2-9][0-9]{7}", fullmatch=True))
def test_shanghai_landline_variants(local):
    expected = "021" + local
    for variant in (
        f"021-{local}",
        f"(021){local}",
        f"021 {local[:4]} {local[4:]}",
        f"+86 21 {local}",
        expected,
    ):
        assert normalize_phone(variant).value == expected, variant


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_never_raises(s):
    phone = normalize_phone(s)
    assert phone.status in ("valid", "invalid", "missing")
    assert (phone.value is None) == (phone.status != "valid")
