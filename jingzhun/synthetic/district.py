"""A synthetic Pudong-like district laid over the real subdistricts and committees.

Builds the grid table and the housing register: communities (小区) owned by committees, roads
owned by towns, lane-style (里弄/新村) and building-style (小区) addresses. Everything per house
is vectorised with numpy/polars; loops run at most once per committee or community. This module
must never invent a subdistrict or committee (they come from ``jingzhun.synthetic.divisions``), and every
house address it produces must be unique.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from jingzhun.matching.reference import REQUIRED
from jingzhun.synthetic.divisions import CITY_PREFIX, DISTRICT_CODE, DISTRICT_NAME, Divisions

PERSONS_PER_COMMITTEE = 4_000
PERSONS_PER_HOUSE = 2.5
MIN_COMMITTEES = 8
MIN_SUBDISTRICTS = 5
HOUSES_PER_COMMUNITY = 250
ROAD_NUMBER_STEP = 150  # door numbers of successive communities on one road stay this far apart

LANE, BUILDING = 0, 1  # address styles

# Syllable pools for community names: first + second character + a style-specific suffix.
_COMMUNITY_FIRST = tuple(
    "锦金碧翠云香紫玉华盛明东南春秋海江滨绿银丽嘉德祥瑞福康安泰和永怡美佳御君汇仁恒世晨星景兰桂梅松清宏鸿长天"
)
_COMMUNITY_SECOND = tuple("绣桥云湖泉林山河月馨枫荷竹兰桂晖阳都丰盛泰康乐宁和源岸湾洲港汀溪澜悦逸雅杉柏樟臣富")
_LANE_SUFFIXES = ("新村", "一村", "二村", "三村", "小区", "坊", "里", "新苑")
_BUILDING_SUFFIXES = ("苑", "花园", "豪园", "家园", "公寓", "名邸", "华庭", "雅苑", "佳园", "景苑", "嘉园", "公馆")

# Road names: two syllables (many Pudong roads borrow place names) or a scientist's name as in
# Zhangjiang, then 路 / 东路 … / 大道 / 公路.
_ROAD_FIRST = tuple("碧张锦浦杨博源崂潍福峨栖莱沂罗金高川沪龙秀芳青春晨丁科居蔡灵巨东杜临")
_ROAD_SECOND = tuple("波杨山坊霞阳林深兴华桥江川源城海云丰成州平安德泽溪泉湖园岸庆宁港明光")
_ROAD_PEOPLE = ("祖冲之", "郭守敬", "李时珍", "张衡", "蔡伦", "毕昇", "哈雷", "居里", "牛顿", "高斯", "伽利略", "华佗")
# Directions only ever qualify a 路 (锦绣东路), never a 大道 or 公路.
_ROAD_ENDINGS = ("路", "东路", "西路", "南路", "北路", "大道", "公路")
_ROAD_ENDING_P = np.array([0.70, 0.04, 0.04, 0.04, 0.04, 0.04, 0.10])


@dataclass(frozen=True)
class District:
    grids: pl.DataFrame  # grid.csv columns
    housing: pl.DataFrame  # housing.csv columns plus internal ones (see HOUSING_COLUMNS)
    committees: pl.DataFrame  # the committees in use, with subdistrict names


# The grid file holds exactly the columns the product requires of it.
GRID_COLUMNS = REQUIRED["grid"]
HOUSING_COLUMNS = ("house_id", "address", "grid_id", "community", "road", "lane", "number", "building", "unit", "room")


def committee_count(persons: int, available: int) -> int:
    return int(np.clip(round(persons / PERSONS_PER_COMMITTEE), MIN_COMMITTEES, available))


def select_committees(divisions: Divisions, count: int, rng: np.random.Generator) -> pl.DataFrame:
    """Pick ``count`` real committees from as few towns as reasonable, interleaved across towns.

    Towns come in random order (farms and development zones last: they hold almost nobody);
    about sqrt(count) towns are taken, at least MIN_SUBDISTRICTS and enough to supply ``count``
    committees, then committees are taken round-robin so that every chosen town gets a share.
    """
    subs = divisions.subdistricts.with_columns(pl.Series("order_key", rng.random(divisions.subdistricts.height)))
    subs = subs.sort("virtual", "order_key").with_row_index("town_rank")
    committees = (
        divisions.committees.join(subs, on="subdistrict_code")
        .with_columns(pl.Series("shuffle", rng.random(divisions.committees.height)))
        .sort("town_rank", "shuffle")
    )
    available = committees.group_by("town_rank", maintain_order=True).len()["len"].cum_sum()
    needed = int(np.searchsorted(available.to_numpy(), count)) + 1
    towns = max(MIN_SUBDISTRICTS, int(np.ceil(np.sqrt(count))), needed)
    return (
        committees.filter(pl.col("town_rank") < towns)
        .with_columns(pl.int_range(pl.len()).over("town_rank").alias("rank_in_town"))
        .sort("rank_in_town", "town_rank")
        .head(count)
        .sort("committee_code")
        .select("committee_code", "committee_name", "short_name", "kind", "subdistrict_code", "subdistrict_name")
    )


def _split(rng: np.random.Generator, total: int, parts: int, minimum: int) -> np.ndarray:
    """Split ``total`` into ``parts`` uneven positive sizes (each at least ``minimum`` if possible)."""
    floor = min(minimum, total // parts)
    weights = rng.gamma(3.0, size=parts)
    return floor + rng.multinomial(total - floor * parts, weights / weights.sum())


def _unique_names(rng: np.random.Generator, count: int, parts: list[list[str]], p: list[np.ndarray]) -> list[str]:
    """``count`` distinct names, each the concatenation of one item from every part."""
    sizes = [len(part) for part in parts]
    joint = p[0]
    for probs in p[1:]:
        joint = np.multiply.outer(joint, probs).ravel()
    if count > joint.size:
        raise ValueError(f"name pool too small: {count} > {joint.size}")
    flat = rng.choice(joint.size, size=count, replace=False, p=joint / joint.sum())
    return [
        "".join(part[i] for part, i in zip(parts, idx, strict=True))
        for idx in zip(*np.unravel_index(flat, sizes), strict=True)
    ]


def _uniform(n: int) -> np.ndarray:
    return np.full(n, 1.0 / n)


def community_names(rng: np.random.Generator, style: np.ndarray) -> np.ndarray:
    names = np.empty(style.size, dtype=object)
    for which, suffixes in ((LANE, _LANE_SUFFIXES), (BUILDING, _BUILDING_SUFFIXES)):
        mask = style == which
        parts = [list(_COMMUNITY_FIRST), list(_COMMUNITY_SECOND), list(suffixes)]
        names[mask] = _unique_names(rng, int(mask.sum()), parts, [_uniform(len(x)) for x in parts])
    return names


def road_names(rng: np.random.Generator, count: int) -> list[str]:
    bases = [a + b for a in _ROAD_FIRST for b in _ROAD_SECOND if a != b] + list(_ROAD_PEOPLE)
    base_p = np.ones(len(bases))
    base_p[-len(_ROAD_PEOPLE) :] = 3.0  # scientist roads are few but should show up
    return _unique_names(rng, count, [bases, list(_ROAD_ENDINGS)], [base_p, _ROAD_ENDING_P])


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element among the elements of the same group (stable)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    ranks = np.empty(groups.size, dtype=np.int64)
    ranks[order] = np.arange(groups.size) - run_start
    return ranks


def _grid_table(committees: pl.DataFrame, grids_per_committee: np.ndarray) -> pl.DataFrame:
    grid_committee = np.repeat(np.arange(committees.height), grids_per_committee)
    return (
        committees[grid_committee]
        .with_columns(grid_no=pl.Series(_rank_within(grid_committee) + 1))
        .select(
            pl.format("{}G{}", "committee_code", pl.col("grid_no").cast(pl.Utf8).str.zfill(2)).alias("grid_id"),
            pl.format("{}第{}网格", "short_name", "grid_no").alias("grid_name"),
            "committee_code",
            "committee_name",
            "subdistrict_code",
            "subdistrict_name",
            pl.lit(DISTRICT_CODE).alias("district_code"),
            pl.lit(DISTRICT_NAME).alias("district_name"),
        )
    )


def standard_address() -> pl.Expr:
    """The register's full address text for both styles."""
    prefix = CITY_PREFIX + DISTRICT_NAME
    lane = pl.format(prefix + "{}{}{}弄{}号{}室", "town", "road", "lane", "number", "room")
    building = pl.format(prefix + "{}{}{}号{}{}号楼{}室", "town", "road", "number", "community", "building", "room")
    return pl.when(pl.col("style") == LANE).then(lane).otherwise(building).alias("address")


def build_district(divisions: Divisions, persons: int, rng: np.random.Generator) -> District:
    committees = select_committees(divisions, committee_count(persons, divisions.committees.height), rng)
    n_committees = committees.height
    houses_total = max(n_committees * 2, round(persons / PERSONS_PER_HOUSE))
    houses_per_committee = _split(rng, houses_total, n_committees, minimum=20)

    # Grids: several cells per committee, each covering a contiguous run of its houses.
    grids_per_committee = np.minimum(rng.integers(3, 7, size=n_committees), houses_per_committee)
    grids = _grid_table(committees, grids_per_committee)

    # Communities: a few per committee, each with its own style and building layout.
    comm_per_committee = np.maximum(
        2, np.round(houses_per_committee / HOUSES_PER_COMMUNITY * rng.uniform(0.7, 1.3, n_committees))
    ).astype(np.int64)
    comm_per_committee = np.minimum(comm_per_committee, houses_per_committee)
    comm_committee = np.repeat(np.arange(n_committees), comm_per_committee)
    comm_houses = np.concatenate(
        [_split(rng, int(h), int(c), minimum=8) for h, c in zip(houses_per_committee, comm_per_committee, strict=True)]
    )
    n_comm = comm_committee.size
    style = (rng.random(n_comm) < 0.55).astype(np.int64)  # BUILDING = 1
    comm_name = community_names(rng, style)
    floors = np.where(style == LANE, rng.integers(5, 8, n_comm), rng.choice([6, 11, 14, 18, 24, 26], n_comm))
    per_floor = rng.integers(2, 5, n_comm)

    # Roads belong to one town; about two or three communities front each road.
    town_codes, comm_town = np.unique(committees["subdistrict_code"].to_numpy()[comm_committee], return_inverse=True)
    comm_per_town = np.bincount(comm_town, minlength=town_codes.size)
    roads_per_town = np.maximum(1, np.ceil(comm_per_town / 2.5).astype(np.int64))
    road_town_start = np.r_[0, np.cumsum(roads_per_town)[:-1]]
    roads = np.asarray(road_names(rng, int(roads_per_town.sum())), dtype=object)
    comm_road = road_town_start[comm_town] + (rng.random(n_comm) * roads_per_town[comm_town]).astype(np.int64)
    # Distinct door numbers along a road: the r-th community sits in the r-th block of numbers.
    comm_number = _rank_within(comm_road) * ROAD_NUMBER_STEP + rng.integers(1, ROAD_NUMBER_STEP, n_comm)

    # Houses: enumerate rooms building by building inside each community.
    house_comm = np.repeat(np.arange(n_comm), comm_houses)
    k = _rank_within(house_comm)
    capacity = (floors * per_floor)[house_comm]
    within = k % capacity
    house_building = k // capacity + 1
    room = (within // per_floor[house_comm] + 1) * 100 + within % per_floor[house_comm] + 1

    house_committee = comm_committee[house_comm]
    pos_in_committee = _rank_within(house_committee)
    grid_start = np.r_[0, np.cumsum(grids_per_committee)[:-1]]
    house_grid = (
        grid_start[house_committee]
        + pos_in_committee * grids_per_committee[house_committee] // houses_per_committee[house_committee]
    )

    is_lane = style[house_comm] == LANE
    housing = pl.DataFrame(
        {
            "grid_id": grids["grid_id"].gather(house_grid),
            "community": pl.Series(comm_name[house_comm], dtype=pl.Utf8),
            "road": pl.Series(roads[comm_road[house_comm]], dtype=pl.Utf8),
            "style": style[house_comm],
            "lane": pl.Series(np.where(is_lane, comm_number[house_comm], 0)),
            "number": pl.Series(np.where(is_lane, house_building, comm_number[house_comm])),
            "building": pl.Series(np.where(is_lane, 0, house_building)),
            "room": room,
            "committee_code": committees["committee_code"].gather(house_committee),
            "subdistrict_code": committees["subdistrict_code"].gather(house_committee),
            "town": committees["subdistrict_name"].gather(house_committee),
        }
    ).with_columns(
        # 0 marks "not applicable" while building; the register leaves those cells empty.
        pl.when(pl.col(c) > 0).then(pl.col(c)).alias(c)
        for c in ("lane", "building")
    )
    housing = housing.with_columns(
        pl.format("H{}", pl.int_range(1, pl.len() + 1).cast(pl.Utf8).str.zfill(9)).alias("house_id"),
        pl.lit(None, dtype=pl.Int64).alias("unit"),
        standard_address(),
    )
    return District(grids=grids, housing=housing, committees=committees)
