"""What the match stage's parts cost, one after another in this process, beside the stage in one piece on the same
day: the figures behind the README's estimate of a province on a Dask cluster ("Past one machine").

    .venv/bin/python benchmarks/match_partitions.py [--persons N] [--day-rows N] [--width W]

Generates a district (cached under $TMPDIR), cleanses its day, then runs the match stage whole and split into
`width` address parts and 7 x `width` person parts (the model's seven blocking rules), timing every part, and
checks that both give the same matches. Small by default (20,000 persons, 2,000 rows): no heavy runs here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import jingzhun.flows  # noqa: F401  (the product's Prefect settings)

DAY = dt.date(2026, 11, 22)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--day-rows", type=int, default=2_000)
    parser.add_argument("--width", type=int, default=2)
    args = parser.parse_args()

    from jingzhun.core.run import Run
    from jingzhun.core.warehouse import connect, read_run
    from jingzhun.flows import steps
    from jingzhun.matching import partitions as split
    from jingzhun.matching.link import match
    from jingzhun.matching.reference import load_reference
    from jingzhun.synthetic.generate import generate
    from jingzhun.synthetic.settings import Settings

    base = Path(tempfile.gettempdir()) / f"jingzhun-bench-parts-{args.persons}-{args.day_rows}"
    run = Run(
        inbox=base / "district" / "inbox", reference=base / "district" / "reference", out=base / "out", run_date=DAY
    )
    if not run.warehouse.exists():
        generate(base / "district", persons=args.persons, seed=3, day=DAY, settings=Settings(day_rows=args.day_rows))
        steps.prepare(run)
        steps.ingest(run)
        steps.cleanse(run)  # standardizes the reference once and caches it in the warehouse

    timings: list[tuple[str, float, int]] = []

    def timed_runner(fn, parts):
        results = []
        for part in parts:
            start = time.perf_counter()
            result = fn(part)
            timings.append((str(part), time.perf_counter() - start, 0 if result is None else result.height))
            results.append(result)
        return results

    reference = load_reference(run.reference)
    with connect(run.warehouse) as con:
        standard = read_run(con, "standard_records", DAY)
        match(con, standard, reference)  # warm: the standardized reference read back from the cache
        start = time.perf_counter()
        whole = match(con, standard, reference)
        whole_seconds = time.perf_counter() - start
        start = time.perf_counter()
        parted = match(
            con,
            standard,
            reference,
            partitions=split.Partitions(run=timed_runner, width=args.width, folder=base / "parts"),
        )
        parted_seconds = time.perf_counter() - start

    same = parted.matched.sort("record_id").equals(whole.matched.sort("record_id"))
    print(f"{args.persons:,} persons, {standard.height:,} rows, width {args.width}")
    print(
        f"match stage whole: {whole_seconds:.1f} s; in parts, one after another: {parted_seconds:.1f} s; "
        f"same matches: {same}"
    )
    print(f"{'part':<28}{'seconds':>9}{'rows out':>10}")
    for name, seconds, rows in timings:
        print(f"{name:<28}{seconds:>9.2f}{rows:>10,}")
    address = [s for n, s, _ in timings if n.startswith("addresses")]
    person = [s for n, s, _ in timings if n.startswith("persons")]
    print(
        f"address parts: {len(address)}, {sum(address):.1f} s in all; person parts: {len(person)}, "
        f"{sum(person):.1f} s in all, {min(person):.2f}–{max(person):.2f} s each"
    )
    print(
        f"in the stage around the parts (reference, features, files, decisions, case keys): "
        f"{parted_seconds - sum(address) - sum(person):.1f} s"
    )
    if not same:
        raise SystemExit("the parts did not give the matches of the whole stage")


if __name__ == "__main__":
    main()
