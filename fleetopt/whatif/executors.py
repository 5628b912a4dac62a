"""Where the scenarios run: `sequential` (this process), `local` (a process pool, the default), `dask` (a
Dask LocalCluster started here, or an existing scheduler's address). Each has submit / wait_any / shutdown."""

from __future__ import annotations

import os
import sys

from fleetopt.errors import bad_argument, check_whole
from fleetopt.pipeline.cluster import DaskCluster
from fleetopt.pipeline.start_method import FORK, IN_PROCESS, choose_start_method
from fleetopt.whatif.worker import die_with_parent

EXECUTORS = ("local", "dask", "sequential")
MAX_WORKERS = 1024


class _Inline:
    """The sequential executor: runs each task when submitted."""

    def submit(self, fn, task):
        from concurrent.futures import Future

        future: Future = Future()
        future.set_result(fn(task))
        return future

    def wait_any(self, futures):
        return [f for f in futures if f.done()]

    def shutdown(self, interrupted: bool = False) -> None:
        pass


class _Pool:
    """A local process pool: spawned workers (no fork of a process that runs threads), or forked ones when
    spawning would run the user's unguarded script again (pipeline/start_method.py)."""

    def __init__(self, workers: int, method: str = "spawn"):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                        initializer=die_with_parent)

    def submit(self, fn, task):
        return self.pool.submit(fn, task)

    def wait_any(self, futures):
        from concurrent.futures import FIRST_COMPLETED, wait

        return list(wait(futures, return_when=FIRST_COMPLETED).done)

    def shutdown(self, interrupted: bool = False) -> None:
        if interrupted:
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()  # a solve in flight is lost anyway; do not wait for it
        self.pool.shutdown(wait=not interrupted, cancel_futures=True)


class _Dask(DaskCluster):
    """Dask distributed (pipeline/cluster.py): a LocalCluster of `workers` single-threaded processes, or the
    cluster at `scheduler`."""

    def submit(self, fn, task):
        return self.client.submit(fn, task, pure=False)

    def wait_any(self, futures):
        from distributed import wait

        return list(wait(futures, return_when="FIRST_COMPLETED").done)

    def shutdown(self, interrupted: bool = False) -> None:
        self.close()


def check_executor(kind: str, workers: int | None) -> None:
    if kind not in EXECUTORS:
        raise bad_argument("executor", f"unknown executor {kind!r}; expected {' | '.join(EXECUTORS)}")
    if workers is not None:
        check_whole("workers", workers, 1, MAX_WORKERS)


def make_executor(kind: str, workers: int, scheduler: str | None):
    """The executor of that kind; local processes (a pool, a LocalCluster) only where starting them cannot run
    an unguarded main script again, else forked workers or this process, with a note on stderr."""
    check_executor(kind, workers)
    if kind == "sequential":
        return _Inline()
    if kind == "dask" and scheduler:
        return _Dask(workers, scheduler)
    start = choose_start_method()
    if start.note:
        print(start.note, file=sys.stderr)
    if start.method == IN_PROCESS:
        return _Inline()
    if start.method == FORK:
        return _Pool(workers, FORK)
    return _Pool(workers) if kind == "local" else _Dask(workers, None)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
