"""Screening rules compile to SQL that DuckDB runs; key areas follow their effective dates."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from jingzhun.ingest.mapping import HeaderMapping
from jingzhun.screening.rules import compile_condition, load_rules, screen


def matching_ids(frame: pl.DataFrame, when: dict, key_areas: list[str] | None = None) -> list[int]:
    con = duckdb.connect()
    con.register("t", frame)
    sql = f"SELECT id FROM t WHERE coalesce({compile_condition(when, key_areas or [])}, false) ORDER BY id"
    return [row[0] for row in con.execute(sql).fetchall()]


FRAME = pl.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "origin": ["湖北省武汉市", "浙江省杭州市", None, "河南省郑州市金水区"],
        "category": ["疫情防控-来沪人员报备", "市容环境", None, "疫情防控-居家隔离"],
        "fever": ["是", "否", None, "是"],
    }
)


@pytest.mark.parametrize(
    ("when", "key_areas", "expected"),
    [
        ({"field": "fever", "in": ["是"]}, None, [1, 4]),
        ({"field": "category", "starts_with": ["疫情防控"]}, None, [1, 4]),
        ({"field": "origin", "contains_any": "key_areas"}, ["武汉", "郑州"], [1, 4]),
        ({"field": "origin", "contains_any": "key_areas"}, [], []),
        ({"field": "origin", "present": True}, None, [1, 2, 4]),
        ({"all": [{"field": "fever", "in": ["是"]}, {"field": "origin", "contains_any": ["郑州"]}]}, None, [4]),
        ({"any": [{"field": "fever", "in": ["否"]}, {"field": "origin", "contains_any": ["郑州"]}]}, None, [2, 4]),
    ],
)
def test_conditions_select_the_rows_they_describe(when, key_areas, expected):
    assert matching_ids(FRAME, when, key_areas) == expected


def test_values_with_quotes_cannot_break_out_of_the_sql():
    frame = pl.DataFrame({"id": [1, 2], "origin": ["x' OR '1'='1", "武汉"]})
    assert matching_ids(frame, {"field": "origin", "in": ["x' OR '1'='1"]}) == [1]


def test_unknown_condition_is_refused():
    with pytest.raises(ValueError, match="not understood"):
        compile_condition({"field": "origin", "like": "%"}, [])


def test_key_areas_apply_only_within_their_dates():
    def key_area_rule_fires(day: dt.date) -> bool:
        fields = {f: None for f in HeaderMapping.load().all_fields()}
        row = {**fields, "record_id": 0, "source": "checkpoint", "origin": "湖北省武汉市", "quarantine_code": None}
        frame = pl.DataFrame([row], schema={k: pl.Int64 if k == "record_id" else pl.Utf8 for k in row})
        fired = screen(duckdb.connect(), frame, day)["rule_ids"][0]
        return fired is not None and "CP01" in fired.to_list()

    rule_dates = [r for r in load_rules(dt.date(2026, 11, 22)) if r.id == "CP01"]
    assert rule_dates, "the key-area checkpoint rule is declared in jingzhun/rules/screening.yaml"
    assert key_area_rule_fires(dt.date(2026, 11, 22))
    assert not key_area_rule_fires(dt.date(2027, 3, 1))


def test_changing_the_yaml_changes_the_outcome_without_code(tmp_path, monkeypatch):
    """An auditor edits jingzhun/rules/screening.yaml (here a copy): a new deadline, a rule that no longer fires."""
    import shutil

    import yaml

    from jingzhun.core import rules
    from jingzhun.screening.outcome import decide

    def outcome_of(row: dict) -> dict:
        fields = {f: None for f in HeaderMapping.load().all_fields()}
        record = {
            **fields,
            "record_id": 0,
            "source": "health",
            "source_file": "f.csv",
            "source_row": 1,
            "quarantine_code": None,
            **row,
        }
        standard = pl.DataFrame(
            [record], schema={k: pl.Int64 if k in ("record_id", "source_row") else pl.Utf8 for k in record}
        )
        matched = pl.DataFrame(
            {"record_id": [0], "committee_code": ["c1"], "ambiguous": [False], "review_reason": [None]},
            schema_overrides={"review_reason": pl.Utf8},
        )
        decided = decide(
            standard, matched, screen(duckdb.connect(), standard, dt.date(2026, 11, 22)), dt.date(2026, 11, 22)
        )
        return decided.row(0, named=True)

    fever = {"fever": "是"}
    before = outcome_of(fever)
    assert (before["outcome"], before["rule_ids"], before["deadline_hours"]) == ("dispatched", ["HC01"], 12)

    copy = tmp_path / "rules"
    shutil.copytree(rules.INSTALLED_RULES_DIR, copy)
    config = yaml.safe_load((copy / "screening.yaml").read_text(encoding="utf-8"))
    for rule in config["rules"]:
        if rule["id"] == "HC01":
            rule["deadline_hours"] = 6
        if rule["id"] == "HC02":
            rule["when"]["in"] = ["红码"]  # yellow codes no longer dispatched
    (copy / "screening.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("JINGZHUN_RULES", str(copy))
    assert outcome_of(fever)["deadline_hours"] == 6
    assert outcome_of({"code_color": "黄码"})["outcome"] == "no_action"
    assert outcome_of({"code_color": "红码"})["show_id"] is True  # declared per rule: show_id
    monkeypatch.delenv("JINGZHUN_RULES")
    assert outcome_of(fever)["deadline_hours"] == 12  # the installed rules again, without clearing any cache
