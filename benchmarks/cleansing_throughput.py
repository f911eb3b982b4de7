"""How fast cleansing runs: address parses a second, and one source of 1 million rows ingested and cleansed.

Prints figures, asserts nothing (`make bench`). Inputs come from the synthetic generator, never real data:

- address parses: the distinct addresses of a generated district (its housing table and the messy inbox
  addresses), each parsed once with a cold parser; then a column with repeats, as a day's export has them,
  through `normalize_column` (its repeat cache parses every distinct value once).
- 1 million rows: the generator gives a few thousand health rows for a district; 1 million are made by sampling
  them with variation (another room and floor in the address, other last digits of the phone, a few addresses
  in traditional characters) and written as one UTF-8 CSV with BOM; about one address in eight is distinct.
  Ingest (`read_inbox`) plus cleanse (`cleanse`) is timed on it.
- the baseline: the same normalizers applied naively, one row at a time with `DataFrame.apply(axis=1)` on a
  pandas frame, on a sample of the same rows, extrapolated to 1 million rows (labelled as such).

Run: `.venv/bin/python benchmarks/cleansing_throughput.py [--rows N] [--baseline-sample N]`.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from jingzhun.cleansing import address as address_module  # noqa: E402
from jingzhun.cleansing.pipeline import cleanse, normalize_column  # noqa: E402
from jingzhun.ingest.inbox import read_inbox  # noqa: E402
from jingzhun.ingest.mapping import HeaderMapping  # noqa: E402
from jingzhun.synthetic.generate import generate  # noqa: E402

PUDONG = "310115"
HEALTH_HEADER = ["申报时间", "姓名", "证件号码", "手机号码", "居住地址", "近14天旅居地", "是否发热", "健康码"]
TRADITIONAL = str.maketrans("区镇号路弄门", "區鎮號路衖門")


def _district(folder: Path, persons: int) -> tuple[list[str], list[dict[str, str | None]]]:
    """Distinct addresses and the health records of a generated district."""
    generate(folder, persons=persons, seed=7)
    housing = pl.read_csv(folder / "reference" / "housing.csv", infer_schema=False)
    records = read_inbox(folder / "inbox", HeaderMapping.load()).records
    health = records.filter((pl.col("source") == "health") & pl.col("ingest_issue").is_null())
    addresses = [*housing["address"].to_list(), *records["address"].drop_nulls().to_list()]
    columns = ["declared_at", "name", "id_number", "phone", "address", "travel", "fever", "code_color"]
    return list(dict.fromkeys(addresses)), health.select(columns).to_dicts()


def bench_parses(addresses: list[str], repeats_rows: int) -> None:
    address_module.parse_address("上海市", PUDONG)  # loads the division tables and OpenCC, once per process
    address_module._admin_prefix.cache_clear()
    start = time.perf_counter()
    for text in addresses:
        address_module.parse_address(text, PUDONG)
    distinct_rate = len(addresses) / (time.perf_counter() - start)
    print(f"address parses, distinct addresses:  {distinct_rate:>10,.0f} /s  ({len(addresses):,} addresses, cold)")

    rng = random.Random(1)
    # A day's column: a few addresses recur very often (a checkpoint's village, a big estate), most a few times.
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(addresses))]
    column = rng.choices(addresses, weights=weights, k=repeats_rows)
    frame = pl.DataFrame({"address": column})
    address_module._admin_prefix.cache_clear()
    start = time.perf_counter()
    normalize_column(frame, "address", "address")
    elapsed = time.perf_counter() - start
    distinct = frame["address"].n_unique()
    print(
        f"address parses, column with repeats: {repeats_rows / elapsed:>10,.0f} rows/s "
        f"({repeats_rows:,} rows, {distinct:,} distinct, through normalize_column)"
    )


def _vary(row: dict[str, str | None], rng: random.Random) -> list[str]:
    address = row["address"] or ""
    if address and rng.random() < 0.5 and "室" in address:
        head = address[: address.rfind("号") + 1] if "号" in address else ""
        if head:
            address = f"{head}{rng.randint(1, 33)}{rng.randint(1, 8):02d}室"
    if rng.random() < 0.03:
        address = address.translate(TRADITIONAL)
    phone = row["phone"] or ""
    if len(phone) >= 4 and rng.random() < 0.5:
        phone = phone[:-4] + f"{rng.randint(0, 9999):04d}"
    values = [
        row["declared_at"],
        row["name"],
        row["id_number"],
        phone,
        address,
        row["travel"],
        row["fever"],
        row["code_color"],
    ]
    return ["" if v is None else v for v in values]


def write_big_inbox(folder: Path, rows: list[dict[str, str | None]], count: int) -> Path:
    rng = random.Random(2)
    path = folder / "health" / "健康云申报_1m.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEALTH_HEADER)
        for _ in range(count):
            writer.writerow(_vary(rng.choice(rows), rng))
    return path


def bench_end_to_end(inbox: Path) -> tuple[float, int]:
    mapping = HeaderMapping.load()
    address_module._admin_prefix.cache_clear()
    start = time.perf_counter()
    records = read_inbox(inbox, mapping).records
    ingested = time.perf_counter()
    standard = cleanse(records, mapping.all_fields())
    done = time.perf_counter()
    distinct = records["address"].n_unique()
    print(
        f"1 source, {records.height:,} rows ({distinct:,} distinct addresses): ingest {ingested - start:.1f} s "
        f"+ cleanse {done - ingested:.1f} s = {done - start:.1f} s  ({standard.height:,} rows out)"
    )
    return done - start, records.height


def bench_naive_baseline(path: Path, sample: int, rows: int) -> float:
    """One row at a time: pandas reads the file, every normalizer runs on every cell of every row."""
    import pandas as pd

    from jingzhun.cleansing.pipeline import NORMALIZERS
    from jingzhun.core import rules

    kinds = rules.load("cleansing")["fields"]
    fields = {
        "declared_at": "申报时间",
        "name": "姓名",
        "id_number": "证件号码",
        "phone": "手机号码",
        "address": "居住地址",
        "travel": "近14天旅居地",
        "fever": "是否发热",
        "code_color": "健康码",
    }
    start = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", nrows=sample, keep_default_na=False)

    def row_wise(row: pd.Series) -> dict:
        out = {}
        for field, header in fields.items():
            value = row[header] or None
            if value is not None:
                normalize = NORMALIZERS[kinds.get(field, "text")]
                out.update({f"{field}_{k}": v for k, v in normalize(value).items()})
        return out

    frame.apply(row_wise, axis=1)
    elapsed = time.perf_counter() - start
    extrapolated = elapsed * rows / len(frame)
    print(
        f"naive baseline (pandas, one row at a time): {len(frame):,} rows in {elapsed:.1f} s "
        f"-> EXTRAPOLATED to {rows:,} rows: {extrapolated:.0f} s"
    )
    return extrapolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--baseline-sample", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jingzhun-bench-") as tmp:
        folder = Path(tmp)
        addresses, health = _district(folder / "district", args.persons)
        bench_parses(addresses, repeats_rows=200_000)
        path = write_big_inbox(folder / "inbox", health, args.rows)
        seconds, rows = bench_end_to_end(folder / "inbox")
        baseline = bench_naive_baseline(path, args.baseline_sample, rows)
        print(f"end to end: {rows / seconds:,.0f} rows/s, {baseline / seconds:.0f}x the naive baseline")


if __name__ == "__main__":
    main()
