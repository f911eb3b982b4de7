"""One case per person per day: the records of the same person, from any source, share a `case_key`.

A person in the population is their person_id. Others are grouped among the day's records when they share an
ID number, a phone with a compatible name, or a name in the same building. Records that two different
population persons would join are never merged.

A key never holds an ID number or phone in clear (it travels into match_results.parquet and the warehouse's
cases): those of persons outside the population are their sha256, the same every day, so a case continues.
"""

from __future__ import annotations

import hashlib

import polars as pl

# Each rule: the records agreeing on all these feature columns are the same person.
SAME_PERSON = (("id_digits",), ("phone", "surname"), ("name", "building_id"))


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def case_keys(matched: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """record_id → case_key for every usable record (`features.unique_id` is the record_id as text)."""
    records = features.with_columns(record_id=pl.col("unique_id").cast(pl.Int64)).join(
        matched.select("record_id", "person_id"), on="record_id", how="left"
    )
    groups = _same_person_groups(records)
    keyed = records.with_columns(
        group=pl.Series([groups.find(r) for r in records["record_id"].to_list()], dtype=pl.Int64)
    )
    per_group = keyed.group_by("group").agg(
        persons=pl.col("person_id").drop_nulls().unique(),
        first_id=pl.col("id_digits").drop_nulls().sort().first(),
        first_phone=pl.col("phone").drop_nulls().sort().first(),
    )
    keyed = keyed.join(per_group, on="group")
    return keyed.select(
        "record_id",
        case_key=pl.when(pl.col("person_id").is_not_null())
        .then(pl.lit("P:") + pl.col("person_id"))
        .when(pl.col("persons").list.len() == 1)
        .then(pl.lit("P:") + pl.col("persons").list.first())
        .when(pl.col("persons").list.len() > 1)
        .then(pl.lit("R:") + pl.col("record_id").cast(pl.Utf8))
        .when(pl.col("first_id").is_not_null())
        .then(pl.lit("ID:") + _pseudonym("first_id"))
        .when(pl.col("first_phone").is_not_null())
        .then(pl.lit("PH:") + _pseudonym("first_phone"))
        .otherwise(pl.lit("R:") + pl.col("group").cast(pl.Utf8)),
    )


def _pseudonym(column: str) -> pl.Expr:
    return pl.col(column).map_elements(lambda v: hashlib.sha256(v.encode()).hexdigest()[:16], return_dtype=pl.Utf8)


def _same_person_groups(records: pl.DataFrame) -> _UnionFind:
    groups = _UnionFind()
    for columns in SAME_PERSON:
        linked = (
            records.drop_nulls(list(columns))
            .group_by(list(columns))
            .agg(pl.col("record_id"))
            .filter(pl.col("record_id").list.len() > 1)
        )
        for ids in linked["record_id"].to_list():
            for other in ids[1:]:
                groups.union(ids[0], other)
    return groups
