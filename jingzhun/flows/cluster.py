"""The match stage's parts as Prefect tasks on a Dask cluster, through prefect-dask's `DaskTaskRunner`, when the
address of a scheduler is configured: the flow parameter `dask_address`, else the environment variable
`JINGZHUN_DASK_ADDRESS`. Without one the stage runs in the flow's process, as it always did.

The workers need the installed package (the wheel `uv build` makes, with the versions of `uv.lock`) and the run's
output folder at the same path (the parts' files are there); they report their task runs to the flow's Prefect
server: the server of the deployment, or the flow's temporary one (then the workers must be on this machine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jingzhun.core.errors import UserError

if TYPE_CHECKING:
    from jingzhun.matching.partitions import Partitions

DASK_ADDRESS_ENV = "JINGZHUN_DASK_ADDRESS"


def dask_address(given: str | None = None) -> str | None:
    """The scheduler the match stage's parts go to: the one given, else `JINGZHUN_DASK_ADDRESS`; None: in-process."""
    return given or os.environ.get(DASK_ADDRESS_ENV) or None


def worker_threads(address: str) -> int:
    """How many tasks the cluster at `address` runs at once; a scheduler that cannot be reached, or has no
    worker, is a `UserError` (said before any work: `jingzhun.flows.steps.check_inputs`)."""
    from distributed import Client

    try:
        with Client(address, timeout=15, set_as_default=False) as client:
            threads = sum(client.nthreads().values())
    except (OSError, TimeoutError, ValueError) as error:
        raise UserError(
            f"Dask scheduler {address} cannot be reached ({DASK_ADDRESS_ENV}): {error} (无法连接 Dask 集群)"
        ) from error
    if threads == 0:
        raise UserError(f"Dask scheduler {address} has no workers ({DASK_ADDRESS_ENV}) (Dask 集群没有工作进程)")
    return threads


def on_dask(address: str, folder: Path) -> Partitions:
    """Partitions that run as Prefect tasks of a subflow whose task runner is the Dask cluster at `address`, as many
    parts at once as the cluster has threads."""
    from jingzhun.matching.partitions import Partitions

    width = worker_threads(address)

    def run(fn: Callable[[Any], Any], parts: list[Any]) -> list[Any]:
        from prefect import flow, get_run_logger, task
        from prefect.cache_policies import NO_CACHE
        from prefect.context import get_run_context
        from prefect.settings import PREFECT_API_URL, temporary_settings
        from prefect_dask import DaskTaskRunner

        part_task = task(_timed(fn), name=fn.__name__, cache_policy=NO_CACHE)

        @flow(name=f"jingzhun-match-{fn.__name__.replace('_', '-')}", task_runner=DaskTaskRunner(address=address))
        def match_parts() -> list[Any]:
            futures = [part_task.with_options(task_run_name=str(part)).submit(part) for part in parts]
            done = [future.result() for future in futures]
            get_run_logger().info(
                "%d parts on %d worker threads at %s: %s",
                len(parts),
                width,
                address,
                "; ".join(f"{part} {seconds:.1f} s" for part, (_, seconds) in zip(parts, done, strict=True)),
            )
            return [result for result, _ in done]

        # The workers report to this run's Prefect server, also when it is the flow's temporary one.
        with temporary_settings({PREFECT_API_URL: str(get_run_context().client.api_url)}):
            return match_parts()

    return Partitions(run=run, width=width, folder=folder)


def _timed(fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, float]]:
    def timed(part: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        return fn(part), time.perf_counter() - start

    timed.__name__ = fn.__name__
    timed.__qualname__ = fn.__qualname__
    return timed
