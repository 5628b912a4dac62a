"""Running a sweep: the base plan first, then every scenario on an executor, each warm-started from the
nearest scenario already solved, each row saved the moment it finishes. Only this process writes the results
file. The parts: worker.py (one scenario), compare.py (against the base plan), nearness.py (warm starts),
executors.py (where scenarios run).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fleetopt.errors import ERROR, STATUSES
from fleetopt.whatif.compare import add_base_relative
from fleetopt.whatif.executors import check_executor, default_workers, make_executor
from fleetopt.whatif.nearness import Nearness
from fleetopt.whatif.scenario import Base, label, scenario_id
from fleetopt.whatif.spec import Factor, Setting
from fleetopt.whatif.store import KEY, ResultStore, normalize_row
from fleetopt.whatif.worker import DETAIL_CHARS, Outcome, SolveSettings, Task, WarmStart, solve_scenario

SAVED_STATUSES = (*(s for s in STATUSES if s != ERROR), "bad_input")   # an error is retried, not saved
__all__ = ["Job", "SolveSettings", "SweepRun", "plan_jobs", "run_sweep"]


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
    check_executor(executor, workers)
    workers = default_workers() if workers is None else workers
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
