"""Structured parsing of free-text Chinese addresses into fixed fields.

`parse_address` splits one address into ADDRESS_FIELDS: the top four administrative levels
are resolved against the national division tables (jingzhun/reference_data/admin_divisions, loaded once,
lazily) and output as canonical full names, parents inferred from an unambiguous child; the
part below the town is tokenized into road / road number / community / building / unit /
floor / room, numbers normalized to Arabic digits.  It is built for Shanghai housing
addresses (`碧波路455弄3号502室`, `祖冲之路88号汤臣豪园5号楼1201室`) and their messy variants,
but holds up on other cities' addresses.

Residents' committee names (XX居委 / XX居委会 / XX村委) and position words (门口, 对面, 隔壁,
附近 …) are dropped: they are not part of the dwelling's address and would break equality
of otherwise identical addresses.  The committee is therefore in no field, not even `rest`.

The module must never raise on any input, must stay pure and deterministic (the pipeline
calls it over the unique values of a column), and must never invent a component that is not
written: parents are inferred only from an unambiguous child, and `context_district_code` is
used only to resolve town names, never to fill in a district the address does not mention.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

from jingzhun.cleansing.text import normalize_text
from jingzhun.core.rules import DIVISIONS_DIR

__all__ = [
    "ADDRESS_FIELDS",
    "CHINESE_NUMERAL_CHARS",
    "address_parse_cli",
    "chinese_numeral_to_arabic",
    "division_name",
    "has_chinese_numerals",
    "parse_address",
    "parse_normalized_address",
]

# fmt: off
ADDRESS_FIELDS = (
    "province", "city", "district", "town", "community", "road", "road_number",
    "building", "unit", "floor", "room", "rest",
)
# fmt: on
_ADMIN_FIELDS = ("province", "city", "district", "town")


# City-table placeholders: municipalities list their districts under 市辖区 / 县, and
# province-administered county-level cities sit under a pseudo-city that is not a place.
_MUNICIPALITY_PLACEHOLDERS = {"市辖区", "县"}
_PSEUDO_CITY_MARK = "直辖县级行政区划"

# ---------------------------------------------------------------------------------------------
# Chinese numerals
# ---------------------------------------------------------------------------------------------
_CN_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)
# What `has_chinese_numerals` can find only in a text whose normalization (`normalize_text`) writes one of them.
CHINESE_NUMERAL_CHARS = _CN_NUMERAL_CHARS
_CN_NUMERAL_SET = frozenset(_CN_NUMERAL_CHARS)


def chinese_numeral_to_arabic(text: str) -> str | None:
    """'四五五' → '455', '五〇二' → '502', '十二' → '12', '一千二百' → '1200'; None if not a numeral.

    Runs without 十/百/千 are read digit by digit (house numbers are spoken that way);
    otherwise positionally, with the colloquial abbreviation 三百五 = 350.
    """
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    if not any(ch in _CN_UNITS for ch in text):
        return "".join(str(_CN_DIGITS[ch]) for ch in text)
    total, digit, last_unit, after_zero = 0, None, 10_000, False
    for ch in text:
        if ch in _CN_DIGITS:
            if digit is not None and digit != 0:
                return None  # two digits in a row inside a positional numeral
            digit = _CN_DIGITS[ch]
            after_zero = after_zero or digit == 0
        else:
            unit = _CN_UNITS[ch]
            if unit >= last_unit or digit == 0:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit, after_zero = None, unit, False
    if digit:
        # 三百五 means 350, 一千零五 means 1005.
        total += digit if after_zero or last_unit == 10 else digit * (last_unit // 10)
    return str(total) if total else None


# ---------------------------------------------------------------------------------------------
# Text preparation below the administrative levels
# ---------------------------------------------------------------------------------------------
_NUMBER_UNIT = r"(?:支弄|弄|号(?!线)|幢|栋|座|单元|层|楼|室|房|户|组|队|期|区|#|-)"
# Chinese numerals only where a number is expected (before a unit, or closing the address
# after one): 三林镇, 五角场, 八一路, 文三路 are names and stay untouched.
_CN_NUMBER_POSITION = re.compile(
    rf"(?<![{_CN_NUMERAL_CHARS}])[{_CN_NUMERAL_CHARS}]+(?={_NUMBER_UNIT})"
    rf"|(?<=[弄号幢栋座元层楼#-])[{_CN_NUMERAL_CHARS}]+$"
)
# normalize_text leaves single spaces only; they, brackets, quotes and list punctuation are deleted, dashes of
# every kind become one '-'.
_DELETED = re.compile(r"[ ()\[\]{}<>【】〔〕《》「」『』\"'“”‘’,;:、。!?|]+")
_DASH_BETWEEN_NAMES = re.compile(r"(?<=[\u4e00-\u9fff])[-/](?=[\u4e00-\u9fff])")
_DASHES = re.compile(r"[‐‑‒–—―~_]+|-{2,}")
_EMPTY_FIELD = re.compile(r"(?<![A-Za-z])(?:null|NULL|Null|None|NaN|nan)(?![A-Za-z])")
_LABEL_START = frozenset("现户居家住地")
_LEADING_LABEL = re.compile(r"^(?:(?:现|户籍|居住|家庭)?(?:住址|地址)|住)[:：]?")
_COUNTRY = "中国"
_TOWN_OFFICE = "办事处"
# A town read by its short name, then written with another suffix than the tables' (白鹭街道 for 白鹭镇): the suffix,
# unless a road's name goes on with it (白鹭镇南路 is the town's road 镇南路).
_OTHER_TOWN_SUFFIX = re.compile(r"(?:街道|镇|乡)(?![东南西北中]?(?:大道|大街|[路街道巷弄号]))")
# In Shanghai 巷 after a number is a typo for 弄 (455巷3号); elsewhere 巷 names a road.
_LANE_TYPO = re.compile(r"(?<=\d)巷")
_FLOOR_F = re.compile(r"(?<=\d)[Ff](?![A-Za-z])")

# Dash notations.  Order matters: the most specific (after a road, three parts) first.
# Every pattern starts at the beginning of a digit run ((?<!\d)) so that long digit strings
# cost linear, not quadratic, time.
_RANGE_MARK = "至"  # 456至458号: a range of house numbers, as the dash forms write it for the tokens


def _lane_or_range(match: re.Match[str]) -> str:
    """路455-3: lane 455, number 3. 路456-458号, 路389-399号: the house numbers of one side of the road (even or odd)
    from the first to the last, one address (a shop or a building over several doors)."""
    first, last = int(match[1]), int(match[2])
    building_follows = match.string.startswith(("幢", "栋", "座", "单元"), match.end())  # 保健路7-11幢: a building 11
    if first < last <= first + 20 and (last - first) % 2 == 0 and not building_follows:
        return f"{match[1]}{_RANGE_MARK}{match[2]}号"
    return f"{match[1]}弄{match[2]}号"


def _building_or_rooms(match: re.Match[str]) -> str:
    """白鹭花园9-1148: building 9, room 1148. 白鹭市场1105-1106号, 白鹭大厦A267-268, 12层19-20: a range of rooms or
    shops (a shop over several doors), one room: the numbers written alike (as many digits, two at least), the
    last one after the first and at most 20 on."""
    first, last = match[1], match[2]
    if len(first) == len(last) >= 2 and first.isdigit() and int(first) < int(last) <= int(first) + 20:
        return f"{first}{_RANGE_MARK}{last}室"
    return f"{first}栋{last}室"


_DASH_FORMS = (
    (re.compile(r"(?<=[路街道巷])(\d+)-(\d+)-(\d+)[室号户房]?"), r"\1弄\2号\3室"),
    (re.compile(r"(?<=[路街道巷])(\d+)-(\d+)(?:号|(?![\d-]))"), _lane_or_range),  # 号 kept once: 754-6号7幢
    (re.compile(r"(?<=弄)(\d+)-(\d+)-(\d+)[室号户房]?"), r"\1号\2单元\3室"),
    (re.compile(r"(?<=弄)(\d+)-(\d+)[室号户房]?"), r"\1号\2室"),
    # After a building written as one (白鹭花园12幢3-1201): its unit, then the room.
    (re.compile(r"(?:(?<=[栋幢])|(?<=号楼))(\d{1,2})-(\d{3,4})[室号户房]?(?![\d-])"), r"\1单元\2室"),
    (re.compile(r"(?<![\d-])(\d+)-(\d+)-(\d+)[室号户房]?"), r"\1栋\2单元\3室"),
    (re.compile(r"(?<![\d-])([A-Za-z]|\d+)-(\d+)[室号户房]?"), _building_or_rooms),
)

# 一 between two numbers is a dash typed with the character it looks like (白鹭花园5一6一1443 = 5-6-1443).
_ONE_AS_DASH = re.compile(r"(?<=\d)一(?=\d)")
# A number with a letter, then a room's number (白鹭大厦13B3761, 白鹭公寓5A-1074): the building 13B and its room; not
# after a floor (5楼4H1774: a shop's number on the floor), nor a national or provincial road's number (G106国道).
_LETTERED_BUILDING_ROOM = re.compile(r"(?<![\dA-Za-z楼层])(\d{1,3}[A-Za-z])-?(\d{3,4})(?![\dA-Za-z]|[国省县]道)")

_COMMITTEE = re.compile(
    # The name holds no town (巨溪镇朝阳村委会: the town stays).
    r"(?:^|(?<=[\d号弄室路街道镇乡区]))(?:(?!街道|镇|乡)[\u4e00-\u9fff]){2,10}?"
    r"(?:居民委员会|村民委员会|居委会|村委会|居委|村委)"
)
# A crossing with the side of it written before or after (新城河路东南交叉口, 交叉口东北角, 交汇处以南, 交界往北,
# 交叉口东北 before a distance): where the address is, as a word of position; the place is what follows it
# (交叉口东北100米天顺园), not its side. A side alone before more words may start the place's name (交叉口南湖花苑).
_CROSSING_WORD = (
    r"[东南西北]{0,2}(?:交叉路?口|交汇[处口]?|交界处?|交岔口)"
    r"(?:[东南西北]{1,2}(?:[角侧]|方向)|[东南西北]{1,2}(?=\d|$)|以[东南西北]|[往向][东南西北])?"
)
_NOISE = re.compile(
    rf"(?P<position>(?:斜对面|正对门|门口|对面|隔壁|附近|旁边|边上|周边|一带|东侧|西侧|南侧|北侧|里面|楼下|{_CROSSING_WORD})"
    r"(?!村))"  # 楼下村, 门口村: a village's name
    r"|提前致电|电联"  # notes for the courier
)
# A note for the courier or the shop, written into the address: what follows it is no address either.
# (Written for RE2 too, without a lookahead: the token address stage cuts a note off a text's last words with it.)
NOTE_PATTERN = (
    r"联系|谢谢|打?电话(?:[^局]|$)|手机号|自提|寄件人|寄方|签收|派送|退货|客服|请(?:务必|确认|联系|勿|先)|疑问"
)
_NOTE = re.compile(NOTE_PATTERN)
_NOTE_CHARS = frozenset("联谢打电手自寄签派退客请疑")  # the first characters of `_NOTE`: a segment without any has none
# Where a word of position was: a named place ends there (金鼎大酒店对面烧麦店), see `_first_place`.
_POSITION_MARK = "\x1f"
_NOISE_SECOND_CHARS = frozenset("口门面壁近边上带侧叉汇界岔电联下")  # a segment without any of them has no noise word
_SEGMENT_TRIM = "-#.,/\\ "

# ---------------------------------------------------------------------------------------------
# Tokens below the town
# ---------------------------------------------------------------------------------------------
_ROAD_SUFFIX = r"(?:大道|大街|公路|路|街|道|巷|胡同)"
_ROAD_SEGMENT = r"(?:[一二三四五六七八九十\d]+段)?"  # 人民南路四段
# A 弄 after a name, not after a number, is a road (杭州 法云弄22号); 455弄 stays the lane of the road before it.
_TOKEN = re.compile(
    # 西园9路, 经20路: a number inside a road's name, before its suffix. 乔下线677号: a county road named by the towns
    # it joins (no line of a metro, a factory or a hotline: 2号线, 生产线, 热线).
    rf"(?P<road>[\u4e00-\u9fff]{{1,20}}?(?:\d{{1,3}}(?:大道|大街|路|巷)|{_ROAD_SUFFIX}{_ROAD_SEGMENT}|弄|(?<![\d号干专热沿在一二三四五六七八九十产水装])线))(?=[A-Za-z]?\d)"
    # Every other token starts with a digit or a letter: at a Chinese character one look-ahead turns them all down,
    # where each of the sixteen would be tried in turn (a third of the tokenizer's time).
    r"|(?=[A-Za-z\d])(?:"
    r"(?P<lane>\d+)(?P<lane_kind>支弄|弄)"
    r"|(?<![路街道巷弄])(?P<numbered_road>\d+号(?:大街|大道|路|街))"  # 开发区6号大街: a road's name
    # A market's aisle or row, a gate or a stairway's door (商贸城6街33661, 3排, 2号门, 10栋6门1131室): kept in rest,
    # never a room.
    # 立交桥南200米: a distance, no number either. 51街区 is a block's name, 1113门 a shop's door: its room.
    r"|(?P<aisle>\d+(?:街(?![区道])|排|号门(?!口)|米)|\d{1,2}门(?![面市口]))"
    r"|(?P<zone>\d+)区"  # 芳古园1区28号楼: a numbered part of the estate, left out as candidates often leave it out
    r"|(?P<building>[A-Za-z]?\d+[A-Za-z]?|[A-Za-z])(?:号楼|幢|栋|座|#)"  # A3栋, 13B栋: the letter is part of the name
    r"|(?P<courtyard>\d+)号院"  # 大阳沟44号院11幢: a numbered courtyard, the place its buildings are in
    rf"|(?P<numbers>[A-Za-z]?\d+{_RANGE_MARK}\d+)[号室]"  # a range of house numbers or rooms (`_lane_or_range`)
    r"|(?P<number>\d+)号"
    r"|(?P<unit>\d+)单元"
    r"|(?P<floor>[Bb]?\d+)层"  # B1层: basement
    r"|(?P<phase>\d+)期"  # 国际科技园5期: the phase belongs to the community's name
    r"|(?P<group>\d+)(?:组|队|社)"  # villagers' group (张江村3组): kept in rest, never a room
    r"|(?P<lou>\d+)楼"
    r"|(?P<room>[A-Za-z]?\d+[A-Za-z]?)(?:室|房|户)"
    # A letter glued to a number with no unit (大厦C1215, 东方巴黎B12-1195): the letter opens the building's name.
    r"|(?<![A-Za-z])(?P<lettered>[A-Za-z]\d+)(?![\dA-Za-z号弄单层楼室房户期组队社栋幢座#])"
    r"|(?P<digits>\d+)"
    r")"
)
# A road written without a number, followed by the community: 碧波路汤臣豪园5号1201室.
_ROAD_IN_TEXT = re.compile(r"^(?P<road>[\u4e00-\u9fff]{2,12}?(?:大道|大街|公路|路|街(?![道办])|巷|胡同))(?P<after>.*)$")
# A community/POI run glued before the road (科技园南区高新南七道, 汤臣豪园祖冲之路): split at the
# last community-type suffix, leaving at least three characters of road.
_COMMUNITY_BEFORE_ROAD = re.compile(
    r"^(?P<community>.+(?:小区|花园|新村|公寓|大厦|广场|家园|园区|[东南西北中]区|中心|大楼|小镇|苑|园|城|庭|邸|墅|场|站|碑|岛))"
    r"(?P<road>(?![区县市镇乡省]).{3,})$"  # 下城区环城北路: 下城 is no community, 区环城北路 no road
)
# Where a named place ends inside one run of text: a word of position (金鼎大酒店旁边烧麦店: near the hotel, a
# shop), or a second named place inside the first (盛世嘉园盛美苑: an estate, then its part). The first place is
# the community; what follows goes to `rest`.
# A one-character suffix that starts or ends a common word of a business's name is none (园林, 园艺, 家居, 城市).
_COMMUNITY_SUFFIX = (
    r"(?:花园|家园|小区|新村|公寓|公馆|大厦|商厦|大楼|广场|中心|市场|医院|大学|学院|酒店|宾馆"
    r"|城(?![市乡])|苑|园(?![林艺])|府|庭|(?<!家)居|湾|邸|坊)"
)
_POSITION = re.compile(
    r"(?<=..)(?:正对面|斜对面|对面|旁边|隔壁|附近|门口|里面|后面|背后|前面|楼下|[左右](?:边|侧)|旁|内|[向往][东南西北])"
)
# A text of words of position only (后面, 路口, 东侧): where the address is, no place.
# Sides too (东北 before 100米, 西南角, 以南, 往北): a side is no place.
_ONLY_POSITION = re.compile(
    r"(?:路口|路边|街口|后面|前面|背后|里面|对面|旁边|隔壁|附近|门口|楼下|边上|[左右](?:边|侧)|内|旁"
    r"|[东南西北]{1,2}[角侧]?|以[东南西北]|[往向][东南西北前后左右])+"
)
# A word of position before a place (后面理发店, 转角白鹭大厦): where the address is, not the place's name.
_LEADING_POSITION = re.compile(
    r"(?:斜对面|对面|旁边|隔壁|后面|背后|转角|拐角|旁|[向往][东南西北]|以[东南西北]|[东南西北]{1,2}[角侧]|路口|街口)"
)
_PLACE_IN_PLACE = re.compile(rf"^(?P<place>[^\d]{{2,}}?{_COMMUNITY_SUFFIX})(?P<part>[^\d]{{2,}}{_COMMUNITY_SUFFIX})$")
# A zone of a place named by a letter or a side (白鹭花园A区, 白鹭市场c区, 白鹭苑南区), or its building on one side
# (白鹭大厦西楼): a part of the place, left out as its numbered zones are (白鹭花园3区); the labelling guide of real
# parsed addresses calls it a sub-place too.
_LETTERED_ZONE = re.compile(rf"^(?P<place>[^\d]{{2,}}?{_COMMUNITY_SUFFIX})(?P<zone>[A-Za-z东南西北中]区|[东南西北]楼)$")
# A place, then what is inside it or at it: a company, a shop, an office, a gate, its guard or front desk, the one
# who receives (常青工业园宏达机械有限公司, 绿洲花园物业, 白鹭苑北门, 白鹭酒店前台, 白鹭医院门卫收). The place is the
# community, the rest goes to `rest`.
_INSIDE = (  # (公馆 is an estate: 白鹭公馆)
    r"(?=[^\d]{2})(?!公馆)[^\d]*?(?:有限公司|公司|集团|商行|超市|[店部室处所馆厅柜仓库门卫台收]|物业|宿舍|厂房|车间|食堂)"
)
_PLACE_THEN_INSIDE = re.compile(
    rf"^(?P<place>[^\d]+?(?:{_COMMUNITY_SUFFIX}|山庄|半岛|工业区|园区|学校|中学|小学|饭店|商场|厂)+)(?P<inside>{_INSIDE})$"
)
_ONLY_INSIDE = re.compile(_INSIDE + "$")
# A company, a group, a supermarket or a store, then its office, counter, gate or the one who receives (白鹭公司财务部,
# 白鹭集团项目部, 白鹭超市总台, 白鹭超市后门): the company is the place. Not another company's name or form after it
# (白鹭集团有限公司, 白鹭集团青松分公司), nor its head or new store (白鹭超市总店, 白鹭百货新馆), nor its dormitory.
_COMPANY_THEN_INSIDE = re.compile(
    r"^(?P<place>[^\d]{2,}?(?:公司|集团|超市|百货))"
    r"(?P<inside>(?![有股总分新])(?:(?!公司|集团)[^\d]){1,12}?(?:[店部室处所馆厅柜门台收]|车间))$"
)
# A place, then a business in it whose name has no place ending (白鹭广场绿洲美发, 白鹭南站青松餐厅): the place is the
# community, the business goes to `rest`, as a company in an industrial park does. What follows is a named part of
# the place and stays with it when it holds a place's ending anywhere (a second estate, a campus, a branch:
# 白鹭花园绿洲苑, 白鹭大学青松校区, 白鹭银行青松支行) or ends like a building, a wing or a body of it (写字楼, 绿洲阁,
# 附属医院, 居委会, 合作社).
_PART_OF_PLACE = re.compile(r"(?:楼|阁|轩|里|院|委会|学|学校|社)$")
_ANY_PLACE_SUFFIX = re.compile(rf"{_COMMUNITY_SUFFIX}|校区|分公司|[支分]行")
_PLACE_THEN_OTHER = re.compile(
    rf"^(?P<place>[^\d]{{2,}}(?:{_COMMUNITY_SUFFIX}|山庄|半岛|商场|商城|超市|校区|工业区|工业园|园区|车站|[东南西北]站))"
    rf"(?P<other>[^\d]{{3,}})$"
)
# A village glued to a place in it that has a place's ending (青松村白鹭幼儿园, 甲村绿洲配件厂, 青松宅白鹭工业区): the
# place is the more precise, as the labelling guide has it; 新村 is an estate, 度假村 a place of its own.
_VILLAGE_THEN_PLACE = re.compile(
    r"^(?P<village>(?:(?![路街巷])[^\d]){1,6}?(?:(?<![新假])村|(?<![住])宅|村民组))"
    rf"(?=[^\d]{{2,}}?(?:{_COMMUNITY_SUFFIX}|山庄|工业区|工业园|园区|小区|有限公司|公司|集团|[厂店]|幼儿园|学校|小学|中学))"
)
# A text up to its last place ending: where a note that follows it starts (白鹭小区到了打电话).
_UP_TO_PLACE_END = re.compile(rf".+(?:{_COMMUNITY_SUFFIX}|小区|山庄|有限公司|公司|集团|商行|超市|药房|[店厂馆])")
# A run of text that names a place or a business by its ending: it is one even after a house number.
_NAMED_PLACE = re.compile(
    rf"[\u4e00-\u9fff]{{2}}(?:{_COMMUNITY_SUFFIX}|山庄|有限公司|公司|集团|商行|超市|药房|[店厂馆])$"
)
# A town written with 街道 or 街办事处 after what the division tables did not read (大江东区前进街道长安福特): no 区,
# 市 or 省 in its name, nor a 县 before 街道 (故县街道 is read as a whole place).
_TOWN_INSIDE = re.compile(
    r"^(?P<before>.*?)(?P<town>(?:(?![区市省])[\u4e00-\u9fff]){2,6}?(?<!县)(?:街道(?:办事处)?|街办事处))(?P<after>[^\d]{2,})$"
)
_NAMED_GROUP = re.compile(r"[\u4e00-\u9fff]{1,6}(?:组|队)")  # a villagers' group with a name (白鹭组)
# The part's own name before its longest suffix has two characters at least: 东方城市花园 is one name (市 + 花园).
# One side's character after a place, before its numbers (古荡新村西34幢, 温馨公寓东715): a position, not the name.
_SIDE_BEFORE_NUMBER = re.compile(rf"^..+{_COMMUNITY_SUFFIX}(?P<side>[东南西北])$")
_PART_NAME = re.compile(rf"^(?P<name>[^\d]*?){_COMMUNITY_SUFFIX}$")
# (The crossing's word itself is a position mark by then: `_clean_segment`.)
_CROSSING = re.compile(
    r"(?:与|和|、|近)[\u4e00-\u9fff]{1,10}?(?:大道|大街|公路|路|街|道|巷|胡同|线|环)(?:[东南西北中]段)?"
    r"(?:交口|路口|交叉|口|\x1f)?"
    r"|[\u4e00-\u9fff]{1,10}?(?:大道|大街|公路|路|街)(?:交口|路口|口|\x1f)"
)
# Another road's corner or side written after the road and number (20号大街风帆路口天明环保, 文一西路荆长路以东200米):
# where, not a place.
_ROAD_CORNER = re.compile(
    r"[\u4e00-\u9fff]{1,10}?(?:大道|大街|公路|路|街)(?:交口|路口|口|以[东南西北]|[东南西北]侧|\x1f)"
)
_ROAD_PART = re.compile(r"[东南西北中]段")
# The road's corner written right after it (青松路口白鹭大厦, 青松路交叉口): no part of the place that follows.
_CORNER_AFTER_ROAD = re.compile(r"(?:交叉|交界|交汇|交)?口")
_ROOM_LEADING_ZEROS = re.compile(r"^([A-Z]?)0+(?=\d)")
# Units written in front of the road or the community that the division tables do not know (an old district,
# a town of another district, a development zone, an industrial park, a village or neighbourhood): split off, never
# glued to the road's name (江干区城星路 → 城星路). Order matters: the longer suffixes first. A park, village or
# neighbourhood is the community where the address names no more precise place.
_NAME_GOES_ON = re.compile(r"[东南西北中]?(?:大道|大街|[路街道巷弄号])")
_NOT_A_NAME_START = rf"(?!{_NAME_GOES_ON.pattern})"  # 中关村南大街, 新村路: a road's name
_NOT_A_ROAD = r"(?:(?![路街巷与和])[\u4e00-\u9fff])"  # a character of a unit's name: no road in it (富春路与市民街)
_LEADING_UNIT = re.compile(
    r"(?P<zone>[\u4e00-\u9fff]{2,10}?(?:经济技术开发区|经济开发区|高新技术产业开发区|开发区|高新区))"
    # 临平街道北大街: after 街道 a road starts; after 镇 or 乡 the town's road may go on (堡镇南路). 梦想小镇: a place.
    rf"|(?P<town>(?:(?![区县])[\u4e00-\u9fff]){{2,8}}?(?:街道办事处|街道(?!办)|(?:(?<!小)镇|乡){_NOT_A_NAME_START})"
    # A town of one character (罗镇, 翁街道): not with 乡, which ends many a place's name (侨乡, 西乡).
    rf"|(?![区县])[\u4e00-\u9fff](?:街道(?!办)|镇{_NOT_A_NAME_START}))(?!村)"
    rf"|(?P<park>{_NOT_A_ROAD}{{2,10}}?(?:工业园区|工业区|工业园|园区)){_NOT_A_NAME_START}"
    rf"|(?P<neighbourhood>{_NOT_A_ROAD}{{2,6}}?社区){_NOT_A_NAME_START}"
    # A district the 2023 tables no longer hold (江干区, 下城区, 江东区): two characters and its suffix, or a longer
    # name not ending like a zone (小区, 园区, 城区, 东区, 朝晖八区) or a shop (白鹭超市, 五金门市, 胜利夜市).
    rf"|(?P<district>(?:{_NOT_A_ROAD}{{2}}|{_NOT_A_ROAD}{{3,4}}(?<![小园城东南西北中业一二三四五六七八九十超门夜]))"
    r"(?:区|县|市))"
    rf"{_NOT_A_NAME_START}(?![场府委口])"
    # 曹杨新村 is an estate; 城北路上洪村 a road, then the village (路口村 is a village).
    rf"|(?![\u4e00-\u9fff]{{0,4}}[路街巷][\u4e00-\u9fff]{{2,4}}村)(?P<village>[\u4e00-\u9fff]{{2,6}}?(?<!新)村)"
    rf"{_NOT_A_NAME_START}(?![委民])"
)
# A province or city written again before a town the tables did not read (浙江省昌化镇, 湖州市织里镇, 乐清市石帆街道),
# or the road the town is on (白鹭路青松街道): no part of the town's name, which keeps two characters at least (柳市镇,
# 新市镇 are towns named with 市). The road goes to rest: the labels make it the road about as often as the road
# that follows the town.
_BEFORE_TOWN = re.compile(r"^.+(?:[省市]|大道|[路街])(?=[\u4e00-\u9fff]{2,}(?:街道办事处|街道|镇|乡)$)")
# Every unit `_LEADING_UNIT` reads ends with one of these characters, at most 19 characters in (高新技术产业开发区 after
# ten of a name): a text without any in its first 19 holds none (most roads and lanes), and is not searched.
_UNIT_LAST_CHARACTERS = frozenset("区处道镇乡园县市村")
_UNIT_MOST_CHARACTERS = 19
# An area written in front of a road, known to no table (北工业区凤都一路, 城区中州路, 南村幸福路): split at its
# suffix when a road's own name of two characters at least follows (新村路, 新区大道, 镇南路 are roads).
_AREA_BEFORE_ROAD = re.compile(
    r"^(?P<area>[\u4e00-\u9fff]{1,12}?(?:区|街道办事处|办事处|街道|(?<!小)镇|乡|村))"
    r"(?P<road>(?![东南西北中]?(?:大道|大街|公路|[路街道巷弄]))[\u4e00-\u9fff]{2,})$"
)
# A road's own name has two characters, or three (金沙江路), a side's character not counted (环城南路,
# 中关村南大街), nor a numeral (科技六路): four and more before the suffix are a place's name, then the road
# (胡家坟振兴路, 荷叶塘洪界路, 青松白鹭路: a village or an area, then its road; the labels of real parsed addresses
# cut a name of four so 83 times on train and keep it whole 37). The place goes to rest. A name ending in 直, 横 or 环
# goes on from the words before it (太平门直街, 陆家嘴环路: the straight, cross or ring street of a place).
_PLACE_BEFORE_ROAD = re.compile(
    r"^(?P<place>[\u4e00-\u9fff]{2,}?)"
    r"(?P<road>[\u4e00-\u9fff]{2}(?:[东南西北中]|(?<![东南西北中大公一二三四五六七八九十直横环]))"
    r"(?:大道|大街|公路|路|街|巷)(?:[一二三四五六七八九十\d]+段)?)$"
)
# A road named by a common word after a place's name of two characters is one name (九亭中心路, 青松工业路, 白鹭人民路:
# the place's central, industrial, people's road), not a place and its road.
_COMMON_ROAD_NAME = re.compile(r"(?:中心|工业|科技|发展|步行|市场|人民|建设|文化|公园)")
# The name of a village or an area before a road: no division's suffix, no road, no crossing in it.
_AREA_NAME = re.compile(r"(?:(?![省市区县镇乡路街道与和])[\u4e00-\u9fff]){3,6}")
# A place's name does not end with a side or a numeral, nor inside a word the road's name goes on with
# (向阳南路, 湖东二里桥路, 蛇口工业七路): the split would cut it.
_NAME_GOES_ON_BEFORE = re.compile(r"[东南西北中一二三四五六七八九十大工]$")
_FIRST_ROAD = re.compile(r"^(?P<road>[\u4e00-\u9fff]{2,}?(?:大道|大街|路|街|巷))(?:与|和)?$")
# Places that are one building of many floors, or a phase of one (白鹭商贸城3期): a number in 楼 there is the floor.
_ONE_BUILDING = re.compile(r"(?:大厦|商厦|大楼|广场|中心|市场|商场|商城|酒店|宾馆|饭店|医院)(?:\d+期)?$")
# A numbered zone after a place's ending (国际商贸城4区, 南都花园三区) is a part of the place, left out; after a bare
# name (春晗二区, 稠山2区) it is the name's own part: a village's or estate's zones are its places.
# A market or a mall: its numbers are shops, not buildings (白鹭农贸市场1137号, 青松汽配城2671号, 白鹭商城622号).
_SHOPS_PLACE = re.compile(r"(?:市场|商场|商城|[贸纺配材物品具装衫革车](?:易)?城)(?:\d+期)?$")
_ZONE_OF_PLACE = re.compile(rf"{_COMMUNITY_SUFFIX}$")
_SIDES = frozenset("东南西北中")
_ASCII_LETTERS = frozenset(string.ascii_letters)
_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")
_FIRST_DIGIT = re.compile(r"\d")

# An administrative alias (浦东, 张江, 南京) directly followed by any of these is the start of a
# road, lane, committee or other division's name, not the division itself: 浦东南路, 花木路,
# 南京西路, 金桥居委, 吉林市 (city) vs 吉林 (province).
_ALIAS_REJECT_AFTER = re.compile(
    r"(?:[东西南北中环]{0,2}|[一二三四五六七八九十]{1,2})(?:大道|大街|公路|路|街|巷|弄|里)"
    r"|[省市区县镇乡旗盟州村号河湾\d]|居委|村委|新村|小区|花园"
    r"|[东西南北中家]?[园苑岛]"  # 望京西园, 海甸岛, 九堡家苑: a community or island named after the place
    r"|[一二三四五六七八九十]{1,3}区"  # 朝晖八区: a numbered estate named after the place
    r"|工业|开发区|经济开发|经济技术|高新|园区|新区|家园|公寓|广场|大厦|市场"  # 望春工业区, 临城新区: a zone or place
)


# ---------------------------------------------------------------------------------------------
# Administrative divisions
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Division:
    level: int  # 0 province, 1 city, 2 district, 3 town
    code: str
    name: str | None  # canonical output name (None for pseudo-cities)
    province: str
    city: str | None
    district: str | None


class _NameIndex:
    """Name → candidates (with an is-alias flag), searchable for names starting at a position.

    Lengths are kept per first character so a lookup tries only the lengths that exist
    (a handful) instead of every length up to the longest name: this is the parser's hot path.
    """

    __slots__ = ("_lengths", "_names")

    def __init__(self) -> None:
        self._names: dict[str, list[tuple[Any, bool]]] = {}
        self._lengths: dict[str, tuple[int, ...]] = {}

    def add(self, name: str, div: Any, is_alias: bool) -> None:
        self._names.setdefault(name, []).append((div, is_alias))
        lengths = set(self._lengths.get(name[0], ())) | {len(name)}
        self._lengths[name[0]] = tuple(sorted(lengths, reverse=True))

    def at(self, text: str, pos: int) -> Iterable[tuple[int, list[tuple[Any, bool]]]]:
        """(end, entries) for every indexed name starting at pos, longest first."""
        if pos >= len(text):
            return
        for length in self._lengths.get(text[pos], ()):
            end = pos + length
            if end <= len(text):
                entries = self._names.get(text[pos:end])
                if entries:
                    yield end, entries


class Gazetteer:
    """The district's own names, read before the national division tables: its towns (long and short: 金桥镇,
    金桥; 浦兴路街道, 浦兴路) and the communities and roads of its housing register.

    Built from the reference (`jingzhun.matching.reference`), so a community named after a place elsewhere in China
    (滨江花园, 东方城市花园, 望江苑) stays a community of this district. Compared by identity: one gazetteer is
    built per run and the parser's caches key on it. `district_code`: the district its grid names, when it names
    one (the context its addresses are read in).
    """

    __slots__ = ("_digest", "_names", "_places", "_towns", "district_code")

    def __init__(self, towns: Iterable[str], places: Iterable[str], district_code: str | None = None) -> None:
        self.district_code = district_code
        self._towns = _NameIndex()
        self._places = _NameIndex()
        self._names = ({t for t in towns if t}, {p for p in places if p and len(p) >= 2})
        self._digest: str | None = None
        for town in self._names[0]:
            self._towns.add(town, town, False)
            for alias in _aliases(town, 3, keep_roadlike=True):
                self._towns.add(alias, town, True)
        for place in self._names[1]:
            self._places.add(place, place, False)

    def digest(self) -> str:
        """What its names are (the same names give the same digest), for parses kept beyond one run."""
        if self._digest is None:
            digest = hashlib.sha256()
            for names in self._names:
                digest.update("\0".join(sorted(names)).encode() + b"\1")
            self._digest = digest.hexdigest()
        return self._digest

    def town_at(self, text: str, pos: int) -> tuple[int, str] | None:
        """(end, the town's full name) for the longest town written at pos. A short name counts only where it
        is not the start of another name (金桥路, 金桥居委), and one that reads as a road (浦兴路, 曹路) only where
        another road or a place of the register follows it (浦兴路长岛路100号, 曹路光明村): alone, 浦兴路 is the
        road."""
        for end, entries in self._towns.at(text, pos):
            town, is_alias = entries[0]
            if self.place_at(text, pos, longer_than=end - pos):
                continue  # 唐镇村: a village of the register named after its town
            if not is_alias:
                return end, town
            if _ROADLIKE_ALIAS.search(text, pos, end):
                if _ROAD_START.match(text, end) or self.place_at(text, end):  # 曹路光明村: the village of 曹路镇
                    return end, town
            elif _alias_allowed(text, end) and not self.place_at(text, pos, longer_than=end - pos):
                return end, town
        return None

    def place_at(self, text: str, pos: int, longer_than: int = 0) -> int | None:
        """The end of the longest community or road of the register written at pos (longer than `longer_than`)."""
        for end, _ in self._places.at(text, pos):
            return end if end - pos > longer_than else None
        return None


_ETHNIC = (
    "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|高山|拉祜|水|"
    "东乡|纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|乌孜别克|"
    "俄罗斯|鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺"
)
_AUTONOMOUS = re.compile(rf"(?:(?:{_ETHNIC})族?)*(?:自治区|自治州|自治县|自治旗|族乡)$")
_LEVEL_SUFFIXES = (
    ("省", "市"),
    ("地区", "盟", "市"),
    ("新区", "林区", "特区", "区", "县", "市", "旗"),
    ("街道办事处", "地区办事处", "街道", "新镇", "镇", "乡", "苏木"),
)
_ROADLIKE_ALIAS = re.compile(r"(?:路|街|道|巷)$")


def _aliases(name: str, level: int, keep_roadlike: bool = False) -> set[str]:
    """Short forms of a division name: 浦东新区 → 浦东, 广西壮族自治区 → 广西, 张江镇 → 张江. A town's short form
    that reads as a road (南码头路街道 → 南码头路) is kept only on request: the caller must then check that a
    road follows it, or it would swallow the road itself."""
    out = set()
    stripped = _AUTONOMOUS.sub("", name)
    if stripped != name:
        # Both 广西 (without the people's name) and 内蒙古 (where the "people" is the place).
        out.add(stripped)
        out.add(re.sub(r"自治(?:区|州|县|旗)$|族乡$", "", name))
        if name.endswith("自治州"):
            out.add(stripped + "州")  # 恩施州
    else:
        for suffix in _LEVEL_SUFFIXES[level]:
            if name.endswith(suffix):
                out.add(name[: -len(suffix)])
                break
    if keep_roadlike and level == 3:
        # A town named after its road or its estate is called by the name without 路 or 新村 too (南码头路街道 →
        # 南码头, 上钢新村街道 → 上钢): checked as any short name is, so 南码头路 alone stays the road.
        out |= {a.removesuffix("新村").removesuffix("路") for a in out if a.endswith(("路", "新村"))}
    # A town alias ending like a road (南码头路街道 → 南码头路) would swallow the road itself.
    return {a for a in out if len(a) >= 2 and (keep_roadlike or not (level == 3 and _ROADLIKE_ALIAS.search(a)))}


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DIVISIONS_DIR / name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


class _Divisions:
    """The national division tables as name indexes, per level and per district."""

    def __init__(self) -> None:
        provinces = {r["code"]: r["name"] for r in _read_csv("provinces.csv")}
        self.by_code: dict[str, _Division] = {}
        self.municipalities: set[str] = set()  # province codes whose districts sit under 市辖区
        # provinces, cities, districts
        self.global_index: list[_NameIndex] = [_NameIndex(), _NameIndex(), _NameIndex()]
        self.towns_by_district: dict[str, _NameIndex] = {}
        self.districts_by_city: dict[str, list[str]] = {}
        self.town_full_names = _NameIndex()  # whole country, full names only
        self.town_short_names = _NameIndex()  # whole country, short names only (崧厦 for 崧厦街道)

        for code, name in provinces.items():
            self._add(_Division(0, code, name, code, None, None), name, self.global_index[0])
        for r in _read_csv("cities.csv"):
            prov, name = r["provinceCode"], r["name"]
            if name in _MUNICIPALITY_PLACEHOLDERS:
                self.municipalities.add(prov)
                self.by_code[r["code"]] = _Division(1, r["code"], provinces.get(prov), prov, r["code"], None)
            elif _PSEUDO_CITY_MARK in name:
                self.by_code[r["code"]] = _Division(1, r["code"], None, prov, r["code"], None)
            else:
                self._add(_Division(1, r["code"], name, prov, r["code"], None), name, self.global_index[1])
        for r in _read_csv("areas.csv"):
            div = _Division(2, r["code"], r["name"], r["provinceCode"], r["cityCode"], r["code"])
            self.districts_by_city.setdefault(r["cityCode"], []).append(r["code"])
            self._add(div, r["name"], self.global_index[2])
        for r in _read_csv("streets.csv"):
            div = _Division(3, r["code"], r["name"], r["provinceCode"], r["cityCode"], r["areaCode"])
            index = self.towns_by_district.setdefault(r["areaCode"], _NameIndex())
            # Codes 4xx/5xx are farms and development zones: full name only, no short alias
            # (张江 is 张江镇, not 张江高科技园区).
            self._add(div, r["name"], index, with_aliases=r["code"][6:7] < "4")
            self.town_full_names.add(r["name"], div, False)
            if r["code"][6:7] < "4":
                for alias in _aliases(r["name"], 3):
                    self.town_short_names.add(alias, div, True)

    def _add(self, div: _Division, name: str, index: _NameIndex, with_aliases: bool = True) -> None:
        self.by_code[div.code] = div
        index.add(name, div, False)
        if with_aliases:
            for alias in _aliases(name, div.level):
                index.add(alias, div, True)


@lru_cache(maxsize=1)
def _divisions() -> _Divisions:
    return _Divisions()


def warm_divisions() -> None:
    """Build the division tables now (seconds: thousands of names and their aliases), not on the first address."""
    _divisions()


@dataclass(slots=True)
class _AdminState:
    province: str | None = None
    city: str | None = None
    districts: tuple[str, ...] = ()
    town: str | None = None
    town_name: str | None = None  # a town the district's own gazetteer names (it may have no national code)
    district_name: str | None = None  # a district the tables no longer hold, written before a town of its city

    def admits(self, div: _Division) -> bool:
        if self.province and div.province != self.province:
            return False
        if self.city and div.level >= 2 and div.city != self.city:
            return False
        return not (self.districts and div.level == 3 and div.district not in self.districts)

    def lowest_level(self) -> int:
        if self.town or self.town_name:
            return 3
        if self.districts:
            return 2
        if self.city:
            return 1
        return 0 if self.province else -1


def _alias_allowed(text: str, end: int) -> bool:
    return _ALIAS_REJECT_AFTER.match(text, end) is None


def _lookup(
    text: str,
    pos: int,
    index: _NameIndex,
    state: _AdminState,
    unique_alias: bool,
    gazetteer: Gazetteer | None = None,
    context: _Division | None = None,
    opening: bool = False,
) -> tuple[int, list[_Division]] | None:
    """Longest name in `index` starting at pos whose candidates fit the state; `opening` where pos opens the
    address (not a chain written again after the first)."""
    for end, entries in index.at(text, pos):
        fitting = [div for div, is_alias in entries if state.admits(div)]
        if not fitting:
            continue
        is_alias = all(alias for div, alias in entries if div in fitting)
        if (
            is_alias
            and len(fitting) == 1
            and fitting[0].level == 2
            and _FORMER_SUFFIX.match(text, end)
            and not _NAME_GOES_ON.match(text, end + 1)
        ):
            return end + 1 - pos, fitting  # 奉化市, 临安市, 玉环县: a county or city since made a district, or back
        if is_alias and unique_alias and len(fitting) > 1:
            continue
        if (
            is_alias
            and not _alias_allowed(text, end)
            and not _child_at(text, end, fitting)
            and not (gazetteer is not None and gazetteer.place_at(text, end))
        ):
            # 吉林市 is the city, not the province 吉林; but 宁波镇海区 is 宁波 and its 镇海区, and 浦东镇北村 浦东 and
            # the register's 镇北村
            continue
        if (
            is_alias
            and state.lowest_level() < 0
            and not _more_address_at(text, end, fitting, gazetteer)
            and not (opening and _place_after_division(text, end, fitting, context))
        ):
            continue  # 东方城市花园, 望江苑: a place named after a city, not the city
        return end - pos, fitting
    return None


def _child_at(text: str, end: int, cands: list[_Division]) -> bool:
    """Whether the full name of a city or district inside one of the candidates is written at `end`."""
    divs = _divisions()
    for cand in cands:
        if cand.level > 1:
            continue
        for _, entries in divs.global_index[cand.level + 1].at(text, end):
            if any(
                not alias and (div.province if cand.level == 0 else div.city) == cand.code for div, alias in entries
            ):
                return True
    return False


# A district's short name with another district-level suffix than today's: the name it had before (奉化市 for
# 奉化区, 玉环县 for 玉环市), read as the district it is now.
_FORMER_SUFFIX = re.compile(r"[市区县]")

# What may follow the first division name of an address written without its suffix (浦东, 杭州, 温州): a road, a
# division of any level written with its suffix (known or not: 江干区, 郭溪镇), or the end of the text.
_ROAD_START = re.compile(r"[\u4e00-\u9fff]{1,10}?(?:大道|大街|公路|路|街|巷|胡同)")
# No province, city or banner has a name of one character (城市花园 names no 城市), and a 市场 or a 小区, 社区,
# 园区 is a place, not a division: 东方城市花园 and 东方农贸市场 are places here, not 海南省东方市 and the rest.
_UNIT_START = re.compile(
    r"[\u4e00-\u9fff]{2,8}?(?:省|市(?!场)|旗)|[\u4e00-\u9fff]{1,8}?(?:(?<![小社园景校厂片街营])区|县|街道|镇|乡)"
)


def _more_address_at(text: str, end: int, cands: list[_Division], gazetteer: Gazetteer | None) -> bool:
    """Whether the text after a division's short name still reads as an address, so that the short name is
    the division and not the start of a place's name."""
    if end == len(text):
        return True
    if gazetteer is not None and (gazetteer.town_at(text, end) or gazetteer.place_at(text, end)):
        return True
    if _ROAD_START.match(text, end) or _UNIT_START.match(text, end):
        return True
    divs = _divisions()
    level = min(c.level for c in cands)
    districts = {c.code for c in cands if c.level == 2}
    for lower in range(level + 1, 3):
        if any(True for _ in divs.global_index[lower].at(text, end)):
            return True
    return any(
        any(True for _ in divs.towns_by_district[d].at(text, end)) for d in districts if d in divs.towns_by_district
    )


# A school, or an international one (浙江师范大学, 湖州职业技术学院, 义乌国际商贸城, 萧山国际机场): a place named after
# its province, city or district, which the name keeps.
_NAMED_AFTER_DIVISION = re.compile(r"^国际|(?:大学|学院)$")


def _place_after_division(text: str, end: int, cands: list[_Division], context: _Division | None) -> bool:
    """Whether a place with a name of its own follows a city's or district's short name that opens the address
    (杭州北景园, 海宁凯旋景苑), in the province of the data's district where one is given: the short name is then the
    division, as the labelling guide of real parsed addresses has it. 望江苑, 江南豪园 have no name of their own after
    it; a place written after a far province's city (东方城市花园 in Shanghai's data) is named after it."""
    if context is not None and all(c.province != context.province for c in cands):
        return False
    place = _PLACE_AFTER_TOWN.match(text, end)
    return place is not None and not _NAMED_AFTER_DIVISION.search(place.group())


def _town_candidates(
    text: str, pos: int, state: _AdminState, context: _Division | None, divs: _Divisions
) -> tuple[int, list[_Division]] | None:
    # Towns share names across the country: search only inside the district found (or the
    # caller's context district); elsewhere accept a full name only when it is unique.
    districts = state.districts or ((context.code,) if context and state.admits(context) else ())
    if not districts and state.city:
        # A city and a town without its district (杭州市下沙, 宁波市江东区 that the tables no longer hold): the towns of
        # all the city's districts, a short name only where it is unique in the city.
        districts = tuple(divs.districts_by_city.get(state.city, ()))
    best: tuple[int, list[_Division]] | None = None
    for district in districts:
        index = divs.towns_by_district.get(district)
        found = _lookup(text, pos, index, state, unique_alias=True) if index else None
        if found and (best is None or found[0] > best[0]):
            best = found
        elif found and best and found[0] == best[0]:
            best = (best[0], best[1] + found[1])
    if best:
        return best
    if state.districts and state.city and (moved := _town_of_sibling_district(text, pos, state, divs)):
        return moved
    for end, entries in divs.town_full_names.at(text, pos):
        fitting = [d for d, _ in entries if state.admits(d)]
        if len(fitting) == 1:
            return end - pos, fitting
    # A short name with no district to search in (莘塍民莘中路, 杭州上溪金塘路): the one town of that name in the
    # country, or in the province or city written, and only before a road, as for a town of a split district.
    # (Where a district is known its towns were searched above: the country's names would add none.)
    for end, entries in () if state.districts else divs.town_short_names.at(text, pos):
        fitting = [d for d, _ in entries if state.admits(d)]
        if len(fitting) == 1 and _alias_allowed(text, end) and _named_after_town(text, end, divs, pos, state):
            return end - pos, fitting
    return None


_ROAD_AFTER_TOWN = re.compile(
    rf"(?:(?![省市区县镇乡村]|{_COMMUNITY_SUFFIX})[\u4e00-\u9fff]){{2,8}}?(?:大道|大街|公路|路|街(?!道)|巷)"
)  # no place in it either: 天河区珠江新城花城大道 is 珠江新城 (a place), then the road
# A named place after a town's short name (乔司三鑫工业园, 九堡商贸中心, 乔司吴家村): a name of its own, two characters
# at least, then a place's ending. 江南豪园, 西溪山庄, 乔司村 have none after the town's name: places named after it.
_PLACE_AFTER_TOWN = re.compile(
    rf"(?:(?![省市区县镇乡路街巷]|{_COMMUNITY_SUFFIX})[\u4e00-\u9fff]){{2,8}}?"
    rf"(?:{_COMMUNITY_SUFFIX}|山庄|工业园区|工业区|工业园|园区|(?<!新)村)"
)


def _named_after_town(text: str, end: int, divs: _Divisions, pos: int, state: _AdminState) -> bool:
    """Whether a road or a named place follows the town's short name text[pos:end], so that it is the town.

    Before a place, the name must also be the longest town name written at pos (四季青面料市场: no town 四季 before
    青面料市场 where 四季青 is a town of several districts), and no province, city or district's name (上海人才创业园,
    南浔建材城: the upper division, which the address then writes without its suffix)."""
    if road := _ROAD_AFTER_TOWN.match(text, end):
        return "街道" not in road.group()  # 四季青街道剧院路: 四季 is no town before 青街道…
    if _PLACE_AFTER_TOWN.match(text, end) is None or not (state.province or state.city):
        return False
    longest = next(iter(divs.town_short_names.at(text, pos)), None)
    if longest is None or longest[0] != end:
        return False
    return not any(e == end for index in divs.global_index for e, _ in index.at(text, pos))


def _town_of_sibling_district(
    text: str, pos: int, state: _AdminState, divs: _Divisions
) -> tuple[int, list[_Division]] | None:
    """A town the address writes after its district that the tables put in another district of the same city: the
    district was split or renamed since (余杭区乔司: 乔司 is in 临平区 since 2021; 宝安区大浪, now 龙华区). The city the
    address names confirms it; the name must be unique among the city's towns."""
    city_only = _AdminState(province=state.province, city=state.city)
    found: list[tuple[int, list[_Division]]] = []
    for district in divs.districts_by_city.get(state.city or "", ()):
        index = divs.towns_by_district.get(district)
        if district not in state.districts and index and (hit := _lookup(text, pos, index, city_only, True)):
            found.append(hit)
    if len(found) != 1 or len(found[0][1]) != 1:
        return None
    # A short name only before a road (乔司鑫业路): 江南豪园, 西溪山庄 are places named after a town, 余杭塘路 a road,
    # 西塘桥镇 another town.
    length, cands = found[0]
    if text[pos : pos + length] != cands[0].name and not _named_after_town(text, pos + length, divs, pos, state):
        return None
    return found[0]


def _prefer_context(cands: list[_Division], context: _Division | None) -> list[_Division]:
    if context is None or len(cands) < 2:
        return cands
    for attr in ("district", "city", "province"):
        near = [c for c in cands if getattr(c, attr) == getattr(context, attr)]
        if near:
            return near
    return cands


def _apply(state: _AdminState, level: int, cands: list[_Division]) -> None:
    """Record a match and infer the parents that all candidates agree on."""

    def agreed(attr: str) -> str | None:
        values = {getattr(c, attr) for c in cands}
        return values.pop() if len(values) == 1 else None

    state.province = state.province or agreed("province")
    if level >= 1:
        state.city = state.city or agreed("city")
    if level >= 2:
        state.districts = state.districts or tuple(sorted({c.district for c in cands if c.district}))
    if level == 3 and len(cands) == 1:
        state.town = cands[0].code
        if cands[0].district and (not state.districts or cands[0].district in state.districts):
            state.districts = (cands[0].district,)  # the town tells which of the candidate districts is meant


def _gazetteer_town_fits(state: _AdminState, context: _Division | None) -> bool:
    """The gazetteer's towns lie in the context district: they fit an address that has named no other one."""
    if context is None:
        return state.lowest_level() < 0
    return state.admits(context) and (not state.districts or context.code in state.districts)


def _match_admin(
    text: str, context: _Division | None, gazetteer: Gazetteer | None = None, opening: bool = True
) -> tuple[_AdminState, int]:
    divs = _divisions()
    state = _AdminState()
    pos = 0
    while pos < len(text) and state.lowest_level() < 3:
        best: tuple[int, int, list[_Division]] | None = None
        for level in range(state.lowest_level() + 1, 4):
            if level == 3:
                found = _town_candidates(text, pos, state, context, divs)
            else:
                # District aliases are only trusted everywhere when unique (浦东 yes, 西湖 no).
                unique = level == 2 and not state.city and not state.province
                found = _lookup(text, pos, divs.global_index[level], state, unique, gazetteer, context, opening)
            if found and (best is None or found[0] > best[0]):
                best = (found[0], level, found[1])
        if gazetteer is not None:
            # The district's own names first: its towns, long or short, and the places of its register, which
            # win over a national name of the same start (滨江花园 is a community here, not 杭州市滨江区).
            town = gazetteer.town_at(text, pos) if state.lowest_level() < 3 else None
            if town and (best is None or town[0] - pos >= best[0]) and _gazetteer_town_fits(state, context):
                if context is not None and not state.districts:
                    _apply(state, 2, [context])
                state.town_name = town[1]
                pos = town[0]
                break
            if gazetteer.place_at(text, pos, longer_than=best[0] - 1 if best else 0):
                break
        if best is None:
            best = _town_after_former_district(text, pos, state, context, divs)
        if best is None:
            break
        length, level, cands = best
        cands = _prefer_context(cands, context)
        if level == 3 and len(cands) > 1:
            break  # an ambiguous town name is left to the remainder rather than guessed
        _apply(state, level, cands)
        pos += length
        pos = _skip_municipality_repeat(text, pos, state, divs)
    return state, pos


def _town_after_former_district(
    text: str, pos: int, state: _AdminState, context: _Division | None, divs: _Divisions
) -> tuple[int, int, list[_Division]] | None:
    """杭州市江干区下沙, 绍兴市绍兴县柯桥: a district the tables no longer hold (its towns went to other districts of
    the city), then one of the city's towns, which the city confirms. The district is kept as written."""
    if not state.city or state.districts or state.district_name:
        return None
    former = _LEADING_UNIT.match(text, pos)
    if former is None or former.lastgroup != "district" or len(former.group()) != 3:
        return None  # a longer run (宁波余姚市 after 宁波) is the city written again, then its district
    found = _town_candidates(text, former.end(), state, context, divs)
    if found is None or len(found[1]) != 1:
        return None
    state.district_name = former.group()
    return former.end() - pos + found[0], 3, found[1]


def _skip_municipality_repeat(text: str, pos: int, state: _AdminState, divs: _Divisions) -> int:
    # 上海市上海市浦东新区 / 上海市市辖区浦东新区: the city level of a municipality is the province.
    if state.province in divs.municipalities and not state.districts:
        for filler in ("市辖区", "县", divs.by_code[state.province].name or "市辖区"):
            if text.startswith(filler, pos):
                return pos + len(filler)
    return pos


def _admin_fields(state: _AdminState, divs: _Divisions) -> dict[str, str | None]:
    def name(code: str | None) -> str | None:
        return divs.by_code[code].name if code and code in divs.by_code else None

    district = None
    names = {name(code) for code in state.districts}
    if len(names) == 1:
        district = names.pop()
    city = name(state.city)
    if city is None and len(state.districts) == 1:
        city = name(divs.by_code[state.districts[0]].city)
    if city is None and state.province in divs.municipalities:
        city = name(state.province)  # 上海市 written alone: its city level is itself
    return {
        "province": name(state.province),
        "city": city,
        "district": state.district_name or district,
        "town": state.town_name or name(state.town),
    }


# ---------------------------------------------------------------------------------------------
# Below the town
# ---------------------------------------------------------------------------------------------
def _prepare(text: str) -> str:
    if "n" in text or "N" in text:
        text = _EMPTY_FIELD.sub("", text)  # 温州市null永嘉县: an empty field of the export, joined in
    text = _DELETED.sub("", text)
    text = _DASHES.sub("-", text)
    if "-" in text or "/" in text:
        text = _DASH_BETWEEN_NAMES.sub("", text)  # 浙江省-杭州市-萧山区, 浙江/杭州市/西湖区
    # The guard only skips work: the substitution is a no-op without a label's first character.
    if text and text[0] in _LABEL_START:
        text = _LEADING_LABEL.sub("", text)
    if text.startswith(_COUNTRY) and _division_at(text, len(_COUNTRY)):
        text = text[len(_COUNTRY) :]  # 中国浙江省…: the country; 中国轻纺城, 中国银行 are names that start with it
    return text


def _division_at(text: str, pos: int) -> bool:
    """Whether a province or a city is named at `pos` (by its full or short name)."""
    indexes = _divisions().global_index
    return any(True for level in (0, 1) for _ in indexes[level].at(text, pos))


def _arabic_numbers(text: str) -> str:
    def convert(match: re.Match[str]) -> str:
        return chinese_numeral_to_arabic(match.group()) or match.group()

    # The guards only skip work: each substitution is a no-op without its trigger character.
    if not _CN_NUMERAL_SET.isdisjoint(text):
        text = _CN_NUMBER_POSITION.sub(convert, text)
    if "巷" in text:
        text = _LANE_TYPO.sub("弄", text)
    if "F" in text or "f" in text:
        text = _FLOOR_F.sub("层", text)
    if "一" in text:
        text = _ONE_AS_DASH.sub("-", text)
    if not _ASCII_LETTERS.isdisjoint(text):
        text = _LETTERED_BUILDING_ROOM.sub(r"\1栋\2室", text)
    if "-" in text:
        for pattern, replacement in _DASH_FORMS:
            text = pattern.sub(replacement, text)
    return text


def _number(digits: str) -> str:
    stripped = digits.lstrip("0")
    return stripped or "0"


def _room(raw: str) -> str:
    # Keep letters (A502), drop leading zeros of the numeric part only.
    room = raw.upper()
    # The guard only skips work: without a zero first, or after a letter first, the substitution is a no-op.
    if room[:1] != "0" and not (room[1:2] == "0" and "A" <= room[:1] <= "Z"):
        return room
    return _ROOM_LEADING_ZEROS.sub(r"\1", room)


def _tokens(text: str) -> list[tuple[str, re.Match[str] | str]]:
    out: list[tuple[str, re.Match[str] | str]] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() > pos:
            out.append(("text", text[pos : match.start()]))
        # lastgroup names the last group that closed: lane_kind for a lane.
        kind = "lane" if match.lastgroup == "lane_kind" else str(match.lastgroup)
        out.append((kind, match))
        pos = match.end()
    if pos < len(text):
        out.append(("text", text[pos:]))
    return out


def _clean_segment(segment: str) -> str:
    if not _NOISE_SECOND_CHARS.isdisjoint(segment):
        segment = _NOISE.sub(lambda m: _POSITION_MARK if m["position"] else "", segment)
    if not _NOTE_CHARS.isdisjoint(segment) and (note := _NOTE.search(segment)):
        # 白鹭袜业联系, 白鹭小区到了打电话: a note for the courier, from its first words (after the place) to its end
        segment = segment[: note.start()]
        if place := _UP_TO_PLACE_END.match(segment):
            segment = place.group()
    return segment.strip(_SEGMENT_TRIM)


def _strip_units(text: str, fields: dict[str, str | None], rest: list[str], areas: list[str]) -> str:
    """Split the units written in front of a road or community (`_LEADING_UNIT`) into their fields; a unit is
    split off only when more address follows it, except a town or district, which is one even alone."""
    while not _UNIT_LAST_CHARACTERS.isdisjoint(text[:_UNIT_MOST_CHARACTERS]) and (m := _LEADING_UNIT.match(text)):
        kind, unit, alone = m.lastgroup, m.group(), m.end() == len(text)
        if kind == "town" and fields["town"] is None:
            if before := _BEFORE_TOWN.match(unit):
                rest.append(before.group())
                unit = unit[before.end() :]
            fields["town"] = unit
        elif kind == "district" and fields["district"] is None and fields["town"] is None:
            fields["district"] = unit
        elif alone or kind == "district":
            break
        elif kind in ("park", "village", "neighbourhood"):
            areas.append(unit)
        else:
            rest.append(unit)
        text = text[m.end() :]
    return text


def _road_after_area(road: str, fields: dict[str, str | None], rest: list[str], areas: list[str]) -> str:
    """The road without an area written in front of it (`_AREA_BEFORE_ROAD`); a town goes to its field."""
    if m := _AREA_BEFORE_ROAD.match(road):
        area, road = m["area"], m["road"]
        if area.endswith(("镇", "乡", "街道", "办事处")) and fields["town"] is None:
            fields["town"] = area
        elif area.endswith("村") and not area.endswith("新村"):
            areas.append(area)
        else:
            rest.append(area)
    if (
        (m := _PLACE_BEFORE_ROAD.match(road))
        and not _NAME_GOES_ON_BEFORE.search(m["place"])
        and not _division_across(road, m.start("road"))
        and not (len(m["place"]) == 2 and _COMMON_ROAD_NAME.match(m["road"]))
    ):
        if first := _FIRST_ROAD.match(m["place"]):  # 天长北路东禅巷, 温州大道与牛山北路: the first road is the road
            rest.append(road[first.end() :])
            return first["road"]
        # A village or an area (鲁家峙鲁川路, 胡家坟振兴路): the place where nothing more precise is named, as the
        # labelling guide has it; a run that holds a division or a road is a long road name split wrong, one with a
        # word of position (大酒店对面) says where, and names no place.
        place = m["place"]
        named = (
            _AREA_NAME.fullmatch(place)
            and not _POSITION.search(place)
            and not _LEADING_POSITION.search(place)
            and not any(noise["position"] for noise in _NOISE.finditer(place))  # 楼下门口青松路: where, no area
        )
        (areas if named else rest).append(place)
        road = m["road"]
    return road


def _division_across(text: str, cut: int) -> bool:
    """Whether a division's name or short name runs across `cut`: 杭州湾大道 is no place 杭 and road 州湾大道."""
    indexes = _divisions().global_index
    return any(end > cut for pos in range(max(0, cut - 2), cut) for index in indexes for end, _ in index.at(text, pos))


def _written_chain(segment: str) -> int:
    """The length of a chain of divisions written again inside the address, by their full names (中国浙江省杭州市,
    白鹭省青松市绿洲区 after a first address): two names at least, or one after 中国; 0 where none opens `segment`."""
    indexes = _divisions().global_index
    pos = len(_COUNTRY) if segment.startswith(_COUNTRY) else 0
    names = 1 if pos else 0
    while True:
        end = next(
            (end for index in indexes for end, entries in index.at(segment, pos) if any(not a for _, a in entries)),
            None,
        )
        if end is None:
            break
        pos, names = end, names + 1
    return pos if names >= 2 and pos <= len(segment) - 2 else 0


def _first_place(segment: str, rest: list[str]) -> str:
    """The named place a run of text starts with (`_POSITION`, `_PLACE_IN_PLACE`); what follows it goes to rest."""
    mark = segment.find(_POSITION_MARK)
    if mark >= 2:
        rest.append(segment[mark:])
        segment = segment[:mark]
    segment = segment.replace(_POSITION_MARK, "")
    if len(segment) >= 4 and segment[: len(segment) // 2] == segment[len(segment) // 2 :]:
        segment = segment[: len(segment) // 2]  # 白鹭国际白鹭国际: the place written twice
    if (lead := _LEADING_POSITION.match(segment)) and lead.end() < len(segment) - 1:
        rest.append(lead.group())  # 后面理发店, 转角白鹭大厦: the place is what follows the word of position
        segment = segment[lead.end() :]
    if position := _POSITION.search(segment):
        rest.append(segment[position.start() :])
        segment = segment[: position.start()]
    if village := _VILLAGE_THEN_PLACE.match(segment):
        rest.append(village["village"])  # 青松村白鹭幼儿园, 白鹭路8号青松村绿洲小区: the place in the village
        segment = segment[village.end() :]
    inner = _PLACE_IN_PLACE.match(segment)
    if zone := _LETTERED_ZONE.match(segment):
        rest.append(zone["zone"])
        segment = zone["place"]
    elif inner and len(_PART_NAME.match(inner["part"])["name"]) >= 2:  # type: ignore[index]
        rest.append(inner["part"])
        segment = inner["place"]
    elif (inside := _PLACE_THEN_INSIDE.match(segment)) or (inside := _COMPANY_THEN_INSIDE.match(segment)):
        rest.append(inside["inside"])
        segment = inside["place"]
    elif (
        (other := _PLACE_THEN_OTHER.match(segment))
        and not _PART_OF_PLACE.search(other["other"])
        and not _ANY_PLACE_SUFFIX.search(other["other"])
    ):
        rest.append(other["other"])
        segment = other["place"]
    return segment


def _known_place(segment: str, gazetteer: Gazetteer | None) -> tuple[str, str] | None:
    """(place, the rest) for the longest community or road of the register inside `segment`; the whole segment
    when it is one (竹园公馆 is not 竹园 and an office 公馆 where the register holds 竹园公馆)."""
    if gazetteer is None:
        return None
    best: tuple[int, int] | None = None
    for start in range(len(segment) - 1):
        end = gazetteer.place_at(segment, start)
        if end is not None and (best is None or end - start > best[1] - best[0]):
            best = (start, end)
    if best is None:
        return None
    return segment[best[0] : best[1]], segment[: best[0]] + segment[best[1] :]


def _parse_below_town(text: str, fields: dict[str, str | None], gazetteer: Gazetteer | None = None) -> None:
    text = _arabic_numbers(text)
    if "委" in text:
        text = _COMMITTEE.sub("", text)
    rest: list[str] = []
    areas: list[str] = []
    text = _strip_units(text, fields, rest, areas)
    tokens = _tokens(text)
    previous = None
    door = None  # the N号 read as the building, which a building written as one (N幢, N栋) replaces

    def put(field: str, value: str, raw: str) -> None:
        if fields[field] is None:
            fields[field] = value
        else:
            rest.append(raw)

    for i, (kind, item) in enumerate(tokens):
        if kind == "text":
            segment = _clean_segment(item)  # type: ignore[arg-type]
            if segment and fields["road"] is None and fields["community"] is None:
                segment = _strip_units(segment, fields, rest, areas)
                if ("街道" in segment or "办事处" in segment) and (unit := _TOWN_INSIDE.match(segment)):
                    # 大江东区前进街道长安福特, 白鹭街办事处: a town (and what is before it) the tables did not read
                    rest.append(unit["before"])
                    if fields["town"] is None:
                        fields["town"] = unit["town"]
                    else:
                        rest.append(unit["town"])
                    segment = unit["after"]
                if chain := _written_chain(segment):
                    rest.append(segment[:chain])  # …临沭县中国浙江省杭州市龙潭路: the chain written again, no place
                    segment = segment[chain:]
            if not segment:
                continue
            if fields["road"] is None and (m := _ROAD_IN_TEXT.match(segment)):
                fields["road"], segment = _road_after_area(m["road"], fields, rest, areas), m["after"]
                if part := _ROAD_PART.match(segment):  # 环城西路南段1729弄: a part of the road, not a place
                    rest.append(part.group())
                    segment = segment[part.end() :]
                if crossing := _CROSSING.match(segment):  # 打浦路斜土路口东泰花园: the corner, then the place
                    rest.append(crossing.group())
                    segment = segment[crossing.end() :]
                if corner := _CORNER_AFTER_ROAD.match(segment):  # 青松路口白鹭大厦: the road's corner, then the place
                    rest.append(corner.group())
                    segment = segment[corner.end() :]
                segment = segment.lstrip(_POSITION_MARK)  # 青松路交叉口东北 (100米白鹭园): the side of the corner
                if not segment:
                    previous = "road"
                    continue
            if fields["road"] is not None and fields["community"] is None and (corner := _ROAD_CORNER.match(segment)):
                rest.append(corner.group())
                segment = segment[corner.end() :]
                if not segment:
                    continue
            # Text after the building/room (a resident's name, a phone note) is not a community, unless it names a
            # place (辰花路839弄168号莱顿小城, 126弄293号3楼弘高装修公司: the house number, then the place at it) and
            # no village or park was named before the number (尧石村100号白鹭幼儿园: the village's house 100).
            if (
                fields["community"] is None
                and not (areas and _NAMED_GROUP.fullmatch(segment))  # 青松村白鹭组: the village is the place
                # 青松工业园宏达有限公司, 青松工业区宏达机电: the park is the place, a company in it is not; a place
                # with a place's ending in the park is (青松工业区白鹭小区, 青松工业区宏达塑料厂)
                and not (
                    areas
                    and areas[-1].endswith(("园区", "工业区", "工业园"))
                    and (_ONLY_INSIDE.match(segment) or not _NAMED_PLACE.search(segment))
                )
                and (
                    (fields["building"] is None and fields["room"] is None)
                    or (fields["room"] is None and not areas and _NAMED_PLACE.search(segment))
                )
                and len(segment) >= 2
                and _HAS_CJK.search(segment)
                and not _ONLY_POSITION.fullmatch(segment)  # 青松路8号后面, 青松街路口: where, not a place
            ):
                if known := _known_place(segment, gazetteer):
                    segment, other = known
                    rest.append(other)
                else:
                    segment = _first_place(segment, rest)
                if segment.endswith("第") and len(segment) > 2 and i + 1 < len(tokens):
                    segment = segment[:-1]  # 至尊门第第10栋: the ordinal's mark, before the number
                if (side := _SIDE_BEFORE_NUMBER.match(segment)) and i + 1 < len(tokens):
                    rest.append(side["side"])  # 古荡新村西34幢: the side of the estate the building is on
                    segment = segment[: side.start("side")]
                fields["community"] = segment
                previous = "community"
                continue
            rest.append(segment)
            previous = "text"
            continue
        match: re.Match[str] = item  # type: ignore[assignment]
        raw = match.group()
        if kind == "numbered_road":
            if fields["road"] is None and previous == "community" and not _ONE_BUILDING.search(fields["community"]):
                rest.append(fields["community"])  # 下沙6号大街: the area the road is in, not a place on it
                fields["community"] = None
            put("road", raw, raw)
            kind = "road" if fields["road"] == raw else kind
        elif kind == "road":
            road = match["road"]
            if fields["road"] is None:
                if chain := _written_chain(road):
                    rest.append(road[:chain])  # 中国浙江省宁波市青松路8号 after a first address: the chain again
                    road = road[chain:]
                road = _strip_units(road, fields, rest, areas) or road
            split = _COMMUNITY_BEFORE_ROAD.match(road)
            if split and fields["community"] is None:
                fields["community"], road = split["community"], split["road"]
            if fields["road"] is None:
                road = _road_after_area(road, fields, rest, areas)
            put("road", road, raw)
        elif kind == "lane":
            lane = f"{_number(match['lane'])}{match['lane_kind']}"
            if fields["road_number"] is None and fields["building"] is None:
                fields["road_number"] = lane
            elif match["lane_kind"] == "支弄" and (fields["road_number"] or "").endswith("弄"):
                fields["road_number"] = f"{fields['road_number']}{lane}"
            else:
                rest.append(raw)
        elif kind == "number":
            if fields["road_number"] is None and previous == "road":
                fields["road_number"] = f"{_number(match['number'])}号"
            elif (
                fields["building"]
                and fields["unit"] is None
                and fields["floor"] is None
                and fields["room"] is None
                and any(k in ("room", "digits", "floor", "lou") for k, _ in tokens[i + 1 : i + 2])
            ):
                # 26栋5号1201, 26栋5号3楼: the door of the building, then the room or the floor
                fields["unit"] = _number(match["number"])
            elif fields["room"] is None and (fields["building"] or fields["unit"] or fields["floor"]):
                fields["room"] = _room(match["number"])  # 10号楼1577号, 6楼96号: the room or shop
            elif (
                fields["room"] is None
                and previous in ("community", "zone")
                and (
                    _SHOPS_PLACE.search(fields["community"] or "")
                    or (
                        len(match["number"]) >= 3
                        and _ONE_BUILDING.search(fields["community"] or "")
                        and all(k == "text" for k, _ in tokens[i + 1 :])
                    )
                )
            ):
                # 白鹭市场1137号, 白鹭轻纺城2163号: a shop of the market; 白鹭大厦1521号, the last number written: a
                # room of the one building (白鹭大厦1307号792室: the door, then the room)
                fields["room"] = _room(match["number"])
            else:
                if fields["building"] is None:
                    fields["building"], door = _number(match["number"]), raw
                else:
                    rest.append(raw)
        elif kind == "numbers":
            numbers = match["numbers"].split(_RANGE_MARK)
            if fields["road_number"] is None and previous == "road" and numbers[0].isdigit():
                fields["road_number"] = "-".join(_number(n) for n in numbers) + "号"
            elif fields["room"] is None and previous != "road":
                fields["room"] = "-".join(_room(n) for n in numbers)  # 白鹭市场1105-1106号: the shop's rooms
            else:
                rest.append(raw)
        elif kind == "courtyard":
            number = _number(match["courtyard"])
            if fields["road_number"] is None and previous == "road":
                fields["road_number"] = f"{number}号"  # 青松路44号院: the courtyard is the road's house number
            elif fields["building"] is None and fields["room"] is None:
                fields["community"] = f"{fields['community'] or ''}{number}号院"
            else:
                rest.append(raw)
        elif kind == "building":
            if door is not None and fields["unit"] is None and fields["floor"] is None and fields["room"] is None:
                rest.append(door)  # 754-6号7幢469: a door number, then the building written as one
                fields["building"], door = None, None
            put("building", _number(match["building"]).upper(), raw)
        elif kind == "unit":
            put("unit", _number(match["unit"]), raw)
        elif kind == "floor":
            floor = match["floor"].upper()
            put("floor", "B" + _number(floor[1:]) if floor.startswith("B") else _number(floor), raw)
        elif kind == "phase":
            if fields["community"] is not None and fields["building"] is None and fields["room"] is None:
                fields["community"] += raw
            else:
                rest.append(raw)
        elif (
            kind == "zone"
            and previous == "community"
            and fields["building"] is None
            and not _ZONE_OF_PLACE.search(fields["community"])  # type: ignore[arg-type]
        ):
            fields["community"] += raw  # 春晗二区, 稠山2区: a bare name with its zone is the place's name
        elif kind == "zone" and fields["community"] is None and areas and areas[-1].endswith("村"):
            fields["community"] = raw  # 肖谢村三区92号: the village's zone is the place in it
        elif kind == "zone" and fields["community"] is None and previous == "text" and rest[-1] in _SIDES:
            fields["community"] = rest.pop() + raw  # 柯桥北六区: the north zone 6, one side's character its name
        elif kind in ("group", "aisle", "zone"):
            rest.append(raw)

        elif kind == "lou":
            put(_lou_field(match["lou"], tokens[i + 1 :], fields), _number(match["lou"]), raw)
        elif kind == "room":
            put("room", _room(match["room"]), raw)
        elif kind == "lettered":
            _put_lettered(match["lettered"].upper(), tokens[i + 1 :], fields, rest)
        elif kind == "digits":
            if fields["road_number"] is None and previous == "road":
                fields["road_number"] = f"{_number(match['digits'])}号"
            elif fields["room"] is None and any(
                fields[f] for f in ("building", "road_number", "floor", "unit", "community")
            ):
                fields["room"] = _room(match["digits"])
            else:
                rest.append(raw)
        previous = kind
    for area in areas:  # the place where nothing more precise is named (张江村3组12号, 白鹭工业区青松路8号)
        if fields["community"] is None:
            fields["community"] = area
        else:
            rest.insert(0, area)
    fields["rest"] = "".join(rest).replace(_POSITION_MARK, "") or None


def _put_lettered(raw: str, following: list[tuple[str, re.Match[str] | str]], fields: dict, rest: list[str]) -> None:
    """A letter and a number without a unit: the building's name where another number follows (东方巴黎B12-1195),
    otherwise the room (大厦C1215, as A502室 is one)."""
    numbered_after = any(k in ("room", "digits", "number", "floor", "lou", "unit") for k, _ in following)
    field = "building" if fields["building"] is None and numbered_after else "room"
    if fields[field] is None:
        fields[field] = raw if field == "building" else _room(raw)
    else:
        rest.append(raw)


def _lou_field(number: str, following: list[tuple[str, re.Match[str] | str]], fields: dict) -> str:
    """'N楼' is a floor after a building, when no number follows (10楼酒店合作部), or when the next room number
    starts with N (5楼502), or in a tower, a mall or a market (恒通大厦39楼3608, 纺织市场3楼1250, 白鹭商贸城4区6楼50782:
    one building of many floors); before another number it is the building (5楼1201 = 5号楼1201室)."""
    community = fields["community"] or ""
    if fields["building"] is not None or _ONE_BUILDING.search(community) or _SHOPS_PLACE.search(community):
        return "floor"
    next_number = next((t for k, t in following if k in ("room", "digits") and isinstance(t, re.Match)), None)
    if next_number is None:
        return "floor"
    room = next_number.group().lstrip(string.ascii_letters)
    return "floor" if room.startswith(_number(number)) and len(room) > len(_number(number)) else "building"


@lru_cache(maxsize=1 << 16)
def _admin_prefix(
    prefix: str, context_code: str | None, gazetteer: Gazetteer | None, opening: bool = True
) -> tuple[dict[str, str | None], int]:
    """The administrative fields of an address starting with `prefix`, and where they end (callers copy);
    `opening` where the prefix opens the address, not where the chain may be written again."""
    divs = _divisions()
    context = divs.by_code.get(context_code) if context_code is not None else None
    if context is not None and context.level != 2:
        context = None
    state, pos = _match_admin(prefix, context, gazetteer, opening)
    return _admin_fields(state, divs), pos


def has_chinese_numerals(text: str | None) -> bool:
    """Whether parsing converts a Chinese numeral of the address (四五五弄 → 455弄), for the data-quality report."""
    normalized = normalize_text(text)
    return normalized is not None and _CN_NUMBER_POSITION.search(_prepare(normalized)) is not None


def parse_address(
    s: str | None, context_district_code: str | None = None, gazetteer: Gazetteer | None = None
) -> dict[str, str | None]:
    """Split one address into ADDRESS_FIELDS (all None when nothing usable); never raises.

    `context_district_code` is the district the data comes from (it resolves town names); `gazetteer` holds that
    district's own towns and places, read before the national names."""
    return parse_normalized_address(normalize_text(s), context_district_code, gazetteer)


def place_name_of_text(text: str | None) -> str | None:
    """A place's name as the parser reads it inside an address, of a text `normalize_text` returns (a register's
    `community` column): without brackets, list marks and spaces (乐山四、五村 → 乐山四五村, 康健一村(南) → 康健一村南),
    so that the column and the addresses that write the place agree."""
    return _prepare(text) or None if text else None


def parse_normalized_address(
    text: str | None, context_district_code: str | None = None, gazetteer: Gazetteer | None = None
) -> dict[str, str | None]:
    """`parse_address` of a text `normalize_text` returns as it is (a text it has just returned for itself): not
    normalized again, which is a fifth of a parse (OpenCC). Any other text must go through `parse_address`."""
    fields: dict[str, str | None] = dict.fromkeys(ADDRESS_FIELDS)
    if text is None:
        return fields
    text = _prepare(text)
    if not text:
        return fields
    context_code = context_district_code if isinstance(context_district_code, str) else None
    # Division names hold no digit, and no look-ahead after a name reads past one: the administrative levels of
    # an address are decided by the text up to its first digit (the prefix a district's addresses share).
    digit = _FIRST_DIGIT.search(text)
    admin, pos = _admin_prefix(text if digit is None else text[: digit.end()], context_code, gazetteer)
    fields.update(admin)
    while 0 < pos < len(text):
        # The chain written twice (浙江省杭州市余杭区浙江省杭州市余杭区塘栖…, 宁波宁波市慈溪市): read the repeat as
        # the same divisions when it names no other one, and go on after it.
        digit = _FIRST_DIGIT.search(text, pos)
        again, length = _admin_prefix(
            text[pos:] if digit is None else text[pos : digit.end()], context_code, gazetteer, opening=False
        )
        if (
            length == 0
            or _NAME_GOES_ON.match(text, pos + length)
            or any(again[f] and fields[f] and again[f] != fields[f] for f in _ADMIN_FIELDS)
        ):
            break  # 堡镇堡镇南路: the second 堡镇 starts the road's name
        fields.update({f: fields[f] or again[f] for f in _ADMIN_FIELDS})
        pos += length
    if fields["town"] and text[pos - 1 : pos] not in "镇乡道" and (suffix := _OTHER_TOWN_SUFFIX.match(text, pos)):
        pos = suffix.end()  # 白鹭街道青松路 where the tables hold 白鹭镇: the town's suffix as written, no road's name
    if fields["town"] and text.startswith(_TOWN_OFFICE, pos):
        pos += len(_TOWN_OFFICE)  # 古城街道办事处: the office of the town just read, no place of its own
    _parse_below_town(text[pos:], fields, gazetteer)
    return fields


def address_parse_cli(stdin: IO[str] | Iterable[str], stdout: IO[str], context_district_code: str | None = None) -> int:
    """`jingzhun address parse`: one address per input line → one JSON object per output line."""
    count = 0
    for line in stdin:
        parsed = parse_address(line.rstrip("\r\n"), context_district_code)
        stdout.write(json.dumps(parsed, ensure_ascii=False) + "\n")
        count += 1
    return count


def division_name(code: str | None) -> str | None:
    """The full name of the area a division code names (310115 → 上海市浦东新区), as far as the tables know it:
    an area code retired since (as in an old ID number) gives its city or its province; None when none is known.
    """
    if not code or len(code) < 2:
        return None
    divisions = _divisions().by_code
    names: list[str] = []
    for prefix in (code[:2], code[:4], code[:6]):
        division = divisions.get(prefix) if len(code) >= len(prefix) else None
        if division is not None and division.name and division.name not in names:
            names.append(division.name)
    return "".join(names) or None
