"""Prefect's temporary server as `jingzhun run` starts it (`jingzhun/flows/server.py`): a real uvicorn process."""

from __future__ import annotations

import urllib.error
import urllib.request

from jingzhun.flows.server import EarlyServer, early_server


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_the_early_server_answers_until_it_is_stopped(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # a loaded CI machine
    with early_server() as server:
        assert server is not None
        url = server.url()
        assert url == f"http://127.0.0.1:{server.port}/api"
        assert _answers(url)
        process = server.process
    assert server.process is None and process.poll() is not None  # stopped on leaving, not left behind
    assert not _answers(url)


def test_a_server_not_up_in_time_is_stopped_and_left_to_prefect(monkeypatch):
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "0")
    server = EarlyServer()
    process = server.process
    assert server.url() is None  # Prefect then starts its own server, as without this module
    assert server.process is None and process.poll() is not None


def test_a_server_of_ones_own_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    with early_server() as server:
        assert server is None  # nothing spawned: the flow talks to the user's server


def test_the_early_server_registers_no_block_types(monkeypatch, tmp_path):
    """Registering them made the server import every Prefect collection installed (prefect-dask, with Dask) at each
    start, for blocks a run never uses: a new Prefect database stays without them."""
    import json

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    with early_server() as server:
        url = server.url()
        assert url is not None
        request = urllib.request.Request(
            f"{url}/block_types/filter", data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read()) == []
    assert (tmp_path / "prefect-home").is_dir()  # the server did use this new home


def test_answers_says_whether_the_server_is_up_without_waiting(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    with early_server() as server:
        assert not server.answers()  # just spawned: Python has not even imported uvicorn yet
        assert server.url() is not None
        assert server.answers()
    assert server.answers()  # stopped: nothing left to wait for
