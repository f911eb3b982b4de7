"""Training the person-linkage model: u by random sampling, m by expectation maximisation (Splink), saved as
the versioned JSON that the daily flow loads.

Never hand-writes the estimation: Splink does it; this module only says on which blocks EM runs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from jingzhun.warehouse import has_table
from matching.comparisons import settings
from matching.person import MODEL_PATH, TRAINING_KEY, splink_tables, term_frequencies

# EM needs blocks where most pairs are matches; each session leaves its own blocking columns' m untouched.
EM_BLOCKS = ("l.id_digits = r.id_digits", "l.phone = r.phone", "l.name = r.name AND l.building_id = r.building_id")
# Matches are rare among random pairs; an exact ID number nearly always means the same person.
DETERMINISTIC_RULES = ["l.id_digits = r.id_digits"]
DETERMINISTIC_RECALL = 0.9
# A day of training data may never show a level among matches (nobody in it changed phone, say); real people do.
# Every level keeps at least this m probability, so one disagreement lowers the odds instead of vetoing.
M_FLOOR = 0.005
# Analysts' decisions (review workbooks) replace EM's m only once there are enough of them to beat it.
MIN_LABELS = 200


def train(records: pl.DataFrame, population: pl.DataFrame, out: Path = MODEL_PATH, seed: int = 1,
          labels: pl.DataFrame | None = None, min_labels: int = MIN_LABELS) -> dict[str, Any]:
    """Train on record features and the population's; write the model JSON to `out`. With enough `labels`
    (unique_id_l of a record, unique_id_r of a person, both the same person), m comes from them instead of EM."""
    from splink import Linker

    db_api, (left, right, tf) = splink_tables(
        records=records, population=population, tf_name=term_frequencies(population, "name"))
    linker = Linker([left, right], settings())
    linker.table_management.register_term_frequency_lookup(tf, "name")
    linker.training.estimate_probability_two_random_records_match(DETERMINISTIC_RULES, recall=DETERMINISTIC_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    for block in EM_BLOCKS:
        linker.training.estimate_parameters_using_expectation_maximisation(block)
    labelled = 0 if labels is None else labels.height
    if labelled >= min_labels:
        con = db_api._con  # the backend's own connection: the labels table must live beside the inputs
        con.register("labels_frame", labels.select(
            source_dataset_l=pl.lit("records"), unique_id_l="unique_id_l",
            source_dataset_r=pl.lit("population"), unique_id_r="unique_id_r"))
        con.execute("CREATE TABLE person_labels AS SELECT * FROM labels_frame")
        linker.training.estimate_m_from_pairwise_labels("person_labels")
    model = with_m_floor(linker.misc.save_model_to_json(), M_FLOOR)
    model[TRAINING_KEY] = {
        "trained_at": dt.date.today().isoformat(),
        "records": records.height,
        "population": population.height,
        "em_blocks": list(EM_BLOCKS),
        "labelled_pairs": labelled,
        "m_from": "labels" if labelled >= min_labels else "em",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(model, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    return model


def with_m_floor(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """Raise every non-null level's m probability to at least `floor`, renormalized within its comparison; a
    level never seen among random pairs gets the smallest u its comparison observed (as rare as the rarest)."""
    for comparison in model["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        raised = [max(lvl.get("m_probability") or 0.0, floor) for lvl in levels]
        rarest = min(lvl["u_probability"] for lvl in levels if lvl.get("u_probability"))
        for lvl, m in zip(levels, raised, strict=True):
            lvl["m_probability"] = m / sum(raised)
            lvl["u_probability"] = lvl.get("u_probability") or rarest
    return model


def retrain_model(warehouse: Path, model_dir: Path = MODEL_PATH.parent, min_labels: int = MIN_LABELS) -> Path:
    """The weekly retrain: the latest run's records and population from the warehouse, plus the records of any
    earlier day that analysts labelled (`person_labels`, from the review workbooks), as one training set."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        latest = con.sql("SELECT max(run_date) FROM person_features_records").fetchall()[0][0]
        has_labels = has_table(con, "person_labels")
        labelled = ("SELECT DISTINCT label_run_date AS run_date, CAST(record_id AS VARCHAR) AS unique_id, person_id "
                    "FROM person_labels WHERE is_match" if has_labels else
                    "SELECT NULL::DATE AS run_date, NULL AS unique_id, NULL AS person_id WHERE false")
        # Records keep their day in their id: record ids restart every day.
        records = con.sql(f"""
            SELECT CAST(run_date AS VARCHAR) || ':' || unique_id AS unique_id, * EXCLUDE (run_date, unique_id)
            FROM person_features_records
            WHERE run_date = ? OR (run_date, unique_id) IN (SELECT run_date, unique_id FROM ({labelled}))
        """, params=[latest]).pl()
        labels = con.sql(f"SELECT CAST(run_date AS VARCHAR) || ':' || unique_id AS unique_id_l, "
                         f"person_id AS unique_id_r FROM ({labelled})").pl()
        population = con.sql("SELECT * EXCLUDE (run_date) FROM person_features_population WHERE run_date = ?",
                             params=[latest]).pl()
    finally:
        con.close()
    out = model_dir / MODEL_PATH.name
    train(records, population, out, labels=labels, min_labels=min_labels)
    return out


def train_from_inbox(inbox: Path, reference: Path, out: Path = MODEL_PATH) -> dict[str, Any]:
    """Train from a day's exports and a reference folder, through the same ingest, cleanse and address stages
    as the daily flow (how the committed model was made: see `make model`)."""
    from cleansing.pipeline import cleanse
    from ingest.inbox import read_inbox
    from ingest.mapping import HeaderMapping
    from matching.link import linkage_inputs
    from matching.reference import load_reference

    mapping = HeaderMapping.load()
    standard = cleanse(read_inbox(inbox, mapping).records, mapping.all_fields())
    _, records, population, _ = linkage_inputs(duckdb.connect(), standard, load_reference(reference))
    return train(records, population, out)


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m matching.training", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--warehouse", type=Path, help="retrain from the latest run stored in this warehouse")
    source.add_argument("--inbox", type=Path, help="train from this inbox (with --reference)")
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args(argv)
    if args.warehouse:
        print(retrain_model(args.warehouse, args.out.parent))
    else:
        if args.reference is None:
            parser.error("--inbox needs --reference")
        model = train_from_inbox(args.inbox, args.reference, args.out)
        print(f"{args.out}: trained on {model[TRAINING_KEY]['records']} records, "
              f"{model[TRAINING_KEY]['population']} persons")


if __name__ == "__main__":
    main()
