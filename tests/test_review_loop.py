"""The review loop: pairs the model would not decide go to analysts with both sides; their decisions come back
from INBOX/review/ as labels, and the weekly retrain learns from them."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import openpyxl
import polars as pl

from jingzhun.dispatch.packages import write_person_candidates
from jingzhun.matching.review import DECISION_HEADER, PAIR_HEADER, candidate_rows, read_decisions
from tests.conftest import RUN_DATE

DAY = dt.date(2026, 11, 22)


def test_candidates_go_out_with_both_sides_and_decisions_come_back(tmp_path):
    candidates = pl.DataFrame(
        {
            "record_id": [7, 7, 8],
            "person_id": ["P3", "P4", "P1"],
            "match_weight": [12.0, 11.5, 30.0],
            "match_probability": [0.93, 0.91, 0.999],
            "level_id_digits": ["missing", "missing", "exact"],
            "level_name": ["surname_title", "surname_title", "exact"],
            "level_phone": ["shared", "shared", "sole"],
            "level_address": ["house", "house", "house"],
        }
    )
    matched = pl.DataFrame({"record_id": [7, 8], "person_id": [None, "P1"]}, schema_overrides={"person_id": pl.Utf8})
    standard = pl.DataFrame(
        {
            "record_id": [7, 8],
            "source": ["hotline", "health"],
            "source_file": ["a.csv", "b.csv"],
            "source_row": [3, 4],
            "name": ["王先生", "张伟"],
            "id_number": [None, "x"],
            "phone": ["13800000003", "13800000001"],
            "address": ["碧波路1号", "碧波路2号"],
        }
    )
    population = pl.DataFrame(
        {
            "person_id": ["P1", "P3", "P4"],
            "name": ["张伟", "王建国", "王建军"],
            "id_number": ["a", "b", "c"],
            "phone": ["1", "13800000003", "13800000003"],
            "address": ["x", "碧波路1号", "碧波路1号"],
        }
    )
    rows = candidate_rows(candidates, matched, standard, population, DAY)
    # Only the undecided record's candidates, best first, with both sides side by side.
    assert rows["候选人员编号"].to_list() == ["P3", "P4"]
    assert rows["候选姓名"].to_list() == ["王建国", "王建军"] and set(rows["记录姓名"]) == {"王先生"}
    assert rows["一致的证据"][0] == "姓氏一致（只登记了称呼）；手机号一致（人口库中多人共用）；同一房屋"
    # Candidates at the same weight (a household's phone) come in one order, whatever order they were given in.
    tied = candidates.with_columns(match_weight=pl.lit(11.5))
    assert (
        candidate_rows(tied.reverse(), matched, standard, population, DAY)["候选人员编号"].to_list()
        == candidate_rows(tied, matched, standard, population, DAY)["候选人员编号"].to_list()
        == ["P3", "P4"]
    )

    workbook = write_person_candidates(tmp_path / "out", rows, DAY)[0]
    book = openpyxl.load_workbook(workbook)
    sheet = book["人员候选"]
    header = [c.value for c in sheet[1]]
    decision = header.index(DECISION_HEADER) + 1
    sheet.cell(row=2, column=decision, value="是同一人")
    sheet.cell(row=3, column=decision, value="也许吧")  # not a decision: counted, not guessed
    (tmp_path / "inbox" / "review").mkdir(parents=True)
    book.save(tmp_path / "inbox" / "review" / "decided.xlsx")

    labels, unreadable = read_decisions(tmp_path / "inbox")
    assert labels.select("label_run_date", "record_id", "person_id", "is_match").rows() == [(DAY, 7, "P3", True)]
    assert unreadable == 1
    assert sheet.cell(row=2, column=header.index(PAIR_HEADER) + 1).value == "2026-11-22/7/P3"


def test_weekly_retrain_makes_a_version_with_the_data_that_the_next_run_uses(flow_run, district, tmp_path):
    """The retrain flow, run by Prefect on a warehouse whose day has 40% of its people away from their registered
    home (人户分离) and analysts' and staff's labels: a new version beside the warehouse, never in the code, with
    its data fingerprint, the m it learnt and its figures; active when not worse; the next match uses it."""
    from jingzhun.core.run import Run
    from jingzhun.flows import steps
    from jingzhun.flows.retrain import retrain
    from jingzhun.matching import versions

    out = tmp_path / "out"
    out.mkdir()
    warehouse = out / "warehouse.duckdb"
    shutil.copy(flow_run[0].parent / "warehouse.duckdb", warehouse)
    builtin_bytes = versions.BUILTIN_PATH.read_bytes()
    con = duckdb.connect(str(warehouse))
    truth = pl.read_csv(district / "truth.csv", infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))
    records = con.sql(
        "SELECT record_id, source, source_file, source_row FROM standard_records WHERE quarantine_code IS NULL"
    ).pl()
    known = records.join(truth.filter(pl.col("person_id").is_not_null()), on=["source", "source_file", "source_row"])
    # Analysts' decisions: 200 pairs are the same person, 20 (a record with someone else) are not.
    labels = pl.concat(
        [
            known.head(200).select("record_id", "person_id", is_match=pl.lit(True)),
            known.tail(20).select(
                "record_id", person_id=pl.col("person_id").shift(1, fill_value="P00000001"), is_match=pl.lit(False)
            ),
        ]
    ).with_columns(label_run_date=pl.lit(RUN_DATE), review_file=pl.lit("decided.xlsx"), review_row=pl.lit(2))
    con.register("labels", labels)
    con.execute("INSERT INTO person_labels BY NAME SELECT *, label_run_date AS run_date FROM labels")
    # 40% of the people of the day live in another house than their registered one.
    moved = con.sql("""
        SELECT r.unique_id, p.house_id, p.building_id, p.committee_code
        FROM (SELECT unique_id, row_number() OVER (ORDER BY unique_id) AS n FROM person_features_records
              WHERE house_id IS NOT NULL AND hash(unique_id) % 5 < 2) r
        JOIN (SELECT house_id, building_id, committee_code, row_number() OVER (ORDER BY hash(unique_id)) AS n
              FROM person_features_population) p USING (n)""").pl()
    con.register("moved", moved)
    con.execute("""UPDATE person_features_records f SET house_id = m.house_id, building_id = m.building_id,
                   committee_code = m.committee_code FROM moved m WHERE f.unique_id = m.unique_id""")
    con.close()

    done = retrain(warehouse=warehouse, holdout_persons=1500)

    assert versions.BUILTIN_PATH.read_bytes() == builtin_bytes, "the code's model is never retrained in place"
    model = versions.load(versions.models_dir(out), done["version"])
    assert done["version"] == "v1" and model.training["started_from"] == "builtin"
    assert model.training["labelled_pairs"] == 200 and model.training["m_from"] == "em+labels"
    assert len(model.training["fingerprint"]) == 64
    figures = model.training["figures"]
    assert figures["labels"]["records"] == 220 and figures["holdout"]["records"] > 100
    assert 0.9 <= figures["holdout"]["recall"] <= 1 and 0.99 <= figures["holdout"]["precision"] <= 1
    address = next(c for c in model.settings["comparisons"] if c["output_column_name"] == "address")
    differs = next(lvl for lvl in address["comparison_levels"] if lvl["label_for_charts"] == "else")
    assert differs["m_probability"] > 0.1, "a day with people away from home teaches that the address may differ"

    assert versions.active(versions.models_dir(out)).version == ("v1" if done["activated"] else "builtin")
    if not done["activated"]:  # kept for an analyst, who may promote it all the same
        versions.activate(versions.models_dir(out), "v1", "promote", "by an analyst")
    run = Run(inbox=district / "inbox", reference=district / "reference", out=out, run_date=RUN_DATE)
    steps.match(run)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        used = con.sql(
            "SELECT DISTINCT model_version FROM matches WHERE run_date = ? AND model_version IS NOT NULL",
            params=[RUN_DATE],
        ).fetchall()
    assert used == [("v1",)]
