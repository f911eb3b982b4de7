"""Person-name normalization and the pinyin keys used for blocking and fuzzy name comparison.

Names come from checkpoint registrations, hotline orders and self-declarations typed by the
public or by staff: extra spaces inside Chinese names, assorted middle dots in minority names,
stray digits and punctuation, traditional characters.  These functions produce comparable
forms; they must never raise, never reorder or "correct" characters (a different character is
a different name: that decision belongs to the matcher), and never look anything up outside
the static tables below.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from jingzhun.cleansing.text import normalize_text, opencc_t2s

__all__ = ["name_fuzzy_key", "name_pinyin", "normalize_name"]

MIDDLE_DOT = "·"
# Longer than any real name (minority transliterations stay under ~30 characters): such a
# value is a misplaced field or garbage, and pinyin over 100 KB of it would only cost time.
MAX_NAME_LENGTH = 64

_CJK = r"\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAS_CJK = re.compile(f"[{_CJK}]")
# After NFKC: '·' U+00B7, '•' U+2022, '.' (also from full-width '．'), '・' U+30FB (also from
# half-width '･'), '▪' U+25AA, and the rarer '‧' U+2027, '∙' U+2219, '⋅' U+22C5, '●'.
_DOTS = re.compile(r"[·•.・▪‧∙⋅●]+")
_NOT_CHINESE_NAME_CHAR = re.compile(f"[^{_CJK}{MIDDLE_DOT}]+")
_DOT_RUNS = re.compile(f"{MIDDLE_DOT}+")
_NOT_LATIN_NAME_CHAR = re.compile(r"[^A-Za-z ]+")
_SPACES = re.compile(r" +")

# Readings of polyphonic characters when used as a surname (pypinyin 0.55 has no surname mode:
# lazy_pinyin('曾国藩') gives 'ceng').  Only characters whose surname reading differs from
# pypinyin's default, or is easily mis-read, are listed.
# fmt: off
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "乐": "yue", "缪": "miao", "覃": "qin", "盖": "ge", "召": "shao", "员": "yun", "柏": "bai",
    "翟": "zhai", "秘": "bi", "重": "chong", "种": "chong", "任": "ren", "沈": "shen", "石": "shi",
    "华": "hua", "纪": "ji", "燕": "yan", "葛": "ge", "宁": "ning", "尉": "wei", "能": "nai",
    "句": "gou", "车": "che", "隗": "wei", "繁": "po", "冼": "xian", "莘": "shen", "过": "guo",
    "谌": "chen", "褚": "chu", "洗": "xian", "粘": "nian", "眭": "sui", "厍": "she", "佴": "nai",
    "薄": "bo", "折": "she", "黑": "he", "朝": "chao", "长": "chang", "藏": "zang", "郇": "huan",
    "应": "ying", "都": "du", "万": "wan", "于": "yu", "曲": "qu", "宿": "su", "相": "xiang",
    "叶": "ye", "祭": "zhai", "乜": "nie", "呙": "guo", "颉": "xie", "卜": "bu", "么": "yao",
    "贲": "ben", "阚": "kan", "蕃": "pi", "氾": "fan", "啜": "chuai", "令": "ling",
    "弓": "gong", "亟": "qi", "和": "he", "闭": "bi", "适": "kuo", "率": "shuai", "扎": "zha",
    "传": "chuan", "校": "jiao", "参": "can", "阿": "a", "澄": "cheng", "把": "ba", "俞": "yu",
}
# fmt: on

# Compound surnames with their readings (several differ from the default: 尉迟, 万俟, 长孙 …).
# fmt: off
COMPOUND_SURNAMES: dict[str, tuple[str, str]] = {
    "欧阳": ("ou", "yang"), "司马": ("si", "ma"), "诸葛": ("zhu", "ge"), "上官": ("shang", "guan"),
    "东方": ("dong", "fang"), "皇甫": ("huang", "fu"), "尉迟": ("yu", "chi"), "长孙": ("zhang", "sun"),
    "万俟": ("mo", "qi"), "令狐": ("ling", "hu"), "慕容": ("mu", "rong"), "宇文": ("yu", "wen"),
    "公孙": ("gong", "sun"), "西门": ("xi", "men"), "南宫": ("nan", "gong"), "夏侯": ("xia", "hou"),
    "澹台": ("tan", "tai"), "单于": ("chan", "yu"), "司徒": ("si", "tu"), "司空": ("si", "kong"),
    "端木": ("duan", "mu"), "呼延": ("hu", "yan"), "独孤": ("du", "gu"), "轩辕": ("xuan", "yuan"),
    "申屠": ("shen", "tu"), "太史": ("tai", "shi"), "闻人": ("wen", "ren"), "淳于": ("chun", "yu"),
    "仲孙": ("zhong", "sun"), "钟离": ("zhong", "li"), "宗政": ("zong", "zheng"), "濮阳": ("pu", "yang"),
    "百里": ("bai", "li"), "东郭": ("dong", "guo"), "拓跋": ("tuo", "ba"), "赫连": ("he", "lian"),
    "鲜于": ("xian", "yu"), "公冶": ("gong", "ye"), "羊舌": ("yang", "she"), "乐正": ("yue", "zheng"),
    "第五": ("di", "wu"), "谷梁": ("gu", "liang"), "亓官": ("qi", "guan"), "左丘": ("zuo", "qiu"),
    "梁丘": ("liang", "qiu"), "巫马": ("wu", "ma"), "公良": ("gong", "liang"), "公西": ("gong", "xi"),
    "漆雕": ("qi", "diao"), "壤驷": ("rang", "si"), "颛孙": ("zhuan", "sun"), "子车": ("zi", "ju"),
    "司寇": ("si", "kou"), "段干": ("duan", "gan"), "东门": ("dong", "men"), "公羊": ("gong", "yang"),
}
# fmt: on

# Southern-accent confusions.  hu- syllables are heard as f- (湖南 "funan", 黄 "fang"); the
# explicit table keeps the result a plausible f- syllable before the final-level rules run.
# fmt: off
_HU_TO_F: dict[str, str] = {
    "hu": "fu", "hua": "fa", "huai": "fai", "huan": "fan", "huang": "fang", "hui": "fei",
    "hun": "fen", "huo": "fo",
}
# fmt: on
_RETROFLEX = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_NASAL_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


def normalize_name(s: str | None) -> str | None:
    """Canonical person name: simplified, no spaces inside Chinese names, one kind of middle dot.

    Latin-script names (no Chinese character at all) are kept as upper-case words.  Values
    longer than MAX_NAME_LENGTH after cleaning are not names: None.
    """
    return name_of_text(normalize_text(s))


def name_of_text(text: str | None) -> str | None:
    """`normalize_name` of the value `normalize_text` turned into `text` (the pipeline has normalized it already)."""
    if text is None:
        return None
    text = _DOTS.sub(MIDDLE_DOT, text)
    if _HAS_CJK.search(text):
        name = _NOT_CHINESE_NAME_CHAR.sub("", text)
        name = "".join(map(_simplified, _DOT_RUNS.sub(MIDDLE_DOT, name).strip(MIDDLE_DOT)))
        return name if _HAS_CJK.search(name) and len(name) <= MAX_NAME_LENGTH else None
    latin = _SPACES.sub(" ", _NOT_LATIN_NAME_CHAR.sub(" ", text)).strip().upper()
    return latin if latin and len(latin) <= MAX_NAME_LENGTH else None


@lru_cache(maxsize=65536)
def _simplified(character: str) -> str:
    """A name's character in simplified form on its own. OpenCC converts a text by its phrases, so a character
    that is a word of its own in one phrase and another's traditional form elsewhere (乾 of 乾嘉, 干 of 乾 嘉) would
    depend on what stood beside it in the export (a space, a digit, nothing): a name's characters do not."""
    return opencc_t2s().convert(character)


def _syllables(part: str, with_surname: bool) -> list[str]:
    """Toneless pinyin of one dot-free part of a Chinese name."""
    head: list[str] = []
    if with_surname:
        if len(part) >= 3 and part[:2] in COMPOUND_SURNAMES:
            head, part = list(COMPOUND_SURNAMES[part[:2]]), part[2:]
        elif part[:1] in SURNAME_READINGS and len(part) >= 2:
            head, part = [SURNAME_READINGS[part[0]]], part[1:]
    return [*head, *_plain_pinyin(part)]


@lru_cache(maxsize=1 << 18)
def _plain_pinyin(part: str) -> tuple[str, ...]:
    # Given names repeat across millions of persons (伟, 秀英) and pypinyin reads each in a fraction of a
    # millisecond: each is read once. errors='ignore': rare characters it does not know are skipped, not echoed.
    return tuple(lazy_pinyin(part, style=Style.NORMAL, errors="ignore"))


def name_pinyin(name: str | None) -> str | None:
    """Toneless pinyin syllables joined by single spaces, with surname readings (曾 → zeng)."""
    return pinyin_of_normalized_name(normalize_name(name))


def pinyin_of_normalized_name(norm: str | None) -> str | None:
    """`name_pinyin` of a name `normalize_name` returns as it is (a name it has just returned for itself). A name
    typed in pinyin (LIUJUNJUN, Zhao yipeng) is read syllable by syllable too (liu jun jun, zhao yi peng), as the
    pinyin of the person's name in characters is."""
    if norm is None:
        return None
    if not _HAS_CJK.search(norm):
        return " ".join(_latin_syllables(word) for word in norm.lower().split())
    # Minority names (买买提·吐尔逊) have no Chinese surname: read every part plainly.
    parts = norm.split(MIDDLE_DOT)
    with_surname = len(parts) == 1
    syllables = [syl for part in parts for syl in _syllables(part, with_surname)]
    return " ".join(syllables) or None


@lru_cache(maxsize=1)
def _mandarin_syllables() -> frozenset[str]:
    """The toneless syllables of pypinyin's readings (zhang, lv, er, …), without the interjections m, n, ng, hm, hng."""
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.contrib.tone_convert import to_normal

    readings = {to_normal(reading) for value in PINYIN_DICT.values() for reading in value.split(",")}
    return frozenset(r for r in readings if r.isascii() and r.isalpha()) - {"m", "n", "ng", "hm", "hng"}


@lru_cache(maxsize=65536)
def _latin_syllables(word: str) -> str:
    """A word of a name typed in Latin letters as Mandarin syllables joined by spaces, in as few syllables as
    there can be, the longest first where two readings are as short (zhangan: zhang an); a word that is no run of
    syllables (smith) as it is."""
    syllables = _mandarin_syllables()
    longest = max(map(len, syllables))
    # best[i]: the fewest syllables that make word[i:], longest first
    best: list[list[str] | None] = [None] * len(word) + [[]]
    for start in range(len(word) - 1, -1, -1):
        for end in range(min(len(word), start + longest), start, -1):
            rest = best[end]
            if rest is not None and word[start:end] in syllables:
                current = best[start]
                if current is None or len(rest) + 1 < len(current):
                    best[start] = [word[start:end], *rest]
    return " ".join(best[0]) if best[0] else word


def _fuzzy_syllable(syl: str) -> str:
    syl = _HU_TO_F.get(syl, syl)
    for retroflex, flat in _RETROFLEX:
        if syl.startswith(retroflex):
            syl = flat + syl[2:]
            break
    else:
        if syl.startswith("l"):
            syl = "n" + syl[1:]
        elif syl.startswith("h"):
            syl = "f" + syl[1:]
    for nasal, plain in _NASAL_FINALS:
        if syl.endswith(nasal):
            return syl[: -len(nasal)] + plain
    return syl


def name_fuzzy_key(name: str | None) -> str | None:
    """Pinyin key that merges n/l, z/zh, c/ch, s/sh, f/h, an/ang, en/eng, in/ing.

    刘/牛, 张/赞, 陈/岑, 黄/方 share keys.  w is never changed, but an/ang still makes
    王 (wang) and 万 (wan) share one: that is the confusion itself, not a side effect.
    """
    return pinyin_fuzzy_key(name_pinyin(name))


def pinyin_fuzzy_key(pinyin: str | None) -> str | None:
    """`name_fuzzy_key` of the name whose `name_pinyin` is `pinyin` (the pinyin is read once, not twice)."""
    if pinyin is None:
        return None
    return " ".join(_fuzzy_syllable(syl) for syl in pinyin.split(" "))
