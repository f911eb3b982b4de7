"""The person-linkage model's settings: Chinese comparisons as Splink comparison levels, and blocking rules.

Each comparison lists its levels from the most to the least specific; each level is one SQL condition that a
reviewer can read, and a label that the exact stage's rules (`jingzhun/rules/thresholds.yaml`) and the explanations use.
The trained parameters live in the model versions' JSON (`jingzhun/matching/versions.py`), not here.
"""

from __future__ import annotations

from typing import Any


def _comparison(
    name: str, levels: list[tuple[str, str]], null: str | None = None, tf_level: str | None = None
) -> dict[str, Any]:
    """A comparison as Splink's JSON: a null level, the (label, condition) levels, then an else level.
    `tf_level` names the level whose weight is adjusted by how common the value is (王伟 counts for less)."""
    return {
        "output_column_name": name,
        "comparison_description": name,
        "comparison_levels": [
            {
                "sql_condition": null or f'"{name}_l" IS NULL OR "{name}_r" IS NULL',
                "label_for_charts": "missing",
                "is_null_level": True,
            },
            *[
                {
                    "sql_condition": condition,
                    "label_for_charts": label,
                    **({"tf_adjustment_column": name, "tf_adjustment_weight": 1.0} if label == tf_level else {}),
                }
                for label, condition in levels
            ],
            {"sql_condition": "ELSE", "label_for_charts": "else"},
        ],
    }


# The wording staff read for each level (dispatch files, review workbook).
EXPLANATIONS = {
    "id_digits": {
        "exact": "身份证号一致",
        "exact_unchecked": "身份证号一致（15位旧号或校验位不符）",
        "one_edit": "身份证号相差一位（录入错误）",
        "area_birth": "身份证号的地区和出生日期一致",
    },
    "name": {
        "exact": "姓名一致",
        "pinyin": "姓名同音",
        "fuzzy_pinyin": "姓名近音（方言易混）",
        "dropped_char": "姓名漏录一字",
        "similar": "姓名相似",
        "surname_title": "姓氏一致（只登记了称呼）",
    },
    "phone": {
        "sole": "手机号一致（人口库中仅此一人）",
        "sole_named": "手机号一致（共用此号的人中仅此一人同名）",
        "shared": "手机号一致（人口库中多人共用）",
        "tail8": "手机号后8位一致",
    },
    "address": {
        "house": "同一房屋",
        "place_named": "地址所写楼栋或小区中仅此一人同名",
        "building": "同一楼栋",
        "committee": "同一居委",
    },
}


def _PLACE_NAMED_SIDE(side: str, other: str) -> str:  # noqa: N802 (reads as the condition it is)
    """`side` names no house, and the one person of the name at its building, or committee without a building."""
    return (
        f"(house_id_{side} IS NULL AND place_named_holders_{side} = 1 AND coalesce(building_id_{side} = "
        f"building_id_{other}, building_id_{side} IS NULL AND committee_code_{side} = committee_code_{other}))"
    )


def _one_edit(left: str, right: str) -> str:
    """`damerau_levenshtein(left, right) <= 1`, with a cheap condition before it that every pair within one edit
    meets, so that DuckDB computes the distance (a table of the two strings' lengths, a few microseconds) only for the
    few pairs that meet it: most pairs a day's blocking finds (same name, phone, or area and birth date) hold IDs
    that differ in more places, and the distance was about half of the scoring SQL.

    Why the condition holds for every pair within one edit (DuckDB's `damerau_levenshtein`, `hamming` and `strlen`
    all count bytes): the one edit is a substitution or a transposition of two adjacent bytes, which keep the length,
    or one byte inserted or deleted, which changes it by one; so the lengths differ by at most one, and two strings of
    equal length differ in at most two places (one substituted, or the two transposed). The condition is therefore
    implied by the distance's, and "condition AND distance <= 1" holds exactly where "distance <= 1" does (a null ID
    fails both). The CASE evaluates `hamming` only on the rows its WHEN holds, as it must: `hamming` refuses strings
    of unequal or zero length. `tests/test_matching.py` checks it against the distance itself."""
    same_length = f"strlen({left}) = strlen({right})"
    return (
        f"CASE WHEN {same_length} AND strlen({left}) > 0 THEN hamming({left}, {right}) <= 2 "
        f"ELSE abs(strlen({left}) - strlen({right})) <= 1 END "
        f"AND damerau_levenshtein({left}, {right}) <= 1"
    )


ONE_EDIT = _one_edit("id_digits_l", "id_digits_r")


def _dropped_char(short: str, long: str) -> str:
    """`short` is `long` without one of its characters after the first (of a name of up to four: 张玲 of 张秀玲, 欧阳
    修 of 欧阳文修), and two characters at least: a surname alone is no name."""
    removed = ", ".join(f"left({long}, {i}) || substr({long}, {i + 2})" for i in (1, 2, 3))
    return f"(length({short}) >= 2 AND length({long}) = length({short}) + 1 AND {short} IN ({removed}))"


DROPPED_CHAR = f"{_dropped_char('name_l', 'name_r')} OR {_dropped_char('name_r', 'name_l')}"
# A surname and a title (陈先生) agree with a person of the surname and of the sex the title says, if it says one.
TITLE_AGREES = "surname_l = surname_r AND (sex_l IS NULL OR sex_r IS NULL OR sex_l = sex_r)"


def comparisons() -> list[dict[str, Any]]:
    return [
        _comparison(
            "id_digits",
            [
                # Checksum-valid: a typo of one number never gives another valid number, so equal means the same card.
                # (Conditions are symmetric: in training Splink may put either side on the left.)
                ("exact", "id_digits_l = id_digits_r AND id_valid_l AND id_valid_r"),
                ("exact_unchecked", "id_digits_l = id_digits_r"),
                # A typo, a transposition or a lost digit: one Damerau-Levenshtein edit (`ONE_EDIT`).
                ("one_edit", ONE_EDIT),
                ("area_birth", "id_area_birth_l = id_area_birth_r"),
            ],
        ),
        _comparison(
            "name",
            [
                ("exact", "name_l = name_r"),
                ("pinyin", "name_pinyin_l = name_pinyin_r"),
                ("fuzzy_pinyin", "name_key_l = name_key_r"),
                # One character of the given name left out (张玲 for 张秀玲): `DROPPED_CHAR`.
                ("dropped_char", DROPPED_CHAR),
                ("similar", "length(name_l) = length(name_r) AND jaro_winkler_similarity(name_l, name_r) >= 0.75"),
                # Only a surname and a title were written down (王先生): weak evidence, but not none.
                ("surname_title", f"(titled_l OR titled_r) AND {TITLE_AGREES}"),
            ],
            null="(name_l IS NULL AND NOT titled_l) OR (name_r IS NULL AND NOT titled_r)",
            tf_level="exact",
        ),
        _comparison(
            "phone",
            [
                # A phone only one person of the population has names that person.
                # (`phone_holders` counts the population's holders of the phone on both sides.)
                ("sole", "phone_l = phone_r AND phone_holders_l = 1"),
                # A phone a household shares, and the name written agrees with one of its holders only (the same
                # pinyin; 陈先生: the only 陈 among them): it names that one. (`phone_named_holders` counts the
                # holders the side's own name agrees with.)
                (
                    "sole_named",
                    "phone_l = phone_r AND phone_named_holders_l = 1 AND phone_named_holders_r = 1 "
                    f"AND (name_pinyin_l = name_pinyin_r OR ((titled_l OR titled_r) AND {TITLE_AGREES}))",
                ),
                # A phone a household shares: weighed by how many share it (term frequencies), it names no one alone.
                ("shared", "phone_l = phone_r"),
                ("tail8", "phone_tail8_l = phone_tail8_r"),
            ],
            tf_level="shared",
        ),
        _comparison(
            "address",
            [
                ("house", "house_id_l = house_id_r"),
                # The text names no house, only a building or (no numbers: 东泰花园) a committee, where the one person
                # of this name lives: the same characters, and no other of the same sound (`place_named_holders` counts
                # them on the side that names no house). A homophone (王佳妍 for 王嘉燕) may be a neighbour of another.
                (
                    "place_named",
                    f"name_l = name_r AND ({_PLACE_NAMED_SIDE('l', 'r')} OR {_PLACE_NAMED_SIDE('r', 'l')})",
                ),
                ("building", "building_id_l = building_id_r"),
                ("committee", "committee_code_l = committee_code_r"),
            ],
            null="committee_code_l IS NULL OR committee_code_r IS NULL",
        ),
    ]


# Candidate pairs: any one of these must hold. Each is selective on its own, so the pairs stay few at 10M people.
BLOCKING_RULES = [
    "l.id_digits = r.id_digits",
    # A typo in the ID's last four digits: its area and birth date, with the surname, the name's sound or the
    # building. Alone, the area and birth date paired each record with about 22 persons at ten million (21.8M of
    # the 1M-record day's 23.5M pairs); a pair they alone found was never linked nor kept for review there.
    "l.id_area_birth = r.id_area_birth AND l.surname = r.surname",
    "l.id_area_birth = r.id_area_birth AND l.name_key = r.name_key",
    "l.id_area_birth = r.id_area_birth AND l.building_id = r.building_id",
    "l.phone = r.phone",
    "l.name_key = r.name_key AND l.building_id = r.building_id",
    # An address naming only its community (东泰花园): the name within the committee.
    "l.name_key = r.name_key AND l.committee_code = r.committee_code",
    "l.surname = r.surname AND l.house_id = r.house_id",
    "l.name_key = r.name_key AND l.phone_tail8 = r.phone_tail8",
    # Away from home with a typo in the first 14 digits of the ID (or one of them lost) and no phone: the name and
    # the ID's last four digits still find the person.
    "l.name_key = r.name_key AND right(l.id_digits, 4) = right(r.id_digits, 4)",
]


def settings() -> dict[str, Any]:
    return {
        "link_type": "link_only",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": BLOCKING_RULES,
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,
    }


# The token address model (the probabilistic stage of address resolution, `matching/address.py`): a record and a
# house of the register, compared on the words and numbers of their addresses. Words are the character pairs of
# the text (东泰花园 → 东泰, 泰花, 花园), each worth the bits of how rare it is in the register (`tokens`: a list
# of {t, b}, b = log2(houses / houses holding t)), so the rare 东泰 counts for more than 花园, 小区 or 路;
# `register_bits` is log2(houses), the bits of a word only one house holds, so that levels mean the same in a
# register of a thousand houses and of a million.
def _shared_bits(left: str, right: str) -> str:
    return (
        f"coalesce(list_sum(list_transform(list_filter({left}, lambda x: list_contains({right}, x.t)), "
        f"lambda x: x.b)), 0)"
    )


def HOUSE_SIDE(column: str) -> str:  # noqa: N802 (reads like the column it names)
    return f"(CASE WHEN is_house_l THEN {column}_l ELSE {column}_r END)"


def RECORD_SIDE(column: str) -> str:  # noqa: N802
    return f"(CASE WHEN is_house_l THEN {column}_r ELSE {column}_l END)"


SHARED_BITS = _shared_bits("tokens_l", "words_r")


def _unshared_name_bits(side: str, other: str) -> str:
    """The bits of `side`'s words that are not a division's (浙江, 余杭: `a`) and that `other` does not write."""
    return (
        f"coalesce(list_sum(list_transform(list_filter({side}, lambda x: NOT x.a AND NOT list_contains({other}, "
        f"x.t)), lambda x: x.b)), 0)"
    )


# The share of the house's name words (in bits) the record does not write: a shop, a building or a gate of the place
# that the record does not name is evidence of another place nearby. (Divisions are no name: a record need not
# write the district or town the register writes, nor the register those of the record.)
UNWRITTEN = (
    f"{_unshared_name_bits(HOUSE_SIDE('tokens'), RECORD_SIDE('words'))} / greatest({HOUSE_SIDE('name_bits')}, 1)"
)
# The share of the record's name words known to the register (in bits) the house does not hold: the text names a
# place of the register that this house is not, a finer or another one.
EXTRA = f"{_unshared_name_bits(RECORD_SIDE('tokens'), HOUSE_SIDE('words'))} / greatest({RECORD_SIDE('name_bits')}, 1)"
# (The null levels name `words_l` and `words_r`: Splink reads the columns a comparison needs from its SQL, and
# does not look inside the lambdas.)
NO_WORDS = "len(words_l) = 0 OR len(words_r) = 0"


def address_comparisons() -> list[dict[str, Any]]:
    return [
        # As rare as three, two, one, half a word that only one house of the register holds.
        _comparison(
            "tokens_shared",
            [
                ("unique_3", f"{SHARED_BITS} >= 3 * register_bits_l"),
                ("unique_2", f"{SHARED_BITS} >= 2 * register_bits_l"),
                ("unique_1", f"{SHARED_BITS} >= register_bits_l"),
                ("unique_half", f"{SHARED_BITS} >= 0.5 * register_bits_l"),
            ],
            null=NO_WORDS,
        ),
        _comparison(
            "tokens_unwritten",
            [
                ("none", f"{UNWRITTEN} <= 0.05"),
                ("quarter", f"{UNWRITTEN} <= 0.25"),
                ("half", f"{UNWRITTEN} <= 0.5"),
            ],
            null=NO_WORDS,
        ),
        _comparison(
            "tokens_extra",
            [
                ("none", f"{EXTRA} <= 0.05"),
                ("quarter", f"{EXTRA} <= 0.25"),
                ("half", f"{EXTRA} <= 0.5"),
            ],
            null=NO_WORDS,
        ),
        # Numbers compared as numbers (0455 = 455), as a set: the lane, the building, the room, a letter (C座).
        _comparison(
            "numbers",
            [
                ("same", "list_sort(numbers_l) = list_sort(numbers_r)"),
                # The text writes the house's numbers and, beyond them, only a unit or room (丰利大厦1406室, a
                # building the register holds as one entry): the house, written more finely.
                (
                    "inner",
                    f"list_has_all({RECORD_SIDE('numbers')}, {HOUSE_SIDE('numbers')}) "
                    f"AND list_has_all({HOUSE_SIDE('numbers')}, {RECORD_SIDE('outer_numbers')})",
                ),
                (
                    "written_all",
                    f"list_has_all({RECORD_SIDE('numbers')}, {HOUSE_SIDE('numbers')}) "
                    f"AND len({HOUSE_SIDE('numbers')}) > 0",
                ),
                (
                    "house_more",
                    f"list_has_all({HOUSE_SIDE('numbers')}, {RECORD_SIDE('numbers')}) "
                    f"AND len({RECORD_SIDE('numbers')}) > 0",
                ),
                ("house_none", f"len({HOUSE_SIDE('numbers')}) = 0"),
                ("record_none", f"len({RECORD_SIDE('numbers')}) = 0"),
                ("shares", "list_has_any(numbers_l, numbers_r)"),
            ],
            null="len(numbers_l) = 0 AND len(numbers_r) = 0",
        ),
        # A text that places itself by another place (旁边, 对面, 附近) or names a gate of one (东门) names no house
        # of the register exactly: the place near it, or a part of it.
        _comparison("relative", [("neither", "NOT relative_l AND NOT relative_r")]),
        _comparison("district", [("exact", "district_l = district_r")]),
        _comparison("town", [("exact", "town_l = town_r")]),
    ]


# Candidate houses share a word that few houses hold; EM learns from pairs on one road and pairs that share the
# record's rarest word (each fixes no other comparison).
ADDRESS_BLOCKING_RULES = ("block_tokens",)
ADDRESS_EM_BLOCKS = ("l.road = r.road", "l.rarest_token = r.rarest_token")


def address_settings() -> dict[str, Any]:
    return {
        "link_type": "link_only",
        "unique_id_column_name": "unique_id",
        "comparisons": address_comparisons(),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": f"l.{column} = r.{column}", "arrays_to_explode": [column]}
            for column in ADDRESS_BLOCKING_RULES
        ],
        "retain_intermediate_calculation_columns": True,  # the levels, for the rules of the decision
        "retain_matching_columns": True,
    }
