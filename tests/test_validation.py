"""The validate step's suites, run in a process of their own (`jingzhun run`) or in the run's process."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import RUN_DATE


def test_suites_in_their_own_process_give_the_same_results(flow_run):
    """In a new interpreter, as the CLI has it: inside `in_background` the suites run in the other process (this
    one never imports Great Expectations) and give the table they give when run here, which counted the day's rows
    and found some of the generated day's bad values; the process ends once it has answered (not waited for: its exit
    takes a second), and as soon as a run leaves without validating (an interpreter waits for an executor's processes
    when it exits)."""
    run_dir, _ = flow_run
    code = (
        "import sys, duckdb\n"
        "from jingzhun.validation.suites import in_background, validate\n"
        f"con = duckdb.connect({str(run_dir.parent / 'warehouse.duckdb')!r}, read_only=True)\n"
        f"standard = con.sql(\"SELECT * FROM standard_records WHERE run_date = '{RUN_DATE}'\").pl()\n"
        "import psutil\n"
        "def workers():  # the executor's process, while it lives (it may end between two questions)\n"
        "    alive = []\n"
        "    for p in psutil.Process().children():\n"
        "        try:\n"
        "            if 'multiprocessing.spawn' in ' '.join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:\n"
        "                alive.append(p)\n"
        "        except psutil.NoSuchProcess:\n"
        "            pass\n"
        "    return alive\n"
        "import time\n"
        "with in_background():\n"
        "    assert workers()\n"
        "    there = validate(standard)\n"
        "    deadline = time.monotonic() + 60  # it ends by itself, not waited for\n"
        "    while workers() and time.monotonic() < deadline:\n"
        "        time.sleep(0.1)\n"
        "    assert not workers(), 'the process serves one validate step and then gives its memory back'\n"
        "with in_background():\n"
        "    assert workers()\n"
        "assert not workers(), 'a run that stops before validating does not wait for the import'\n"
        "assert 'great_expectations' not in sys.modules\n"
        "here = validate(standard)\n"
        "assert 'great_expectations' in sys.modules\n"
        "assert there.height > 10 and there.equals(here), (there, here)\n"
        "assert there['element_count'].sum() > 0 and there['unexpected_count'].sum() > 0\n"
        "from jingzhun.validation.suites import read_columns\n"
        "assert len(read_columns()) < len(standard.columns) / 2\n"
        "assert validate(standard.select(read_columns())).equals(here), 'the step reads only what the suites read'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
