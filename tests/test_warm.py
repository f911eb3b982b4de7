"""What `jingzhun run` loads while Prefect's temporary server boots (`jingzhun/flows/warm.py`)."""

from __future__ import annotations

import subprocess
import sys


def _in_new_interpreter(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_warm_up_leaves_the_steps_libraries_and_tables_loaded():
    """As the CLI has it, in a new interpreter: after `warm_up` the cleanse step finds its division tables built,
    the match step Splink; Great Expectations is left to the validate step's own process."""
    _in_new_interpreter(
        "import sys\n"
        "from jingzhun.flows.warm import LOADS, warm_up\n"
        "from jingzhun.cleansing.address import _divisions\n"
        "assert 'great_expectations' not in sys.modules and 'splink' not in sys.modules\n"
        "assert _divisions.cache_info().currsize == 0\n"
        "assert warm_up() == len(LOADS)\n"
        "assert 'splink' in sys.modules and 'great_expectations' not in sys.modules\n"
        "assert _divisions.cache_info().currsize == 1\n"
    )


def test_warm_up_stops_when_told():
    """The CLI stops it once Prefect's server answers: what is not loaded by then is loaded where it is used."""
    _in_new_interpreter(
        "import sys\n"
        "from jingzhun.flows.warm import warm_up\n"
        "from jingzhun.cleansing.address import _divisions\n"
        "asked = []\n"
        "assert warm_up(until=lambda: asked.append(1) or len(asked) > 1) == 1\n"
        "assert _divisions.cache_info().currsize == 1\n"
        "assert 'great_expectations' not in sys.modules and 'splink' not in sys.modules\n"
    )
