"""Personal data by allowlist: a day with ID numbers and phones planted where no mapping expects them (unknown
columns, a merged header, 诉求内容, quarantined rows, pairs sent to review) runs through the daily flow, and every
file of the run folder — and what the run printed — is scanned for any full ID number or phone of those people.
Only the work lists' 手机号码, and 证件号码 where a `show_id` rule fired, may hold one."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
import shutil
import unicodedata
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jingzhun.cleansing.idcard import check_digit, id_birth_and_area
from jingzhun.core import rules
from jingzhun.core.masking import mask_record, scrub_text, scrub_texts, show, shown
from tests.conftest import RUN_DATE

FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _spaced(value: str, groups: tuple[int, ...]) -> str:
    parts, at = [], 0
    for size in groups:
        parts.append(value[at : at + size])
        at += size
    return " ".join(p for p in [*parts, value[at:]] if p)


# ---- the masking of free text ---------------------------------------------------------------------------------


def _id_number(area: str, birth: str, sequence: str) -> str:
    first17 = area + birth + sequence
    return first17 + check_digit(first17)


ids = st.builds(
    _id_number,
    st.sampled_from(["310115", "310104", "320211", "520521"]),
    st.dates().map(lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}").filter(lambda s: s[0] in "12"),
    st.from_regex(r"[0-9]{3}", fullmatch=True),
)
mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
writings = st.sampled_from(["plain", "spaced", "fullwidth", "hyphens", "lower_x"])
texts = st.text(alphabet=st.characters(categories=("Lo", "P", "Zs")), max_size=8)


def _written(value: str, how: str) -> str:
    if how == "spaced":
        return _spaced(value, (6, 8) if len(value) == 18 else (3, 4))
    if how == "fullwidth":
        return value.translate(FULLWIDTH)
    if how == "hyphens":
        return _spaced(value, (4, 4, 4, 4) if len(value) == 18 else (3, 4)).replace(" ", "-")
    return value.lower() if how == "lower_x" else value


def _normalized(text: str) -> str:
    return re.sub(r"[\s\-－‐]", "", unicodedata.normalize("NFKC", text)).upper()


@given(value=st.one_of(ids, mobiles), how=writings, before=texts, after=texts)
def test_no_id_number_or_phone_survives_in_free_text_however_written(value, how, before, after):
    text = before + _written(value, how) + after
    masked = scrub_text(text)
    assert value not in _normalized(masked)
    assert value[-4:] in _normalized(masked)  # enough left to tell two numbers apart
    assert len(masked) == len(text)


# Digits of every width, the gaps a number may have, X, a date's and a float's marks, letters and CJK.
_NUMBERISH = st.text(alphabet="0123456789０１２３４５６７８９ -－\u3000XxＸ×.E+年月日号室ab王_", max_size=40)


@given(st.lists(st.one_of(st.none(), _NUMBERISH), max_size=12))
def test_a_column_is_scrubbed_as_each_of_its_texts_is(values):
    """`scrub_texts` sends only some texts through `scrub_text`: every text must come out as `scrub_text` makes it."""
    column = pl.Series("t", values, dtype=pl.Utf8)
    assert scrub_texts(column).to_list() == [None if v is None else scrub_text(v) for v in values]


@given(st.lists(st.one_of(st.none(), _NUMBERISH, st.text(max_size=20)), max_size=12))
def test_a_column_is_shown_as_each_of_its_values_is(values):
    """`shown` masks a column in Polars: every output and field as `show` masks each value."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.Utf8})
    for output in rules.load("privacy")["outputs"]:
        for field in ("name", "phone", "address", "id_number", "extras", "plate"):
            column = frame.select(shown(output, field, "v")).to_series()
            assert column.name == "v"
            assert column.to_list() == [show(output, field, v) for v in values], (output, field)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22 07:30:00",
        "2026年11月22日",
        "20261122073015",
        "健康云申报_20261122_1.csv 第267行",
        "工单号HL20261122000004",
        "序号：264，数据来源：健康云",
        "沪A12345",
        "诉求：小区3号楼停水两天",
    ],
)
def test_dates_codes_and_house_numbers_stay_readable(text):
    assert scrub_text(text) == text


def test_landlines_and_numbers_that_went_through_excel_are_masked_too():
    assert scrub_text("(021)5888-1234") == "(021)****-1234"
    assert scrub_text("固话58881234") == "固话****1234"
    assert scrub_text("电话1.3812345678E+10") == "电话1.**************"


def test_review_shows_what_an_analyst_needs_to_tell_people_apart():
    assert show("review", "id_number", "310115198005011234") == "310115********1234"
    assert id_birth_and_area("310115198005011234") == ("1980-05-01", "上海市浦东新区")
    assert show("review", "phone", "13812345678") == "*******5678"
    assert show("dispatch", "phone", "13812345678") == "13812345678"
    assert show("report", "address", "碧波路455弄3号502室") == "碧波路***弄*号***室"


def test_quarantined_values_are_shown_masked_with_free_text_scrubbed():
    record = {
        "name": "王伟",
        "id_number": "310115198005011234",
        "phone": "13812345678",
        "address": "碧波路1号",
        "content": "我的电话１３８ １２３４ ５６７８",
        "extras": {"联系人身份证": "310115 19800501 1234"},
    }
    assert mask_record(record, "quarantine") == {
        "name": "王*",
        "id_number": "310115********1234",
        "phone": "138****5678",
        "address": "碧波路1号",
        "content": "我的电话１３８ **** ５６７８",
        "extras": {"联系人身份证": "310115 ******** 1234"},
    }
    # The report drops free text altogether.
    assert set(mask_record(record, "report")) == {"name", "id_number", "phone", "address"}


# ---- the whole run, scanned -----------------------------------------------------------------------------------


def _person_rows(population: pl.DataFrame, housing: pl.DataFrame, start: int, count: int) -> list[dict]:
    persons = (
        population.join(housing.select("house_id", "address"), on="house_id")
        .unique("phone", keep="first", maintain_order=True)
        .sort("person_id")
    )
    return persons.slice(start, count).to_dicts()


class _Logged(logging.Handler):
    """Every log record of the run, at every level, as the text a log file would hold."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (f" {record.exc_info}" if record.exc_info else ""))


@pytest.fixture(scope="module")
def planted_run(district, tmp_path_factory):
    """The session's district with planted values; the daily flow run on it by Prefect; what it printed."""
    from jingzhun.flows.daily import daily

    tmp = tmp_path_factory.mktemp("privacy")
    inbox, reference = tmp / "inbox", tmp / "reference"
    shutil.copytree(district / "inbox", inbox)
    shutil.copytree(district / "reference", reference)
    population = pl.read_csv(reference / "population.csv", infer_schema=False)
    housing = pl.read_csv(reference / "housing.csv", infer_schema=False)
    # The reference has a few problems, under the limits of jingzhun/rules/reference_checks.yaml: the run goes on.
    pl.concat(
        [
            housing,
            housing.head(1).with_columns(address=pl.lit("碧波路1号重复")),
            housing.head(1).with_columns(house_id=pl.lit("H-UNKNOWN-GRID"), grid_id=pl.lit("G-NONE")),
        ]
    ).write_csv(reference / "housing.csv")
    pl.concat(
        [
            population,
            population.head(1).with_columns(name=pl.lit("重复者"), id_number=pl.lit(None), phone=pl.lit(None)),
            population.head(1).with_columns(
                person_id=pl.lit("P-UNKNOWN-HOUSE"),
                house_id=pl.lit("H-NONE"),
                id_number=pl.lit(None),
                phone=pl.lit(None),
            ),
        ]
    ).write_csv(reference / "population.csv")
    people = _person_rows(population, housing, 0, 40)
    planted: list[str] = []

    def other(i: int) -> dict:
        person = people[(i + 20) % len(people)]
        planted.extend([person["id_number"], person["phone"]])
        return person

    # Checkpoint: an ID and a phone under headers no mapping knows, and a remark with a phone in it; a ragged row.
    with open(inbox / "checkpoint" / "道口登记_补录.csv", "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["登记时间", "道口", "姓名", "身份证号", "联系电话", "在沪居住地址", "紧急联系人身份证", "备用电话", "备注"]
        )
        for i, p in enumerate(people[:5]):
            contact = other(i)
            writer.writerow(
                [
                    "2026-11-22 08:00",
                    "G15道口",
                    p["name"],
                    p["id_number"],
                    p["phone"],
                    p["address"],
                    _spaced(contact["id_number"], (6, 8)),
                    contact["phone"].translate(FULLWIDTH),
                    f"家属电话{_written(other(i + 5)['phone'], 'hyphens')}",
                ]
            )
        writer.writerow(
            ["2026-11-22 09:00", "G15道口", "某某", "", "", "碧波路1号", "", "", "", "多出", other(11)["id_number"]]
        )
    # Health: a merged header over two columns holding a contact's ID number and phone; fever, so dispatched.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["申报时间", "姓名", "身份证号", "手机号码", "居住地址", "发热", "健康码", "联系人信息", None])
    sheet.merge_cells("H1:I1")
    for i, p in enumerate(people[12:16]):
        contact = other(i + 12)
        sheet.append(
            [
                "2026-11-22 10:00",
                p["name"],
                p["id_number"],
                p["phone"],
                p["address"],
                "是",
                "红码" if i == 0 else "绿码",
                contact["id_number"],
                contact["phone"],
            ]
        )
    book.save(inbox / "health" / "健康云申报_合并表头.xlsx")
    # Health: a file whose headers nobody mapped: every row quarantined, its values in unknown columns.
    with open(inbox / "health" / "健康云_另一系统.csv", "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["人员", "证件", "电话"])
        for i in range(3):
            contact = other(i + 16)
            writer.writerow([contact["name"], contact["id_number"], contact["phone"]])
    # Hotline: 诉求内容 with numbers typed by a caller; a surname and title at a person's home (a pair for
    # review); a row with nothing but the text (quarantined).
    with open(inbox / "hotline" / "12345工单_补录.csv", "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["工单编号", "受理时间", "当事人姓名", "当事人电话", "地址", "诉求类别", "工单内容"])
        for i, p in enumerate(people[20:26]):
            number = _written(other(i + 20)["id_number"], ("spaced", "fullwidth", "hyphens")[i % 3])
            # No phone: a surname at a home is what the model sends to an analyst rather than decides.
            writer.writerow(
                [
                    f"HL2026112290{i:04d}",
                    "2026-11-22 11:00",
                    p["name"][0] + "先生",
                    "",
                    p["address"],
                    "疫情防控-来沪人员报备",
                    f"我的身份证号{number}，请回电",
                ]
            )
        contact = other(26)
        writer.writerow(
            [
                "HL20261122990000",
                "2026-11-22 12:00",
                "",
                "",
                "",
                "其他",
                f"身份证{contact['id_number']}，电话{contact['phone']}",
            ]
        )
    # Checkpoint: a person the population does not know, at an address no house has: review.
    stranger_id, stranger_phone = _id_number("310115", "19800501", "123"), "13900001234"
    planted.extend([stranger_id, stranger_phone])
    with open(inbox / "checkpoint" / "道口登记_无法定位.csv", "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["登记时间", "道口", "姓名", "身份证号", "联系电话", "出发地", "在沪居住地址"])
        writer.writerow(
            ["2026-11-22 13:00", "G15道口", "欧阳某某", stranger_id, stranger_phone, "武汉市", "火星基地1号"]
        )

    out = tmp / "out"
    logged, printed = _Logged(), io.StringIO()
    loggers = [logging.getLogger(), logging.getLogger("prefect")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(logged)
        logger.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            head = daily(inbox=inbox, reference=reference, out=out, run_date=RUN_DATE)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(logged)
            logger.setLevel(level)
    secrets = set(population["id_number"].drop_nulls()) | set(population["phone"].drop_nulls()) | set(planted)
    return {
        "dir": out / RUN_DATE.isoformat(),
        "head": head,
        "printed": printed.getvalue() + "\n".join(logged.lines),
        "secrets": secrets,
        "planted": planted,
    }


def _found(text: str, secrets: set[str]) -> set[str]:
    """The secrets in a text, however written: spaces and hyphens dropped, full-width digits made half-width."""
    found = set()
    for run in re.findall(r"[\dX]{11,}", _normalized(text)):
        for size in (11, 18):
            found |= {run[i : i + size] for i in range(len(run) - size + 1)} & secrets
    return found


def _cells(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(column header, cell text, the row by header) of every cell of a table file; for other files one cell."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        found = []
        for sheet in book.worksheets:
            rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            found += [
                (h, v, dict(zip(rows[0], row, strict=False)))
                for row in rows[1:]
                for h, v in zip(rows[0], row, strict=False)
            ]
            found += [("表头", h, {}) for h in rows[0]] if rows else []
        book.close()
        return found
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        return [
            (h, v, dict(zip(rows[0], row, strict=False)))
            for row in rows[1:]
            for h, v in zip(rows[0], row, strict=False)
        ] + [("表头", h, {}) for h in rows[0]]
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return [(c, str(v), {}) for c in frame.columns for v in frame[c].drop_nulls().to_list()]
    return [("", path.read_bytes().decode("utf-8", errors="replace"), {})]


def _allowed(path: Path, header: str, row: dict[str, str]) -> bool:
    """The cells a rule or role allows a full value in: the work lists' phone, and the ID where `show_id` fired."""
    if path.parent.name != "dispatch":
        return False
    show_id = {r["id"] for r in rules.load("screening")["rules"] if r.get("show_id")}
    return header == "手机号码" or (header == "证件号码" and bool(show_id & set(row.get("触发规则", "").split("、"))))


def test_no_full_id_number_or_phone_outside_the_allowed_cells(planted_run):
    run_dir, secrets = planted_run["dir"], planted_run["secrets"]
    leaks, allowed_hits = [], 0
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    assert {p.suffix for p in files} >= {".xlsx", ".csv", ".html", ".json", ".parquet"}
    for path in files:
        for header, text, row in _cells(path):
            hits = _found(text, secrets)
            if hits and _allowed(path, header, row):
                allowed_hits += 1
            elif hits:
                leaks.append((str(path.relative_to(run_dir)), header, text[:80]))
    assert leaks == []
    assert allowed_hits > 0, "the work lists still give staff the phone to call"
    assert "Finished in state Completed" in planted_run["printed"], "the run's log was captured"
    assert _found(planted_run["printed"], secrets) == set()


def test_planted_values_reached_every_kind_of_file_masked(planted_run):
    """The scan is only worth something if the planted values arrived where they were meant to, masked."""
    run_dir = planted_run["dir"]
    work = pl.concat([pl.read_csv(p, infer_schema=False) for p in (run_dir / "dispatch").glob("*.csv")])
    extras = " ".join(work["其他信息"].drop_nulls())
    assert "紧急联系人身份证：" in extras and "列9：" in extras and "联系人信息：" in extras
    assert re.search(r"紧急联系人身份证：\d{6} \*{8} \d{3}[\dX]", extras)
    assert re.search(r"备用电话：[０-９]{3}\*{4}[０-９]{4}", extras)
    # Codes are no one's personal data and come back from staff and analysts: written as they are.
    results = pl.read_parquet(run_dir / "match_results.parquet")
    assert set(work["派单编号"]) == set(results["dispatch_id"].drop_nulls())
    red = work.filter(pl.col("触发规则").str.contains("HC02"))
    assert red.height > 0 and all("*" not in v for v in red["证件号码"].drop_nulls())

    quarantine = pl.read_csv(run_dir / "quarantine" / "rows.csv", infer_schema=False)
    texts = " ".join(quarantine["raw_values"])
    assert "健康云_另一系统.csv" in set(quarantine["source_file"])
    assert "身份证" in texts and "*" in texts

    candidates = pl.read_csv(run_dir / "review" / "person_candidates.csv", infer_schema=False)
    assert candidates.height > 0
    assert candidates["候选证件号码"].str.contains(r"^\d{6}\*{8}\d{3}[\dX]$").all()
    assert candidates["候选出生日期"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert candidates["候选地区"].drop_nulls().len() > 0
    assert candidates["候选手机号码"].str.contains(r"^\*{7}\d{4}$").all()
    assert candidates["审核编号"].str.contains(r"^2026-11-22/\d+/P\d+$").all()

    review = pl.read_csv(run_dir / "review" / "review.csv", infer_schema=False)
    stranger = review.filter(pl.col("姓名") == "欧阳某某").row(0, named=True)
    assert (stranger["证件号码"], stranger["出生日期"], stranger["地区"], stranger["手机号码"]) == (
        "310115********" + planted_run["planted"][-2][-4:],
        "1980-05-01",
        "上海市浦东新区",
        "*******1234",
    )
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reconciliation"]["balanced"] is True


def test_reference_problems_under_the_limits_are_counted_in_report_and_manifest(planted_run):
    run_dir = planted_run["dir"]
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    counted = {c["check"]: c["rows"] for c in manifest["reference_checks"]}
    assert counted == {
        "duplicate_grid_id": 0,
        "committee_without_subdistrict": 0,
        "duplicate_house_id": 1,
        "house_on_unknown_grid": 1,
        "duplicate_person_id": 1,
        "duplicate_id_number": 0,
        "person_on_unknown_house": 1,
    }
    assert not any(c["over"] for c in manifest["reference_checks"])
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    section = html[html.index("参考数据检查") :]
    assert "房屋编号重复" in section and "人员所在房屋不在房屋表中" in section
