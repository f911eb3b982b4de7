"""Matching: the committed model, its Chinese comparison levels, the refusal to guess, and one case per person."""

from __future__ import annotations

import copy
import hashlib
import json
import math

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jingzhun.cleansing.idcard import check_digit, parse_id_number
from jingzhun.cleansing.names import name_fuzzy_key, name_pinyin, normalize_name
from jingzhun.cleansing.text import normalize_text
from jingzhun.core.warehouse import open_duckdb
from jingzhun.matching.address import resolve_addresses
from jingzhun.matching.address_keys import with_address_keys, with_building_id
from jingzhun.matching.cases import case_keys
from jingzhun.matching.comparisons import BLOCKING_RULES, ONE_EDIT
from jingzhun.matching.features import person_features, with_holders
from jingzhun.matching.person import MODEL_PATH, TRAINING_KEY, Thresholds, decide_persons, load_model, score_pairs


def an_id(body17: str) -> str:
    return body17 + check_digit(body17)


def splink_predictions(records: pl.DataFrame, population: pl.DataFrame, settings: dict) -> pl.DataFrame:
    """Splink's `predict_between` of `records` against `population` with the model `settings` and the term
    frequencies of the population, with every column it gives and the levels' labels: what the person stage
    scored with before it ran Splink's SQL itself (`person.scoring_sql`), the reference it must still give."""
    import logging

    from splink import Linker

    from jingzhun.matching.person import TF_COLUMNS, splink_tables, term_frequencies, with_levels

    tables = {f"tf_{column}": term_frequencies(population, column) for column in TF_COLUMNS}
    with splink_tables(records=records, population=population, **tables) as (_, (left, right, *tfs)):
        linker = Linker([left, right], copy.deepcopy(settings), log_level=logging.WARNING)
        for column, tf in zip(TF_COLUMNS, tfs, strict=True):
            linker.table_management.register_term_frequency_lookup(tf, column)
        pairs = linker.inference.predict_between(left, right).as_duckdbpyrelation().to_arrow_table()
    return with_levels(pl.from_arrow(pairs), settings)


def people(rows: list[dict], id_column: str, population: list[dict] | None = None) -> pl.DataFrame:
    """Standardized person rows as the cleanse stage would make them (names and ID numbers through the same
    normalizers), with the holders of their phone and name counted in `population` (default: these rows)."""
    frame = pl.DataFrame(
        [
            {
                "name": normalize_name(normalize_text(r.get("name"))),
                "id_number": r.get("id_number"),
                "id_number_status": parse_id_number(r.get("id_number")).status,
                "phone": r.get("phone"),
                "house_id": r.get("house_id"),
                "building_id": r.get("building_id"),
                "committee_code": r.get("committee_code"),
                id_column: r[id_column],
            }
            for r in rows
        ],
        schema_overrides={
            c: pl.Utf8 for c in ("name", "id_number", "phone", "house_id", "building_id", "committee_code")
        },
    )
    frame = frame.with_columns(
        name_pinyin=pl.col("name").map_elements(name_pinyin, return_dtype=pl.Utf8),
        name_key=pl.col("name").map_elements(name_fuzzy_key, return_dtype=pl.Utf8),
    )
    holders = people(population, "person_id") if population is not None else None
    features = person_features(frame, id_column)
    return with_holders(features, features if holders is None else holders)


ZHANG = {
    "person_id": "P1",
    "name": "张伟",
    "id_number": an_id("31011519800101123"),
    "phone": "13800000001",
    "house_id": "H1",
    "building_id": "B1",
    "committee_code": "C1",
}
LI = {
    "person_id": "P2",
    "name": "李娜",
    "id_number": an_id("31011519851212456"),
    "phone": "13800000002",
    "house_id": "H2",
    "building_id": "B1",
    "committee_code": "C1",
}
# Twins at one address and one phone: only their ID numbers and given names tell them apart.
WANG_A = {
    "person_id": "P3",
    "name": "王建国",
    "id_number": an_id("31011520100505111"),
    "phone": "13800000003",
    "house_id": "H3",
    "building_id": "B2",
    "committee_code": "C1",
}
WANG_B = {
    "person_id": "P4",
    "name": "王建军",
    "id_number": an_id("31011520100505131"),
    "phone": "13800000003",
    "house_id": "H3",
    "building_id": "B2",
    "committee_code": "C1",
}
POPULATION = [ZHANG, LI, WANG_A, WANG_B]


def decide(records: list[dict], population: list[dict] = POPULATION) -> pl.DataFrame:
    pairs = score_pairs(people(records, "record_id", population), people(population, "person_id"))
    return decide_persons(pairs, Thresholds.load()).sort("record_key")


def test_splink_tables_are_gone_when_the_block_ends():
    """Splink's backend and its linker refer to each other: their database (a batch's inputs and every scored pair)
    is freed when the block ends, not whenever Python's cycle collector runs (batches piled up without it)."""
    from jingzhun.matching.person import splink_tables

    with splink_tables(persons=pl.DataFrame({"person_id": ["P1", "P2"]})) as (db_api, _):
        con = db_api._con
        assert con.execute("SELECT count(*) FROM persons").fetchone() == (2,)
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")


def test_committed_model_loads_and_predicts_the_same_twice():
    model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert model[TRAINING_KEY]["population"] > 0
    assert {c["output_column_name"] for c in load_model()["comparisons"]} == {"id_digits", "name", "phone", "address"}
    # The rules a retrain starts from are the committed model's.
    assert [rule["blocking_rule"] for rule in model["blocking_rules_to_generate_predictions"]] == BLOCKING_RULES
    records = [{"record_id": 1, **{k: v for k, v in ZHANG.items() if k != "person_id"}}]
    first = score_pairs(people(records, "record_id", POPULATION), people(POPULATION, "person_id"))
    second = score_pairs(people(records, "record_id", POPULATION), people(POPULATION, "person_id"))
    assert first.sort("unique_id_r").equals(second.sort("unique_id_r"))


def test_a_transposed_id_and_a_traditional_name_still_find_the_person():
    transposed = ZHANG["id_number"][:10] + ZHANG["id_number"][11] + ZHANG["id_number"][10] + ZHANG["id_number"][12:]
    got = decide(
        [
            {
                "record_id": 1,
                "name": "張偉",
                "id_number": transposed,
                "phone": None,
                "house_id": "H1",
                "building_id": "B1",
                "committee_code": "C1",
            }
        ]
    )
    assert got["person_id"].to_list() == ["P1"]
    assert "身份证号相差一位" in got["person_explanation"][0]


# ID digits as the cleanse writes them (digits, an X) and, to hold the byte-counting proof of `_one_edit` to
# account, characters of more than one byte; 15 to 18 long, empty or absent.
_ID_CHARS = st.sampled_from([*"0123456789X", "é", "号"])
_IDS = st.one_of(st.none(), st.text(_ID_CHARS, min_size=15, max_size=18), st.text(_ID_CHARS, max_size=3))


@st.composite
def _id_pairs(draw: st.DrawFn) -> tuple[str | None, str | None]:
    """An ID and another one, unrelated or a few random edits of it (insert, delete, substitute, transpose)."""
    first = draw(_IDS)
    if first is None or draw(st.booleans()):
        return first, draw(_IDS)
    second = list(first)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(second)))
        edit = draw(st.sampled_from(["insert", "delete", "substitute", "transpose"]))
        if edit == "insert":
            second.insert(at, draw(_ID_CHARS))
        elif edit == "delete" and at < len(second):
            del second[at]
        elif edit == "substitute" and at < len(second):
            second[at] = draw(_ID_CHARS)
        elif edit == "transpose" and at + 1 < len(second):
            second[at], second[at + 1] = second[at + 1], second[at]
    return first, "".join(second)


@given(st.lists(_id_pairs(), min_size=1, max_size=50))
def test_the_one_edit_condition_holds_exactly_where_damerau_levenshtein_is_at_most_one(pairs):
    # The condition before the distance (`comparisons._one_edit`) must never change the level: as a level of a
    # CASE, as Splink writes the comparison, and never raising (`hamming` refuses unequal and empty strings).
    con = duckdb.connect()
    con.execute("CREATE TABLE pairs (id_digits_l VARCHAR, id_digits_r VARCHAR)")
    con.executemany("INSERT INTO pairs VALUES (?, ?)", pairs)
    got = con.sql(f"""
        SELECT CASE WHEN {ONE_EDIT} THEN 1 ELSE 0 END AS guarded,
               CASE WHEN damerau_levenshtein(id_digits_l, id_digits_r) <= 1 THEN 1 ELSE 0 END AS distance
        FROM pairs""").fetchall()
    assert [g for g, _ in got] == [d for _, d in got]


@pytest.mark.parametrize(
    ("left", "right", "one_edit"),
    [
        ("11010519491231002X", "11010519491231002X", True),
        ("11010519491231002X", "11010519491231009X", True),  # a digit mistyped
        ("11010519491231002X", "11010519491231020X", True),  # two digits transposed
        ("11010519491231002X", "1101051949123102X", True),  # a digit lost
        ("11010519491231002X", "110105194912310021X", True),  # a digit added
        ("11010519491231002X", "11010519491231034X", False),  # two digits wrong: the same area and birth date
        ("11010519491231002X", "110105491231002", False),  # the 15-digit number of the same person
        ("11010519491231002X", "1101051949123102", False),  # two lost
        ("", "", True),
        ("", "1", True),
        ("", "12", False),
        ("11010519491231002X", None, False),
    ],
)
def test_the_one_edit_level_is_one_damerau_levenshtein_edit(left, right, one_edit):
    con = duckdb.connect()
    query = f"SELECT coalesce({ONE_EDIT}, false) FROM (SELECT ?::VARCHAR AS id_digits_l, ?::VARCHAR AS id_digits_r)"
    assert con.execute(query, [left, right]).fetchall() == [(one_edit,)]
    assert con.execute(query, [right, left]).fetchall() == [(one_edit,)]


def test_a_homophone_typo_in_the_name_is_the_same_sound():
    got = decide(
        [
            {
                "record_id": 1,
                "name": "李那",
                "phone": "13800000002",
                "house_id": "H2",
                "building_id": "B1",
                "committee_code": "C1",
            }
        ]
    )
    assert got["person_id"].to_list() == ["P2"]
    assert "姓名同音" in got["person_explanation"][0]


def test_a_household_phone_with_a_surname_names_no_one_and_is_no_review_item():
    # A hotline caller written as 王先生 with the twins' shared phone and home: either twin fits equally, and
    # nothing an analyst could see tells them apart.
    got = decide(
        [
            {
                "record_id": 1,
                "name": "王先生",
                "phone": "13800000003",
                "house_id": "H3",
                "building_id": "B2",
                "committee_code": "C1",
            }
        ]
    )
    assert got["person_id"].to_list() == [None]
    assert got["person_review"].to_list() == [False]


def test_a_valid_id_with_the_name_links_a_person_living_away_from_home():
    # 人户分离: another house, another committee, a new phone; the ID number passes its check and the name agrees.
    away = {"house_id": "H9", "building_id": "B9", "committee_code": "C9", "phone": "13999999999"}
    got = decide(
        [
            {"record_id": 1, "name": "张伟", "id_number": ZHANG["id_number"], **away},
            {"record_id": 2, "name": "张先生", "id_number": ZHANG["id_number"], **away},
            {"record_id": 3, "name": "李伟", "id_number": ZHANG["id_number"], **away},
        ]
    )
    assert got["person_id"].to_list() == ["P1", "P1", None]  # another given name: the exact stage says nothing
    assert got["person_method"].to_list()[:2] == ["exact", "exact"]
    assert "身份证号一致" in got["person_explanation"][0]


def test_a_valid_id_where_no_name_was_written_links_the_person_unless_the_phone_differs():
    # A checkpoint export without its name column: the ID number is the person's card, wherever they are.
    away = {"house_id": "H9", "building_id": "B9", "committee_code": "C9"}
    got = decide(
        [
            {"record_id": 1, "name": None, "id_number": ZHANG["id_number"], "phone": None, **away},
            {"record_id": 2, "name": None, "id_number": ZHANG["id_number"], "phone": ZHANG["phone"], **away},
            {"record_id": 3, "name": None, "id_number": ZHANG["id_number"], "phone": "13999999999", **away},
        ]
    )
    assert got["person_method"].to_list()[:2] == ["exact", "exact"]
    assert got["person_id"].to_list()[:2] == ["P1", "P1"]
    assert got["person_method"][2] != "exact"  # another's phone: the model weighs it


def test_a_name_typed_in_pinyin_sounds_like_the_name_in_characters():
    # LIUJUNJUN or Zhao yipeng, typed without a space between the syllables, with the person's ID number.
    got = decide(
        [
            {"record_id": 1, "name": "ZHANGWEI", "id_number": ZHANG["id_number"]},
            {"record_id": 2, "name": "Zhang wei", "id_number": ZHANG["id_number"]},
            {"record_id": 3, "name": "LI NA", "id_number": ZHANG["id_number"]},
        ]
    )
    assert got["person_id"].to_list() == ["P1", "P1", None]
    assert got["person_explanation"][0].startswith("身份证号一致；姓名同音")


def test_an_id_one_typo_away_with_the_full_name_links_a_person_away_from_home_unless_the_phone_differs():
    typo = ZHANG["id_number"][:15] + "9" + ZHANG["id_number"][16:]  # one digit wrong: the check digit fails
    away = {"house_id": "H9", "building_id": "B9", "committee_code": "C9"}
    got = decide(
        [
            {"record_id": 1, "name": "张伟", "id_number": typo, "phone": None, **away},
            {"record_id": 2, "name": "张伟", "id_number": typo, "phone": "13999999999", **away},
            {"record_id": 3, "name": "张先生", "id_number": typo, "phone": None, **away},
        ]
    )
    assert got["record_key"].to_list() == ["1", "2", "3"]
    assert got["person_method"].to_list() == ["exact", None, None]
    assert got["person_id"].to_list()[0] == "P1"


def test_the_ids_area_and_birth_date_pair_a_record_only_with_a_surname_a_sound_or_a_building_it_shares():
    """An ID with a typo in its last four digits still finds its person away from home by the area and birth
    date with the surname, or the name's sound; a stranger born the same day in the same area, elsewhere and
    named otherwise, is no candidate (at ten million persons about 22 of them a record)."""
    typo = ZHANG["id_number"][:15] + "9" + ZHANG["id_number"][16:]
    stranger = {
        "person_id": "P9",
        "name": "赵强",
        "id_number": an_id("31011519800101987"),
        "phone": "13800000009",
        "house_id": "H8",
        "building_id": "B8",
        "committee_code": "C8",
    }
    population = [*POPULATION, stranger]
    away = {"house_id": "H9", "building_id": "B9", "committee_code": "C9", "phone": None}
    records = [
        {"record_id": 1, "name": "张伟", "id_number": typo, **away},
        {"record_id": 2, "name": "张先生", "id_number": typo, **away},
        {"record_id": 3, "name": "章伟", "id_number": typo, **away},  # another surname, the same sound
        {"record_id": 4, "name": "钱伟", "id_number": typo, **away},
        {"record_id": 5, "name": "钱伟", "id_number": typo, **away, "building_id": "B8"},
    ]
    pairs = score_pairs(people(records, "record_id", population), people(population, "person_id"))
    paired = pairs.group_by("unique_id_l").agg(pl.col("unique_id_r").sort()).sort("unique_id_l")
    assert dict(paired.iter_rows()) == {"1": ["P1"], "2": ["P1"], "3": ["P1"], "5": ["P9"]}


def test_a_phone_only_one_person_has_with_a_surname_names_that_person():
    # Hotline rows: 陈先生 and a phone; Li's phone is hers alone, the twins' is shared.
    elsewhere = {"house_id": "H9", "building_id": "B9", "committee_code": "C9"}
    got = decide(
        [
            {"record_id": 1, "name": "李女士", "phone": LI["phone"], **elsewhere},
            {"record_id": 2, "name": "王先生", "phone": WANG_A["phone"], **elsewhere},
            {
                "record_id": 3,
                "name": None,
                "phone": LI["phone"],
                "house_id": "H2",
                "building_id": "B1",
                "committee_code": "C1",
            },
            {"record_id": 4, "name": None, "phone": LI["phone"], **elsewhere},
        ]
    )
    assert got["person_id"].to_list() == ["P2", None, "P2", None]
    assert got["person_review"].to_list()[1] is False
    assert "手机号一致（人口库中仅此一人）" in got["person_explanation"][0]


# A household of three on one phone, registered at H5: 陈 father and son, 刘 mother.
CHEN_FATHER = {
    "person_id": "P5",
    "name": "陈建华",
    "id_number": None,
    "phone": "13800000005",
    "house_id": "H5",
    "building_id": "B5",
    "committee_code": "C5",
}
CHEN_SON = {**CHEN_FATHER, "person_id": "P6", "name": "陈浩然"}
LIU_MOTHER = {**CHEN_FATHER, "person_id": "P7", "name": "刘秀英"}
HOUSEHOLD = [*POPULATION, CHEN_FATHER, CHEN_SON, LIU_MOTHER]


def test_a_household_phone_with_a_name_only_one_holder_has_names_that_one_away_from_home():
    # 人户分离 without an ID number: the son's name and the household's phone, written at another house.
    elsewhere = {"house_id": "H9", "building_id": "B9", "committee_code": "C9"}
    got = decide(
        [
            {"record_id": 1, "name": "陈浩然", "phone": "13800000005", **elsewhere},
            {"record_id": 2, "name": "陈皓然", "phone": "13800000005", **elsewhere},  # same pinyin
            {"record_id": 3, "name": "刘女士", "phone": "13800000005", **elsewhere},  # the only 刘
            {"record_id": 4, "name": "陈先生", "phone": "13800000005", **elsewhere},  # two 陈: no one
            {"record_id": 5, "name": "王建国", "phone": "13800000003", **elsewhere},  # twins: 王建国 alone
            {"record_id": 6, "name": "赵强", "phone": "13800000005", **elsewhere},
        ],  # no holder's name
        HOUSEHOLD,
    )
    assert got["person_id"].to_list() == ["P6", "P6", "P7", None, "P3", None]
    assert got["person_method"].to_list()[:3] == ["exact", "exact", "exact"]
    assert got["person_review"].to_list()[3] is False
    assert "共用此号的人中仅此一人同名" in got["person_explanation"][0]


def test_a_title_names_the_one_holder_of_a_household_phone_of_the_surname_and_the_sex_it_says():
    # 陈建华 and his wife 陈芳 share a phone (their ID numbers say man and woman): 陈先生 is he, 陈女士 she, 陈老师
    # either; 刘女士 and 刘先生 are 刘秀英, the only 刘 of the phone, whose ID number (and sex) is not known.
    husband = {**CHEN_FATHER, "id_number": an_id("31011519700101123")}  # 17th digit 3: a man
    wife = {**CHEN_FATHER, "person_id": "P8", "name": "陈芳", "id_number": an_id("31011519720202124")}
    population = [*POPULATION, husband, wife, LIU_MOTHER]
    elsewhere = {"house_id": "H9", "building_id": "B9", "committee_code": "C9", "phone": "13800000005"}
    got = decide(
        [
            {"record_id": 1, "name": "陈先生", **elsewhere},
            {"record_id": 2, "name": "陈女士", **elsewhere},
            {"record_id": 3, "name": "陈老师", **elsewhere},
            {"record_id": 4, "name": "刘女士", **elsewhere},
            {"record_id": 5, "name": "刘先生", **elsewhere},
        ],
        population,
    )
    assert got["person_id"].to_list() == ["P5", "P8", None, "P7", "P7"]


def test_a_name_with_one_character_left_out_agrees_as_one_typed_in_a_hurry():
    # 张玲 or 张秀 for 张秀玲, on the phone only she has, written where she is staying; not 张 alone, nor 张秀华.
    xiuling = {**ZHANG, "person_id": "P9", "name": "张秀玲", "id_number": None, "phone": "13800000009"}
    elsewhere = {"house_id": "H9", "building_id": "B9", "committee_code": "C9", "phone": "13800000009"}
    got = decide(
        [
            {"record_id": 1, "name": "张玲", **elsewhere},
            {"record_id": 2, "name": "张秀", **elsewhere},
            {"record_id": 3, "name": "张秀华", **elsewhere},
        ],
        [*POPULATION, xiuling],
    )
    assert got["person_id"].to_list()[:2] == ["P9", "P9"]
    assert got["person_method"].to_list()[:2] == ["exact", "exact"]
    assert got["person_method"][2] != "exact"
    assert "姓名漏录一字" in got["person_explanation"][0]


def test_two_holders_of_a_household_phone_with_one_pinyin_are_not_told_apart_by_the_phone():
    # 张伟 and 章伟 share the phone: the name written agrees with both, so the phone names neither.
    twin = {**ZHANG, "person_id": "P8", "name": "章伟", "id_number": None}
    population = [{**ZHANG, "id_number": None}, twin]
    records = people(
        [
            {
                "record_id": 1,
                "name": "张伟",
                "phone": ZHANG["phone"],
                "house_id": "H9",
                "building_id": "B9",
                "committee_code": "C9",
            }
        ],
        "record_id",
        population,
    )
    assert records["phone_named_holders"].to_list() == [2]
    pairs = score_pairs(records, people(population, "person_id"))
    assert "sole_named" not in pairs["level_phone"].to_list()


def test_a_phone_only_one_person_has_with_the_committee_the_text_names_names_that_person_unless_the_name_differs():
    # Sparse hotline rows: no name, only the community (no numbers) of Li's home; or Li's phone with another name.
    committee_only = {"house_id": None, "building_id": None, "committee_code": "C1"}
    got = decide(
        [
            {"record_id": 1, "name": None, "phone": LI["phone"], **committee_only},
            {
                "record_id": 2,
                "name": None,
                "phone": LI["phone"],
                "house_id": None,
                "building_id": "B1",
                "committee_code": "C1",
            },
            {"record_id": 3, "name": "赵强", "phone": LI["phone"], **committee_only},
        ]
    )
    assert got["person_id"].to_list() == ["P2", "P2", None]
    assert got["person_method"].to_list()[:2] == ["exact", "exact"]


def test_a_full_name_at_the_community_or_building_the_text_names_is_the_one_person_of_that_name_there():
    # Hotline rows without a phone: 东泰花园 without numbers (the committee only) or a building without a room.
    committee_only = {"house_id": None, "building_id": None, "committee_code": "C1"}
    got = decide(
        [
            {"record_id": 1, "name": "张伟", **committee_only},
            {"record_id": 2, "name": "李娜", "house_id": None, "building_id": "B1", "committee_code": "C1"},
            {"record_id": 3, "name": "张伟", "phone": "13999999999", **committee_only},  # a phone against
            {"record_id": 4, "name": "张玮", **committee_only},
        ]
    )  # the sound only: maybe another's neighbour
    assert got["person_id"].to_list() == ["P1", "P2", None, None]
    assert got["person_method"].to_list()[:2] == ["exact", "exact"]
    assert "地址所写楼栋或小区中仅此一人同名" in got["person_explanation"][0]
    # A second 张伟 registered in the committee: the community no longer tells which.
    namesake = {
        "person_id": "P9",
        "name": "张伟",
        "id_number": None,
        "phone": None,
        "house_id": "H8",
        "building_id": "B8",
        "committee_code": "C1",
    }
    got = decide([{"record_id": 1, "name": "张伟", **committee_only}], [*POPULATION, namesake])
    assert got["person_id"].to_list() == [None]


def test_a_record_without_address_is_routed_to_the_one_home_of_everyone_its_phone_may_name():
    from jingzhun.matching.link import households, phone_candidates

    homes = pl.DataFrame(
        {
            "person_id": ["P5", "P6", "P7", "P1", "P2"],
            "home_grid_id": ["G5", "G5", "G5", "G1", "G2"],
            "home_committee_code": ["C5", "C5", "C5", "C1", "C2"],
            "home_subdistrict_code": ["S5", "S5", "S5", "S1", "S2"],
        }
    )
    got = households(
        phone_candidates(
            _pairs(
                [
                    # 1: 陈先生 on the household's phone: both 陈 live at home G5
                    # (刘 does not fit the name, but lives there too).
                    ("1", "P5", -3.0, "missing", "surname_title", "shared", "missing"),
                    ("1", "P6", -3.0, "missing", "surname_title", "shared", "missing"),
                    ("1", "P7", -9.0, "missing", "else", "shared", "missing"),
                    # 2: only a phone one person has.
                    ("2", "P1", 0.3, "missing", "missing", "sole", "missing"),
                    # 3: a phone two persons of different homes share: nowhere.
                    ("3", "P1", -3.0, "missing", "missing", "shared", "missing"),
                    ("3", "P2", -3.0, "missing", "missing", "shared", "missing"),
                    # 4: the name written is nobody's of the phone: the caller is someone else, nowhere.
                    ("4", "P1", -5.0, "missing", "else", "sole", "missing"),
                    # 5: found by name alone, the phone differs: not the phone's household.
                    ("5", "P2", 1.0, "missing", "exact", "else", "missing"),
                ]
            )
        ),
        homes,
    ).sort("record_id")
    assert got["record_id"].to_list() == [1, 2]
    assert got["household_committee_code"].to_list() == ["C5", "C1"]
    assert got["household_grid_id"].to_list() == ["G5", "G1"]


def _pairs(rows: list[tuple]) -> pl.DataFrame:
    """Scored pairs as score_pairs gives them: (record, person, weight, levels of id, name, phone, address)."""
    return pl.DataFrame(
        [
            {
                "unique_id_l": r,
                "unique_id_r": p,
                "match_weight": w,
                "match_probability": 2**w / (1 + 2**w),
                "level_id_digits": i,
                "level_name": n,
                "level_phone": ph,
                "level_address": a,
            }
            for r, p, w, i, n, ph, a in rows
        ],
        orient="row",
    )


def test_the_exact_stage_comes_first_and_the_model_never_picks_between_alike_candidates():
    got = decide_persons(
        _pairs(
            [
                # 1: P1's valid ID and name, away from home; P2 shares the house and phone the record gave:
                # the ID decides.
                ("1", "P1", 3.0, "exact", "exact", "else", "else"),
                ("1", "P2", 9.0, "else", "surname_title", "shared", "house"),
                # 2: two persons meet an exact rule (a register holding one ID twice): the model weighs them, too close.
                ("2", "P3", 20.0, "exact", "exact", "sole", "house"),
                ("2", "P4", 19.0, "exact", "pinyin", "sole", "house"),
                # 3: alike on every level: nobody can tell them apart, no review.
                ("3", "P5", 12.0, "missing", "surname_title", "shared", "house"),
                ("3", "P6", 12.0, "missing", "surname_title", "shared", "house"),
                # 4: different evidence, alike weights: an analyst can look.
                ("4", "P7", 12.0, "missing", "exact", "else", "house"),
                ("4", "P8", 11.0, "missing", "pinyin", "shared", "building"),
            ]
        ),
        Thresholds.load(),
    ).sort("record_key")
    assert got["person_id"].to_list() == ["P1", None, None, None]
    assert got["person_method"].to_list() == ["exact", None, None, None]
    assert got["person_review"].to_list() == [False, True, False, True]


def test_an_exact_rule_naming_a_level_that_does_not_exist_is_refused():
    from jingzhun.matching.person import _check_levels

    with pytest.raises(ValueError, match="exct"):
        _check_levels(({"id_digits": ("exct",), "name": ("exact",)},))


def test_a_common_name_counts_for_less_than_a_rare_one():
    population = [
        *POPULATION,
        *(
            {
                "person_id": f"X{i}",
                "name": "张伟",
                "id_number": None,
                "phone": None,
                "house_id": f"HX{i}",
                "building_id": f"BX{i}",
                "committee_code": "C9",
            }
            for i in range(50)
        ),
    ]
    records = people(
        [
            {"record_id": 1, "name": "张伟", "committee_code": "C1", "house_id": "H1", "building_id": "B1"},
            {"record_id": 2, "name": "李娜", "committee_code": "C1", "house_id": "H2", "building_id": "B1"},
        ],
        "record_id",
    )
    pairs = score_pairs(records, people(population, "person_id"))
    weight = {
        r["unique_id_l"]: r["match_weight"]
        for r in pairs.filter(pl.col("unique_id_r").is_in(["P1", "P2"])).iter_rows(named=True)
    }
    assert weight["1"] < weight["2"]


def test_address_levels_resolve_to_one_candidate_or_refuse():
    def address(record_id, road=None, number=None, building=None, room=None, community=None, rest=None):
        return {
            "record_id": record_id,
            "house_id": f"H{record_id}",
            "addr_road": road,
            "addr_road_number": number,
            "addr_building": building,
            "addr_unit": None,
            "addr_floor": None,
            "addr_room": room,
            "addr_community": community,
            "addr_rest": rest,
        }

    fields = ("road", "road_number", "building", "unit", "floor", "room", "community", "rest")

    houses = with_building_id(
        with_address_keys(
            pl.DataFrame(
                [
                    address(1, "碧波路", "455弄", "3", "502", "锦绣苑"),
                    address(2, "碧波路", "455弄", "3", "602", "锦绣苑"),
                    address(3, "祖冲之路", "88号", "5", "1201", "汤臣豪园"),
                    address(
                        4, "高科路", "10号", "1", "101", "汤臣豪园"
                    ),  # the same community name in another committee
                    address(5, "博庆路", rest="北460米"),  # a place without numbers, as a hotline's place
                ],
                schema_overrides={f"addr_{f}": pl.Utf8 for f in fields},
            )
        )
    ).with_columns(
        grid_id=pl.Series(["G1", "G1", "G2", "G3", "G4"]),
        committee_code=pl.Series(["C1", "C1", "C2", "C3", "C4"]),
        house_id=pl.Series(["H1", "H2", "H3", "H4", "H5"]),
    )
    records = with_address_keys(
        pl.DataFrame(
            [
                address(10, "碧波路", "455弄", "3", "502"),
                address(11, "碧波路", "455弄", "3"),
                address(12, community="汤臣豪园", building="5", room="1201"),
                address(13, community="汤臣豪园"),
                address(14, "博庆路", rest="北460米"),  # the place, written as the register writes it
                address(15, "博庆路", rest="北460米旁边"),  # beside it: not the place
                address(16, "博庆路"),  # the road alone
            ],
            schema_overrides={f"addr_{f}": pl.Utf8 for f in fields},
        )
    )
    got = resolve_addresses(duckdb.connect(), records, houses).sort("record_id")
    assert got["address_level"].to_list() == ["house", "building", "house", None, "house", None, None]
    assert got["house_id"].to_list() == ["H1", None, "H3", None, "H5", None, None]
    assert got["committee_code"].to_list() == ["C1", "C1", "C2", None, "C4", None, None]
    assert got["address_ambiguous"].to_list()[3] is True


def test_one_case_per_person_across_sources():
    features = pl.DataFrame(
        {
            "unique_id": ["1", "2", "3", "4", "5", "6"],
            "id_digits": [ZHANG["id_number"], None, "44010119900101002X", "44010119900101002X", None, None],
            "phone": ["13800000001", "13800000001", None, "13900000009", "13900000009", None],
            "surname": ["张", "张", "陈", "陈", "陈", "刘"],
            "name": ["张伟", None, "陈静", "陈静", None, "刘洋"],
            "building_id": ["B1", "B1", None, None, None, "B7"],
        }
    )
    matched = pl.DataFrame({"record_id": [1, 2, 3, 4, 5, 6], "person_id": ["P1", None, None, None, None, None]})
    keys = dict(case_keys(matched, features).iter_rows())
    assert keys[1] == keys[2] == "P:P1"  # the hotline call without a name joins the checkpoint record by phone
    # An arrival not in the population: one case by the ID number, which the key does not show.
    assert keys[3] == keys[4] == keys[5] == "ID:" + hashlib.sha256(b"44010119900101002X").hexdigest()[:16]
    assert keys[6] not in (keys[1], keys[3])


@pytest.mark.parametrize("level", ["accept", "review"])
def test_thresholds_come_from_the_rules(level):
    from jingzhun.core import rules

    assert getattr(Thresholds.load(), level) == rules.load("thresholds")["person"][level]


def test_a_misspelt_road_finds_the_house_when_numbers_agree_and_refuses_a_tie():
    from jingzhun.core import rules
    from jingzhun.matching.address import resolve_fuzzy

    houses = pl.DataFrame(
        {
            "house_id": ["H1", "H2", "H3", "H4"],
            "addr_road": ["碧波路", "张杨路", "金科路", "金柯路"],
            "addr_road_number": ["455弄", "455弄", "88号", "88号"],
            "addr_building": ["3", "3", "5", "5"],
            "addr_room": ["502", "502", "1201", "1201"],
            "addr_community": [None, None, None, None],
        },
        schema_overrides={"addr_community": pl.Utf8},
    )
    records = pl.DataFrame(
        {
            "record_id": [1, 2, 3, 4],
            # Pinyin keyboard slips (homophones), a name that sounds like two roads, and a different-sounding name.
            "addr_road": ["璧波路", "张扬路", "金珂路", "碧坡路"],
            "addr_road_number": ["455弄", "455弄", "88号", "455弄"],
            "addr_building": ["3", "3", "5", "3"],
            "addr_room": ["502", "502", "1201", "502"],
            "addr_community": [None, None, None, None],
        },
        schema_overrides={"addr_community": pl.Utf8},
    )
    config = rules.load("thresholds")["address"]
    got = resolve_fuzzy(records, houses, config["fuzzy_min_score"], config["fuzzy_min_gap"]).sort("record_id")
    assert got["house_id"].to_list() == ["H1", "H2", None]  # 碧坡路 (po, not bo) reaches no candidate at all
    assert got["fuzzy_ambiguous"].to_list() == [False, False, True]


def test_the_fuzzy_stage_never_takes_a_house_in_another_subdistrict_than_the_address_names():
    from jingzhun.core import rules
    from jingzhun.matching.address import resolve_fuzzy

    houses = pl.DataFrame(
        {
            "house_id": ["H1", "H2"],
            "addr_road": ["碧波路", "碧波路"],
            "addr_road_number": ["455弄", "455弄"],
            "addr_building": ["3", "3"],
            "addr_room": ["502", "502"],
            "addr_community": [None, None],
            "subdistrict_code": ["S-north", "S-south"],
        },
        schema_overrides={"addr_community": pl.Utf8},
    )
    records = pl.DataFrame(
        {
            "record_id": [1, 2, 3],
            "addr_road": ["璧波路", "璧波路", "璧波路"],
            "addr_road_number": ["455弄"] * 3,
            "addr_building": ["3"] * 3,
            "addr_room": ["502"] * 3,
            "addr_community": [None] * 3,
            # the south named in the text; the north; nothing (two equal candidates: no choice)
            "written_subdistrict_code": ["S-south", "S-north", None],
        },
        schema_overrides={"addr_community": pl.Utf8, "written_subdistrict_code": pl.Utf8},
    )
    config = rules.load("thresholds")["address"]
    got = resolve_fuzzy(
        records,
        houses,
        config["fuzzy_min_score"],
        config["fuzzy_min_gap"],
        same=("written_subdistrict_code", "subdistrict_code"),
    ).sort("record_id")
    assert got["house_id"].to_list() == ["H2", "H1", None]
    assert got["fuzzy_ambiguous"].to_list() == [False, False, True]


def test_the_written_town_or_a_community_or_road_of_one_subdistrict_names_the_subdistrict():
    from jingzhun.matching.link import written_subdistricts

    grid = pl.DataFrame(
        {"subdistrict_name": ["张江镇", "金桥镇"], "subdistrict_code": ["S1", "S2"], "committee_code": ["C1", "C2"]}
    )
    houses = pl.DataFrame(
        {
            "addr_community": ["汤臣豪园", "阳光花园", "阳光花园", None, None, None],
            "addr_road": [None, None, None, "栖明路", "金高路", "金高路"],
            "committee_code": ["C1", "C1", "C2", "C2", "C1", "C2"],
        }
    )
    usable = pl.DataFrame(
        {
            "record_id": [1, 2, 3, 4, 5, 6],
            "addr_town": ["金桥镇", None, None, None, None, None],
            "addr_community": ["汤臣豪园", "汤臣豪园", "阳光花园", None, None, None],  # 阳光花园 lies in both
            # A road of one subdistrict names it (a crossing, 栖明路潍川路口); 金高路 runs through both.
            "addr_road": [None, "栖明路", None, None, "栖明路", "金高路"],
        },
        schema_overrides={"addr_town": pl.Utf8, "addr_community": pl.Utf8, "addr_road": pl.Utf8},
    )
    got = written_subdistricts(usable, houses, grid).sort("record_id")
    assert got["written_subdistrict_code"].to_list() == ["S2", "S1", None, None, "S2", None]


def test_the_token_stage_decides_as_far_as_the_text_tells_candidates_apart():
    """The decision on scored pairs (levels as the token model labels them): a house when one candidate stands out
    and meets house_requires, and the candidates that do not (a gate, a part) step aside for one that does and is
    sure; the building or committee near-equal candidates share; nothing across committees; never a house the
    written subdistrict or numbers contradict, nor outside the committee an exact stage found."""
    from jingzhun.core import rules
    from jingzhun.matching.address import decide_address_tokens

    houses = pl.DataFrame(
        {
            "house_id": ["H1", "H2", "H3", "H4", "H5", "H6", "H7"],
            "building_id": ["B1", "B1", "B2", "B3", "B4", "B5", "B6"],
            "grid_id": ["G1", "G1", "G1", "G2", "G2", "G3", "G3"],
            "committee_code": ["C1", "C1", "C1", "C2", "C2", "C3", "C3"],
            "subdistrict_code": ["S1", "S1", "S1", "S2", "S2", "S1", "S1"],
        }
    )
    same = {
        "level_numbers": "same",
        "level_tokens_unwritten": "none",
        "level_tokens_extra": "none",
        "level_relative": "neither",
        "level_tails": "written",
        "level_tokens_shared": "unique_2",
        "level_district": "missing",
        "level_town": "missing",
        "level_named": "else",
    }
    named = {**same, "level_numbers": "else", "level_tokens_unwritten": "half", "level_named": "community_building"}
    pairs = pl.DataFrame(
        [
            {"record_id": 1, "house_id": "H1", "match_weight": 20.0, **same},  # stands out
            {"record_id": 1, "house_id": "H4", "match_weight": 5.0, **same},
            {"record_id": 2, "house_id": "H1", "match_weight": 12.0, **same},  # two rooms of one building, alike
            {"record_id": 2, "house_id": "H2", "match_weight": 11.0, **same},
            {"record_id": 3, "house_id": "H1", "match_weight": 12.0, **same},  # one committee, two buildings
            {"record_id": 3, "house_id": "H3", "match_weight": 12.0, **same},
            {"record_id": 4, "house_id": "H1", "match_weight": 12.0, **same},  # two committees: nothing
            {"record_id": 4, "house_id": "H6", "match_weight": 11.5, **same},
            {"record_id": 5, "house_id": "H4", "match_weight": 20.0, **same},  # the text names S1: H4 lies in S2
            {"record_id": 6, "house_id": "H6", "match_weight": 20.0, **same, "level_numbers": "else"},  # 9号 ≠ 5号
            {"record_id": 7, "house_id": "H6", "match_weight": 20.0, **same, "level_numbers": "written_all"},  # finer
            {"record_id": 8, "house_id": "H1", "match_weight": 20.0, **same},  # an exact stage found C3
            {"record_id": 9, "house_id": "H7", "match_weight": 3.0, **same},  # too weak to accept
            {"record_id": 10, "house_id": "H6", "match_weight": 20.0, **same, "level_relative": "else"},  # 银行对面
            {
                "record_id": 11,
                "house_id": "H7",
                "match_weight": 20.0,
                **same,
                "level_numbers": "inner",
            },  # its room 1406
            # 察哈尔路67号8幢: the road as a whole weighs more, but a house holding 67 and 8 is there: the road steps
            # aside. Without such a house (record 13) the road stays, and the text goes no further than it.
            {"record_id": 12, "house_id": "H4", "match_weight": 25.0, **same, "level_numbers": "house_none"},
            {"record_id": 12, "house_id": "H5", "match_weight": 12.0, **same},
            {"record_id": 13, "house_id": "H4", "match_weight": 25.0, **same, "level_numbers": "house_none"},
            {"record_id": 13, "house_id": "H5", "match_weight": 24.0, **same, "level_numbers": "house_more"},
            # 漕溪公寓: its gate (漕溪公寓(东门)) weighs more, but it is a part of the place, not a rival of the
            # house the text writes, and steps aside; a gate beside a house too weak to accept (record 15) stays,
            # and the text resolves no further than their building.
            {"record_id": 14, "house_id": "H1", "match_weight": 26.0, **same, "level_relative": "else"},
            {"record_id": 14, "house_id": "H2", "match_weight": 20.0, **same},
            {"record_id": 15, "house_id": "H1", "match_weight": 6.0, **same, "level_relative": "else"},
            {"record_id": 15, "house_id": "H2", "match_weight": 3.0, **same},
            # 云纺国际商厦A座18楼 against 环城南路668号云纺国际商厦A座: the numbers as a set differ (668), the words
            # fall short, but the community and building agree and nothing the texts write contradicts them: the
            # one house so named. Two such houses (record 17) are no one house; a text in another district
            # (record 18) names another place of that name.
            {"record_id": 16, "house_id": "H6", "match_weight": -2.0, **named},
            {"record_id": 16, "house_id": "H7", "match_weight": 1.0, **same, "level_numbers": "house_none"},
            {"record_id": 17, "house_id": "H6", "match_weight": -2.0, **named},
            {"record_id": 17, "house_id": "H7", "match_weight": -2.0, **named},
            {"record_id": 18, "house_id": "H6", "match_weight": -2.0, **named, "level_district": "else"},
        ]
    ).with_columns(match_probability=1 / (1 + 2 ** -pl.col("match_weight")))
    records = pl.DataFrame(
        {
            "record_id": range(1, 19),
            "written_subdistrict_code": [None, None, None, None, "S1", *[None] * 13],
            "committee_code": [*[None] * 7, "C3", *[None] * 10],
        },
        schema_overrides={"written_subdistrict_code": pl.Utf8, "committee_code": pl.Utf8},
    )
    config = rules.load("thresholds")["address"]["tokens"]
    got = {r["record_id"]: r for r in decide_address_tokens(pairs, records, houses, config).iter_rows(named=True)}
    assert (got[1]["token_level"], got[1]["house_id"], got[1]["committee_code"]) == ("house", "H1", "C1")
    assert (got[2]["token_level"], got[2]["house_id"], got[2]["building_id"]) == ("building", None, "B1")
    assert (got[3]["token_level"], got[3]["building_id"], got[3]["committee_code"]) == ("community", None, "C1")
    assert got[4]["token_level"] is None and got[4]["committee_code"] is None and got[4]["token_ambiguous"]
    assert 5 not in got and 6 not in got and 8 not in got and 9 not in got
    # Numbers finer than the register's entry: its building and committee, not the house.
    assert (got[7]["token_level"], got[7]["house_id"], got[7]["committee_code"]) == ("building", None, "C3")
    # A text placed by another place (对面, 附近) or at a gate of one: the building it is by, not the house.
    assert (got[10]["token_level"], got[10]["house_id"], got[10]["building_id"]) == ("building", None, "B5")
    # A room of a house the register holds as one entry (丰利大厦 for 丰利大厦1406室): that house.
    assert (got[11]["token_level"], got[11]["house_id"]) == ("house", "H7")
    assert (got[12]["token_level"], got[12]["house_id"]) == ("house", "H5")
    assert (got[13]["token_level"], got[13]["house_id"], got[13]["committee_code"]) == ("community", None, "C2")
    assert (got[14]["token_level"], got[14]["house_id"]) == ("house", "H2")
    assert (got[15]["token_level"], got[15]["house_id"], got[15]["building_id"]) == ("building", None, "B1")
    assert (got[16]["token_level"], got[16]["house_id"]) == ("house", "H6")
    assert 17 not in got and 18 not in got


def token_levels(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The token model's comparison levels of each (record text, house text), both parsed as the cleanse step does
    and compared by the SQL of `address_comparisons` in DuckDB (the register: these houses)."""
    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core import rules
    from jingzhun.matching.address import token_tables
    from jingzhun.matching.comparisons import address_comparisons

    records = normalize_column(
        pl.DataFrame({"record_id": range(len(pairs)), "address": [r for r, _ in pairs]}), "address", "address"
    )
    houses = normalize_column(
        pl.DataFrame({"house_id": [str(i) for i in range(len(pairs))], "address": [h for _, h in pairs]}),
        "address",
        "address",
    )
    frames = token_tables(records, houses, {**rules.load("thresholds")["address"]["tokens"], "block_max_houses": 100})
    con = duckdb.connect()
    con.register("r", frames["record"])
    con.register("h", frames["house"])
    sides = ", ".join(f"r.{c} AS {c}_l, h.{c} AS {c}_r" for c in frames["record"].columns)
    levels = ", ".join(
        "CASE "
        + " ".join(
            f"WHEN {lvl['sql_condition']} THEN '{lvl['label_for_charts']}'"
            for lvl in c["comparison_levels"]
            if lvl["sql_condition"] != "ELSE"
        )
        + f" ELSE 'else' END AS {c['output_column_name']}"
        for c in address_comparisons()
    )
    return (
        con.sql(
            f"SELECT {levels} FROM (SELECT {sides} FROM r JOIN h USING (unique_id)) "
            "ORDER BY CAST(unique_id_l AS INTEGER)"
        )
        .pl()
        .to_dicts()
    )


def test_the_token_tables_made_in_batches_are_the_tables_made_at_once(monkeypatch):
    """The houses' and records' token tables are made a batch of addresses at a time (DuckDB cannot spill their
    per-address lists): every row is the one made with all addresses in one batch, every word weighed by the
    whole register's counts, and the rows come in the order the addresses were given."""
    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core import rules
    from jingzhun.matching import address

    texts = ["宏达路5号宏达大厦3单元", "明珠苑2幢", "东泰花园", "宏达大厦对面", "明珠苑5幢101室", "丰利大厦1406室", ""]
    order = [5, 2, 6, 0, 3, 1, 4]  # neither sorted by id nor by text
    houses = normalize_column(
        pl.DataFrame({"house_id": [f"H{i}" for i in order], "address": [texts[i] for i in order]}),
        "address",
        "address",
    )
    records = normalize_column(
        pl.DataFrame({"record_id": [10 + i for i in order], "address": [texts[i] + "附近" for i in order]}),
        "address",
        "address",
    )
    config = {**rules.load("thresholds")["address"]["tokens"], "block_max_houses": 2}
    whole = address.token_tables(records, houses, config)
    monkeypatch.setattr(address, "_BATCH_ROWS", 2)
    batched = address.token_tables(records, houses, config)
    assert batched["house"]["unique_id"].to_list() == [f"H{i}" for i in order]
    assert batched["record"]["unique_id"].to_list() == [str(10 + i) for i in order]
    for side in ("house", "record"):
        assert batched[side].equals(whole[side])
    # The words were weighed by the whole register: 宏达 is held by two houses of seven, whatever the batch.
    tokens = dict(zip(batched["house"]["unique_id"], batched["house"]["tokens"], strict=True))
    assert {t["t"]: t["b"] for t in tokens["H0"]}["宏达"] == pytest.approx(math.log2(7 / 2))


def test_a_texts_bits_are_its_tokens_bits_added_in_their_order_whatever_the_batch(monkeypatch):
    """A text's `token_bits` and `name_bits` are its tokens' bits added in the tokens' order (by word), as the
    comparisons add them: not in whatever order the rows of an aggregate came, which moved their last bits with
    the batches (two thousand texts: enough words of unequal bits for the order of adding to show)."""
    import random

    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core import rules
    from jingzhun.matching import address

    pick = random.Random(7)
    chars = "东泰明珠宏达丰利金桂兰竹梅松柏春秋华新安康乐平和顺兴隆盛世纪阳光翠湖滨江海景山水龙凤祥瑞"
    texts = [
        "浙江省杭州市余杭区"
        + "".join(pick.choice(chars) for _ in range(pick.randint(2, 9)))
        + pick.choice(["花园", "大厦", "新村", "公寓", "苑"])
        + f"{pick.randint(1, 30)}幢"
        for _ in range(2000)
    ]
    houses = normalize_column(
        pl.DataFrame({"house_id": [f"H{i}" for i in range(len(texts))], "address": texts}), "address", "address"
    )
    config = rules.load("thresholds")["address"]["tokens"]
    whole = address.token_tables(houses.head(0).with_columns(record_id=pl.lit(0)), houses, config)["house"]
    monkeypatch.setattr(address, "_BATCH_ROWS", 300)
    with open_duckdb() as con:
        address.store_house_tokens(con, houses, config, "batched")
        batched = address.house_tokens(con, "batched")
    assert batched.equals(whole)
    for row in whole.iter_rows(named=True):
        assert row["token_bits"] == sum(t["b"] for t in row["tokens"])  # Python's sum adds them left to right
        assert row["name_bits"] == sum(t["b"] for t in row["tokens"] if not t["a"])


def test_the_token_model_compares_names_without_divisions_and_numbers_as_written():
    """Made-up pairs: the divisions a text writes are not a place the register lacks; numbers written in Chinese
    are numbers; a unit or room beyond the house's own numbers is the house written finely, another building is
    not; a text by or at a gate of a place, or a distance from one, is relative; a distance is no number."""
    got = token_levels(
        [
            ("浙江省杭州市余杭区明珠苑", "明珠苑"),
            ("宏达路5号宏达大厦三单元", "宏达路5号宏达大厦"),
            ("宏达大厦五号楼", "宏达大厦5号楼"),
            ("宏达路5号宏达大厦2号楼", "宏达路5号宏达大厦"),
            ("东泰花园", "东泰花园(东门)"),
            ("宏达大厦对面", "宏达大厦"),
            ("东泰花园", "东泰花园(北2门)"),
            ("宏达路与明珠路交叉口南100米", "宏达路与明珠路交叉口"),
            # A distance places the text: no number of the place.
            ("明珠苑3号楼二单元", "宏达路与明珠路交叉口西北100米明珠苑3号楼"),
            # A floor after a building is inside it; a unit numbered as the building is still the building's number.
            ("明珠苑3号楼5楼", "明珠苑3号楼"),
            ("明珠苑1号楼1单元", "明珠苑"),
        ]
    )
    assert (got[0]["tokens_extra"], got[0]["tokens_unwritten"]) == ("none", "none")
    assert got[1]["numbers"] == "inner"
    assert got[2]["numbers"] == "same"
    assert got[3]["numbers"] == "written_all"
    assert [g["relative"] for g in got[:8]] == ["neither"] * 4 + ["else"] * 4
    assert (got[8]["numbers"], got[8]["relative"]) == ("inner", "neither")
    assert got[9]["numbers"] == "inner"
    assert got[10]["numbers"] == "house_none"


def test_a_name_one_text_ends_with_and_the_other_does_not_write_is_a_part_of_the_place():
    """Made-up register: a department or a room of a place (招商部, 洗手间) ends one text and not the other, and so
    does a part of it no house's words hold (兴凯镇九组: a village group of the town); a bracketed branch or road a
    register entry ends with, a note for the courier (电话联系, 打电话) and a district do not count."""
    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core import rules
    from jingzhun.matching.address import token_tables, with_tails

    pairs = [
        ("浦三路3058号长青企业广场招商部", "浦三路3058号长青企业广场"),
        ("阳光步行街1号阳光国际大酒店", "阳光步行街1号阳光国际大酒店-洗手间"),
        ("南秀村23号波浪美发", "南秀村23号波浪美发(南秀村路店)"),
        ("王宁前街村电话联系", "安阳县王宁前街村"),
        ("人民南路14号(华西口腔医院)", "人民南路14号华西口腔医院"),
        ("浙江省杭州市余杭区明珠苑", "明珠苑"),
        ("兴凯镇九组", "密山市兴凯镇"),
        ("黑庄户乡万子营西村打电话", "朝阳区万子营西村"),
    ]
    records = normalize_column(
        pl.DataFrame({"record_id": range(len(pairs)), "address": [r for r, _ in pairs]}), "address", "address"
    )
    # 商部 is a word of the register (another house's): 招商部 names a place the register knows of.
    houses = normalize_column(
        pl.DataFrame(
            {"house_id": [str(i) for i in range(len(pairs) + 1)], "address": [h for _, h in pairs] + ["东方招商部"]}
        ),
        "address",
        "address",
    )
    frames = token_tables(records, houses, rules.load("thresholds")["address"]["tokens"])
    scored = pl.DataFrame({"record_id": range(len(pairs)), "house_id": [str(i) for i in range(len(pairs))]})
    got = with_tails(scored, frames["record"], frames["house"]).sort("record_id")["level_tails"].to_list()
    assert got == ["else", "else", "written", "written", "written", "written", "else", "written"]


def test_two_texts_agree_on_the_finest_level_both_name_field_by_field():
    """Made-up register: the parsed levels compared one by one. The same community and building where one text writes
    the road and number and the other does not (their numbers as a set differ: 668); a community written inside the
    other's (a prefix, a middle dot, the name written twice); the same road, number and building; the same road and
    number with no building. Not when a level both write differs (the building, the road number, the floor), when
    the house holds a room the text does not write, or when the text writes a number of another level the house
    lacks (D区)."""
    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core import rules
    from jingzhun.matching.address import token_tables, with_named_levels

    pairs = [
        ("云纺国际商厦A座18楼", "环城南路668号云纺国际商厦A座", "community_building"),
        ("华阳路玉莲新村19幢", "黄埭镇玉莲新村19幢", "community_building"),
        ("唐镇路保利御樽苑13号楼", "唐镇保利·御樽苑(唐镇路南)保利·御樽苑13号楼", "community_building"),
        ("察哈尔路67号8幢2楼", "察哈尔路67号8幢", "road_building"),
        ("兴宁路42号", "兴宁路42号", "road_number"),
        ("天河北路898号信源大厦", "天河北路东段898号(五山路口)信源大厦", "road_number"),
        ("云纺国际商厦B座", "环城南路668号云纺国际商厦A座", "else"),
        ("兴宁路42号", "兴宁路44号", "else"),
        ("云纺国际商厦A座18楼", "云纺国际商厦A座17楼", "else"),
        ("金汇嘉园15号楼", "金汇嘉园15号楼2单元301室", "else"),
        ("阿尔卡迪亚D区8栋", "阿尔卡迪亚8栋", "else"),
    ]
    records = normalize_column(
        pl.DataFrame({"record_id": range(len(pairs)), "address": [r for r, _, _ in pairs]}), "address", "address"
    )
    houses = normalize_column(
        pl.DataFrame({"house_id": [str(i) for i in range(len(pairs))], "address": [h for _, h, _ in pairs]}),
        "address",
        "address",
    )
    frames = token_tables(records, houses, rules.load("thresholds")["address"]["tokens"])
    scored = pl.DataFrame({"record_id": range(len(pairs)), "house_id": [str(i) for i in range(len(pairs))]})
    got = with_named_levels(scored, frames["record"], frames["house"]).sort("record_id")["level_named"].to_list()
    assert got == [level for _, _, level in pairs]


def _generated_day_matched(tmp_path, seed: int, settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A generated district of 3,000 persons and its day (`settings`) in `tmp_path`, run through the steps up to
    the match stage: the day's (standard_records, matches)."""
    import datetime as dt

    from jingzhun.core.run import Run
    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.flows import steps
    from jingzhun.synthetic.generate import generate

    day = dt.date(2026, 11, 22)
    generate(tmp_path, persons=3000, seed=seed, day=day, settings=settings)
    run = Run(inbox=tmp_path / "inbox", reference=tmp_path / "reference", out=tmp_path / "out", run_date=day)
    for step in (steps.prepare, steps.ingest, steps.cleanse, steps.match):
        step(run)
    with connect(run.warehouse) as con:
        return read_run(con, "standard_records", day), read_run(con, "matches", day)


def test_addresses_without_numbers_resolve_to_their_committee_and_never_to_another_subdistrict(tmp_path):
    """A generated district whose day writes addresses without numbers (东泰花园, 打浦路斜土路口东泰花园) and
    hotline places (宏贸路南150米): through the match stage, the token stage routes them, and none elsewhere."""
    from jingzhun.evaluation.metrics import read_truth
    from jingzhun.synthetic.settings import Settings

    standard, matches = _generated_day_matched(tmp_path, 11, Settings(numberless_addresses=0.3, numberless_places=0.3))
    truth = read_truth(tmp_path / "truth.csv").filter(pl.col("phenomena").fill_null("").str.contains("no_number"))
    rows = (
        standard.select("record_id", "source", "source_file", "source_row")
        .join(matches.select("record_id", "address_method", "committee_code", "subdistrict_code"), on="record_id")
        .join(
            truth.select(
                "source",
                "source_file",
                "source_row",
                true_committee="committee_code",
                true_subdistrict="subdistrict_code",
            ),
            on=["source", "source_file", "source_row"],
        )
    )
    by_tokens = rows.filter(pl.col("address_method").str.ends_with("_tokens").fill_null(False))
    # What the exact stages left (a crossing before the community, a place by a road): the token stage routes it.
    assert by_tokens.height >= 10
    assert (by_tokens["committee_code"] == by_tokens["true_committee"]).mean() >= 0.95
    assert (rows["committee_code"] == rows["true_committee"]).fill_null(False).mean() >= 0.95
    routed = rows.filter(pl.col("subdistrict_code").is_not_null())
    assert (routed["subdistrict_code"] == routed["true_subdistrict"]).all()


def test_household_phones_away_from_home_link_and_sparse_rows_route_to_the_phones_home(tmp_path):
    """A generated day where households share phones, many are away from home, health files lack the ID column
    and hotline rows are sparse (陈先生 and a phone, no address): through the match stage, a full name with the
    household's phone links its person wherever the address says they are, and a row naming no one is routed to
    the home its phone's holders share, never to another subdistrict."""
    from jingzhun.evaluation.metrics import read_truth
    from jingzhun.synthetic.settings import Settings

    standard, matches = _generated_day_matched(
        tmp_path,
        12,
        Settings(day_rows=1500, away_from_home=0.4, household_phones=0.9, sparse_hotline=0.6, empty_columns=0.5),
    )
    rows = (
        standard.select("record_id", "source", "source_file", "source_row")
        .join(
            matches.select("record_id", "person_id", "address_method", "committee_code", "subdistrict_code"),
            on="record_id",
        )
        .join(
            read_truth(tmp_path / "truth.csv").select(
                "source",
                "source_file",
                "source_row",
                "names_one_person",
                "phenomena",
                true_person="person_id",
                true_committee="committee_code",
                true_subdistrict="subdistrict_code",
            ),
            on=["source", "source_file", "source_row"],
        )
    )
    linked = rows.filter(pl.col("person_id").is_not_null())
    assert (linked["person_id"] == linked["true_person"]).all()
    phenomena = pl.col("phenomena").fill_null("")
    away_on_household_phone = rows.filter(
        pl.col("names_one_person") & phenomena.str.contains("away_from_home") & phenomena.str.contains("shared_phone")
    )
    assert away_on_household_phone.height >= 50
    assert (away_on_household_phone["person_id"] == away_on_household_phone["true_person"]).mean() >= 0.98
    by_phone = rows.filter(pl.col("address_method") == "phone_home")
    assert by_phone.height >= 5 and by_phone["person_id"].is_null().all()
    assert (by_phone["committee_code"] == by_phone["true_committee"]).all()
    routed = rows.filter(pl.col("subdistrict_code").is_not_null() & pl.col("true_subdistrict").is_not_null())
    assert (routed["subdistrict_code"] == routed["true_subdistrict"]).all()


def test_the_token_model_is_trained_once_per_register_and_a_later_day_only_scores_its_records(tmp_path):
    """The token stage's model and the houses' words are kept in the warehouse for the register: a later day is
    scored by the stored model, each record as on the day it was trained; a changed housing file trains anew."""
    import datetime as dt
    import shutil

    from jingzhun.core.run import Run
    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.flows import steps
    from jingzhun.matching.link import match
    from jingzhun.matching.reference import load_reference
    from jingzhun.synthetic.generate import generate
    from jingzhun.synthetic.settings import Settings

    day = dt.date(2026, 11, 22)
    generate(
        tmp_path, persons=3000, seed=11, day=day, settings=Settings(numberless_addresses=0.3, numberless_places=0.3)
    )
    run = Run(inbox=tmp_path / "inbox", reference=tmp_path / "reference", out=tmp_path / "out", run_date=day)
    for step in (steps.prepare, steps.ingest, steps.cleanse):
        step(run)
    with connect(run.warehouse) as con:
        standard = read_run(con, "standard_records", day)
    reference = load_reference(tmp_path / "reference")
    columns = ["record_id", "address_method", "house_id", "committee_code"]
    con = duckdb.connect()
    first = match(con, standard, reference).matched.select(columns)
    trained = con.execute("SELECT register_key, trained_records, settings FROM token_model").fetchall()
    assert len(trained) == 1 and trained[0][1] >= 50
    assert first["address_method"].str.ends_with("_tokens").sum() >= 10

    # A later day (here every other record of the first): the stored model scores it, nothing is trained again.
    later = match(con, standard.filter(pl.col("record_id") % 2 == 0), reference).matched.select(columns)
    assert con.execute("SELECT register_key, trained_records, settings FROM token_model").fetchall() == trained
    assert later.sort("record_id").equals(first.filter(pl.col("record_id") % 2 == 0).sort("record_id"))

    # A house more in the housing file is another register: its words and model are made anew.
    changed = tmp_path / "changed"
    shutil.copytree(tmp_path / "reference", changed)
    housing = pl.read_csv(changed / "housing.csv", infer_schema=False)
    pl.concat([housing, housing.head(1).with_columns(house_id=pl.lit("H-NEW"))]).write_csv(changed / "housing.csv")
    match(con, standard, load_reference(changed))
    retrained = con.execute("SELECT register_key, trained_records FROM token_model").fetchall()
    assert len(retrained) == 1 and retrained[0][0] != trained[0][0]
    assert con.execute("SELECT DISTINCT register_key FROM token_words").fetchall() == [(retrained[0][0],)]


def test_the_houses_are_standardized_without_the_population_and_kept_when_only_the_population_changes(
    district, tmp_path
):
    import shutil

    from jingzhun.core.warehouse import connect
    from jingzhun.matching.reference import load_reference
    from jingzhun.matching.standardized import standardize_houses, standardize_reference, standardized_key

    folder = tmp_path / "reference"
    shutil.copytree(district / "reference", folder)
    houses_only = load_reference(folder, read=("grid", "housing"))
    assert houses_only.population.is_empty() and set(houses_only.files) == {"grid", "housing"}
    with connect(tmp_path / "warehouse.duckdb") as con:
        houses = standardize_houses(con, houses_only)
        assert (
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'reference_population'"
            ).fetchall()[0][0]
            == 0
        )
        first = load_reference(folder)
        # The fingerprints read the files when asked: taken now, before the population file changes.
        before, houses_before = first.fingerprint(), first.fingerprint(("grid", "housing"))
        houses_key = standardized_key(first, ("grid", "housing"))
        _, population = standardize_reference(con, first)
        assert population.height == first.population.height
        # A run whose standardized population is cached need not read the population: deferred, it is read when
        # asked, and the fingerprint (what the cache is kept under) is the same.
        deferred = load_reference(folder, later=("population",))
        assert deferred.population.is_empty() and deferred.fingerprint() == before
        assert deferred.persons().equals(first.population)
        assert standardize_reference(con, deferred)[1].equals(population)

        # A person moves in: the population is standardized again, the houses come from the warehouse as they were.
        newcomer = first.population.head(1).with_columns(
            person_id=pl.lit("P-NEW"), id_number=pl.lit(None), name=pl.lit("欧阳娜娜")
        )
        pl.concat(
            [
                pl.read_csv(folder / "population.csv", infer_schema=False),
                newcomer.select(pl.read_csv(folder / "population.csv", infer_schema=False, n_rows=0).columns),
            ]
        ).write_csv(folder / "population.csv")
        second = load_reference(folder)
        assert second.fingerprint() != before and second.fingerprint(("grid", "housing")) == houses_before
        cached_houses, moved = standardize_reference(con, second)
        hashes = con.execute("SELECT DISTINCT reference_hash FROM reference_houses").fetchall()
    assert cached_houses.sort("house_id").equals(houses.sort("house_id"))
    assert hashes == [(houses_key,)]
    assert moved.height == population.height + 1
    assert moved.filter(pl.col("person_id") == "P-NEW")["name"].to_list() == ["欧阳娜娜"]


def test_the_cached_reference_is_read_back_from_its_parquet_copy_as_from_the_warehouse(district, tmp_path):
    import shutil

    from jingzhun.core.warehouse import connect
    from jingzhun.matching import standardized
    from jingzhun.matching.reference import load_reference
    from jingzhun.matching.standardized import standardize_reference

    folder = tmp_path / "reference"
    shutil.copytree(district / "reference", folder)
    copies = tmp_path / ".reference-cache"
    reference = load_reference(folder)
    with connect(tmp_path / "warehouse.duckdb") as con:
        first = standardize_reference(con, reference)  # the first day: standardized and stored, no copy yet
        assert not copies.exists()
        from_warehouse = standardize_reference(con, reference)  # copied by DuckDB from its table, read back
        for table, made in zip(from_warehouse, first, strict=True):
            assert table.schema == made.schema and table.equals(made)
        names = sorted(p.name for p in copies.iterdir())
        assert names == [
            f"reference_houses-{standardized.standardized_key(reference, ('grid', 'housing'))}.parquet",
            f"reference_population-{standardized.standardized_key(reference)}.parquet",
        ]
        from_copy = standardize_reference(con, reference)
        for table, copied in zip(from_warehouse, from_copy, strict=True):
            assert copied.schema == table.schema and copied.equals(table)

        # A copy that cannot be read is made again from the warehouse's table.
        (copies / names[1]).write_bytes(b"not parquet")
        assert standardize_reference(con, reference)[1].equals(from_warehouse[1])
        assert pl.read_parquet(copies / names[1]).equals(from_warehouse[1])

        # New population file: its copy replaces the old one, the houses' copy stays.
        population = pl.read_csv(folder / "population.csv", infer_schema=False)
        population.head(population.height - 1).write_csv(folder / "population.csv")
        changed = load_reference(folder)
        standardize_reference(con, changed)
        standardize_reference(con, changed)
    assert sorted(p.name for p in copies.iterdir()) == [
        names[0],
        f"reference_population-{standardized.standardized_key(changed)}.parquet",
    ]


def test_a_cached_day_reads_of_the_stored_population_what_the_whole_population_gives(district, tmp_path, monkeypatch):
    """The person features a day reads by SQL of the stored population (the persons its blocking rules pair with
    its records, the holders of its values, their term frequencies, its candidates' homes) are those counted over
    the whole population; a second day does not read the population out of the warehouse."""
    import shutil

    from jingzhun.cleansing.pipeline import cleanse
    from jingzhun.core.warehouse import connect
    from jingzhun.ingest.inbox import read_inbox
    from jingzhun.ingest.mapping import HeaderMapping
    from jingzhun.matching import link, standardized
    from jingzhun.matching.features import person_features, with_holders
    from jingzhun.matching.person import TF_COLUMNS, blocked_persons, term_frequencies
    from jingzhun.matching.reference import load_reference

    folder = tmp_path / "reference"
    shutil.copytree(district / "reference", folder)
    mapping = HeaderMapping.load()
    standard = cleanse(read_inbox(district / "inbox", mapping).records, mapping.all_fields())
    rules = load_model(MODEL_PATH)["blocking_rules_to_generate_predictions"]
    with connect(tmp_path / "warehouse.duckdb") as con:
        houses, population = standardized.standardize_reference(con, load_reference(folder))
        whole = person_features(population, "person_id")
        whole = with_holders(whole, whole)
        addresses, records, stored = link.linkage_inputs(con, standard, load_reference(folder))
        day_records = person_features(
            link.usable_records(standard, houses, load_reference(folder).grid).join(addresses, on="record_id"),
            "record_id",
        )
        assert records.equals(with_holders(day_records, whole))
        assert stored.all().equals(whole)
        # The day read the houses from their Parquet copy, each stage only the rows it needs: what all the houses
        # in memory give, on every address stage.
        assert list((tmp_path / ".reference-cache").glob(f"{standardized.HOUSES}-*.parquet"))
        usable = link.usable_records(standard, houses, load_reference(folder).grid)
        fingerprint = standardized.standardized_key(load_reference(folder), standardized.HOUSE_TABLES)
        assert addresses.equals(
            link.resolve_day(con, link.resolve_records(con, usable, houses), usable, houses, fingerprint)
        )
        # Persons as records that name only a committee, only a building, only a phone: every count counted whole.
        named = whole.filter(pl.col("name_pinyin").is_not_null()).head(300)
        for dropped in (("phone", "building_id"), ("phone",), ("building_id", "committee_code")):
            probe = named.with_columns(pl.lit(None, pl.Utf8).alias(column) for column in dropped)
            counted = stored.holders_of(probe)
            assert counted.equals(with_holders(probe, whole)), dropped
            assert counted["place_named_holders" if "phone" in dropped else "phone_holders"].min() >= 1
        blocked = stored.blocked(records, rules)
        assert 0 < blocked.height < whole.height
        assert blocked.sort("unique_id").equals(blocked_persons(records, whole, rules).sort("unique_id"))
        for column, frequencies in stored.frequencies(records, blocked).items():
            held = pl.concat([records[column], blocked[column]]).drop_nulls().unique()
            expected = term_frequencies(whole, column).filter(pl.col(column).is_in(held.implode()))
            assert frequencies.sort(column).equals(expected.sort(column)), column
        assert set(TF_COLUMNS) == set(stored.frequencies(records))
        # The day blocked once: each batch of its records scored in the warehouse is what Splink's own
        # `predict_between` gives for it against the whole population (its pairs, weights and levels, to the bit).
        settings = load_model(MODEL_PATH)
        pair = ["unique_id_l", "unique_id_r"]
        with stored.blocked_day(records, settings) as day:
            for batch in (records.head(40), records.slice(40, 300), records.tail(1)):
                scored = day.scored(batch).sort(pair)
                assert scored.height > batch.height
                assert scored.equals(splink_predictions(batch, whole, settings).select(scored.columns).sort(pair))
        # And every record of the day scored by `score_pairs`, in a database of its own, the same.
        scored = score_pairs(records, whole, settings).sort(pair)
        assert scored.equals(splink_predictions(records, whole, settings).select(scored.columns).sort(pair))
        assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'day_%'").fetchall()[0][0]
        homes = stored.homes(blocked["unique_id"])
        assert homes.sort("person_id").equals(
            population.filter(pl.col("person_id").is_in(blocked["unique_id"].implode()))
            .select(homes.columns)
            .sort("person_id")
        )

        # A later day with the reference unchanged: the population is kept, never read back.
        calls = []
        for made in ("_standardized_population", "_store_population", "_store_person_features"):
            monkeypatch.setattr(standardized, made, lambda *args: calls.append(args))
        again = link.linkage_inputs(con, standard, load_reference(folder, later=("population",)))
        assert calls == [] and again[1].equals(records)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_first_day_standardizes_the_population_in_chunks_as_it_would_at_once(
    district, tmp_path, monkeypatch, suffix
):
    """The population standardized and its features counted a few persons at a time (chunks of 700 of 4000, a
    person_id given twice in two chunks) are what the whole population standardized at once gives, in its order."""
    import shutil

    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core.warehouse import connect
    from jingzhun.matching import link, standardized
    from jingzhun.matching.reference import load_reference

    folder = tmp_path / "reference"
    shutil.copytree(district / "reference", folder)
    persons = pl.read_csv(folder / "population.csv", infer_schema=False)
    # The first person again, at the end of the file, with another name: not a person, the first row is.
    persons = pl.concat([persons, persons.head(1).with_columns(name=pl.lit("欧阳娜娜"))])
    (folder / "population.csv").unlink()
    getattr(persons, f"write_{suffix}")(folder / f"population.{suffix}")
    reference = load_reference(folder, later=("population",))

    # At once, as the first day standardized it before it went in chunks.
    houses = standardized.standardize_houses(duckdb.connect(), reference)
    whole = reference.persons()
    assert whole.height == persons.height - 1
    for field in ("name", "id_number", "phone"):
        whole = normalize_column(whole, field, field)
    whole = whole.join(
        houses.select("house_id", "building_id", "committee_code", home_grid_id="grid_id"), on="house_id", how="left"
    ).select(standardized.POPULATION_COLUMNS)
    features = person_features(whole, "person_id")
    features = with_holders(features, features)

    monkeypatch.setattr(standardized, "CHUNK_PERSONS", 700)
    for deferred in (reference, load_reference(folder)):
        with connect(tmp_path / f"{suffix}-{bool(deferred.deferred)}.duckdb") as con:
            stored = link.stored_population(con, deferred, houses)
            assert stored.all().equals(features)
            assert standardized.standardize_reference(con, deferred)[1].equals(whole)
    assert features.height == whole.height and features["phone_holders"].max() > 1

    # A run killed between two chunks leaves the table as it was: not a part of the population taken for all of it.
    def killed_after_one_chunk():
        yield whole.head(700)
        raise KeyboardInterrupt

    with connect(tmp_path / f"{suffix}-False.duckdb") as con, pytest.raises(KeyboardInterrupt):
        standardized._store_chunks(con, standardized.POPULATION, "killed", killed_after_one_chunk(), whole.head(0))
    with connect(tmp_path / f"{suffix}-False.duckdb") as con:
        assert con.execute(f"SELECT DISTINCT reference_hash FROM {standardized.POPULATION}").fetchall() == [
            (standardized.standardized_key(deferred),)
        ]
        assert con.execute(f"SELECT count(*) FROM {standardized.POPULATION}").fetchall() == [(whole.height,)]


def test_a_register_above_the_training_cap_trains_on_a_reproducible_sample_and_resolves_the_obvious(monkeypatch):
    """A register of more houses (and a day of more open records) than the token stage trains on: the model is
    trained on that many of each, the same ones every time, with the prior of the whole register, and a record
    written as a house of the register still resolves to it."""
    from jingzhun.cleansing.pipeline import normalize_column
    from jingzhun.core import rules
    from jingzhun.matching import address

    roads = ["明珠路", "宏达路", "金桥路", "栖霞路", "碧波路", "松涛路", "望江路", "云栖路"]
    names = [a + b for a in "星锦翠景天丹桂银芙海金玉春秋松竹" for b in "河绣苑湖鹅枫花杏蓉棠山泉晖岚溪"]
    # 240 houses, 30 on each road, each of its own name (星河大厦, 星绣公寓, …)
    texts = [
        f"{road}{n}号{names[r * 30 + n - 1]}{('大厦', '公寓', '商城')[n % 3]}"
        for r, road in enumerate(roads)
        for n in range(1, 31)
    ]
    houses = normalize_column(
        pl.DataFrame({"house_id": [f"H{i:03d}" for i in range(len(texts))], "address": texts}), "address", "address"
    ).with_columns(
        building_id=pl.col("house_id"), grid_id=pl.lit("G1"), committee_code=pl.lit("C1"), subdistrict_code=pl.lit("S1")
    )
    # Every third house written as the register writes it, every other one with only its place's name.
    written = [(i, t) for i, t in enumerate(texts) if i % 3 == 0] + [
        (i, t.split("号")[1]) for i, t in enumerate(texts) if i % 3 == 1
    ]
    records = normalize_column(
        pl.DataFrame({"record_id": range(len(written)), "address": [t for _, t in written]}), "address", "address"
    ).with_columns(written_subdistrict_code=pl.lit(None, pl.Utf8), committee_code=pl.lit(None, pl.Utf8))
    config = {**rules.load("thresholds")["address"]["tokens"], "train_max_houses": 100, "train_max_records": 60}

    trained: list[tuple[int, int, int | None]] = []
    train = address.train_address_tokens

    def spy(recs, hous, conf, register_houses=None):
        trained.append((recs.height, hous.height, register_houses))
        return train(recs, hous, conf, register_houses=register_houses)

    monkeypatch.setattr(address, "train_address_tokens", spy)
    models, found = [], None
    for _ in range(2):
        with open_duckdb() as con:
            pairs = address.score_address_tokens(con, records, houses, config, "register")
            model = json.loads(con.execute("SELECT settings FROM token_model").fetchall()[0][0])
            models.append({k: v for k, v in model.items() if k != "linker_uid"})  # a random name per Linker
            found = address.decide_address_tokens(pairs, records, houses, config)
    assert trained == [(60, 100, 240)] * 2
    assert models[0] == models[1]  # the same sample, the same model
    assert models[0]["probability_two_random_records_match"] == pytest.approx(1 / 240)
    # The house written whole: that house; its name alone (no numbers): its building, as far as the text tells.
    got = {
        r: (level, house, building)
        for r, level, house, building in found.select("record_id", "token_level", "house_id", "building_id").iter_rows()
    }
    want = {
        r: ("house", f"H{i:03d}", f"H{i:03d}") if "号" in t else ("building", None, f"H{i:03d}")
        for r, (i, t) in enumerate(written)
    }
    assert got == want


def test_a_new_version_of_the_standardizing_code_standardizes_the_reference_again(district, tmp_path, monkeypatch):
    """The standardized reference is kept under its files and the code that standardized it: the register parsed by
    an earlier parser never meets a day parsed by this one."""
    import shutil

    from jingzhun.core import rules
    from jingzhun.core.warehouse import connect
    from jingzhun.matching import standardized
    from jingzhun.matching.reference import load_reference

    reference = load_reference(district / "reference")
    made: list[int] = []
    standardize = standardized._standardize_houses
    monkeypatch.setattr(standardized, "_standardize_houses", lambda *a, **k: made.append(1) or standardize(*a, **k))
    with connect(tmp_path / "warehouse.duckdb") as con:
        first = standardized.standardize_houses(con, reference)
        standardized.standardize_houses(con, reference)
        assert len(made) == 1  # kept: the same files, the same code
        # Rules of one's own whose cleansing rules differ (here by a comment alone: the file's bytes count).
        own = tmp_path / "rules"
        shutil.copytree(rules.INSTALLED_RULES_DIR, own)
        (own / "cleansing.yaml").write_text((own / "cleansing.yaml").read_text(encoding="utf-8") + "\n# ours\n")
        with rules.using(own):
            standardized.standardize_houses(con, reference)
        assert len(made) == 2
        monkeypatch.setattr(standardized, "_code_version", lambda: "a later version")
        again = standardized.standardize_houses(con, reference)
    assert len(made) == 3 and again.equals(first)
