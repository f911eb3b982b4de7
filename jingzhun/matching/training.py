"""Training the person-linkage model on the district's own data, and the retrain that makes a new version.

Estimation is Splink's, never hand-written; this module only says on what it runs:
- u (how often a level occurs between two different persons) by random sampling of pairs of the day's records and
  the district's own population register: its surnames, shared phones and house sizes, not the generator's;
- m (how often a level occurs for the same person) by expectation maximisation on the day's records, starting
  from the active model (the builtin one is only the first starting point): a district where many live away from
  their registered home (人户分离) teaches the model that a differing address says little;
- m also from the analysts' labelled pairs (review decisions, staff's feedback on dispatched cases) once there are
  enough of them: Splink takes the median of the sessions' estimates of each level.

A trained model is a new version in the data folder (`jingzhun/matching/versions.py`), never a file of the code
checkout. It becomes active only when its precision and recall on the labelled pairs and on a held-out synthetic day are
not worse than the active model's (`jingzhun/rules/thresholds.yaml`, `model`), or when an analyst promotes it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from jingzhun.core import rules
from jingzhun.core.warehouse import has_table, open_duckdb
from jingzhun.matching import versions
from jingzhun.matching.comparisons import settings
from jingzhun.matching.features import with_holders
from jingzhun.matching.person import (
    TF_COLUMNS,
    Thresholds,
    decide_persons,
    score_pairs,
    splink_tables,
    term_frequencies,
)

# EM needs blocks where most pairs are matches; each session leaves its own blocking columns' m untouched.
EM_BLOCKS = ("l.id_digits = r.id_digits", "l.phone = r.phone", "l.name = r.name AND l.building_id = r.building_id")
# Matches are rare among random pairs; these agreements nearly always mean the same person, and find most of them.
DETERMINISTIC_RULES = ["l.id_digits = r.id_digits", "l.phone = r.phone AND l.name = r.name"]
DETERMINISTIC_RECALL = 0.9
# A day of training data may never show a level among matches (nobody in it changed phone, say); real people do.
# Every level keeps at least this m probability, so one disagreement lowers the odds instead of vetoing.
M_FLOOR = 0.005
# Labelled pairs join EM's estimates of m only once there are enough of them to say something.
MIN_LABELS = 200
U_PAIRS = 5e6


@dataclass(frozen=True)
class TrainingData:
    records: pl.DataFrame  # person features of the records, unique_id as text
    population: pl.DataFrame  # person features of the population, unique_id = person_id
    labels: pl.DataFrame  # unique_id_l (a record), unique_id_r (a person), is_match: analysts' and staff's word
    described: str  # where the data came from, for the model's notes

    def fingerprint(self) -> str:
        """sha256 of the training data's content: two models with equal fingerprints saw the same data."""
        digest = hashlib.sha256()
        for frame in (self.records, self.population, self.labels):
            ordered = frame.select(sorted(frame.columns)).sort(pl.all())
            for offset in range(0, max(ordered.height, 1), 100_000):  # bounded memory at 10M persons
                digest.update(ordered.slice(offset, 100_000).write_csv().encode("utf-8"))
        return digest.hexdigest()


def train(
    data: TrainingData, start: versions.Model | None = None, seed: int = 1, min_labels: int = MIN_LABELS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splink's settings with trained parameters, and the training notes. EM starts from `start`'s m."""
    from splink import Linker

    start = start or versions.builtin()
    with splink_tables(
        records=data.records,
        population=data.population,
        **{f"tf_{column}": term_frequencies(data.population, column) for column in TF_COLUMNS},
    ) as (db_api, (left, right, *tfs)):
        linker = Linker(
            [left, right], _with_u(_starting_from(settings(), start.settings), data, seed), log_level=logging.WARNING
        )
        for column, tf in zip(TF_COLUMNS, tfs, strict=True):
            linker.table_management.register_term_frequency_lookup(tf, column)
        linker.training.estimate_probability_two_random_records_match(DETERMINISTIC_RULES, recall=DETERMINISTIC_RECALL)
        for block in EM_BLOCKS:
            linker.training.estimate_parameters_using_expectation_maximisation(block)
        matches = data.labels.filter(pl.col("is_match"))
        if matches.height >= min_labels:
            con = db_api._con  # the backend's own connection: the labels table must live beside the inputs
            con.register(
                "labels_frame",
                matches.select(
                    source_dataset_l=pl.lit("records"),
                    unique_id_l="unique_id_l",
                    source_dataset_r=pl.lit("population"),
                    unique_id_r="unique_id_r",
                ),
            )
            con.execute("CREATE TABLE person_labels AS SELECT * FROM labels_frame")
            linker.training.estimate_m_from_pairwise_labels("person_labels")
        trained = with_m_floor(linker.misc.save_model_to_json(), M_FLOOR)
    notes = {
        "trained_at": dt.datetime.now().isoformat(timespec="seconds"),
        "trained_on": data.described,
        "fingerprint": data.fingerprint(),
        "records": data.records.height,
        "population": data.population.height,
        "started_from": start.version,
        "em_blocks": list(EM_BLOCKS),
        "labelled_pairs": matches.height,
        "m_from": "em+labels" if matches.height >= min_labels else "em",
    }
    return trained, notes


def _starting_from(fresh: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
    """`fresh` settings (the code's comparisons) with the m and u of `start` where a level of the same label exists:
    EM's starting point is what the active model learnt, not Splink's defaults."""
    fresh = copy.deepcopy(fresh)
    known = {
        (c["output_column_name"], lvl.get("label_for_charts")): lvl
        for c in start.get("comparisons", [])
        for lvl in c["comparison_levels"]
    }
    for comparison in fresh["comparisons"]:
        for level in comparison["comparison_levels"]:
            learnt = known.get((comparison["output_column_name"], level.get("label_for_charts")), {})
            for key in ("m_probability", "u_probability"):
                if learnt.get(key) is not None:
                    level[key] = learnt[key]
    return fresh


def _with_u(model: dict[str, Any], data: TrainingData, seed: int) -> dict[str, Any]:
    """`model` with u estimated by random sampling, from pairs of the population register itself where a level
    occurs there: two rows of the register are two different persons, while a record and a random person are the
    same person once in N (the district's own surnames, shared phones and household sizes are in both).
    Levels the register never shows take u from records × population: a title instead of a name (陈先生), and an
    equal ID number or a phone only one person has, where that estimate is cautious (a record is its own person
    once in N, so these alone never decide; the exact stage's rules do). Levels neither shows keep `model`'s."""
    from splink import Linker

    unset = copy.deepcopy(model)  # samplers must not echo the starting u back for a level they never saw
    for comparison in unset["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("m_probability", None)
            level.pop("u_probability", None)
    estimates = []
    for link_type, tables in (
        ("link_only", {"records": data.records, "population": data.population}),
        ("dedupe_only", {"population": data.population}),
    ):
        with splink_tables(**tables) as (_, registered):
            # A level a sampler never sees is expected (the register has no titles): not worth a warning.
            sampler = Linker(
                registered if len(registered) > 1 else registered[0],
                {**unset, "link_type": link_type},
                log_level=logging.ERROR,
            )
            sampler.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=seed)
            estimates.append(_u_by_level(sampler.misc.save_model_to_json()))
    from_pairs, from_register = estimates
    model = copy.deepcopy(model)
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            key = (comparison["output_column_name"], level.get("label_for_charts"))
            u = from_register.get(key) or from_pairs.get(key)
            if u is not None and not level.get("is_null_level"):
                level["u_probability"] = u
    return model


def _u_by_level(model: dict[str, Any]) -> dict[tuple[str, str], float]:
    return {
        (c["output_column_name"], lvl.get("label_for_charts")): lvl["u_probability"]
        for c in model["comparisons"]
        for lvl in c["comparison_levels"]
        if lvl.get("u_probability")
    }


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


# Measuring a model -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """Records with known persons: `truth` has unique_id (a record) and person_id (null: nobody in the population)
    and, for labelled pairs, is_match (the pair is, or is not, the same person)."""

    name: str
    records: pl.DataFrame
    population: pl.DataFrame
    truth: pl.DataFrame


def link(records: pl.DataFrame, population: pl.DataFrame, model: dict[str, Any]) -> pl.DataFrame:
    """unique_id → linked person_id (null when none), as the daily run decides."""
    if records.is_empty():
        return pl.DataFrame(schema={"unique_id": pl.Utf8, "linked": pl.Utf8})
    decided = decide_persons(score_pairs(records, population, model), Thresholds.load())
    return records.select("unique_id").join(
        decided.select(unique_id="record_key", linked="person_id"), on="unique_id", how="left"
    )


def measure(model: dict[str, Any], benchmark: Benchmark) -> dict[str, Any]:
    """Precision (links that are right, of the links whose rightness is known) and recall (records linked to their
    person, of the records whose person is known)."""
    linked = link(benchmark.records, benchmark.population, model)
    truth = (
        benchmark.truth
        if "is_match" in benchmark.truth.columns
        else benchmark.truth.with_columns(is_match=pl.col("person_id").is_not_null())
    )
    known = truth.join(linked, on="unique_id", how="left")
    right = known.filter(pl.col("is_match") & (pl.col("linked") == pl.col("person_id")))["unique_id"].n_unique()
    # A link is wrong when analysts said the pair is not the same person, or named another person for the record.
    wrong = known.filter(
        pl.col("linked").is_not_null()
        & (
            (~pl.col("is_match") & (pl.col("linked") == pl.col("person_id")))
            | (pl.col("is_match") & (pl.col("linked") != pl.col("person_id")))
            | (pl.col("person_id").is_null() & pl.col("linked").is_not_null())
        )
    )["unique_id"].n_unique()
    persons = truth.filter(pl.col("is_match") & pl.col("person_id").is_not_null())["unique_id"].n_unique()
    return {
        "records": known["unique_id"].n_unique(),
        "precision": right / (right + wrong) if right + wrong else None,
        "recall": right / persons if persons else None,
    }


def holdout_day(folder: Path, persons: int, seed: int) -> Benchmark:
    """A synthetic day no model was trained on (its own seed), through the daily run's stages."""
    from jingzhun.synthetic.generate import generate

    generate(folder, persons=persons, seed=seed)
    records, population, standard = _linkage_features(folder / "inbox", folder / "reference")
    truth = pl.read_csv(folder / "truth.csv", infer_schema=False).with_columns(pl.col("source_row").cast(pl.Int64))
    keyed = standard.select(
        pl.col("record_id").cast(pl.Utf8).alias("unique_id"), "source", "source_file", "source_row"
    ).join(truth, on=["source", "source_file", "source_row"])
    return Benchmark(
        "holdout",
        records,
        population,
        records.select("unique_id").join(keyed.select("unique_id", "person_id"), on="unique_id"),
    )


def _linkage_features(inbox: Path, reference: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Record and population features of a day's exports, through the daily run's ingest, cleanse and address
    stages; and the standardized records."""
    from jingzhun.cleansing.pipeline import cleanse
    from jingzhun.ingest.inbox import read_inbox
    from jingzhun.ingest.mapping import HeaderMapping
    from jingzhun.matching.link import linkage_inputs
    from jingzhun.matching.reference import load_reference

    mapping = HeaderMapping.load()
    standard = cleanse(read_inbox(inbox, mapping).records, mapping.all_fields())
    _, records, population = linkage_inputs(open_duckdb(), standard, load_reference(reference))
    return records, population.all(), standard


def labelled_benchmark(data: TrainingData) -> Benchmark:
    return Benchmark(
        "labels",
        data.records.join(data.labels.select(unique_id="unique_id_l").unique(), on="unique_id"),
        data.population,
        data.labels.select(unique_id="unique_id_l", person_id="unique_id_r", is_match="is_match"),
    )


# The retrain -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retrained:
    model: versions.Model
    activated: bool
    reason: str


def offer(
    data: TrainingData, models: Path, min_labels: int = MIN_LABELS, holdout_persons: int | None = None
) -> Retrained:
    """Train a new version from `data`, starting from the active model; measure both on the labelled pairs and on
    the held-out synthetic day; keep the new version, and activate it when it is not worse."""
    config = rules.load("thresholds")["model"]
    current = versions.active(models)
    trained, notes = train(data, current, min_labels=min_labels)
    with tempfile.TemporaryDirectory(prefix="jingzhun-holdout-") as folder:
        benchmarks = [
            labelled_benchmark(data),
            holdout_day(Path(folder), holdout_persons or config["holdout_persons"], config["holdout_seed"]),
        ]
        figures = {b.name: measure(trained, b) for b in benchmarks}
        baseline = {b.name: measure(current.settings, b) for b in benchmarks}
    worse = [
        f"{name} {figure} {figures[name][figure]:.4f} < {baseline[name][figure]:.4f}"
        for name in figures
        for figure in ("precision", "recall")
        if figures[name][figure] is not None
        and baseline[name][figure] is not None
        and figures[name][figure] < baseline[name][figure] - config["max_drop"]
    ]
    model = versions.save(
        models,
        trained,
        {**notes, "figures": figures, "compared_with": {"version": current.version, "figures": baseline}},
    )
    if worse:
        return Retrained(model, False, f"not activated, worse than {current.version}: {'; '.join(worse)}")
    reason = f"not worse than {current.version} on labelled pairs and the held-out day"
    versions.activate(models, model.version, "retrain", reason)
    return Retrained(model, True, reason)


def warehouse_data(warehouse: Path) -> TrainingData:
    """The latest run's records and population from the warehouse, plus the records of any earlier day that
    analysts labelled (`person_labels`, from the review workbooks) or staff answered (`feedback_labels`: the
    linked person confirmed, or the wrong one)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        latest = con.sql("SELECT max(run_date) FROM person_features_records").fetchall()[0][0]
        sources = []
        if has_table(con, "person_labels"):
            sources.append(
                "SELECT label_run_date AS run_date, CAST(record_id AS VARCHAR) AS unique_id, person_id, "
                "is_match FROM person_labels"
            )
        if has_table(con, "feedback_labels"):
            sources.append("""
                SELECT f.dispatched_on, CAST(s.record_id AS VARCHAR), f.person_id, f.label = 'confirmed'
                FROM feedback_labels f JOIN standard_records s
                  ON s.run_date = f.dispatched_on AND s.source = f.source AND s.source_file = f.source_file
                 AND s.source_row = f.source_row
                WHERE f.person_id IS NOT NULL AND f.label IN ('confirmed', 'wrong_person')""")
        no_labels = "SELECT NULL::DATE AS run_date, NULL AS unique_id, NULL AS person_id, NULL::BOOLEAN AS is_match"
        labelled = " UNION ".join(sources) or f"{no_labels} WHERE false"
        # Records keep their day in their id: record ids restart every day.
        records = con.sql(
            f"""
            SELECT CAST(run_date AS VARCHAR) || ':' || unique_id AS unique_id, * EXCLUDE (run_date, unique_id)
            FROM person_features_records
            WHERE run_date = ? OR (run_date, unique_id) IN (SELECT run_date, unique_id FROM ({labelled}))
        """,
            params=[latest],
        ).pl()
        labels = con.sql(
            f"SELECT DISTINCT CAST(run_date AS VARCHAR) || ':' || unique_id AS unique_id_l, "
            f"person_id AS unique_id_r, is_match FROM ({labelled})"
        ).pl()
        population = con.sql(
            "SELECT * EXCLUDE (run_date) FROM person_features_population WHERE run_date = ?", params=[latest]
        ).pl()
    finally:
        con.close()
    # Records stored before a feature existed get it now: the check of their ID is unknown, holders are counted.
    if "id_valid" in records.columns:
        records = records.with_columns(pl.col("id_valid").fill_null(False))
    records, population = with_holders(records, population), with_holders(population, population)
    return TrainingData(records, population, labels, f"warehouse {warehouse}, run of {latest}")


def retrain_model(
    warehouse: Path, models: Path | None = None, min_labels: int = MIN_LABELS, holdout_persons: int | None = None
) -> Retrained:
    """The weekly retrain: a new version from the warehouse's latest run and labels, into `models` (by default
    the `models/` folder beside the warehouse)."""
    return offer(
        warehouse_data(warehouse), models or versions.models_dir(Path(warehouse).parent), min_labels, holdout_persons
    )


def inbox_data(inbox: Path, reference: Path) -> TrainingData:
    """A day's exports and a reference folder, through the daily run's stages: the first day's training data."""
    records, population, _ = _linkage_features(inbox, reference)
    return TrainingData(
        records,
        population,
        pl.DataFrame(schema={"unique_id_l": pl.Utf8, "unique_id_r": pl.Utf8, "is_match": pl.Boolean}),
        f"inbox {inbox}, reference {reference}",
    )


def main(argv: list[str] | None = None) -> None:
    """The developers' command behind `make model`: trains the builtin model file committed with the code."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m jingzhun.matching.training", description=main.__doc__)
    parser.add_argument("--inbox", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=versions.BUILTIN_PATH)
    args = parser.parse_args(argv)
    trained, notes = train(inbox_data(args.inbox, args.reference))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({**trained, versions.TRAINING_KEY: notes}, ensure_ascii=False, indent=2, sort_keys=True),
        encoding="utf-8",
    )
    print(f"{args.out}: trained on {notes['records']} records, {notes['population']} persons")


if __name__ == "__main__":
    main()
