"""The worker side of a sweep: one scenario in, one row (and the solution vector for warm starts) out.

Everything a worker receives and returns is plain picklable data, so the same function runs in this process,
in a local process pool or on a Dask worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from fleetopt.errors import ERROR, InputError, bad_argument, check_number, check_whole
from fleetopt.whatif.scenario import Base, instance_for
from fleetopt.whatif.spec import Setting
from fleetopt.whatif.store import KEY

LOG = logging.getLogger(__name__)

DETAIL_CHARS = 300
MAX_THREADS = 1024
MAX_SEED = 2**31 - 1  # HiGHS random_seed is a C int
# HiGHS's mip_heuristic_effort for a carbon sweep's binding budgets (its default 0.05): their root bound is the
# rows' Lagrangian bound, ~1e-3 short where whole replicas meet the budget, and an early near-optimal plan prunes
# the tree that closes it (global-fleet, 5 budgets x 2-3 seeds: 0.3 took 24% less CPU; benchmarks/RESULTS.md)
SWEEP_HEURISTIC_EFFORT = 0.3
# the sweep's rows: each part solved to the scenarios' gap over this (parts proven to 1e-4 leave each row's bound
# up to 1e-4 under the part's minimum, as much as the whole gap; global-fleet: same CPU for the rows at 1e-6,
# budgets whose Lagrangian bound is within ~1e-4 of the optimum then close at the root; benchmarks/RESULTS.md)
ROWS_GAP_FACTOR = 100.0
# the sweep's rows also at this many times the highest LP price: the parts' plans there carry less carbon than
# the tightest budget, so the range a binding budget's first plan is sought in (whatif/neighbourhood.py) reaches
# under it before any tighter budget is solved (global-fleet: 155 t's range held no plan without them)
REACH = 2.0
# a binding budget whose start lies within this of the rows' bound there runs without HiGHS's RINS and RENS
# (`proving_only`): global-fleet's 32-budget sweep 15-19 s against 19-23 s, three pairs in turn, its 16 MILPs summed
# 19-23 s against 23-29; with them off everywhere the budgets whose first plan is ~2% off (185-190 t) took 4-7 s
# against 3 (benchmarks/RESULTS.md, twelfth session)
PROVE_ONLY_GAP = 1e-3


@dataclass(frozen=True)
class SolveSettings:
    """Solver options for every scenario; None = the instance's `solver:` block. Threads default to 1 per
    solve because the sweep's parallelism is across scenarios."""

    backend: str | None = None
    time_limit_s: float | None = None
    mip_rel_gap: float | None = None
    threads: int | None = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        """Bad values fail here, before any solve, naming the argument (the CLI names its option)."""
        from fleetopt.backends.capabilities import BACKENDS

        if self.backend is not None and self.backend not in BACKENDS:
            raise bad_argument("backend", f"unknown backend {self.backend!r}; expected {' | '.join(BACKENDS)}")
        if self.time_limit_s is not None:
            check_number("time_limit_s", self.time_limit_s, 0, 1e9, low_open=True)
        if self.mip_rel_gap is not None:
            check_number("mip_rel_gap", self.mip_rel_gap, 0, 1)
        if self.threads is not None:
            check_whole("threads", self.threads, 0, MAX_THREADS)
        if self.seed is not None:
            check_whole("seed", self.seed, 0, MAX_SEED)

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
    carbon_cuts: object | None = None   # pipeline/carbon_cuts.CarbonCuts of the base, for a budget-only sweep
    known: object | None = None         # carbon_cuts.Known: what the sweep's neighbours proved at this budget
    known_digest: str = ""              # the columns known.x is on
    nearby: tuple = ()                  # WarmStarts: plans solved at the nearest budgets (whatif/neighbourhood.py)
    first_plan: bool = True             # a binding budget starts from neighbourhood.first_plan (a warm start)


@dataclass
class CutTask:
    """A share of a budget sweep's per-part Lagrangian rows, made on the base (pipeline/carbon_cuts.py)."""

    base: Base
    solve: SolveSettings
    budgets: tuple
    share: tuple[int, int]


@dataclass
class Outcome:
    scenario_id: str
    row: dict
    x: np.ndarray | None = None
    names_digest: str = ""
    names: list[str] | None = None
    decisions: dict = field(default_factory=dict)
    bound: float | None = None          # the solver's proven bound, in the model's objective (no offset)
    carbon_row: float | None = None     # the plan's t CO2e in the carbon budget row (None: no such row)


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
    from fleetopt.pipeline.solve import options_for, solve_problem

    t0 = time.perf_counter()
    row: dict = {KEY: task.scenario_id}
    try:
        inst = instance_for(task.base, task.settings)
    except InputError as err:
        row.update(status="bad_input", detail="; ".join(str(p) for p in err.problems)[:DETAIL_CHARS])
        return Outcome(task.scenario_id, row)
    try:
        problem = problem_for(inst, task)
        names = problem.form.col_names()
        digest = names_digest(names)
        s = task.solve
        backend, options = options_for(inst, backend=s.backend, time_limit_s=s.time_limit_s,
                                       mip_rel_gap=s.mip_rel_gap, threads=s.threads, seed=s.seed)
        if task.start is not None and len(names):
            options.start = start_vector(task.start, digest, names)
        if task.carbon_cuts is not None:
            options.heuristic_effort = SWEEP_HEURISTIC_EFFORT
        cuts = task.carbon_cuts
        known = task.known
        if known is not None and task.known_digest != digest:
            known = replace(known, x=None)
        if cuts is not None and task.first_plan and backend == "highs" and binds(inst, cuts):
            known, options = with_first_plan(problem, cuts, known,
                                             [p.x for p in task.nearby if p.names_digest == digest], options)
        if cuts is not None and known is not None:
            cuts = replace(cuts, known=known)
        if cuts is not None and options.start is not None:
            options = proving_only(options, problem.form, cuts, inst.policy.carbon_budget_t)
        plan, result = solve_problem(problem, backend, options, carbon_cuts=cuts)
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
    carbon_row = None
    if result is not None and result.x is not None:
        from fleetopt.pipeline.carbon_cuts import carbon_coefficients

        carbon = carbon_coefficients(problem.form)
        carbon_row = None if carbon is None else float(carbon @ result.x)
    return Outcome(task.scenario_id, row, x=None if result is None else result.x, names_digest=digest,
                   names=None if same_columns else names, decisions=decisions,
                   bound=None if result is None else result.bound, carbon_row=carbon_row)


NEIGHBOURHOOD = "a MILP over its neighbours' plans"   # the source named in a row answered by that plan


def binds(inst, cuts) -> bool:
    """The scenario's carbon budget is under the carbon of the parts' plans with carbon left free (its own MILP
    is needed, unless a neighbour's plan answers it)."""
    budget = inst.policy.carbon_budget_t
    return budget is not None and cuts.plans is not None and budget < cuts.free_carbon * (1 - 1e-6)


def proving_only(options, form, cuts, budget: float | None):
    """`options` with HiGHS's plan-seeking sub-MIPs (RINS, RENS) off where its start is within PROVE_ONLY_GAP of
    the rows' bound at `budget` (carbon_cuts.CarbonCuts.bound_at): that MILP has its plan, or one next to it, and
    only proves it; a start further off keeps them, as the search needs them there (module constant)."""
    if budget is None or options.start is None:
        return options
    start_cost = float(form.col_arrays()[0] @ options.start)
    if start_cost - cuts.bound_at(float(budget)) <= PROVE_ONLY_GAP * max(abs(start_cost), 1.0):
        return replace(options, improve_plans=False)
    return options


def with_first_plan(problem, cuts, known, nearby: list, options):
    """(`known` with the plan of whatif/neighbourhood.first_plan in place of its plan when cheaper (or when it
    has none), `options` with that plan as the MILP's start, restarts off: range_start.started); the time it
    took comes off the limit. Both unchanged but for that when none is found (or the search fails: an aid)."""
    from fleetopt.formulation.twins import with_dominated_fixed
    from fleetopt.pipeline.carbon_cuts import Known
    from fleetopt.pipeline.range_start import started
    from fleetopt.whatif.neighbourhood import first_plan

    t0 = time.perf_counter()
    form = with_dominated_fixed(problem.form)[0] if options.presolve_twins else problem.form
    plans = nearby + ([known.x] if known is not None and known.x is not None else [])
    try:
        x = first_plan(form, cuts, plans, options)
    except Exception as err:  # noqa: BLE001 - without a first plan the scenario's MILP still solves
        _aid_failed("no first plan from the neighbours' plans", err)
        x = None
    options = started(options, x, t0)
    if x is None:
        return known, options
    cost = problem.form.col_arrays()[0]
    if known is not None and known.x is not None and cost @ known.x <= cost @ x + 1e-9 * abs(cost @ x):
        return known, options
    return replace(known or Known(), x=x, source=NEIGHBOURHOOD), options


_BUILT: dict = {}   # this process's last budget sweep: its base's digest -> a problem built for one budget


def problem_for(inst, task: Task):
    """build_problem(inst); in a sweep of the carbon budget alone (the task carries its rows), the problem built
    here for another budget with only the budget row's bound set anew: the budget enters nothing else (the
    carbon_budget family of formulation/families.py; no candidate reads it)."""
    from fleetopt.pipeline.problem import Problem, build_problem

    budget = inst.policy.carbon_budget_t
    built = _BUILT.get(task.base.digest)
    if task.carbon_cuts is None or budget is None or built is None:
        problem = build_problem(inst)
        if task.carbon_cuts is not None:
            _keep(task.base.digest, problem)
        return problem
    t0 = time.perf_counter()
    fam = built.form.families["carbon_budget"]
    form = replace(built.form, families={**built.form.families,
                                         "carbon_budget": replace(fam, upper=np.array([float(budget)]))})
    return Problem(inst, built.training, built.serving, built.monitoring, form,
                   {"build": time.perf_counter() - t0})


def _keep(digest: str, problem) -> None:
    """Keep `problem` as this process's build of the sweep's base (problem_for), when it has a budget row."""
    if problem.inst.policy.carbon_budget_t is not None:
        _BUILT.clear()
        _BUILT[digest] = problem


def make_cuts(task: CutTask):
    """The task's share of the rows (carbon_cuts.CarbonCuts), or None when the base has none (no carbon row,
    one part, a part without a plan in time, screened infeasible, or any failure: the sweep then solves
    without rows)."""
    from fleetopt.formulation.twins import with_dominated_fixed
    from fleetopt.pipeline.carbon_cuts import cuts_for_budgets, lp_prices
    from fleetopt.pipeline.problem import build_problem
    from fleetopt.pipeline.solve import cuts_pay, options_for, strong_model

    try:
        inst = instance_for(task.base, ())
        problem = build_problem(inst)
        if problem.screening_problems():
            return None
        _keep(task.base.digest, problem)   # the worker's scenarios reuse this build (problem_for)
        s = task.solve
        backend, options = options_for(inst, backend=s.backend, time_limit_s=s.time_limit_s,
                                       mip_rel_gap=s.mip_rel_gap, threads=s.threads, seed=s.seed)
        # made on the model with its twins fixed, as solve_problem solves it (it accepts rows made on either):
        # the parts are smaller (global-fleet's summarize 2-6x less CPU, formulation/twins.py)
        form = with_dominated_fixed(problem.form)[0] if options.presolve_twins else problem.form
        options = replace(options, mip_rel_gap=options.mip_rel_gap / ROWS_GAP_FACTOR)
        prices, strong = None, None
        given = [float(b) for b in task.budgets if b is not None]
        if given and options.replica_bound is not False and cuts_pay(form, options):
            # priced by the LP with the parts' own rows, as a single solve on the strong path (near each budget's
            # Lagrangian maximiser), the parts solved with them; the budgets' MILPs reuse them (solve._strong_sweep)
            strong = strong_model(form, options, workers=1, reuse=True)
            prices = lp_prices(strong, given, options.threads)
        return cuts_for_budgets(form, task.budgets, backend, options, workers=1, share=task.share, reach=REACH,
                                prices=prices, parts_of=strong)
    except Exception as err:  # noqa: BLE001 - rows are an aid: without them every scenario still solves
        _aid_failed("no carbon rows for the sweep", err)
        return None


def _aid_failed(what: str, err: Exception) -> None:
    """One warning line where an aid to the sweep failed: the answers stay exact (each budget's own MILP), but a
    failure here is a bug or a slower sweep, and must not pass unseen."""
    LOG.warning("%s (%s: %s); the budgets are solved without it", what, type(err).__name__, err)


def die_with_parent() -> None:
    """Pool workers: ignore Ctrl-C (the parent handles it) and, on Linux, die when the parent dies, so a
    killed sweep leaves no solver running."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
