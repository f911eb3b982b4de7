"""Address resolution: a record's parsed address to a house, or at least to the committee that owns it.

Both sides are parsed by the same parser (`jingzhun.cleansing.address`), so a key built here means the same thing for a
record and for a house. Levels run from the most precise to the least; a key resolves at a level only when it
points to exactly one house (house levels) or one committee (coarser levels): this stage never picks between
candidates, it leaves the record to the next level or to review.
"""

from __future__ import annotations

from functools import cache

import duckdb
import polars as pl

# (level, key) from the most precise to the least. A house level gives a house_id; the others a committee.
LEVELS: tuple[tuple[str, str], ...] = (
    ("house", "key_room"),
    ("house", "key_community_room"),
    ("building", "key_building"),
    ("building", "key_community_building"),
    ("lane", "key_lane"),
    ("community", "key_community"),
)
KEY_COLUMNS = tuple(dict.fromkeys(key for _, key in LEVELS))


def with_address_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the match keys from the `addr_*` columns; a key is null when any of its parts is."""
    number = pl.col("addr_road_number").str.extract(r"(\d+)")
    road, community = pl.col("addr_road"), pl.col("addr_community")
    building, room = pl.col("addr_building"), pl.col("addr_room")
    return frame.with_columns(
        key_room=pl.concat_str([road, number, building, room], separator="|"),
        key_community_room=pl.concat_str([community, building, room], separator="|"),
        key_building=pl.concat_str([road, number, building], separator="|"),
        key_community_building=pl.concat_str([community, building], separator="|"),
        key_lane=pl.concat_str([road, number], separator="|"),
        key_community=community,
    )


def resolve_fuzzy(records: pl.DataFrame, houses: pl.DataFrame, min_score: float, min_gap: float,
                  same: tuple[str, str] | None = None) -> pl.DataFrame:
    """Houses for records whose road or community name is misspelt but whose numbers are exact.

    Candidates are the houses with the same lane, building and room numbers (by road, or by community when the
    record names no road); names are scored with rapidfuzz on their characters and on their pinyin syllables,
    whichever is closer: a pinyin keyboard's slip is a homophone (张扬路 for 张杨路), 100 on syllables.
    Returns record_id, house_id, fuzzy_score and `fuzzy_ambiguous` for the records where a near-identical
    second candidate made it refuse. With `same` = (record column, house column), a house whose value differs
    from the record's (both known) is no candidate: the subdistrict the address names, for instance.
    """
    from rapidfuzz import fuzz

    def keyed(frame: pl.DataFrame, by_road: bool, constraint: str | None) -> pl.DataFrame:
        number = pl.col("addr_road_number").str.extract(r"(\d+)")
        parts = [number, pl.col("addr_building"), pl.col("addr_room")] if by_road else \
            [pl.col("addr_building"), pl.col("addr_room")]
        return frame.select(
            "record_id" if "record_id" in frame.columns else "house_id",
            kind=pl.lit("road" if by_road else "community"),
            place=pl.col("addr_road" if by_road else "addr_community"),
            numbers=pl.concat_str(parts, separator="|"),
            constraint=pl.col(constraint) if constraint else pl.lit(None, pl.Utf8),
        ).drop_nulls(["place", "numbers"])

    mine, theirs = same or (None, None)
    wanted = pl.concat([keyed(records.filter(pl.col("addr_road").is_not_null()), True, mine),
                        keyed(records.filter(pl.col("addr_road").is_null()), False, mine)])
    offered = pl.concat([keyed(houses, True, theirs), keyed(houses, False, theirs)])
    pairs = wanted.join(offered, on=["kind", "numbers"], suffix="_house").filter(
        pl.col("constraint").is_null() | pl.col("constraint_house").is_null()
        | (pl.col("constraint") == pl.col("constraint_house")))
    pairs = pairs.with_columns(fuzzy_score=pl.Series(
        [max(fuzz.ratio(a, b), fuzz.ratio(_pinyin(a), _pinyin(b)))
         for a, b in zip(pairs["place"], pairs["place_house"], strict=True)], dtype=pl.Float64))
    ranked = pairs.filter(pl.col("fuzzy_score") >= min_score).sort(
        ["record_id", "fuzzy_score", "house_id"], descending=[False, True, False])
    best = ranked.group_by("record_id", maintain_order=True).agg(
        pl.col("house_id").first(), pl.col("fuzzy_score").first(),
        second=pl.col("fuzzy_score").get(1, null_on_oob=True))
    distinct = pl.col("second").is_null() | (pl.col("fuzzy_score") - pl.col("second") >= min_gap)
    return best.select(
        "record_id",
        house_id=pl.when(distinct).then(pl.col("house_id")),
        fuzzy_score=pl.col("fuzzy_score"),
        fuzzy_ambiguous=~distinct,
    )


@cache
def _pinyin(place: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(place))


def with_building_id(houses: pl.DataFrame) -> pl.DataFrame:
    """A house's building: the building key by road, or by community when the address names no road."""
    return houses.with_columns(building_id=pl.coalesce("key_building", "key_community_building"))


def resolve_addresses(con: duckdb.DuckDBPyConnection, records: pl.DataFrame, houses: pl.DataFrame) -> pl.DataFrame:
    """For every record: `address_level` (house, building, lane, community or null), `house_id`, `grid_id`,
    `committee_code`, and `address_ambiguous` when a key named several houses or committees.

    `records` has record_id and the keys; `houses` has house_id, building_id, grid_id, committee_code and the keys.
    A record resolved to a house or a single building also gets that `building_id`.
    """
    con.register("record_keys", records.select("record_id", *KEY_COLUMNS))
    con.register("house_keys", houses.select("house_id", "building_id", "grid_id", "committee_code", *KEY_COLUMNS))
    ctes, joins, level_cases, house_cases, grid_cases, committee_cases, ambiguous = [], [], [], [], [], [], []
    building_cases = []
    for i, (level, key) in enumerate(LEVELS):
        ctes.append(
            f"l{i} AS (SELECT {key} AS k, count(DISTINCT house_id) AS houses, any_value(house_id) AS house_id, "
            f"count(DISTINCT building_id) AS buildings, any_value(building_id) AS building_id, "
            f"count(DISTINCT grid_id) AS grids, any_value(grid_id) AS grid_id, "
            f"count(DISTINCT committee_code) AS committees, any_value(committee_code) AS committee_code "
            f"FROM house_keys WHERE {key} IS NOT NULL GROUP BY 1)"
        )
        joins.append(f"LEFT JOIN l{i} ON r.{key} = l{i}.k")
        resolved = f"l{i}.houses = 1" if level == "house" else f"l{i}.committees = 1"
        level_cases.append(f"WHEN {resolved} THEN '{level}'")
        if level == "house":
            house_cases.append(f"WHEN {resolved} THEN l{i}.house_id")
            ambiguous.append(f"l{i}.houses > 1")
        grid_cases.append(f"WHEN {resolved} THEN CASE WHEN l{i}.grids = 1 THEN l{i}.grid_id END")
        building_cases.append(f"WHEN {resolved} THEN CASE WHEN l{i}.buildings = 1 THEN l{i}.building_id END")
        committee_cases.append(f"WHEN {resolved} THEN l{i}.committee_code")
        if level != "house":
            ambiguous.append(f"l{i}.committees > 1")
    sql = f"""
        WITH {", ".join(ctes)}
        SELECT r.record_id,
               CASE {" ".join(level_cases)} END AS address_level,
               CASE {" ".join(house_cases)} END AS house_id,
               CASE {" ".join(building_cases)} END AS building_id,
               CASE {" ".join(grid_cases)} END AS grid_id,
               CASE {" ".join(committee_cases)} END AS committee_code,
               coalesce({" OR ".join(ambiguous)}, false) AS address_ambiguous
        FROM record_keys r {" ".join(joins)}
        ORDER BY r.record_id
    """
    return con.sql(sql).pl()
