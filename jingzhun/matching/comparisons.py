"""The person-linkage model's settings: Chinese comparisons as Splink comparison levels, and blocking rules.

Each comparison lists its levels from the most to the least specific; each level is one SQL condition that a
reviewer can read, and a label that the exact stage's rules (`jingzhun/rules/thresholds.yaml`) and the explanations use.
The trained parameters live in the model versions' JSON (`jingzhun/matching/versions.py`), not here.
"""

from __future__ import annotations

from typing import Any


def _comparison(name: str, levels: list[tuple[str, str]], null: str | None = None,
                tf_level: str | None = None) -> dict[str, Any]:
    """A comparison as Splink's JSON: a null level, the (label, condition) levels, then an else level.
    `tf_level` names the level whose weight is adjusted by how common the value is (王伟 counts for less)."""
    return {
        "output_column_name": name,
        "comparison_description": name,
        "comparison_levels": [
            {"sql_condition": null or f'"{name}_l" IS NULL OR "{name}_r" IS NULL', "label_for_charts": "missing",
             "is_null_level": True},
            *[
                {"sql_condition": condition, "label_for_charts": label,
                 **({"tf_adjustment_column": name, "tf_adjustment_weight": 1.0} if label == tf_level else {})}
                for label, condition in levels
            ],
            {"sql_condition": "ELSE", "label_for_charts": "else"},
        ],
    }


# The wording staff read for each level (dispatch files, review workbook).
EXPLANATIONS = {
    "id_digits": {"exact": "身份证号一致", "exact_unchecked": "身份证号一致（15位旧号或校验位不符）",
                  "one_edit": "身份证号相差一位（录入错误）", "area_birth": "身份证号的地区和出生日期一致"},
    "name": {"exact": "姓名一致", "pinyin": "姓名同音", "fuzzy_pinyin": "姓名近音（方言易混）",
             "similar": "姓名相似", "surname_title": "姓氏一致（只登记了称呼）"},
    "phone": {"sole": "手机号一致（人口库中仅此一人）", "shared": "手机号一致（人口库中多人共用）",
              "tail8": "手机号后8位一致"},
    "address": {"house": "同一房屋", "building": "同一楼栋", "committee": "同一居委"},
}


def comparisons() -> list[dict[str, Any]]:
    return [
        _comparison("id_digits", [
            # Checksum-valid: a typo of one number never gives another valid number, so equal means the same card.
            # (Conditions are symmetric: in training Splink may put either side on the left.)
            ("exact", "id_digits_l = id_digits_r AND id_valid_l AND id_valid_r"),
            ("exact_unchecked", "id_digits_l = id_digits_r"),
            # A typo, a transposition or a lost digit: one Damerau-Levenshtein edit.
            ("one_edit", "damerau_levenshtein(id_digits_l, id_digits_r) <= 1"),
            ("area_birth", "id_area_birth_l = id_area_birth_r"),
        ]),
        _comparison("name", [
            ("exact", "name_l = name_r"),
            ("pinyin", "name_pinyin_l = name_pinyin_r"),
            ("fuzzy_pinyin", "name_key_l = name_key_r"),
            ("similar", "length(name_l) = length(name_r) AND jaro_winkler_similarity(name_l, name_r) >= 0.75"),
            # Only a surname and a title were written down (王先生): weak evidence, but not none.
            ("surname_title", "(titled_l OR titled_r) AND surname_l = surname_r"),
        ], null="(name_l IS NULL AND NOT titled_l) OR (name_r IS NULL AND NOT titled_r)", tf_level="exact"),
        _comparison("phone", [
            # A phone only one person of the population has names that person.
            # (`phone_holders` counts the population's holders of the phone on both sides.)
            ("sole", "phone_l = phone_r AND phone_holders_l = 1"),
            # A phone a household shares: weighed by how many share it (term frequencies), it names no one alone.
            ("shared", "phone_l = phone_r"),
            ("tail8", "phone_tail8_l = phone_tail8_r"),
        ], tf_level="shared"),
        _comparison("address", [
            ("house", "house_id_l = house_id_r"),
            ("building", "building_id_l = building_id_r"),
            ("committee", "committee_code_l = committee_code_r"),
        ], null="committee_code_l IS NULL OR committee_code_r IS NULL"),
    ]


# Candidate pairs: any one of these must hold. Each is selective on its own, so the pairs stay few at 10M people.
BLOCKING_RULES = [
    "l.id_digits = r.id_digits",
    "l.id_area_birth = r.id_area_birth",
    "l.phone = r.phone",
    "l.name_key = r.name_key AND l.building_id = r.building_id",
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
