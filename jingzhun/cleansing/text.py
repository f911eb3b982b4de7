"""Generic text normalization for every free-text field of the exports.

`normalize_text` is the first step of every other normalizer in `cleansing`: it turns whatever
an export produced (full-width forms, traditional characters, radical look-alikes, invisible
characters, pinyin annotations left by a broken converter) into one canonical simplified,
half-width string.  It is a pure scalar function: it must never raise, never consult anything
but its argument and the static tables below, and never guess at content (it does not fix
typos, it does not reorder, it does not drop visible characters other than the annotations it
was told about).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["has_traditional", "normalize_text", "normalize_text_flagged", "strip_invisible"]

# CJK Radicals Supplement (U+2E80–U+2EFF) characters that are used in real text as look-alikes
# of ordinary ideographs.  NFKC only decomposes two of them (⺟, ⻳), so map them ourselves.
# Kangxi Radicals (U+2F00–U+2FD5) all have NFKC decompositions and need no entry here.
# Targets may be traditional (⻑ → 長); t2s runs afterwards and simplifies them.
# fmt: off
RADICAL_LOOKALIKES: dict[str, str] = {
    "⺁": "厂", "⺃": "乚", "⺅": "亻", "⺆": "冂", "⺇": "几", "⺉": "刂", "⺊": "卜", "⺋": "㔾",
    "⺌": "小", "⺎": "兀", "⺏": "尣", "⺐": "尢", "⺒": "巳", "⺓": "幺", "⺔": "彑", "⺖": "忄",
    "⺘": "扌", "⺙": "攵", "⺛": "旡", "⺜": "日", "⺝": "月", "⺞": "歺", "⺟": "母", "⺠": "民",
    "⺡": "氵", "⺢": "氺", "⺣": "灬", "⺤": "爫", "⺥": "爫", "⺦": "丬", "⺨": "犭", "⺩": "王",
    "⺪": "疋", "⺫": "罒", "⺬": "示", "⺭": "礻", "⺯": "糸", "⺰": "纟", "⺱": "罒", "⺲": "罒",
    "⺶": "羊", "⺷": "羊", "⺹": "耂", "⺺": "肀", "⺻": "聿", "⺼": "月", "⺽": "臼", "⺾": "艹",
    "⺿": "艹", "⻀": "艹", "⻁": "虎", "⻂": "衤", "⻃": "覀", "⻄": "西", "⻅": "见", "⻆": "角",
    "⻇": "角", "⻈": "讠", "⻉": "贝", "⻊": "足", "⻋": "车", "⻌": "辶", "⻍": "辶", "⻎": "辶",
    "⻏": "阝", "⻐": "钅", "⻑": "長", "⻒": "镸", "⻓": "长", "⻔": "门", "⻖": "阝", "⻗": "雨",
    "⻘": "青", "⻙": "韦", "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻟": "食", "⻠": "饣",
    "⻡": "首", "⻢": "马", "⻣": "骨", "⻤": "鬼", "⻥": "鱼", "⻦": "鸟", "⻧": "卤", "⻨": "麦",
    "⻩": "黄", "⻪": "黾", "⻫": "斉", "⻬": "齐", "⻭": "歯", "⻮": "齿", "⻯": "竜", "⻰": "龙",
    "⻱": "龜", "⻲": "亀", "⻳": "龟",
}
# fmt: on
_RADICAL_TABLE = str.maketrans(RADICAL_LOOKALIKES)
_RADICALS = re.compile("[\u2e80-\u2eff]")

# Invisible characters: C0/C1 controls (Cc), format characters (Cf: zero-width space/joiners,
# BOM, bidi marks, soft hyphen, tag characters …) and lone surrogates (Cs, which would make
# OpenCC's UTF-8 encoding fail).  Listed as ranges so no table has to be built at import.
_INVISIBLE = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # Cc
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"  # Cf
    "\ud800-\udfff"  # Cs
    "]+"
)
_WHITESPACE = re.compile(r"\s+")

# Some exports went through a converter that appended the pinyin of each traditional
# character in parentheses: 數(shù)據(jù) → drop the "(shù)".  A syllable is an optional initial
# plus a vowel cluster plus an optional nasal/r ending, lowercase, tone marks or tone digit.
_TONED_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüê"
_PINYIN_ANNOTATION = re.compile(
    r"(?<=[\u3400-\u9fff\uf900-\ufaff])(?:\("
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    rf"[aeiouv{_TONED_VOWELS}]{{1,4}}(?:ng|n|r)?[1-5]?"
    r"\))+"  # repeated annotations go at once, or a second pass would remove the next one
)


@lru_cache(maxsize=1)
def opencc_t2s():
    # OpenCC loads its dictionaries on construction (tens of ms): do it once, on first use.
    import opencc

    return opencc.OpenCC("t2s")


def _pre_conversion(s: str) -> str:
    """Everything except traditional→simplified; shared by normalize_text and has_traditional."""
    s = unicodedata.normalize("NFKC", s)
    if _RADICALS.search(s):  # translate is slow on CJK text; most text holds no radical
        s = s.translate(_RADICAL_TABLE)
    s = _WHITESPACE.sub(" ", s)  # before removing controls: \t, \n, \r are separators
    s = _INVISIBLE.sub("", s)
    if "(" in s:  # annotations are parenthesized (full-width ones are ASCII after NFKC)
        s = _PINYIN_ANNOTATION.sub("", s)
    return s


def strip_invisible(s: str) -> str:
    """The text without control, format (zero-width, BOM, bidi) and lone surrogate characters."""
    return _INVISIBLE.sub("", s)


def normalize_text(s: str | None) -> str | None:
    """Canonical simplified, half-width, single-spaced text; None for missing/blank input."""
    return normalize_text_flagged(s)[0]


def normalize_text_flagged(s: str | None) -> tuple[str | None, bool]:
    """normalize_text and has_traditional at the cost of one of them (the pipeline wants both for every value)."""
    if not isinstance(s, str) or not s:
        return None, False
    pre = _pre_conversion(s)
    if not pre.strip():
        return None, False
    s = opencc_t2s().convert(pre)
    traditional = s != pre
    # t2s and the removals can leave doubled/edge spaces behind (all whitespace is single spaces by now).
    if "  " in s:
        s = _WHITESPACE.sub(" ", s)
    s = s.strip()
    return s or None, traditional


def has_traditional(s: str | None) -> bool:
    """Whether the text contains characters that t2s converts (for the data-quality report)."""
    if not isinstance(s, str) or not s:
        return False
    pre = _pre_conversion(s)
    return opencc_t2s().convert(pre) != pre
