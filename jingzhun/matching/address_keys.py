"""The match keys of a parsed address, the same for a record and for a house: what the address stage joins on.

In a module of their own, apart from the stages that resolve a day's addresses (`jingzhun.matching.address`),
because standardizing the reference makes them too: this module is part of the digest that says when the
standardized reference must be made again (`jingzhun.matching.standardized`), and an edit to how a day is
resolved must not re-standardize ten million persons.
"""

from __future__ import annotations

import polars as pl

# (level, key) from the most precise to the least. A house level gives a house_id; the others a committee.
LEVELS: tuple[tuple[str, str], ...] = (
    ("house", "key_room"),
    ("house", "key_community_room"),
    ("house", "key_place"),
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
    # A place without numbers written whole, its road or community and the words after them (博庆路北460米,
    # 打浦路斜土路口东泰花园): where the register holds such a place (a hotline's place, issue 8), the same words
    # are that place. Before, such a text reached only the token stage, whose `relative` rule refuses a distance.
    numbers = ("addr_road_number", "addr_building", "addr_unit", "addr_floor", "addr_room")
    place = pl.all_horizontal(pl.col(c).is_null() for c in numbers) & pl.col("addr_rest").is_not_null()
    return frame.with_columns(
        key_place=pl.when(place & (road.is_not_null() | community.is_not_null())).then(
            pl.concat_str([road.fill_null(""), community.fill_null(""), pl.col("addr_rest")], separator="|")
        ),
        key_room=pl.concat_str([road, number, building, room], separator="|"),
        key_community_room=pl.concat_str([community, building, room], separator="|"),
        key_building=pl.concat_str([road, number, building], separator="|"),
        key_community_building=pl.concat_str([community, building], separator="|"),
        key_lane=pl.concat_str([road, number], separator="|"),
        key_community=community,
    )


def with_building_id(houses: pl.DataFrame) -> pl.DataFrame:
    """A house's building: the building key by road, or by community when the address names no road."""
    return houses.with_columns(building_id=pl.coalesce("key_building", "key_community_building"))
