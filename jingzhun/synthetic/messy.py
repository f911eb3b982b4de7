"""Deliberate defects that make the synthetic exports look like real hand-typed registrations.

Each field (name, ID number, phone, address) has a catalogue of defect tags with rates. The caller
draws, vectorised, which tags each row gets (``FieldDefects.draw``); the ``mess_*`` functions then
turn the clean value into the messy one and return the tags that were really applied. A tag that
does not apply or would not change the value is dropped, so the truth file never claims a defect
that is not visible in the data. This module must never read or alter the reference tables.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np
from opencc import OpenCC

from jingzhun.synthetic.divisions import CITY_PREFIX, DISTRICT_NAME
from jingzhun.synthetic.idnumbers import CHECK_CHARS

_S2T = OpenCC("s2t")
_T2S = OpenCC("t2s")

FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789Xx#-+"} | {" ": "\u3000"})
CN_DIGITS = "〇一二三四五六七八九"

# Same-sounding or look-alike characters that clerks type instead of the registered one.
HOMOPHONES = {
    "伟": "玮炜",
    "娜": "那",
    "静": "靖",
    "丽": "莉俪",
    "芳": "方",
    "敏": "民闵",
    "军": "君",
    "杰": "洁",
    "明": "铭",
    "华": "桦",
    "磊": "垒",
    "勇": "永",
    "涛": "滔",
    "斌": "彬",
    "超": "朝",
    "辉": "晖",
    "鹏": "朋",
    "飞": "菲",
    "宇": "雨",
    "浩": "皓",
    "凯": "恺",
    "健": "建",
    "俊": "骏",
    "艳": "燕",
    "娟": "鹃",
    "霞": "侠",
    "玲": "琳铃",
    "婷": "亭",
    "琳": "林",
    "洁": "杰",
    "颖": "英",
    "倩": "茜",
    "慧": "惠",
    "燕": "艳",
    "红": "虹",
    "萍": "苹",
    "英": "瑛",
    "兰": "岚",
    "梅": "玫",
    "志": "智",
    "建": "健",
    "晓": "小",
    "文": "雯",
    "子": "紫",
    "欣": "馨",
    "怡": "宜",
    "涵": "含",
    "雨": "语",
    "思": "斯",
    "梓": "子",
    "峰": "锋",
    "林": "琳",
    "东": "冬",
    "平": "萍",
    "刚": "钢",
    "亮": "靓",
    "坤": "琨",
    "鑫": "馨",
    "帆": "凡",
    "诚": "成",
    "轩": "宣",
    "豪": "浩",
    "博": "波",
    "强": "蔷",
}
BUILDING_WORDS = ("幢", "栋", "#", "座")  # alternatives to 号楼
NEARBY_WORDS = ("门口", "对面", "隔壁", "附近", "旁边")


@dataclass(frozen=True)
class FieldDefects:
    """Defect tags of one field: at most one tag per exclusive group, plus independent tags."""

    exclusive: tuple[tuple[tuple[str, float], ...], ...]
    independent: tuple[tuple[str, float], ...]

    def rates(self) -> dict[str, float]:
        return dict(pair for group in self.exclusive for pair in group) | dict(self.independent)

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Boolean mask per tag: which of ``n`` rows are asked for that defect."""
        masks: dict[str, np.ndarray] = {}
        for group in self.exclusive:
            edges = np.cumsum([rate for _, rate in group])
            choice = np.searchsorted(edges, rng.random(n), side="right")
            masks |= {tag: choice == j for j, (tag, _) in enumerate(group)}
        for tag, rate in self.independent:
            masks[tag] = rng.random(n) < rate
        return masks


NAME_DEFECTS = FieldDefects(
    exclusive=((("name_typo", 0.03),),),
    independent=(("name_traditional", 0.025), ("name_space", 0.03), ("name_fullwidth_space", 0.01)),
)
# 12345 callers often give only their surname: 王先生 / 李女士.
HOTLINE_NAME_DEFECTS = FieldDefects(
    exclusive=((("name_typo", 0.03), ("name_surname_title", 0.08)),),
    independent=NAME_DEFECTS.independent,
)
ID_DEFECTS = FieldDefects(
    exclusive=(
        (
            ("id_empty", 0.02),
            ("id_bad_check", 0.015),
            ("id_transposed", 0.015),
            ("id_missing_digit", 0.01),
            ("id_15digit", 0.015),
        ),
    ),
    # id_lower_x only applies to numbers ending in X (about 1 in 11), so its rate is per such number.
    independent=(("id_lower_x", 0.3), ("id_fullwidth", 0.015)),
)
PHONE_DEFECTS = FieldDefects(
    exclusive=(
        (
            ("phone_empty", 0.02),
            ("phone_plus86", 0.02),
            ("phone_0086", 0.01),
            ("phone_dashed", 0.02),
            ("phone_spaces", 0.02),
        ),
    ),
    independent=(("phone_fullwidth", 0.01),),
)


def address_defects(short_town: float = 0.0, numberless: float = 0.0) -> FieldDefects:
    """The address catalogue; ``short_town`` and ``numberless`` are the rates of two written forms real exports
    show (金桥金高路…, 东泰花园 alone) that default to 0. The first group's forms exclude each other."""
    region_forms = (
        ("addr_no_prefix", 0.15),
        ("addr_no_town", 0.05),
        ("addr_community", 0.03),
        ("addr_short_town", short_town),
        ("addr_no_number", numberless),
    )
    if sum(rate for _, rate in region_forms) > 1:
        room = 1 - sum(rate for _, rate in region_forms[:3])
        raise ValueError(
            f"short town names and addresses without numbers may take at most {room:.2f} of the addresses together"
        )
    return FieldDefects(
        exclusive=(region_forms, (("addr_dashed", 0.03), ("addr_cn_numerals", 0.02))),
        independent=(
            ("addr_no_room", 0.04),
            ("addr_building_alias", 0.08),
            ("addr_lane_xiang", 0.04),
            ("addr_hao_traditional", 0.02),
            ("addr_wrong_committee", 0.03),
            ("addr_extra_words", 0.02),
            ("addr_traditional", 0.02),
            ("addr_fullwidth", 0.02),
        ),
    )


ADDRESS_DEFECTS = address_defects()


def traditional(text: str) -> str:
    return _S2T.convert(text)


def simplified(text: str) -> str:
    return _T2S.convert(text)


def cn_number(n: int) -> str:
    """Numbers as residents write them in Chinese: 三, 十二, 二十六 — longer ones digit by digit (四五五)."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
    return "".join(CN_DIGITS[int(d)] for d in str(n))


def _insert(text: str, piece: str, rnd: random.Random) -> str:
    i = rnd.randrange(1, len(text)) if len(text) > 1 else len(text)
    return text[:i] + piece + text[i:]


def mess_name(name: str, surname: str, male: bool, tags: list[str], rnd: random.Random) -> tuple[str, list[str]]:
    if "name_surname_title" in tags:
        return surname + ("先生" if male else "女士"), ["name_surname_title"]
    applied = []
    given = name[len(surname) :]
    spots = [i for i, ch in enumerate(given) if ch in HOMOPHONES]
    if "name_typo" in tags and spots:
        i = rnd.choice(spots)
        given = given[:i] + rnd.choice(HOMOPHONES[given[i]]) + given[i + 1 :]
        applied.append("name_typo")
    value = surname + given
    converted = traditional(value)
    # Only keep conversions that OpenCC maps back exactly, so the tag is verifiable downstream.
    if "name_traditional" in tags and converted != value and simplified(converted) == value:
        value = converted
        applied.append("name_traditional")
    for tag, space in (("name_space", " "), ("name_fullwidth_space", "\u3000")):
        if tag in tags:
            value = _insert(value, space, rnd)
            applied.append(tag)
    return value, applied


def mess_id(id_number: str, tags: list[str], rnd: random.Random) -> tuple[str, list[str]]:
    if "id_empty" in tags:
        return "", ["id_empty"]
    value, applied = id_number, []
    if "id_bad_check" in tags:
        value = value[:17] + rnd.choice([c for c in CHECK_CHARS if c != value[17]])
        applied.append("id_bad_check")
    elif "id_transposed" in tags:
        # Swapping equal digits changes nothing; MOD 11-2 catches every other adjacent swap.
        spots = [i for i in range(16) if value[i] != value[i + 1]]
        i = rnd.choice(spots)
        value = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        applied.append("id_transposed")
    elif "id_missing_digit" in tags:
        i = rnd.randrange(len(value))
        value = value[:i] + value[i + 1 :]
        applied.append("id_missing_digit")
    elif "id_15digit" in tags and int(value[6:10]) < 1990:
        # First-generation cards (until 1999): no century digits "19", no check character.
        value = value[:6] + value[8:17]
        applied.append("id_15digit")
    if "id_lower_x" in tags and value.endswith("X"):
        value = value[:-1] + "x"
        applied.append("id_lower_x")
    return _fullwidth_if(value, "id_fullwidth", tags, applied)


def mess_phone(phone: str, tags: list[str], rnd: random.Random) -> tuple[str, list[str]]:
    p = phone
    layouts = {
        "phone_empty": "",
        "phone_plus86": f"+86 {p[:3]} {p[3:7]} {p[7:]}",
        "phone_0086": "0086" + p,
        "phone_dashed": f"{p[:3]}-{p[3:7]}-{p[7:]}",
        "phone_spaces": f"{p[:3]} {p[3:7]} {p[7:]}",
    }
    value, applied = p, []
    for tag, layout in layouts.items():
        if tag in tags:
            value = layout
            applied.append(tag)
    return _fullwidth_if(value, "phone_fullwidth", tags, applied)


def _fullwidth_if(value: str, tag: str, tags: list[str], applied: list[str]) -> tuple[str, list[str]]:
    converted = value.translate(FULLWIDTH)
    if tag in tags and converted != value:
        return converted, [*applied, tag]
    return value, applied


@dataclass(frozen=True)
class AddressParts:
    """One house as the register knows it; ``lane`` is None for building-style addresses. A place without a
    door number (宏贸路南150米, a crossing, a community as a whole) has ``place`` and no numbers."""

    town: str
    road: str | None
    lane: int | None
    number: int | None
    community: str | None
    building: int | None
    room: int | None
    nearby_committee: str  # colloquial name of a neighbouring committee, e.g. 竹园居委
    cross_road: str = ""  # another road of the town, for a crossing (打浦路斜土路口)
    place: str | None = None


# Town names as residents shorten them in front of a road: 金桥 for 金桥镇, 浦兴路 for 浦兴路街道.
_TOWN_SUFFIX = re.compile("(?:街道|新镇|镇|乡)$")
SHORT_DISTRICT = "浦东"


def short_town(town: str) -> str | None:
    """The town without its suffix, or None when that leaves a single character (唐镇 stays 唐镇)."""
    short = _TOWN_SUFFIX.sub("", town)
    return short if short != town and len(short) >= 2 else None


def crossing(road: str, cross_road: str) -> str:
    """打浦路 and 斜土路 meet at 打浦路斜土路口; a 大道 or 公路 takes the whole word 路口."""
    return road + cross_road + ("口" if cross_road.endswith("路") else "路口")


def mess_address(p: AddressParts, tags: list[str], rnd: random.Random) -> tuple[str, list[str]]:
    want = set(tags)
    used: list[str] = []

    def use(tag: str, applicable: bool = True) -> bool:
        if tag in want and applicable:
            used.append(tag)
            return True
        return False

    # Forms that take every number away: the community alone or behind a crossing, or a place without one.
    numberless = use("addr_no_number", p.place is None and bool(p.community))
    numbered = p.place is None and not numberless
    lane_style = p.lane is not None
    level_community = use("addr_community", numbered)
    no_room = use("addr_no_room", numbered)
    # Dashes need something to join: lane-number[-room] on a road, or building-room.
    dashed = use("addr_dashed", numbered and ((lane_style and not level_community) or (not lane_style and not no_room)))
    num = cn_number if use("addr_cn_numerals", numbered) else str

    if p.place is not None:
        body = p.place
    elif numberless:
        assert p.community is not None and p.road is not None
        body = (crossing(p.road, p.cross_road) if p.cross_road and rnd.random() < 0.5 else "") + p.community
    elif p.lane is not None:
        lane_word = "巷" if use("addr_lane_xiang", not dashed and not level_community) else "弄"
        if level_community:
            body = f"{p.community}{num(p.number)}号"
        elif dashed:
            body = f"{p.road}{p.lane}-{p.number}"
        else:
            body = f"{p.road}{num(p.lane)}{lane_word}{num(p.number)}号"
    else:
        assert p.building is not None, "a building-style house always has a building number"
        head = p.community if level_community else f"{p.road}{num(p.number)}号{p.community}"
        if dashed:
            body = f"{head}{p.building}"
        else:
            words = BUILDING_WORDS if num is str else BUILDING_WORDS[:2]  # 五# reads as noise, not style
            building_word = rnd.choice(words) if use("addr_building_alias") else "号楼"
            body = f"{head}{num(p.building)}{building_word}"
    if numbered and not no_room:
        body += f"-{p.room}" if dashed else f"{num(p.room)}室"

    short = short_town(p.town)
    if numberless:
        region = p.town if rnd.random() < 0.5 else ""
    elif level_community or use("addr_no_town"):
        region = ""
    elif use("addr_no_prefix"):
        region = p.town
    elif use("addr_short_town", short is not None):
        region = (SHORT_DISTRICT if rnd.random() < 0.5 else "") + str(short)
    else:
        region = CITY_PREFIX + DISTRICT_NAME + p.town
    wrong = p.nearby_committee if use("addr_wrong_committee", bool(p.nearby_committee)) else ""
    value = region + wrong + body
    if use("addr_extra_words"):
        value += rnd.choice(NEARBY_WORDS)

    for tag, convert in (
        ("addr_hao_traditional", lambda s: s.replace("号", "號")),
        ("addr_traditional", traditional),
        ("addr_fullwidth", lambda s: s.translate(FULLWIDTH)),
    ):
        converted = convert(value)
        if converted != value and use(tag):
            value = converted
    return value, used
