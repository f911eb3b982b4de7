"""Person linkage and routing, side by side on the same generated day: a generic Splink configuration (default
name and string comparisons on the values as exported, no Chinese-specific cleaning) against jingzhun's matcher.

Prints precision, recall, routing accuracy, review share and time for each. Ground truth is the generator's;
the committed model was trained on another seed (`make model`), so this day is unseen by it.

    .venv/bin/python benchmarks/linkage_vs_generic_splink.py [--persons 100000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from jingzhun.cleansing.pipeline import cleanse
from jingzhun.evaluation.metrics import KEYS, evaluate, read_truth
from jingzhun.ingest.inbox import read_inbox
from jingzhun.ingest.mapping import HeaderMapping
from jingzhun.matching.link import match, resolve_day, resolve_records, usable_records
from jingzhun.matching.person import Thresholds, splink_tables
from jingzhun.matching.reference import Reference, load_reference
from jingzhun.matching.standardized import HOUSE_TABLES, standardize_reference, standardized_key
from jingzhun.synthetic.generate import generate


def _outcome(review: pl.Expr) -> pl.Expr:
    """Only what evaluation counts: whether the record went to review."""
    return pl.when(review).then(pl.lit("review")).otherwise(pl.lit("no_action"))


def jingzhun(inbox: Path, reference: Path) -> tuple[pl.DataFrame, dict[str, float]]:
    """The daily flow's stages. The reference is standardized once and cached (the first match below); the day's
    link time is the second, as on every day the reference has not changed."""
    started = time.perf_counter()
    mapping = HeaderMapping.load()
    standard = cleanse(read_inbox(inbox, mapping).records, mapping.all_fields())
    cleansed = time.perf_counter()
    warehouse, loaded = duckdb.connect(), load_reference(reference)
    match(warehouse, standard, loaded)
    warmed = time.perf_counter()
    matched = match(warehouse, standard, loaded).matched
    done = time.perf_counter()
    predicted = (
        standard.select("record_id", *KEYS)
        .join(matched, on="record_id")
        .select(
            *KEYS, "person_id", "house_id", "committee_code", "subdistrict_code", outcome=_outcome(pl.col("ambiguous"))
        )
    )
    return predicted, {
        "cleanse_s": cleansed - started,
        "reference_s": warmed - cleansed - (done - warmed),
        "link_s": done - warmed,
        **address_resolution(warehouse, standard, loaded),
    }


def address_resolution(
    warehouse: duckdb.DuckDBPyConnection, standard: pl.DataFrame, reference: Reference
) -> dict[str, float]:
    """The address stages alone (exact, fuzzy, token) on the day's usable records, with the standardized reference
    and the token model already in the warehouse: addresses a second (uk_address_matcher's headline figure)."""
    houses, _ = standardize_reference(warehouse, reference)
    started = time.perf_counter()
    usable = usable_records(standard, houses, reference.grid)
    resolve_day(
        warehouse, resolve_records(warehouse, usable, houses), usable, houses, standardized_key(reference, HOUSE_TABLES)
    )
    return {"addresses": usable.height, "address_s": time.perf_counter() - started}


def generic_splink(inbox: Path, reference: Path) -> tuple[pl.DataFrame, dict[str, float]]:
    """Splink as a newcomer would set it up: the exported values as they are, library comparisons; a linked
    record is routed to the person's registered home. The baseline of every matching benchmark."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on

    started = time.perf_counter()
    mapping = HeaderMapping.load()
    records = read_inbox(inbox, mapping).records.filter(pl.col("ingest_issue").is_null())
    ref = load_reference(reference)
    homes = ref.housing.select("house_id", "address", "grid_id").join(
        ref.grid.select("grid_id", "committee_code", "subdistrict_code"), on="grid_id"
    )
    population = ref.population.join(homes, on="house_id").select(
        unique_id="person_id",
        name="name",
        id_number="id_number",
        phone="phone",
        address="address",
        house_id="house_id",
        committee_code="committee_code",
        subdistrict_code="subdistrict_code",
    )
    left = records.select(
        unique_id=pl.col("record_id").cast(pl.Utf8),
        name="name",
        id_number="id_number",
        phone="phone",
        address="address",
        house_id=pl.lit(None, pl.Utf8),
        committee_code=pl.lit(None, pl.Utf8),
        subdistrict_code=pl.lit(None, pl.Utf8),
    )
    with splink_tables(records=left, population=population) as (_, (left_sdf, right_sdf)):
        loaded = time.perf_counter()
        # The model issue 10 names: name with term frequencies, ID number by Levenshtein, phone exact, address by
        # Jaro-Winkler; blocking on ID, phone, and name with the address's start.
        settings = SettingsCreator(
            link_type="link_only",
            comparisons=[
                cl.NameComparison("name").configure(term_frequency_adjustments=True),
                cl.LevenshteinAtThresholds("id_number", [1, 2]),
                cl.ExactMatch("phone"),
                cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("id_number"),
                block_on("phone"),
                block_on("name", "substr(address, 1, 6)"),
            ],
        )
        linker = Linker([left_sdf, right_sdf], settings, log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match([block_on("id_number")], recall=0.9)
        linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_number"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
        trained = time.perf_counter()
        pairs = pl.from_arrow(
            linker.inference.predict_between(left_sdf, right_sdf, threshold_match_probability=0.01)
            .as_duckdbpyrelation()
            .to_arrow_table()
        )
    thresholds = Thresholds.load()
    best = pairs.sort("match_weight", descending=True).unique("unique_id_l", keep="first")
    decided = best.select(
        record_id=pl.col("unique_id_l").cast(pl.Int64),
        person_id=pl.when(pl.col("match_probability") >= thresholds.accept).then(pl.col("unique_id_r")),
        outcome=_outcome(
            (pl.col("match_probability") >= thresholds.review) & (pl.col("match_probability") < thresholds.accept)
        ),
    ).join(
        population.select(
            person_id="unique_id",
            house_id="house_id",
            committee_code="committee_code",
            subdistrict_code="subdistrict_code",
        ),
        on="person_id",
        how="left",
    )
    done = time.perf_counter()
    predicted = records.select("record_id", *KEYS).join(decided, on="record_id", how="left").drop("record_id")
    return predicted.with_columns(pl.col("outcome").fill_null("no_action")), {
        "cleanse_s": 0.0,
        "load_s": loaded - started,
        "train_s": trained - loaded,
        "link_s": done - trained,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--day",
        type=Path,
        help="a generated folder (inbox, reference, truth.csv) to read "
        "instead of generating one, e.g. one `benchmarks/scale.py` cached",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        day = args.day or Path(folder)
        if not args.day:
            generate(day, persons=args.persons, seed=args.seed, day=dt.date(2026, 11, 22))
        truth = read_truth(day / "truth.csv")
        persons = (
            pl.scan_csv(day / "reference" / "population.csv").select(pl.len()).collect().item()
            if (day / "reference" / "population.csv").is_file()
            else args.persons
        )
        rows = []
        for name, run in (("generic Splink (baseline)", generic_splink), ("jingzhun", jingzhun)):
            predicted, seconds = run(day / "inbox", day / "reference")
            figures = evaluate(predicted, truth)
            rows.append(
                {
                    "matcher": name,
                    "precision": figures["person_precision"],
                    "recall": figures["person_recall"],
                    "routing": figures["routing_accuracy"],
                    "review": figures["review_share"],
                    **seconds,
                }
            )
    print(
        f"person linkage on one generated day: {persons:,} persons, {truth.height:,} rows"
        + ("" if args.day else f", seed {args.seed}")
    )
    print(
        f"{'matcher':28} {'precision':>10} {'recall':>8} {'routing':>8} {'review':>7} "
        f"{'cleanse s':>10} {'train s':>8} {'ref. s':>7} {'link s':>7} {'day s':>6}"
    )
    for r in rows:
        day_s = r["cleanse_s"] + r.get("load_s", 0.0) + r.get("train_s", 0.0) + r["link_s"]
        print(
            f"{r['matcher']:28} {r['precision']:>10.4%} {r['recall']:>8.4%} {r['routing']:>8.4%} "
            f"{r['review']:>7.3%} {r['cleanse_s']:>10.1f} {r.get('train_s', 0.0):>8.1f} "
            f"{r.get('reference_s', 0.0):>7.1f} {r['link_s']:>7.1f} {day_s:>6.1f}"
        )
    ours = rows[-1]
    print(
        f"address resolution (exact, fuzzy and token stages, reference and token model cached): "
        f"{ours['addresses']:,} addresses in {ours['address_s']:.1f} s, "
        f"{ours['addresses'] / max(ours['address_s'], 1e-9):,.0f} addresses a second"
    )
    print(
        "day s = what a day costs from exported files to decisions: the baseline has no model and trains on the "
        "day; jingzhun loads the committed model (trained on another seed, `make model`) and its standardized "
        "reference from the warehouse (ref. s: the one-off cost when the reference files change)."
    )


if __name__ == "__main__":
    main()
