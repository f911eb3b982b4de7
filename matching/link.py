"""The match stage: standardized records in, one routing decision per record out.

Routing prefers where the record says the person is (its address); when the address does not resolve, the
person's registered home in the population is used, and the method says so.
"""

from __future__ import annotations

import duckdb
import polars as pl

from cleansing.pipeline import normalize_column
from matching.address import resolve_addresses, with_address_keys
from matching.person import link_persons
from matching.reference import Reference

# What each way of deciding means to the staff who act on it.
ADDRESS_EXPLANATIONS = {
    "house": "地址匹配到房屋（室号一致）",
    "building": "地址匹配到楼栋，未匹配到室号",
    "lane": "地址匹配到弄/门牌号，未匹配到楼栋",
    "community": "地址匹配到小区，未匹配到楼栋",
    "person_home": "地址未能匹配，按人口库登记住址派发",
}
PERSON_EXPLANATIONS = {
    "id_exact": "身份证号一致",
    "name_phone": "姓名和手机号一致",
}


def standardize_reference(reference: Reference) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Houses with their match keys and routing; population with standardized name, ID number and phone.

    The reference goes through the same normalizers as the records, so that equal means equal on both sides.
    """
    houses = with_address_keys(normalize_column(reference.housing, "address", "address"))
    houses = houses.join(reference.grid.select("grid_id", "committee_code"), on="grid_id", how="left")
    population = reference.population
    for field in ("name", "id_number", "phone"):
        population = normalize_column(population, field, field)
    return houses, population


def match(con: duckdb.DuckDBPyConnection, standard: pl.DataFrame, reference: Reference) -> pl.DataFrame:
    """One row per record: person_id, house_id, grid_id, committee/subdistrict codes and names,
    person_method, address_method, match_method, match_probability, match_explanation."""
    houses, population = standardize_reference(reference)
    usable = with_address_keys(standard.filter(pl.col("quarantine_code").is_null()))
    addresses = resolve_addresses(con, usable, houses)
    persons = link_persons(con, usable, population)

    homes = population.select("person_id", home_house_id="house_id").join(
        houses.select(home_house_id="house_id", home_grid_id="grid_id", home_committee_code="committee_code"),
        on="home_house_id", how="left",
    )
    from_home = pl.col("address_level").is_null() & pl.col("home_committee_code").is_not_null()
    decided = (
        addresses.join(persons, on="record_id")
        .join(homes, on="person_id", how="left")
        .with_columns(
            address_method=pl.when(from_home).then(pl.lit("person_home")).otherwise(pl.col("address_level")),
            committee_code=pl.when(from_home).then("home_committee_code").otherwise("committee_code"),
            grid_id=pl.when(from_home).then("home_grid_id").otherwise("grid_id"),
            ambiguous=(pl.col("address_ambiguous") & pl.col("address_level").is_null())
            | (pl.col("person_ambiguous") & pl.col("person_id").is_null()),
        )
    )
    decided = decided.with_columns(
        match_method=pl.concat_str(
            [pl.col("person_method"), pl.concat_str([pl.lit("address_"), pl.col("address_method")])],
            separator="+", ignore_nulls=True,
        ).replace("", None),
        # Deterministic stages are certain when they decide; the probabilistic model will fill this properly.
        match_probability=pl.when(pl.col("person_id").is_not_null()).then(1.0).otherwise(None),
        match_explanation=pl.concat_str(
            [pl.col("person_method").replace_strict(PERSON_EXPLANATIONS, default=None),
             pl.col("address_method").replace_strict(ADDRESS_EXPLANATIONS, default=None)],
            separator="；", ignore_nulls=True,
        ).replace("", None),
    )
    routing = reference.grid.select(
        "committee_code", "committee_name", "subdistrict_code", "subdistrict_name"
    ).unique("committee_code")
    return (
        standard.select("record_id")
        .join(decided, on="record_id", how="left")
        .join(routing, on="committee_code", how="left")
        .select("record_id", "person_id", "house_id", "grid_id", "committee_code", "committee_name",
                "subdistrict_code", "subdistrict_name", "person_method", "address_method", "match_method",
                "match_probability", "match_explanation", pl.col("ambiguous").fill_null(False))
    )
