"""The report as a person sees it: rendered by a real headless Chromium with the network unused, screenshot
taken, and no console message or blocked request (the report's Content-Security-Policy allows no script)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def render(html: Path, screenshot: Path, *, width: int = 1200, height: int = 2400) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs it from Debian's packages")
        pytest.skip("chromium not installed (make test installs it)")
    with tempfile.TemporaryDirectory(prefix="jingzhun-chromium-") as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                f"--window-size={width},{height}",
                f"--screenshot={screenshot}",
                html.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]
    assert console == []
    assert "net::ERR" not in done.stderr
