"""The command line as users meet it: clear one-line errors, JSON lines from the address parser."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jingzhun.cleansing.address import ADDRESS_FIELDS

JINGZHUN = [sys.executable, "-m", "jingzhun.cli"]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*JINGZHUN, *args], input=stdin, capture_output=True, text=True, timeout=120)


def run_arguments(district: Path, out: Path, *more: str) -> list[str]:
    """`jingzhun run`'s arguments for a generated district's day (its inbox and reference) into `out`."""
    inbox, reference = str(district / "inbox"), str(district / "reference")
    return ["run", "--inbox", inbox, "--reference", reference, "--out", str(out), "--run-date", "2026-11-22", *more]


def _header_only_reference(folder: Path) -> None:
    (folder.parent / "inbox" / "health").mkdir(parents=True)
    folder.mkdir()
    (folder / "grid.csv").write_text(
        "grid_id,grid_name,committee_code,committee_name,subdistrict_code,"
        "subdistrict_name,district_code,district_name\nG1,一,C1,居委,S1,街道,D1,区\n",
        encoding="utf-8",
    )
    (folder / "housing.csv").write_text("house_id,address,grid_id\n", encoding="utf-8")
    (folder / "population.csv").write_text("person_id,name,id_number,phone,house_id\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("make_inputs", "message"),
    [
        (lambda d: None, "inbox folder not found"),
        (lambda d: (d / "inbox" / "health").mkdir(parents=True), "reference table missing"),
        (lambda d: _header_only_reference(d / "ref"), "reference table has no rows: housing.csv, population.csv"),
    ],
)
def test_run_without_its_inputs_fails_with_one_line(tmp_path: Path, make_inputs, message):
    make_inputs(tmp_path)
    done = run_cli(
        "run", "--inbox", str(tmp_path / "inbox"), "--reference", str(tmp_path / "ref"), "--out", str(tmp_path / "out")
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def _one_clear_line(done: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 2 and one line on standard error, in English and Chinese, naming what is wrong."""
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("jingzhun: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert re.search(r"[\u4e00-\u9fff]", done.stderr), "the reason in Chinese too"
    for word in words:
        assert word in done.stderr


def _read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes through any mode bits; the kernel's own file system refuses it
        return Path("/sys/jingzhun-test-out")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out"


@pytest.mark.parametrize(
    ("misuse", "words"),
    [
        ("out_is_a_file", ["output folder is a file", "out.txt"]),
        ("out_under_a_file", ["cannot write to the output folder", "out.txt/day"]),
        ("out_not_writable", ["cannot write to the output folder"]),
        ("mapping_is_a_list", ["mapping file", "list.yaml"]),
        ("mapping_is_not_yaml", ["cannot read mapping file", "broken.yaml"]),
        ("mapping_missing", ["cannot read mapping file", "missing.yaml"]),
    ],
)
def test_a_run_that_cannot_be_done_says_why_in_one_line_before_any_work(district, tmp_path, misuse, words):
    (tmp_path / "out.txt").write_text("not a folder", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- 姓名\n- 证件号码\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("health: [姓名\n", encoding="utf-8")
    out = {
        "out_is_a_file": tmp_path / "out.txt",
        "out_under_a_file": tmp_path / "out.txt" / "day",
        "out_not_writable": _read_only_folder(tmp_path),
    }.get(misuse, tmp_path / "out")
    mapping = {
        "mapping_is_a_list": ["--mapping", str(tmp_path / "list.yaml")],
        "mapping_is_not_yaml": ["--mapping", str(tmp_path / "broken.yaml")],
        "mapping_missing": ["--mapping", str(tmp_path / "missing.yaml")],
    }.get(misuse, [])
    done = run_cli(*run_arguments(district, out, *mapping))
    _one_clear_line(done, *words)
    if misuse.startswith("mapping"):
        assert not (tmp_path / "out").exists()  # said before any work, the output folder not even created


def test_a_second_run_on_the_same_output_folder_is_refused_while_the_first_finishes(district, tmp_path):
    """Two runs at once on one OUT: the second refuses at once, naming the folder and the first run; the first
    ends with its figures and nothing after them (no Prefect server lines, no leak warnings)."""
    out = tmp_path / "out"
    arguments = run_arguments(district, out)
    # Unbuffered and on one stream, so the order of the lines is the order they were written in; Prefect at its
    # default INFO level, as users have it (the test session sets WARNING).
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_LOGGING_LEVEL": "INFO"}
    first = subprocess.Popen(
        [*JINGZHUN, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / ".lock").is_file() or "pid" not in (out / ".lock").read_text(encoding="utf-8"):
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not take the lock"
            time.sleep(0.2)
        second = run_cli(*arguments)
        _one_clear_line(second, "another run is writing to", str(out), f"pid {first.pid}")
        assert first.poll() is None, "the first run was still running when the second was refused"
        output, _ = first.communicate(timeout=900)
    finally:
        first.kill()
    assert first.returncode == 0, output[-3000:]
    lines = output.splitlines()
    assert lines[-1].startswith("committee routed"), lines[-5:]
    assert "Traceback" not in output and "nanobind" not in output and "Stopping temporary server" not in output
    assert (out / "2026-11-22" / "report.html").is_file()


# A bug in a step, as a user would meet one: the real CLI, Prefect and DuckDB, with one function of a step (the
# dispatch step's writer, the validate step's suites) replaced by one that fails and counts its calls (dispatch has
# retries for the file system, not for bugs).
BUGGY_RUN = """
import importlib
import sys
from pathlib import Path

from jingzhun.cli import main

module, name, step = sys.argv[2].split(":")

def buggy(*args, **kwargs):
    with open(sys.argv[1], "a") as calls:
        calls.write("call\\n")
    raise ValueError(f"a bug in the {step} step")

setattr(importlib.import_module(module), name, buggy)
sys.exit(main(sys.argv[3:]))
"""


# The validate step runs beside match, screen and dispatch: its failure still fails the run.
@pytest.mark.parametrize(
    "bug", ["jingzhun.dispatch.packages:write_dispatch:dispatch", "jingzhun.validation.suites:validate:validate"]
)
def test_a_bug_in_a_step_is_one_line_not_retried_and_leaves_the_previous_day(flow_run, district, tmp_path, bug):
    out = tmp_path / "out"
    shutil.copytree(flow_run[0].parent, out)
    before = {p: p.read_bytes() for p in sorted((out / "2026-11-22").rglob("*")) if p.is_file()}
    calls = tmp_path / "calls.txt"
    arguments = run_arguments(district, out)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_LOGGING_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-c", BUGGY_RUN, str(calls), bug, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    step = bug.split(":")[-1]
    assert last.startswith("jingzhun: unexpected error") and f"a bug in the {step} step" in last
    assert "Traceback" not in done.stdout and "nanobind" not in done.stdout
    assert calls.read_text().count("call") == 1
    assert {p: p.read_bytes() for p in sorted((out / "2026-11-22").rglob("*")) if p.is_file()} == before

    debug = subprocess.run(
        [sys.executable, "-c", BUGGY_RUN, str(tmp_path / "again.txt"), bug, *arguments, "--debug"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "nanobind" not in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("jingzhun: unexpected error")


def test_duckdb_out_of_memory_is_one_clear_line_naming_the_step(district, tmp_path):
    """A run whose DuckDB reaches its memory limit (here a tiny one) fails with one line saying which step ran out
    of memory and what to do, not as an unexpected error."""
    done = subprocess.run(
        [*JINGZHUN, *run_arguments(district, tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "JINGZHUN_DUCKDB_MEMORY": "2MB"},
    )
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.splitlines()[-1]
    assert re.match(r"jingzhun: the (cleanse|validate|match|screen|dispatch|report) step .*ran out of memory", last)
    assert "DuckDB's limit is 2MB" in last and "JINGZHUN_DUCKDB_MEMORY" in last and "内存不足" in last
    assert "unexpected error" not in done.stderr and "Traceback" not in done.stderr
    assert "nanobind" not in done.stderr


def test_every_command_takes_debug():
    from jingzhun.cli import build_parser

    parser = build_parser()
    for command in (
        ["demo"],
        ["run", "--inbox", "i", "--reference", "r", "--out", "o"],
        ["reference", "generate", "--out", "o"],
        ["evaluate", "--run", "r", "--truth", "t"],
        ["address", "parse"],
    ):
        assert parser.parse_args([*command, "--debug"]).debug is True
        assert parser.parse_args(command).debug is False


def test_bad_run_date_is_a_usage_error(tmp_path):
    done = run_cli("run", "--inbox", "i", "--reference", "r", "--out", "o", "--run-date", "22/11/2026")
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr and "Traceback" not in done.stderr


def test_address_parse_writes_one_json_object_a_line():
    done = run_cli("address", "parse", stdin="上海市浦东新区张江镇碧波路455弄3号502室\n\n北京市海淀区中关村大街27号\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    assert all(tuple(obj) == ADDRESS_FIELDS for obj in lines)
    assert (
        lines[0]["district"],
        lines[0]["town"],
        lines[0]["road"],
        lines[0]["road_number"],
        lines[0]["building"],
        lines[0]["room"],
    ) == ("浦东新区", "张江镇", "碧波路", "455弄", "3", "502")
    assert lines[2]["city"] == "北京市" and lines[2]["road_number"] == "27号"


def test_the_command_ends_without_teardown_yet_does_what_an_exit_must(tmp_path):
    """`console` ends the process without freeing its objects one by one, after what Python's exit does that
    matters: the `atexit` functions run (here one registered before the command), and a block-buffered standard
    output (a pipe, without PYTHONUNBUFFERED) is flushed, not lost; the status is the command's."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('atexit ran\\n'))\n"
        "sys.argv = ['jingzhun', 'address', 'parse']\n"
        "from jingzhun.cli import console\n"
        "console()\n"
        "raise SystemExit('console returned')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-c", code], input="北京市海淀区中关村大街27号\n", capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and done.stderr == "atexit ran\n", done.stderr
    assert json.loads(done.stdout)["road_number"] == "27号"
    failed = subprocess.run(
        [*JINGZHUN, "run", "--inbox", str(tmp_path / "none"), "--reference", str(tmp_path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1 and "inbox folder not found" in failed.stderr


def test_first_run_on_a_machine_with_no_prefect_state(tmp_path):
    """A newcomer's first `jingzhun run`: Prefect's temporary server must create its database and still be waited
    for; the run ends with its figures, not a timeout."""
    from jingzhun.synthetic.generate import generate

    generate(tmp_path / "district", persons=300, seed=5, day=dt.date(2026, 11, 22))
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "empty-prefect-home")}
    env.pop("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", None)
    done = subprocess.run(
        [*JINGZHUN, *run_arguments(tmp_path / "district", tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert (tmp_path / "empty-prefect-home").is_dir()
    assert (tmp_path / "out" / "2026-11-22" / "report.html").is_file()


def test_rules_that_cannot_be_used_end_in_one_line_whether_named_by_option_or_environment(tmp_path):
    import os

    done = run_cli("address", "parse", "--rules", str(tmp_path / "nowhere"), stdin="上海市浦东新区\n")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "rules folder not found" in done.stderr
    (tmp_path / "my-rules").mkdir()
    (tmp_path / "my-rules" / "screening.yaml").write_text("rules: []\n", encoding="utf-8")
    done = subprocess.run(
        [*JINGZHUN, "evaluate", "--run", "r", "--truth", "t"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JINGZHUN_RULES": str(tmp_path / "my-rules")},
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "lacks cleansing.yaml" in done.stderr
    assert "Traceback" not in done.stderr
