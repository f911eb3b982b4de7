"""The person stage alone (issue 10): CPU and wall time of the day's blocking (`Population.blocked_day`), of each
statement scoring the pairs of `--at-once` records (`DayBlocks.scores`, Splink's SQL in the warehouse) and of reading
and deciding its batches of `--batch` records (`Scored.of`), on (a copy of) the warehouse a run of
`benchmarks/scale.py` left: the day's stored record features (`person_features_records`) against the stored
population's features.

    .venv/bin/python benchmarks/person_stage.py WAREHOUSE [--model A.json B.json] [--batch 25000]
                                                [--at-once 250000] [--batches 0] [--rounds 2] [--out DIR]

Each model (default: the builtin one) is timed in a process of its own, the models alternated `--rounds` times, so
that a change to a model's SQL (its levels' conditions) is measured against the old one in the same session, under
the same load. `--at-once 25000` scores as the stage did before its statements took 250,000 records. `--out`: every
round's kept pairs and decisions as Parquet, and whether they are equal, row for row, to the first model's.
CPU = user + sys of the process (DuckDB's threads too).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import psutil


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one(warehouse: Path, model: Path, batch: int, at_once: int, batches: int, out: Path | None) -> dict:
    """The person stage of the day in `warehouse` with `model`, timed step by step in this process."""
    from jingzhun.matching import link, standardized
    from jingzhun.matching.person import Thresholds, load_model

    con = duckdb.connect(str(warehouse))
    [(fingerprint,)] = con.execute(f"SELECT DISTINCT reference_hash FROM {standardized.POPULATION_FEATURES}").fetchall()
    population = link.Population(con, fingerprint)
    records = con.sql(
        "SELECT * EXCLUDE (run_date) FROM person_features_records "
        "WHERE run_date = (SELECT max(run_date) FROM person_features_records) ORDER BY unique_id"
    ).pl()
    settings, thresholds = load_model(model), Thresholds.load()
    records = records.sort("unique_id")  # as `scored_in_batches` orders them
    groups = list(records.iter_slices(at_once))[: batches or None]
    figures: dict = {"records": records.height, "batches": []}
    start_cpu, start_wall = cpu(), time.perf_counter()
    with population.blocked_day(records, settings) as day:
        figures["blocking"] = (cpu() - start_cpu, time.perf_counter() - start_wall)
        [(pairs,)] = con.execute("SELECT count(*) FROM day_candidates").fetchall()
        figures["day_pairs"] = pairs
        kept = []
        for group in groups:
            c0, w0 = cpu(), time.perf_counter()
            with day.scores(group) as scored:
                c1, w1 = cpu(), time.perf_counter()
                read = decide = 0.0
                for part in group.iter_slices(batch):
                    c2 = cpu()
                    pairs_of_part = scored(part)
                    c3 = cpu()
                    kept.append(link.Scored.of(pairs_of_part, thresholds))
                    read, decide = read + c3 - c2, decide + cpu() - c3
            figures["batches"].append({"pairs": None, "score": (c1 - c0, w1 - w0), "read": read, "decide": decide})
    figures["stage"] = (cpu() - start_cpu, time.perf_counter() - start_wall)
    figures["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if out is not None:
        whole = link.Scored.concat(kept)
        whole.candidates.write_parquet(out / "candidates.parquet")
        whole.persons.sort("record_id").write_parquet(out / "persons.parquet")
    return figures


def equal(a: Path, b: Path) -> bool:
    return all(
        pl.read_parquet(a / f"{name}.parquet").equals(pl.read_parquet(b / f"{name}.parquet"))
        for name in ("candidates", "persons")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--model", type=Path, nargs="+", default=None)
    parser.add_argument("--batch", type=int, default=25_000)
    parser.add_argument("--at-once", type=int, default=250_000, help="records scored in one statement")
    parser.add_argument("--batches", type=int, default=0, help="score only the first N statements (0: all)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.warehouse, args.model[0], args.batch, args.at_once, args.batches, args.out)))
        return
    from jingzhun.matching.person import MODEL_PATH

    models = args.model or [MODEL_PATH]
    for round_ in range(1, args.rounds + 1):
        for number, model in enumerate(models):
            out = None
            if args.out is not None:
                out = args.out / f"r{round_}-m{number}"
                out.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, __file__, str(args.warehouse), "--one", "--model", str(model)]
            command += ["--batch", str(args.batch), "--at-once", str(args.at_once), "--batches", str(args.batches)]
            command += ["--out", str(out)] if out is not None else []
            load = psutil.getloadavg()[0]
            figures = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            batches = figures["batches"]
            score = sum(b["score"][0] for b in batches)
            per_batch = ", ".join(f"{b['score'][0]:.2f}" for b in batches)
            decide = sum(b["read"] + b["decide"] for b in batches)
            print(
                f"round {round_} {model.name}: load {load:.1f}; {figures['records']:,} records, "
                f"{figures['day_pairs']:,} pairs; blocking {figures['blocking'][0]:.1f} s CPU "
                f"({figures['blocking'][1]:.1f} s wall); {len(batches)} statements: scoring {score:.1f} s CPU "
                f"(per statement {per_batch}), reading and deciding {decide:.1f} s CPU; "
                f"stage {figures['stage'][0]:.1f} s CPU / {figures['stage'][1]:.1f} s wall; "
                f"peak {figures['peak_rss_gb']:.2f} GB"
                + (f"; equal to the first model's: {equal(args.out / 'r1-m0', out)}" if out is not None else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
