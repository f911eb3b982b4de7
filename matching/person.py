"""Person linkage: a record to the population (人口库) person it is about.

Deterministic stages for now, each used only when it names exactly one person: the ID number, then name and
phone together. A record matched by neither is left unmatched; it is never given a guessed person.
"""

from __future__ import annotations

import duckdb
import polars as pl

# (method, the columns that must all agree), most reliable first.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id_exact", ("id_number",)),
    ("name_phone", ("name", "phone")),
)


def link_persons(con: duckdb.DuckDBPyConnection, records: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """For every record: `person_id`, `person_method`, `person_ambiguous` (a key named several persons)."""
    key_columns = sorted({c for _, columns in STAGES for c in columns})
    con.register("person_records", records.select("record_id", *key_columns))
    con.register("person_reference", population.select("person_id", *key_columns))
    ctes, joins, method_cases, person_cases, ambiguous = [], [], [], [], []
    for i, (method, columns) in enumerate(STAGES):
        keys = ", ".join(columns)
        ctes.append(
            f"s{i} AS (SELECT {keys}, count(DISTINCT person_id) AS persons, any_value(person_id) AS person_id "
            f"FROM person_reference WHERE {' AND '.join(f'{c} IS NOT NULL' for c in columns)} GROUP BY {keys})"
        )
        joins.append(f"LEFT JOIN s{i} ON " + " AND ".join(f"r.{c} = s{i}.{c}" for c in columns))
        method_cases.append(f"WHEN s{i}.persons = 1 THEN '{method}'")
        person_cases.append(f"WHEN s{i}.persons = 1 THEN s{i}.person_id")
        ambiguous.append(f"s{i}.persons > 1")
    sql = f"""
        WITH {", ".join(ctes)}
        SELECT r.record_id,
               CASE {" ".join(person_cases)} END AS person_id,
               CASE {" ".join(method_cases)} END AS person_method,
               coalesce({" OR ".join(ambiguous)}, false) AS person_ambiguous
        FROM person_records r {" ".join(joins)}
        ORDER BY r.record_id
    """
    return con.sql(sql).pl()
