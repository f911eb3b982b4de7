"""How the daily flow scales: days of 10k, 100k and 1M rows against 1M and 10M persons, through the real CLI
(`jingzhun run` in a subprocess), beside two baselines measured in the same run on the same files.

Printed by `make bench-scale` (not in CI, nothing is asserted; hours at full size). Per day and population:

- the first run on a fresh output folder (the reference is standardized and cached in the warehouse) and a
  second run of the same day on the same folder (the cached standardized reference is reused, as on every day
  the reference files have not changed): wall time, the peak memory of the whole process tree (the CLI, Prefect's
  temporary server, the cleanse's forked second process; their proportional set sizes, polled with psutil:
  what a fork shares with its parent counted once), rows a second in total and per step (the warehouse's `step_times`,
  which `jingzhun/core/progress.py` writes), and precision / recall against the generator's truth;
- the baseline the issue names: a generic Splink 5 model (name with term frequencies, ID number by
  Levenshtein, phone exact, address by Jaro-Winkler; blocking on ID, phone, and name with the address's start),
  trained on and linking the same raw rows to the same persons, in a subprocess of its own (time, peak memory);
- a naive loop (pandas `iterrows` + rapidfuzz's `extractOne` over the population, then over the housing
  addresses) on a sample of the day's rows, extrapolated to the whole day and labelled as such.

The generated reference, day and truth are cached in `.bench-cache/` (gitignored), keyed by persons, seed and
day rows; one reference folder serves every day size of a population. Runs write to `.bench-cache/runs/`.

    .venv/bin/python benchmarks/scale.py [--quick] [--persons 1000000 10000000] [--day-rows 10000 100000 1000000]
                                         [--no-baselines] [--naive-sample 40] [--cache DIR] [--again]

`--quick`: days of 10k and 100k rows against 1M persons (about half an hour on 2 shared cores).
`--again`: only the run with the cached reference, on the output folder an earlier benchmark left (its first run is
made when there is none): to measure a change to the daily run in minutes, e.g. the 10k-row day against 1M persons,
`--persons 1000000 --day-rows 10000 --no-baselines --again`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUN_DATE = dt.date(2026, 11, 22)
PERSONS = (1_000_000, 10_000_000)
DAY_ROWS = (10_000, 100_000, 1_000_000)
STEPS = ("ingest", "cleanse", "validate", "match", "screen", "dispatch", "report")


# ---------------------------------------------------------------------------------------------------------------
# Measuring a process tree


@dataclass
class Measured:
    seconds: float
    peak_bytes: int
    cpu_seconds: float  # user + sys of the command and every descendant it waited for
    returncode: int
    stdout: str
    stderr: str


def measured(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run `command`, polling the memory of it and all its children (summed) four times a second: their
    proportional set sizes, so that the pages a forked child shares with its parent (the cleanse's second process
    starts as a copy of a run that may hold gigabytes) are counted once, not once per process."""
    started, cpu_before = time.perf_counter(), _children_cpu()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    peak, done = 0, threading.Event()

    def poll() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.wait(0.25):
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for p in tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += p.memory_full_info().pss
            peak = max(peak, total)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    poller.join()
    return Measured(seconds, peak, _children_cpu() - cpu_before, process.returncode, stdout, stderr)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------------------------
# The cached inputs


def day_folder(cache: Path, persons: int, seed: int, day_rows: int) -> tuple[Path, float | None]:
    """The generated day (inbox, truth.csv, reference), generated once; the generation's seconds when it was
    generated now. The reference does not depend on the day's size (its own random streams), so one copy per
    population is kept and linked into each day's folder."""
    folder = cache / "data" / f"p{persons}-s{seed}-d{day_rows}"
    if (folder / "truth.csv").is_file():
        return folder, None
    reference = cache / "data" / f"p{persons}-s{seed}" / "reference"
    work = folder.with_name(folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    print(f"generating {persons:,} persons and a day of {day_rows:,} rows (cached in {folder}) …", flush=True)
    run = measured(
        [
            str(BIN / "jingzhun"),
            "reference",
            "generate",
            "--out",
            str(work),
            "--persons",
            str(persons),
            "--seed",
            str(seed),
            "--day",
            RUN_DATE.isoformat(),
            "--day-rows",
            str(day_rows),
        ]
    )
    if run.returncode:
        raise SystemExit(f"the generator failed: {run.stderr.strip().splitlines()[-1:]}")
    if reference.is_dir():
        shutil.rmtree(work / "reference")
    else:
        reference.parent.mkdir(parents=True, exist_ok=True)
        (work / "reference").rename(reference)
    (work / "reference").symlink_to(reference.resolve(), target_is_directory=True)
    work.rename(folder)
    return folder, run.seconds


# ---------------------------------------------------------------------------------------------------------------
# jingzhun through its CLI


@dataclass
class FlowRun:
    label: str
    seconds: float
    peak_bytes: int
    cpu_seconds: float
    rows: int
    steps: dict[str, tuple[int | None, float]] = field(default_factory=dict)  # step -> (rows, seconds)
    precision: float | None = None
    recall: float | None = None


def flow_run(label: str, day: Path, out: Path) -> FlowRun:
    from jingzhun.evaluation.metrics import evaluate_run

    run = measured(
        [
            str(BIN / "jingzhun"),
            "run",
            "--inbox",
            str(day / "inbox"),
            "--reference",
            str(day / "reference"),
            "--out",
            str(out),
            "--run-date",
            RUN_DATE.isoformat(),
        ]
    )
    if run.returncode:
        tail = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"jingzhun run failed ({label}): {tail}")
    with duckdb.connect(str(out / "warehouse.duckdb"), read_only=True) as con:
        steps = {
            step: (rows, seconds)
            for step, rows, seconds in con.execute(
                "SELECT step, rows, seconds FROM step_times WHERE run_date = ?", [RUN_DATE]
            ).fetchall()
        }
        rows = con.execute("SELECT count(*) FROM raw_records WHERE run_date = ?", [RUN_DATE]).fetchall()[0][0]
    figures = evaluate_run(out / RUN_DATE.isoformat(), day / "truth.csv")
    return FlowRun(
        label,
        run.seconds,
        run.peak_bytes,
        run.cpu_seconds,
        rows,
        steps,
        figures["person_precision"],
        figures["person_recall"],
    )


# ---------------------------------------------------------------------------------------------------------------
# The baselines (each runs in a subprocess of this script: `--baseline splink|naive DAY`)


def generic_splink(day: Path) -> dict[str, Any]:
    """The generic Splink 5 model the issue names (`linkage_vs_generic_splink.generic_splink`, the baseline of
    every matching benchmark), timed on the day's raw rows against the same persons."""
    from linkage_vs_generic_splink import generic_splink as generic_model

    from jingzhun.evaluation.metrics import evaluate, read_truth

    predicted, seconds = generic_model(day / "inbox", day / "reference")
    figures = evaluate(predicted, read_truth(day / "truth.csv"))
    return {
        "rows": predicted.height,
        "load_s": seconds["load_s"],
        "train_s": seconds["train_s"],
        "link_s": seconds["link_s"],
        "seconds": seconds["load_s"] + seconds["train_s"] + seconds["link_s"],
        "precision": figures["person_precision"],
        "recall": figures["person_recall"],
    }


def naive_loop(day: Path, sample: int) -> dict[str, Any]:
    """What one writes first: pandas rows one at a time, each compared by rapidfuzz with every person (name, ID
    number and phone in one string) and then with every house address. Timed on `sample` rows and extrapolated."""
    import pandas as pd
    from rapidfuzz import fuzz, process

    from jingzhun.ingest.inbox import read_inbox
    from jingzhun.ingest.mapping import HeaderMapping

    records = read_inbox(day / "inbox", HeaderMapping.load()).records
    population = pd.read_csv(day / "reference" / "population.csv", dtype=str).fillna("")
    housing = pd.read_csv(day / "reference" / "housing.csv", dtype=str).fillna("")
    persons = (population["name"] + " " + population["id_number"] + " " + population["phone"]).tolist()
    addresses = housing["address"].tolist()
    rows = records.to_pandas().fillna("").sample(n=min(sample, records.height), random_state=1)
    started = time.perf_counter()
    linked = []
    for _, row in rows.iterrows():
        person = process.extractOne(
            f"{row['name']} {row['id_number']} {row['phone']}", persons, scorer=fuzz.token_sort_ratio, score_cutoff=80
        )
        house = process.extractOne(row["address"], addresses, scorer=fuzz.ratio, score_cutoff=80)
        linked.append((person[2] if person else None, house[2] if house else None))
    seconds = time.perf_counter() - started
    return {
        "rows": records.height,
        "sample": len(rows),
        "sample_s": seconds,
        "seconds": seconds / len(rows) * records.height,
    }


# ---------------------------------------------------------------------------------------------------------------
# The table


def _gb(value: int) -> str:
    return f"{value / 2**30:.1f} GB"


def _rate(rows: int | None, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if rows and seconds > 0 else "—"


def _step(run: FlowRun, step: str) -> str:
    rows, seconds = run.steps.get(step, (None, 0.0))
    return f"{seconds:.0f} s ({_rate(rows, seconds)}/s)"


# Steps that run beside others (the flow submits them): their time is not a part of the wall time of their own.
BESIDE = frozenset({"validate"})


def _rest(run: FlowRun) -> float:
    """What the steps' own times leave of the wall time: Python and Prefect starting (its temporary server), the
    reference checks before any work (`prepare`), the feedback, the reconciliation and the publishing."""
    return run.seconds - sum(run.steps.get(step, (None, 0.0))[1] for step in STEPS if step not in BESIDE)


def _growth(points: list[tuple[int, float]]) -> str:
    """Cost ~ rows^k between consecutive day sizes (k = 1 is linear)."""
    pairs = zip(points, points[1:], strict=False)
    return ", ".join(
        f"{a:,} → {b:,} rows: ×{tb / ta:.1f} time, k = {math.log(tb / ta) / math.log(b / a):.2f}"
        for (a, ta), (b, tb) in pairs
        if ta > 0 and tb > 0
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, nargs="+", default=list(PERSONS))
    parser.add_argument("--day-rows", type=int, nargs="+", default=list(DAY_ROWS))
    parser.add_argument("--quick", action="store_true", help="days of 10k and 100k rows against 1M persons")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-baselines", action="store_true", help="jingzhun only")
    parser.add_argument("--naive-sample", type=int, default=40, help="rows the naive loop is timed on")
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench-cache")
    parser.add_argument(
        "--again",
        action="store_true",
        help="only the run with the cached reference, on the output folder of an earlier benchmark",
    )
    parser.add_argument("--baseline", choices=("splink", "naive"), help=argparse.SUPPRESS)  # the subprocesses
    parser.add_argument("--day", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        figures = generic_splink(args.day) if args.baseline == "splink" else naive_loop(args.day, args.naive_sample)
        print(json.dumps(figures))
        return
    if args.quick:
        args.persons, args.day_rows = [1_000_000], [10_000, 100_000]

    lines = []
    header = (
        "| persons | day rows | run | wall | CPU | peak memory | rows/s | start and checks | "
        + " | ".join(STEPS)
        + " | precision / recall |"
    )
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    growth: dict[tuple[int, str], list[tuple[int, float]]] = {}
    for persons in args.persons:
        for day_rows in args.day_rows:
            day, generated = day_folder(args.cache, persons, args.seed, day_rows)
            if generated is not None:
                print(f"  generated in {generated:.0f} s", flush=True)
            out = args.cache / "runs" / day.name
            labels = ("first", "cached reference")
            if args.again and (out / "warehouse.duckdb").is_file():
                labels = ("cached reference",)
            else:
                shutil.rmtree(out, ignore_errors=True)
            for label in labels:
                print(f"jingzhun run: {persons:,} persons, {day_rows:,} rows, {label} …", flush=True)
                run = flow_run(label, day, out)
                lines.append(
                    f"| {persons:,} | {run.rows:,} | jingzhun, {label} | {run.seconds:.0f} s | {run.cpu_seconds:.0f} s "
                    f"| {_gb(run.peak_bytes)} "
                    f"| {_rate(run.rows, run.seconds)} | {_rest(run):.0f} s | "
                    + " | ".join(_step(run, s) for s in STEPS)
                    + f" | {run.precision:.2%} / {run.recall:.2%} |"
                )
                growth.setdefault((persons, f"wall, {label}"), []).append((run.rows, run.seconds))
                growth.setdefault((persons, f"match, {label}"), []).append((run.rows, run.steps["match"][1]))
                print(lines[-1], flush=True)
            if args.no_baselines:
                continue
            for name in ("splink", "naive"):
                print(f"baseline {name}: {persons:,} persons, {day_rows:,} rows …", flush=True)
                base = measured(
                    [
                        sys.executable,
                        __file__,
                        "--baseline",
                        name,
                        "--day",
                        str(day),
                        "--naive-sample",
                        str(args.naive_sample),
                    ]
                )
                if base.returncode:
                    lines.append(
                        f"| {persons:,} | {day_rows:,} | {name} failed: "
                        f"{(base.stderr.strip().splitlines() or [''])[-1]} |"
                    )
                    continue
                f = json.loads(base.stdout.strip().splitlines()[-1])
                if name == "splink":
                    lines.append(
                        f"| {persons:,} | {f['rows']:,} | generic Splink 5 (baseline) | {base.seconds:.0f} s "
                        f"| {base.cpu_seconds:.0f} s | {_gb(base.peak_bytes)} | {_rate(f['rows'], base.seconds)} "
                        f"| | read {f['load_s']:.0f} s; "
                        f"train {f['train_s']:.0f} s; link {f['link_s']:.0f} s | | | | | | "
                        f"| {f['precision']:.2%} / {f['recall']:.2%} |"
                    )
                    growth.setdefault((persons, "generic Splink"), []).append((f["rows"], base.seconds))
                else:
                    lines.append(
                        f"| {persons:,} | {f['rows']:,} | naive pandas + rapidfuzz loop (baseline), "
                        f"**extrapolated** from {f['sample']} rows in {f['sample_s']:.0f} s | "
                        f"~{f['seconds']:,.0f} s | | {_gb(base.peak_bytes)} | {_rate(f['rows'], f['seconds'])} "
                        "| | | | | | | | | |"
                    )
                print(lines[-1], flush=True)
    print()
    print(
        f"the daily flow through `jingzhun run`, seed {args.seed}, on {os.cpu_count()} cores; wall = the whole "
        "command (Prefect's start included); peak memory = the process tree's proportional set sizes (a fork's "
        "shared pages once); steps from the warehouse's step_times (rows a second in brackets; validate runs beside "
        "match, screen and dispatch)"
    )
    print("\n".join(lines))
    print()
    print("how cost grows with the day's rows (time ∝ rows^k):")
    for (persons, what), points in growth.items():
        if len(points) > 1:
            print(f"  {persons:,} persons, {what}: {_growth(points)}")


if __name__ == "__main__":
    main()
