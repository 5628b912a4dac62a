"""A Dask cluster to run solves on: a LocalCluster of single-threaded worker processes started here, or the
cluster behind an existing scheduler's address. Solving in parts (pipeline/decompose.py) and sweeps
(whatif/executors.py) both start theirs here.

    with DaskCluster(workers=2, scheduler=None) as cluster:
        results = cluster.map(solve_named, names, forms, options, ends)   # in the order given
"""

from __future__ import annotations

import time
from dataclasses import replace

from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.errors import bad_argument
from fleetopt.formulation.model import Formulation

CONNECT_TIMEOUT = "20s"   # how long to try an existing scheduler's address before calling it unreachable
INSTALL = "pip install 'fleetopt[dask]'"


class DaskCluster:
    """A Dask client: on a LocalCluster of `workers` single-threaded processes (closed with the client), or on
    the cluster at `scheduler`. Missing Dask and an unreachable scheduler are bad input (one line, exit 2)."""

    def __init__(self, workers: int, scheduler: str | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise bad_argument("executor", f"Dask is not installed; {INSTALL}") from None
        import logging

        self.cluster = None
        if scheduler:
            try:
                _probe(scheduler)
            except (OSError, TimeoutError, ValueError) as err:
                reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
                raise bad_argument("scheduler", f"cannot reach the Dask scheduler at {scheduler} ({reason})") \
                    from None
            self.client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)

    def map(self, fn, *iterables) -> list:
        """fn over the iterables on the cluster, results in the order given (a task's exception is raised)."""
        futures = self.client.map(fn, *iterables, pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _probe(address: str) -> None:
    """Connect to the scheduler once and hang up (a Client that fails to connect prints a traceback when it is
    collected, after waiting as long again); in a thread of its own, since the caller may run an event loop."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    async def hello() -> None:
        comm = await connect(address, timeout=CONNECT_TIMEOUT)
        await comm.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, hello()).result()


def solve_named(backend: str, form: Formulation, options: SolveOptions, ends_at: float) -> SolveResult:
    """One solve on a worker: the backend imported there by its name (no closure crosses the wire), with the time
    left until `ends_at` (wall-clock seconds since the epoch, so it means the same on another machine)."""
    from fleetopt.backends.capabilities import solver_for

    left = max(ends_at - time.time(), 0.01)
    return solver_for(backend)(form, replace(options, time_limit_s=min(options.time_limit_s, left)))
