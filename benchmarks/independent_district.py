"""An independent district generator and scorer for the daily flow, seen only from the product's outside.

The project's matching figures come from days made by its own generator, which can only show what its authors
thought of. This script is a second, independently written generator: it was written from the public contract
(`shared/CONTRACT.md`: commands, inbox layout, header aliases, reference tables, `match_results.parquet`) and from
how real Shanghai exports look, WITHOUT reading the project's own generator, its matching code or its tests.

What it does, in order:
1. builds a district from the REAL divisions (subdistricts 街道/镇 and committees 居委会/村委会 of the 2021/2023 NBS
   tables), invents grid cells, roads, communities, houses and a population, and writes the three reference tables;
2. writes one day's inbox (checkpoint, hotline, health) in mixed encodings and formats, with the phenomena of real
   exports, each at a rate set by an option and recorded per row in `truth.csv`;
3. runs `jingzhun run` on it as a user would;
4. scores `match_results.parquet` against the truth and prints the figures overall and per phenomenon, beside the
   targets, with examples of each kind of failure.

It must never read the project's internals: only the `jingzhun` command and the files the contract names.

Reviewed by the project's owner after it was written (the generator untouched but for one fix: it wrote 浦东 before
the addresses of any district): a phone only the person has names
them with a name, or with the house or community they are registered at, as issue 8 defines it (not with an address
they are merely staying at); a name typed in pinyin is their name; and a row given a subdistrict where the truth
knows no place (a phone alone, which the product routes to its holder's home) is counted apart from the rows sent
to a wrong subdistrict.

    .venv/bin/python benchmarks/independent_district.py [--persons 20000] [--day-rows 6000] [--seed 1] [--away 0.4]
        [--out DIR --keep]
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import polars as pl
from opencc import OpenCC
from pypinyin import lazy_pinyin

# The real division tables the project ships (their sources and licences: jingzhun/reference_data/README.md).
DIVISIONS = Path(__file__).resolve().parent.parent / "jingzhun" / "reference_data" / "admin_divisions"
RUN_DATE = "2026-12-01"
DATA_DAY = date(2026, 11, 30)
MARKER = ".independent_district"
TARGETS = {"precision": 0.999, "recall": 0.995, "committee": 0.995, "review": 0.01}

# --------------------------------------------------------------------------------------------------------------
# Names, places and roads (hand-written; road names are real Pudong roads, their placement is approximate)
# --------------------------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


# Surnames with their rough weight in a Shanghai population.
SURNAMES = [
    surname
    for item in words(
        "王:9 张:8 陈:8 李:7 徐:6 朱:5 沈:5 顾:5 陆:5 周:5 吴:5 杨:4 刘:4 黄:4 金:3 蒋:3 钱:3 施:3 姚:3 孙:3 胡:3 赵:3 "
        "倪:2 马:2 郭:2 何:2 高:2 林:2 唐:2 龚:2 瞿:1 奚:1 宋:1 范:1 邵:1 汤:1 潘:1 曹:1 袁:1 丁:1 叶:1 许:1 冯:1 "
        "傅:1 严:1 吕:1 夏:1 俞:1 秦:1 卫:1 储:1 谈:1 闵:1 浦:1"
    )
    for surname in [item.split(":")[0]] * int(item.split(":")[1])
]
MALE_CHARS = (
    "伟强磊军勇杰涛明超华刚平辉斌鹏飞峰俊浩宇博文志建国东海波晨龙林亮健翔凯毅嘉诚昊然轩睿泽宏荣根福才生金宝德兴忠良"
)
FEMALE_CHARS = "芳娜敏静丽艳娟霞燕玲婷雪萍红琴云莉英梅兰凤洁琳倩颖慧佳怡欣悦彤萱雯晶瑶秀珍月华蓉菊妹"
# Characters that sound like name characters: the pool homophone typos are drawn from.
HOMOPHONE_POOL = (
    "玮炜韦卫薇维蔚为巍威微强蔷墙磊垒蕾雷君钧俊骏峻珺杰洁捷婕劼杰涛韬滔焘明铭鸣茗名超钞朝华桦骅铧刚钢纲港平萍苹"
    "屏辉晖徽慧惠蕙卉斌彬宾滨鹏朋彭飞菲霏斐峰锋丰枫风凤俊骏浩皓昊灏宇雨语羽玉煜博柏勃文雯闻志智治致之建健剑"
    "国帼东冬栋海波渤晨辰臣宸龙珑隆林琳霖麟玲铃凌亮靓嘉佳家珈诚成承城宏鸿红洪虹弘荣蓉融容根金锦瑾宝葆德兴星馨"
    "忠中钟良梁芳方纺娜纳敏民闽静晶菁婧靖丽莉俐力利艳燕雁彦妍娟鹃霞侠琴勤芹云芸昀英瑛莹樱颖梅玫媚兰岚澜洁"
    "倩茜怡仪宜欣昕馨悦越玥彤桐萱宣瑶遥秀绣珍贞真月跃菊"
)
SHANGHAI_OLD_AREA_CODES = ("310225", "310102", "310108", "310103", "310221", "310226", "310228")
PHONE_PREFIXES = words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 176 177 178 180 181 182 "
    "183 185 186 187 188 189 199 191 173 175"
)
COMMUNITY_WORDS = words(
    "金桂 银杏 华庭 东方 明珠 春晓 阳光 碧云 绿洲 翠湖 锦绣 海富 江南 湖畔 御景 景明 馨苑 康城 福临 瑞祥 祥和 和美 "
    "佳安 嘉利 欣荣 怡景 荣华 盛世 世纪 凯旋 德馨 泰和 丰庄 汇锦 润和 兰亭 桂花 梅林 竹园 菊香 樱花 玉兰 香樟 雅居 "
    "逸景 悦庭 天悦 丽都 晶华 恒大 中邦 绿地 万科 保利 金地 仁恒 新梅 宏伟 永泰 昌里 兴业 东郊 泾南 莲花 新月 朝晖 "
    "春江 秋月 晨星 海天 怡和 博雅 文华 金茂 星河 云间 紫薇 芳草 青枫 清水 白鹭 蓝湾 银都 富城 长岛 长泰 东锦 晓园"
)
COMMUNITY_SUFFIXES = words(
    "花园 苑 新村 公寓 家园 小区 名邸 湾 城 雅苑 名苑 佳苑 华庭 府 公馆 嘉园 一村 二村 三村 新苑"
)
PLACE_COMMUNITY_NAMES = words(
    "滨江花园 东方城市花园 望江苑 长春新村 天山小区 南京花园 桂林苑 昆明新村 大连公寓 延吉新村 黄山小区 泰山花园 "
    "武夷新村 青岛苑 杭州湾花园 苏州花园 宁波新村 温州苑 无锡新村 西安公寓 成都花园 重庆苑 闵行新苑 嘉定花园 "
    "松江新村 徐汇苑 金山公寓 静安新城 南汇花园 川沙新苑 高桥新城 金桥花园 花木苑 三林新村 张江公寓 周浦花园"
)
PUDONG_ROADS: dict[str, list[str]] = {
    "潍坊新村街道": words("潍坊路 崂山路 福山路 张杨路 源深路 南泉北路 东方路 浦东南路"),
    "陆家嘴街道": words("东昌路 浦城路 松林路 乳山路 栖霞路 商城路 浦东南路 即墨路"),
    "周家渡街道": words("上南路 齐河路 昌里路 云台路 高青路 成山路 德州路"),
    "塘桥街道": words("塘桥路 蓝村路 浦建路 东方路 南泉路 峨山路 塘桥新路"),
    "上钢新村街道": words("济阳路 耀华路 上南路 历城路 杨思路 长清北路"),
    "南码头路街道": words("南码头路 临沂路 浦三路 浦东南路 东三里桥路 白莲泾路"),
    "沪东新村街道": words("莱阳路 居家桥路 利津路 东陆路 五莲路 长岛路"),
    "金杨新村街道": words("金杨路 灵山路 博山东路 枣庄路 罗山路 银山路 金口路"),
    "洋泾街道": words("羽山路 浦东大道 巨野路 泾东路 民生路 崂山东路"),
    "浦兴路街道": words("浦兴路 金桥路 博兴路 台儿庄路 长岛路 荣成路"),
    "东明路街道": words("东明路 凌兆路 灵岩南路 长清路 云莲路 永泰路"),
    "花木街道": words("芳华路 樱花路 长柳路 牡丹路 梅花路 锦绣路 白杨路 花木路 民生路"),
    "川沙新镇": words("川沙路 华夏东路 川环南路 新川路 妙境路 江镇路 南六公路 川展路 华川路"),
    "高桥镇": words("季景路 季景北路 杨高北路 江东路 石家街 港城路 张杨北路"),
    "北蔡镇": words("莲园路 沪南路 锦尊路 御桥路 高科西路 陈春路 莲溪路 杨高南路"),
    "合庆镇": words("庆利路 川六公路 东川公路 庆达路 华东路"),
    "唐镇": words("唐兴路 唐安路 创新中路 唐陆公路 高科东路 齐爱路 唐丰路"),
    "曹路镇": words("金海路 民春路 龚路中路 金钻路 川沙路 顾唐路"),
    "金桥镇": words("金高路 金湘路 金京路 金藏路 新金桥路 巨峰路 金港路"),
    "高行镇": words("东靖路 金穗路 新行路 杨高北路 洲海路 金高路"),
    "高东镇": words("光明路 五洲大道 杨高北路 高沙路"),
    "张江镇": words("祖冲之路 郭守敬路 张衡路 碧波路 科苑路 蔡伦路 李冰路 华佗路 哈雷路 晨晖路 金科路"),
    "三林镇": words("三林路 懿德路 灵岩南路 海阳西路 杨思路 上南路 三鲁公路"),
    "惠南镇": words("人民西路 川南奉公路 听潮路 拱极路 南门大街 东门大街 靖海路"),
    "周浦镇": words("年家浜路 沪南公路 周园路 康沈路 周东路 瑞安路"),
    "新场镇": words("新环西路 申江南路 新奉公路 沪南公路"),
    "大团镇": words("永春路 团新公路 大团南大街"),
    "康桥镇": words("秀沿路 康桥路 沪南公路 苗桥路 康新公路 周康路 康桥东路"),
    "航头镇": words("航头路 沪南公路 鹤沙路 航都路 航鹤路"),
    "祝桥镇": words("施湾七路 川南奉公路 东祝路 祝家港路"),
    "泥城镇": words("云汉路 鸿音路 泥城路"),
    "宣桥镇": words("宣黄公路 三灶路"),
    "书院镇": words("新欣南路 书院人家路"),
    "万祥镇": words("万祥路 万兴路"),
    "老港镇": words("老港大道 建港路"),
    "南汇新城镇": words("水芸路 古棕路 环湖西一路 芦潮港路 申港大道 沪城环路"),
}
ROAD_SYLLABLES = "永兴新华同德民安长宁平顺东福康和泰丰乐明光荣春盛广济云海文昌建业鸿远金银秀湖川江"
OUTSIDE_ADDRESSES = (
    "上海市闵行区七宝镇漕宝路3366弄8号201室",
    "上海市徐汇区漕溪北路88号1203室",
    "上海市杨浦区四平路1500弄12号602室",
    "上海市静安区南京西路1788号",
    "上海市宝山区友谊路街道牡丹江路1211号",
    "江苏省昆山市花桥镇绿地大道231号",
    "上海市松江区九亭镇沪亭北路99弄5号301室",
)
CHECKPOINTS = (
    "G1501高东收费站",
    "S1迎宾高速机场收费站",
    "S2沪芦高速芦潮港道口",
    "G40长江隧桥道口",
    "S32申嘉湖高速航头收费站",
    "申江路道口",
    "外环线三林道口",
    "龙东大道道口",
    "S20外环高速五洲大道道口",
)
PLATE_PROVINCES = "苏浙皖鲁豫赣鄂湘闽"
HOTLINE_CATEGORIES = ("咨询", "求助", "投诉", "建议", "举报")
HOTLINE_CONTENTS = (
    "来电人反映其本人近日自外省返沪，咨询是否需要居家健康监测。",
    "来电人反映小区内有返沪人员未报备，要求居委上门核查。",
    "市民反映家中老人行动不便，需上门核酸采样。",
    "来电人咨询社区疫苗接种点开放时间。",
    "来电人反映楼道内堆放杂物，存在消防隐患。",
    "来电人反映居家隔离期间生活物资不足，请求协助。",
)
TRAVEL = ("无", "无", "无", "无", "江苏省苏州市", "浙江省杭州市", "安徽省合肥市", "广东省深圳市")

FULL_WIDTH = str.maketrans("0123456789-#", "０１２３４５６７８９－＃")
CN_DIGITS = "零一二三四五六七八九"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


# --------------------------------------------------------------------------------------------------------------
# The district model
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subdistrict:
    code: str
    name: str

    @property
    def short(self) -> str:
        """The name people say: 张江 for 张江镇, 潍坊 for 潍坊新村街道, 川沙 for 川沙新镇; 唐镇 stays 唐镇."""
        for suffix in ("新村街道", "路街道", "街道", "新镇", "镇", "乡"):
            if self.name.endswith(suffix) and len(self.name) - len(suffix) >= 2:
                return self.name[: -len(suffix)]
        return self.name


@dataclass
class Committee:
    code: str
    name: str
    subdistrict: Subdistrict
    grid_ids: list[str] = field(default_factory=list)

    @property
    def is_village(self) -> bool:
        return self.name.endswith("村委会")

    @property
    def short(self) -> str:
        """星火村 for 星火村村委会, 潍坊二村 for 潍坊二村居委会."""
        stem = self.name.removesuffix("村委会").removesuffix("居委会")
        return stem + "村" if self.is_village and not stem.endswith("村") else stem


@dataclass
class Community:
    name: str
    committee: Committee
    kind: str  # lane (455弄), complex (1200号 with 幢), single (88号, one building), village (星火村5组12号)
    road: str = ""
    number: int = 0
    cross_road: str = ""
    place_name: bool = False
    name_is_unique: bool = True


@dataclass
class House:
    house_id: str
    community: Community
    grid_id: str
    building: int = 0
    room: int = 0
    group: int = 0
    door: int = 0

    @property
    def committee(self) -> Committee:
        return self.community.committee

    @property
    def subdistrict(self) -> Subdistrict:
        return self.community.committee.subdistrict


@dataclass
class Person:
    person_id: str
    name: str
    gender: str
    birth: date
    id_number: str
    phone: str
    house: House
    household: int
    id_area: str


@dataclass
class District:
    code: str
    name: str
    subdistricts: list[Subdistrict]
    committees: list[Committee]
    communities: list[Community]
    houses: list[House]
    persons: list[Person] = field(default_factory=list)

    @property
    def short(self) -> str:
        """The name people write for the district (浦东 for 浦东新区, 徐汇 for 徐汇区)."""
        return re.sub(r"(?:新区|区)$", "", self.name)


# --------------------------------------------------------------------------------------------------------------
# Small helpers: numbers, IDs, phones, names
# --------------------------------------------------------------------------------------------------------------


def chinese_number(n: int) -> str:
    """455 -> 四百五十五, 12 -> 十二, 105 -> 一百零五 (0 < n < 10000)."""
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out, zero_pending = "", False
    for value, unit in units:
        d = n // value % 10
        if d == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out += "零"
            zero_pending = False
        out += ("" if (value == 10 and d == 1 and not out) else CN_DIGITS[d]) + unit
    return out


def chinese_digits(n: int) -> str:
    """502 -> 五零二, the way room numbers are read out."""
    return "".join(CN_DIGITS[int(c)] for c in str(n))


def id_check_digit(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def make_id(area: str, birth: date, seq: int) -> str:
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + id_check_digit(body)


def id15_to_18(id15: str) -> str:
    body = id15[:6] + "19" + id15[6:]
    return body + id_check_digit(body)


def normalize_id(text: str) -> str:
    """What a careful clerk would read: half-width, no spaces, upper-case X; 15-digit IDs widened to 18."""
    value = re.sub(r"\s", "", text.translate(str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX"))).upper()
    if re.fullmatch(r"\d{15}", value):
        return id15_to_18(value)
    if re.fullmatch(r"\d{17}[\dX]", value) and id_check_digit(value[:17]) == value[17]:
        return value
    return ""


def normalize_phone(text: str) -> str:
    digits = re.sub(r"\D", "", text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if re.fullmatch(r"1\d{10}", digits) else ""


def mask_id(text: str) -> str:
    return text[:6] + "*" * (len(text) - 10) + text[-4:] if len(text) > 10 else text


@functools.cache
def homophones(char: str) -> list[str]:
    sound = lazy_pinyin(char)[0]
    return [c for c in HOMOPHONE_POOL if c != char and lazy_pinyin(c)[0] == sound]


# --------------------------------------------------------------------------------------------------------------
# 1. The district: real divisions, invented roads, communities, houses, grids
# --------------------------------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


def load_divisions(divisions: Path, district_code: str) -> tuple[str, list[Subdistrict], list[Committee]]:
    areas = {r["code"]: r["name"] for r in read_csv(divisions / "areas.csv")}
    if district_code not in areas:
        sys.exit(f"district code {district_code} is not in areas.csv")
    subdistricts = {
        r["code"]: Subdistrict(r["code"], r["name"])
        for r in read_csv(divisions / "streets.csv")
        if r["areaCode"] == district_code
    }
    committees: list[Committee] = []
    unmatched: Counter[str] = Counter()
    for r in read_csv(divisions / "shanghai_committees_2021.csv"):
        if not r["code"].startswith(district_code) or "虚拟" in r["name"]:
            continue  # virtual committees of farms and development zones have no houses
        parent = subdistricts.get(r["streetCode"])
        if parent is None:
            unmatched[r["streetCode"]] += 1
            continue
        committees.append(Committee(r["code"], r["name"], parent))
    for code, n in unmatched.items():
        print(f"note: {n} committees name subdistrict {code}, which the 2023 table does not have; left out")
    if not committees:
        sys.exit(f"no committees for district {district_code} (the committee table covers Shanghai only)")
    used = {c.subdistrict.code for c in committees}
    return areas[district_code], [s for s in subdistricts.values() if s.code in used], committees


def place_words(divisions: Path) -> set[str]:
    """Short names of places elsewhere (长春, 滨江, 望江 …): a community whose name holds one is a trap."""
    names = [r["name"] for r in read_csv(divisions / "areas.csv")] + [
        r["name"] for r in read_csv(divisions / "cities.csv")
    ]
    names += [r["name"] for r in read_csv(divisions / "streets.csv") if r["provinceCode"] == "31"]
    words = set()
    for name in names:
        stem = re.sub(r"(市辖区|新村街道|街道|新区|新镇|自治县|县|区|市|镇|乡)$", "", name)
        if len(stem) >= 2 and stem != "市辖":
            words.add(stem)
    return words


def build_roads(subdistricts: list[Subdistrict], rng: random.Random, minimum: int = 6) -> dict[str, list[str]]:
    taken = {road for roads in PUDONG_ROADS.values() for road in roads}
    roads: dict[str, list[str]] = {}
    for sub in subdistricts:
        own = list(PUDONG_ROADS.get(sub.name, []))
        while len(own) < minimum:
            name = "".join(rng.sample(ROAD_SYLLABLES, 2)) + rng.choice(("路", "路", "路", "公路"))
            if name not in taken:
                taken.add(name)
                own.append(name)
        roads[sub.code] = own
    return roads


def community_names(rng: random.Random) -> Iterator[str]:
    while True:
        yield rng.choice(COMMUNITY_WORDS) + rng.choice(COMMUNITY_SUFFIXES)


def build_communities(
    committees: list[Committee], roads: dict[str, list[str]], places: set[str], place_rate: float, rng: random.Random
) -> list[Community]:
    village_counts = Counter(c.short for c in committees if c.is_village)
    committee_counts = Counter(c.short for c in committees)
    used = {r for rs in roads.values() for r in rs} | set(village_counts)  # community names stay unique
    place_pool = list(PLACE_COMMUNITY_NAMES)
    rng.shuffle(place_pool)
    invented = community_names(rng)
    communities = []
    for committee in committees:
        sub_roads = roads[committee.subdistrict.code]
        if committee.is_village:
            communities.append(
                Community(committee.short, committee, "village", name_is_unique=village_counts[committee.short] == 1)
            )
            continue
        for k in range(rng.choice((1, 1, 2, 2, 3))):
            stem = committee.short
            if k == 0 and committee_counts[stem] == 1 and re.search(r"(村|苑|园|城|庭|里|坊|邸|湾|居)$", stem):
                name = stem  # the community the committee is named after (潍坊二村, 双秀家园)
            elif place_pool and rng.random() < place_rate:
                name = place_pool.pop()
            else:
                name = next(invented)
            while name in used:
                name = next(invented)
            used.add(name)
            kind = rng.choices(("lane", "complex", "single"), (60, 25, 15))[0]
            road = rng.choice(sub_roads)
            cross = rng.choice([r for r in sub_roads if r != road] or sub_roads)
            communities.append(Community(name, committee, kind, road=road, cross_road=cross))
    for community in communities:
        stem = re.sub(r"(城市花园|花园|新村|公寓|家园|小区|名邸|新苑|新城|村|苑|湾|城|府)$", "", community.name)
        pieces = {stem[i:j] for i in range(len(stem)) for j in range(i + 2, len(stem) + 1)}
        # A place elsewhere: another town of the district counts, the community's own town does not.
        community.place_name = bool(pieces & (places - {community.committee.subdistrict.short}))
    number_roads(communities, rng)
    return communities


def number_roads(communities: list[Community], rng: random.Random) -> None:
    """Give each road-side community a number on its road: one stretch per committee, unique along the road."""
    by_road: dict[str, list[Community]] = defaultdict(list)
    for c in communities:
        if c.kind != "village":
            by_road[c.road].append(c)
    for members in by_road.values():
        committees = list({c.committee.code: c.committee for c in members}.values())
        rng.shuffle(committees)
        number = rng.randint(1, 60)
        for committee in committees:
            for c in (m for m in members if m.committee is committee):
                c.number = number
                number += rng.randint(4, 60)
            number += rng.randint(20, 120)


def build_houses(
    communities: list[Community], committees: list[Committee], n_houses: int, rng: random.Random
) -> list[House]:
    for committee in committees:
        committee.grid_ids = [f"{committee.code}-W{k + 1:02d}" for k in range(rng.choice((1, 2, 2, 3)))]
    weights = [rng.uniform(0.3, 1.0) if c.kind == "village" else rng.uniform(0.5, 1.6) for c in communities]
    counts = Counter(rng.choices(range(len(communities)), weights, k=max(n_houses - 2 * len(communities), 0)))
    houses: list[House] = []
    for i, community in enumerate(communities):
        grids = community.committee.grid_ids
        seen: set[tuple[int, int]] = set()
        floors = 28 if community.kind == "single" or rng.random() < 0.4 else 6
        n_buildings = 1 if community.kind == "single" else rng.randint(3, 40)
        capacity = 400 if community.kind == "village" else n_buildings * floors * 4
        while len(seen) < min(2 + counts[i], capacity):
            if community.kind == "village":
                key = (rng.randint(1, 12), rng.randint(1, 400))
                if any(key[1] == s[1] for s in seen):  # door numbers are unique within a village
                    continue
            else:
                key = (rng.randint(1, n_buildings), rng.randint(1, floors) * 100 + rng.randint(1, 4))
            if key in seen:
                continue
            seen.add(key)
            house = House(f"H{len(houses) + 1:07d}", community, grids[key[0] % len(grids)])
            if community.kind == "village":
                house.group, house.door = key
            else:
                house.building, house.room = key
            houses.append(house)
    return houses


def standard_address(house: House, district_name: str) -> str:
    return f"上海市{district_name}{house.subdistrict.name}{standard_locator(house)}"


def standard_locator(house: House) -> str:
    c = house.community
    if c.kind == "lane":
        return f"{c.road}{c.number}弄{house.building}号{house.room}室"
    if c.kind == "complex":
        return f"{c.road}{c.number}号{house.building}幢{house.room}室"
    if c.kind == "single":
        return f"{c.road}{c.number}号{house.room}室"
    return f"{c.name}{house.group}组{house.door}号"


# --------------------------------------------------------------------------------------------------------------
# 1b. The population: households of 1–5 in houses, valid IDs, mobiles
# --------------------------------------------------------------------------------------------------------------


class PhoneBook:
    """Hands out 11-digit mobiles nobody has yet."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def new(self) -> str:
        while True:
            phone = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.taken:
                self.taken.add(phone)
                return phone


def given_name(gender: str, rng: random.Random) -> str:
    pool = MALE_CHARS if gender == "男" else FEMALE_CHARS
    return "".join(rng.choice(pool) for _ in range(rng.choices((1, 2), (35, 65))[0]))


def new_id(area: str, birth: date, gender: str, issued: set[str], rng: random.Random) -> str:
    """An ID nobody in `issued` has; its 17th digit is odd for men, even for women (GB 11643)."""
    while True:
        id_number = make_id(area, birth, rng.randrange(0, 998, 2) + (1 if gender == "男" else 0))
        if id_number not in issued:
            issued.add(id_number)
            return id_number


def birth_for_age(age: int, rng: random.Random) -> date:
    return DATA_DAY - timedelta(days=age * 365 + rng.randrange(365))


def build_population(
    district: District, n_persons: int, shared_phone: float, areas: list[str], phones: PhoneBook, rng: random.Random
) -> None:
    shanghai = [a for a in areas if a.startswith("31")]
    elsewhere = [a for a in areas if not a.startswith("31")]
    homes = rng.sample(district.houses, len(district.houses))
    persons: list[Person] = []
    issued: set[str] = set()
    household = 0
    while len(persons) < n_persons and homes:
        house, household = homes.pop(), household + 1
        size = min(rng.choices((1, 2, 3, 4, 5), (25, 30, 25, 12, 8))[0], n_persons - len(persons))
        local = rng.random() < 0.72
        members = household_members(size, rng)
        family = rng.choice(SURNAMES)
        shared = size >= 2 and rng.random() < shared_phone
        head_phone = ""
        for role, gender, age in members:
            surname = family if role != "spouse" else rng.choice(SURNAMES)
            area = pick_area(age, local, shanghai, elsewhere, rng)
            birth = birth_for_age(age, rng)
            id_number = new_id(area, birth, gender, issued, rng)
            if role == "head":
                head_phone = phones.new()
            if shared or age < 16:
                phone = head_phone
            elif age > 78 and rng.random() < 0.3:
                phone = ""
            else:
                phone = phones.new()
            persons.append(
                Person(
                    f"P{len(persons) + 1:08d}", surname + given_name(gender, rng), gender, birth, id_number, phone,
                    house, household, area,
                )
            )  # fmt: skip
    # A few stale phones: the registry keeps a number that now belongs to someone else too.
    adults = [p for p in persons if p.phone]
    for p in rng.sample(adults, len(adults) // 300):
        p.phone = rng.choice(adults).phone
    district.persons = persons


def household_members(size: int, rng: random.Random) -> list[tuple[str, str, int]]:
    head_gender = rng.choice("男女")
    head_age = rng.randint(24, 88) if size == 1 else rng.randint(28, 70)
    members = [("head", head_gender, head_age)]
    if size >= 2:
        members.append(("spouse", "女" if head_gender == "男" else "男", max(20, head_age + rng.randint(-6, 6))))
    for _ in range(size - len(members)):
        if rng.random() < 0.25 and head_age < 62:
            members.append(("parent", rng.choice("男女"), head_age + rng.randint(24, 32)))
        else:
            members.append(("child", rng.choice("男女"), max(0, head_age - rng.randint(22, 36))))
    return members


def pick_area(age: int, local: bool, shanghai: list[str], elsewhere: list[str], rng: random.Random) -> str:
    if not local:
        return rng.choice(elsewhere)
    if age > 45 and rng.random() < 0.35:
        return rng.choice(SHANGHAI_OLD_AREA_CODES)
    return rng.choice(shanghai)


def build_district(args: argparse.Namespace, rng: random.Random, phones: PhoneBook) -> District:
    name, subdistricts, committees = load_divisions(args.divisions, args.district_code)
    roads = build_roads(subdistricts, rng)
    communities = build_communities(committees, roads, place_words(args.divisions), args.place_names, rng)
    n_houses = int(args.persons / 2.5 * 1.4)
    houses = build_houses(communities, committees, n_houses, rng)
    district = District(args.district_code, name, subdistricts, committees, communities, houses)
    areas = [r["code"] for r in read_csv(args.divisions / "areas.csv")]
    build_population(district, args.persons, args.shared_phone, areas, phones, rng)
    return district


# --------------------------------------------------------------------------------------------------------------
# 2a. Writing addresses the way people write them
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Written:
    """An address as written, what it names, and which phenomena it shows."""

    text: str
    house: House | None = None
    community: Community | None = None
    tags: set[str] = field(default_factory=set)


class AddressWriter:
    def __init__(self, district: District, rates: argparse.Namespace, rng: random.Random) -> None:
        self.district = district
        self.rates = rates
        self.rng = rng
        self.to_traditional = OpenCC("s2t")

    def write(self, house: House) -> Written:
        rng, c = self.rng, house.community
        place_bias = c.place_name and rng.random() < 0.5
        if rng.random() < self.rates.numberless:
            written = self.numberless(house)
        else:
            variant = rng.random() < self.rates.address_variants or place_bias
            written = self.house_level(house, variant, community_form=place_bias)
        if c.place_name and c.name in written.text:
            written.tags.add("place_name_community")
        return written

    def house_level(self, house: House, variant: bool, community_form: bool) -> Written:
        rng = self.rng
        tags: set[str] = set()
        locator = standard_locator(house)
        prefix, town = f"上海市{self.district.name}", house.subdistrict.name
        if variant:
            tags.add("address_variants")
            forms = self.locator_forms(house)
            if community_form:
                forms = [f for f in forms if house.community.name in f] or forms
            locator = rng.choice(forms)
            prefix = rng.choice(
                (
                    "",
                    "",
                    self.district.name,
                    "上海",
                    "上海市",
                    f"上海{self.district.short}",
                    self.district.short,
                    f"上海市{self.district.name}",
                )
            )
            if rng.random() < 0.3 and self.locator_unique_without_town(house):
                town = ""
        text = self.place_town(prefix, town, locator, house, tags)
        if variant:
            text = self.decorate(text, house)
        return Written(text, house=house, tags=tags)

    def locator_unique_without_town(self, house: House) -> bool:
        return house.community.kind != "village" or house.community.name_is_unique

    def locator_forms(self, h: House) -> list[str]:
        c, b, r = h.community, h.building, h.room
        road, n, name = c.road, c.number, c.name
        if c.kind == "lane":
            return [
                f"{road}{n}-{b}-{r}", f"{road}{n}弄{b}号楼{r}", f"{road}{n}弄{b}号{r}", f"{road}{n}弄{b}#{r}室",
                f"{road}{n}弄{b}栋{r}室", f"{road}{n}弄{b}幢{r}", f"{road}{n}弄{chinese_number(b)}号楼{r}室",
                f"{road}{n}弄{b}号{chinese_digits(r)}室", f"{road}{n}弄{name}{b}号{r}室", f"{name}{b}号{r}室",
                f"{road}{n}弄（{name}）{b}号{r}室", f"{road}{chinese_number(n)}弄{b}号{r}室",
            ]  # fmt: skip
        if c.kind == "complex":
            return [
                f"{road}{n}号{b}号楼{r}室", f"{road}{n}-{b}-{r}", f"{road}{n}号{b}栋{r}", f"{road}{n}号{b}幢{r}",
                f"{road}{n}号{chinese_number(b)}幢{r}室", f"{road}{n}号{b}#{r}", f"{name}{b}幢{r}室",
                f"{road}{n}号{name}{b}号楼{r}室",
            ]  # fmt: skip
        if c.kind == "single":
            return [f"{road}{n}号{r}", f"{road}{n}号{name}{r}室", f"{name}{r}室", f"{road}{n}-{r}", f"{road}{n}号{r}室"]
        g, d = h.group, h.door
        return [f"{name}{chinese_number(g)}组{d}号", f"{name}{g}队{d}号", f"{name}{d}号", f"{name}{g}组{d}"]

    def place_town(self, prefix: str, town: str, locator: str, house: House, tags: set[str]) -> str:
        """Town where it belongs, or (short_town) shortened / in an odd place: 浦东金桥金高路…, …502室（张江）."""
        if not town or self.rng.random() >= self.rates.short_town:
            return prefix + town + locator
        tags.add("short_town")
        short, full = house.subdistrict.short, house.subdistrict.name
        return self.rng.choice(
            (
                f"{short}{locator}",
                f"{self.district.short}{short}{locator}",
                f"{prefix}{locator}（{short}）",
                f"{locator} {full}",
                f"上海市{full}{self.district.name}{locator}",
                f"{self.district.name}{short}{locator}",
            )
        )

    def decorate(self, text: str, house: House) -> str:
        """Full-width digits, traditional characters, spaces and punctuation, words around the address."""
        rng = self.rng
        if rng.random() < 0.25:
            text = re.sub(r"(\d+)(弄|号|幢|栋|#|-)", lambda m: m.group(1) + " " + m.group(2), text, count=1)
            text = text.replace("室", "室。") if rng.random() < 0.3 else text
            text = re.sub(rf"^(上海市?|{self.district.name})", r"\1 ", text)
        if rng.random() < 0.2:
            text = text.translate(FULL_WIDTH)
        if rng.random() < 0.12:
            text = self.to_traditional.convert(text)
        if rng.random() < 0.25:
            cross = house.community.cross_road or house.subdistrict.short + "菜场"
            text += rng.choice(
                (f"（近{cross}）", f"，{cross}口附近", "（菜场对面）", "（小区南门进）", " 门口快递柜旁")
            )
        return text

    def numberless(self, house: House) -> Written:
        """The community alone, or a crossing and the community: names a committee, not a house."""
        rng, c = self.rng, house.community
        town = house.subdistrict.name
        if c.kind == "village":
            forms = [f"{town}{c.name}", f"{town}{c.name}{house.group}组"]
            if c.name_is_unique:
                forms += [c.name, f"{c.name}{house.group}组", f"{self.district.short}{c.name}"]
        else:
            forms = [
                c.name, f"{town}{c.name}", f"{self.district.name}{c.name}", f"{c.road}{c.cross_road}口{c.name}",
                f"{c.name}门口", f"{town}{c.road}近{c.cross_road}{c.name}",
            ]  # fmt: skip
            if c.kind == "lane":
                forms.append(f"{c.road}{c.number}弄")
        text = rng.choice(forms)
        tags = {"numberless"}
        if rng.random() < self.rates.short_town and text.startswith(town):
            text = rng.choice((self.district.short, "")) + house.subdistrict.short + text[len(town) :]
            tags.add("short_town")
        return Written(text, community=c, tags=tags)


# --------------------------------------------------------------------------------------------------------------
# 2b. The day's rows
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    source: str
    file: str
    row: int
    fields: dict[str, object]  # header -> value, as written to the file
    name: str
    id_number: str
    phone: str
    address: Written | None
    person: Person | None
    tags: set[str]
    truth: dict[str, str] = field(default_factory=dict)
    route: str = ""  # how the row names its person (see Evidence.route); not part of truth.csv


@dataclass(frozen=True)
class FileSpec:
    source: str
    name: str
    encoding: str  # utf-8, utf-8-sig, gb18030, or xlsx
    headers: dict[str, str]  # logical field -> header as written
    share: float  # of the source's rows
    blank: tuple[str, ...] = ()  # logical fields written empty in every row (empty_column)
    only: tuple[str, ...] = ()  # if set, the only fields written (health file with addresses only)
    extra: tuple[str, ...] = ()  # extra columns the product must carry through


CHECKPOINT_STD = {
    "time": "登记时间", "checkpoint": "卡口名称", "name": "姓名", "id": "证件号码", "phone": "手机号码",
    "plate": "车牌号码", "origin": "出发地", "address": "目的地址",
}  # fmt: skip
HOTLINE_STD = {
    "ticket": "工单编号", "time": "受理时间", "name": "当事人", "phone": "联系电话", "address": "事发地址",
    "category": "诉求类别", "content": "诉求内容",
}  # fmt: skip
HEALTH_STD = {
    "time": "申报时间", "name": "姓名", "id": "证件号码", "phone": "手机号码", "address": "居住地址",
    "travel": "近14天旅居地", "fever": "是否发热", "code": "健康码",
}  # fmt: skip


def file_specs(empty_share: float) -> list[FileSpec]:
    day = f"{DATA_DAY:%Y%m%d}"
    rest = 1 - empty_share
    return [
        FileSpec("checkpoint", f"道口登记_{day}_高速道口.xlsx", "xlsx", CHECKPOINT_STD, 0.40 * rest),
        FileSpec(
            "checkpoint", f"道口登记_{day}_地面道口.csv", "gb18030",
            {"time": "通行时间", "checkpoint": "道口", "name": "驾乘人员姓名", "id": "身份证号", "phone": "联系电话",
             "plate": "车牌号", "origin": "来自", "address": "在沪居住地址"},
            0.35 * rest, extra=("序号",),
        ),
        FileSpec(
            "checkpoint", f"道口登记_{day}_补录.csv", "utf-8-sig",
            {"time": "登记时间", "checkpoint": "道口", "name": "姓名", "id": "身份证号码", "phone": "手机号",
             "plate": "车牌号码", "origin": "出发地", "address": "居住地址"},
            0.25 * rest, extra=("备注",),
        ),
        FileSpec("checkpoint", f"道口登记_{day}_缺姓名.csv", "utf-8", CHECKPOINT_STD, empty_share, blank=("name",)),
        FileSpec("hotline", f"12345工单_{day}.xlsx", "xlsx", HOTLINE_STD, 0.6),
        FileSpec(
            "hotline", f"12345工单_{day}_夜间.csv", "gb18030",
            {"ticket": "工单号", "time": "来电时间", "name": "当事人姓名", "phone": "当事人电话", "address": "地址",
             "category": "工单类型", "content": "工单内容"},
            0.4,
        ),
        FileSpec("health", f"健康云申报_{day}.csv", "utf-8", HEALTH_STD, 0.55 * rest),
        FileSpec(
            "health", f"健康云申报_{day}_社区.xlsx", "xlsx",
            {"time": "填报时间", "name": "姓名", "id": "身份证号", "phone": "手机号", "address": "现住址",
             "travel": "旅居史", "fever": "发热", "code": "健康码颜色"},
            0.45 * rest,
        ),
        FileSpec(
            "health", f"健康云申报_{day}_仅地址.csv", "utf-8-sig", HEALTH_STD, empty_share, only=("time", "address"),
        ),
    ]  # fmt: skip


SOURCE_SHARE = {"checkpoint": 0.40, "hotline": 0.25, "health": 0.35}


class DayWriter:
    """Makes the rows of one day: who each row is about, where they stay, and how they wrote it."""

    def __init__(self, district: District, rates: argparse.Namespace, phones: PhoneBook, rng: random.Random) -> None:
        self.district = district
        self.rates = rates
        self.phones = phones
        self.rng = rng
        self.addresses = AddressWriter(district, rates, rng)
        self.stay: dict[str, House] = {}
        self.population_ids = {p.id_number for p in district.persons}
        self.visitors: list[Person] = []
        self.areas_elsewhere = [r["code"] for r in read_csv(rates.divisions / "areas.csv") if r["code"][:2] != "31"]
        self.cities = {r["code"][:4]: r["name"] for r in read_csv(rates.divisions / "cities.csv")}
        self.provinces = {r["code"]: r["name"] for r in read_csv(rates.divisions / "provinces.csv")}
        by_sub: dict[str, list[House]] = defaultdict(list)
        for h in district.houses:
            by_sub[h.subdistrict.code].append(h)
        self.houses_by_subdistrict = by_sub

    def rows(self) -> list[Row]:
        rows: list[Row] = []
        for spec in file_specs(self.rates.empty_column):
            n = round(self.rates.day_rows * SOURCE_SHARE[spec.source] * spec.share)
            rows += [self.row(spec, i + 1) for i in range(n)]
        return rows

    def subject(self, source: str) -> Person | None:
        if self.rng.random() < self.rates.visitors:
            return None
        min_age = {"checkpoint": 16, "hotline": 18, "health": 0}[source]
        while True:
            person = self.rng.choice(self.district.persons)
            if (DATA_DAY - person.birth).days >= min_age * 365:
                return person

    def stay_house(self, person: Person) -> House:
        """人户分离: a share of persons stay at another house of the district, often in another subdistrict."""
        if person.person_id not in self.stay:
            house = person.house
            if self.rng.random() < self.rates.away:
                if self.rng.random() < 0.6:
                    others = [s for s in self.houses_by_subdistrict if s != person.house.subdistrict.code]
                    pool = self.houses_by_subdistrict[self.rng.choice(others)]
                else:
                    pool = self.houses_by_subdistrict[person.house.subdistrict.code]
                while house is person.house:
                    house = self.rng.choice(pool)
            self.stay[person.person_id] = house
        return self.stay[person.person_id]

    def visitor(self) -> Person:
        """Someone from another province, not in the population, staying with someone or outside the district."""
        rng = self.rng
        gender = rng.choice("男女")
        birth = birth_for_age(rng.randint(18, 70), rng)
        area = rng.choice(self.areas_elsewhere)
        id_number = new_id(area, birth, gender, self.population_ids, rng)
        name = rng.choice(SURNAMES) + given_name(gender, rng)
        return Person("", name, gender, birth, id_number, self.phones.new(), rng.choice(self.district.houses), 0, area)

    def row(self, spec: FileSpec, number: int) -> Row:
        rng = self.rng
        person = self.subject(spec.source)
        tags: set[str] = set()
        address: Written | None
        if person is None:
            subject, tags = self.visitor(), {"visitor"}
            address = (
                Written(rng.choice(OUTSIDE_ADDRESSES), tags={"outside_district"})
                if rng.random() < 0.25
                else self.addresses.write(subject.house)
            )
        else:
            subject = person
            address = self.addresses.write(self.stay_house(person))
        name, id_number, phone = subject.name, subject.id_number, subject.phone
        if spec.source == "checkpoint" and rng.random() < 0.1:
            address = None
        if spec.source == "hotline":
            id_number = ""
            name, phone, address = self.hotline_identity(subject, address, tags)
        else:
            id_number = id_number if rng.random() < 0.94 else ""
            phone = phone if rng.random() < 0.93 else ""
        if rng.random() < self.rates.id_typo and (name == subject.name or id_number):
            name, id_number = self.typo(subject, name, id_number, tags)
        if id_number and rng.random() < 0.03:
            id_number = self.id_format(id_number)
            tags.add("id_format")
        if phone and rng.random() < 0.04:
            phone = rng.choice(
                (f"{phone[:3]}-{phone[3:7]}-{phone[7:]}", f"+86 {phone}", f"{phone[:3]} {phone[3:7]} {phone[7:]}")
            )
            tags.add("phone_format")
        logical = self.logical_fields(spec, subject, name, id_number, phone, address, tags)
        if rng.random() < self.rates.malformed:
            self.malform(spec, logical, tags)
        if address is not None:
            tags |= address.tags
            if person is not None and self.stay[person.person_id] is not person.house:
                tags.add("away")
        if spec.blank or spec.only:
            tags.add("empty_column")
        fields = self.layout(spec, logical, number)
        written_name = (
            "" if "name" in spec.blank or (spec.only and "name" not in spec.only) else str(logical.get("name", ""))
        )
        written_id = str(logical.get("id", "")) if not spec.only else ""
        written_phone = str(logical.get("phone", "")) if not spec.only else ""
        return Row(
            spec.source, spec.name, number, fields, written_name, written_id, written_phone,
            address, person, tags,
        )  # fmt: skip

    def hotline_identity(
        self, person: Person, address: Written | None, tags: set[str]
    ) -> tuple[str, str, Written | None]:
        rng = self.rng
        title = person.name[0] + ("先生" if person.gender == "男" else "女士")
        if rng.random() < self.rates.sparse_hotline:
            tags.add("sparse_hotline")
            return ("", person.phone, address) if rng.random() < 0.5 else (title, person.phone, None)
        return (person.name if rng.random() < 0.7 else title), person.phone, address

    def typo(self, person: Person, name: str, id_number: str, tags: set[str]) -> tuple[str, str]:
        """One mistake: an ID digit wrong or missing, a 15-digit old ID, a homophone, a dropped character, pinyin."""
        rng = self.rng
        kinds = ["name_homophone", "name_pinyin"] if name == person.name else []
        if len(name) >= 3 and name == person.name:
            kinds.append("name_missing_char")
        if id_number:
            kinds += ["id_wrong_digit", "id_missing_digit"]
            if person.birth.year < 1985:
                kinds.append("id_15")
        kind = rng.choice(kinds)
        if kind == "name_homophone":
            i = rng.randrange(1, len(name))
            options = homophones(name[i])
            if not options:
                return name, id_number
            name = name[:i] + rng.choice(options) + name[i + 1 :]
        elif kind == "name_pinyin":
            syllables = lazy_pinyin(name)
            name = rng.choice(
                (
                    " ".join(s.capitalize() for s in syllables),
                    "".join(syllables).upper(),
                    syllables[0].capitalize() + " " + "".join(syllables[1:]),
                )
            )
        elif kind == "name_missing_char":
            i = rng.randrange(1, len(name))
            name = name[:i] + name[i + 1 :]
        elif kind == "id_wrong_digit":
            i = rng.randrange(len(id_number) - 1)
            id_number = id_number[:i] + rng.choice([d for d in "0123456789" if d != id_number[i]]) + id_number[i + 1 :]
        elif kind == "id_missing_digit":
            i = rng.randrange(len(id_number))
            id_number = id_number[:i] + id_number[i + 1 :]
        elif kind == "id_15":
            id_number = id_number[:6] + id_number[8:17]
        tags |= {"id_typo", kind}
        return name, id_number

    def id_format(self, id_number: str) -> str:
        rng = self.rng
        return rng.choice(
            (
                id_number.lower(),
                f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}",
                id_number.translate(FULL_WIDTH),
                f" {id_number}",
            )
        )

    def logical_fields(
        self, spec: FileSpec, p: Person, name: str, id_number: str, phone: str, address: Written | None, tags: set[str]
    ) -> dict[str, object]:
        rng = self.rng
        moment = datetime.combine(DATA_DAY, datetime.min.time()) + timedelta(seconds=rng.randrange(86400))
        local = p.id_area.startswith("31") and p.person_id
        values: dict[str, object] = {
            "time": moment if spec.encoding == "xlsx" else f"{moment:%Y-%m-%d %H:%M:%S}" if rng.random() < 0.6
            else f"{moment:%Y/%m/%d %H:%M}",
            "name": name, "id": id_number, "phone": phone, "address": address.text if address else "",
        }  # fmt: skip
        if spec.source == "checkpoint":
            province = self.provinces.get(p.id_area[:2], "江苏省")
            values |= {
                "checkpoint": rng.choice(CHECKPOINTS),
                "plate": plate(rng, local=bool(local)),
                "origin": rng.choice(("江苏省苏州市", "浙江省嘉兴市", "安徽省合肥市")) if local
                else province + self.cities.get(p.id_area[:4], ""),
            }  # fmt: skip
        elif spec.source == "hotline":
            content = rng.choice(HOTLINE_CONTENTS)
            if rng.random() < 0.03:
                content += "\n（回访：已联系居委）"
                tags.add("multiline_content")
            values |= {
                "ticket": f"{DATA_DAY:%y%m%d}{rng.randrange(10**7):07d}",
                "category": rng.choice(HOTLINE_CATEGORIES),
                "content": content,
            }
            if spec.encoding == "xlsx" and re.fullmatch(r"1\d{10}", phone):
                values["phone"] = int(phone)  # Excel keeps a mobile as a number
        else:
            values |= {
                "travel": rng.choice(TRAVEL),
                "fever": "否" if rng.random() < 0.98 else "是",
                "code": rng.choices(("绿码", "黄码", "红码"), (96, 3, 1))[0],
            }
        return values

    def malform(self, spec: FileSpec, values: dict[str, object], tags: set[str]) -> None:
        rng = self.rng
        choices = ["time"] + [f for f in ("phone", "id") if f in spec.headers and not spec.only]
        target = rng.choice(choices)
        values[target] = {
            "time": rng.choice(("2026-11-31 25:70:00", "昨天下午", "0000-00-00", "#VALUE!")),
            "phone": rng.choice(("无", "1391234", "138****5678", "#N/A", "电话打不通")),
            "id": rng.choice(("身份证遗失", "无", "3101151985")),
        }[target]
        tags |= {"malformed", f"malformed_{target}"}

    def layout(self, spec: FileSpec, values: dict[str, object], number: int) -> dict[str, object]:
        fields: dict[str, object] = {}
        if "序号" in spec.extra:
            fields["序号"] = number
        for logical, header in spec.headers.items():
            if spec.only and logical not in spec.only:
                continue
            fields[header] = "" if logical in spec.blank else values.get(logical, "")
        if "备注" in spec.extra:
            fields["备注"] = self.rng.choice(("", "", "补录", "电话核实", "居委代填"))
        return fields


def plate(rng: random.Random, local: bool) -> str:
    letters = "ABCDEFGHJKLMN"
    tail = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
    return ("沪" if local else rng.choice(PLATE_PROVINCES)) + rng.choice(letters) + rng.choice(("", "·", " ")) + tail


# --------------------------------------------------------------------------------------------------------------
# 2c. Truth: who each row is, whether its evidence names exactly one person, and where a visit happens
# --------------------------------------------------------------------------------------------------------------


class Evidence:
    """Decides, from what a row's fields say, whether they name exactly one person of the population.

    A row names one person when (a) its ID number, read carefully (15-digit IDs widened), is theirs; or (b) its phone
    is theirs and nobody else's, and the row also gives some name or an address; or (c) pieces of its evidence of two
    or three different kinds, taken together, fit them and nobody else. The kinds: the phone; the name (the full name,
    or the surname and sex of 王先生/李女士); the address (the house it names as their registered house, or the
    community it names as their registered house's community). A name alone, however rare, is not enough.
    """

    def __init__(self, persons: list[Person]) -> None:
        self.persons = persons
        self.by_id = {p.id_number: i for i, p in enumerate(persons)}
        self.index: dict[tuple[str, object], set[int]] = defaultdict(set)
        for i, p in enumerate(persons):
            keys: list[tuple[str, object]] = [("name", p.name), ("title", (p.name[0], p.gender))]
            keys += [("pinyin", "".join(lazy_pinyin(p.name)))]  # the name typed in Latin letters
            keys += [("house", p.house.house_id), ("community", id(p.house.community))]
            keys += [("phone", p.phone)] if p.phone else []
            for key in keys:
                self.index[key].add(i)

    def pieces(self, row: Row) -> list[tuple[str, str, set[int]]]:
        """Each piece of evidence in the row: its kind (phone, name, address), its label, the persons it fits."""
        found: list[tuple[str, str, set[int]]] = []
        if phone := normalize_phone(row.phone):
            found.append(("phone", "phone", self.index.get(("phone", phone), set())))
        name = re.sub(r"\s", "", row.name)
        if title := re.fullmatch(r"(.)(先生|女士)", name):
            sex = "男" if title[2] == "先生" else "女"
            found.append(("name", "surname+title", self.index.get(("title", (title[1], sex)), set())))
        elif re.fullmatch(r"[A-Za-z]+", name):
            found.append(("name", "name", self.index.get(("pinyin", name.lower()), set())))
        elif name:
            found.append(("name", "name", self.index.get(("name", name), set())))
        written = row.address
        if written is not None and written.house is not None:
            found.append(("address", "house", self.index.get(("house", written.house.house_id), set())))
        community = written.house.community if written and written.house else written.community if written else None
        if community is not None:
            found.append(("address", "community", self.index.get(("community", id(community)), set())))
        return found

    def fits(self, row: Row) -> list[tuple[str, set[int]]]:
        """For each combination of pieces of two or three different kinds, its label and the persons fitting all."""
        pieces = self.pieces(row)
        return [
            ("+".join(label for _, label, _ in combo), set.intersection(*(persons for _, _, persons in combo)))
            for k in range(2, len(pieces) + 1)
            for combo in itertools.combinations(pieces, k)
            if len({kind for kind, _, _ in combo}) == k
        ]

    def route(self, row: Row) -> str:
        """How the row names its person ('' when it does not): id, id15, unique phone, or a combination."""
        if row.person is None:
            return ""
        me = self.by_id[row.person.id_number]
        if self.by_id.get(normalize_id(row.id_number)) == me:
            return "id15" if len(re.sub(r"\D", "", row.id_number)) == 15 else "id"
        # A phone only this person has names them with a name, or with the house or community they are registered
        # at (issue 8: "plus an agreeing house or name"); not with an address they are staying at, which names
        # nobody (the caller may be anyone of their household or circle), so such a row routes by its address.
        phone = normalize_phone(row.phone)
        if phone and self.index.get(("phone", phone)) == {me} and row.name:
            return "unique phone+name"
        return next((label for label, fit in self.fits(row) if fit == {me}), "")

    def household_home(self, row: Row) -> House | None:
        """The house when the evidence narrows to one household (one shared phone and a surname) but not one person."""
        if row.person is None:
            return None
        me = self.by_id[row.person.id_number]
        for _, fit in self.fits(row):
            if me in fit and len({self.persons[i].house.house_id for i in fit}) == 1:
                return row.person.house
        return None

    def phone_tags(self, row: Row) -> set[str]:
        holders = self.index.get(("phone", normalize_phone(row.phone)), set())
        if len(holders) < 2:
            return set()
        return {"shared_phone"} if len({self.persons[i].household for i in holders}) == 1 else {"stale_phone"}


def settle_truth(rows: list[Row], evidence: Evidence) -> None:
    """Who the row is, whether it names them, and the house / committee where a visit happens."""
    for row in rows:
        row.tags |= evidence.phone_tags(row)
        row.route = evidence.route(row)
        identified = bool(row.route)
        house = committee = None
        if row.address is not None and row.address.house is not None:
            house = row.address.house
        elif row.address is not None and row.address.community is not None:
            committee = row.address.community.committee
        elif (row.address is None or not row.address.text) and row.person is not None:
            # No address: the registered home, when the row names the person (or at least their household).
            house = row.person.house if identified else evidence.household_home(row)
            if house is not None and not identified:
                row.tags.add("household_only")
        if house is not None:
            committee = house.committee
        row.truth = {
            "source": row.source,
            "source_file": row.file,
            "source_row": str(row.row),
            "person_id": row.person.person_id if row.person else "",
            "names_one_person": "1" if identified else "0",
            "house_id": house.house_id if house else "",
            "committee_code": committee.code if committee else "",
            "subdistrict_code": committee.subdistrict.code if committee else "",
            "phenomena": ";".join(sorted(row.tags)),
        }


# --------------------------------------------------------------------------------------------------------------
# Writing the files
# --------------------------------------------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: Iterable[Sequence[object]], encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_reference(district: District, folder: Path) -> None:
    grid_rows = [
        [
            g,
            f"{c.short}第{i + 1}网格",
            c.code,
            c.name,
            c.subdistrict.code,
            c.subdistrict.name,
            district.code,
            district.name,
        ]
        for c in district.committees
        for i, g in enumerate(c.grid_ids)
    ]
    write_csv(
        folder / "grid.csv",
        words("grid_id grid_name committee_code committee_name subdistrict_code subdistrict_name")
        + ["district_code", "district_name"],
        grid_rows,
    )
    write_csv(
        folder / "housing.csv",
        ["house_id", "address", "grid_id", "community"],
        ([h.house_id, standard_address(h, district.name), h.grid_id, h.community.name] for h in district.houses),
    )
    write_csv(
        folder / "population.csv",
        ["person_id", "name", "id_number", "phone", "house_id", "gender", "birth_date"],
        (
            [p.person_id, p.name, p.id_number, p.phone, p.house.house_id, p.gender, f"{p.birth:%Y-%m-%d}"]
            for p in district.persons
        ),
    )


def write_inbox(rows: list[Row], inbox: Path) -> None:
    specs = {s.name: s for s in file_specs(0.0)}
    by_file: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_file[row.file].append(row)
    for name, file_rows in by_file.items():
        spec = specs[name]
        path = inbox / spec.source / name
        header = list(file_rows[0].fields)
        values = [[r.fields[h] for h in header] for r in file_rows]
        if spec.encoding == "xlsx":
            path.parent.mkdir(parents=True, exist_ok=True)
            book = openpyxl.Workbook()
            sheet = book.active
            sheet.title = "Sheet1"
            sheet.append(header)
            for v in values:
                sheet.append(v)
            book.save(path)
        else:
            write_csv(path, header, values, spec.encoding)


def write_truth(rows: list[Row], path: Path) -> None:
    header = list(rows[0].truth)
    write_csv(path, header, ([r.truth[h] for h in header] for r in rows))


# --------------------------------------------------------------------------------------------------------------
# 3. Running the product as a user would
# --------------------------------------------------------------------------------------------------------------


def run_product(out: Path) -> float:
    jingzhun = Path(sys.executable).parent / "jingzhun"
    command = [
        str(jingzhun), "run", "--inbox", str(out / "inbox"), "--reference", str(out / "reference"),
        "--out", str(out / "out"), "--run-date", RUN_DATE,
    ]  # fmt: skip
    print("$ " + " ".join(command), flush=True)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        print(f"jingzhun run failed with exit status {done.returncode} after {elapsed:.0f} s")
        print(done.stderr)
        sys.exit(1)
    print(f"jingzhun run: exit 0 in {elapsed:.1f} s")
    return elapsed


# --------------------------------------------------------------------------------------------------------------
# 4. Scoring
# --------------------------------------------------------------------------------------------------------------

KEY = ("source", "source_file", "source_row")
RESULT_COLUMNS = ("outcome", "person_id", "house_id", "committee_code", "subdistrict_code", "match_method", "reasons")


def read_results(path: Path) -> pl.DataFrame:
    results = pl.read_parquet(path)
    for column in ("reasons", "match_method"):
        if column in results.columns and results.schema[column] != pl.Utf8:
            results = results.with_columns(
                pl.col(column).cast(pl.List(pl.Utf8)).list.join("; ")
                if isinstance(results.schema[column], pl.List)
                else pl.col(column).cast(pl.Utf8)
            )
    return results.with_columns(
        pl.col("source").cast(pl.Utf8),
        pl.col("source_file").cast(pl.Utf8).map_elements(lambda s: Path(s).name, return_dtype=pl.Utf8),
        pl.col("source_row").cast(pl.Int64),
        *[pl.col(c).cast(pl.Utf8) for c in ("person_id", "house_id", "committee_code", "subdistrict_code")],
    )


def join_results(rows: list[Row], results: pl.DataFrame) -> dict[tuple[str, str, int], dict[str, object]]:
    counts = results.group_by(list(KEY)).len()
    duplicated = counts.filter(pl.col("len") > 1)
    keyed = {
        (r["source"], r["source_file"], r["source_row"]): r
        for r in results.select([c for c in (*KEY, *RESULT_COLUMNS) if c in results.columns]).iter_rows(named=True)
    }
    truth_keys = {(r.source, r.file, r.row) for r in rows}
    missing = truth_keys - keyed.keys()
    extra = keyed.keys() - truth_keys
    print(f"\nresult rows: {results.height}; truth rows: {len(rows)}; missing: {len(missing)}; "
          f"extra: {len(extra)}; keys with more than one result row: {duplicated.height}")  # fmt: skip
    for label, keys in (("missing", missing), ("extra", extra)):
        for key in sorted(keys)[:10]:
            print(f"  {label}: {key}")
    for key in duplicated.head(10).iter_rows():
        print(f"  duplicated: {key}")
    return keyed


@dataclass
class Figures:
    rows: int = 0
    linked: int = 0
    linked_right: int = 0
    identifiable: int = 0
    found: int = 0
    routable: int = 0
    committee_right: int = 0
    wrong_subdistrict: int = 0
    wrong_subdistrict_dispatched: int = 0
    placed_without_truth: int = 0  # a subdistrict where the truth knows no place (a phone alone: its holder's home)
    review: int = 0
    quarantined: int = 0

    def add(self, truth: dict[str, str], result: dict[str, object]) -> None:
        got_person = result.get("person_id") or ""
        got_committee = result.get("committee_code") or ""
        got_subdistrict = result.get("subdistrict_code") or ""
        self.rows += 1
        if got_person:
            self.linked += 1
            self.linked_right += got_person == truth["person_id"]
        if truth["names_one_person"] == "1":
            self.identifiable += 1
            self.found += got_person == truth["person_id"]
        if truth["committee_code"]:
            self.routable += 1
            self.committee_right += got_committee == truth["committee_code"]
        if got_subdistrict and not truth["subdistrict_code"]:
            self.placed_without_truth += 1
        elif got_subdistrict and got_subdistrict != truth["subdistrict_code"]:
            self.wrong_subdistrict += 1
            self.wrong_subdistrict_dispatched += result.get("outcome") == "dispatched"
        self.review += result.get("outcome") == "review"
        self.quarantined += result.get("outcome") == "quarantined"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:6.2f}%" if whole else "     -"


def print_table(groups: dict[str, Figures]) -> None:
    header = f"{'group':<24}{'rows':>6} | {'precision':>9} {'(linked)':>9} | {'recall':>7} {'(of)':>6} | "
    header += f"{'committee':>9} {'(of)':>6} | {'wrong subd':>10} {'dispatched':>10} | {'review':>7} | {'quarant':>7}"
    print(header)
    print("-" * len(header))
    target = f"{'target':<24}{'':>6} | {'>=99.90%':>9} {'':>9} | {'>=99.5%':>7} {'':>6} | {'>=99.5%':>9} {'':>6} | "
    print(target + f"{'0':>10} {'0':>10} | {'<=1%':>7} | {'':>7}")
    for name, f in groups.items():
        print(
            f"{name:<24}{f.rows:>6} | {share(f.linked_right, f.linked):>9} {f.linked:>9} | "
            f"{share(f.found, f.identifiable):>7} {f.identifiable:>6} | {share(f.committee_right, f.routable):>9} "
            f"{f.routable:>6} | {f.wrong_subdistrict:>10} {f.wrong_subdistrict_dispatched:>10} | "
            f"{share(f.review, f.rows):>7} | {f.quarantined:>7}"
        )


def score(rows: list[Row], results: pl.DataFrame, district: District) -> None:
    keyed = join_results(rows, results)
    groups: dict[str, Figures] = defaultdict(Figures)
    failures: dict[str, list[tuple[Row, dict[str, object]]]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    for row in rows:
        result = keyed.get((row.source, row.file, row.row), {})
        outcomes[str(result.get("outcome"))] += 1
        for group in ("ALL", *(sorted(row.tags) or ["(clean)"])):
            groups[group].add(row.truth, result)
        for kind in failure_kinds(row.truth, result):
            failures[kind].append((row, result))
    print(f"outcomes: {dict(outcomes)}\n")
    ordered = {"ALL": groups.pop("ALL")} | dict(sorted(groups.items(), key=lambda kv: -kv[1].rows))
    print_table(ordered)
    print_recall_by_route(rows, keyed)
    wrong = failures.get("wrong subdistrict", [])
    placed = failures.get("placed where the truth knows no place", [])
    print(f"\nrows sent to a wrong subdistrict: {len(wrong)}, of which dispatched: "
          f"{sum(r.get('outcome') == 'dispatched' for _, r in wrong)}; given a subdistrict where the truth knows no "
          f"place (a phone alone, routed to its holder's home): {len(placed)}, of which dispatched: "
          f"{sum(r.get('outcome') == 'dispatched' for _, r in placed)}")  # fmt: skip
    names = {p.person_id: p.name for p in district.persons}
    committees = {c.code: c.short for c in district.committees}
    subdistricts = {s.code: s.name for s in district.subdistricts}
    rng = random.Random(0)
    kinds = ("wrong subdistrict", "placed where the truth knows no place", "wrong person", "missed person")
    for kind in (*kinds, "wrong committee", "unrouted (no committee)"):
        found = failures.get(kind, [])
        print(f"\n=== {kind}: {len(found)} rows" + (", up to 15 shown" if found else ""))
        for row, result in rng.sample(found, min(15, len(found))):
            print_example(row, result, names, committees, subdistricts)


def print_recall_by_route(rows: list[Row], keyed: dict[tuple[str, str, int], dict[str, object]]) -> None:
    """Recall split by how the row names its person: shows which kind of evidence the product does not use."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in rows:
        if row.route:
            total[row.route] += 1
            found[row.route] += (
                keyed.get((row.source, row.file, row.row), {}).get("person_id") == row.truth["person_id"]
            )
    print(f"\n{'names_one_person=1 because':<36}{'rows':>6} {'found':>6} {'recall':>8}")
    for route, n in total.most_common():
        print(f"{route:<36}{n:>6} {found[route]:>6} {share(found[route], n):>8}")


def failure_kinds(truth: dict[str, str], result: dict[str, object]) -> list[str]:
    kinds = []
    got_person, got_committee = result.get("person_id") or "", result.get("committee_code") or ""
    got_subdistrict = result.get("subdistrict_code") or ""
    if got_subdistrict and not truth["subdistrict_code"]:
        kinds.append("placed where the truth knows no place")
    elif got_subdistrict and got_subdistrict != truth["subdistrict_code"]:
        kinds.append("wrong subdistrict")
    if got_person and got_person != truth["person_id"]:
        kinds.append("wrong person")
    if truth["names_one_person"] == "1" and not got_person:
        kinds.append("missed person")
    if truth["committee_code"] and got_committee and got_committee != truth["committee_code"]:
        kinds.append("wrong committee")
    if truth["committee_code"] and not got_committee:
        kinds.append("unrouted (no committee)")
    return kinds


def print_example(
    row: Row, result: dict[str, object], names: dict[str, str], committees: dict[str, str], subdistricts: dict[str, str]
) -> None:
    t = row.truth
    got_person = str(result.get("person_id") or "")

    def person(pid: str) -> str:
        return f"{pid}({names.get(pid, '?')})" if pid else "-"

    def place(committee: str, subdistrict: str) -> str:
        return f"{committees.get(committee, committee or '-')}/{subdistricts.get(subdistrict, subdistrict or '-')}"

    address = row.address.text if row.address else ""
    print(
        f"- {row.source} {row.file}:{row.row} [{t['phenomena']}] names_one={t['names_one_person']}\n"
        f"    written: name={row.name!r} id={mask_id(row.id_number)!r} phone={row.phone!r} address={address!r}\n"
        f"    truth:  person={person(t['person_id'])} place={place(t['committee_code'], t['subdistrict_code'])} "
        f"house={t['house_id'] or '-'}\n"
        f"    result: person={person(got_person)} "
        f"place={place(str(result.get('committee_code') or ''), str(result.get('subdistrict_code') or ''))} "
        f"house={result.get('house_id') or '-'} method={result.get('match_method')} outcome={result.get('outcome')}\n"
        f"    reasons: {result.get('reasons')}"
    )


# --------------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--persons", type=int, default=20000)
    p.add_argument("--day-rows", type=int, default=6000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="where the district, its day and the run go (default: a new temp folder)")
    p.add_argument("--keep", action="store_true", help="keep OUT (inbox, reference, truth, the run) afterwards")
    p.add_argument("--generate-only", action="store_true", help="write the district, inbox and truth; run nothing")
    p.add_argument("--district-code", default="310115", help="a Shanghai district (浦东新区 by default)")
    p.add_argument("--divisions", type=Path, default=DIVISIONS, help="folder of the real division tables")
    rates: list[tuple[str, float, str]] = [
        ("away", 0.4, "persons staying at another house of the district (人户分离)"),
        ("visitors", 0.07, "rows about people not in the population"),
        ("shared-phone", 0.15, "households of 2+ whose members all give (and are registered with) one phone"),
        ("sparse-hotline", 0.3, "hotline rows with only phone+address or surname+先生/女士+phone"),
        ("place-names", 0.08, "communities (not named after their committee) named after a place elsewhere"),
        ("short-town", 0.15, "addresses with the town shortened or out of place"),
        ("address-variants", 0.35, "addresses written another way than the standard address"),
        ("numberless", 0.06, "addresses naming only a community or a crossing + community"),
        ("id-typo", 0.06, "rows with a wrong/missing ID digit, 15-digit ID, homophone, missing character, pinyin"),
        ("empty-column", 0.05, "share of checkpoint/health rows in a file with the name column empty / addresses only"),
        ("malformed", 0.01, "rows with a bad date, garbage phone or garbage ID"),
    ]
    for name, default, text in rates:
        p.add_argument(f"--{name}", type=float, default=default, help=text)
    return p.parse_args(argv)


def prepare_out(out: Path) -> None:
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            sys.exit(f"{out} exists and was not made by this script; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by benchmarks/independent_district.py\n")


def summarize(district: District, rows: list[Row]) -> None:
    tags = Counter(t for r in rows for t in r.tags)
    households = len({p.household for p in district.persons})
    print(
        f"district {district.name} {district.code}: {len(district.subdistricts)} subdistricts, "
        f"{len(district.committees)} committees, {len(district.communities)} communities, "
        f"{len(district.houses)} houses, "
        f"{len(district.persons)} persons in {households} households"
    )
    print(f"day: {len(rows)} rows; names_one_person=1: {sum(r.truth['names_one_person'] == '1' for r in rows)}")
    print("phenomena: " + ", ".join(f"{t} {n}" for t, n in tags.most_common()))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.monotonic()
    rng = random.Random(args.seed)
    phones = PhoneBook(rng)
    args.out = args.out or Path(tempfile.mkdtemp(prefix="independent-district-"))
    prepare_out(args.out)
    district = build_district(args, rng, phones)
    rows = DayWriter(district, args, phones, rng).rows()
    settle_truth(rows, Evidence(district.persons))
    write_reference(district, args.out / "reference")
    write_inbox(rows, args.out / "inbox")
    write_truth(rows, args.out / "truth.csv")
    summarize(district, rows)
    print(f"generated in {time.monotonic() - started:.1f} s under {args.out}")
    if args.generate_only:
        return
    run_product(args.out)
    scoring_started = time.monotonic()
    score(rows, read_results(args.out / "out" / RUN_DATE / "match_results.parquet"), district)
    print(f"\nscored in {time.monotonic() - scoring_started:.1f} s; total {time.monotonic() - started:.1f} s")
    if not args.keep:
        shutil.rmtree(args.out)


if __name__ == "__main__":
    main()
