"""Address resolution: a record's parsed address to a house, or at least to the committee that owns it.

Both sides are parsed by the same parser (`jingzhun.cleansing.address`), so a key built here means the same thing for a
record and for a house. Levels run from the most precise to the least; a key resolves at a level only when it
points to exactly one house (house levels) or one committee (coarser levels): this stage never picks between
candidates, it leaves the record to the next level or to review.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cache
from typing import Any

import duckdb
import polars as pl

from jingzhun.cleansing.address import NOTE_PATTERN
from jingzhun.core.warehouse import has_table, open_duckdb
from jingzhun.matching.address_keys import KEY_COLUMNS, LEVELS


def resolve_fuzzy(
    records: pl.DataFrame,
    houses: pl.DataFrame | pl.LazyFrame,
    min_score: float,
    min_gap: float,
    same: tuple[str, str] | None = None,
) -> pl.DataFrame:
    """Houses for records whose road or community name is misspelt but whose numbers are exact.

    Candidates are the houses with the same lane, building and room numbers (by road, or by community when the
    record names no road); names are scored with rapidfuzz on their characters and on their pinyin syllables,
    whichever is closer: a pinyin keyboard's slip is a homophone (张扬路 for 张杨路), 100 on syllables.
    Returns record_id, house_id, fuzzy_score and `fuzzy_ambiguous` for the records where a near-identical
    second candidate made it refuse. With `same` = (record column, house column), a house whose value differs
    from the record's (both known) is no candidate: the subdistrict the address names, for instance.
    """
    from rapidfuzz import fuzz

    def keyed(frame: pl.DataFrame | pl.LazyFrame, by_road: bool, constraint: str | None) -> Any:
        number = pl.col("addr_road_number").str.extract(r"(\d+)")
        parts = (
            [number, pl.col("addr_building"), pl.col("addr_room")]
            if by_road
            else [pl.col("addr_building"), pl.col("addr_room")]
        )
        return frame.select(
            "record_id" if "record_id" in frame.collect_schema().names() else "house_id",
            kind=pl.lit("road" if by_road else "community"),
            place=pl.col("addr_road" if by_road else "addr_community"),
            numbers=pl.concat_str(parts, separator="|"),
            constraint=pl.col(constraint) if constraint else pl.lit(None, pl.Utf8),
        ).drop_nulls(["place", "numbers"])

    mine, theirs = same or (None, None)
    wanted = pl.concat(
        [
            keyed(records.filter(pl.col("addr_road").is_not_null()), True, mine),
            keyed(records.filter(pl.col("addr_road").is_null()), False, mine),
        ]
    )
    # Only the houses with numbers some record writes: the others are no candidate of any (four million houses keyed
    # whole were gigabytes).
    held = wanted.select("kind", "numbers").unique().lazy()
    offered = pl.concat(
        [
            keyed(houses.lazy(), by_road, theirs).join(held, on=["kind", "numbers"], how="semi")
            for by_road in (True, False)
        ]
    ).collect()
    pairs = wanted.join(offered, on=["kind", "numbers"], suffix="_house").filter(
        pl.col("constraint").is_null()
        | pl.col("constraint_house").is_null()
        | (pl.col("constraint") == pl.col("constraint_house"))
    )
    pairs = pairs.with_columns(
        fuzzy_score=pl.Series(
            [
                max(fuzz.ratio(a, b), fuzz.ratio(_pinyin(a), _pinyin(b)))
                for a, b in zip(pairs["place"], pairs["place_house"], strict=True)
            ],
            dtype=pl.Float64,
        )
    )
    ranked = pairs.filter(pl.col("fuzzy_score") >= min_score).sort(
        ["record_id", "fuzzy_score", "house_id"], descending=[False, True, False]
    )
    best = ranked.group_by("record_id", maintain_order=True).agg(
        pl.col("house_id").first(), pl.col("fuzzy_score").first(), second=pl.col("fuzzy_score").get(1, null_on_oob=True)
    )
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


def resolve_addresses(
    con: duckdb.DuckDBPyConnection, records: pl.DataFrame, houses: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    """For every record: `address_level` (house, building, lane, community or null), `house_id`, `grid_id`,
    `committee_code`, and `address_ambiguous` when a key named several houses or committees.

    `records` has record_id and the keys; `houses` has house_id, building_id, grid_id, committee_code and the keys.
    A record resolved to a house or a single building also gets that `building_id`.
    """
    # Tables, not registered frames: each of the six levels reads both, and DuckDB scans a registered Arrow
    # object again (converting it) at every reference.
    con.register("record_frame", records.select("record_id", *KEY_COLUMNS))
    # Only the houses holding a key of the day's records: the day's cost follows its rows, not the register.
    held = pl.any_horizontal(pl.col(key).is_in(records[key].drop_nulls().unique().implode()) for key in KEY_COLUMNS)
    con.register(
        "house_frame",
        houses.lazy()
        .filter(held)
        .select("house_id", "building_id", "grid_id", "committee_code", *KEY_COLUMNS)
        .collect(),
    )
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE record_keys AS SELECT * FROM record_frame")
        con.execute("CREATE OR REPLACE TEMP TABLE house_keys AS SELECT * FROM house_frame")
    finally:
        con.unregister("record_frame")
        con.unregister("house_frame")
    # A key's houses (buildings, grids, committees) are one when their least and greatest agree, several when
    # not, none when both are null: what count(DISTINCT) says, at the cost of two comparisons a row.
    ctes, joins, level_cases, house_cases, grid_cases, committee_cases, ambiguous = [], [], [], [], [], [], []
    building_cases = []
    spans = ("house_id", "building_id", "grid_id", "committee_code")
    for i, (level, key) in enumerate(LEVELS):
        ctes.append(
            f"l{i} AS (SELECT {key} AS k, "
            + ", ".join(f"min({c}) AS {c}, max({c}) AS {c}_max" for c in spans)
            # Only the keys the day's records hold: a day of 10k rows need not group 10M houses six times.
            + f" FROM house_keys WHERE {key} IN (SELECT {key} FROM record_keys) GROUP BY 1)"
        )
        joins.append(f"LEFT JOIN l{i} ON r.{key} = l{i}.k")

        def one(column: str, at: int = i) -> str:
            return f"l{at}.{column} = l{at}.{column}_max"

        def several(column: str, at: int = i) -> str:
            return f"l{at}.{column} <> l{at}.{column}_max"

        resolved = one("house_id") if level == "house" else one("committee_code")
        level_cases.append(f"WHEN {resolved} THEN '{level}'")
        if level == "house":
            house_cases.append(f"WHEN {resolved} THEN l{i}.house_id")
            ambiguous.append(several("house_id"))
        grid_cases.append(f"WHEN {resolved} THEN CASE WHEN {one('grid_id')} THEN l{i}.grid_id END")
        building_cases.append(f"WHEN {resolved} THEN CASE WHEN {one('building_id')} THEN l{i}.building_id END")
        committee_cases.append(f"WHEN {resolved} THEN l{i}.committee_code")
        if level != "house":
            ambiguous.append(several("committee_code"))
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
    try:
        return con.sql(sql).pl()
    finally:
        con.execute("DROP TABLE IF EXISTS temp.record_keys")
        con.execute("DROP TABLE IF EXISTS temp.house_keys")


# The words (character pairs of each run of Chinese characters) and the numbers (as numbers: 0455 is 455) of an
# address's standardized text, with the parsed road, district and town. The numbers the parser read in Chinese
# (五号楼, 三楼 → 5, 3) count as numbers too. `inner_numbers` are
# those of a unit or room, inside a building, and of a floor after a building (34号楼一楼; a floor alone is not: 66楼 is
# as often the building as its floor);
# `outer_numbers` the others. `admin_words` are the words of the divisions the parser found (浙江省杭州市余杭区
# 闲林街道, long or short): they say where, not which place, so they weigh in what two texts share but are not a
# place one text names and the other does not.
_WORDS_SQL = r"""
WITH located AS (
    SELECT * REPLACE (regexp_replace(coalesce(address, ''), '{distance}', '|', 'g') AS address),
           coalesce(address, '') AS written
    FROM {table}),
divided AS (
    SELECT *, list_filter([addr_province, addr_city, addr_district, addr_town], lambda d: d IS NOT NULL AND d <> '')
                  AS divisions
    FROM located),
-- A word is no pair across the end of a division, where the text first writes it (广州市|白云, 永阳街道|中山东路):
-- such a pair (市白, 道中) names nothing, yet counted as a name both texts share or one lacks wherever another
-- text happens to hold it.
-- (The first place the text writes a division found by strpos, not by a regex of it: a pattern that changes from
-- row to row is compiled for every row, and was nine tenths of the words' cost.)
named AS (
    SELECT *, regexp_replace(list_reduce(divisions, lambda text, part: CASE WHEN strpos(text, part) > 0
                                 THEN substr(text, 1, strpos(text, part) - 1) || part || '|'
                                      || substr(text, strpos(text, part) + length(part))
                                 ELSE text END, address),
                             '{number}', '|', 'g') AS names
    FROM divided),
-- The name's last words come before a note for the courier (王宁前街村电话联系: the parser's notes).
noted AS (SELECT *, regexp_replace(names, '(?:{note}).*$', '') AS placed FROM named)
SELECT {id} AS unique_id, {is_house} AS is_house,
       list_distinct(flatten(list_transform(regexp_extract_all(names, '\p{{Han}}+'),
                                            lambda r: list_transform(range(1, length(r)), lambda i: substr(r, i, 2)))))
           AS words,
       list_distinct(list_transform(
           flatten([regexp_extract_all(upper(coalesce(address, '')), '\d+|[A-Z]+'),
                    regexp_extract_all(concat_ws('|', addr_road_number, addr_building, addr_unit, addr_floor,
                                                 addr_room), '\d+')]),
           lambda n: coalesce(nullif(ltrim(n, '0'), ''), '0'))) AS numbers,
       list_filter(list_distinct(list_transform(
           regexp_extract_all(concat_ws('|', addr_unit, addr_room,
                                        CASE WHEN addr_building IS NOT NULL THEN addr_floor END), '\d+'),
           lambda n: coalesce(nullif(ltrim(n, '0'), ''), '0'))),
           -- A number that is also the lane or the building's (1号楼1单元) stays outer: the house must hold it.
           lambda n: NOT list_contains(list_transform(
               regexp_extract_all(concat_ws('|', addr_road_number, addr_building), '\d+'),
               lambda o: coalesce(nullif(ltrim(o, '0'), ''), '0')), n)) AS inner_numbers,
       list_distinct(flatten(list_transform(divisions,
                                            lambda d: list_transform(range(1, length(d)), lambda i: substr(d, i, 2)))))
           AS admin_words,
       regexp_matches(written, ?) AS relative,
       -- The word the name ends with, and the one before a bracket it ends with (a branch, a road, or the place
       -- itself: 波浪美发(南秀村路店), 十四号(华西口腔医院)): either may be the place's last word.
       list_distinct(list_filter(
           [right(regexp_extract_all(placed, '\p{{Han}}{{2,}}')[-1], 2),
            right(regexp_extract_all(regexp_replace(placed, '[(（][^()（）]*[)）][^\p{{Han}}]*$', ''),
                                     '\p{{Han}}{{2,}}')[-1], 2)],
           lambda w: w IS NOT NULL)) AS tails,
       addr_road AS road, addr_district AS district, addr_town AS town, addr_community AS community,
       -- The numbers of each level the parser read, for comparing two texts level by level (`with_named_levels`).
       {field_numbers_road} AS road_numbers,
       {field_numbers_building} AS building_numbers,
       {field_numbers_floor} AS floor_numbers,
       {field_numbers_inside} AS inside_numbers
FROM noted
"""


def _field_numbers(*fields: str) -> str:
    """The numbers (as numbers, 0455 is 455; letters too: C座) the parser read in these fields of an address."""
    text = ", ".join(fields)
    return (
        f"list_distinct(list_transform(regexp_extract_all(upper(concat_ws('|', {text})), '\\d+|[A-Z]+'), "
        "lambda n: coalesce(nullif(ltrim(n, '0'), ''), '0')))"
    )


for _level, _fields in {
    "road": ("addr_road_number",),
    "building": ("addr_building",),
    "floor": ("addr_floor",),
    "inside": ("addr_unit", "addr_room"),
}.items():
    _WORDS_SQL = _WORDS_SQL.replace(f"{{field_numbers_{_level}}}", _field_numbers(*_fields))
# A distance from a crossing or a road (交叉口西北200米, 路南150米, 东行50米) places the text; it is no number of the
# place (no lane, building or room) and its direction no word of its name: both are left out of words and numbers.
_DISTANCE = r"(?:向|往)?[东南西北]{0,2}(?:侧|方向|行)?约?\d+(?:\.\d+)?(?:米|公里)"
# A number with its unit (第3, 455弄, 1-10号, C座, 6区) is compared as a number, not read as part of a name.
_NUMBER_WITH_UNIT = r"第?(?:\d+|[A-Za-z]+)(?:[-之]\d+)*(?:号楼|单元|支弄|[号弄栋幢座室楼层户期区组队米])?"
# Each word worth the bits of its rarity among the houses of the register (a word no house holds is worth nothing:
# it tells no place of the register); the words few houses hold for blocking.
_TOKENS_SQL = """
WITH exploded AS (SELECT unique_id, admin_words, unnest(words) AS w FROM {table}),
weighed AS (
    SELECT e.unique_id, e.w, list_contains(e.admin_words, e.w) AS a, f.houses,
           coalesce(log2({houses} / f.houses), 0) AS b
    FROM exploded e LEFT JOIN word_houses f ON e.w = f.w),
-- (Lists sorted once made, not aggregates with their own ORDER BY, which sort each address's rows apart and were
-- most of the weighing's cost; the rarest word is the least (houses, word). A word is once in an address's words,
-- so its tokens sorted are sorted by word. Their bits are added in that order, as the comparisons add them
-- (`matching/comparisons.py`): a name all of whose words the other text lacks lacks exactly all its bits. Added
-- by the aggregate, the sum's last bits followed the order its rows came in, which changed with the batches.)
listed AS (
    SELECT unique_id,
           list_sort(list({{'t': w, 'b': b, 'a': a}})) AS tokens,
           list_sort(list(w) FILTER (WHERE houses <= {block_max})) AS block_tokens,
           (min({{'n': houses, 'w': w}}) FILTER (WHERE houses IS NOT NULL)).w AS rarest_token
    FROM weighed GROUP BY unique_id),
per_address AS (
    SELECT unique_id, tokens, list_sum(list_transform(tokens, lambda t: t.b)) AS token_bits,
           coalesce(list_sum(list_transform(list_filter(tokens, lambda t: NOT t.a), lambda t: t.b)), 0) AS name_bits,
           block_tokens, rarest_token
    FROM listed),
-- The last words that are no division's (a text need not write the district). A word no house holds counts too:
-- 兴凯镇九组, 港城华庭港庭阁, 长青企业广场招商部 name a part of the place the register does not hold, not the
-- place (a note for the courier is cut off before, in `placed`).
name_tails AS (
    SELECT unique_id, list(t ORDER BY t) AS tails
    FROM (SELECT unique_id, admin_words, unnest(tails) AS t FROM {table})
    WHERE NOT list_contains(admin_words, t)
    GROUP BY unique_id)
SELECT a.unique_id, a.is_house, a.numbers,
       list_filter(a.numbers, lambda n: NOT list_contains(a.inner_numbers, n)) AS outer_numbers,
       a.road, a.district, a.town, a.words, a.relative,
       a.community, a.road_numbers, a.building_numbers, a.floor_numbers, a.inside_numbers,
       log2({houses}) AS register_bits,
       coalesce(p.tokens, []) AS tokens, coalesce(p.token_bits, 0) AS token_bits,
       coalesce(p.name_bits, 0) AS name_bits,
       coalesce(p.block_tokens, []) AS block_tokens, p.rarest_token,
       coalesce(k.tails, []) AS tails
FROM {table} a LEFT JOIN per_address p USING (unique_id) LEFT JOIN name_tails k USING (unique_id)
"""
# The columns of an address the token stage reads, of houses and of records alike.
TOKEN_COLUMNS = (
    "address",
    "addr_province",
    "addr_city",
    "addr_district",
    "addr_town",
    "addr_community",
    "addr_road",
    "addr_road_number",
    "addr_building",
    "addr_unit",
    "addr_floor",
    "addr_room",
)


def token_register_key(houses_fingerprint: str, config: dict[str, Any]) -> str:
    """What the houses' token tables and the token model depend on: the houses (their files' fingerprint), the
    stage's settings, and the code that makes words and compares them. A change to any of them trains anew."""
    from jingzhun.matching.comparisons import address_settings

    return hashlib.sha256(
        json.dumps(
            [
                houses_fingerprint,
                config,
                address_settings(),
                _WORDS_SQL,
                _TOKENS_SQL,
                _NUMBER_WITH_UNIT,
                _DISTANCE,
                NOTE_PATTERN,
            ],
            sort_keys=True,
            default=str,
        ).encode("utf-8")
    ).hexdigest()


# The per-address lists of `_TOKENS_SQL` are aggregates DuckDB cannot spill: over the 40M words of 4M houses they
# ran out of its memory. Addresses are weighed this many at a time (each batch's rows depend only on its own
# addresses and the register's word counts, made first over all houses), in the order they were given.
_BATCH_ROWS = 250_000


def _store_words(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, table: str, id_column: str, config: dict[str, Any]
) -> int:
    """The temp table `table` of `_WORDS_SQL`'s rows of `frame` (`id_column` and `TOKEN_COLUMNS`: houses by
    house_id, records by record_id), made `_BATCH_ROWS` rows at a time, each with its `batch` and its `position`
    in the frame. How many batches there are."""
    is_house = id_column == "house_id"
    unique_id = "{}" if is_house else "CAST({} AS VARCHAR)"
    batches = max(1, -(-frame.height // _BATCH_ROWS))
    con.execute(f"DROP TABLE IF EXISTS temp.{table}")
    for batch in range(batches):
        start = batch * _BATCH_ROWS
        part = frame.slice(start, _BATCH_ROWS).select(id_column, *TOKEN_COLUMNS).with_row_index("position", start)
        con.register("words_frame", part)
        try:
            words = _WORDS_SQL.format(
                id=unique_id.format(id_column),
                is_house=str(is_house).lower(),
                table="words_frame",
                number=_NUMBER_WITH_UNIT,
                distance=_DISTANCE,
                note=NOTE_PATTERN,
            )
            positions = f"SELECT {unique_id.format(id_column)} AS unique_id, position FROM words_frame"
            rows = f"SELECT w.*, {batch} AS batch, p.position FROM ({words}) w JOIN ({positions}) p USING (unique_id)"
            into = f"CREATE TEMP TABLE {table} AS " if batch == 0 else f"INSERT INTO temp.{table} "
            con.execute(into + rows, [config["relative"]])
        finally:
            con.unregister("words_frame")
    return batches


def _weighed(words: str, batch: int, houses: int, config: dict[str, Any]) -> str:
    """The query of `_TOKENS_SQL`'s rows of one batch of the words table `words`, in the frame's order (the
    table `word_houses` holds the register's word counts)."""
    part = f"(SELECT * EXCLUDE (batch, position) FROM temp.{words} WHERE batch = {batch})"
    tokens = _TOKENS_SQL.format(table=part, houses=float(max(houses, 1)), block_max=config["block_max_houses"])
    return (
        f"SELECT t.* FROM ({tokens}) t "
        f"JOIN (SELECT unique_id, position FROM temp.{words} WHERE batch = {batch}) p USING (unique_id) "
        "ORDER BY p.position"
    )


def store_house_tokens(
    con: duckdb.DuckDBPyConnection, houses: pl.DataFrame | pl.LazyFrame, config: dict[str, Any], key: str
) -> None:
    """The houses' side of the token stage, in the warehouse `con` under `key` unless it is there already: every
    house's words with their bits, numbers and blocking words (`token_houses`, in the order of `houses`) and how
    many houses hold each word (`token_words`). They depend on the houses alone, so they are made once per
    register, not once a day."""
    if (
        has_table(con, "token_words")
        and con.execute("SELECT count(*) FROM token_words WHERE register_key = ?", [key]).fetchall()[0][0]
    ):
        return
    houses = houses.lazy().collect()  # read only for a register not kept yet
    try:
        batches = _store_words(con, houses, "house_words", "house_id", config)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE word_houses AS SELECT w, count(*) AS houses "
            "FROM (SELECT unnest(words) AS w FROM house_words) GROUP BY w"
        )
        for batch in range(batches):
            rows = f"SELECT *, $key AS register_key FROM ({_weighed('house_words', batch, houses.height, config)})"
            into = "CREATE OR REPLACE TABLE token_houses AS " if batch == 0 else "INSERT INTO token_houses "
            con.execute(into + rows, {"key": key})
        # Written last: a register whose words are stored is complete.
        con.execute(
            "CREATE OR REPLACE TABLE token_words AS SELECT *, $key AS register_key FROM word_houses", {"key": key}
        )
    finally:
        con.execute("DROP TABLE IF EXISTS temp.house_words")
        con.execute("DROP TABLE IF EXISTS temp.word_houses")


def record_tokens(
    con: duckdb.DuckDBPyConnection, records: pl.DataFrame, houses: int, config: dict[str, Any], key: str
) -> pl.DataFrame:
    """The token table of `records` (record_id, address, addr_*), their words weighed by the register of `key`
    (`store_house_tokens`) of `houses` houses, in the order of `records`."""
    try:
        batches = _store_words(con, records, "record_words", "record_id", config)
        # (A view takes no parameters; the key is a hex digest.)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW word_houses AS SELECT w, houses FROM token_words WHERE register_key = '{key}'"
        )
        return pl.concat([con.sql(_weighed("record_words", batch, houses, config)).pl() for batch in range(batches)])
    finally:
        con.execute("DROP VIEW IF EXISTS temp.word_houses")
        con.execute("DROP TABLE IF EXISTS temp.record_words")


def house_tokens(
    con: duckdb.DuckDBPyConnection, key: str, records: pl.DataFrame | None = None, sample: tuple[int, int] | None = None
) -> pl.DataFrame:
    """The houses' token tables of the register `key`; with `records` (their token tables), only the houses that
    share a blocking word with one of them: the only candidates there can be, so a day's cost follows its rows.
    With `sample` = (at most, seed), a register of more houses gives that many, drawn by `_SAMPLE_ORDER` in the
    warehouse (as `sampled` draws from a frame): the whole register is never read for the training."""
    if records is None:
        register = "FROM token_houses WHERE register_key = $key"
        if sample is not None and con.execute(f"SELECT count(*) {register}", {"key": key}).fetchall()[0][0] > sample[0]:
            return con.sql(
                f"SELECT * EXCLUDE (register_key) {register} AND unique_id IN ("
                f"SELECT unique_id {register} ORDER BY {_SAMPLE_ORDER.format(id='unique_id')} "
                f"LIMIT $most) ORDER BY unique_id",
                params={"key": key, "most": sample[0], "seed": str(sample[1])},
            ).pl()
        return con.sql(f"SELECT * EXCLUDE (register_key) {register}", params={"key": key}).pl()
    con.register("record_table", records.select("block_tokens"))
    try:
        return con.sql(
            """
            SELECT * EXCLUDE (register_key) FROM token_houses
            WHERE register_key = $key AND unique_id IN (
                SELECT unique_id FROM (SELECT unique_id, unnest(block_tokens) AS w FROM token_houses
                                       WHERE register_key = $key)
                WHERE w IN (SELECT unnest(block_tokens) FROM record_table))
            ORDER BY unique_id""",
            params={"key": key},
        ).pl()
    finally:
        con.unregister("record_table")


# A reproducible sample: the rows whose id, salted by the seed, has the smallest digests. The same register (and
# day) gives the same sample, whatever order the warehouse returns rows in; md5, not DuckDB's hash(), which a
# version of DuckDB may change.
_SAMPLE_ORDER = "md5($seed || '|' || CAST({id} AS VARCHAR)), {id}"


def sampled(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, most: int, seed: int) -> pl.DataFrame:
    """`frame` (token tables, `unique_id`) itself when it has at most `most` rows, else `most` of them drawn by
    `_SAMPLE_ORDER`, in the frame's order."""
    if frame.height <= most:
        return frame
    con.register("sample_frame", frame.select("unique_id"))
    try:
        chosen = con.sql(
            f"SELECT unique_id FROM sample_frame ORDER BY {_SAMPLE_ORDER.format(id='unique_id')} LIMIT $most",
            params={"most": most, "seed": str(seed)},
        ).pl()
    finally:
        con.unregister("sample_frame")
    return frame.filter(pl.col("unique_id").is_in(chosen["unique_id"].implode()))


def token_tables(records: pl.DataFrame, houses: pl.DataFrame, config: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """The token tables `record` and `house` of `records` (record_id, address, addr_*) and `houses` (house_id,
    address, addr_*): the words with their bits, the numbers, blocking words, road, district, town, and whether
    the text places itself by another place or names a gate of one. Made as a day makes them (a register in a
    throwaway DuckDB), to look at on their own."""
    with open_duckdb() as con:
        store_house_tokens(con, houses, config, "tables")
        return {
            "record": record_tokens(con, records, houses.height, config, "tables"),
            "house": house_tokens(con, "tables"),
        }


def score_address_tokens(
    con: duckdb.DuckDBPyConnection,
    records: pl.DataFrame,
    houses: pl.DataFrame | pl.LazyFrame,
    config: dict[str, Any],
    houses_fingerprint: str,
) -> pl.DataFrame:
    """Every record–house pair sharing a rare word, scored by the token address model (`matching/comparisons.py`).
    record_id, house_id, match_weight, match_probability and the level of each comparison.

    The houses' token tables and the model are kept in the warehouse `con` for the register (`token_register_key`
    of `houses_fingerprint`, the fingerprint of the files `houses` come from): the model is trained on the first
    day with enough open records (`train_address_tokens`) and every later day only scores its own records against
    the houses that share a word with them."""
    from jingzhun.matching.comparisons import address_comparisons

    empty = pl.DataFrame(
        schema={
            "record_id": pl.Int64,
            "house_id": pl.Utf8,
            "match_weight": pl.Float64,
            "match_probability": pl.Float64,
            **{f"level_{c['output_column_name']}": pl.Utf8 for c in address_comparisons()},
            "level_tails": pl.Utf8,
            "level_named": pl.Utf8,
        }
    )
    register_houses = houses.lazy().select(pl.len()).collect().item()
    if records.is_empty() or not register_houses:
        return empty
    key = token_register_key(houses_fingerprint, config)
    store_house_tokens(con, houses, config, key)
    left = record_tokens(con, records, register_houses, config, key)
    settings = _token_model(con, key)
    if settings is None:
        if records.height < config["min_records"]:
            return empty  # too few records to learn what agreement means: the stage decides nothing
        settings = train_address_tokens(
            sampled(con, left, config["train_max_records"], config["seed"]),
            house_tokens(con, key, sample=(config["train_max_houses"], config["seed"])),
            config,
            register_houses=register_houses,
        )
        if settings is None:
            return empty  # nothing learnt to decide on: the records stay with the exact stages' result
        con.execute(
            "CREATE TABLE IF NOT EXISTS token_model (register_key VARCHAR, trained_records BIGINT, settings VARCHAR)"
        )
        con.execute("DELETE FROM token_model")
        con.execute("INSERT INTO token_model VALUES (?, ?, ?)", [key, records.height, json.dumps(settings)])
    pairs = predict_address_tokens(left, house_tokens(con, key, left), settings)
    return pairs if not pairs.is_empty() else empty


def _token_model(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    if not has_table(con, "token_model"):
        return None
    stored = con.execute("SELECT settings FROM token_model WHERE register_key = ?", [key]).fetchall()
    return json.loads(stored[0][0]) if stored else None


def train_address_tokens(
    records: pl.DataFrame, houses: pl.DataFrame, config: dict[str, Any], register_houses: int | None = None
) -> dict[str, Any] | None:
    """The token address model trained by Splink on these records and houses (their token tables): u by random
    sampling of record–house pairs (nearly all are different places), m by EM on pairs on one road and pairs
    sharing the record's rarest word. `register_houses`: how many houses the register holds, when `houses` is a
    sample of them (the prior is one house of the whole register). None when EM learnt nothing."""
    from splink import Linker
    from splink.internals.exceptions import SplinkException

    from jingzhun.matching.comparisons import ADDRESS_EM_BLOCKS, address_settings
    from jingzhun.matching.person import splink_tables
    from jingzhun.matching.training import with_m_floor

    with splink_tables(records=records, houses=houses) as (_, (left, right)):
        # A record names one house of the register, if any: the prior that a record–house pair is the same place.
        settings = {
            **address_settings(),
            "probability_two_random_records_match": 1 / (register_houses or houses.height),
        }
        linker = Linker([left, right], settings, log_level=logging.WARNING)
        # A level the day never shows among matches is expected here and floored below (`with_m_floor`): Splink's
        # warning for each would only fill the run's console.
        logging.getLogger("splink.internals.expectation_maximisation").setLevel(logging.ERROR)
        linker.training.estimate_u_using_random_sampling(max_pairs=config["u_pairs"], seed=config["seed"])
        learnt = 0
        for block in ADDRESS_EM_BLOCKS:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(block)
                learnt += 1
            except (ValueError, SplinkException) as error:
                # EM whose match class lost every pair at some level (Splink refuses an m of 0) learnt nothing from
                # this block; the other block may still teach the model.
                logging.getLogger(__name__).info(
                    "token address stage learnt nothing on %s: %s", block, str(error).splitlines()[0]
                )
        if not learnt:
            return None
        # A day may never show a level among matches (no bare community name on a road the EM blocks saw); real
        # addresses do: every level keeps a floor of m, so one level lowers the odds instead of vetoing.
        trained = linker.misc.save_model_to_json()
    # A comparison no sampled pair showed at any level (no district written anywhere) says nothing: left out.
    trained["comparisons"] = [
        c
        for c in trained["comparisons"]
        if any(lvl.get("u_probability") for lvl in c["comparison_levels"] if not lvl.get("is_null_level"))
    ]
    return with_m_floor(trained, config["m_floor"])


def predict_address_tokens(records: pl.DataFrame, houses: pl.DataFrame, settings: dict[str, Any]) -> pl.DataFrame:
    """The pairs of the trained token model's blocking rules between the records' and the houses' token tables,
    scored: record_id, house_id, match_weight, match_probability, level_<comparison>."""
    from splink import Linker

    from jingzhun.matching.person import splink_tables, with_levels

    if records.is_empty() or houses.is_empty():
        return pl.DataFrame()
    with splink_tables(records=records, houses=houses) as (_, (left, right)):
        # Trained by `train_address_tokens` on these very token tables: Splink's check of the settings against their
        # columns (it only logs, and parses every level's SQL once more) is skipped.
        linker = Linker([left, right], settings, log_level=logging.WARNING, validate_settings=False)
        pairs = pl.from_arrow(linker.inference.predict_between(left, right).as_duckdbpyrelation().to_arrow_table())
    levels = [f"level_{c['output_column_name']}" for c in settings["comparisons"]]
    scored = with_levels(pairs, settings).select(
        pl.col("unique_id_l").cast(pl.Int64).alias("record_id"),
        pl.col("unique_id_r").alias("house_id"),
        "match_weight",
        "match_probability",
        *levels,
    )
    return with_named_levels(with_tails(scored, records, houses), records, houses)


def with_tails(pairs: pl.DataFrame, records: pl.DataFrame, houses: pl.DataFrame) -> pl.DataFrame:
    """`level_tails` of each pair: `written` when a word each side's name ends with (`tails`; none: nothing to
    check) is written by the other side too, else `else`. A name one side ends with and the other does not write
    is a part of the place or a place in it (长青企业广场招商部, 大酒店-洗手间, 学院梅园), not the place itself. Not
    a comparison of the model: it weighs nothing, only the decision's `house_requires` reads it."""
    record_sides = records.select(
        pl.col("unique_id").cast(pl.Int64).alias("record_id"), r_tails="tails", r_words="words"
    )
    house_sides = houses.select(house_id="unique_id", h_tails="tails", h_words="words")

    def written(tails: str, words: str) -> pl.Expr:
        return (pl.col(tails).list.len() == 0) | (pl.col(tails).list.set_intersection(pl.col(words)).list.len() > 0)

    return (
        pairs.join(record_sides, on="record_id", how="left")
        .join(house_sides, on="house_id", how="left")
        .with_columns(
            level_tails=pl.when(
                written("r_tails", "h_words").fill_null(False) & written("h_tails", "r_words").fill_null(False)
            )
            .then(pl.lit("written"))
            .otherwise(pl.lit("else"))
        )
        .drop("r_tails", "r_words", "h_tails", "h_words")
    )


def with_named_levels(pairs: pl.DataFrame, records: pl.DataFrame, houses: pl.DataFrame) -> pl.DataFrame:
    """`level_named` of each pair: the finest level both texts name, compared field by field of the parse,
    when it agrees and nothing the two write contradicts it: `community_building` (the same community, or one
    of three characters or more written inside the other, a middle dot aside, and the same building:
    新洲花园53栋 and 行创六路新洲花园东门新洲花园53号楼), `road_building` (the same road, road number and
    building), `road_number` (the same road and road number, no building on either side; a community either
    writes alike, as above), else `else`. No
    level either writes may differ (road, road number, floor; the house's unit or room is the text's or not
    written), and the numbers must be of the same levels: the text's other than its road number are the
    house's, the house's other than its road number the text's (one text may name the community where the
    other names the road and number: 云纺国际商厦A座 and 环城南路668号云纺国际商厦A座). Not a comparison of
    the model: the decision's `named_house` reads it, where the numbers compared as a set (668 not written)
    hide a house the levels agree on."""
    fields = ("road", "community", "numbers", "outer_numbers", "road_numbers", "building_numbers", "floor_numbers")
    record_sides = records.select(
        pl.col("unique_id").cast(pl.Int64).alias("record_id"), *[pl.col(c).alias(f"r_{c}") for c in fields]
    )
    house_sides = houses.select(house_id="unique_id", **{f"h_{c}": c for c in (*fields, "inside_numbers")})

    def same(column: str) -> pl.Expr:  # both write it, alike
        return pl.col(f"r_{column}").is_not_null() & (pl.col(f"r_{column}") == pl.col(f"h_{column}"))

    def same_numbers(column: str) -> pl.Expr:
        return (pl.col(f"r_{column}").list.len() > 0) & (
            pl.col(f"r_{column}").list.sort() == pl.col(f"h_{column}").list.sort()
        )

    def same_name(column: str) -> pl.Expr:  # alike, or one written inside the other (黄埭玉莲新村, 玉莲新村)
        r, h = (pl.col(f"{side}_{column}").str.replace_all(r"[·•\s]", "") for side in ("r", "h"))
        inside = (
            (r.str.len_chars() >= 3)
            & (h.str.len_chars() >= 3)
            & (r.str.contains(h, literal=True) | h.str.contains(r, literal=True))
        )
        return same(column) | inside.fill_null(False)

    def no_other(column: str) -> pl.Expr:  # not both written and different
        return pl.col(f"r_{column}").is_null() | pl.col(f"h_{column}").is_null() | same(column)

    def no_other_numbers(column: str) -> pl.Expr:
        return (pl.col(f"r_{column}").list.len() == 0) | (pl.col(f"h_{column}").list.len() == 0) | same_numbers(column)

    def held(numbers: str, road_numbers: str, other: str) -> pl.Expr:
        return (
            pl.col(numbers).list.set_difference(pl.col(road_numbers)).list.set_difference(pl.col(other)).list.len() == 0
        )

    consistent = (
        no_other("road")
        & no_other_numbers("road_numbers")
        & no_other_numbers("floor_numbers")
        & (pl.col("h_inside_numbers").list.set_difference(pl.col("r_numbers")).list.len() == 0)
        & held("r_outer_numbers", "r_road_numbers", "h_numbers")
        & held("h_numbers", "h_road_numbers", "r_numbers")
    )
    no_building = (pl.col("r_building_numbers").list.len() == 0) & (pl.col("h_building_numbers").list.len() == 0)
    return (
        pairs.join(record_sides, on="record_id", how="left")
        .join(house_sides, on="house_id", how="left")
        .with_columns(
            level_named=pl.when(consistent & same_name("community") & same_numbers("building_numbers"))
            .then(pl.lit("community_building"))
            .when(
                consistent
                & same("road")
                & same_numbers("road_numbers")
                & same_numbers("building_numbers")
                & (no_other("community") | same_name("community"))
            )
            .then(pl.lit("road_building"))
            .when(
                consistent
                & same("road")
                & same_numbers("road_numbers")
                & no_building
                & (no_other("community") | same_name("community"))
            )
            .then(pl.lit("road_number"))
            .otherwise(pl.lit("else"))
        )
        .drop(pl.selectors.starts_with("r_", "h_"))
    )


def decide_address_tokens(
    pairs: pl.DataFrame, records: pl.DataFrame, houses: pl.DataFrame | pl.LazyFrame, config: dict[str, Any]
) -> pl.DataFrame:
    """record_id → `token_level` (house, building or community: as far as the text tells the candidates apart),
    house_id, building_id, grid_id, committee_code, and `token_ambiguous`.

    `records` has record_id, written_subdistrict_code and the committee_code an exact stage found (or null);
    `houses` house_id, building_id, grid_id, committee_code, subdistrict_code. A house in another subdistrict than
    the text names, or outside the committee an exact stage found, or at the levels `config["never"]` names (numbers
    that differ from the written ones), is no candidate; nor, when a candidate holds the numbers the text writes
    (`config["numbered"]`), one that holds fewer of them (`config["enclosing"]`: the road or community the house lies
    in, not a rival of it); nor, when a candidate meeting `house_requires` reaches `accept`, one that does not meet
    it (a part, a gate or the whole of the place). The candidates within `min_weight_gap` of the best are
    near-equal: one house meeting `house_requires` is that house; else what they share, one building or one
    committee, is as far as the text goes; several committees resolve nothing."""
    from jingzhun.matching.person import exact_rule_met

    accept, min_weight_gap = config["accept"], config["min_weight_gap"]
    # A comparison the trained model left out (no sampled pair showed it: no district written anywhere) says
    # nothing of any pair: its level is `missing`, as where one side does not write it.
    ruled = {c for rule in ("never", "house_requires", "numbered", "enclosing", "named_house") for c in config[rule]}
    pairs = pairs.with_columns(
        pl.lit("missing").alias(f"level_{c}") for c in sorted(ruled) if f"level_{c}" not in pairs.columns
    )
    never, house_requires, numbered, enclosing, named_house = (
        exact_rule_met(({c: tuple(levels) for c, levels in config[rule].items()},))
        for rule in ("never", "house_requires", "numbered", "enclosing", "named_house")
    )
    placed = (
        pairs.join(
            # Only the houses some pair names.
            houses.lazy()
            .filter(pl.col("house_id").is_in(pairs["house_id"].unique().implode()))
            .select(
                "house_id", "building_id", "grid_id", h_committee="committee_code", h_subdistrict="subdistrict_code"
            )
            .collect(),
            on="house_id",
        )
        .join(records.select("record_id", "written_subdistrict_code", "committee_code"), on="record_id")
        .filter(
            (
                pl.col("written_subdistrict_code").is_null()
                | (pl.col("written_subdistrict_code") == pl.col("h_subdistrict")).fill_null(False)
            )
            & (pl.col("committee_code").is_null() | (pl.col("committee_code") == pl.col("h_committee")))
        )
    )
    candidates = (
        placed.filter(~never)
        .with_columns(house_allowed=house_requires, numbered=numbered, enclosing=enclosing)
        # The road or community as a whole steps aside for a house that holds the numbers the text writes.
        .filter(~(pl.col("enclosing") & pl.col("numbered").any().over("record_id")))
        # And every candidate that is not the text's house (a gate, a shop or a hall of the place, the place a
        # part lies in: it fails house_requires) steps aside for one that is and is sure (`accept`): they are
        # parts and neighbours of it written with the same words, not rivals.
        .filter(
            pl.col("house_allowed")
            | ~(pl.col("house_allowed") & (pl.col("match_probability") >= accept)).any().over("record_id")
        )
        .with_columns(
            best=pl.col("match_weight").max().over("record_id"),
            best_probability=pl.col("match_probability").max().over("record_id"),
        )
        .filter((pl.col("best_probability") >= accept) & (pl.col("match_weight") >= pl.col("best") - min_weight_gap))
    )
    near = candidates.group_by("record_id").agg(
        houses=pl.col("house_id").n_unique(),
        house_allowed=pl.col("house_allowed").all(),
        buildings=pl.col("building_id").n_unique(),
        committees=pl.col("h_committee").n_unique(),
        house_id=pl.col("house_id").min(),
        building_id=pl.col("building_id").min(),
        grid_id=pl.col("grid_id").min(),
        grids=pl.col("grid_id").n_unique(),
        committee_code=pl.col("h_committee").min(),
    )
    # Where the words leave the house open, the one candidate whose parsed levels agree with the text's, the
    # finest both name (`named_house`: community and building, or road and number), is the house: the numbers
    # compared as a set, or a road the text does not write, no longer hide it.
    named = (
        placed.filter(named_house)
        .group_by("record_id")
        .agg(
            named_houses=pl.col("house_id").n_unique(),
            **{f"named_{c}": pl.col(c).min() for c in ("house_id", "building_id", "grid_id")},
            named_committee=pl.col("h_committee").min(),
        )
        .filter(pl.col("named_houses") == 1)
    )
    by_words = (pl.col("houses") == 1) & pl.col("house_allowed") & (pl.col("committees") == 1)
    near = (
        near.join(named, on="record_id", how="full", coalesce=True)
        .with_columns(by_name=pl.col("named_house_id").is_not_null() & ~by_words.fill_null(False))
        .with_columns(
            **{c: pl.when("by_name").then(f"named_{c}").otherwise(c) for c in ("house_id", "building_id", "grid_id")},
            committee_code=pl.when("by_name").then("named_committee").otherwise("committee_code"),
            **{c: pl.when("by_name").then(1).otherwise(c) for c in ("houses", "buildings", "committees", "grids")},
            house_allowed=pl.col("by_name") | pl.col("house_allowed"),
        )
    )
    one_committee = pl.col("committees") == 1
    one_building = (pl.col("buildings") == 1) & pl.col("building_id").is_not_null() & one_committee
    one_house = (pl.col("houses") == 1) & pl.col("house_allowed") & one_committee
    level = (
        pl.when(one_house)
        .then(pl.lit("house"))
        .when(one_building)
        .then(pl.lit("building"))
        .when(pl.col("committees") == 1)
        .then(pl.lit("community"))
    )
    return near.select(
        "record_id",
        token_level=level,
        house_id=pl.when(one_house).then("house_id"),
        building_id=pl.when(one_house | one_building).then("building_id"),
        grid_id=pl.when(level.is_not_null() & (pl.col("grids") == 1)).then("grid_id"),
        committee_code=pl.when(level.is_not_null()).then("committee_code"),
        token_ambiguous=level.is_null(),
    )
