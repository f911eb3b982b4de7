"""The columns person linkage compares, built the same way for a day's records and for the population.

Must never read raw values: it works on standardized columns only, so that both sides mean the same thing.
"""

from __future__ import annotations

import polars as pl

from jingzhun.cleansing.names import COMPOUND_SURNAMES

# What `person_features` makes the features of, on both sides: the standardized name, ID number and phone.
PERSON_INPUTS = ("name", "name_pinyin", "name_key", "id_number", "id_number_status", "id_number_candidate", "phone")

# Callers on the hotline are often written down by surname and title only (王先生, 李女士).
TITLES = ("先生", "女士", "小姐", "老师", "阿姨", "师傅", "同志", "老板", "大爷", "奶奶")
# The sex a title says (陈先生 is a man); 老师 or 师傅 says none.
TITLE_SEX = {"先生": "男", "大爷": "男", "女士": "女", "小姐": "女", "阿姨": "女", "奶奶": "女"}
_COMPOUND = "|".join(sorted(COMPOUND_SURNAMES, key=len, reverse=True))
_TITLE = "|".join(TITLES)


def person_features(frame: pl.DataFrame, unique_id: str) -> pl.DataFrame:
    """`frame` has standardized name, name_pinyin, name_key, id_number, id_number_status (and, for records,
    id_number_candidate), phone, house_id, building_id, committee_code."""
    candidate = pl.col("id_number_candidate") if "id_number_candidate" in frame.columns else pl.lit(None, pl.Utf8)
    titled = pl.col("name").str.contains(f"^.{{1,2}}({_TITLE})$")
    surname = (
        pl.when(pl.col("name").str.contains(f"^({_COMPOUND}).+"))
        .then(pl.col("name").str.extract(f"^({_COMPOUND})"))
        .otherwise(pl.col("name").str.slice(0, 1))
    )
    bare_surname = pl.col("name").str.extract(f"^(.{{1,2}}?)(?:{_TITLE})$")
    title = pl.col("name").str.extract(f"^.{{1,2}}?({_TITLE})$")
    id_digits = pl.coalesce(pl.col("id_number"), candidate)
    # The ID number's sex digit (the 17th of 18, the 15th of 15 digits): odd for a man.
    sex_digit = (
        pl.when(id_digits.str.len_chars() == 18)
        .then(id_digits.str.slice(16, 1))
        .when(id_digits.str.len_chars() == 15)
        .then(id_digits.str.slice(14, 1))
        .cast(pl.Int32, strict=False)
    )
    id_sex = pl.when(sex_digit % 2 == 1).then(pl.lit("男")).when(sex_digit % 2 == 0).then(pl.lit("女"))
    return frame.select(
        pl.col(unique_id).cast(pl.Utf8).alias("unique_id"),
        id_digits=id_digits,
        id_area_birth=id_digits.str.slice(0, 14),
        # 18 digits whose check digit is right: not a typo of someone else's number.
        id_valid=(pl.col("id_number_status") == "valid").fill_null(False),
        # A titled name is not a name: compare it by surname only.
        name=pl.when(titled).then(None).otherwise(pl.col("name")),
        name_pinyin=pl.when(titled).then(None).otherwise(pl.col("name_pinyin")),
        name_key=pl.when(titled).then(None).otherwise(pl.col("name_key")),
        surname=pl.when(titled).then(bare_surname).otherwise(surname),
        titled=titled.fill_null(False),
        # The title's (陈先生), else the ID number's: a surname and a title agree only with a person of that sex.
        sex=pl.coalesce(pl.when(titled).then(title.replace_strict(TITLE_SEX, default=None)), id_sex),
        phone=pl.col("phone"),
        phone_tail8=pl.col("phone").str.slice(-8),
        house_id=pl.col("house_id"),
        building_id=pl.col("building_id"),
        committee_code=pl.col("committee_code"),
    )


def with_holders(features: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """How many persons of the population hold what a side of a comparison writes.

    `phone_holders`: how many have this phone. A phone only one person has names that person; a phone a household
    shares does not. `phone_named_holders`: how many of them the name written agrees with (the same pinyin; for
    陈先生 the same surname, and no woman, for 陈老师 the surname alone). A phone a household shares with a name only
    one of its holders has names that one: 张伟 on the phone of the 张 household's three members is 张伟, wherever
    he is today, and 陈先生 on the phone of 陈建华 and his wife 陈芳 is 陈建华.

    `place_named_holders`: how many persons of that name (pinyin) live in the building the address names, or where
    it names no building, its committee (东泰花园 without numbers). 张伟 at 东泰花园 is the one 张伟 registered
    there when there is one."""
    return with_counts(features, holder_counts(population))


def holder_counts(population: pl.DataFrame) -> tuple[pl.DataFrame, ...]:
    """What `with_holders` counts of `population` (of its phone, name_pinyin, titled, surname, building_id and
    committee_code), counted once for `with_counts` to join to any number of frames of features."""
    with_phone = population.filter(pl.col("phone").is_not_null())
    holders = with_phone.group_by("phone").agg(phone_holders=pl.len().cast(pl.Int64))
    by_pinyin = (
        with_phone.filter(~pl.col("titled")).group_by("phone", "name_pinyin").agg(by_pinyin=pl.len().cast(pl.Int64))
    )
    by_surname = (
        with_phone.filter(~pl.col("titled")).group_by("phone", "surname").agg(by_surname=pl.len().cast(pl.Int64))
    )
    by_surname_sex = (
        with_phone.filter(~pl.col("titled") & pl.col("sex").is_not_null())
        .group_by("phone", "surname", "sex")
        .agg(by_surname_sex=pl.len().cast(pl.Int64))
    )
    named = population.filter(pl.col("name_pinyin").is_not_null())
    in_building = named.group_by("building_id", "name_pinyin").agg(in_building=pl.len().cast(pl.Int64))
    in_committee = named.group_by("committee_code", "name_pinyin").agg(in_committee=pl.len().cast(pl.Int64))
    return holders, by_pinyin, by_surname, by_surname_sex, in_building, in_committee


def with_counts(features: pl.DataFrame, counts: tuple[pl.DataFrame, ...]) -> pl.DataFrame:
    """`features` with the holder counts of `holder_counts`."""
    holders, by_pinyin, by_surname, by_surname_sex, in_building, in_committee = counts
    return (
        features.drop("phone_holders", "phone_named_holders", "place_named_holders", strict=False)
        .join(holders, on="phone", how="left")
        .join(by_pinyin, on=["phone", "name_pinyin"], how="left")
        .join(by_surname, on=["phone", "surname"], how="left")
        .with_columns(other_sex=_OTHER_SEX)
        .join(
            by_surname_sex, left_on=["phone", "surname", "other_sex"], right_on=["phone", "surname", "sex"], how="left"
        )
        .join(in_building, on=["building_id", "name_pinyin"], how="left")
        .join(in_committee, on=["committee_code", "name_pinyin"], how="left")
        .with_columns(
            pl.col("phone_holders").fill_null(0),
            # 陈先生: the holders named 陈 but the women among them (whose sex is known).
            phone_named_holders=pl.when(pl.col("titled"))
            .then(pl.col("by_surname") - pl.col("by_surname_sex").fill_null(0))
            .otherwise("by_pinyin")
            .fill_null(0),
            place_named_holders=pl.when(pl.col("building_id").is_not_null())
            .then("in_building")
            .otherwise("in_committee")
            .fill_null(0),
        )
        .drop("other_sex", "by_pinyin", "by_surname", "by_surname_sex", "in_building", "in_committee")
    )


_OTHER_SEX = pl.col("sex").replace_strict({"男": "女", "女": "男"}, default=None)

# `holder_counts` as SQL: (its count's column, the persons counted, the key they are grouped by, the part of it a
# record's keys choose the persons by: a record counts the holders of its phone and surname of the other sex).
# Read by titled names only (陈先生): a caller may count them for the keys of its titled rows alone.
_SURNAME_COUNTS = ("by_surname", "by_surname_sex")
_COUNTED = (
    ("phone_holders", "phone IS NOT NULL", "phone", "phone"),
    ("by_pinyin", "phone IS NOT NULL AND NOT titled", "phone, name_pinyin", "phone, name_pinyin"),
    ("by_surname", "phone IS NOT NULL AND NOT titled", "phone, surname", "phone, surname"),
    ("by_surname_sex", "phone IS NOT NULL AND NOT titled AND sex IS NOT NULL", "phone, surname, sex", "phone, surname"),
    ("in_building", "name_pinyin IS NOT NULL", "building_id, name_pinyin", "building_id, name_pinyin"),
    ("in_committee", "name_pinyin IS NOT NULL", "committee_code, name_pinyin", "committee_code, name_pinyin"),
)


def holder_counts_sql(persons: str, keys: str | None = None, titled: str | None = None) -> dict[str, str]:
    """`holder_counts` of the rows of `persons` (a table, or a query in brackets) as DuckDB SQL, one query per count
    (its key columns, then the count under its `with_counts` name); with `keys`, a table or view holding the key
    columns, only the keys it holds are counted (a day's records: a few of ten million persons' groups). With
    `titled`, a table or query holding the keys of the titled rows, the counts by surname are counted for those
    keys only."""
    chosen = {count: (titled if titled and count in _SURNAME_COUNTS else keys) for count, *_ in _COUNTED}
    return {
        count: f"SELECT {key}, count(*) AS {count} FROM {persons}"
        + (f" JOIN (SELECT DISTINCT {chosen_by} FROM {chosen[count]}) USING ({chosen_by})" if chosen[count] else "")
        + f" WHERE {where} GROUP BY {key}"
        for count, where, key, chosen_by in _COUNTED
    }


def with_holders_sql(features: str) -> str:
    """`with_holders(features, features)` as DuckDB SQL over the warehouse table `features` (its columns, the
    counts after them, its `reference_hash` last as in every stored table, its rows in the order they were
    stored): for the whole population, whose key columns and counts at ten million persons take gigabytes in
    Polars, and which DuckDB spills when they do not fit. The same counts as `holder_counts` and `with_counts` (a
    test holds them equal). The counts by surname are read by titled names only (陈先生), which a population
    hardly holds: counted for their phones and surnames only (over all ten million persons, the two took DuckDB past
    its 4 GB)."""
    sqls = holder_counts_sql("persons", titled="(SELECT phone, surname FROM persons WHERE titled)")
    counts = ",\n        ".join(f"{count} AS ({sql})" for count, sql in sqls.items())
    return f"""
        WITH persons AS (SELECT rowid AS row_number, * FROM {features}),
        {counts}
        SELECT p.* EXCLUDE (row_number, reference_hash),
            coalesce(h.phone_holders, 0) AS phone_holders,
            coalesce(
                CASE WHEN p.titled THEN s.by_surname - coalesce(x.by_surname_sex, 0) ELSE y.by_pinyin END, 0
            ) AS phone_named_holders,
            coalesce(CASE WHEN p.building_id IS NOT NULL THEN b.in_building ELSE c.in_committee END, 0)
                AS place_named_holders,
            p.reference_hash
        FROM persons AS p
        LEFT JOIN phone_holders AS h ON h.phone = p.phone
        LEFT JOIN by_pinyin AS y ON y.phone = p.phone AND y.name_pinyin = p.name_pinyin
        LEFT JOIN by_surname AS s ON s.phone = p.phone AND s.surname = p.surname
        LEFT JOIN by_surname_sex AS x ON x.phone = p.phone AND x.surname = p.surname
            AND x.sex = CASE p.sex WHEN '男' THEN '女' WHEN '女' THEN '男' END
        LEFT JOIN in_building AS b ON b.building_id = p.building_id AND b.name_pinyin = p.name_pinyin
        LEFT JOIN in_committee AS c ON c.committee_code = p.committee_code AND c.name_pinyin = p.name_pinyin
        ORDER BY p.row_number"""
