"""Tests of the synthetic generator: reference tables, ID numbers, inbox files read back from disk,
and the truth file against what was actually written."""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import random
import re
import unicodedata
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from synthetic import messy
from synthetic.district import build_district, select_committees
from synthetic.divisions import DIVISIONS_DIR, load_divisions
from synthetic.generate import generate
from synthetic.population import build_population

PERSONS = 5000
AREAS = pl.read_csv(DIVISIONS_DIR / "areas.csv", infer_schema=False)["code"].to_list()
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
T2S = OpenCC("t2s")

# Header spellings from the interface agreement, by the field they carry.
NAME_HEADERS = {"姓名", "驾乘人员姓名", "当事人", "当事人姓名"}
ID_HEADERS = {"证件号码", "身份证号", "身份证号码"}
PHONE_HEADERS = {"手机号码", "联系电话", "手机号", "当事人电话"}
ADDRESS_HEADERS = {"目的地址", "在沪居住地址", "居住地址", "事发地址", "地址", "现住址"}
OTHER_HEADERS = {
    "登记时间",
    "通行时间",
    "卡口名称",
    "道口",
    "车牌号码",
    "车牌号",
    "出发地",
    "来自",
    "工单编号",
    "工单号",
    "受理时间",
    "来电时间",
    "诉求类别",
    "工单类型",
    "诉求内容",
    "工单内容",
    "申报时间",
    "填报时间",
    "近14天旅居地",
    "旅居史",
    "是否发热",
    "发热",
    "健康码",
    "健康码颜色",
    "序号",
    "备注",
    "数据来源",
}


def gb11643_check(body: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def is_valid_id(value: str) -> bool:
    return bool(re.fullmatch(r"\d{17}[\dX]", value)) and gb11643_check(value[:17]) == value[17]


def read_csv_any(path: Path) -> tuple[str, list[list[str]]]:
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "gb18030"
    return encoding, list(csv.reader(io.StringIO(raw.decode(encoding), newline="")))


def read_inbox_file(path: Path) -> tuple[str, list[str], list[list[str]]]:
    """(format, header, data rows as text) read back the way a consumer would."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path).active
        rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        fmt = "xlsx"
    else:
        fmt, rows = read_csv_any(path)
    return fmt, rows[0], rows[1:]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen")
    generate(path, persons=PERSONS, seed=7)
    return path


@pytest.fixture(scope="module")
def population(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "reference" / "population.csv", infer_schema=False)


@pytest.fixture(scope="module")
def housing(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "reference" / "housing.csv", infer_schema=False)


@pytest.fixture(scope="module")
def grid(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "reference" / "grid.csv", infer_schema=False)


@pytest.fixture(scope="module")
def truth(out: Path) -> pl.DataFrame:
    return pl.read_csv(out / "truth.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int64), pl.col("defects").fill_null("")
    )


@pytest.fixture(scope="module")
def inbox(out: Path) -> dict[str, tuple[str, list[str], list[list[str]]]]:
    return {p.name: read_inbox_file(p) for p in sorted((out / "inbox").glob("*/*"))}


@pytest.fixture(scope="module")
def rows(inbox, truth, population) -> pl.DataFrame:
    """Every person row of the inbox joined to its truth line and its population record."""
    records = []
    for name, (_, header, data) in inbox.items():
        field = {}
        for i, h in enumerate(header):
            for key, spellings in (
                ("name", NAME_HEADERS),
                ("id", ID_HEADERS),
                ("phone", PHONE_HEADERS),
                ("address", ADDRESS_HEADERS),
            ):
                if h in spellings:
                    field[key] = i
        for r, row in enumerate(data, start=1):
            records.append({"source_file": name, "source_row": r} | {k: row[i] for k, i in field.items()})
    cells = pl.DataFrame(
        records,
        schema={
            "source_file": pl.Utf8,
            "source_row": pl.Int64,
            "name": pl.Utf8,
            "id": pl.Utf8,
            "phone": pl.Utf8,
            "address": pl.Utf8,
        },
    )
    people = population.rename({"name": "true_name", "id_number": "true_id", "phone": "true_phone"})
    return (
        cells.join(truth, on=["source_file", "source_row"], how="inner", validate="1:1")
        .filter(~pl.col("defects").is_in(["empty_row", "garbage_row"]))
        .join(people.drop("house_id"), on="person_id", how="left")
    )


def tagged(rows: pl.DataFrame, tag: str) -> pl.DataFrame:
    return rows.filter(pl.col("defects").str.split("|").list.contains(tag))


def only_field_tags(rows: pl.DataFrame, prefix: str, tag: str) -> pl.DataFrame:
    """Rows whose only defect on that field (tags starting with ``prefix``) is ``tag``."""
    return rows.filter(
        pl.col("defects").str.split("|").list.eval(pl.element().filter(pl.element().str.starts_with(prefix)))
        == pl.lit([tag], dtype=pl.List(pl.Utf8))
    )


# --- reference tables -------------------------------------------------------------------------


def test_population_ids_follow_gb11643(population: pl.DataFrame) -> None:
    areas = set(AREAS)
    assert population["id_number"].n_unique() == population.height == PERSONS
    for id_number, gender, birth in population.select("id_number", "gender", "birth_date").iter_rows():
        assert is_valid_id(id_number), id_number
        assert id_number[:6] in areas
        assert f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}" == birth
        assert "1930-01-01" <= birth <= "2022-12-31"
        assert int(id_number[16]) % 2 == (1 if gender == "男" else 0)
    shanghai = population["id_number"].str.starts_with("310").mean()
    assert 0.5 < shanghai < 0.7


def test_phones_are_mobile_numbers_mostly_unique(population: pl.DataFrame) -> None:
    phones = population["phone"]
    assert phones.str.contains(r"^1(3\d|5[0-35-9]|7[0135-8]|8\d|9[135-9])\d{8}$").all()
    assert 0.9 < phones.n_unique() / phones.len() < 1.0  # a few relatives share one


@settings(max_examples=8, deadline=None)
@given(persons=st.integers(200, 2500), seed=st.integers(0, 2**32 - 1))
def test_any_population_is_valid_and_housed(persons: int, seed: int) -> None:
    divisions = load_divisions()
    district = build_district(divisions, persons, np.random.default_rng(seed))
    people = build_population(
        np.random.default_rng(seed + 1), persons, district.housing, divisions, datetime.date(2026, 11, 22)
    )
    assert people.height == persons
    assert people["id_number"].n_unique() == persons
    assert all(is_valid_id(v) for v in people["id_number"])
    assert people["house_id"].is_in(district.housing["house_id"].implode()).all()
    assert district.housing["address"].n_unique() == district.housing.height
    assert 2.0 < persons / district.housing.height < 3.0


def test_grid_uses_real_divisions(grid: pl.DataFrame, housing: pl.DataFrame) -> None:
    streets = pl.read_csv(DIVISIONS_DIR / "streets.csv", infer_schema=False)
    committees = pl.read_csv(DIVISIONS_DIR / "shanghai_committees_2021.csv", infer_schema=False)
    real_streets = dict(streets.select("code", "name").iter_rows())
    real_committees = {code: (name, street) for code, name, street in committees.iter_rows()}
    for row in grid.iter_rows(named=True):
        assert real_committees[row["committee_code"]] == (row["committee_name"], row["subdistrict_code"])
        assert real_streets[row["subdistrict_code"]] == row["subdistrict_name"]
        assert (row["district_code"], row["district_name"]) == ("310115", "浦东新区")
        assert row["grid_id"].startswith(row["committee_code"] + "G")
    assert grid["grid_id"].n_unique() == grid.height
    assert grid["committee_code"].n_unique() >= 8
    assert grid["subdistrict_code"].n_unique() >= 5
    assert grid.group_by("committee_code").len()["len"].min() >= 2
    assert housing["grid_id"].is_in(grid["grid_id"].implode()).all()


def test_all_committees_are_used_for_a_large_district() -> None:
    divisions = load_divisions()
    chosen = select_committees(divisions, divisions.committees.height, np.random.default_rng(1))
    assert chosen.height == 1387
    assert set(chosen["committee_code"]) == set(divisions.committees["committee_code"])


def test_housing_addresses_are_unique_and_match_their_parts(housing: pl.DataFrame, grid: pl.DataFrame) -> None:
    assert housing["address"].n_unique() == housing.height
    towns = dict(grid.select("grid_id", "subdistrict_name").iter_rows())
    lane_style = re.compile(
        r"上海市浦东新区(?P<town>.+?(?:街道|镇))(?P<road>.+?)(?P<lane>\d+)弄(?P<number>\d+)号(?P<room>\d+)室"
    )
    building_style = re.compile(
        r"上海市浦东新区(?P<town>.+?(?:街道|镇))(?P<road>.+?)(?P<number>\d+)号(?P<community>.+?)(?P<building>\d+)号楼(?P<room>\d+)室"
    )
    for row in housing.iter_rows(named=True):
        match = (lane_style if row["lane"] else building_style).fullmatch(row["address"])
        assert match, row["address"]
        parts = match.groupdict()
        assert parts.pop("town") == towns[row["grid_id"]]
        assert all(row[key] == value for key, value in parts.items()), row
        assert 101 <= int(row["room"]) <= 2604 and 1 <= int(row["room"]) % 100 <= 4
        assert row["unit"] is None
    # A road belongs to a single town.
    road_towns = housing.with_columns(pl.col("grid_id").replace_strict(towns).alias("town"))
    assert road_towns.group_by("road").agg(pl.col("town").n_unique())["town"].max() == 1


def test_same_names_recur_in_a_city_sized_sample() -> None:
    divisions = load_divisions()
    district = build_district(divisions, 20_000, np.random.default_rng(3))
    people = build_population(
        np.random.default_rng(4), 20_000, district.housing, divisions, datetime.date(2026, 11, 22)
    )
    counts = people["name"].value_counts()
    assert counts["count"].max() >= 5
    assert counts.filter(pl.col("count") >= 2).height >= 300
    assert people["name"].is_in(["王伟", "张伟", "李伟"]).sum() >= 5


# --- determinism --------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_other_seed_differs(out: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", persons=PERSONS, seed=7)
    generate(tmp_path / "other", persons=PERSONS, seed=8)
    original, again, other = _tree(out), _tree(tmp_path / "again"), _tree(tmp_path / "other")
    assert original == again
    assert original["reference/population.csv"] != other["reference/population.csv"]
    assert original["truth.csv"] != other["truth.csv"]


# --- inbox against truth ------------------------------------------------------------------------


def test_every_inbox_row_has_exactly_one_truth_line(inbox, truth: pl.DataFrame) -> None:
    assert set(truth["source_file"]) == set(inbox)
    for name, (_, header, data) in inbox.items():
        lines = truth.filter(pl.col("source_file") == name).sort("source_row")
        assert lines["source_row"].to_list() == list(range(1, len(data) + 1)), name
        assert len(set(lines["source"])) == 1
        assert set(header) <= NAME_HEADERS | ID_HEADERS | PHONE_HEADERS | ADDRESS_HEADERS | OTHER_HEADERS
        for row, tags in zip(data, lines["defects"], strict=True):
            assert len(row) == len(header)
            assert (tags == "empty_row") == all(cell == "" for cell in row)
    assert truth.height == sum(len(data) for _, _, data in inbox.values())


def test_inbox_mixes_formats_sources_and_aliases(inbox, truth: pl.DataFrame, population: pl.DataFrame) -> None:
    assert {fmt for fmt, _, _ in inbox.values()} == {"utf-8", "utf-8-sig", "gb18030", "xlsx"}
    assert set(truth["source"]) == {"checkpoint", "hotline", "health"}
    assert truth.height >= 150
    headers = {h for _, header, _ in inbox.values() for h in header}
    assert len(headers & {"身份证号", "身份证号码", "手机号", "联系电话", "当事人姓名", "现住址", "在沪居住地址"}) >= 2
    people = truth.filter(pl.col("person_id").is_not_null())
    per_source = people.group_by("person_id").agg(pl.col("source").n_unique())
    assert per_source.filter(pl.col("source") >= 2).height >= 10
    assert per_source.filter(pl.col("source") == 3).height >= 1
    arrivals = truth.filter(pl.col("person_id").is_null() & pl.col("house_id").is_not_null())
    assert 0.04 < arrivals.height / truth.height < 0.12
    specials = truth.filter(pl.col("defects").is_in(["empty_row", "garbage_row"]))
    assert specials.height >= 3 and specials["house_id"].is_null().all() and specials["person_id"].is_null().all()


def test_clean_cells_equal_the_register(rows: pl.DataFrame, housing: pl.DataFrame) -> None:
    addresses = dict(housing.select("house_id", "address").iter_rows())
    residents = rows.filter(pl.col("person_id").is_not_null())
    no_tags = residents.filter(pl.col("defects") == "")
    assert no_tags.height > 100
    for row in no_tags.iter_rows(named=True):
        assert row["name"] == row["true_name"]
        assert row["phone"] == row["true_phone"]
        assert row["id"] in (None, row["true_id"])  # hotline has no ID column
        assert row["address"] == addresses[row["house_id"]]


def test_arrivals_carry_valid_non_register_ids(rows: pl.DataFrame, population: pl.DataFrame) -> None:
    arrivals = rows.filter(pl.col("person_id").is_null() & pl.col("id").is_not_null() & (pl.col("defects") == ""))
    assert arrivals.height > 5
    register = set(population["id_number"])
    for value in arrivals["id"]:
        assert is_valid_id(value) and value not in register and not value.startswith("31")


def test_name_defects_are_visible(rows: pl.DataFrame) -> None:
    traditional = only_field_tags(rows, "name_", "name_traditional").filter(pl.col("person_id").is_not_null())
    assert traditional.height > 0
    for value, true in traditional.select("name", "true_name").iter_rows():
        assert value != true and T2S.convert(value) == true
    spaced = only_field_tags(rows, "name_", "name_space").filter(pl.col("person_id").is_not_null())
    assert spaced.height > 0
    assert all(" " in v and v.replace(" ", "") == t for v, t in spaced.select("name", "true_name").iter_rows())
    typo = only_field_tags(rows, "name_", "name_typo").filter(pl.col("person_id").is_not_null())
    assert typo.height > 0
    for value, true in typo.select("name", "true_name").iter_rows():
        assert len(value) == len(true) and sum(a != b for a, b in zip(value, true, strict=True)) == 1
    titled = tagged(rows, "name_surname_title").filter(pl.col("person_id").is_not_null())
    for value, true in titled.select("name", "true_name").iter_rows():
        assert value.endswith(("先生", "女士")) and true.startswith(value[:-2])


def test_id_defects_are_visible(rows: pl.DataFrame) -> None:
    residents = rows.filter(pl.col("person_id").is_not_null())
    checks = {
        "id_bad_check": lambda v, t: len(v) == 18 and v[:17] == t[:17] and not is_valid_id(v),
        "id_transposed": lambda v, t: (
            not is_valid_id(v) and any(v == t[:i] + t[i + 1] + t[i] + t[i + 2 :] for i in range(17) if t[i] != t[i + 1])
        ),
        "id_missing_digit": lambda v, t: len(v) == 17 and any(v == t[:i] + t[i + 1 :] for i in range(18)),
        "id_15digit": lambda v, t: v == t[:6] + t[8:17],
        "id_empty": lambda v, t: v == "",
        "id_lower_x": lambda v, t: v == t[:17] + "x",
        "id_fullwidth": lambda v, t: v != t and unicodedata.normalize("NFKC", v) == t,
    }
    for tag, check in checks.items():
        subset = only_field_tags(residents, "id_", tag)
        assert subset.height > 0, tag
        assert all(check(v, t) for v, t in subset.select("id", "true_id").iter_rows()), tag


def test_phone_defects_are_visible(rows: pl.DataFrame) -> None:
    residents = rows.filter(pl.col("person_id").is_not_null())
    for tag in ("phone_plus86", "phone_0086", "phone_dashed", "phone_spaces", "phone_fullwidth", "phone_empty"):
        subset = only_field_tags(residents, "phone_", tag)
        assert subset.height > 0, tag
        for value, true in subset.select("phone", "true_phone").iter_rows():
            assert value != true
            digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
            expected = "" if tag == "phone_empty" else true
            assert re.sub(r"^(0086|86)", "", digits) == expected


def test_address_defects_are_visible(rows: pl.DataFrame, housing: pl.DataFrame, grid: pl.DataFrame) -> None:
    committees = pl.read_csv(DIVISIONS_DIR / "shanghai_committees_2021.csv", infer_schema=False)
    short = {code: re.sub("(居委会|村委会)$", "", name) for code, name, _ in committees.iter_rows()}
    street_of = dict(committees.select("code", "streetCode").iter_rows())

    def norm(v: str) -> str:  # undo width and script so structural checks see the words
        return T2S.convert(unicodedata.normalize("NFKC", v))

    checks = {
        "addr_no_prefix": lambda v, row: not v.startswith("上海") and norm(v).startswith(row["town"]),
        "addr_no_town": lambda v, row: row["town"] not in norm(v),
        "addr_hao_traditional": lambda v, row: "號" in v,
        "addr_lane_xiang": lambda v, row: "巷" in v and "弄" not in v,
        "addr_dashed": lambda v, row: "-" in norm(v),
        "addr_cn_numerals": lambda v, row: not re.search(r"\d", norm(v)) and re.search("[〇一二三四五六七八九十]", v),
        "addr_building_alias": lambda v, row: re.search("(幢|栋|#|座)", norm(v)) and "号楼" not in norm(v),
        "addr_extra_words": lambda v, row: norm(v).endswith(("门口", "对面", "隔壁", "附近", "旁边")),
        "addr_fullwidth": lambda v, row: re.search("[０-９]", v),
        "addr_no_room": lambda v, row: "室" not in v and not re.search(r"\d+-\d+-\d+", norm(v)),
        "addr_community": lambda v, row: row["community"] in norm(v) and "上海" not in v,
        "addr_traditional": lambda v, row: T2S.convert(v) != v,
        "addr_wrong_committee": lambda v, row: any(
            short[code] in norm(v)
            for code in short
            if code != row["committee_code"] and street_of[code] == row["subdistrict_code"]
        ),
    }
    houses = housing.join(grid.select("grid_id", pl.col("subdistrict_name").alias("town")), on="grid_id")
    with_house = rows.join(houses.select("house_id", "town", "community"), on="house_id")
    for tag, check in checks.items():
        subset = tagged(with_house, tag)
        assert subset.height > 0, tag
        for row in subset.iter_rows(named=True):
            assert row["address"] != houses.filter(pl.col("house_id") == row["house_id"])["address"][0]
            assert check(row["address"], row), (tag, row["address"])


def test_traditional_address_converts_back(rows: pl.DataFrame, housing: pl.DataFrame) -> None:
    addresses = dict(housing.select("house_id", "address").iter_rows())
    only = rows.filter(
        pl.col("defects").str.contains("addr_traditional")
        & ~pl.col("defects").str.contains("addr_(?:no_|community|dashed|cn_|building|lane|hao|wrong|extra|fullwidth)")
    )
    for value, house in only.select("address", "house_id").iter_rows():
        assert T2S.convert(value) == addresses[house]


# --- defect functions ---------------------------------------------------------------------------


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(AREAS))
    birth = draw(st.dates(datetime.date(1930, 1, 1), datetime.date(2022, 12, 31)))
    body = f"{area}{birth:%Y%m%d}{draw(st.integers(1, 999)):03d}"
    return body + gb11643_check(body)


@given(valid_ids(), st.integers(0, 2**32))
def test_broken_ids_never_pass_the_check(id_number: str, seed: int) -> None:
    for tag in ("id_bad_check", "id_transposed"):
        value, applied = messy.mess_id(id_number, [tag], random.Random(seed))
        if applied:
            assert value != id_number and not is_valid_id(value)


@given(st.integers(0, 99_999))
def test_chinese_numerals_read_back(n: int) -> None:
    text = messy.cn_number(n)
    digits = "〇一二三四五六七八九"
    if n >= 100:
        assert "".join(str(digits.index(c)) for c in text) == str(n)
    else:
        tens, _, ones = text.rpartition("十") if "十" in text else ("", "", text)
        value = (digits.index(tens) if tens else (1 if "十" in text else 0)) * 10 + (digits.index(ones) if ones else 0)
        assert value == n
