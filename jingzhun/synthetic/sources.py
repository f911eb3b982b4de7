"""The three daily sources as the district receives them: headers with their aliases, and the
non-personal values each row carries (checkpoints, plates, origins, hotline categories and
texts, health answers, times of day).

This module only describes what the exports look like and draws those values, vectorised;
it must never decide who appears in the exports or which defects they carry (``jingzhun.synthetic.inbox``
does that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from jingzhun.synthetic.divisions import SHANGHAI_PROVINCE, Divisions
from jingzhun.synthetic.population import ORIGIN_PROVINCE_WEIGHTS


@dataclass(frozen=True)
class Column:
    key: str
    spellings: tuple[str, ...]  # the standard header first, then aliases seen in real exports


@dataclass(frozen=True)
class Rows:
    """Who a batch of rows is about, as far as the non-personal values depend on it."""

    resident: np.ndarray  # bool
    id_province: np.ndarray  # str, first two digits of the true ID number


@dataclass(frozen=True)
class Source:
    name: str
    file_stem: str
    columns: tuple[Column, ...]
    share: float  # rows per resident per day
    minimum: int  # rows even for a tiny district
    feeds: tuple[str, ...]  # values for the optional 数据来源 column
    hours: tuple[tuple[float, float, float], ...]  # time of day: (weight, mean hour, sd hours)
    fields: Callable[[np.random.Generator, Rows, Divisions], dict[str, list[str] | pl.Series]]


EXTRA_LEADING = "序号"
EXTRA_TRAILING = ("备注", "数据来源")
REMARKS = ("家属代报", "电话核实", "已通知居委", "外省返沪", "重复登记", "待核实", "已上门")

CHECKPOINTS = (
    "G1501沪崇高速长兴岛道口",
    "S20外环浦东道口",
    "S1迎宾高速机场道口",
    "S2沪芦高速芦潮港道口",
    "G40沪陕高速长江隧桥道口",
    "S32申嘉湖高速浦东道口",
    "G1503绕城高速三林道口",
    "沪南公路航头道口",
    "川南奉公路泥城道口",
    "浦东国际机场T2到达道口",
    "S3沪奉高速周浦道口",
    "申江路龙东大道道口",
)
PLATE_PROVINCE = dict(
    zip(
        [
            "11",
            "12",
            "13",
            "14",
            "15",
            "21",
            "22",
            "23",
            "31",
            "32",
            "33",
            "34",
            "35",
            "36",
            "37",
            "41",
            "42",
            "43",
            "44",
            "45",
            "46",
            "50",
            "51",
            "52",
            "53",
            "54",
            "61",
            "62",
            "63",
            "64",
            "65",
        ],
        "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新",
        strict=True,
    )
)
PLATE_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
KEY_AREAS = ("湖北省武汉市", "新疆维吾尔自治区乌鲁木齐市", "黑龙江省哈尔滨市", "广东省广州市", "内蒙古自治区呼和浩特市")
KEY_AREA_SHARE = 0.03

HOTLINE_CATEGORIES = {
    "疫情防控-来沪人员报备": (
        0.20,
        ("本人今日从{origin}来沪，现住在家中，按要求进行报备。", "家属从{origin}来沪探亲，咨询需要办理哪些报备手续。"),
    ),
    "疫情防控-居家隔离": (
        0.15,
        (
            "居家隔离期间生活物资不足，希望居委帮助代购。",
            "咨询居家隔离解除时间，以及是否还需要做核酸检测。",
            "反映同楼有居家隔离人员擅自外出，希望加强管理。",
        ),
    ),
    "疫情防控-核酸检测": (
        0.20,
        (
            "家中老人行动不便，希望安排上门核酸采样。",
            "咨询附近核酸采样点的开放时间。",
            "核酸检测结果超过24小时未出，希望协助查询。",
        ),
    ),
    "市容环境": (0.15, ("小区门口垃圾堆放多日无人清运，气味很大。", "楼下绿化带内有人私自种菜，影响环境。")),
    "噪声扰民": (0.15, ("楼上住户夜间装修噪声很大，影响休息。", "附近工地夜间施工噪声扰民，希望相关部门处理。")),
    "物业管理": (
        0.15,
        (
            "小区电梯经常故障，物业维修不及时。",
            "物业未经业主同意上调停车费，要求给出说明。",
            "楼道灯损坏多日，物业一直未修。",
        ),
    ),
}


def time_of_day(rng: np.random.Generator, n: int, hours: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """Seconds after midnight drawn from a mixture of daily peaks."""
    weights = np.array([w for w, _, _ in hours])
    part = rng.choice(len(hours), size=n, p=weights / weights.sum())
    mean = np.array([m for _, m, _ in hours])[part]
    sd = np.array([s for _, _, s in hours])[part]
    # Wrap around midnight rather than clipping, which would pile rows up at 00:00:00.
    return np.floor(rng.normal(mean, sd) * 3600).astype(np.int64) % 86_400


def _origin_table(divisions: Divisions) -> pl.DataFrame:
    origins = divisions.origins.filter(pl.col("province_code") != SHANGHAI_PROVINCE).sort("province_code")
    size = pl.len().over("province_code")
    weight = pl.col("province_code").replace_strict(ORIGIN_PROVINCE_WEIGHTS, default=1.0, return_dtype=pl.Float64)
    return origins.with_columns((weight / size).alias("p"))


def origins(
    rng: np.random.Generator, divisions: Divisions, home: np.ndarray, home_share: float | np.ndarray
) -> pl.Series:
    """Where travellers come from: with ``home_share`` a city of their home province, else anywhere
    (weighted towards the usual provinces), and a small share from a key epidemic area."""
    table = _origin_table(divisions)
    n = home.size
    p = table["p"].to_numpy()
    pick = rng.choice(table.height, size=n, p=p / p.sum())
    provinces = table["province_code"].to_numpy()
    first = np.searchsorted(provinces, home, side="left")
    count = np.searchsorted(provinces, home, side="right") - first
    at_home = (rng.random(n) < home_share) & (count > 0)
    pick[at_home] = first[at_home] + (rng.random(int(at_home.sum())) * count[at_home]).astype(np.int64)
    values = table["origin"].gather(pick)
    key = rng.random(n) < KEY_AREA_SHARE
    return values.scatter(np.flatnonzero(key), list(rng.choice(KEY_AREAS, int(key.sum()))))


def plates(rng: np.random.Generator, province: np.ndarray) -> pl.Series:
    """Plate numbers like 沪A12345 / 苏E8K921 (about one character in five is a letter)."""
    n = province.size
    city = rng.choice(np.array(list("ABCDEFGH")), n, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])
    letter = rng.random((n, 5)) < 0.2
    chars = np.where(
        letter, PLATE_CHARS[rng.integers(10, PLATE_CHARS.size, (n, 5))], PLATE_CHARS[rng.integers(0, 10, (n, 5))]
    )
    tail = np.ascontiguousarray(chars).view("<U5").ravel()
    prefix = pl.Series(province).replace_strict(PLATE_PROVINCE, return_dtype=pl.Utf8)
    return prefix + pl.Series(city) + pl.Series(tail)


def _checkpoint_fields(rng: np.random.Generator, rows: Rows, divisions: Divisions) -> dict:
    n = rows.resident.size
    origin = origins(rng, divisions, rows.id_province, home_share=np.where(rows.resident, 0.2, 0.7))
    # Residents mostly drive Shanghai cars; arrivals mostly cars from home.
    local_car = rng.random(n) < np.where(rows.resident, 0.85, 0.3)
    plate = plates(rng, np.where(local_car, SHANGHAI_PROVINCE, rows.id_province))
    no_car = rng.random(n) < 0.05  # passengers of coaches and walk-ins
    return {
        "checkpoint": pl.Series(rng.choice(CHECKPOINTS, n)),
        "plate": plate.scatter(np.flatnonzero(no_car), ""),
        "origin": origin,
    }


def _hotline_fields(rng: np.random.Generator, rows: Rows, divisions: Divisions) -> dict:
    n = rows.resident.size
    names = list(HOTLINE_CATEGORIES)
    weights = np.array([HOTLINE_CATEGORIES[c][0] for c in names])
    templates = [HOTLINE_CATEGORIES[c][1] for c in names]
    category = rng.choice(len(names), n, p=weights / weights.sum())
    template = (rng.random(n) * np.array([len(t) for t in templates])[category]).astype(np.int64)
    origin = origins(rng, divisions, rows.id_province, home_share=0.5)
    contents = [templates[c][t].format(origin=o) for c, t, o in zip(category, template, origin, strict=True)]
    return {"category": pl.Series([names[c] for c in category]), "content": pl.Series(contents)}


def _health_fields(rng: np.random.Generator, rows: Rows, divisions: Divisions) -> dict:
    n = rows.resident.size
    travelled = rng.random(n) < np.where(rows.resident, 0.08, 0.6)
    travel = origins(rng, divisions, rows.id_province, home_share=0.5)
    travel = pl.Series(np.where(travelled, travel.to_numpy(), "无"))
    fever = np.where(rng.random(n) < 0.005, "是", "否")
    code = rng.choice(np.array(["绿码", "黄码", "红码"]), n, p=[0.98, 0.015, 0.005])
    return {"travel": travel, "fever": pl.Series(fever), "health_code": pl.Series(code)}


CHECKPOINT = Source(
    name="checkpoint",
    file_stem="道口登记",
    columns=(
        Column("time", ("登记时间", "通行时间")),
        Column("checkpoint", ("卡口名称", "道口")),
        Column("name", ("姓名", "驾乘人员姓名")),
        Column("id_number", ("证件号码", "身份证号", "身份证号码")),
        Column("phone", ("手机号码", "联系电话", "手机号")),
        Column("plate", ("车牌号码", "车牌号")),
        Column("origin", ("出发地", "来自")),
        Column("address", ("目的地址", "在沪居住地址", "居住地址")),
    ),
    share=0.03,
    minimum=50,
    feeds=("公安道口登记系统", "区防控办"),
    hours=((0.3, 12, 7), (0.35, 8.5, 1.5), (0.35, 18, 2)),
    fields=_checkpoint_fields,
)
HOTLINE = Source(
    name="hotline",
    file_stem="12345工单",
    columns=(
        Column("order_no", ("工单编号", "工单号")),
        Column("time", ("受理时间", "来电时间")),
        Column("name", ("当事人", "当事人姓名")),
        Column("phone", ("联系电话", "当事人电话")),
        Column("address", ("事发地址", "地址")),
        Column("category", ("诉求类别", "工单类型")),
        Column("content", ("诉求内容", "工单内容")),
    ),
    share=0.01,
    minimum=30,
    feeds=("12345市民服务热线",),
    hours=((0.8, 14, 4), (0.2, 21, 2)),
    fields=_hotline_fields,
)
HEALTH = Source(
    name="health",
    file_stem="健康云申报",
    columns=(
        Column("time", ("申报时间", "填报时间")),
        Column("name", ("姓名",)),
        Column("id_number", ("证件号码", "身份证号")),
        Column("phone", ("手机号码", "手机号")),
        Column("address", ("居住地址", "现住址")),
        Column("travel", ("近14天旅居地", "旅居史")),
        Column("fever", ("是否发热", "发热")),
        Column("health_code", ("健康码", "健康码颜色")),
    ),
    share=0.06,
    minimum=90,
    feeds=("健康云", "随申办"),
    hours=((0.6, 9, 2), (0.4, 20, 2)),
    fields=_health_fields,
)
SOURCES = (CHECKPOINT, HOTLINE, HEALTH)
