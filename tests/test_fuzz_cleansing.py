"""Property-based tests of cleansing as the pipeline runs it: every normalizer of
`jingzhun.cleansing.pipeline.NORMALIZERS` over a column of random values, and the standard values it gives fed back in.

What must hold: one output row per input row, in order, the raw value kept, each row with its own value's outputs;
every output column has the same type whatever the values (an all-null day included); a standard value is a fixed
point of its normalizer. (The address parser's own properties are in test_cleansing_address.py.)
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingzhun.cleansing.address import ADDRESS_FIELDS, parse_address
from jingzhun.cleansing.datetimes import parse_datetime
from jingzhun.cleansing.idcard import parse_id_number
from jingzhun.cleansing.names import name_fuzzy_key, name_pinyin, normalize_name
from jingzhun.cleansing.phone import normalize_phone
from jingzhun.cleansing.pipeline import NORMALIZERS, normalize_column
from jingzhun.cleansing.text import has_traditional, normalize_text_flagged
from jingzhun.core import rules

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Values as exports hold them: digits, hanzi of names and addresses, separators, full-width forms, and anything.
EXPORT_CHARACTERS = "0123456789０１２３Xx王伟李娜張张江镇碧波路弄号號室栋单元浦东新区上海市 -+()（）/:：.年月日時时分"
values = st.one_of(st.none(), st.text(st.sampled_from(EXPORT_CHARACTERS), max_size=24), st.text(max_size=12))


def _schema(kind: str) -> dict[str, pl.DataType]:
    """The columns a normalizer adds, and their types, on a column no row fills."""
    empty = pl.DataFrame({"v": [None, None]}, schema={"v": pl.Utf8})
    return dict(normalize_column(empty, "v", kind).schema)


@pytest.mark.parametrize("kind", list(NORMALIZERS))
def test_an_all_null_column_has_typed_columns(kind):
    assert pl.Null not in _schema(kind).values()


@pytest.mark.parametrize("kind", list(NORMALIZERS))
@FUZZ
@given(column=st.lists(values, max_size=12))
def test_one_output_per_input_in_order_with_the_same_types_whatever_the_values(kind, column):
    frame = pl.DataFrame(
        {"v": column, "position": list(range(len(column)))}, schema={"v": pl.Utf8, "position": pl.Int64}
    )
    out = normalize_column(frame, "v", kind)
    assert out["position"].to_list() == list(range(len(column)))
    assert out["v_raw"].to_list() == column
    assert dict(out.drop("position").schema) == _schema(kind)
    # The repeat cache normalizes each distinct value once: each row must get its own value's outputs.
    for value, row in zip(column[:4], out.drop("position").iter_rows(named=True), strict=False):
        alone = normalize_column(pl.DataFrame({"v": [value]}, schema={"v": pl.Utf8}), "v", kind)
        assert alone.row(0, named=True) == row


@FUZZ
@given(value=values)
def test_text_is_a_fixed_point(value):
    text, _ = normalize_text_flagged(value)
    assert normalize_text_flagged(text)[0] == text


@FUZZ
@given(value=values)
def test_names_and_their_keys_are_fixed_points(value):
    name = normalize_name(value)
    assert normalize_name(name) == name
    assert name_pinyin(normalize_name(name)) == name_pinyin(name)
    assert name_fuzzy_key(name) == name_fuzzy_key(normalize_name(name))


@FUZZ
@given(value=values)
def test_a_standard_id_number_is_a_fixed_point(value):
    parsed = parse_id_number(value)
    if parsed.value is not None:
        again = parse_id_number(parsed.value)
        assert (again.value, again.status) == (parsed.value, "valid")


@FUZZ
@given(value=values)
def test_a_standard_phone_is_a_fixed_point(value):
    parsed = normalize_phone(value)
    if parsed.value is not None:
        assert normalize_phone(parsed.value).value == parsed.value


@FUZZ
@given(value=values)
def test_a_standard_time_is_a_fixed_point(value):
    parsed = parse_datetime(value)
    if parsed is not None:
        assert parse_datetime(parsed.strftime("%Y-%m-%d %H:%M:%S")) == parsed


# ID numbers and phones as a population register holds them (most written right, some not): the column-at-once
# path of `normalize_column` (`SETTLED`) must give exactly what the scalar normalizer gives.
id_like = st.builds(
    lambda area, year, month, day, seq, last: f"{area}{year:04d}{month:02d}{day:02d}{seq}{last}",
    st.sampled_from(["310115", "110101", "000000"]),
    st.integers(1860, 2105),
    st.integers(0, 13),
    st.integers(0, 32),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
    st.sampled_from([*"0123456789Xx", "", "12"]),
)
phone_like = st.one_of(
    st.from_regex(r"1[0-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"0[0-9]{2}[0-9]{8}", fullmatch=True),
    st.from_regex(r"[0-9]{10,12}", fullmatch=True),
)


PLACEHOLDERS = {str(p).casefold() for p in rules.load("cleansing")["placeholders"]}


@pytest.mark.parametrize(("kind", "strategy"), [("id_number", id_like), ("phone", phone_like)])
@FUZZ
@given(data=st.data())
def test_the_column_at_once_path_gives_what_the_normalizer_gives(kind, strategy, data):
    column = data.draw(st.lists(st.one_of(strategy, values), max_size=30))
    out = normalize_column(pl.DataFrame({"v": column}, schema={"v": pl.Utf8}), "v", kind)
    for value, row in zip(column, out.iter_rows(named=True), strict=True):
        if value is None:
            continue
        expected = NORMALIZERS[kind]("" if value.strip().casefold() in PLACEHOLDERS else value)
        assert {key: row[f"v_{key}" if key else "v"] for key in expected} == expected, value


@FUZZ
@given(value=st.one_of(values, st.sampled_from(["张伟", "張偉", "买买提·吐尔逊", " 李 娜 ", "欧阳娜娜"])))
def test_the_pipeline_reads_a_name_as_the_name_functions_do(value):
    # The pipeline normalizes a name once, not once per output: its outputs must be the functions' own.
    value = value or ""
    name = normalize_name(value)
    assert NORMALIZERS["name"](value) == {
        "": name,
        "pinyin": name_pinyin(name),
        "key": name_fuzzy_key(name),
        "traditional": has_traditional(value),
    }


ADDRESSES = ["上海市浦东新区张江镇碧波路455弄3号502室", "上海市浦東新區碧波路四五五弄3號", " 碧波路455弄 3号 ", "鎮"]


@FUZZ
@given(value=st.one_of(values, st.sampled_from(ADDRESSES)))
def test_the_pipeline_parses_an_address_as_the_parser_does(value):
    # The pipeline does not normalize again a text the normalization left as written: the fields must be the same.
    value = value or ""
    text, traditional = normalize_text_flagged(value)
    parsed = parse_address(text)
    assert NORMALIZERS["address"](value) == {
        "": text,
        "traditional": traditional,
        **{f"addr_{field}": parsed[field] for field in ADDRESS_FIELDS},
    }
