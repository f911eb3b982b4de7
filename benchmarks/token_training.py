"""The token address model's training on a sample of the register (issue 10): time, CPU and peak memory of
`train_address_tokens` on at most H houses and R records, and how the token stage's decisions differ from those of
the model trained on all houses and records.

Reads (a copy of) the warehouse a first run of `benchmarks/scale.py` left: the houses' token tables of its register
and the day's records. The records are the day's open ones (not resolved to a house by the exact and fuzzy stages,
as far as `match_results` tells) or, with `--all-records`, every row with an address (a stand-in for a larger day's
open records). Each training runs in a process of its own (`--one`), so its peak is its own.

    .venv/bin/python benchmarks/token_training.py WAREHOUSE [--houses 0 200000 100000] [--records 0] [--all-records]

0 means all (the training as it was before the caps). Printed: a row per (houses, records) and the decisions that
differ from the first row's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import psutil

from jingzhun.matching.address import TOKEN_COLUMNS

DECIDED = ("token_level", "house_id", "building_id", "committee_code")


def records_of(con: duckdb.DuckDBPyConnection, all_records: bool) -> pl.DataFrame:
    """The day's records as the token stage takes them (no written subdistrict or exact committee: the same for
    every model compared)."""
    still_open = "" if all_records else "AND (m.address_method IS NULL OR m.address_method NOT LIKE 'house%')"
    return con.sql(f"""
        SELECT s.record_id, {", ".join("s." + c for c in TOKEN_COLUMNS)},
               NULL::VARCHAR AS written_subdistrict_code, NULL::VARCHAR AS committee_code
        FROM standard_records s JOIN match_results m USING (record_id)
        WHERE s.address IS NOT NULL {still_open} ORDER BY record_id""").pl()


def one(warehouse: Path, houses_cap: int, records_cap: int, all_records: bool, out: Path) -> dict[str, float]:
    """Train on the sample in this process, measuring only the training; decide the day with the model into `out`."""
    from jingzhun.core import rules
    from jingzhun.matching import address

    con = duckdb.connect(str(warehouse))
    key = con.execute("SELECT register_key FROM token_words LIMIT 1").fetchall()[0][0]
    register = con.execute("SELECT count(*) FROM token_houses WHERE register_key = ?", [key]).fetchall()[0][0]
    records = records_of(con, all_records)
    config = {
        **rules.load("thresholds")["address"]["tokens"],
        "train_max_houses": houses_cap or register,
        "train_max_records": records_cap or records.height,
    }
    left = address.record_tokens(con, records, register, config, key)
    process, peak, stop = psutil.Process(), [0], threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], process.memory_info().rss)

    threading.Thread(target=poll, daemon=True).start()
    started, cpu = time.perf_counter(), process.cpu_times()
    settings = address.train_address_tokens(
        address.sampled(con, left, config["train_max_records"], config["seed"]),
        address.house_tokens(con, key, sample=(config["train_max_houses"], config["seed"])),
        config,
        register_houses=register,
    )
    seconds, after = time.perf_counter() - started, process.cpu_times()
    stop.set()
    pairs = address.predict_address_tokens(left, address.house_tokens(con, key, left), settings)
    houses = con.sql(
        "SELECT house_id, building_id, grid_id, committee_code, NULL::VARCHAR AS subdistrict_code FROM reference_houses"
    ).pl()
    address.decide_address_tokens(pairs, records, houses, config).write_parquet(out)
    return {
        "records": records.height,
        "houses": register,
        "seconds": seconds,
        "cpu": after.user + after.system - cpu.user - cpu.system,
        "peak_gb": max(peak[0], 1) / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--houses", type=int, nargs="+", default=[0, 200_000, 100_000])
    parser.add_argument("--records", type=int, nargs="+", default=[0])
    parser.add_argument("--all-records", action="store_true")
    parser.add_argument("--one", nargs=3, metavar=("HOUSES", "RECORDS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.warehouse, int(args.one[0]), int(args.one[1]), args.all_records, Path(args.one[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        first: pl.DataFrame | None = None
        print(
            "| records | houses trained on | records trained on | wall | CPU | peak | decisions | differ from first |"
        )
        for houses in args.houses:
            for records in args.records:
                copy, out = Path(tmp) / "warehouse.duckdb", Path(tmp) / f"decided-{houses}-{records}.parquet"
                shutil.copy(args.warehouse, copy)  # the training writes temporary tables; the original stays as it is
                done = subprocess.run(
                    [sys.executable, __file__, str(copy), "--one", str(houses), str(records), str(out)]
                    + (["--all-records"] if args.all_records else []),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                f = json.loads(done.stdout.strip().splitlines()[-1])
                decided = pl.read_parquet(out)
                first = decided if first is None else first
                differ = (
                    first.join(decided, on="record_id", how="full", suffix="_o", coalesce=True)
                    .filter(pl.any_horizontal([~pl.col(c).eq_missing(pl.col(f"{c}_o")) for c in DECIDED]))
                    .height
                )
                levels = ", ".join(f"{n} {lvl}" for lvl, n in decided["token_level"].value_counts().iter_rows())
                trained = min(houses or f["houses"], f["houses"]), min(records or f["records"], f["records"])
                print(
                    f"| {f['records']:,} | {trained[0]:,} | {trained[1]:,} "
                    f"| {f['seconds']:.0f} s | {f['cpu']:.0f} s | {f['peak_gb']:.1f} GB | {levels} | {differ} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
