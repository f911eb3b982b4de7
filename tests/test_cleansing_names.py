"""jingzhun.cleansing.names: normalize_name / name_pinyin / name_fuzzy_key."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jingzhun.cleansing.names import name_fuzzy_key, name_pinyin, normalize_name

NAMES = [
    (None, None),
    ("", None),
    ("王 伟", "王伟"),
    (" 王　伟 ", "王伟"),
    ("張偉", "张伟"),
    ("张三123", "张三"),
    ("李四（身份证）", "李四身份证"),  # characters are never judged, only noise is dropped
    ("阿卜杜拉•艾买提", "阿卜杜拉·艾买提"),
    ("阿卜杜拉.艾买提", "阿卜杜拉·艾买提"),
    ("阿卜杜拉・艾买提", "阿卜杜拉·艾买提"),
    ("阿卜杜拉▪艾买提", "阿卜杜拉·艾买提"),
    ("阿卜杜拉．艾买提", "阿卜杜拉·艾买提"),
    ("阿卜杜拉 · 艾买提", "阿卜杜拉·艾买提"),
    ("·买买提··吐尔逊·", "买买提·吐尔逊"),
    ("123", None),
    ("!!!", None),
    ("john  smith", "JOHN SMITH"),
    ("王\u200b伟", "王伟"),
]


@pytest.mark.parametrize(("raw", "expected"), NAMES)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


PINYIN = [
    ("曾国藩", "zeng guo fan"),
    ("单田芳", "shan tian fang"),
    ("解缙", "xie jin"),
    ("仇英", "qiu ying"),
    ("区志航", "ou zhi hang"),
    ("查良镛", "zha liang yong"),
    ("朴树", "piao shu"),
    ("尉迟恭", "yu chi gong"),
    ("长孙无忌", "zhang sun wu ji"),
    ("万俟卨", "mo qi xie"),
    ("乐嘉", "yue jia"),
    ("缪可", "miao ke"),
    ("覃家明", "qin jia ming"),
    ("盖聂", "ge nie"),
    ("召忠", "shao zhong"),
    ("员伟", "yun wei"),
    ("柏杨", "bai yang"),
    ("翟志刚", "zhai zhi gang"),
    ("秘伟", "bi wei"),
    ("欧阳修", "ou yang xiu"),
    ("司马光", "si ma guang"),
    ("诸葛亮", "zhu ge liang"),
    ("上官婉儿", "shang guan wan er"),
    ("王 伟", "wang wei"),
    ("吕布", "lv bu"),
    ("買買提·吐爾遜", "mai mai ti tu er xun"),
    ("JOHN SMITH", "john smith"),
    (None, None),
    ("123", None),
]


@pytest.mark.parametrize(("name", "expected"), PINYIN)
def test_name_pinyin(name, expected):
    assert name_pinyin(name) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("刘", "牛"),
        ("张", "赞"),
        ("陈", "岑"),
        ("沈", "森"),
        ("黄", "方"),
        ("胡", "福"),
        ("林", "宁"),
        ("程", "陈"),
        ("刘德华", "牛德华"),
        ("张伟", "赞伟"),
        ("王明", "万民"),
    ],
)
def test_fuzzy_key_merges_southern_confusions(a, b):
    assert name_fuzzy_key(a) == name_fuzzy_key(b)


@pytest.mark.parametrize(("a", "b"), [("王", "李"), ("张", "陈"), ("刘", "吴"), ("王", "黄")])
def test_fuzzy_key_keeps_different_names_apart(a, b):
    assert name_fuzzy_key(a) != name_fuzzy_key(b)


def test_w_is_never_changed():
    assert name_fuzzy_key("王伟") == "wan wei"
    assert name_fuzzy_key("张三") == "zan san"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_idempotent(s):
    out = normalize_name(s)
    assert normalize_name(out) == out
    name_pinyin(s)
    name_fuzzy_key(s)


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=CJK, min_size=1, max_size=6), st.sampled_from(["", " ", "•", ".", "1", "\u200b"]))
@example("乾嘉", " ")  # OpenCC keeps 乾 in the phrase 乾嘉 and makes it 干 alone: a name's characters go alone
def test_noise_does_not_change_keys(name, noise):
    noisy = noise.join(name) if noise not in ("•", ".") else name
    assert normalize_name(noisy) == normalize_name(name)
    pinyin, key = name_pinyin(name), name_fuzzy_key(name)
    if pinyin is not None:
        assert key is not None and len(key.split(" ")) == len(pinyin.split(" "))
