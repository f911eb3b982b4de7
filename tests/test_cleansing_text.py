"""jingzhun.cleansing.text: normalize_text / has_traditional."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.cleansing.text import RADICAL_LOOKALIKES, has_traditional, normalize_text

EXAMPLES = [
    (None, None),
    ("", None),
    ("   \t\n", None),
    ("\u200b\ufeff", None),
    ("张三", "张三"),
    ("  张   三  ", "张 三"),
    ("Ｈｅｌｌｏ　１２３", "Hello 123"),
    ("上海市浦東新區張江鎮", "上海市浦东新区张江镇"),
    ("碧波路455巷3號", "碧波路455巷3号"),
    ("數(shù)據(jù)", "数据"),
    ("戰(zhàn)", "战"),
    ("戰（zhàn）爭", "战争"),
    ("數(shu4)據(ju4)", "数据"),
    ("公司(ABC)", "公司(ABC)"),  # not pinyin: kept
    ("产品(2024)", "产品(2024)"),
    ("⻄藏", "西藏"),
    ("⻩浦区", "黄浦区"),
    ("⻓宁区", "长宁区"),
    ("⽇本", "日本"),  # Kangxi radical, NFKC
    ("⾦桥", "金桥"),
    ("\ufeff张\u200b三\u200d", "张三"),
    ("李\x00四\x7f", "李四"),
    ("王\u0085五", "王 五"),  # NEL is a line break, i.e. whitespace
    ("a\u202eb", "ab"),
    ("\ud800孤立代理", "孤立代理"),
    ("第一行\r\n第二行", "第一行 第二行"),
]


@pytest.mark.parametrize(("raw", "expected"), EXAMPLES)
def test_examples(raw, expected):
    assert normalize_text(raw) == expected


def test_kangxi_radicals_are_handled_by_nfkc():
    for cp in range(0x2F00, 0x2FD6):
        out = normalize_text(chr(cp))
        assert out is not None and len(out) == 1
        assert not 0x2F00 <= ord(out) <= 0x2FDF, hex(cp)


def test_radical_supplement_table_targets_are_ideographs():
    for radical, target in RADICAL_LOOKALIKES.items():
        assert 0x2E80 <= ord(radical) <= 0x2EFF
        assert unicodedata.name(target).startswith("CJK UNIFIED IDEOGRAPH"), (radical, target)
        out = normalize_text(radical)
        assert out is not None and not 0x2E80 <= ord(out[0]) <= 0x2EFF


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("數據", True), ("张江鎮", True), ("张江镇", False), ("abc", False), (None, False), ("", False)],
)
def test_has_traditional(raw, expected):
    assert has_traditional(raw) is expected


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_never_raises_and_is_idempotent(s):
    out = normalize_text(s)
    assert out is None or (out == out.strip() and out and "  " not in out)
    assert normalize_text(out) == out


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("數據戰張鎮號区⻄⽇ \u200b\t１２ab(shù)（）·")))
def test_idempotent_on_relevant_alphabet(s):
    out = normalize_text(s)
    assert normalize_text(out) == out
    if out is not None:
        assert not has_traditional(out)


def test_large_input():
    s = "數(shù)據(jù)\u200b" * 20_000
    assert normalize_text(s) == "数据" * 20_000
