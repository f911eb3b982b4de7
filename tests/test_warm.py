"""What `jingzhun run` loads while Prefect's temporary server boots (`jingzhun/flows/warm.py`)."""

from __future__ import annotations

import subprocess
import sys


def test_warm_up_leaves_the_steps_libraries_and_tables_loaded():
    """In a new interpreter, as the CLI has it: after `warm_up` the validate step finds Great Expectations
    imported with our expectations, the match step Splink, and the cleanse step its division tables built."""
    check = (
        "import sys\n"
        "from jingzhun.flows.warm import warm_up\n"
        "from jingzhun.cleansing.address import _divisions\n"
        "assert 'great_expectations' not in sys.modules and 'splink' not in sys.modules\n"
        "assert _divisions.cache_info().currsize == 0\n"
        "warm_up()\n"
        "assert 'great_expectations' in sys.modules and 'splink' in sys.modules\n"
        "assert 'jingzhun.validation.expectations' in sys.modules\n"
        "assert _divisions.cache_info().currsize == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
