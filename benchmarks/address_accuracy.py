"""Accuracy of the address parser on the hand-checked set `tests/data/addresses.csv`: per field and overall.

Prints figures, asserts nothing (`make bench`); the test suite asserts the rows one by one. The expected values
in the set are written by hand, never produced by the parser.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jingzhun.cleansing.address import ADDRESS_FIELDS, parse_address  # noqa: E402

DATA = ROOT / "tests" / "data" / "addresses.csv"


def main() -> None:
    with open(DATA, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    right = dict.fromkeys(ADDRESS_FIELDS, 0)
    whole_rows = 0
    for row in rows:
        got = parse_address(row["address"], row["context_district_code"] or None)
        hits = [got[field] == (row[field] or None) for field in ADDRESS_FIELDS]
        whole_rows += all(hits)
        for field, hit in zip(ADDRESS_FIELDS, hits, strict=True):
            right[field] += hit
    print(f"address parser on {len(rows)} hand-checked addresses ({DATA.relative_to(ROOT)})")
    for field, count in right.items():
        print(f"  {field:12s} {count:4d}/{len(rows)}  {count / len(rows):7.2%}")
    fields = sum(right.values())
    total = len(rows) * len(ADDRESS_FIELDS)
    print(f"  {'all fields':12s} {fields:4d}/{total}  {fields / total:7.2%}")
    print(f"  {'whole rows':12s} {whole_rows:4d}/{len(rows)}  {whole_rows / len(rows):7.2%}")


if __name__ == "__main__":
    main()
