"""The review loop: pairs the model would not decide go to analysts with both sides; their decisions come back
from INBOX/review/ as labels, and the weekly retrain learns from them."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import openpyxl
import polars as pl

from dispatch.packages import write_person_candidates
from matching.review import DECISION_HEADER, PAIR_HEADER, candidate_rows, read_decisions
from matching.training import retrain_model
from tests.conftest import RUN_DATE

DAY = dt.date(2026, 11, 22)


def test_candidates_go_out_with_both_sides_and_decisions_come_back(tmp_path):
    candidates = pl.DataFrame({
        "record_id": [7, 7, 8], "person_id": ["P3", "P4", "P1"],
        "match_weight": [12.0, 11.5, 30.0], "match_probability": [0.93, 0.91, 0.999],
        "gamma_id_digits": [-1, -1, 3], "gamma_name": [1, 1, 5], "gamma_phone": [2, 2, 2], "gamma_address": [3, 3, 3],
    })
    matched = pl.DataFrame({"record_id": [7, 8], "person_id": [None, "P1"]}, schema_overrides={"person_id": pl.Utf8})
    standard = pl.DataFrame({"record_id": [7, 8], "source": ["hotline", "health"], "source_file": ["a.csv", "b.csv"],
                             "source_row": [3, 4], "name": ["王先生", "张伟"], "id_number": [None, "x"],
                             "phone": ["13800000003", "13800000001"], "address": ["碧波路1号", "碧波路2号"]})
    population = pl.DataFrame({"person_id": ["P1", "P3", "P4"], "name": ["张伟", "王建国", "王建军"],
                               "id_number": ["a", "b", "c"], "phone": ["1", "13800000003", "13800000003"],
                               "address": ["x", "碧波路1号", "碧波路1号"]})
    rows = candidate_rows(candidates, matched, standard, population, DAY)
    # Only the undecided record's candidates, best first, with both sides side by side.
    assert rows["候选人员编号"].to_list() == ["P3", "P4"]
    assert rows["候选姓名"].to_list() == ["王建国", "王建军"] and set(rows["记录姓名"]) == {"王先生"}
    assert rows["一致的证据"][0] == "姓氏一致（只登记了称呼）；手机号一致；同一房屋"

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


def test_weekly_retrain_learns_from_labels(flow_run, district, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(flow_run[0].parent / "warehouse.duckdb", warehouse)
    con = duckdb.connect(str(warehouse))
    truth = pl.read_csv(district / "truth.csv", infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))
    records = con.sql("SELECT record_id, source, source_file, source_row FROM standard_records "
                      "WHERE quarantine_code IS NULL").pl()
    labels = (records.join(truth.filter(pl.col("person_id").is_not_null()), on=["source", "source_file", "source_row"])
              .head(30).select(label_run_date=pl.lit(RUN_DATE), record_id="record_id", person_id="person_id",
                               is_match=pl.lit(True), review_file=pl.lit("decided.xlsx"), review_row=pl.lit(2)))
    con.register("labels", labels)
    con.execute("INSERT INTO person_labels BY NAME SELECT *, label_run_date AS run_date FROM labels")
    con.close()

    model_path = retrain_model(warehouse, tmp_path / "model", min_labels=20)
    training = json.loads(model_path.read_text(encoding="utf-8"))["jingzhun_training"]
    assert training["labelled_pairs"] == 30 and training["m_from"] == "labels"
