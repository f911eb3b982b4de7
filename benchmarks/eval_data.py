"""Where the benchmarks on real, human-labelled data find it: a folder outside the project (default
../shared/eval, beside the checkout; its README says what it holds). Its publishers give no licence to
redistribute it, so nothing of it is ever copied into the project, and a benchmark without it says so and skips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def add_eval_dir(parser: argparse.ArgumentParser) -> None:
    """The folder, as the benchmark's first (optional) argument."""
    parser.add_argument(
        "eval_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_EVAL_DIR,
        help=f"the folder of the labelled sets (default {DEFAULT_EVAL_DIR})",
    )


def labelled_file(eval_dir: Path, data_set: str, relative: str) -> Path | None:
    """`eval_dir/relative`, or None after saying in one line that `data_set` is not there and is skipped."""
    path = eval_dir / relative
    if path.is_file():
        return path
    print(f"{data_set} data not found at {path}: skipped (give the eval folder as the first argument)")
    return None
