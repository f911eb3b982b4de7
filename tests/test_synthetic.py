"""Tests of the synthetic generator: reference tables, ID numbers, inbox files read back from disk,
and the truth file against what was actually written."""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from jingzhun.synthetic import messy, phenomena
from jingzhun.synthetic.district import build_district, select_committees
from jingzhun.synthetic.divisions import DIVISIONS_DIR, load_divisions
from jingzhun.synthetic.generate import generate
from jingzhun.synthetic.inbox import TRUTH_COLUMNS, row_counts
from jingzhun.synthetic.phenomena import PHENOMENA
from jingzhun.synthetic.population import build_population
from jingzhun.synthetic.settings import Settings

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


def test_numberless_places_are_the_same_for_the_same_seed_in_a_large_register() -> None:
    """The spots on roads (宏贸路南150米) get their random direction and distance by row: in a register large enough
    for Polars to group in parallel, the rows must come in the same order every time (they did not, and the sweep's
    figures moved between runs of the same code)."""
    n = 200_000
    housing = pl.DataFrame(
        {
            "community": [f"小区{i % 20_000}" for i in range(n)],
            "road": [f"路{i % 30_000}" for i in range(n)],
            "town": [f"镇{i % 40}" for i in range(n)],
            "grid_id": ["G"] * n,
            "committee_code": ["C"] * n,
            "subdistrict_code": ["S"] * n,
            "place_named": [True] * n,
        }
    )
    first = phenomena.numberless_places(housing, np.random.default_rng(7))
    assert all(first.equals(phenomena.numberless_places(housing, np.random.default_rng(7))) for _ in range(3))


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


# --- the phenomena of real exports (issue 8) and the day's size ------------------------------------------------

PHENOMENA_PERSONS, PHENOMENA_DAY_ROWS = 1500, 2400
RATES = {
    "away_from_home": 0.4,
    "sparse_hotline": 0.3,
    "household_phones": 0.5,
    "place_name_communities": 0.4,
    "short_town_names": 0.3,
    "numberless_addresses": 0.15,
    "numberless_places": 0.3,
    "empty_columns": 0.3,
}


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A district and day with every phenomenon, made by the command users type."""
    path = tmp_path_factory.mktemp("varied")
    options = [f"--{name.replace('_', '-')}={rate}" for name, rate in RATES.items()]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jingzhun.cli",
            "reference",
            "generate",
            "--out",
            str(path),
            "--persons",
            str(PHENOMENA_PERSONS),
            "--seed",
            "3",
            "--day",
            "2026-11-22",
            "--day-rows",
            str(PHENOMENA_DAY_ROWS),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def varied_tables(varied: Path) -> dict[str, pl.DataFrame]:
    tables = {
        name: pl.read_csv(varied / "reference" / f"{name}.csv", infer_schema=False)
        for name in ("grid", "housing", "population")
    }
    tables["truth"] = pl.read_csv(varied / "truth.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int64), pl.col("defects").fill_null(""), pl.col("phenomena").fill_null("")
    )
    return tables


@pytest.fixture(scope="module")
def varied_rows(varied: Path, varied_tables) -> pl.DataFrame:
    """Every person row of the varied inbox: its cells, truth line and the person's registered home."""
    records = []
    for path in sorted((varied / "inbox").glob("*/*")):
        _, header, data = read_inbox_file(path)
        field = {
            key: i
            for i, h in enumerate(header)
            for key, spellings in (
                ("name", NAME_HEADERS),
                ("id", ID_HEADERS),
                ("phone", PHONE_HEADERS),
                ("address", ADDRESS_HEADERS),
            )
            if h in spellings
        }
        records += [
            {"source_file": path.name, "source_row": r} | {k: row[i] for k, i in field.items()}
            for r, row in enumerate(data, start=1)
        ]
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
    homes = varied_tables["population"].select(
        "person_id", home_house_id="house_id", true_name="name", true_phone="phone"
    )
    return (
        cells.join(varied_tables["truth"], on=["source_file", "source_row"], validate="1:1")
        .filter(~pl.col("defects").is_in(["empty_row", "garbage_row"]))
        .join(homes, on="person_id", how="left")
    )


def showing(rows: pl.DataFrame, phenomenon: str) -> pl.DataFrame:
    return rows.filter(pl.col("phenomena").str.split("|").list.contains(phenomenon))


def test_truth_names_phenomena_and_evidence_per_row(varied_tables) -> None:
    truth = varied_tables["truth"]
    assert truth.columns == list(TRUTH_COLUMNS)
    shown = set(truth["phenomena"].str.split("|").explode()) - {""}
    assert shown == set(PHENOMENA)
    assert set(truth["names_one_person"]) == {"true", "false"}
    outsiders = truth.filter(pl.col("person_id").is_null())
    assert (outsiders["names_one_person"] == "false").all()


def test_day_rows_sets_the_size_of_the_day_whatever_the_population(varied_tables) -> None:
    truth = varied_tables["truth"]
    persons = truth.filter(~pl.col("defects").is_in(["empty_row", "garbage_row"]))
    assert persons.height == PHENOMENA_DAY_ROWS  # > the population: residents come back in other rows
    assert varied_tables["population"].height == PHENOMENA_PERSONS
    shares = persons["source"].value_counts().sort("source")
    assert dict(shares.iter_rows()) == {"checkpoint": 720, "health": 1440, "hotline": 240}


@settings(max_examples=30, deadline=None)
@given(persons=st.integers(1, 10**7), day_rows=st.integers(30, 10**7))
def test_day_rows_split_exactly_in_the_sources_proportions(persons: int, day_rows: int) -> None:
    counts = row_counts(persons, day_rows)
    assert sum(counts.values()) == day_rows
    assert row_counts(persons, 1) == {"checkpoint": 3, "hotline": 3, "health": 3}  # a row for each file at least
    assert abs(counts["health"] - 6 * counts["hotline"]) <= 6 and abs(counts["checkpoint"] - 3 * counts["hotline"]) <= 3


def test_away_from_home_rows_give_another_house_and_the_truth_routes_there(varied_rows, varied_tables) -> None:
    residents = varied_rows.filter(pl.col("person_id").is_not_null() & (pl.col("source") != "hotline"))
    away = showing(residents, "away_from_home")
    assert abs(away.height / residents.height - RATES["away_from_home"]) < 0.05
    assert (away["house_id"] != away["home_house_id"]).all()
    at_home = residents.filter(~pl.col("phenomena").str.contains("away_from_home"))
    assert (at_home["house_id"] == at_home["home_house_id"]).all()
    # The truth's committee and subdistrict are those of the house written, not of the registered home.
    houses = varied_tables["housing"].join(varied_tables["grid"], on="grid_id")
    written = away.join(houses.select("house_id", "address", c="committee_code", s="subdistrict_code"), on="house_id")
    assert (written["committee_code"] == written["c"]).all() and (written["subdistrict_code"] == written["s"]).all()
    clean = written.filter(pl.col("defects") == "")
    assert clean.height > 20 and (clean["address"] == clean["address_right"]).all()
    home_town = away.join(houses.select(home_house_id="house_id", home_sub="subdistrict_code"), on="home_house_id")
    assert (home_town["subdistrict_code"] != home_town["home_sub"]).mean() > 0.3  # often another subdistrict


def test_sparse_hotline_rows_carry_a_phone_and_an_address_or_a_title(varied_rows) -> None:
    hotline = varied_rows.filter(pl.col("source") == "hotline")
    sparse = showing(hotline, "sparse_hotline").filter(~pl.col("phenomena").str.contains("empty_column"))
    assert abs(showing(hotline, "sparse_hotline").height / hotline.height - RATES["sparse_hotline"]) < 0.07
    assert sparse.height > 20
    for row in sparse.iter_rows(named=True):
        assert row["phone"] != ""
        if row["name"] == "":
            assert row["address"] != ""
        else:
            assert re.fullmatch(r"\w{1,2}(先生|女士)", row["name"]) and row["address"] == ""
            # No address: the truth can only route to the registered home, and nowhere for an outsider.
            assert row["house_id"] == row["home_house_id"]
    titled = sparse.filter(pl.col("name") != "")
    assert titled.height > 5 and titled.filter(pl.col("person_id").is_null())["house_id"].is_null().all()


def test_households_share_one_phone_at_the_rate_asked(varied_tables) -> None:
    population = varied_tables["population"]
    households = population.group_by("house_id").agg(pl.len(), pl.col("phone").n_unique().alias("phones"))
    several = households.filter(pl.col("len") >= 2)
    one_phone = several.filter(pl.col("phones") == 1).height / several.height
    assert RATES["household_phones"] - 0.05 < one_phone < RATES["household_phones"] + 0.15  # children share too
    assert population.filter(pl.col("phone").is_duplicated()).height > population.height * 0.3


def test_place_name_communities_start_with_a_real_division_name(varied_tables, varied_rows) -> None:
    divisions = pl.concat(
        [
            pl.read_csv(DIVISIONS_DIR / f"{name}.csv", infer_schema=False).select("name", "code")
            for name in ("areas", "cities")
        ]
    )
    stems = set(phenomena.place_stems(load_divisions()))
    assert {"滨江", "东方", "望江", "黄山", "南京"} <= stems
    real = set(divisions["name"])
    assert all(
        any(
            stem + suffix in real
            for suffix in (
                "区",
                "县",
                "市",
                "自治县",
                "旗",
                "新区",
                "地区",
                "盟",
                "林区",
                "矿区",
                "特区",
                "自治州",
                "自治旗",
            )
        )
        for stem in stems
    )
    communities = varied_tables["housing"]["community"].drop_nulls().unique()
    place_named = communities.filter(
        communities.map_elements(lambda c: c[:2] in stems or c[:3] in stems, return_dtype=pl.Boolean)
    )
    assert place_named.len() / communities.len() >= RATES["place_name_communities"] - 0.1
    tagged_rows = showing(varied_rows, "place_name_community")
    assert tagged_rows.height > 20
    for address in tagged_rows["address"]:
        names = [c for c in place_named if c in T2S.convert(address)]
        assert names, address


def test_short_town_names_stand_before_the_road(varied_rows, varied_tables) -> None:
    towns = varied_tables["housing"].join(varied_tables["grid"], on="grid_id").select("house_id", "subdistrict_name")
    short = showing(varied_rows, "short_town").join(towns, on="house_id")
    assert abs(short.height / varied_rows.height - RATES["short_town_names"]) < 0.08
    for address, town in short.select("address", "subdistrict_name").iter_rows():
        text = T2S.convert(unicodedata.normalize("NFKC", address)).removeprefix("浦东")
        bare = re.sub("(街道|新镇|镇|乡)$", "", town)
        assert text.startswith(bare) and not text.startswith(town) and not text.startswith("上海"), (address, town)


def test_addresses_without_numbers_and_the_places_the_reference_holds(varied_rows, varied_tables) -> None:
    housing = varied_tables["housing"]
    places = housing.filter(pl.col("number").is_null())
    assert places.height > 10
    for address in places["address"]:
        assert "号" not in address and not re.search(r"\d+(?!\d*米)", address), address
    numberless = varied_rows.filter(pl.col("defects").str.contains("addr_no_number"))
    assert abs(numberless.height / varied_rows.height - RATES["numberless_addresses"]) < 0.05
    for address in numberless["address"]:
        assert not re.search(r"\d", unicodedata.normalize("NFKC", address)), address
        assert not re.search("[〇一二三四五六七八九十]+(号|弄|室|幢|栋|座)", address), address
    # Hotline rows about such a place write the place (宏贸路南150米), with or without the district and town.
    towns = varied_tables["grid"].select("grid_id", "subdistrict_name")
    place_text = places.join(towns, on="grid_id").select(
        "house_id",
        text=pl.col("address").str.slice(
            pl.lit("上海市浦东新区").str.len_chars() + pl.col("subdistrict_name").str.len_chars()
        ),
    )
    about_place = showing(varied_rows, "no_number").join(place_text, on="house_id")
    assert about_place.height > 10 and (about_place["source"] == "hotline").all()
    for written, text in about_place.select("address", "text").iter_rows():
        assert written == "" or text in T2S.convert(unicodedata.normalize("NFKC", written)), (written, text)


def test_empty_columns_are_empty_in_the_whole_file(varied: Path, varied_tables) -> None:
    truth = varied_tables["truth"]
    files = sorted((varied / "inbox").glob("*/*"))
    emptied = set(truth.filter(pl.col("phenomena").str.contains("empty_column"))["source_file"])
    assert len(emptied) == max(1, round(RATES["empty_columns"] * len(files)))
    for path in files:
        _, header, data = read_inbox_file(path)
        personal = [i for i, h in enumerate(header) if h in NAME_HEADERS | ID_HEADERS | PHONE_HEADERS]
        empty = [i for i in personal if all(row[i] == "" for row in data)]
        addresses = [i for i, h in enumerate(header) if h in ADDRESS_HEADERS]
        assert (path.name in emptied) == bool(empty), path.name
        assert any(row[addresses[0]] for row in data)  # the address always stays
        if path.name in emptied:
            lines = truth.filter(
                (pl.col("source_file") == path.name) & ~pl.col("defects").is_in(["empty_row", "garbage_row"])
            )
            prefixes = {"姓名": "name_", "驾乘人员姓名": "name_", "当事人": "name_", "当事人姓名": "name_"}
            for i in empty:
                prefix = prefixes.get(header[i], "id_" if header[i] in ID_HEADERS else "phone_")
                assert not lines["defects"].str.contains(prefix).any()  # no defect claimed on a value not there


def test_a_row_with_only_an_address_names_nobody(varied_rows) -> None:
    bare = varied_rows.filter((pl.col("name") == "") & (pl.col("phone") == "") & (pl.col("id").fill_null("") == ""))
    assert bare.height > 0 and (bare["names_one_person"] == "false").all()
    full = varied_rows.filter(pl.col("person_id").is_not_null() & (pl.col("id").fill_null("") != ""))
    assert (full["names_one_person"] == "true").all()


def test_a_row_without_address_phone_or_evidence_of_its_person_is_routed_nowhere() -> None:
    # Hotline rows of residents at home, in a file whose phone column is emptied: 陈先生 alone leads nowhere; a
    # row with an address goes there; an ID number names the person, whose home the truth keeps.
    part = pl.DataFrame(
        {
            "name": ["陈先生", "陈先生", "陈建华"],
            "id_number": ["", "", "310115198001011234"],
            "phone": ["13800000001"] * 3,
            "address": ["", "金高路1号101室", ""],
            "house_id": ["H1", "H2", "H3"],
            "committee_code": ["C1", "C2", "C3"],
            "subdistrict_code": ["S1", "S2", "S3"],
            "defects": ["name_surname_title", "name_surname_title", None],
            "phenomena": [["sparse_hotline"]] * 3,
            "resident": [True] * 3,
            "at_home": [True] * 3,
            "phone_shared": [True] * 3,
        }
    )
    got = phenomena.finish_file(part, ("phone",))
    assert got["house_id"].to_list() == [None, "H2", "H3"]
    assert got["committee_code"].to_list() == [None, "C2", "C3"]
    assert got["names_one_person"].to_list() == [False, False, True]
    # The same rows with their phones: the phone leads to the household's home.
    assert phenomena.finish_file(part, ())["house_id"].to_list() == ["H1", "H2", "H3"]


def test_a_phenomenon_of_the_day_leaves_the_reference_as_it_was_and_reruns_give_the_same_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "plain", persons=800, seed=5)
    for again in ("away", "again"):
        generate(tmp_path / again, persons=800, seed=5, settings=Settings(away_from_home=0.5, sparse_hotline=0.5))
    plain, away = _tree(tmp_path / "plain"), _tree(tmp_path / "away")
    assert away == _tree(tmp_path / "again")
    assert all(plain[f"reference/{t}.csv"] == away[f"reference/{t}.csv"] for t in ("grid", "housing", "population"))
    assert plain["truth.csv"] != away["truth.csv"]


def test_rates_that_cannot_go_together_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most"):
        Settings(short_town_names=0.5, numberless_addresses=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Settings(away_from_home=1.5)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jingzhun.cli",
            "reference",
            "generate",
            "--out",
            str(tmp_path / "x"),
            "--short-town-names",
            "0.6",
            "--numberless-addresses",
            "0.6",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and not (tmp_path / "x").exists()


HOUSE_PARTS = st.builds(
    messy.AddressParts,
    town=st.sampled_from(["金桥镇", "浦兴路街道", "唐镇", "川沙新镇", "潍坊新村街道"]),
    road=st.sampled_from(["金高路", "长岛路", "世纪大道", "川南奉公路"]),
    lane=st.none() | st.integers(1, 2000),
    number=st.integers(1, 2000),
    community=st.sampled_from(["东泰花园", "滨江花园", "锦绣新村"]),
    building=st.integers(1, 40),
    room=st.integers(101, 2604),
    nearby_committee=st.sampled_from(["", "竹园居委"]),
    cross_road=st.sampled_from(["", "斜土路", "龙东大道"]),
)
ADDRESS_TAGS = st.lists(st.sampled_from(sorted(messy.ADDRESS_DEFECTS.rates())), unique=True)


@given(HOUSE_PARTS, ADDRESS_TAGS, st.integers(0, 2**32))
def test_an_address_without_numbers_has_no_digit_and_names_its_community(parts, tags, seed: int) -> None:
    value, applied = messy.mess_address(parts, ["addr_no_number", *tags], random.Random(seed))
    assert "addr_no_number" in applied
    plain = T2S.convert(unicodedata.normalize("NFKC", value))
    assert not re.search(r"\d", plain) and parts.community in plain
    assert set(applied) <= {"addr_no_number", "addr_wrong_committee", "addr_extra_words", "addr_traditional"}
    if parts.cross_road and parts.road + parts.cross_road in plain:
        assert messy.crossing(parts.road, parts.cross_road) + parts.community in plain


@given(HOUSE_PARTS, ADDRESS_TAGS, st.integers(0, 2**32))
def test_a_short_town_name_stands_before_the_road_only_where_it_reads(parts, tags, seed: int) -> None:
    region_forms = {"addr_no_prefix", "addr_no_town", "addr_community", "addr_no_number"}
    wanted = ["addr_short_town", *(t for t in tags if t not in region_forms)]
    value, applied = messy.mess_address(parts, wanted, random.Random(seed))
    plain = T2S.convert(unicodedata.normalize("NFKC", value))
    short = messy.short_town(parts.town)
    if short is None:  # 唐镇 would be 唐 alone: written in full
        assert "addr_short_town" not in applied and plain.startswith("上海市浦东新区" + parts.town)
    else:
        assert "addr_short_town" in applied
        assert plain.removeprefix("浦东").startswith(short) and parts.town not in plain
