"""Running a sweep: the base plan first, then every scenario on an executor, each warm-started from the
nearest scenario already solved, each row saved the moment it finishes.

Executors: `sequential` (this process), `local` (a process pool, the default), `dask` (Dask distributed: a
LocalCluster started here, or an existing scheduler's address). A worker gets the base document and the
settings, builds and solves the scenario, and sends back one row plus the solution vector for warm starts.
Only this process writes the results file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from fleetopt.errors import ERROR, STATUSES, InputError, Problem
from fleetopt.whatif.scenario import Base, base_value, instance_for, label, scenario_id
from fleetopt.whatif.spec import Factor, Setting
from fleetopt.whatif.store import KEY, ResultStore, normalize_row

EXECUTORS = ("local", "dask", "sequential")
SAVED_STATUSES = (*(s for s in STATUSES if s != ERROR), "bad_input")   # an error is retried, not saved
DETAIL_CHARS = 300


@dataclass(frozen=True)
class SolveSettings:
    """Solver options for every scenario; None = the instance's `solver:` block. Threads default to 1 per
    solve because the sweep's parallelism is across scenarios."""

    backend: str | None = None
    time_limit_s: float | None = None
    mip_rel_gap: float | None = None
    threads: int | None = 1
    seed: int | None = None

    def key(self) -> dict:
        """What changes the answer, for the scenario id (threads and warm starts do not)."""
        return {"backend": self.backend, "time_limit_s": self.time_limit_s, "mip_rel_gap": self.mip_rel_gap,
                "seed": self.seed}


@dataclass
class WarmStart:
    x: np.ndarray
    names_digest: str
    names: list[str]


@dataclass
class Task:
    """One scenario as a worker receives it (picklable: plain data only)."""

    scenario_id: str
    settings: tuple[Setting, ...]
    base: Base
    solve: SolveSettings
    start: WarmStart | None = None


@dataclass
class Outcome:
    scenario_id: str
    row: dict
    x: np.ndarray | None = None
    names_digest: str = ""
    names: list[str] | None = None
    decisions: dict = field(default_factory=dict)


# ------------------------------------------------------------------ the worker side


def names_digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def start_vector(start: WarmStart, digest: str, names: list[str]) -> np.ndarray:
    """The warm start for this formulation: as is when the columns are the same (only right-hand sides
    changed), else mapped by column name with the columns the other scenario lacks at zero."""
    if start.names_digest == digest:
        return start.x
    where = {name: i for i, name in enumerate(start.names)}
    x = np.zeros(len(names))
    for j, name in enumerate(names):
        i = where.get(name)
        if i is not None:
            x[j] = start.x[i]
    return x


def decisions_of(plan) -> dict:
    """The key decisions, for telling what a scenario changed against the base plan."""
    training = {job: {"region": d.region, "accelerator": d.accelerator, "gpus": d.gpus,
                      "parallelism": f"tp{d.tp}-pp{d.pp}-dp{d.dp}"}
                for job, d in sorted(plan.training.items())}
    serving = {}
    for service, d in sorted(plan.serving.items()):
        per_region: dict[str, int] = {}
        for group in d.replicas:
            per_region[group.region] = per_region.get(group.region, 0) + group.gpus
        serving[service] = dict(sorted(per_region.items()))
    return {"training": training, "serving": serving}


def solve_scenario(task: Task) -> Outcome:
    """Build and solve one scenario; never raises (a failure is a row with status `error`)."""
    from fleetopt.pipeline.problem import build_problem
    from fleetopt.pipeline.solve import options_for, solve_problem

    t0 = time.perf_counter()
    row: dict = {KEY: task.scenario_id}
    try:
        inst = instance_for(task.base, task.settings)
    except InputError as err:
        row.update(status="bad_input", detail="; ".join(str(p) for p in err.problems)[:DETAIL_CHARS])
        return Outcome(task.scenario_id, row)
    try:
        problem = build_problem(inst)
        names = problem.form.col_names()
        digest = names_digest(names)
        s = task.solve
        backend, options = options_for(inst, backend=s.backend, time_limit_s=s.time_limit_s,
                                       mip_rel_gap=s.mip_rel_gap, threads=s.threads, seed=s.seed)
        if task.start is not None and len(names):
            options.start = start_vector(task.start, digest, names)
        plan, result = solve_problem(problem, backend, options)
    except Exception as err:  # one broken scenario must not stop the sweep
        row.update(status=ERROR, detail=f"{type(err).__name__}: {err}"[:DETAIL_CHARS])
        return Outcome(task.scenario_id, row)
    totals = plan.totals
    decisions = decisions_of(plan) if plan.has_plan else {}
    row.update(
        status=plan.status, objective=plan.objective, gap=plan.gap,
        cost_usd=totals.cost_usd if totals else None, carbon_t=totals.carbon_t if totals else None,
        energy_mwh=totals.energy_mwh if totals else None, gpus=totals.gpus if totals else None,
        binding=";".join(sorted({b.family for b in plan.binding})),
        decisions=json.dumps(decisions, sort_keys=True) if decisions else "",
        detail=plan.detail[:DETAIL_CHARS], warm_start=options.start is not None,
        solve_s=round(time.perf_counter() - t0, 3))
    same_columns = task.start is not None and task.start.names_digest == digest
    return Outcome(task.scenario_id, row, x=None if result is None else result.x, names_digest=digest,
                   names=None if same_columns else names, decisions=decisions)


def _die_with_parent() -> None:
    """Pool workers: ignore Ctrl-C (the parent handles it) and, on Linux, die when the parent dies, so a
    killed sweep leaves no solver running."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------------------ what changed against the base


def changed_against(base: dict, other: dict) -> str:
    """Key decisions that differ from the base plan, one clause each: `job: us-east x128 -> eu-north x256`,
    `service: us-east 8->2, us-west 0->4 GPUs`."""
    if not base or not other:
        return ""
    out = []
    for job, before in base.get("training", {}).items():
        after = other.get("training", {}).get(job, {})
        moved = [k for k in before if after.get(k) != before[k]]  # only what differs: `us-east -> eu-north`
        if moved:
            out.append(f"{job}: {' '.join(str(before[k]) for k in moved)} -> "
                       f"{' '.join(str(after.get(k)) for k in moved)}")
    for service, before in base.get("serving", {}).items():
        after = other.get("serving", {}).get(service, {})
        moves = [f"{r} {before.get(r, 0)}->{after.get(r, 0)}" for r in sorted(set(before) | set(after))
                 if before.get(r, 0) != after.get(r, 0)]
        if moves:
            out.append(f"{service}: {', '.join(moves)} GPUs")
    return "; ".join(out)


def add_base_relative(row: dict, base_row: dict | None, base_decisions: dict, decisions: dict) -> None:
    """The displaced cost: what a scenario moves against the base plan, in USD, t CO2e and decisions."""
    if base_row is None or row.get("cost_usd") is None or base_row.get("cost_usd") is None:
        return
    row["displaced_cost_usd"] = row["cost_usd"] - base_row["cost_usd"]
    row["displaced_carbon_t"] = row["carbon_t"] - base_row["carbon_t"]
    row["changed"] = changed_against(base_decisions, decisions)


# ------------------------------------------------------------------ nearest solved scenario


class Nearness:
    """Distance between scenarios in the space of the sweep's factors: each numeric factor scaled by its
    range, any other factor 0 when equal and 1 when not; a factor a scenario leaves alone is at the base."""

    def __init__(self, base: Base, factors: Sequence[Factor]):
        self.base_values = {f.path: base_value(base, f.settings[0]) if f.settings else None for f in factors}
        self.scaled = {f.path: any(s.scale for s in f.settings) for f in factors}
        self.spans = {}
        for f in factors:
            nums = [s.value for s in f.settings if isinstance(s.value, int | float) and not isinstance(s.value, bool)]
            if self.base_values[f.path] is not None:
                nums.append(self.base_values[f.path])
            self.spans[f.path] = (max(nums) - min(nums)) if len(nums) > 1 and max(nums) > min(nums) else 1.0

    def point(self, settings: Sequence[Setting]) -> dict:
        out = dict(self.base_values)
        for s in settings:
            out[s.path] = s.value
        return out

    def distance(self, a: dict, b: dict) -> float:
        total = 0.0
        for path, span in self.spans.items():
            u, v = a.get(path), b.get(path)
            numeric = all(isinstance(w, int | float) and not isinstance(w, bool) for w in (u, v))
            total += abs(u - v) / span if numeric else float(u != v)
        return total


# ------------------------------------------------------------------ executors


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
    """A local process pool (spawned workers: no fork of a process that runs a progress thread)."""

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_die_with_parent)

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


class _Dask:
    """Dask distributed: a LocalCluster of `workers` single-threaded processes, or the cluster at `scheduler`."""

    def __init__(self, workers: int, scheduler: str | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError([Problem("--executor", "dask", "Dask is not installed; pip install "
                                      "'fleetopt[dask]'")]) from None
        import logging

        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as err:
                raise InputError([Problem("--scheduler", scheduler, f"cannot reach the Dask scheduler ({err})")]) \
                    from None
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)

    def submit(self, fn, task):
        return self.client.submit(fn, task, pure=False)

    def wait_any(self, futures):
        from distributed import wait

        return list(wait(futures, return_when="FIRST_COMPLETED").done)

    def shutdown(self, interrupted: bool = False) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str, workers: int, scheduler: str | None):
    if kind == "sequential":
        return _Inline()
    if kind == "local":
        return _Pool(workers)
    if kind == "dask":
        return _Dask(workers, scheduler)
    raise InputError([Problem("--executor", kind, f"unknown executor; expected {', '.join(EXECUTORS)}")])


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


# ------------------------------------------------------------------ the driver


@dataclass
class Job:
    scenario_id: str
    settings: tuple[Setting, ...]

    @property
    def label(self) -> str:
        return label(self.settings)


def plan_jobs(base: Base, scenario_list: Sequence[tuple[Setting, ...]], solve: SolveSettings,
              reference: tuple[Setting, ...] = ()) -> list[Job]:
    """The reference scenario (the base instance unless given) then every other, each with its id; a
    scenario listed twice runs once."""
    jobs, seen = [], set()
    for settings in [reference, *scenario_list]:
        job = Job(scenario_id(base.digest, settings, solve.key()), tuple(settings))
        if job.scenario_id not in seen:
            seen.add(job.scenario_id)
            jobs.append(job)
    return jobs


@dataclass
class SweepRun:
    """What run_sweep hands back: every row in sweep order, and how many were solved now vs read back."""

    rows: list[dict]
    solved: int
    reused: int
    interrupted: bool = False


def run_sweep(base: Base, jobs: Sequence[Job], store: ResultStore, *, factors: Sequence[Factor] = (),
              solve: SolveSettings = SolveSettings(), executor: str = "local", workers: int | None = None,
              scheduler: str | None = None, warm_start: bool = True,
              on_row: Callable[[dict, int, int], None] | None = None,
              extra: Callable[[Job], dict] | None = None) -> SweepRun:
    """Solve every job not yet in `store`, saving each row as it finishes. jobs[0] is the reference (the
    base plan): it runs first, alone, and every other row's displaced cost is measured against it.
    `on_row(row, done, total)` is called after each save; `extra(job)` adds columns (the factor values)."""
    workers = workers or default_workers()
    done = store.open()
    total = len(jobs)
    results: dict[str, dict] = {j.scenario_id: done[j.scenario_id] for j in jobs if j.scenario_id in done}
    reused = len(results)
    nearness = Nearness(base, factors)
    points = {j.scenario_id: nearness.point(j.settings) for j in jobs}
    starts: dict[str, WarmStart] = {}
    names_by_digest: dict[str, list[str]] = {}
    base_job = jobs[0]

    def decisions_of_row(row: dict | None) -> dict:
        return json.loads(row["decisions"]) if row and row.get("decisions") else {}

    def finish(job: Job, outcome: Outcome) -> None:
        row = dict(outcome.row)
        row.update(scenario=job.label, **(extra(job) if extra else {}))
        base_row = results.get(base_job.scenario_id) if job is not base_job else row
        add_base_relative(row, base_row, decisions_of_row(base_row), outcome.decisions)
        if outcome.names is not None:
            names_by_digest[outcome.names_digest] = outcome.names
        if outcome.x is not None and outcome.names_digest in names_by_digest:
            starts[job.scenario_id] = WarmStart(outcome.x, outcome.names_digest, names_by_digest[outcome.names_digest])
        if row["status"] in SAVED_STATUSES:
            store.append(row)
        results[job.scenario_id] = normalize_row(row, store.columns)
        if on_row:
            on_row(results[job.scenario_id], len(results), total)

    def task_for(job: Job) -> Task:
        start = None
        if warm_start and starts:
            here = points[job.scenario_id]
            nearest = min(starts, key=lambda sid: nearness.distance(points[sid], here))
            start = starts[nearest]
        return Task(job.scenario_id, job.settings, base, solve, start)

    pending = [j for j in jobs if j.scenario_id not in results]
    solved = 0
    if not pending:
        store.close()
        return SweepRun([results[j.scenario_id] for j in jobs], 0, reused)
    pool = make_executor(executor, workers, scheduler)
    interrupted = False
    try:
        if pending[0] is base_job:  # the base first and alone: every other row is measured against it
            pending.pop(0)
            future = pool.submit(solve_scenario, task_for(base_job))
            while not pool.wait_any([future]):
                pass
            finish(base_job, future.result())
            solved += 1
        running: dict = {}
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                running[pool.submit(solve_scenario, task_for(job))] = job
            for future in pool.wait_any(list(running)):
                job = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as err:  # a worker died (killed, out of memory): report, do not save
                    outcome = Outcome(job.scenario_id, {KEY: job.scenario_id, "status": ERROR,
                                                        "detail": f"{type(err).__name__}: {err}"[:DETAIL_CHARS]})
                finish(job, outcome)
                solved += 1
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        pool.shutdown(interrupted=interrupted)
        store.close()
    return SweepRun([results[j.scenario_id] for j in jobs], solved, reused, interrupted)
