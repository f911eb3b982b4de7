"""Compile `jingzhun/rules/screening.yaml` to SQL and apply it: which rules fire for each record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import polars as pl

from jingzhun.core import rules


@dataclass(frozen=True)
class Rule:
    id: str
    source: str
    title: str
    priority: int
    deadline_hours: int
    action: str
    condition: str  # SQL
    show_id: bool = False  # the work needs the full ID number (e.g. a health-code change), so it is not masked


def load_rules(run_date: date) -> list[Rule]:
    config = rules.load("screening")
    key_areas = [a["area"] for a in config.get("key_areas", []) if _as_date(a["from"]) <= run_date <= _as_date(a["to"])]
    return [
        Rule(
            id=r["id"],
            source=r["source"],
            title=r["title"],
            priority=int(r["priority"]),
            deadline_hours=int(r["deadline_hours"]),
            action=r["action"],
            show_id=bool(r.get("show_id", False)),
            condition=f"source = {_literal(r['source'])} "
            f"AND coalesce({compile_condition(r['when'], key_areas)}, false)",
        )
        for r in config["rules"]
    ]


def compile_condition(when: dict[str, Any], key_areas: list[str]) -> str:
    if "all" in when:
        return "(" + " AND ".join(compile_condition(c, key_areas) for c in when["all"]) + ")"
    if "any" in when:
        return "(" + " OR ".join(compile_condition(c, key_areas) for c in when["any"]) + ")"
    column = _identifier(when["field"])
    if "in" in when:
        return f"{column} IN ({', '.join(_literal(v) for v in when['in'])})"
    if "starts_with" in when:
        return "(" + " OR ".join(f"starts_with({column}, {_literal(v)})" for v in when["starts_with"]) + ")"
    if "contains_any" in when:
        values = key_areas if when["contains_any"] == "key_areas" else when["contains_any"]
        if not values:
            return "false"
        return "(" + " OR ".join(f"contains({column}, {_literal(v)})" for v in values) + ")"
    if "present" in when:
        return f"({column} IS NOT NULL)" if when["present"] else f"({column} IS NULL)"
    raise ValueError(f"screening rule condition not understood: {when}")


def screen(con: duckdb.DuckDBPyConnection, standard: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """One row per record: `rule_ids` (list, by priority), `priority`, `deadline_hours`, `screening_reasons`,
    `show_id` (a fired rule needs the unmasked ID number)."""
    loaded = load_rules(run_date)
    con.register("screened_records", standard.filter(pl.col("quarantine_code").is_null()))
    fired = " UNION ALL ".join(
        f"SELECT record_id, {_literal(r.id)} AS rule_id, {r.priority} AS priority, {r.deadline_hours} AS deadline, "
        f"{str(r.show_id).lower()} AS show_id, {_literal(r.title + '：' + r.action)} AS reason "
        f"FROM screened_records WHERE {r.condition}"
        for r in loaded
    )
    hits = con.sql(f"""
        SELECT record_id,
               list(rule_id ORDER BY priority, rule_id) AS rule_ids,
               min(priority) AS priority,
               min(deadline) AS deadline_hours,
               bool_or(show_id) AS show_id,
               string_agg(reason, '；' ORDER BY priority, rule_id) AS screening_reasons
        FROM ({fired}) GROUP BY record_id
    """).pl()
    return standard.select("record_id").join(hits, on="record_id", how="left")


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a field name: {name!r}")
    return f'"{name}"'


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
