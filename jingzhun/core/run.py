"""What one run is: its inputs, its date and where it writes. Passed from step to step instead of data.

Also the two guards of an output folder: one run at a time holds it (`exclusive`), and a day is written aside and
moved into place whole (`Run.dir` until `jingzhun.flows.steps.publish`), so no one ever opens a half-written day.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.metadata import version
from pathlib import Path

from jingzhun.core.errors import UserError


@dataclass(frozen=True)
class Run:
    inbox: Path
    reference: Path
    out: Path
    run_date: date
    mapping: Path | None = None
    rules: Path | None = None  # a folder of the user's own rules; None for the installed ones
    dask_address: str | None = None  # a Dask scheduler for the match stage's parts; None: in the flow's process

    @property
    def day_dir(self) -> Path:
        """The day's outputs as users open them, `OUT/<run_date>`: only ever a complete run's."""
        return self.out / self.run_date.isoformat()

    @property
    def dir(self) -> Path:
        """Where the steps write the day: a hidden folder next to `day_dir`, on the same file system, which
        `jingzhun.flows.steps.publish` renames to `day_dir` once the day is complete. A killed run leaves it behind and
        the previous good day untouched; the next run starts it afresh."""
        return self.out / f".{self.run_date.isoformat()}.partial"

    @property
    def set_aside(self) -> Path:
        """Where `publish` puts the previous day's folder for the moment of the swap."""
        return self.out / f".{self.run_date.isoformat()}.previous"

    @property
    def warehouse(self) -> Path:
        """One warehouse per output folder, shared by all run dates: the report reads the trend from it."""
        return self.out / "warehouse.duckdb"


@cache
def code_version() -> str:
    """The package version and, in a checkout, the commit (with `+dirty` when files differ from it)."""
    described = f"jingzhun {version('jingzhun')}"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return described
    return f"{described} ({commit}{'+dirty' if dirty else ''})"


LOCK_NAME = ".lock"
_held: dict[Path, int] = {}  # output folders this process holds, and how many times (the CLI, then the flow)
_held_guard = threading.Lock()


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the output folder for one run: a second run on it, from any process, is refused with a clear message.

    Refused rather than queued: two runs on one folder at once are a mistake (a second scheduler, a manual run
    beside the deployment's), and a run that waited would then replace the day the first one just wrote.
    The lock is `flock` on `OUT/.lock`, released by the kernel whatever way the holder ends, even SIGKILL.
    Creating the folder and the lock file is also the check that OUT is a folder we can write.
    """
    key = out.resolve()
    with _held_guard:
        reentered = key in _held  # the CLI took it before starting Prefect; the flow it runs takes it again
        if reentered:
            _held[key] += 1
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    descriptor = _open_lock(out)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise UserError(
                f"another run is writing to {out} ({holder}); try again when it has finished "
                f"(另一个运行正在写入该输出目录，请待其结束后再试): {out / LOCK_NAME}"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()}, since {dt.datetime.now():%Y-%m-%d %H:%M:%S}\n".encode(), 0)
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
    finally:
        os.close(descriptor)  # releases the lock


def _open_lock(out: Path) -> int:
    if out.exists() and not out.is_dir():
        raise UserError(f"the output folder is a file: {out} (输出目录是一个文件，请指定文件夹)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        return os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UserError(
            f"cannot write to the output folder {out}: {error.strerror or error} (输出目录无法创建或写入)"
        ) from None
