"""Address resolution end to end on a generated day (issue 10: 15,000 addresses a second): the cleanse step's
address part (the day's address column through `normalize_column` with the register's gazetteer) and the match
step's address stages (exact, fuzzy, token), in addresses a second, beside the parser as it ran before (one process,
nothing kept) measured in the same run.

    .venv/bin/python benchmarks/address_resolution.py --day .bench-cache/data/p1000000-s2026-d100000 \\
        --warehouse COPY.duckdb [--rounds 2]

`--warehouse`: a copy of the warehouse `benchmarks/scale.py` left for that population (its standardized houses and
token model are read; the copy is written to: parses are kept and dropped as the variants go). Parse variants,
alternated `--rounds` times in this process, each from cold parser caches:

- one process, nothing kept: the baseline (how the cleanse parsed before);
- two processes: the values parsed half in a forked process, nothing kept;
- kept, first day: nothing kept yet, so parsed (two processes) and stored in the warehouse;
- kept, seen before: the same addresses again (a later day's that recur, or the houses of a replaced housing file):
  read back from the warehouse.

Then the address stages once on the parsed day. Prints wall and CPU (user + system, this process and its forked
ones); the end-to-end figure is the day's address rows over the parse plus the stages.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from jingzhun.cleansing import address, pipeline
from jingzhun.cleansing.parse_store import PARSES, AddressParses
from jingzhun.ingest.inbox import read_inbox
from jingzhun.ingest.mapping import HeaderMapping
from jingzhun.matching.link import resolve_day, resolve_records, usable_records
from jingzhun.matching.reference import gazetteer, load_reference
from jingzhun.matching.standardized import HOUSE_TABLES, standardize_reference, standardized_key


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(label: str, rows: int, work: Callable[[], pl.DataFrame]) -> tuple[pl.DataFrame, float, float]:
    address._admin_prefix.cache_clear()  # every variant from cold caches, as a day's first parse is
    wall, cpu = time.perf_counter(), _cpu()
    out = work()
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(
        f"  {label:<34} {wall:7.2f} s  CPU {cpu:6.2f} s  {rows / wall:>9,.0f} a second  "
        f"{rows / cpu:>9,.0f} a CPU-second  (load {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return out, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", type=Path, required=True, help="a day folder of benchmarks/scale.py's cache")
    parser.add_argument("--warehouse", type=Path, required=True, help="a copy of that population's warehouse")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    mapping = HeaderMapping.load()
    records = read_inbox(args.day / "inbox", mapping).records
    reference = load_reference(args.day / "reference")
    warehouse = duckdb.connect(str(args.warehouse))
    houses, _ = standardize_reference(warehouse, reference)
    names = gazetteer(houses, reference.grid)
    column = records.select("address")
    rows = column["address"].drop_nulls().len()
    print(f"{rows:,} address rows ({column['address'].n_unique():,} distinct), {houses.height:,} houses")
    pipeline.normalize_column(column.head(10), "address", "address", names)  # the division tables, OpenCC loaded
    parses = AddressParses(warehouse)
    one_process = pipeline.PARALLEL_VALUES

    def parsed(processes: int, kept: AddressParses | None) -> pl.DataFrame:
        pipeline.PARALLEL_VALUES = one_process if processes == 2 else 1 << 62
        return pipeline.normalize_column(column, "address", "address", names, kept)

    parse_s: dict[str, list[tuple[float, float]]] = {}  # (wall, CPU) of each round
    baseline = None
    for round_ in range(args.rounds):
        print(f"parse, round {round_ + 1} of {args.rounds}:")
        warehouse.execute(f"DROP TABLE IF EXISTS {PARSES}")
        for label, processes, kept in (
            ("one process, nothing kept", 1, None),
            ("two processes, nothing kept", 2, None),
            ("kept, first day (two processes)", 2, parses),
            ("kept, seen before", 2, parses),
        ):
            out, wall, cpu = _timed(label, rows, lambda p=processes, k=kept: parsed(p, k))
            parse_s.setdefault(label, []).append((wall, cpu))
            if baseline is None:
                baseline = out
            assert_frame_equal(out, baseline)  # every variant gives the baseline's columns, row for row
    pipeline.PARALLEL_VALUES = one_process

    print("address stages (exact, fuzzy, token), the standardized reference and token model cached:")
    standard = cleansed_day(records, mapping, names, parses)

    def stages() -> pl.DataFrame:
        usable = usable_records(standard, houses, reference.grid)
        resolve_day(
            warehouse,
            resolve_records(warehouse, usable, houses),
            usable,
            houses,
            standardized_key(reference, HOUSE_TABLES),
        )
        return usable

    usable = stages()  # the first call in a process sets up Splink's and the stages' tables: not a day's cost
    _, resolve_s, resolve_cpu = _timed(f"{usable.height:,} usable records", usable.height, stages)
    print("end to end (the parse's best round + the stages):")
    for label, timings in parse_s.items():
        wall, cpu = min(w for w, _ in timings) + resolve_s, min(c for _, c in timings) + resolve_cpu
        print(
            f"  {label:<34} {wall:7.2f} s  CPU {cpu:6.2f} s  {rows / wall:>9,.0f} a second  "
            f"{rows / cpu:>9,.0f} a CPU-second"
        )


def cleansed_day(
    records: pl.DataFrame, mapping: HeaderMapping, names: address.Gazetteer, parses: AddressParses
) -> pl.DataFrame:
    """The day as the cleanse step leaves it (its addresses read back from the kept parses)."""
    return pipeline.cleanse(records, mapping.all_fields(), names, parses)


if __name__ == "__main__":
    main()
