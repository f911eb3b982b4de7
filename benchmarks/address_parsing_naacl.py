"""The address parser on real, human-labelled addresses: NAACL 2019 (Li et al.), the development half.

    .venv/bin/python benchmarks/address_parsing_naacl.py [EVAL_DIR] [--split dev|train] [--errors FIELD]

EVAL_DIR defaults to ../shared/eval (the folder is not part of the project: its publishers give no licence to
redistribute it). Prints micro-F1 over the eleven fields and F1 per field; asserts nothing. Most of these
addresses are from Zhejiang and other provinces, typed by people, with shops and companies as places: harder and
farther from a Shanghai housing register than our own hand-written set.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval_data import add_eval_dir, labelled_file  # noqa: E402

from jingzhun.cleansing.address import parse_address  # noqa: E402
from jingzhun.evaluation.address_parsing import SCORED_FIELDS, errors, read_labelled, score_parser  # noqa: E402

TARGETS = {"micro": 0.92, "community": 0.85, "road": 0.85}


def main() -> None:
    parser = argparse.ArgumentParser()
    add_eval_dir(parser)
    parser.add_argument("--split", default="dev", choices=("dev", "train"))
    parser.add_argument("--errors", metavar="FIELD", help="print the addresses where FIELD is wrong")
    args = parser.parse_args()
    path = labelled_file(args.eval_dir, "NAACL 2019", f"naacl2019/{args.split}.txt")
    if path is None:
        return
    addresses = read_labelled(path)
    if args.errors:
        for text, labelled, parsed in errors(addresses, parse_address, args.errors):
            print(f"{text}\t{labelled}\t{parsed}")
        return
    start = time.perf_counter()
    score = score_parser(addresses, parse_address)
    seconds = time.perf_counter() - start
    micro = score.micro()
    print(f"address parser on NAACL 2019 {args.split} ({score.addresses} labelled addresses, {seconds:.1f} s)")
    print(f"  {'field':12s} {'F1':>7s} {'prec.':>7s} {'recall':>7s}  target")
    for name in SCORED_FIELDS:
        counts = score.fields[name]
        target = f"≥ {TARGETS[name]:.2f}" if name in TARGETS else ""
        print(f"  {name:12s} {counts.f1():7.3f} {counts.precision():7.3f} {counts.recall():7.3f}  {target}")
    print(f"  {'micro':12s} {micro.f1():7.3f} {micro.precision():7.3f} {micro.recall():7.3f}  ≥ {TARGETS['micro']:.2f}")


if __name__ == "__main__":
    main()
