"""Prefect's temporary API server, started by `jingzhun run` before its own checks rather than when the flow starts.

Without a `PREFECT_API_URL`, Prefect starts a temporary server (uvicorn in a subprocess) at the flow's first call
to its API and waits for it: on this 2-core machine 5–15 s of one core, during which the run does nothing. To start
it, the run's process also imports Prefect's whole server package (FastAPI, the ORM models; about a thousand modules,
3–7 s) only to name the class that spawns it. Here the CLI spawns the same server itself, with the command and
settings Prefect uses (`prefect.server.api.server.SubprocessASGIServer`), first thing: it boots on the other core while
the run checks its inputs and imports what its steps need, and the run hands its address to Prefect as
`PREFECT_API_URL` for the flow. A user's own `PREFECT_API_URL` (a long-running server) is used as it is; a server that
does not come up falls back to Prefect's own start, with the CLI's retry.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

# What Prefect sets for its temporary server (`SubprocessASGIServer._run_uvicorn_command`): no UI, the services of
# an ephemeral server only, and the app built once. And no block types registered at its start: to register them
# the server imports every installed Prefect collection, here prefect-dask with Dask and distributed (about a
# tenth of its start), for block documents a daily run never reads or writes (its results are not persisted).
# Both settings: the memoizing wrapper around the registration imports the collections before the registration
# itself looks at its own setting.
SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "0",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "0",
}


class EarlyServer:
    """The temporary server's process, spawned at construction; `url()` waits until it answers, or returns None
    when it does not (Prefect then starts its own)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[Any] | None = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env={**os.environ, **SERVER_ENVIRONMENT},
        )

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def answers(self) -> bool:
        """Whether the server answers now (or is gone, so that waiting for it is over): one request, no waiting."""
        if self.process is None or self.process.poll() is not None:
            return True
        try:
            with urllib.request.urlopen(f"{self.api}/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def url(self) -> str | None:
        deadline = time.monotonic() + float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "20"))
        while self.process is not None and self.process.poll() is None and time.monotonic() < deadline:
            if self.answers():
                return self.api
            time.sleep(0.1)
        self.stop()  # taken port, crash or timeout: Prefect's own start takes over
        return None

    def stop(self) -> None:
        """As Prefect stops its own: terminate, five seconds' grace, then kill."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def early_server() -> Iterator[EarlyServer | None]:
    """The temporary server, started now and stopped on leaving; None when the environment names a server (one named
    in the user's Prefect profile is seen by `using`, which then stops this one)."""
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    server = EarlyServer()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def using(server: EarlyServer | None) -> Iterator[None]:
    """Prefect's flows in this block talk to `server`, once it answers (else to whatever Prefect would start).

    Without heartbeats: a flow run's heartbeat tells a lasting server that the run is alive (one that stops sending
    is marked crashed); this server ends with the run and never sees a run outlive it. Their thread sleeps in one-second
    steps and is joined when the flow ends: up to a second of every run, spent waiting for it to wake."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if server is not None and PREFECT_API_URL.value():  # a server named in the user's Prefect profile
        server.stop()
    url = server.url() if server is not None else None
    if url is None:
        yield
        return

    with temporary_settings({PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        try:
            yield
        finally:
            _drain_prefect()


def _drain_prefect() -> None:
    """Send what Prefect still holds for the server (the flow's last logs and events) while it runs: stopped first,
    Prefect's workers would retry it for a minute or more at exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)
