"""The reference checks: keys twice, houses on unknown grids, committees without a subdistrict, persons on unknown
houses — counted as computed by hand here, set aside or kept as `jingzhun/rules/reference_checks.yaml` says, and above a
limit the run refuses to start with one line."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from jingzhun.core import rules
from jingzhun.core.errors import UserError
from jingzhun.matching.reference import check_reference, failed_checks_message, load_reference

GRID = pl.DataFrame(
    {
        "grid_id": ["G1", "G2", "G2", "G3"],
        "grid_name": ["一", "二", "二（重复）", "三"],
        "committee_code": ["C1", "C2", "C2", "C3"],
        "committee_name": ["甲居委", "乙居委", "乙居委", "丙居委"],
        "subdistrict_code": ["S1", "S1", "S1", " "],  # C3 has no subdistrict (a blank is none)
        "subdistrict_name": ["东街道", "东街道", "东街道", ""],
        "district_code": ["D"] * 4,
        "district_name": ["区"] * 4,
    }
)
HOUSING = pl.DataFrame(
    {
        "house_id": ["H1", "H2", "H2", "H3", "H4"],
        "address": ["碧波路1号101室", "碧波路1号102室", "碧波路9号", "碧波路1号103室", "碧波路1号104室"],
        "grid_id": ["G1", "G1", "G2", "G3", "G9"],  # G3 is set aside with C3, G9 is no grid at all
    }
)
POPULATION = pl.DataFrame(
    {
        "person_id": ["P1", "P2", "P2", "P3", "P4"],
        "name": ["张伟", "王芳", "王芳芳", "李强", "赵敏"],
        "id_number": ["310115198005011234", "310115198005011234", "310115199001011235", None, None],
        "phone": ["13800000001", "13800000002", None, None, None],
        "house_id": ["H1", "H2", "H2", "H7", None],  # H7 is unknown; no house at all is no unknown house
    }
)


def _write(
    folder: Path, grid: pl.DataFrame = GRID, housing: pl.DataFrame = HOUSING, population: pl.DataFrame = POPULATION
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    grid.write_csv(folder / "grid.csv")
    housing.write_parquet(folder / "housing.parquet")  # either format, as the contract allows
    population.write_csv(folder / "population.csv")
    return folder


def test_each_problem_is_counted_as_by_hand(tmp_path):
    checks = check_reference(_write(tmp_path / "ref"))
    counted = dict(checks.select("check", "rows").iter_rows())
    assert counted == {
        "duplicate_grid_id": 1,
        "committee_without_subdistrict": 1,
        "duplicate_house_id": 1,
        "house_on_unknown_grid": 2,
        "duplicate_person_id": 1,
        "duplicate_id_number": 1,
        "person_on_unknown_house": 1,
    }
    assert dict(checks.select("check", "table_rows").iter_rows())["house_on_unknown_grid"] == 5
    assert checks.filter(pl.col("check") == "duplicate_house_id")["file"].item() == "housing.parquet"
    # Limits from the rules: one grid key twice is above `max_rows: 0`; 1 of 5 houses is above 0.1 %.
    assert checks.filter(pl.col("over"))["check"].to_list() == list(counted)


def test_the_run_uses_the_first_row_of_a_key_and_sets_aside_grids_without_a_subdistrict(tmp_path):
    reference = load_reference(_write(tmp_path / "ref"))
    assert reference.grid["grid_id"].to_list() == ["G1", "G2"] and reference.grid["grid_name"][1] == "二"
    assert reference.housing["house_id"].to_list() == ["H1", "H2", "H3", "H4"]
    assert reference.housing.filter(pl.col("house_id") == "H2")["address"].item() == "碧波路1号102室"
    assert reference.population.filter(pl.col("person_id") == "P2")["name"].item() == "王芳"
    assert reference.population.height == 4


@pytest.mark.parametrize("population_format", ["csv", "parquet"])
def test_some_persons_of_a_population_read_later_are_its_first_rows_of_them(tmp_path, population_format):
    """`persons_of` scans the population for the persons asked for: the rows `persons` gives of them (the first
    row of a person_id twice, blanks null), in the file's order, whether the population was read or deferred."""
    folder = _write(tmp_path / "ref")
    population = POPULATION.with_columns(phone=pl.Series(["13800000001", "13800000002", None, " ", None]))
    if population_format == "parquet":
        (folder / "population.csv").unlink()
        population.write_parquet(folder / "population.parquet")
    else:
        population.write_csv(folder / "population.csv")
    asked = pl.Series(["P4", "P2", "P9", None, "P2"])
    later = load_reference(folder, later=("population",))
    got = later.persons_of(asked)
    assert got["person_id"].to_list() == ["P2", "P4"]
    assert got.filter(pl.col("person_id") == "P2")["name"].item() == "王芳"  # its first row
    assert got.equals(later.persons().filter(pl.col("person_id").is_in(["P2", "P4"])))
    assert load_reference(folder).persons_of(asked).equals(got)


def test_houses_read_later_are_read_only_when_asked_and_are_the_first_rows_of_their_key(tmp_path):
    """A run defers the housing table (four million houses it needs whole only when their standardized form is
    not kept): nothing of it is held until asked; asked whole or for some houses (a blank or unknown key, a key
    twice) it gives the rows an eager reading gives, the first row of H2 (碧波路1号102室, not 碧波路9号)."""
    folder = _write(tmp_path / "ref")
    later = load_reference(folder, read=("grid", "housing"), later=("housing",))
    assert later.housing.is_empty() and later.population.is_empty()
    eager = load_reference(folder, read=("grid", "housing"))
    assert later.houses().equals(eager.housing) and eager.houses().equals(eager.housing)
    asked = pl.Series(["H4", "H2", "H9", None, "H2"])
    got = later.houses_of(asked)
    assert got["house_id"].to_list() == ["H2", "H4"]
    assert got.filter(pl.col("house_id") == "H2")["address"].item() == "碧波路1号102室"
    assert eager.houses_of(asked).equals(got)
    # The fingerprint is of the file either way: deferring reads nothing into it.
    assert later.fingerprint() == eager.fingerprint()


def test_a_clean_reference_passes_and_says_nothing(tmp_path):
    clean = _write(
        tmp_path / "ref",
        GRID.head(2),
        HOUSING.head(2),
        POPULATION.head(2).with_columns(id_number=pl.Series(["310115198005011234", None])),
    )
    checks = check_reference(clean)
    assert checks["rows"].sum() == 0 and failed_checks_message(checks) is None


@pytest.mark.parametrize("table", ["grid", "housing", "population"])
def test_a_table_with_only_its_header_stops_the_run_by_name(tmp_path, table):
    frames = {"grid": GRID, "housing": HOUSING, "population": POPULATION}
    frames[table] = frames[table].clear()
    message = failed_checks_message(check_reference(_write(tmp_path / "ref", **frames)))
    assert message is not None and f"{table}." in message and "为空" in message
    assert all(f"{other}." not in message for other in frames if other != table)


def test_a_missing_key_column_is_said_before_any_count(tmp_path):
    folder = _write(tmp_path / "ref", population=POPULATION.drop("house_id"))
    with pytest.raises(UserError, match="lacks required columns: house_id"):
        check_reference(folder)


def test_above_a_limit_the_run_stops_before_any_work_with_one_line(district, tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(district / "reference", reference)
    grid = pl.read_csv(reference / "grid.csv", infer_schema=False)
    grid.with_columns(
        subdistrict_code=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("subdistrict_code")
    ).write_csv(reference / "grid.csv")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jingzhun.cli",
            "run",
            "--inbox",
            str(district / "inbox"),
            "--reference",
            str(reference),
            "--out",
            str(tmp_path / "out"),
            "--run-date",
            "2026-11-22",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "参考数据检查未通过" in done.stderr and "grid.csv 居委没有所属街镇 1 行" in done.stderr
    assert "committee_without_subdistrict" in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_checks_are_counted_once_per_content_of_the_reference_and_the_rules(tmp_path):
    """A run reuses the counts of the same reference files (kept in OUT by `prepare`) instead of scanning the
    population again; a changed file, or changed check rules, is counted afresh."""
    from jingzhun.core.run import Run
    from jingzhun.flows import steps

    folder = _write(tmp_path / "ref")
    run = Run(inbox=tmp_path, reference=folder, out=tmp_path / "out", run_date=dt.date(2026, 11, 22))
    run.out.mkdir()
    steps._keep_reference_checks(run, steps.reference_checks(run))
    assert steps.reference_checks(run).equals(check_reference(folder))
    # What is kept is what is used: a count planted in the kept file under the same key is what the next run reads.
    kept = pl.read_parquet(run.out / steps.CHECKS_CACHE)
    planted = kept.with_columns(rows=pl.col("rows") + 100)
    planted.write_parquet(run.out / steps.CHECKS_CACHE)
    steps._checked.clear()  # as a new process
    assert steps.reference_checks(run)["rows"].to_list() == (kept["rows"] + 100).to_list()

    # Another person on an unknown house: the file's content changed, so it is counted again.
    POPULATION.vstack(POPULATION.tail(1).with_columns(person_id=pl.lit("P9"), house_id=pl.lit("H8"))).write_csv(
        folder / "population.csv"
    )
    counted = dict(steps.reference_checks(run).select("check", "rows").iter_rows())
    assert counted["person_on_unknown_house"] == 2 and counted["duplicate_person_id"] == 1

    # Other limits in one's own rules are a new key too, though the files did not change.
    rules_dir = tmp_path / "rules"
    shutil.copytree(rules.INSTALLED_RULES_DIR, rules_dir)
    spec = yaml.safe_load((rules_dir / "reference_checks.yaml").read_text(encoding="utf-8"))
    limit = spec["checks"]["person_on_unknown_house"]
    limit.pop("max_share")
    limit["max_rows"] = 5
    (rules_dir / "reference_checks.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with rules.using(rules_dir):
        own = steps.reference_checks(run)
    assert not own.filter(pl.col("check") == "person_on_unknown_house")["over"].item()
