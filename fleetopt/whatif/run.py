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
__all__ = ["Job", "SolveSettings", "SweepRun", "budget_sweep", "plan_jobs", "run_sweep"]
CARBON_BUDGET = "policy.carbon_budget_t"


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

    budgets = budget_sweep(base, factors, jobs)
    cuts: list = [None]   # made by the first scenario solved of a budget-only sweep, then handed to every other

    def task_for(job: Job) -> Task:
        start = None
        if warm_start and starts:
            here = points[job.scenario_id]
            nearest = min(starts, key=lambda sid: nearness.distance(points[sid], here))
            start = starts[nearest]
        make = budgets if budgets is not None and job is first else None
        return Task(job.scenario_id, job.settings, base, solve, start, cuts[0], make)

    pending = [j for j in jobs if j.scenario_id not in results]
    solved = 0
    if not pending:
        store.close()
        return SweepRun([results[j.scenario_id] for j in jobs], 0, reused)
    first = pending[0]
    pool = make_executor(executor, workers, scheduler)
    interrupted = False
    try:
        if first is base_job or budgets is not None:  # the base first and alone: every other row is measured
            pending.pop(0)                               # against it (and it makes a budget sweep's cuts)
            future = pool.submit(solve_scenario, task_for(first))
            while not pool.wait_any([future]):
                pass
            outcome = future.result()
            cuts[0] = outcome.carbon_cuts
            finish(first, outcome)
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


def budget_sweep(base: Base, factors: Sequence[Factor], jobs: Sequence[Job]) -> tuple | None:
    """The carbon budgets (t CO2e; None: no budget) of a sweep that changes nothing else, else None. Its
    scenarios share one set of per-part Lagrangian rows (pipeline/carbon_cuts.py), made by the first one."""
    if not factors or any(f.path != CARBON_BUDGET for f in factors):
        return None
    given = (base.document.get("policy") or {}).get("carbon_budget_t")
    budgets = []
    for job in jobs:
        value = given
        for s in job.settings:
            if s.value is None or (s.scale and given is None):
                value = None
            else:
                value = given * s.value if s.scale else s.value
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None   # not a number: the scenario reports its bad input itself
        budgets.append(value)
    return tuple(budgets)
