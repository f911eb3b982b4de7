"""The command line as users meet it: clear one-line errors, JSON lines from the address parser."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cleansing.address import ADDRESS_FIELDS

JINGZHUN = [sys.executable, "-m", "jingzhun.cli"]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*JINGZHUN, *args], input=stdin, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("make_inputs", "message"),
    [
        (lambda d: None, "inbox folder not found"),
        (lambda d: (d / "inbox" / "health").mkdir(parents=True), "reference table missing"),
    ],
)
def test_run_without_its_inputs_fails_with_one_line(tmp_path: Path, make_inputs, message):
    make_inputs(tmp_path)
    done = run_cli("run", "--inbox", str(tmp_path / "inbox"), "--reference", str(tmp_path / "ref"),
                   "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_run_date_is_a_usage_error(tmp_path):
    done = run_cli("run", "--inbox", "i", "--reference", "r", "--out", "o", "--run-date", "22/11/2026")
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr and "Traceback" not in done.stderr


def test_address_parse_writes_one_json_object_a_line():
    done = run_cli("address", "parse", stdin="上海市浦东新区张江镇碧波路455弄3号502室\n\n北京市海淀区中关村大街27号\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    assert all(tuple(obj) == ADDRESS_FIELDS for obj in lines)
    assert (lines[0]["district"], lines[0]["town"], lines[0]["road"], lines[0]["road_number"],
            lines[0]["building"], lines[0]["room"]) == ("浦东新区", "张江镇", "碧波路", "455弄", "3", "502")
    assert lines[2]["city"] == "北京市" and lines[2]["road_number"] == "27号"


def test_first_run_on_a_machine_with_no_prefect_state(tmp_path):
    """A newcomer's first `jingzhun run`: Prefect's temporary server must create its database and still be waited
    for; the run ends with its figures, not a timeout."""
    import os

    from synthetic.generate import generate

    generate(tmp_path / "district", persons=300, seed=5, day=dt.date(2026, 11, 22))
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "empty-prefect-home")}
    env.pop("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", None)
    done = subprocess.run(
        [*JINGZHUN, "run", "--inbox", str(tmp_path / "district" / "inbox"),
         "--reference", str(tmp_path / "district" / "reference"), "--out", str(tmp_path / "out"),
         "--run-date", "2026-11-22"],
        capture_output=True, text=True, timeout=600, env=env,
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
    done = subprocess.run([*JINGZHUN, "evaluate", "--run", "r", "--truth", "t"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "JINGZHUN_RULES": str(tmp_path / "my-rules")})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "lacks cleansing.yaml" in done.stderr
    assert "Traceback" not in done.stderr
