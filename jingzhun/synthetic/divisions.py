"""Read the real administrative divisions shipped in ``jingzhun/reference_data/admin_divisions``.

The synthetic district is built on these real subdistricts and committees, and ID numbers use
these real county codes. This module only reads and reshapes the files; it must never invent,
rename or drop a real division.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import polars as pl

from jingzhun.core.rules import DIVISIONS_DIR

DISTRICT_CODE = "310115"
DISTRICT_NAME = "浦东新区"
CITY_PREFIX = "上海市"
SHANGHAI_PROVINCE = "31"

# Committee names end with one of these; the rest is the "short name" used for grids and
# for the colloquial "XX居委" that residents write into addresses.
COMMITTEE_SUFFIXES = ("居委会", "村委会", "虚拟生活区", "虚拟社区")


@dataclass(frozen=True)
class Divisions:
    subdistricts: pl.DataFrame  # subdistrict_code, subdistrict_name, virtual
    committees: pl.DataFrame  # committee_code, committee_name, short_name, kind, subdistrict_code
    counties: pl.DataFrame  # area_code, name, province_code
    cities: pl.DataFrame  # city_code, name, province_code (prefecture level; 市辖区 and 县 are placeholders)
    origins: pl.DataFrame  # province_code, origin ("浙江省杭州市" / "北京市")


def _read(name: str, code_columns: tuple[str, ...]) -> pl.DataFrame:
    # Codes are identifiers, not numbers: read them as text so leading digits survive.
    return pl.read_csv(DIVISIONS_DIR / name, schema_overrides={c: pl.Utf8 for c in code_columns})


def short_committee_name(name: str) -> str:
    for suffix in COMMITTEE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@cache
def load_divisions() -> Divisions:
    streets = _read("streets.csv", ("code", "areaCode", "provinceCode", "cityCode"))
    subdistricts = (
        streets.filter(pl.col("areaCode") == DISTRICT_CODE)
        .select(
            pl.col("code").alias("subdistrict_code"),
            pl.col("name").alias("subdistrict_name"),
            # Farms (4xx) and development zones (5xx) hold only a "virtual" committee.
            (pl.col("code").str.slice(6, 1).cast(pl.Int32) >= 4).alias("virtual"),
        )
        .sort("subdistrict_code")
    )
    committees = (
        _read("shanghai_committees_2021.csv", ("code", "streetCode"))
        .filter(pl.col("streetCode").is_in(subdistricts["subdistrict_code"].implode()))
        .select(
            pl.col("code").alias("committee_code"),
            pl.col("name").alias("committee_name"),
            pl.col("name").map_elements(short_committee_name, return_dtype=pl.Utf8).alias("short_name"),
            # Colloquial form used in addresses: 居委 / 村委.
            pl.when(pl.col("name").str.ends_with("村委会"))
            .then(pl.lit("村委"))
            .otherwise(pl.lit("居委"))
            .alias("kind"),
            pl.col("streetCode").alias("subdistrict_code"),
        )
        .sort("committee_code")
    )
    counties = _read("areas.csv", ("code", "cityCode", "provinceCode")).select(
        pl.col("code").alias("area_code"), "name", pl.col("provinceCode").alias("province_code")
    )
    provinces = _read("provinces.csv", ("code",)).rename({"code": "province_code", "name": "province"})
    cities = _read("cities.csv", ("code", "provinceCode")).rename({"provinceCode": "province_code"})
    origins = (
        cities.join(provinces, on="province_code")
        .select(
            "province_code",
            # Municipalities list pseudo-cities "市辖区"/"县": the province name alone is the origin.
            pl.when(pl.col("name").is_in(["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"]))
            .then(pl.col("province"))
            .otherwise(pl.col("province") + pl.col("name"))
            .alias("origin"),
        )
        .unique(maintain_order=True)
    )
    return Divisions(
        subdistricts,
        committees,
        counties,
        cities.select(pl.col("code").alias("city_code"), "name", "province_code"),
        origins,
    )
