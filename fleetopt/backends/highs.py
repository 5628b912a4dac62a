"""HiGHS through highspy: the formulation's arrays handed over in one passModel call."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.errors import ERROR, FEASIBLE, INFEASIBLE, NO_PLAN_IN_TIME, OPTIMAL, UNBOUNDED
from fleetopt.backends.result import SolveOptions, SolveResult, relative_gap
from fleetopt.formulation.model import Formulation


def to_lp(form: Formulation, highspy):
    cost, lb, ub, integer = form.col_arrays()
    a = form.matrix().tocsc()
    lower, upper = form.row_bounds()
    lp = highspy.HighsLp()
    lp.num_col_ = form.n_cols
    lp.num_row_ = form.n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer]
    return lp


def quiet_highs(threads: int | None = None):
    """A Highs object with logging off, on the process's thread pool (`threads`: this run's request, see
    pool_threads; None: the pool the process has, or AUTO_POOL). highspy 1.16 prints its banner inside
    the constructor, before any option can be set, so stdout's file descriptor is pointed at /dev/null for the
    construction only. The descriptor is the process's: threads (parts solved in parallel) take turns, or one
    would save another's /dev/null as the stdout to restore."""
    import highspy

    with _STDOUT_LOCK:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        try:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            pool = pool_threads(0 if threads is None else threads)
            if pool:
                h.setOptionValue("threads", pool)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
    return h


_STDOUT_LOCK = threading.Lock()


def new_highs(options: SolveOptions):
    h = quiet_highs(options.threads)
    h.setOptionValue("output_flag", bool(options.verbose))
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(options.mip_rel_gap))
    h.setOptionValue("random_seed", int(options.seed))
    if options.mip_abs_gap > 0:
        h.setOptionValue("mip_abs_gap", float(options.mip_abs_gap))
    if options.node_limit > 0:
        h.setOptionValue("mip_max_nodes", int(options.node_limit))
    if options.heuristic_effort is not None:
        h.setOptionValue("mip_heuristic_effort", float(options.heuristic_effort))
    if not options.mip_restart:
        h.setOptionValue("mip_allow_restart", False)
    if not options.improve_plans:
        h.setOptionValue("mip_heuristic_run_rins", False)
        h.setOptionValue("mip_heuristic_run_rens", False)
    return h


AUTO_POOL = 1   # HiGHS's pool when the threads are left automatic (0): fleetopt's parallelism is its own (parts
                # and races in threads, each a Highs of its own); HiGHS's default pool (the cores) only adds workers
                # that take the cores those threads need: on 2 cores x10's solve took 14.0-19.8 s wall with it
                # against 12.2-13.7 s without, and global-fleet's no less wall (benchmarks/RESULTS.md, "Issue #12
                # after the seventh session's merges")


def pool_threads(requested: int) -> int:
    """The threads to ask HiGHS for (0: AUTO_POOL). HiGHS makes its thread pool once per process and fails a
    later solve that asks for another size, so the first request, from any backend, sizes it for all."""
    global _POOL_THREADS
    if _POOL_THREADS is None:
        _POOL_THREADS = int(requested) if requested > 0 else AUTO_POOL
    return _POOL_THREADS


_POOL_THREADS: int | None = None


def solve(form: Formulation, options: SolveOptions) -> SolveResult:
    if options.race > 1 and form_has_integers(form):
        return race(form, options)
    return _solve_one(form, options)


def race(form: Formulation, options: SolveOptions) -> SolveResult:
    """`options.race` runs of one MILP in threads, each with its own random seed (seed, seed + 1, ...): the first
    to end with a proven answer (optimal within the gap, infeasible, unbounded) cancels the others and answers.
    Why: HiGHS's tree search is serial and its time varies ~2x over seeds (global-fleet: 6.7-15.3 CPU s over
    seeds 0-3), so on two cores the race takes the faster seed's time. If none proves its answer (time limit),
    the best plan among them answers, with the best bound any proved."""
    runs: list = [None] * options.race
    lock = threading.Lock()
    done = threading.Event()
    finished: list[int] = []   # the runs that proved their answer, in the order they did

    def started(i, h):
        with lock:
            runs[i] = h
            if done.is_set():
                h.cancelSolve()

    def one(i):
        r = _solve_one(form, replace(options, seed=options.seed + i, race=1), lambda h: started(i, h))
        if r.status in (OPTIMAL, INFEASIBLE, UNBOUNDED):
            with lock:
                finished.append(i)
                if not done.is_set():
                    done.set()
                    for j, other in enumerate(runs):
                        if j != i and other is not None:
                            other.cancelSolve()
        return r

    with ThreadPoolExecutor(options.race) as pool:
        results = list(pool.map(one, range(options.race)))
    if finished:
        return results[finished[0]]
    with_plan = [r for r in results if r.objective is not None]
    best = min(with_plan, key=lambda r: r.objective) if with_plan else results[0]
    bounds = [r.bound for r in results if r.bound is not None and np.isfinite(r.bound)]
    if best.objective is None or not bounds:
        return best
    bound = max(bounds)
    return replace(best, bound=bound, gap=relative_gap(best.objective, bound))


def _solve_one(form: Formulation, options: SolveOptions, on_start=None, presolve: bool = True) -> SolveResult:
    """One HiGHS run; `on_start(h)`, if given, receives the Highs object before it runs (to cancel it). A run
    whose reported objective is not its plan's cost (`consistent`) runs once more with presolve off."""
    import highspy

    began = time.monotonic()
    h = new_highs(options)
    if not presolve:
        h.setOptionValue("presolve", "off")
    lp = to_lp(form, highspy)
    h.passModel(lp)
    if options.start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(options.start)
        sol.value_valid = True
        h.setSolution(sol)
    watchdog = _start_watchdog(h, options.time_limit_s)
    if on_start is not None:
        h.HandleUserInterrupt = True   # cancelSolve is honoured only with the interrupt callback on
        on_start(h)
    h.run()
    fired = watchdog is not None and watchdog.fired
    if watchdog is not None:
        watchdog.cancel()
    status = h.getModelStatus()
    info = h.getInfo()
    ms = highspy.HighsModelStatus
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status == ms.kOptimal:
        kind = OPTIMAL
    elif status in (ms.kInfeasible,) or status == ms.kUnboundedOrInfeasible:
        kind = INFEASIBLE
    elif status == ms.kUnbounded:
        kind = UNBOUNDED
    elif status in (ms.kTimeLimit, ms.kIterationLimit, ms.kSolutionLimit, ms.kInterrupt):
        kind = FEASIBLE if has_solution else NO_PLAN_IN_TIME
    else:
        kind = ERROR
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_solution else None
    objective = float(info.objective_function_value) if has_solution else None
    if presolve and not fired and not consistent(form, x, objective):
        left = max(options.time_limit_s - (time.monotonic() - began), 0.01)
        return _solve_one(form, replace(options, time_limit_s=left), on_start, presolve=False)
    bound = float(info.mip_dual_bound) if form_has_integers(form) else objective
    gap = float(info.mip_gap) if has_solution and form_has_integers(form) else (0.0 if has_solution else None)
    detail = h.modelStatusToString(status)
    if fired:
        detail += f" (stopped by the watchdog {watchdog_s(options.time_limit_s):g} s after the start)"
    return SolveResult(status=kind, x=x, objective=objective, bound=bound, gap=gap,
                       solver="highs", solver_version=h.version(), detail=detail, overran=fired)


def consistent(form: Formulation, x: np.ndarray | None, objective: float | None) -> bool:
    """Whether a run's reported objective is its plan's cost (within 1e-6 of sum |c_j x_j|). Why: HiGHS 1.16's presolve
    can map a MIP start into its reduced space with the wrong objective and then return that start's columns
    with another plan's objective and bound, as "optimal": a model with each carbon cut row beside an upper row
    of the same coefficients (tests/solving/test_highs_consistent.py: a start of cost 249.7 returned as 249.1;
    on global-fleet 3,319,129 returned as 3,205,297, below the optimum 3,300,632). With presolve off the same
    model and start solve right, so such a run is made again without it."""
    if x is None or objective is None:
        return True
    cost = form.col_arrays()[0]
    return abs(float(cost @ x) - objective) <= 1e-6 * max(1.0, float(np.abs(cost) @ np.abs(x)))


@dataclass
class LPSolution:
    """An LP relaxation's optimum: column values, row duals and column reduced costs in HiGHS's signs (reduced
    cost = c - A^T y: a <= row that binds in a minimisation has y <= 0)."""
    x: np.ndarray
    row_dual: np.ndarray
    col_dual: np.ndarray
    objective: float


def solve_lp(form: Formulation, threads: int | None = None, *, lower: np.ndarray | None = None,
             upper: np.ndarray | None = None, row_upper: np.ndarray | None = None,
             time_limit_s: float | None = None, seed: int | None = None, handle=None) -> LPSolution | None:
    """The LP relaxation of `form` (integrality dropped) on the process's HiGHS pool (`threads`: see
    quiet_highs); `lower`/`upper`: other column bounds, `row_upper` other row upper bounds; `seed`: HiGHS's
    random_seed (None: its default). None when it has no optimum (or the time ran out). `handle`: a list that
    receives the Highs object (a caller re-solving with changed row bounds: carbon_cuts.lp_prices). One LP
    builder for the separation LP (replica_cover), the carbon row's prices, the plan's polish and pricing."""
    import highspy

    h = quiet_highs(threads)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    if seed is not None:
        h.setOptionValue("random_seed", int(seed))
    lp = to_lp(form, highspy)
    if lower is not None:
        lp.col_lower_ = lower
    if upper is not None:
        lp.col_upper_ = upper
    if row_upper is not None:
        lp.row_upper_ = row_upper
    lp.integrality_ = []
    h.passModel(lp)
    if handle is not None:
        handle.append(h)
    h.run()
    return lp_solution(h)


def lp_solution(h) -> LPSolution | None:
    """What a Highs object that just ran an LP holds: its optimum, or None."""
    import highspy

    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    return LPSolution(np.asarray(sol.col_value, dtype=float), np.asarray(sol.row_dual, dtype=float),
                      np.asarray(sol.col_dual, dtype=float), float(h.getInfo().objective_function_value))


def lp_values(form: Formulation) -> np.ndarray | None:
    """The LP relaxation's column values (None without an optimum), on the process's HiGHS pool: the separation
    LP that decompose hands to formulation/replica_cover.py (scipy's linprog there would cost ~0.2 s of imports)."""
    sol = solve_lp(form)
    return None if sol is None else sol.x


def watchdog_s(time_limit_s: float) -> float:
    """When to cancel a run that overran its time limit (HiGHS does not poll the limit everywhere: on a
    500k-column model it ran 24 CPU-minutes past a 300 s limit): 10% plus 5 s past it."""
    return time_limit_s * 1.1 + 5.0


def _start_watchdog(h, time_limit_s: float):
    if not np.isfinite(time_limit_s):
        return None
    h.HandleUserInterrupt = True  # cancelSolve is honoured only with the interrupt callback on

    def cancel():
        timer.fired = True
        h.cancelSolve()

    timer = threading.Timer(watchdog_s(time_limit_s), cancel)
    timer.fired = False
    timer.daemon = True
    timer.start()
    return timer


def form_has_integers(form: Formulation) -> bool:
    return any(b.integer and b.size for b in form.blocks.values())
