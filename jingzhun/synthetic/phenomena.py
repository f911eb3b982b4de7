"""The phenomena of real exports that the generator adds on request (`jingzhun.synthetic.settings.Settings`): people
away from their registered home, sparse hotline rows, households sharing one phone, communities named after a place
of China, places without a door number, whole columns left empty; and what the truth says about each row
(its phenomena, and whether its evidence names one person of the population).

Each function takes its own random stream, so that turning one phenomenon on changes nothing drawn for another,
and returns its input unchanged when its rate is 0. It must never let a truth line claim what the written row
does not show: an emptied value loses its defect tags, and a row with no address is routed, in the truth, where
nothing but the person's registered home could route it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from jingzhun.synthetic.district import BUILDING, LANE, standard_address
from jingzhun.synthetic.divisions import CITY_PREFIX, DISTRICT_NAME, SHANGHAI_PROVINCE, Divisions
from jingzhun.synthetic.messy import crossing

# Division names lose these to give the bare place name a community may start with (滨江区 -> 滨江).
_DIVISION_SUFFIXES = (
    "自治县",
    "自治旗",
    "自治州",
    "林区",
    "新区",
    "矿区",
    "特区",
    "地区",
    "区",
    "县",
    "市",
    "旗",
    "盟",
)
_PLACEHOLDER_DIVISIONS = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")
PLACE_COMMUNITY_SUFFIXES = {
    LANE: ("新村", "小区", "一村", "二村", "新苑"),
    BUILDING: ("花园", "城市花园", "苑", "公寓", "家园", "名邸", "华庭", "雅苑"),
}
DIRECTIONS = ("东", "南", "西", "北")

# Personal columns a real export may leave empty for a whole file, per source; the address always stays,
# because the truth routes by it. A health file "with only addresses" is the first health pattern.
EMPTY_COLUMN_PATTERNS = {
    "checkpoint": (("phone",), ("name",)),
    "hotline": (("name",), ("phone",)),
    "health": (("name", "id_number", "phone"), ("id_number",)),
}
FIELD_TAG_PREFIX = {"name": "name_", "id_number": "id_", "phone": "phone_", "address": "addr_"}

# The phenomena a truth line may list (its `phenomena` column), in this order.
PHENOMENA = (
    "away_from_home",
    "sparse_hotline",
    "shared_phone",
    "place_name_community",
    "short_town",
    "no_number",
    "empty_column",
)


def place_stems(divisions: Divisions) -> list[str]:
    """Place names of China outside Shanghai as they read without their suffix: 滨江, 东方, 望江, 黄山, 南京."""
    names = pl.concat(
        [divisions.counties.select("name", "province_code"), divisions.cities.select("name", "province_code")]
    )
    names = names.filter(
        (pl.col("province_code") != SHANGHAI_PROVINCE) & ~pl.col("name").is_in(_PLACEHOLDER_DIVISIONS)
    )["name"]
    stems = names.str.replace(f"(?:{'|'.join(_DIVISION_SUFFIXES)})$", "")
    keep = (stems != names) & stems.str.contains(r"^\p{Han}{2,3}$")
    return sorted(set(stems.filter(keep).to_list()))


def name_communities_after_places(
    housing: pl.DataFrame, divisions: Divisions, rng: np.random.Generator, share: float
) -> pl.DataFrame:
    """Rename ``share`` of the communities to a place name and a suffix of their style (滨江花园, 黄山新村), and
    mark their houses ``place_named``; names stay unique, and the addresses are written again."""
    communities = housing.select("community", "style").unique("community", maintain_order=True)
    chosen = rng.random(communities.height) < share
    renamed: dict[str, str] = {}
    if chosen.any():
        stems = place_stems(divisions)
        taken = set(communities["community"])
        for style, suffixes in PLACE_COMMUNITY_SUFFIXES.items():
            old = communities.filter(pl.Series(chosen) & (pl.col("style") == style))["community"].to_list()
            pool = [stem + suffix for stem in stems for suffix in suffixes if stem + suffix not in taken]
            picks = rng.choice(len(pool), size=min(len(old), len(pool)), replace=False)
            renamed |= dict(zip(old, (pool[i] for i in picks), strict=False))
    housing = housing.with_columns(
        community=pl.col("community").replace(renamed),
        place_named=pl.col("community").is_in(list(renamed)),
    )
    return housing.with_columns(standard_address()) if renamed else housing


def share_household_phones(population: pl.DataFrame, rng: np.random.Generator, share: float) -> pl.DataFrame:
    """In ``share`` of the households of two or more, every member gives the first member's phone."""
    house = population["house_idx"].to_numpy()  # the population is sorted by house
    starts = np.flatnonzero(np.r_[True, house[1:] != house[:-1]])
    sizes = np.diff(np.r_[starts, house.size])
    chosen = (rng.random(starts.size) < share) & (sizes >= 2)
    if not chosen.any():
        return population
    head = np.repeat(starts, sizes)
    return population.with_columns(
        phone=pl.when(pl.Series(np.repeat(chosen, sizes))).then(pl.col("phone").gather(head)).otherwise("phone")
    )


def cross_roads(housing: pl.DataFrame) -> dict[str, str]:
    """Per road, the next road of its town in name order (the last one's is the one before): where it crosses."""
    crossing_of: dict[str, str] = {}
    for (_,), roads in (
        housing.select("town", "road").unique().sort("town", "road").group_by("town", maintain_order=True)
    ):
        names = roads["road"].to_list()
        for i, road in enumerate(names):
            if len(names) > 1:
                crossing_of[road] = names[i + 1] if i + 1 < len(names) else names[i - 1]
    return crossing_of


def numberless_places(housing: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Places without a door number, for the housing table: every community as a whole (东泰花园), a spot on every
    road (宏贸路南150米) and the crossing of neighbouring roads of a town (金高路巨峰路口). Each belongs to the
    committee and grid of the first house of its community or road. Same columns as ``housing``, plus ``place``,
    the text after the town; house ids continue the houses'."""
    first = housing.with_row_index("order")
    # Groups in the order of their first house: the random directions and distances below go to the roads by row,
    # and a hash grouping's order changes from run to run (the same seed gave other spots at 200,000 persons).
    communities = (
        first.group_by("community", maintain_order=True)
        .first()
        .select("order", "community", road=pl.lit(None, pl.Utf8), place="community")
    )
    roads = first.group_by("road", maintain_order=True).first()
    spots = roads.select(
        "order",
        community=pl.lit(None, pl.Utf8),
        road="road",
        place=pl.col("road")
        + pl.Series(rng.choice(DIRECTIONS, roads.height))
        + pl.Series(rng.integers(5, 51, roads.height) * 10).cast(pl.Utf8)
        + pl.lit("米"),
    )
    pairs = [(road, crossing(road, other)) for road, other in cross_roads(housing).items() if road < other]
    crossings = (
        pl.DataFrame(pairs, schema={"road": pl.Utf8, "place": pl.Utf8}, orient="row")
        .join(roads.select("road", "order"), on="road")
        .select("order", community=pl.lit(None, pl.Utf8), road=pl.lit(None, pl.Utf8), place="place")
    )
    places = pl.concat([communities, spots, crossings]).sort("order", "place")
    owners = housing[places["order"].to_numpy()].select(
        "grid_id", "committee_code", "subdistrict_code", "town", "place_named"
    )
    return pl.concat([owners, places.drop("order")], how="horizontal").with_columns(
        # Only a community as a whole keeps its name; a spot or a crossing is not the owner's community.
        place_named=pl.col("place_named") & pl.col("community").is_not_null(),
        style=pl.lit(None, pl.Int64),
        **{c: pl.lit(None, pl.Int64) for c in ("lane", "number", "building", "unit", "room")},
        house_id=pl.format("H{}", (pl.int_range(1, pl.len() + 1) + housing.height).cast(pl.Utf8).str.zfill(9)),
        address=pl.lit(CITY_PREFIX + DISTRICT_NAME) + pl.col("town") + pl.col("place"),
    )


def away_from_home(
    house: np.ndarray, home: np.ndarray, rng: np.random.Generator, share: float, houses: int
) -> np.ndarray:
    """The house each subject is at today: for ``share`` of the residents (``home`` >= 0) another house of the
    district, anywhere, so often another subdistrict."""
    away = (home >= 0) & (rng.random(home.size) < share)
    other = rng.integers(0, houses - 1, home.size)
    other += other >= home  # never the home itself
    return np.where(away, other, house)


def place_reports(
    site: np.ndarray, rng: np.random.Generator, share: float, first_place: int, places: int
) -> np.ndarray:
    """``share`` of the rows are about a place without a door number instead of the caller's house."""
    site = site.copy()
    if places:
        about_place = rng.random(site.size) < share
        site[about_place] = first_place + rng.integers(0, places, int(about_place.sum()))
    return site


def sparse_hotline(
    values: dict[str, list[str]],
    defects: list[list[str]],
    people: pl.DataFrame,
    site: np.ndarray,
    rng: np.random.Generator,
    share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``share`` of the hotline rows sparse, half of them with only a phone and an address (no name), half
    with only 陈先生 and a phone (no address: the truth then routes the row to the person's registered home, or
    nowhere for a person not in the population). Changes ``values`` and ``defects`` in place; returns the
    sparse mask and the sites."""
    sparse = rng.random(people.height) < share
    no_name = rng.random(people.height) < 0.5
    site = site.copy()
    surname, male, phone, home = (people[c].to_list() for c in ("surname", "male", "phone", "home_idx"))
    for i in np.flatnonzero(sparse):
        tags = [t for t in defects[i] if not t.startswith("name_")]
        if values["phone"][i] == "":  # a sparse row keeps its phone: it is all the caller gave
            values["phone"][i] = phone[i]
            tags = [t for t in tags if not t.startswith("phone_")]
        if no_name[i]:
            values["name"][i] = ""
        else:
            values["name"][i] = surname[i] + ("先生" if male[i] else "女士")
            values["address"][i] = ""
            tags = [t for t in tags if not t.startswith("addr_")] + ["name_surname_title"]
            site[i] = home[i]
        defects[i] = tags
    return sparse, site


def empty_column_files(
    formats: dict[str, list[str]], rng: np.random.Generator, share: float
) -> dict[tuple[str, int], tuple[str, ...]]:
    """Which files (source, index) get which whole columns emptied: ``share`` of all files, at least one when the
    share is above 0. The files of one source lose the same columns, as one export system's files do; at share 1
    a source has no value at all in them."""
    files = [(source, k) for source, fmts in formats.items() for k in range(len(fmts))]
    count = max(1, round(share * len(files))) if share > 0 else 0
    chosen = sorted(rng.choice(len(files), size=count, replace=False).tolist())
    pattern = {source: options[int(rng.integers(len(options)))] for source, options in EMPTY_COLUMN_PATTERNS.items()}
    return {files[i]: pattern[files[i][0]] for i in chosen}


def finish_file(part: pl.DataFrame, emptied: tuple[str, ...]) -> pl.DataFrame:
    """One file's rows with its emptied columns, and the truth's ``phenomena`` and ``names_one_person``.

    A row's evidence names one person of the population when it carries an ID number; or a full name with a
    phone or the person's own address; or a phone nobody else in the population has, with a name, 陈先生 or the
    person's own address. A phone a household shares, with 陈先生 and another house, names nobody.

    A row without an address is routed, in the truth, to the registered home only when something in it leads
    there: evidence naming the person, or a phone (its holders' home). 陈先生 alone, once the file lost its phone
    column, is nowhere: nothing written could route it."""
    tags = pl.col("defects").fill_null("").str.split("|").list.eval(pl.element().filter(pl.element() != ""))
    phenomena = pl.col("phenomena")
    if emptied:
        part = part.with_columns(pl.lit("").alias(column) for column in emptied)
        dropped = [FIELD_TAG_PREFIX[column] for column in emptied]
        tags = tags.list.eval(pl.element().filter(~pl.any_horizontal(pl.element().str.starts_with(p) for p in dropped)))
        phenomena = phenomena.list.concat(pl.lit(["empty_column"]))

    def written(column: str) -> pl.Expr:
        return (pl.col(column) != "") if column in part.columns else pl.lit(False)

    title = tags.list.contains("name_surname_title")
    full_name = written("name") & ~title
    phone = written("phone")
    at_home = pl.col("at_home") & written("address")
    unique_phone = phone & ~pl.col("phone_shared")
    names_one_person = pl.col("resident") & (
        written("id_number") | (full_name & (phone | at_home)) | (unique_phone & (full_name | title | at_home))
    )
    phenomena = phenomena.list.concat(
        pl.when(pl.col("phone_shared") & phone).then(pl.lit(["shared_phone"])).otherwise(pl.lit([], pl.List(pl.Utf8)))
    )
    in_order = pl.concat_list(pl.when(phenomena.list.contains(p)).then(pl.lit(p)) for p in PHENOMENA).list.drop_nulls()
    nowhere = ~written("address") & ~names_one_person & ~phone
    return part.with_columns(
        *(
            pl.when(nowhere).then(None).otherwise(column).alias(column)
            for column in ("house_id", "committee_code", "subdistrict_code")
        ),
        defects=tags.list.join("|").replace("", None),
        phenomena=in_order.list.join("|").replace("", None),
        names_one_person=names_one_person,
    )
