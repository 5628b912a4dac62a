"""Running a sweep: the base plan first, then every scenario on an executor, each warm-started from the
nearest scenario already solved, each row saved the moment it finishes. Only this process writes the results
file. The parts: worker.py (one scenario), compare.py (against the base plan), nearness.py (warm starts),
executors.py (where scenarios run).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from fleetopt.errors import ERROR, STATUSES
from fleetopt.whatif.compare import add_base_relative
from fleetopt.whatif.executors import check_executor, default_workers, make_executor
from fleetopt.whatif.nearness import Nearness
from fleetopt.whatif.budgets import CARBON_BUDGET, Ledger, budget_sweep
from fleetopt.whatif.scenario import Base, document_key, label, scenario_id
from fleetopt.whatif.spec import Factor, Setting
from fleetopt.whatif.store import KEY, ResultStore, normalize_row
from fleetopt.pipeline.carbon_cuts import joined
from fleetopt.whatif.worker import (DETAIL_CHARS, CutTask, Outcome, SolveSettings, Task, WarmStart, make_cuts,
                                    solve_scenario)

SAVED_STATUSES = (*(s for s in STATUSES if s != ERROR), "bad_input")   # an error is retried, not saved
__all__ = ["CARBON_BUDGET", "Job", "SolveSettings", "SweepRun", "budget_sweep", "plan_jobs", "run_sweep"]


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
    """What run_sweep hands back: every row in sweep order, and how many were made now vs read back."""

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
    base plan): it runs first, and every other row's displaced cost is measured against it. A scenario whose
    instance is another's (e.g. a budget equal to the base's) takes that one's answer. A sweep of the carbon
    budget alone shares rows made on every worker first, and orders and warm-starts its budgets (budgets.py).
    `on_row(row, done, total)` is called after each save; `extra(job)` adds columns (the factor values)."""
    check_executor(executor, workers)
    workers = default_workers() if workers is None else workers
    workers = 1 if executor == "sequential" else workers   # each task runs as it is handed over
    done = store.open()
    total = len(jobs)
    results: dict[str, dict] = {j.scenario_id: done[j.scenario_id] for j in jobs if j.scenario_id in done}
    reused = len(results)
    nearness = Nearness(base, factors)
    points = {j.scenario_id: nearness.point(j.settings) for j in jobs}
    starts: dict[str, WarmStart] = {}
    names_by_digest: dict[str, list[str]] = {}
    base_job = jobs[0]
    budgets = budget_sweep(base, factors, jobs)
    ledger = Ledger(jobs, budgets) if budgets is not None else None
    waiting: list[tuple[Job, Outcome]] = []   # finished before the base, which they are measured against

    def decisions_of_row(row: dict | None) -> dict:
        return json.loads(row["decisions"]) if row and row.get("decisions") else {}

    def finish(job: Job, outcome: Outcome) -> None:
        if job is not base_job and base_job.scenario_id not in results:
            waiting.append((job, outcome))
            return
        row = dict(outcome.row)
        row.update(scenario=job.label, **(extra(job) if extra else {}))
        base_row = results.get(base_job.scenario_id) if job is not base_job else row
        add_base_relative(row, base_row, decisions_of_row(base_row), outcome.decisions)
        if outcome.names is not None:
            names_by_digest[outcome.names_digest] = outcome.names
        if outcome.x is not None and outcome.names_digest in names_by_digest:
            starts[job.scenario_id] = WarmStart(outcome.x, outcome.names_digest, names_by_digest[outcome.names_digest])
            if ledger is not None:
                ledger.record(job, outcome, starts[job.scenario_id])
        if row["status"] in SAVED_STATUSES:
            store.append(row)
        results[job.scenario_id] = normalize_row(row, store.columns)
        if on_row:
            on_row(results[job.scenario_id], len(results), total)
        for twin in twins.pop(job.scenario_id, []):
            finish(twin, same_as(twin, job, outcome))
        if job is base_job:
            while waiting:
                finish(*waiting.pop(0))

    cuts = None   # a budget-only sweep's per-part rows, made before its scenarios

    def task_for(job: Job) -> Task:
        known, plan = ledger.known(job) if ledger is not None else (None, None)
        start = plan
        if start is None and starts:
            here = points[job.scenario_id]
            start = starts[min(starts, key=lambda sid: nearness.distance(points[sid], here))]
        return Task(job.scenario_id, job.settings, base, solve, start if warm_start else None, cuts, known,
                    plan.names_digest if plan is not None else "",
                    ledger.nearby(job) if ledger is not None and warm_start else (), first_plan=warm_start)

    pending = [j for j in jobs if j.scenario_id not in results]
    twins = same_instances(base, pending)
    pending = [j for j in pending if not any(j in group for group in twins.values())]
    if not pending:
        store.close()
        return SweepRun([results[j.scenario_id] for j in jobs], 0, reused)
    pool = make_executor(executor, workers, scheduler)
    interrupted = False

    def collect(futures: list, failed=None) -> list:
        """The futures' results once all are done; `failed` for one whose worker died."""
        out = []
        while len(out) < len(futures):
            out += [f for f in pool.wait_any([f for f in futures if f not in out])]
        return [failed if f.exception() is not None else f.result() for f in futures]

    try:
        if ledger is not None:
            shares = [CutTask(base, solve, budgets, (i, workers)) for i in range(workers)]
            cuts = joined(collect([pool.submit(make_cuts, share) for share in shares]))
            if cuts is not None:
                pending = ledger.order(pending, cuts.free_carbon, base_job)
        first = pending[0]
        if first is base_job and ledger is None:   # the base first and alone: every other is measured against it
            pending.pop(0)                          # and warm-started from its plan
            outcome, = collect([pool.submit(solve_scenario, task_for(first))], died(first))
            finish(first, outcome)
        running: dict = {}
        while pending or running:
            while pending and len(running) < workers:
                job = pending.pop(0)
                if ledger is not None and (row := ledger.infeasible_row(job)) is not None:
                    finish(job, Outcome(job.scenario_id, {KEY: job.scenario_id, **row}))
                    continue
                running[pool.submit(solve_scenario, task_for(job))] = job
            for future in pool.wait_any(list(running)):
                job = running.pop(future)
                err = future.exception()
                finish(job, future.result() if err is None else died(job, err))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        pool.shutdown(interrupted=interrupted)
        store.close()
    return SweepRun([results[j.scenario_id] for j in jobs], len(results) - reused, reused, interrupted)


def died(job: Job, err: BaseException | None = None) -> Outcome:
    """The row of a scenario whose worker died (killed, out of memory): reported, not saved (retried next run)."""
    detail = f"{type(err).__name__}: {err}" if err is not None else "the worker died"
    return Outcome(job.scenario_id, {KEY: job.scenario_id, "status": ERROR, "detail": detail[:DETAIL_CHARS]})


def same_instances(base: Base, jobs: Sequence[Job]) -> dict[str, list[Job]]:
    """For each job whose instance another later job repeats, those later jobs (they take its answer)."""
    first: dict[str, Job] = {}
    out: dict[str, list[Job]] = {}
    for job in jobs:
        key = document_key(base, job.settings)
        if key is None:
            continue
        if key in first:
            out.setdefault(first[key].scenario_id, []).append(job)
        else:
            first[key] = job
    return out


def same_as(twin: Job, job: Job, outcome: Outcome) -> Outcome:
    """`job`'s answer as `twin`'s: the same instance, so the same plan and proof, said in its detail."""
    note = f"same instance as {job.label}"
    detail = f"{note}: {outcome.row.get('detail', '')}"[:DETAIL_CHARS]
    row = {**outcome.row, KEY: twin.scenario_id, "detail": detail, "solve_s": 0.0}
    return replace(outcome, scenario_id=twin.scenario_id, row=row, names=None)
