"""Solve the fleet MILP part by part: jobs and services that no binding shared row joins are separate MILPs.

Why: branch and bound on the whole fleet multiplies the trees of independent parts (x10 tier at a 60 s limit:
0.57% gap whole, 0.1% in parts; benchmarks/RESULTS.md). How, for a gap G (`mip_rel_gap`):
  1. Solve the LP relaxation without the shared rows, part by part: a lower bound, each part's share of it, and
     the shared rows it overfills (or fills, or would overfill with its integers rounded up): those bind.
  2. Keep those rows (the parts they join are solved together) and leave the other shared rows out: what is left
     is a relaxation of the fleet MILP, and it falls apart into parts (formulation/split.py).
  3. Solve the parts, in parallel threads with HiGHS or as tasks on a Dask cluster (`_run`), within a gap
     budget: the sum over parts of (objective - bound) may reach G x the LP bound (<= G x the objective). A
     part whose LP solution is already integral needs none of it; the others share it in proportion to their LP
     value. Parts run in rounds with a node limit (FIRST_NODE_LIMIT, then NODE_GROWTH x a round; after the first
     round the last open part runs without one, `_node_limit`); after each,
     what finished parts left unused is shared again among the rest in proportion to their open gaps, and the
     smallest open gaps that fit in half of what is spare are accepted as they are. Node limits end a round, so
     the plan is the same on every run, whichever executor runs the parts, unless the first round meets its clock
     (FIRST_ROUND_SHARE of the time limit: then the parts keep the plans they have, and one left without any gets
     its LP plan rounded up where that holds: `_fallback`). Every part runs with its dominated serving options
     fixed at zero (formulation/dominated.py: same optimum, fewer options to branch on). A static part whose LP is
     fractional starts its first round with the whole-replica bound rows (formulation/replica_bound.py) of its
     services of up to three populations, the covering-program rows (formulation/cover_bound.py) of larger ones
     and the rounded cover rows (formulation/replica_cover.py) of those of up to four, made in the thread that
     solves it (`_with_rows_up_front`); a part the first round leaves open runs on with the whole-replica and
     cover rows of every service and the flow-program rows of those its covering program gave a row (its
     covering-program rows left out: they slow the longer searches; its first round's bound is kept), made as
     its first round ends where its gap is over the whole budget (`_rows_early`), and a part over time slices
     gets its rows only then (valid rows, so its plans and
     bounds are the part's; SolveOptions.replica_bound None, the default).
     A whole model that the kept rows join gets none by default: global-fleet gains 1.2-1.9x with them, scarce
     x1 loses (benchmarks/RESULTS.md); replica_bound=True adds them.
     Over time slices such a part is also taken apart by slice (pipeline/slices_apart.py): a plan with its
     horizon columns fixed and each slice solved alone, and a bound row per slice from that slice's own MIP.
  4. Check the rows left out. If all hold, the joined plan is feasible for the whole model and the sum of the
     parts' bounds is a valid bound: done. Else keep the violated rows and go back to 2.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from fleetopt.errors import ERROR, FEASIBLE, INFEASIBLE, NO_PLAN_IN_TIME, OPTIMAL, UNBOUNDED
from fleetopt.backends.capabilities import solver_for
from fleetopt.backends.result import SolveOptions, SolveResult, proven_bound, relative_gap
from fleetopt.formulation.dominated import part_without_dominated
from fleetopt.formulation.model import ROW_TOL, Formulation, row_tolerance
from fleetopt.formulation.replica_bound import form_knapsacks, with_form_replica_bounds
from fleetopt.formulation.split import Part, components, relaxed, shared_rows, split
from fleetopt.pipeline.cluster import DaskCluster, solve_named
from fleetopt.pipeline.part_rows import part_with_rows
from fleetopt.pipeline.slices_apart import holds, plan_with_horizon_fixed, whole_in_many_slices, with_slice_bounds

EXECUTORS = ("threads", "dask")   # where parts run: threads in this process, or tasks on a Dask cluster
FIRST_NODE_LIMIT = 200
NODE_GROWTH = 4
FIRST_ROUND_SHARE = 0.5   # the first round ends by this share of the time left, its node limit or not
SLICE_GAP = 1e-4          # relative gap of each slice's own MIP (pipeline/slices_apart.py)
BOUND_SHARE = 0.25        # the slices' own MIPs for bound rows end by this share of the time left
UP_FRONT_POPULATIONS = 3  # static parts: whole-replica rows before the first round on services this small

SolveOne = Callable[[Formulation, SolveOptions], SolveResult]


@dataclass
class Backend:
    solve: SolveOne
    budgets: bool = True     # takes mip_abs_gap and node_limit (else each part gets the relative gap alone)
    workers: int = 1         # parts solved at once in threads
    name: str = ""           # the backend's name in capabilities.BACKENDS: what a Dask worker imports
    cluster: DaskCluster | None = None   # set: parts run as tasks on this Dask cluster, not in threads

    def __post_init__(self) -> None:
        """A worker runs the backend named, not `solve`: a wrapped solve would be skipped there without a word."""
        if self.cluster is not None and (not self.name or self.solve is not solver_for(self.name)):
            raise ValueError(f"parts on a Dask cluster run backend {self.name!r} by its name; its `solve` must be "
                             "that backend's own (put model changes in the Part's Formulation)")

    @property
    def executor(self) -> str:
        """Which executor runs the parts (the plan's decomposition record says it)."""
        return "threads" if self.cluster is None else "dask"


def solve_by_parts(form: Formulation, backend: Backend, options: SolveOptions) -> SolveResult:
    """The whole model's answer, reached part by part where the shared rows allow (else one whole solve); its
    decomposition record names the executor that ran the parts."""
    result = _by_parts(form, backend, options)
    if result.decomposition is not None:
        result.decomposition = {**result.decomposition, "executor": backend.executor}
    return result


def _by_parts(form: Formulation, backend: Backend, options: SolveOptions) -> SolveResult:
    deadline = time.monotonic() + options.time_limit_s
    shared = shared_rows(form)
    if not shared.any():
        return backend.solve(form, options)
    lp = _lp_apart(form, ~shared, backend, options, deadline)
    if lp is None:   # a part's LP has no optimum: the whole-model solve reports infeasible or unbounded itself
        return backend.solve(form, _until(options, deadline))
    a = form.matrix()
    lower, upper = form.row_bounds()
    cost, _, _, integer = form.col_arrays()
    # a shared row binds where the LP that ignores it overfills it; integers rounded up foretell most rows that
    # whole replicas will overfill (global-fleet's carbon budget: 295 t in the LP, 307 t rounded up, 300 t
    # allowed), and keeping them now saves a round
    rounded_up = np.where(integer, np.ceil(lp.x - 1e-9), lp.x)
    kept = ~shared | _off_slack(a @ lp.x, lower, upper) | _off_slack(a @ rounded_up, lower, upper)
    solved: dict[bytes, SolveResult] = {}
    rounds, pricing = 0, options.price_shared is not False
    while True:
        rounds += 1
        if pricing and (kept & shared).any():   # price the shared rows that bind, not merge their parts
            from fleetopt.pipeline.lagrange import solve_priced
            priced = solve_priced(form, shared, _run, backend, options, deadline, lp.x)
            if priced is not None:
                return priced
            pricing = False
        labels = components(form, kept)
        if labels.max(initial=0) == 0:   # one part: the shared rows that bind join everything
            whole = backend.solve(form, _until(options, deadline))
            if whole.status == NO_PLAN_IN_TIME:
                whole = _fallback(Part(form, np.arange(form.n_cols), np.arange(form.n_rows)), whole, lp.x, cost)
            whole.decomposition = _summary(form, kept & shared, 1, rounds)
            return whole
        parts = split(form, labels, kept)
        _solve_parts(parts, solved, backend, options, lp, cost, deadline, _slice_labels(form))
        results = [solved[_key(p)] for p in parts]
        failed = _first_failure(parts, results)
        if failed is not None:
            failed.decomposition = _summary(form, kept & shared, len(parts), rounds)
            return failed
        x = _joined_x(form, parts, results)
        violated = shared & ~kept & _off_slack(a @ x, lower, upper, violated_only=True)
        if not violated.any():
            return _joined(parts, results, x, options, form, kept & shared, rounds)
        if time.monotonic() >= deadline or any(r.overran for r in results):
            return SolveResult(status=NO_PLAN_IN_TIME, x=None, objective=None, bound=None, gap=None,
                               solver=results[0].solver, solver_version=results[0].solver_version,
                               detail="time limit reached before the parts' plans met the shared rows",
                               decomposition=_summary(form, kept & shared, len(parts), rounds))
        kept |= violated


def _lp_apart(form: Formulation, kept: np.ndarray, backend: Backend, options: SolveOptions,
              deadline: float) -> SolveResult | None:
    """The LP relaxation without the shared rows, solved part by part (on x100 the whole LP took over ten
    minutes; its 1,000 parts take seconds). Its value is a lower bound on the fleet's optimum."""
    parts = split(relaxed(form), components(form, kept), kept)
    opts = [replace(options, start=None, mip_abs_gap=0.0, node_limit=0)] * len(parts)
    results = _run(backend, parts, opts, deadline)
    if any(r.status != OPTIMAL for r in results):
        return None
    objective = float(sum(r.objective for r in results))
    return SolveResult(status=OPTIMAL, x=_joined_x(form, parts, results), objective=objective, bound=objective,
                       gap=0.0, solver=results[0].solver if results else "", solver_version="")


def _joined_x(form: Formulation, parts: list[Part], results: list[SolveResult]) -> np.ndarray:
    """The parts' column values written back into the whole model's columns."""
    x = np.zeros(form.n_cols)
    for p, r in zip(parts, results):
        x[p.cols] = r.x
    return x


def _solve_parts(parts: list[Part], solved: dict, backend: Backend, options: SolveOptions, lp: SolveResult,
                 cost: np.ndarray, deadline: float, slices: frozenset[str] = frozenset()) -> None:
    """Solve the parts not solved in an earlier round, within the gap budget (module docstring, step 3);
    `slices`: the model's time-slice labels (empty on a static model)."""
    todo = [p for p in parts if _key(p) not in solved]
    if not todo:
        return
    if not backend.budgets:
        opts = replace(options, start=None)
        for p, r in zip(todo, _run(backend, todo, [opts] * len(todo), deadline)):
            solved[_key(p)] = r
        return
    done = [solved[_key(p)] for p in parts if _key(p) in solved]
    lp_value = np.array([float(cost[p.cols] @ lp.x[p.cols]) for p in todo])
    weight = np.where([_fractional(p, lp.x) for p in todo], np.maximum(lp_value, 0.0), 0.0)
    budget = options.mip_rel_gap * max(float(lp.objective), 0.0) - sum(_gap(r) for r in done)
    allowance = budget * weight / weight.sum() if weight.sum() > 0 else np.zeros(len(todo))
    best: list[SolveResult | None] = [None] * len(todo)
    # what each part runs as: without its dominated options, then with its services' replica_bound rows too
    running = list(todo)
    reduced = list(todo)   # each part without its dominated options, set as its first round starts
    # the rows that pay on every fractional static part, made in the first round (whose batch is every part, in
    # order) by the thread that solves it
    rows_up_front = not slices and options.replica_bound is None
    prepare = _first_round(todo, reduced, weight > 0 if rows_up_front else np.zeros(len(todo), dtype=bool))
    pending = list(range(len(todo)))
    node_limit = FIRST_NODE_LIMIT
    apart = _bound_slices(todo, running, backend, options, deadline, slices)
    round_ends = _first_round_clock(deadline)
    starts: dict[int, np.ndarray] = {}   # a part's plan from its slices solved apart: where its next round starts
    early: dict[int, Part] = {}   # the next round's rows of a part sure to run again, made as its first round ended
    after = _rows_early(todo, reduced, apart, slices, budget, round_ends, early) if rows_up_front else None
    while pending:
        opts = [replace(options, start=starts.get(i), mip_rel_gap=0.0, mip_abs_gap=max(float(allowance[i]), 1e-6),
                        node_limit=_node_limit(node_limit, i in apart, len(pending))) for i in pending]
        batch_parts = [running[i] for i in pending]
        batch = _run(backend, batch_parts, opts, round_ends, prepare, after=after)
        for i, p in zip(pending, batch_parts):
            running[i] = p
        round_ends, prepare, after = deadline, None, None
        for i, r in zip(pending, batch):
            best[i] = _better(best[i], r)
        if time.monotonic() >= deadline or any(r.overran for r in batch):   # past the limit: nothing more to run
            break
        still = [i for i in pending if best[i].status in (FEASIBLE, NO_PLAN_IN_TIME)
                 and _gap(best[i]) > allowance[i]]
        # the budget grows with the best bound known (still <= the optimum); finished parts keep what they used
        bound = sum(proven_bound(r) for r in done) + sum(proven_bound(r) for r in best)
        spare = (options.mip_rel_gap * max(float(lp.objective), bound, 0.0) - sum(_gap(r) for r in done)
                 - sum(_gap(best[i]) for i in range(len(todo)) if i not in still))
        gaps = np.array([_gap(best[i]) for i in still])
        if not still or (np.isfinite(gaps).all() and gaps.sum() <= spare):
            break
        # the smallest open gaps stay as they are while they fit in half the spare; only the rest run again
        order = np.argsort(gaps, kind="stable")
        accepted = int((np.cumsum(gaps[order]) <= spare / 2).sum())
        again = np.sort(order[accepted:])
        left = spare - gaps[order[:accepted]].sum()
        pending = [still[k] for k in again]
        share = gaps[again] if np.isfinite(gaps[again]).all() else np.maximum(lp_value[pending], 1e-9)
        allowance[pending] = max(left, 0.0) * share / share.sum()
        if options.replica_bound is None and node_limit == FIRST_NODE_LIMIT:
            _plan_slices_apart([i for i in pending if i in apart], todo, best, starts, backend, options, deadline,
                               slices, lp.x)
            prepare = _open_rows_in_time(pending, apart, reduced, running, deadline, slices, early)
        node_limit *= NODE_GROWTH
    for i, (p, r) in enumerate(zip(todo, best)):
        r = r if r.x is not None else _fallback(p, r, lp.x, cost, backend, options, deadline,
                                                slices if i in apart else frozenset())
        solved[_key(p)] = _at_least_lp(r, lp_value[i])


def _first_round(todo: list[Part], reduced: list[Part], rows: np.ndarray) -> Callable[[int, Part], Part]:
    """What a part runs its first round as, made in the thread that solves it: without its dominated options
    (formulation/dominated.py; into `reduced[k]`), and where `rows[k]`, with its rows up front
    (`_with_rows_up_front`). A part whose first round runs on another model (`_bound_slices`' rows) keeps it.
    x10: the dominated options of 100 parts took 0.55 s of the main thread before the round (benchmarks/RESULTS.md,
    branch x10m)."""
    def prepare(k: int, p: Part) -> Part:
        if p is todo[k]:
            p = reduced[k] = part_without_dominated(p)
        return _with_rows_up_front(p) if rows[k] else p
    return prepare


def _at_least_lp(r: SolveResult, lp_value: float) -> SolveResult:
    """A part's result whose bound is below its LP value by more than a tolerance (a part the clock stopped
    before its root LP: bound -inf or 0) bounded by that value instead: the part's LP (the union of the LP
    parts it holds) is a relaxation of it."""
    if r.objective is None or proven_bound(r) >= lp_value - 1e-6 * max(1.0, abs(lp_value)):
        return r
    return replace(r, bound=lp_value, gap=relative_gap(r.objective, lp_value))


def _open_rows_in_time(pending: list[int], apart: set[int], todo: list[Part], running: list[Part],
                       deadline: float, slices: frozenset[str],
                       early: dict[int, Part] | None = None) -> Callable[[int, Part], Part]:
    """What the next round's batch (`pending`, in order) runs as: a part the first round left open with the rows
    of `_open_part_rows` (a part whose rows all came up front, `_with_rows_up_front`, keeps them; a part taken
    apart by slice gets none), made in the thread that then solves it (chat-5's flow-program row, 1-2 CPU s,
    while chat-4 runs), while BOUND_SHARE of the time left lasts: after a first round the clock ended, 62 parts of
    global-fleet-hourly were open and their rows took 23 s at load 22, past the time limit. `early`: such rows
    made already, as part i's first round ended (`_rows_early`): the same rows, taken as they are."""
    ends = time.monotonic() + BOUND_SHARE * max(deadline - time.monotonic(), 0.0)
    early = early or {}
    rows = [_gets_open_rows(i, apart, todo, running, slices) for i in pending]

    def prepare(k: int, p: Part) -> Part:
        i = pending[k]
        if i in early:
            return early[i]
        if not rows[k] or time.monotonic() >= ends:
            return p
        return _open_part_rows(todo[i], slices, _flow_services(todo[i], running[i]))
    return prepare


def _gets_open_rows(i: int, apart: set[int], todo: list[Part], running: list[Part], slices: frozenset[str]) -> bool:
    """Whether part i, left open by its first round, runs on with `_open_part_rows`' rows."""
    return i not in apart and (bool(slices) or running[i] is todo[i]
                               or bool(_services(todo[i].form, more_than=UP_FRONT_POPULATIONS)))


def _flow_services(plain: Part, first: Part) -> set[str] | None:
    """The services whose flow program (formulation/flow_bound.py) an open part's rows solve: those its first
    round's covering program gave a row (`first` ran with its rows up front; None: it had none, so all of them).
    Where the covering program, the flow program's relaxation with every rate raised to its largest, stays under
    the LP's floor, the flows lose more than the whole replicas gain, and the flow program's integer search must
    make up that loss before it states anything: x10's chat-small-10 (covering 82,548 under its floor 83,299)
    ran its flow program to the 10,000-node limit, 1.6-2.0 CPU s, for no row (benchmarks/RESULTS.md)."""
    if first is plain:
        return None
    fam = first.form.families.get("replica_cover_bound")
    return {str(k[0]) for k in fam.keys} if fam is not None else set()


def _rows_early(todo: list[Part], plain: list[Part], apart: set[int], slices: frozenset[str], budget: float,
                ends: float, early: dict[int, Part]) -> Callable[[int, Part, SolveResult], None]:
    """A first round's hook, run in the thread that solved part k as its solve returns: a static part whose gap
    is over the whole gap budget runs again whatever the other parts leave spare (only gaps within half of what is
    spare are accepted), so the rows its next round runs with (`_open_rows_in_time`) are made now, into
    `early[k]`, while other parts' first rounds still run, not after all of them have ended (x10's chat-5 and
    chat-4: their flow programs, 2.1 + 0.8 CPU s, were a round of their own on two cores). The same rows, so the
    same answers; made only while the round's clock lasts."""
    def after(k: int, part: Part, r: SolveResult) -> None:
        if (slices or k in apart or r.objective is None or _gap(r) <= budget or time.monotonic() >= ends
                or part is plain[k] or not _services(plain[k].form, more_than=UP_FRONT_POPULATIONS)):
            return
        early[k] = _open_part_rows(plain[k], slices, _flow_services(plain[k], part))
    return after


def _open_part_rows(p: Part, slices: frozenset[str] = frozenset(), flow_services: set[str] | None = None) -> Part:
    """The rows of a part a first round left open: over time slices its whole-replica bound rows
    (`_with_replica_bounds`; no cover rows: their sets multiply by slice), else those of every service with the
    rounded cover rows and, for services of more than UP_FRONT_POPULATIONS populations, the flow-program row
    (formulation/flow_bound.py) in place of the first round's covering-program row (pipeline/part_rows.py).
    x10's chat-5: its flow row takes the root bound from 629,832 to 635,204 (optimum 635,723) and its solve
    from 10.3 to 2.6 CPU s; chat-4's (811,843, its plan's replica cost) closes it at its root. `flow_services`:
    only these services' flow programs (None: all; `_flow_services`)."""
    if slices:
        return _with_replica_bounds(p, slices)
    return part_with_rows(p, flows_over=UP_FRONT_POPULATIONS, flow_services=flow_services)


def _node_limit(node_limit: int, apart: bool, open_parts: int = 2) -> int:
    """A round's node limit for a part; a part taken apart by slice needs from its first round only a plan whose
    horizon decisions its slices then improve on (chat: the root's plan), so that round stops at the root. After
    the first round, the last open part runs without one (0), to its allowance: the rounds' node limits only share
    the gap budget among open parts, and each round starts its tree anew (x10's chat-5 ran rounds of 3,200 and
    12,800 nodes alone, 7.9 and 8.2 CPU s, the second proving from scratch what the first had not)."""
    if open_parts == 1 and node_limit > FIRST_NODE_LIMIT:
        return 0
    return 1 if apart and node_limit == FIRST_NODE_LIMIT else node_limit


def _first_round_clock(deadline: float) -> float:
    """When the parts' first round ends at the latest: FIRST_ROUND_SHARE of the time left. Node limits end it on
    an idle machine; under load (global-fleet-hourly at load 4-6: round 1 unfinished at 60 s) the clock does, so
    the next round, the slices apart and the fallbacks still have time: a part the clock stopped keeps its plan,
    and one that had none (or had not started) runs again in the next round with the time that is left."""
    now = time.monotonic()
    return now + FIRST_ROUND_SHARE * max(deadline - now, 0.0)


def _bound_slices(todo: list[Part], running: list[Part], backend: Backend, options: SolveOptions,
                  deadline: float, slices: frozenset[str]) -> set[int]:
    """Parts with whole numbers in many slices (pipeline/slices_apart.py) run from their first round with a
    slice_bound row per slice from each slice's own MIP, in place of the per-slice replica_bound rows (the same
    relaxation solved exactly; chat: the group relaxation took 4.3 CPU s for no row, the exact one 5 CPU s for
    +8,170 on its LP), while BOUND_SHARE of the time left lasts. Valid rows on the part's own columns. Returns
    every part with whole numbers in many slices (each taken apart by slice later, bounded or not)."""
    if not slices or options.replica_bound is False:
        return set()
    labels = sorted(slices)
    ends = time.monotonic() + BOUND_SHARE * max(deadline - time.monotonic(), 0.0)   # a MIP stopped early still bounds
    done = {i for i, p in enumerate(todo) if whole_in_many_slices(p.form, labels)}
    for i in sorted(done, key=lambda k: todo[k].form.n_cols):   # the small ones first: they are quick to bound
        if time.monotonic() < ends:
            p = todo[i]
            running[i] = Part(with_slice_bounds(p.form, labels, _runner(backend, ends), _exact(options)),
                              p.cols, p.rows)
    return done


def _plan_slices_apart(idx: list[int], todo: list[Part], best: list, starts: dict, backend: Backend,
                       options: SolveOptions, deadline: float, slices: frozenset[str], lp_x: np.ndarray) -> None:
    """Open parts with whole numbers in many slices, largest open gap first while time is left: a plan from the
    part's best one or its LP solution rounded up, whichever is cheaper (global-fleet-hourly's assistant-eu had
    no plan, or a poor one, after its first round at load 7-14) with its horizon columns fixed and each slice
    solved alone (pipeline/slices_apart.py); the part's next round starts from it."""
    labels = sorted(slices)
    for i in sorted(idx, key=lambda k: -_gap(best[k])):
        if time.monotonic() >= deadline:
            continue
        p = todo[i]
        x0 = _rounded_up(p, lp_x)   # the start: that or the part's plan, the cheaper (assistant-eu: 165,813
        if best[i].x is not None and (not holds(p.form, x0) or best[i].objective < cost_of(p.form, x0)):
            x0 = best[i].x          # against a first round's 2,901,720 at load 7)
        x = plan_with_horizon_fixed(p.form, labels, x0, _runner(backend, deadline), _exact(options))
        if x is not None:
            best[i] = _better(best[i], _plan_of(p.form, x, best[i]))
            starts[i] = best[i].x


def cost_of(form: Formulation, x: np.ndarray) -> float:
    return float(form.col_arrays()[0] @ x)


def _rounded_up(p: Part, lp_x: np.ndarray) -> np.ndarray:
    """The part's LP solution with its whole numbers rounded up."""
    integer = p.form.col_arrays()[3]
    x = lp_x[p.cols].copy()
    x[integer] = np.ceil(x[integer] - 1e-9)
    return x


def _runner(backend: Backend, deadline: float) -> Callable[[list[Part], list[SolveOptions]], list[SolveResult]]:
    return lambda parts, opts: _run(backend, parts, opts, deadline)


def _exact(options: SolveOptions) -> SolveOptions:
    """Options for one slice's own MIP: solved to SLICE_GAP, no node limit, no start."""
    return replace(options, start=None, mip_rel_gap=SLICE_GAP, mip_abs_gap=0.0, node_limit=0)


def _plan_of(form: Formulation, x: np.ndarray, like: SolveResult) -> SolveResult:
    """A plan of a part found outside its solver (its bound: the one `like` proved)."""
    objective = float(form.col_arrays()[0] @ x)
    return SolveResult(status=FEASIBLE, x=x, objective=objective, bound=like.bound,
                       gap=relative_gap(objective, like.bound), solver=like.solver,
                       solver_version=like.solver_version, detail="its slices solved apart")


def _fallback(p: Part, r: SolveResult, lp_x: np.ndarray, cost: np.ndarray, backend: Backend | None = None,
              options: SolveOptions | None = None, deadline: float = 0.0,
              slices: frozenset[str] = frozenset()) -> SolveResult:
    """A part left without a plan (its rounds ran out of time): its LP solution with every whole number rounded
    up, where that holds every row of the part (replicas rounded up still carry the routed load), else `r`; a
    part taken apart by slice (`slices` given) first tries that point with its slices solved again alone (each a
    small MIP, given a second past the deadline at most: rounding every fractional replica up buys one per option
    and slice). Its bound: the better of `r`'s and the part's LP value (a relaxation of the part)."""
    x = _rounded_up(p, lp_x)
    if slices and backend is not None:
        again = plan_with_horizon_fixed(p.form, sorted(slices), x, _runner(backend, max(deadline,
                                        time.monotonic() + 1.0)), _exact(options))
        x = x if again is None else again
    if not holds(p.form, x):
        return r
    objective = float(cost[p.cols] @ x)
    bound = max(proven_bound(r), float(cost[p.cols] @ lp_x[p.cols]))
    return SolveResult(status=FEASIBLE, x=x, objective=objective, bound=bound, gap=relative_gap(objective, bound),
                       solver=r.solver, solver_version=r.solver_version, overran=r.overran,
                       detail="time limit reached: its LP plan with whole numbers rounded up")


def _with_replica_bounds(p: Part, slices: frozenset[str] = frozenset()) -> Part:
    """The part with a replica_bound row per service whose whole-replica bound beats its LP
    (formulation/replica_bound.py): valid rows on the part's own columns, so its plans and bounds stay the
    part's. Over time slices, one row per service and slice where every route stays in its slice."""
    per_slice = _per_slice_replica_bounds(p.form, slices) if slices else None
    return Part(per_slice or with_form_replica_bounds(p.form), p.cols, p.rows)


def _with_rows_up_front(p: Part) -> Part:
    """A static part with fractional replicas, before its first round: the whole-replica bound rows of its services
    of up to UP_FRONT_POPULATIONS populations, the covering-program rows of larger ones and the rounded cover rows
    of those of up to four (pipeline/part_rows.part_with_rows). On x10 they take 0.1-0.4 CPU s a part and close in
    one run what a plain first round leaves open (summarize-7: its row lifts the LP from 459,349 to 460,504
    against an optimum of 460,555; chat-10: the covering row lifts it from 773,309 to 781,203 and the root bound
    to the optimum 781,693); a four-population service's whole-replica bound falls under its LP
    (formulation/replica_bound.py), so it gets none."""
    return part_with_rows(p, most_populations=UP_FRONT_POPULATIONS, programs_over=UP_FRONT_POPULATIONS)


def _services(form: Formulation, more_than: int) -> set[str]:
    """The part's services (formulation/replica_bound.form_knapsacks) with more than `more_than` populations that
    have demand."""
    return {name for name, _, sk in form_knapsacks(form) if int((sk.demand > 0).sum()) > more_than}


def _per_slice_replica_bounds(form: Formulation, slices: frozenset[str]) -> Formulation | None:
    """`form` with one replica_bound row per (service, slice): each slice's demand is met by that slice's
    replicas alone, so each is a knapsack of its own, and the sum of per-slice roundings bounds tighter than one
    per service (global-fleet-hourly's assistant-eu part: proven in 3.3 s, against 0.13% open at 12 s).
    None unless every replica, flow and demand key ends in a slice label and every route stays in its slice."""
    n, f = form.blocks.get("replicas"), form.blocks.get("flow")
    cap, dem = form.families.get("replica_capacity"), form.families.get("demand")
    if n is None or f is None or cap is None or dem is None:
        return None
    keyed = [n.keys, f.keys, dem.keys]
    if not all(k and k[-1] in slices for keys in keyed for k in keys):
        return None
    slice_of = {name: np.array([k[-1] for k in keys], dtype=object)
                for name, keys in zip(("replicas", "flow", "demand"), keyed)}
    # a route's slice must be its replica's (capacity row) and its demand row's
    for fam, block in ((cap, "replicas"), (dem, "demand")):
        on_flow = (fam.cols >= f.start) & (fam.cols < f.start + f.size)
        row_slice = np.empty(fam.size, dtype=object)
        if block == "replicas":
            on_rep = (fam.cols >= n.start) & (fam.cols < n.start + n.size)
            row_slice[fam.rows[on_rep]] = slice_of["replicas"][fam.cols[on_rep] - n.start]
        else:
            row_slice[:] = slice_of["demand"]
        if (row_slice[fam.rows[on_flow]] != slice_of["flow"][fam.cols[on_flow] - f.start]).any():
            return None
    # form_knapsacks groups by a key's first element: name each group "service@slice" on a relabelled copy
    relabelled = form.copy()
    relabelled.blocks["replicas"] = replace(n, keys=[(f"{k[0]}@{k[-1]}",) + tuple(k[1:]) for k in n.keys])
    relabelled.families["demand"] = replace(dem, keys=[(f"{k[0]}@{k[-1]}",) + tuple(k[1:]) for k in dem.keys])
    bounded = with_form_replica_bounds(relabelled).families.get("replica_bound")
    out = form.copy()
    if bounded is not None:
        out.add_rows("replica_bound", [tuple(k[0].rsplit("@", 1)) for k in bounded.keys], bounded.rows,
                     bounded.cols, bounded.vals, lower=bounded.lower, units=bounded.units, meaning=bounded.meaning)
    return out


def _slice_labels(form: Formulation) -> frozenset[str]:
    """The time-slice labels of a model over more than one slice; empty on a static one."""
    return frozenset(form.time.slices.labels) if form.time is not None else frozenset()


def _better(old: SolveResult | None, new: SolveResult) -> SolveResult:
    """Two runs on one part: the lower plan and the higher bound (both stay valid)."""
    if old is None or old.objective is None:
        return new
    if new.status not in (OPTIMAL, FEASIBLE, NO_PLAN_IN_TIME):
        return new
    plan = new if new.objective is not None and new.objective < old.objective else old
    bound = max(proven_bound(old), proven_bound(new))
    status = OPTIMAL if OPTIMAL in (old.status, new.status) else plan.status
    return replace(plan, bound=bound, status=status, gap=relative_gap(plan.objective, bound),
                   overran=old.overran or new.overran)


def _run(backend: Backend, parts: list[Part], opts: list[SolveOptions], deadline: float,
         prepare: Callable[[int, Part], Part] | None = None, in_order: bool = False,
         after: Callable[[int, Part, SolveResult], None] | None = None) -> list[SolveResult]:
    """Solve parts, in part order: on the backend's Dask cluster, else in threads where the backend allows; each
    with the time left when it starts. Every round of every caller dispatches its parts here. `prepare(k, part)`:
    a change of part k made before its solve, in the thread that solves it (one part's rows are computed while
    another's MILP runs), written back into `parts`. In threads the largest parts start first (rows x integer
    columns), so a round does not wait on a long MILP that started last; node limits, not the order, decide what
    each part returns. `in_order`: they start in list order instead, where the clock may cut the round and the
    caller put first what matters most (lagrange._worth_first: x100's recommend parts, 0.03 s each, hold 9.5M of
    its 293M bound, and started last by size the clock left them at their LPs: bound 285M). `after(k, part,
    result)`: run in the thread that solved part k as its solve returns (threads only)."""
    if backend.cluster is not None:
        parts[:] = parts if prepare is None else [prepare(k, p) for k, p in enumerate(parts)]
        # a task is the part's arrays and options plus the backend's name, never a closure; the deadline travels
        # as wall-clock time since the monotonic clock means nothing in another process
        ends_at = time.time() + (deadline - time.monotonic())
        return backend.cluster.map(solve_named, [backend.name] * len(parts), [p.form for p in parts], opts,
                                   [ends_at] * len(parts))

    def one(k):
        if prepare is not None:
            parts[k] = prepare(k, parts[k])
        left = max(deadline - time.monotonic(), 0.01)
        r = backend.solve(parts[k].form, replace(opts[k], time_limit_s=min(opts[k].time_limit_s, left)))
        if after is not None:
            after(k, parts[k], r)
        return r

    workers = max(1, min(backend.workers, len(parts)))
    if workers == 1:
        return [one(k) for k in range(len(parts))]
    order = list(range(len(parts))) if in_order else sorted(range(len(parts)), key=lambda k: -_size(parts[k]))
    results: list[SolveResult | None] = [None] * len(parts)
    with ThreadPoolExecutor(workers) as pool:
        for k, r in zip(order, pool.map(one, order)):
            results[k] = r
    return results


def _size(p: Part) -> int:
    """What orders a round's parts, largest first: rows x integer columns (x10: chat 340 x 147, summarize
    120 x 117)."""
    return p.form.n_rows * int(p.form.col_arrays()[3].sum())


def _joined(parts, results, x, options, form, kept_shared, rounds) -> SolveResult:
    objective = float(sum(r.objective for r in results))
    bound = float(sum(proven_bound(r) for r in results))
    gap = relative_gap(objective, bound)
    within = gap <= options.mip_rel_gap * (1 + 1e-9) + 1e-12
    status = OPTIMAL if within else FEASIBLE   # short of the gap only when the time limit stopped a part
    detail = (f"solved as {len(parts)} independent parts" if status == OPTIMAL
              else f"time limit reached: {len(parts)} parts joined at a gap of {gap:.2e}")
    overran = any(r.overran for r in results)
    if overran:
        detail += "; a part ran past its time limit and was stopped by the watchdog"
    return SolveResult(status=status, x=x, objective=objective, bound=bound, gap=gap, solver=results[0].solver,
                       solver_version=results[0].solver_version, detail=detail, overran=overran,
                       decomposition=_summary(form, kept_shared, len(parts), rounds))


def _first_failure(parts: list[Part], results: list[SolveResult]) -> SolveResult | None:
    """A part with no plan makes the whole have none: infeasible (a relaxation is), unbounded, error, or time."""
    for status in (INFEASIBLE, UNBOUNDED, ERROR, NO_PLAN_IN_TIME):
        for p, r in zip(parts, results):
            if r.status == status:
                return SolveResult(status=status, x=None, objective=None, bound=None, gap=None, solver=r.solver,
                                   solver_version=r.solver_version,
                                   detail=f"{r.detail} (in the part with {p.form.col_names()[0]})")
    return None


def _summary(form: Formulation, kept_shared: np.ndarray, n_parts: int, rounds: int) -> dict:
    names = form.row_names()
    return {"parts": n_parts, "rounds": rounds, "shared_rows_kept": [names[i] for i in np.flatnonzero(kept_shared)]}


def _until(options: SolveOptions, deadline: float) -> SolveOptions:
    return replace(options, time_limit_s=max(deadline - time.monotonic(), 0.01))


def _off_slack(activity, lower, upper, violated_only: bool = False) -> np.ndarray:
    """Rows at (or past, with violated_only: only past) a bound, within ROW_TOL relative."""
    tol = row_tolerance(lower, upper, ROW_TOL)
    sign = 1.0 if violated_only else -1.0
    return (activity > upper + sign * tol) | (activity < lower - sign * tol)


def _fractional(p: Part, x_lp: np.ndarray) -> bool:
    _, _, _, integer = p.form.col_arrays()
    v = x_lp[p.cols[integer]]
    return bool(np.any(np.abs(v - np.round(v)) > 1e-6))


def _gap(r: SolveResult) -> float:
    if r.objective is None:
        return math.inf
    return max(r.objective - proven_bound(r), 0.0)


def _key(p: Part) -> bytes:
    return p.cols.tobytes() + b"|" + p.rows.tobytes()


def default_workers(threads: int) -> int:
    return threads if threads > 0 else (os.cpu_count() or 1)
