"""Solve a built problem: pick the backend by its declared capabilities, solve (in parts where the shared rows
allow), and read the answer back into a Plan. Each stage is timed for the plan's provenance.

    problem = build_problem(inst)                 # candidates + formulation (pipeline/problem.py)
    plan, result = solve_problem(problem, name, opts)
    plan = solve_instance(inst)                   # both in one call
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np

from fleetopt.backends.capabilities import BACKENDS, UnknownBackend, capabilities, solver_for
from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.errors import INFEASIBLE, OPTIMAL, InputError, Problem as InputProblem, bad_argument
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_bound import with_replica_bounds
from fleetopt.formulation.stray import without_stray_flows
from fleetopt.formulation.twins import with_dominated_fixed
from fleetopt.io.schema import Instance
from fleetopt.pipeline.carbon_cuts import (CarbonCuts, carbon_price_alone, cuts_for_budgets, free_answer, lp_prices,
                                           polished, signature, with_cuts, with_parts_rows)
from fleetopt.pipeline.cluster import DaskCluster
from fleetopt.pipeline.decompose import EXECUTORS, Backend, default_workers, solve_by_parts
from fleetopt.pipeline.problem import ExtraFunctionality, Problem, build_problem
from fleetopt.pipeline.range_start import range_plan, started
from fleetopt.pipeline.start_method import unguarded_main_line
from fleetopt.plan.change import change_summary
from fleetopt.plan.extract import (
    binding_rows,
    monitoring_decisions,
    serving_decisions,
    timeline_summary,
    totals,
    training_decisions,
)
from fleetopt.plan.model import Plan, Provenance
from fleetopt.plan.procurement import add_procurement

__all__ = ["BACKENDS", "Problem", "build_problem", "fleetopt_version", "options_for", "run_backend",
           "solve_instance", "solve_problem"]


def fleetopt_version() -> str:
    try:
        return metadata.version("fleetopt")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def options_for(inst: Instance, *, backend: str | None = None, time_limit_s: float | None = None,
                mip_rel_gap: float | None = None, threads: int | None = None, seed: int | None = None,
                decompose: bool | None = None, executor: str | None = None, scheduler: str | None = None,
                verbose: bool = False) -> tuple[str, SolveOptions]:
    """The backend name and options: what the caller gave, else the instance's `solver:` block. An unknown
    backend or executor name is bad input (InputError), found here, before anything is built. A scheduler
    address given without an executor means dask."""
    cfg = inst.solver
    if executor is None and scheduler is not None:
        executor = "dask"
    if executor is not None and executor not in EXECUTORS:
        raise bad_argument("executor", f"unknown executor {executor!r}; expected {' | '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise bad_argument("scheduler", "a scheduler address is used only with executor dask")

    def pick(given, default):
        return default if given is None else given

    name = pick(backend, cfg.backend)
    executor = pick(executor, cfg.executor)
    if scheduler is None and executor == "dask":
        scheduler = cfg.scheduler
    try:
        capabilities(name)
    except UnknownBackend as err:
        raise InputError([InputProblem(inst.source, "solver.backend" if backend is None else "backend",
                                       str(err))]) from None
    return name, SolveOptions(
        time_limit_s=pick(time_limit_s, cfg.time_limit_s), mip_rel_gap=pick(mip_rel_gap, cfg.mip_rel_gap),
        threads=pick(threads, cfg.threads), seed=pick(seed, cfg.seed), decompose=pick(decompose, cfg.decompose),
        executor=executor, scheduler=scheduler, price_shared=cfg.price_shared, verbose=verbose)


def run_backend(name: str, form: Formulation, options: SolveOptions) -> SolveResult:
    """Solve `form` with the backend `name` (UnknownBackend, a ValueError, if there is none such)."""
    caps = capabilities(name)
    if form.n_cols == 0:  # nothing to decide (no job, no demand): the empty plan is optimal, whatever the backend
        return SolveResult(status=OPTIMAL, x=np.zeros(0), objective=0.0, bound=0.0, gap=0.0, solver=name,
                           solver_version="", detail="nothing to decide")
    solve = solver_for(name)
    if not options.decompose:
        return solve(form, options)
    # parts run in threads only where the backend declares it safe (HiGHS releases the GIL; Pyomo and MathOpt
    # models are Python objects); a backend without absolute gap and node limit gets each part's relative gap
    workers = default_workers(options.threads)
    if options.executor == "dask" and not options.scheduler and (where := unguarded_main_line()):
        # LocalCluster workers are spawned, and a spawned process imports the main script again: this one would
        # solve anew in every worker (pipeline/start_method.py)
        print(f"note: {Path(where[0]).name}:{where[1]} lacks `if __name__ == \"__main__\":`; parts run in threads",
              file=sys.stderr)
        options = replace(options, executor="threads")
    if options.executor == "dask":
        options = replace(options, race=1)
        # worker processes run any backend (each imports it by name); the cluster lives as long as the solve, and
        # the time it takes to start counts against the time limit
        started = time.monotonic()
        with DaskCluster(workers, options.scheduler) as cluster:
            left = replace(options, time_limit_s=max(options.time_limit_s - (time.monotonic() - started), 0.01))
            return solve_by_parts(form, Backend(solve, budgets=caps.budgets, name=name, cluster=cluster), left)
    if options.race > 1:   # a race on the whole model only: parts already share the cores
        solve = _racing_whole(solve, form.n_cols)
    parts = Backend(solve, budgets=caps.budgets, workers=workers if caps.parallel else 1, name=name)
    return solve_by_parts(form, parts, options)


def _racing_whole(solve, n_cols: int):
    """`solve` that keeps SolveOptions.race on a model of `n_cols` columns (the whole one) and sets it to 1 on
    the parts (backends/highs.py races; the other backends ignore it)."""
    return lambda f, o: solve(f, o if f.n_cols == n_cols else replace(o, race=1))


AUTO_CUTS_COLS = 5_000   # above this many columns a single solve makes no carbon rows unless asked: x10 (20k
                         # columns, nothing shared binds) would solve every part alone for them, without the parts'
                         # shared gap budget (pipeline/decompose.py)


STRONG_PRICE = True   # automatic rows where only the carbon row binds: priced by the LP with the parts' own rows,
                      # which the whole MILP keeps (carbon_cuts.with_parts_rows)
STRONG_SHARE = 0.1    # of the time limit, at most, for those rows


def cuts_pay(form: Formulation, options: SolveOptions) -> bool:
    """Whether a single solve makes per-part carbon rows by default (pipeline/carbon_cuts.py), once the LP shows
    its budget binds: a model with a carbon budget row, static (over time slices every price solves every slice's
    part: global-fleet-hourly took 14x the CPU with them), under AUTO_CUTS_COLS columns, solved in parts in this
    process (the rows' parts run in threads: a Dask cluster or --no-decompose asked for something else)."""
    budget = form.families.get("carbon_budget")
    return (budget is not None and budget.size == 1 and np.isfinite(budget.upper[0]) and form.time is None
            and form.n_cols <= AUTO_CUTS_COLS and options.decompose and options.executor == "threads")


def strong_model(form: Formulation, options: SolveOptions, workers: int, reuse: bool = False) -> Formulation:
    """`form` with the parts' own rows (carbon_cuts.with_parts_rows; `reuse`: those of this process's last model
    of the same signature), made in `workers` threads within STRONG_SHARE of the time limit: the strong carbon
    path's model, for a single solve (`_automatic_cuts`) and a sweep's rows and budgets (`_strong_sweep`,
    whatif/worker.make_cuts)."""
    return with_parts_rows(form, workers, options, time.monotonic() + STRONG_SHARE * options.time_limit_s, reuse)


def _automatic_cuts(inst: Instance, solved_form: Formulation, solver_form: Formulation,
                    options: SolveOptions) -> tuple[bool, np.ndarray | None, Formulation]:
    """Whether a single solve makes per-part carbon rows (`cuts_pay`, and the LP prices the budget), at which
    prices, and the model the MILP then solves. Where the LP prices the carbon row alone, the parts' own rows
    come first (carbon_cuts.with_parts_rows): the LP with them prices carbon near the Lagrangian dual's
    maximiser, and the whole MILP keeps them (valid rows: same plans, same optimum)."""
    if not cuts_pay(solved_form, options):
        return False, None, solver_form
    prices, alone = carbon_price_alone(solved_form, options.threads)
    if STRONG_PRICE and options.replica_bound is not False and alone:
        strong = strong_model(solver_form, options, default_workers(options.threads))
        prices = lp_prices(strong, [inst.policy.carbon_budget_t], options.threads)
        return bool((prices > 0).any()), prices, strong
    return bool((prices > 0).any()), prices, solver_form


def _strong_sweep(solved_form: Formulation, solver_form: Formulation, backend: str, options: SolveOptions) -> bool:
    """Whether a budget handed a sweep's rows (carbon_cuts.CarbonCuts) solves the model with the parts' own rows,
    as a single solve on the strong path does (`_automatic_cuts`): where the rows pay (`cuts_pay`), on HiGHS, the
    rows not refused (replica_bound False) nor already there. global-fleet's 32-budget sweep: 51.9 s -> 36 s at
    load 3.5, its budgets' MILPs 4.3 s -> 2.8 s at the median (benchmarks/RESULTS.md, ninth session)."""
    return (backend == "highs" and solver_form is solved_form and options.replica_bound is not False
            and cuts_pay(solved_form, options))


def _started(form: Formulation, cuts: CarbonCuts, options: SolveOptions) -> SolveOptions:
    """`options` with the plan of range_start.range_plan as the whole MILP's start, HiGHS's restarts off
    (range_start.started); the time it took comes off the limit. Unchanged but for that when it finds no plan.
    Asked only where the carbon row alone joins the parts: decompose keeps that row, so the model stays one part
    and the options reach its MILP alone (pricing starts at lagrange.PRICE_MIN_PARTS parts, and decompose's parts
    get their own starts). With a start, HiGHS's sub-MIP heuristics are off (`improve_plans`): the range's plan
    is the optimum or next to it, and RINS and RENS took half the MILP's CPU seeking a better one (global-fleet,
    seeds 0-5: 1.06-1.35 CPU s with them, 0.41-0.67 without; benchmarks/RESULTS.md, eleventh session)."""
    t0 = time.perf_counter()
    options = started(options, range_plan(form, cuts, options), t0)
    return options if options.start is None else replace(options, improve_plans=False)


def solve_problem(problem: Problem, backend: str, options: SolveOptions,
                  carbon_cuts: CarbonCuts | bool | None = None) -> tuple[Plan, SolveResult | None]:
    """Solve a built problem and read the answer back in the user's names. The result is None when
    screening already shows that no plan exists (nothing was handed to a solver). `carbon_cuts`: per-part
    Lagrangian rows made on this model or one that differs only in its carbon budget (a sweep's base,
    pipeline/carbon_cuts.py): a budget the parts' free plans meet is answered by them, else the rows are added.
    True: make them here, at the carbon row's LP price; False: none; None (default): make them where they pay
    (`cuts_pay`: a static model under AUTO_CUTS_COLS columns, solved in parts in threads) and the whole LP prices
    the budget (it binds); global-fleet 1.46x and scarce x1 1.4-3.4x less CPU side by side, global-fleet-hourly
    14x more (benchmarks/RESULTS.md). Where the LP prices the carbon row alone, the rows are priced by the LP
    with the parts' own rows, which the whole MILP keeps (`_automatic_cuts`). Time spent making them counts
    against the time limit."""
    inst, tc, sc, form = problem.inst, problem.training, problem.serving, problem.form
    timing = dict(problem.timing)
    provenance = Provenance(
        instance=inst.name, instance_file=inst.source, input_sha256=inst.digest, fleetopt_version=fleetopt_version(),
        solver=backend, solver_version="",
        options={"time_limit_s": options.time_limit_s, "mip_rel_gap": options.mip_rel_gap,
                 "threads": options.threads, "seed": options.seed, "decompose": options.decompose,
                 "executor": options.executor, "price_shared": options.price_shared,
                 "presolve_twins": options.presolve_twins, "race": options.race},
        model_size=form.summary(), timing_s=timing)
    stats = {j: dict(v) for j, v in tc.stats.items()}
    unroutable = [{"service": s, "population": u, "reason": why} for s, u, why in sc.unroutable]
    screened = problem.screening_problems()
    if screened:
        return Plan(status=INFEASIBLE, detail="; ".join(screened), objective_name=form.objective_name,
                    objective=None, bound=None, gap=None, unroutable=unroutable, candidates=stats,
                    provenance=provenance), None
    t0 = time.perf_counter()
    # options that twins replace at no loss fixed at zero, and the bound rows appended, on copies that add no
    # column: the solution reads back on `form`
    solved_form = with_dominated_fixed(form)[0] if options.presolve_twins else form
    solver_form = with_replica_bounds(solved_form, sc) if options.replica_bound else solved_form
    prices, plain_form = None, solver_form
    if carbon_cuts is None:   # automatic: where they pay, and only once the LP shows the budget binds
        carbon_cuts, prices, solver_form = _automatic_cuts(inst, solved_form, solver_form, options)
    # joined by the carbon row alone (the parts' rows added: `_automatic_cuts`)
    carbon_alone = solver_form is not plain_form
    result, made_here = None, carbon_cuts is True
    if carbon_cuts is True and inst.policy.carbon_budget_t is not None:
        # joined by the carbon row alone, its LP binds at the strong price, so the parts' plans with carbon free
        # would not meet the budget: no rows at price 0 (global-fleet: 0.5-1 CPU s of part MILPs); the start's
        # range takes the LP's values instead (range_start.range_plan); the parts solved with their own rows (the
        # model's: valid rows, same part optima; ~25% less solve CPU on global-fleet)
        carbon_cuts = cuts_for_budgets(solved_form, [inst.policy.carbon_budget_t], backend, options,
                                       default_workers(options.threads), prices=prices, free=not carbon_alone,
                                       parts_of=solver_form if carbon_alone else None)
        options = replace(options, time_limit_s=max(options.time_limit_s - (time.perf_counter() - t0), 0.01))
    # cuts made on `form` hold on its restriction; cuts made on the restriction hold on every budget's (the
    # options fixed do not depend on the budget)
    made_on = None
    if isinstance(carbon_cuts, CarbonCuts):
        tried = (form,) if solved_form is form else (form, solved_form)
        made_on = next((f for f in tried if signature(f) == carbon_cuts.signature), None)
    if made_on is not None:
        result = free_answer(made_on, carbon_cuts, options, backend)
        if result is None and not made_here and _strong_sweep(solved_form, solver_form, backend, options):
            # a sweep's budget: its MILP keeps the parts' own rows too, made once per process
            solver_form = strong_model(solver_form, options, default_workers(options.threads), reuse=True)
        solver_form = with_cuts(solver_form, carbon_cuts)
    if result is None and made_here and carbon_alone and made_on is not None and backend == "highs":
        options = _started(solver_form, carbon_cuts, options)
    if result is None:
        result = run_backend(backend, solver_form, options)
        if isinstance(carbon_cuts, CarbonCuts) and solver_form is not form:
            result = polished(form, result)
    if result.x is not None:   # traffic left within the solver's tolerance on options without replicas
        result = replace(result, x=without_stray_flows(form, result.x))
    timing["solve"] = time.perf_counter() - t0
    if made_here and isinstance(carbon_cuts, CarbonCuts):
        timing["carbon_cuts"] = carbon_cuts.seconds   # the share of "solve" that made them
    provenance.solver_version = result.solver_version
    provenance.decomposition = result.decomposition
    offset = form.objective_offset   # reserved commitments: paid whatever the plan (formulation/families.py)
    plan = Plan(status=result.status, detail=result.detail, objective_name=form.objective_name,
                objective=None if result.objective is None else result.objective + offset,
                bound=None if result.bound is None else result.bound + offset, gap=result.gap, candidates=stats,
                timeline=timeline_summary(form), provenance=provenance)
    if result.x is not None:
        t0 = time.perf_counter()
        plan.training = training_decisions(tc, result.x, form)
        plan.serving = serving_decisions(sc, result.x, form)
        monitoring_decisions(sc, problem.monitoring, result.x, form, plan.serving)
        plan.totals = totals(inst, plan.training, plan.serving)
        add_procurement(inst, tc, sc, form, result.x, plan.training, plan.serving, plan.totals)
        plan.binding = binding_rows(form, result.x)
        plan.change = change_summary(inst, tc, sc, form, result.x)   # against the deployed fleet, if any
        timing["extract"] = time.perf_counter() - t0
    plan.provenance.timing_s = timing
    return plan, result


def solve_instance(inst: Instance, *, backend: str | None = None, time_limit_s: float | None = None,
                   mip_rel_gap: float | None = None, threads: int | None = None, seed: int | None = None,
                   decompose: bool | None = None, executor: str | None = None, scheduler: str | None = None,
                   verbose: bool = False, extra_functionality: ExtraFunctionality | None = None,
                   replica_bound: bool | None = None, carbon_cuts: bool | None = None) -> Plan:
    """Plan the fleet of `inst`. Options left as None come from the instance's `solver:` block;
    `extra_functionality(form, problem)` adds your own rows and columns (pipeline/problem.py), on any backend;
    executor="dask" runs the parts on a Dask cluster (`scheduler`: its address; none: a LocalCluster);
    `replica_bound` adds each service's whole-replica bound as a row (formulation/replica_bound.py): True on
    every service from the start, False never, None (default) on the parts a first round leaves open;
    `carbon_cuts` adds per-part Lagrangian rows on the carbon budget (pipeline/carbon_cuts.py): True always,
    False never, None (default) where they pay (`cuts_pay`)."""
    name, options = options_for(inst, backend=backend, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                                threads=threads, seed=seed, decompose=decompose, executor=executor,
                                scheduler=scheduler, verbose=verbose)
    options.replica_bound = replica_bound
    plan, _ = solve_problem(build_problem(inst, extra_functionality), name, options, carbon_cuts=carbon_cuts)
    return plan
