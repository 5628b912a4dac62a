"""Price the shared rows instead of merging the parts they join (Lagrangian relaxation).

Why: when stock, power, storage, link or carbon rows bind, keeping them joins every job and service into one
model (scarce x10: no plan in 60 s). Relaxed with prices p, the model falls apart again, and every p gives a
valid bound. Source: Geoffrion 1974, "Lagrangean relaxation for integer programming", Math. Prog. Study 2;
Fisher 1981, "The Lagrangian relaxation method for solving integer programming problems", Mgmt. Sci. 27(1).

For shared rows l <= A x <= u with prices p (p >= 0 where only u is finite, p <= 0 where only l is, free on an
equality), every x of the parts' feasible sets gives
    L(p) = sum over parts of min (c + A^T p) x  -  sum_i (p_i u_i if p_i > 0 else p_i l_i)   <=   optimum,
and a part solved to a gap still counts, with its proven bound in place of its minimum. How:
  0. On a model under WHOLE_LP_COLS columns each part gets its services' whole-replica bound and rounded cover
     rows (formulation/replica_bound.py, replica_cover.py; valid rows on its own columns), parts whose LP loses
     most by rounding first, within ROWS_SHARE of the time: its LP then comes close to its MILP.
  1. Prices start at 0 (the LP without the shared rows, decompose._lp_apart, is that round), or, on a model
     under WHOLE_LP_COLS columns with such rows (or forced pricing on a model of few parts), from the shared
     rows' duals in the whole LP relaxation with the parts' rows (scarce x10: 30.10M at once, where the part
     LPs' rounds reached 28.9M and the MILP rounds 30.0M); then one part-LP round, for its plans.
  2. A plan first: rounds of the parts' LPs (warm in HiGHS, pipeline/warm_lps.py) bound the whole at each price
     and, rounded up, give each part plans; the restricted master (pipeline/master.py) picks one plan per part
     meeting every shared row, and its LP's duals are the next prices. No whole model is needed: x100 has a
     plan from these rounds alone.
  3. Rounds of part MILPs (through decompose._run: threads, or a Dask cluster), warm-started, node-limited, start
     where the LPs bound best; their plans join the master. Over WHOLE_LP_COLS (no part has rows from step 0)
     the parts whose LP loses more by rounding than they may leave open get their rows in their own thread
     right before their first MILP. Prices move by the master's duals and by a subgradient
     step (Polyak: step = theta (plan - L) / |g|^2, theta halved after STALL rounds without a better bound) in turn.
     After the first round (at the best prices known) the parts that left most of its gap open are solved again
     closer (_tightened), and (over WHOLE_LP_COLS) where its joined plan breaks a shared row, the row's largest
     users are solved with shares of the rows as their own (pipeline/moved_off.py), for the master. On a model under
     WHOLE_LP_COLS a repair also runs: the whole model with the parts' whole-replica rows, restricted to the integer
     columns any round, pooled plan (or an LP) used (plus, on a model of few parts, the next best by LP reduced
     cost, widened until it has a plan), from the best plan; after a repair that found no better plan, the next
     waits until those columns have grown by REPAIR_GROWTH. After every round the rows its plans leave idle are
     priced at zero for a bound of their own (pipeline/idle_rows.py). Over WHOLE_LP_COLS, when another round of
     every part would not end before the clock, the time left solves the parts that left most open closer
     instead (_tightened) and the master picks again.
  4. Stop at the gap (plan - best L) / plan <= mip_rel_gap, on the clock (rounds end by the time limit less
     MASTER_RESERVE), or when theta has halved three times (the bound has stalled at the duality gap).
If rounds run out first, the caller gets the best plan with its bound; solve_priced may go on with the whole
model (only under WHOLE_LP_COLS columns).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions, SolveResult, proven_bound, relative_gap
from fleetopt.errors import ERROR, FEASIBLE, INFEASIBLE, NO_PLAN_IN_TIME, OPTIMAL, UNBOUNDED
from fleetopt.formulation.dominated import part_without_dominated
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import Part, components, relaxed, split, with_col_bounds, with_cost
from fleetopt.pipeline.idle_rows import with_idle_rows_free
from fleetopt.pipeline.master import PlanPool, improve_by_swaps, lp_prices, rounded_plan, solve_master
from fleetopt.pipeline.moved_off import moved_off
from fleetopt.pipeline.part_rows import (Strong, part_with_rows, plain, strengthened, with_part_rows,
                                         with_rows_of)
from fleetopt.pipeline.warm_lps import WarmLPs

LOG = logging.getLogger(__name__)   # one debug line per round: what it cost and reached

PRICE_MIN_PARTS = 20     # price_shared=None (automatic) prices only models that fall apart into this many parts
ROUNDS = 30              # price rounds at most
STALL = 3                # rounds without a better bound before the step halves
MIN_THETA = 0.2          # pricing stops once the step has halved this often (three times)
PART_NODES = 50          # node limit of each part per round (grows by NODE_GROWTH as the step shrinks)
FIRST_GAP = 1e-2         # the parts' gap in the first round (then half the open gap, down to mip_rel_gap)
NODE_GROWTH = 4
REPAIR_NODES = 2000      # node limit of the restricted whole model
LP_SHARE = 0.25          # of the time limit, at most, for the whole LP that gives the first prices
WHOLE_LP_COLS = 100_000  # above this many columns no whole model is solved (its LP for prices, its MILP after
                         # pricing, the repair): x100's 650k-column LP took ~80 s of wall, its MILP hours
LP_ROUNDS = 12           # column-generation rounds on the part LPs before any part MILP
LP_ROUNDS_SHARE = 0.3    # of the time left, at most, for those rounds
LP_STALL = 1e-3          # once there is a plan, LP rounds stop when one's bound lies within this share of the
                         # best before it (x100: +0.07% from round 4 to 5, and the one MILP round had 750 of
                         # 1,000 parts done at the deadline)
MASTER_RESERVE = 0.05    # of the time limit (at least 1 s) kept for the master after the last round
MASTER_SHARE = 0.05      # of the time limit (at least 2 s), at most, for each master MILP
ROWS_SHARE = 0.25        # of the time limit, at most, for the parts' whole-replica rows (part_rows.py)
TIGHTEN_OPEN = 0.8       # the first round's parts re-solved closer: those holding this share of its open gap,
TIGHTEN_PARTS = 20       # at most this many,
TIGHTEN_NODES = 8        # with this many times the round's nodes,
TIGHTEN_SHARE = 0.1      # within this share of the time limit
SHARE_TIME = 0.1         # after the first round, on a model over WHOLE_LP_COLS, parts moved off the rows its
                         # plans overfill (pipeline/moved_off.py) within this share of the time limit
ROWS_EARLY_PARTS = 400   # over WHOLE_LP_COLS, at most this many parts get their rows before their first MILP
                         # (memory: every part's rows at once cost x100 0.8 GB)
POLISH_SHARE = 0.25      # of the time limit (at least 2 s), at most, for each repair (the restricted whole model)
REPAIR_GROWTH = 1.25     # after a repair that found no better plan, the next needs this many times its columns


@dataclass
class Priced:
    """What pricing reached: the best plan (x, objective), the best bound and its prices, rounds run."""
    x: np.ndarray | None
    objective: float
    bound: float
    prices: np.ndarray
    rounds: int            # rounds of part MILPs
    bounds: list[float]    # L(p) of every round (each a valid bound), the part LPs' rounds first
    lp_rounds: int = 0     # rounds of part LPs (before the MILPs)
    part_lp: np.ndarray | None = None   # each part's LP value at `prices` (with the LP rounds' best bound)
    solver: str = ""
    solver_version: str = ""


def price_shared(form: Formulation, shared: np.ndarray, run, backend, options: SolveOptions,
                 deadline: float, lp_x: np.ndarray | None = None,
                 start_prices: np.ndarray | None = None) -> Priced | SolveResult | None:
    """Solve with every shared row priced. `run(backend, parts, opts, deadline)` solves parts (decompose._run).
    Returns Priced, or a SolveResult when a part has no plan (a relaxation: the whole has none), or None when
    the shared rows join nothing (one part), or, automatic (price_shared None), fewer than PRICE_MIN_PARTS
    parts. start_prices: the first prices (else the whole LP's duals, on a model small enough for it).
    lp_x: the LP without the shared rows (decompose._lp_apart), whose rounded parts are the first plans."""
    labels = components(form, ~shared)
    if labels.max(initial=0) + 1 < (PRICE_MIN_PARTS if options.price_shared is None else 2):
        return None
    t0 = time.monotonic()
    parts = split(form, labels, ~shared)
    if form.n_cols <= WHOLE_LP_COLS:   # above, no whole LP turns the rows into prices (x100 at load 7-12: making
        # them cost two part-LP rounds, bound 292.4M -> 288.7M, and 0.8 GB)
        parts = strengthened(parts, form, lp_x, backend, options,
                             min(deadline, t0 + ROWS_SHARE * options.time_limit_s))
    a = form.matrix()
    a_shared = a[np.flatnonzero(shared)]
    lower, upper = (v[shared] for v in form.row_bounds())
    cost, _, _, integer = form.col_arrays()
    strong = any(isinstance(q, Strong) for q in parts)
    # the whole model with the parts' whole-replica rows (valid rows: the same plans): the repair's model, its
    # LP close to its MILP (scarce x10, the restricted model from round 0's plan, 40 s at load 7: 30.37M ->
    # 30.27M with the rows, where the plain model's repair had stopped at 30.37M)
    whole, whole_shared = with_part_rows(form, shared, parts)   # as it is where no part has rows
    if form.n_cols <= WHOLE_LP_COLS and (len(parts) < PRICE_MIN_PARTS or strong):
        # with the parts' whole-replica rows the whole LP's duals price the rows at once (scarce x10: its LP
        # value, 30.11M, in 0.5 s; the part LPs' rounds at the master's duals reached 28.9M in 30 s without them)
        lp_prices, whole_lp_x, reduced = _lp_prices(whole, whole_shared, options, deadline)
        if len(parts) >= PRICE_MIN_PARTS:   # the repair widens by reduced cost only on models of few parts
            reduced = None
    else:    # x100: the whole LP is ~80 s of wall; the master over the part LPs' plans gives prices instead
        lp_prices, whole_lp_x, reduced = np.zeros(int(shared.sum())), None, None
    p = _project(lp_prices if start_prices is None else start_prices, lower, upper)
    scale = max(abs(float(cost @ lp_x)) if lp_x is not None else 0.0, 1.0)
    weight = np.array([max(abs(float(cost[q.cols] @ lp_x[q.cols])) if lp_x is not None else 1.0, 1e-9)
                       for q in parts])
    weight /= weight.sum()
    round_gap = max(options.mip_rel_gap, FIRST_GAP)
    used = np.zeros(form.n_cols, dtype=bool)
    for support in (lp_x, whole_lp_x):    # the LPs' choices, with and without the shared rows
        if support is not None:
            used |= integer & (support > 1e-9)
    best = Priced(x=None, objective=math.inf, bound=-math.inf, prices=p.copy(), rounds=0, bounds=[])
    pool = PlanPool(parts, a_shared, cost)
    # 1. plans before any part MILP: the part LPs, rounded up, and the master's choice among them
    milp_deadline = deadline - max(MASTER_RESERVE * options.time_limit_s, 1.0)
    now = time.monotonic()
    lp_deadline = now + LP_ROUNDS_SHARE * max(deadline - now, 0.0)
    # at the whole LP's duals the part LPs' bound is already the LP's: rounds only until the master has a plan,
    # then the part MILPs (scarce x10: all eight rounds at the master's duals took 30 s at load 7 for no bound)
    p = _lp_rounds(parts, pool, best, p, lp_x, cost, a_shared, lower, upper, run, backend, options, lp_deadline,
                   milp_deadline, whole_lp_x is not None and start_prices is None)
    if isinstance(p, SolveResult):
        return p
    if _within(best, options):
        return best
    starts: list[np.ndarray | None] = [None] * len(parts)
    last: list[tuple[np.ndarray, SolveResult] | None] = [None] * len(parts)   # each part's priced cost, result
    theta, stall, nodes, repaired = 1.0, 0, PART_NODES, -1
    for k in range(ROUNDS):
        best.rounds, round_began = k + 1, time.monotonic()
        priced_cost = cost + a_shared.T @ p
        # each part may stop within its share of half the round's gap (of the LP's value): what the parts leave
        # open lowers L, so the round's gap shrinks with the gap between the best plan and the best bound
        allowance = round_gap / 2 * scale * weight
        loss = _rounding_loss(pool, parts, priced_cost, best.part_lp if k == 0 else None)
        order = _worth_first(loss, len(parts))
        # over WHOLE_LP_COLS no part has its rows yet: those whose LP loses more by rounding than they may leave
        # open get them in their own thread, right before their first MILP
        rows_for = (set() if loss is None or form.n_cols <= WHOLE_LP_COLS else
                    {int(i) for i in order[:ROWS_EARLY_PARTS] if loss[i] > allowance[i]})
        results = _priced_round(parts, priced_cost, last, starts, allowance, nodes, run, backend, options,
                                milp_deadline, order, rows_for)
        failed = _failure(parts, results)
        if failed is not None and failed.status != NO_PLAN_IN_TIME:
            return failed
        for i, r in enumerate(results):
            if r.x is not None:
                pool.add(i, r.x)
        if failed is not None:    # the round ran out of time: its plans still join the master
            if k == 0 and best.part_lp is not None:   # at the LP rounds' best prices: each part's LP bounds it
                value = float(sum(max(proven_bound(r), v) for r, v in zip(results, best.part_lp)))
                value -= _constant(p, lower, upper)
                best.bounds.append(value)
                if value > best.bound:
                    best.bound = value
            # parts overrun their limits under load (x100: 30 s past at load 15); the last master gets its share
            # even past the deadline (within the watchdog's 10%), or the round's plans would go unused
            _master_plan(pool, form, best, lower, upper, options,
                         max(deadline, time.monotonic() + max(MASTER_SHARE * options.time_limit_s, 2.0)))
            if best.x is None:
                return failed
            break
        best.solver, best.solver_version = results[0].solver, results[0].solver_version
        part_bounds = np.array([proven_bound(r) for r in results])
        if k == 0 and best.part_lp is not None:
            part_bounds = np.maximum(part_bounds, best.part_lp)
        if k == 0 and form.n_cols <= WHOLE_LP_COLS:   # at the first (best known) prices, the parts that left
            # most open solved closer (x100 keeps its path: its first round seldom ends before the clock)
            # the repair's share of the time comes first: under load (scarce x10 at 0.2 CPU s a second) the
            # tightening took what the repair needed, +1.8k on the bound for a plan 0.8% worse
            part_bounds = _tightened(parts, priced_cost, results, part_bounds, last, allowance, nodes, run,
                                     backend, options, min(milp_deadline - POLISH_SHARE * options.time_limit_s,
                                                           time.monotonic() + TIGHTEN_SHARE * options.time_limit_s))
            for i, r in enumerate(results):   # the closer plans join the master too (the round's joined above)
                pool.add(i, r.x)
        # the joined plan from the tightened results (they replace a part's only where no worse): starts set once
        x = np.zeros(form.n_cols)
        for i, (q, r) in enumerate(zip(parts, results)):
            x[q.cols] = r.x
            starts[i] = r.x
        value = float(part_bounds.sum()) - _constant(p, lower, upper)
        best.bounds.append(value)
        stall = 0 if _raise_bound(best, value, p) else stall + 1
        activity = a_shared @ x
        # the rows the plans leave idle, priced at zero: a bound of its own (x100 at the plans' master's
        # prices: +234k)
        freed = with_idle_rows_free(parts, p, a_shared, upper, activity, priced_cost,
                                    getattr(backend, "workers", 1), milp_deadline)
        _bound_freed(best, part_bounds, freed, lower, upper)
        over = np.where(activity > upper, activity - upper, np.where(activity < lower, activity - lower, 0.0))
        # a subgradient of L at p: the row's excess over the bound its price is on (only the excess where p = 0)
        g = np.where(p > 0, activity - upper, np.where(p < 0, activity - lower, over))
        if not np.any(np.abs(over) > 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(upper), upper, lower)))):
            _keep(best, x, float(cost @ x))           # the parts' plan meets the shared rows as it is
        used |= integer & (x > 1e-9)
        if k == 0 and form.n_cols > WHOLE_LP_COLS and not _within(best, options):
            # the parts' plans overfill shared rows: plans moved off them, where no repair runs (x100: 1.06% ->
            # 0.66%; scarce x10, whose repair then had 15 s less, 0.292% -> 0.343%: benchmarks/RESULTS.md)
            joined = moved_off(parts, pool, x, cost, a_shared, lower, upper, allowance, nodes, run, backend,
                               options, min(milp_deadline, time.monotonic() + SHARE_TIME * options.time_limit_s))
            if joined is not None:
                _keep(best, joined, float(cost @ joined))
        dw_prices = None
        if not _within(best, options):
            dw_prices = _master_plan(pool, form, best, lower, upper, options, deadline)
        used |= pool.support(form.n_cols) & integer
        if (best.x is None or not _within(best, options)) and used.sum() > repaired and form.n_cols <= WHOLE_LP_COLS:
            before = best.objective
            plan = _repair(whole, used, reduced, run, backend, options, _polish_deadline(options, deadline), best.x)
            LOG.debug("repair on %d integer columns: %s", int(used.sum()), "no plan" if plan is None else
                      f"{float(cost @ plan.x):.6g} ({plan.status})")
            if plan is not None:
                _keep(best, plan.x, float(cost @ plan.x))
                pool.add_whole(plan.x)
                used |= integer & (plan.x > 1e-9)    # the next repair starts from this plan
            repaired = int(used.sum())
            if best.x is not None and not best.objective < before:
                # it found nothing the master had not: the next waits until the columns grow by REPAIR_GROWTH
                # (scarce x10 at 600 s: seven repairs after the second, 50-90 s each on one core, gained 30 USD)
                repaired = int(REPAIR_GROWTH * repaired)
        LOG.debug("MILP round %d: %d parts solved, bound %.6g, plan %.6g, %d plans, master prices %s", k,
                  sum(r.x is not None for r in results), value, best.objective, pool.size(), dw_prices is not None)
        if _within(best, options) or time.monotonic() >= milp_deadline:
            break
        if form.n_cols > WHOLE_LP_COLS and not _another_round_fits(round_began, milp_deadline):
            # the time left closes the parts that left most open at these prices instead, and the master picks again
            part_bounds = _tightened(parts, priced_cost, results, part_bounds, last, allowance, nodes, run,
                                     backend, options, milp_deadline, most=len(parts), share_open=1.0)
            for i, r in enumerate(results):
                if r.x is not None:
                    pool.add(i, r.x)
            value = float(part_bounds.sum()) - _constant(p, lower, upper)
            best.bounds.append(value)
            _raise_bound(best, value, p)
            _bound_freed(best, part_bounds, freed, lower, upper)
            LOG.debug("closer parts: bound %.6g", best.bound)
            if not _within(best, options):
                _master_plan(pool, form, best, lower, upper, options, deadline)
            break
        if best.x is not None and math.isfinite(best.bound):
            open_gap = (best.objective - best.bound) / max(abs(best.objective), 1e-9)
            round_gap = max(options.mip_rel_gap, min(round_gap, open_gap / 2))
        if stall >= STALL:
            theta, stall, nodes = theta / 2, 0, nodes * NODE_GROWTH
            if theta < MIN_THETA:    # the bound has stalled: the rest of the time goes to the whole model
                break
        if dw_prices is not None and k % 2 == 0:   # the master's prices and Polyak's step take turns
            p = _project(dw_prices, lower, upper)
            continue
        # Polyak's step towards the best plan's value (or 1% above the bound while there is none)
        target = best.objective if math.isfinite(best.objective) else best.bound + 0.01 * abs(best.bound)
        norm = float(g @ g)
        if norm <= 0:     # the parts' plan meets every row at these prices: the bound cannot move this way
            break
        p = _project(p + theta * max(target - value, 0.0) / norm * g, lower, upper)
    return best


def _lp_rounds(parts: list[Part], pool: PlanPool, best: Priced, p: np.ndarray, lp_x, cost, a_shared, lower,
               upper, run, backend, options: SolveOptions, lp_deadline: float, deadline: float,
               plan_only: bool = False) -> np.ndarray | SolveResult:
    """Column generation on the parts' LPs: each round solves every part's LP at p (a bound: the parts' LPs
    relax their MILPs), adds its solution rounded up to the pool when that meets the part's rows, and asks the
    master for a plan and new prices (its duals; with slack while no mix meets the rows, which prices the
    scarce rows at what their plans cost). Returns the prices to start the MILP rounds from (the master's last
    slack-free duals, else the best bound's), or a SolveResult when a part's LP has no plan. plan_only: stop once
    the master has a plan (the first prices are the whole LP's: no round bounds better)."""
    # the plain parts' LPs give the plans (their solutions rounded up); the parts with whole-replica rows, where
    # they have them, give the bound (their LPs' solutions round up badly: fractional monitoring choices)
    sets = [[plain(q) for q in parts]] + ([parts] if any(isinstance(q, Strong) for q in parts) else [])
    thread_highs = backend.solve is highs.solve and getattr(backend, "cluster", None) is None
    warms = [WarmLPs(qs, options.threads, backend.workers) if thread_highs else None for qs in sets]
    if lp_x is not None and p.any():    # the LP without the shared rows, rounded up: a plan per part to start
        for i, q in enumerate(sets[0]):   # from where the first prices' LPs do not round up to one
            if (plan := rounded_plan(q, lp_x[q.cols])) is not None:
                pool.add(i, plan)
    start = p
    lp_opts = [replace(options, start=None, mip_abs_gap=0.0, node_limit=0)] * len(parts)
    # prices from the master LP over the parts' LP solutions (column generation: they converge to the whole LP's
    # duals), until no round adds one; then, while there is no plan, from the plans' master (its slack prices push
    # the parts off the rows their rounded plans overfill). Scarce x100: the LP bound 279.8M -> 282.1M, the first
    # MILP round's 290.4M -> 293.2M (the plans' master's duals had never bounded above the zero prices)
    lp_pool = None if plan_only else PlanPool(parts, a_shared, cost)
    for k in range(LP_ROUNDS):
        if time.monotonic() >= lp_deadline or (plan_only and best.x is not None):
            break
        switched = False
        priced_cost = cost + a_shared.T @ p
        solved = []
        for which, (qs, warm) in enumerate(zip(sets, warms)):
            if which == 0 and k == 0 and lp_x is not None and not p.any():   # the LP without the shared rows
                solved.append(([lp_x[q.cols] for q in parts], np.array([float(cost[q.cols] @ lp_x[q.cols])
                                                                        for q in parts])))
                continue
            if warm is not None:
                results = warm.solve([priced_cost[q.cols] for q in parts], deadline)
            else:
                results = run(backend, [with_cost(Part(relaxed(q.form), q.cols, q.rows), priced_cost[q.cols])
                                        for q in qs], lp_opts, deadline)
            failed = _failure(parts, results)
            if failed is not None:
                return failed if failed.status != NO_PLAN_IN_TIME else start
            solved.append(([r.x for r in results], np.array([r.objective for r in results], dtype=float)))
        xs, values = solved[0][0], solved[-1][1]
        value = float(values.sum()) - _constant(p, lower, upper)
        best.lp_rounds += 1
        best.bounds.append(value)
        # flat: this round's bound within LP_STALL of the best before it (a dip, at a slack master's prices, is not)
        flat = math.isfinite(best.bound) and abs(value - best.bound) < LP_STALL * abs(best.bound)
        if _raise_bound(best, value, p):
            best.part_lp = values
        added = sum(pool.add(i, plan) for i, (q, x) in enumerate(zip(sets[0], xs))
                    if (plan := rounded_plan(q, x)) is not None)
        master = solve_master(pool, len(cost), lower, upper, options.threads, _master_deadline(options, deadline),
                              start=best.x)
        if master.x is not None:
            _keep(best, master.x, master.objective)
        _swap(pool, best, cost, lower, upper)
        prices, slack_free = master.prices, master.slack_free
        if lp_pool is not None:
            columns = sum(lp_pool.add(i, x) for i, x in enumerate(solved[-1][0]))
            dw, dw_free = (lp_prices(lp_pool, lower, upper, options.threads, _master_deadline(options, deadline))
                           if columns else (None, False))
            if dw is not None:
                prices, slack_free = dw, dw_free
            else:      # converged: the next rounds are the plans' master's (their plans are new)
                lp_pool, switched = None, True
            added += columns
        LOG.debug("LP round %d: bound %.6g, plan %.6g, %d plans (+%d), master slack-free %s", k, value,
                  best.objective, pool.size(), added, slack_free)
        if _within(best, options) or prices is None:
            break
        if best.x is not None and flat:   # the bound has stopped moving: the time goes to the part MILPs
            break
        p = _project(prices, lower, upper)
        if not added and not switched:
            break
    # the MILP rounds start where the part LPs bound best: there each part's LP value bounds it too
    return best.prices if math.isfinite(best.bound) else start


def _priced_round(parts, priced_cost, last, starts, allowance, nodes, run, backend, options: SolveOptions,
                  deadline: float, order: np.ndarray, rows_for: set[int] = frozenset()) -> list[SolveResult]:
    """Every part's MILP at its priced cost, warm-started from its last plan, in `order` (a round cut by the
    clock has solved the first); a part whose priced cost has not changed since its last round keeps that
    round's result (its priced optimum cannot have moved). Parts the clock left out: NO_PLAN_IN_TIME. The parts
    in `rows_for` get their whole-replica and cover rows (part_rows.part_with_rows, valid rows: the same plans)
    in the thread that solves them, kept in `parts` for the next rounds (x100's 50 parts holding most of the
    first round's open gap, solved again at its prices: bound +287k with the rows in 99 CPU s, +52k without
    them with 8x the nodes in 163 CPU s)."""
    todo = [int(i) for i in order
            if last[i] is None or not np.allclose(last[i][0], priced_cost[parts[i].cols], rtol=1e-12, atol=0.0)]
    opts = [replace(options, start=starts[i], mip_rel_gap=0.0, mip_abs_gap=max(float(allowance[i]), 1e-6),
                    node_limit=nodes) for i in todo]
    reduced = [_priced_part(parts[i], priced_cost) for i in todo]

    def with_rows(k: int, part: Part) -> Part:
        i = todo[k]
        if i not in rows_for or isinstance(parts[i], Strong) or time.monotonic() >= deadline:
            return part   # past the clock the part only returns its start: rows would delay the round's end
        strong = part_with_rows(parts[i]).form
        if strong.n_rows == parts[i].form.n_rows:    # no service in it: nothing to add
            return part
        parts[i] = Strong(strong, parts[i].cols, parts[i].rows, plain=parts[i])
        return with_rows_of(part, parts[i])

    out = run(backend, reduced, opts, deadline, in_order=True,   # a round the clock cuts has the first done
              prepare=with_rows if rows_for else None)
    for i, r in zip(todo, out):
        last[i] = (priced_cost[parts[i].cols].copy(), r)
    return [last[i][1] for i in range(len(parts))]


def _priced_part(part: Part, priced_cost: np.ndarray) -> Part:
    """The part at its priced cost without the serving options another beats at these prices
    (formulation/dominated.py), found on the part without its whole-replica rows (they give every option a row
    of its own), then with them."""
    return with_rows_of(part_without_dominated(with_cost(plain(part), priced_cost[part.cols])), part)


def _tightened(parts, priced_cost, results, part_bounds, last, allowance, nodes, run, backend,
               options: SolveOptions, deadline: float, most: int = TIGHTEN_PARTS, share_open: float = TIGHTEN_OPEN
               ) -> np.ndarray:
    """The parts holding `share_open` of the round's open gap (plan - bound at these prices), at most `most`,
    most open first, solved again from their plans with a tenth of their allowance and TIGHTEN_NODES x the nodes;
    each part's bound is the better of its two (both valid), `results` and `last` take the new result where it
    bounds higher. Scarce x10 at the whole LP's prices: the parts to 1e-2 and 50 nodes bound 30.152M, to 1e-3 and
    400 nodes 30.160M (their plans 30.180M): the rest of the first round's gap is the few widest parts'."""
    open_gap = np.array([r.objective - b if r.x is not None else 0.0 for r, b in zip(results, part_bounds)])
    order = np.argsort(-open_gap, kind="stable")
    share = np.cumsum(open_gap[order]) / max(float(open_gap.sum()), 1e-12)
    todo = [int(i) for i in order[:min(int(np.searchsorted(share, share_open)) + 1, most)]
            if open_gap[i] > 1e-6 * max(1.0, abs(results[i].objective))]
    if not todo or time.monotonic() >= deadline:
        return part_bounds
    opts = [replace(options, start=results[i].x, mip_rel_gap=0.0, node_limit=nodes * TIGHTEN_NODES,
                    mip_abs_gap=max(float(allowance[i]) / 10, 1e-6)) for i in todo]
    reduced = [_priced_part(parts[i], priced_cost) for i in todo]
    out = part_bounds.copy()
    for i, r in zip(todo, run(backend, reduced, opts, deadline, in_order=True)):
        if r.x is None:
            continue
        out[i] = max(out[i], proven_bound(r))
        if proven_bound(r) >= part_bounds[i] and r.objective <= results[i].objective + 1e-9:
            results[i] = r
            last[i] = (priced_cost[parts[i].cols].copy(), r)
    LOG.debug("tightened %d parts: bound +%.6g", len(todo), float(out.sum() - part_bounds.sum()))
    return out


def _another_round_fits(round_began: float, deadline: float) -> bool:
    """Would a round as long as the one begun at `round_began` end before `deadline`? (x100: round 0 took 160-190 s
    of 270, so a second one was cut, its parts' bounds unused.)"""
    now = time.monotonic()
    return now + (now - round_began) <= deadline


def _bound_freed(best: Priced, part_bounds: np.ndarray, freed, lower, upper) -> None:
    """L at the prices with the idle rows free (idle_rows.with_idle_rows_free), kept where it bounds higher."""
    if freed is None:
        return
    value = float(np.minimum(part_bounds, freed[1]).sum()) - _constant(freed[0], lower, upper)
    LOG.debug("idle rows at zero: bound %.6g", value)
    if _raise_bound(best, value, freed[0]):
        best.bounds.append(value)


def _raise_bound(best: Priced, value: float, prices: np.ndarray) -> bool:
    """Keep L = value at `prices` as the best bound if it is higher (beyond round-off); whether it was."""
    if value <= best.bound + 1e-9 * max(1.0, abs(value)):
        return False
    best.bound, best.prices = value, prices.copy()
    return True


def _worth_first(loss: np.ndarray | None, n_parts: int) -> np.ndarray:
    """Parts in the order their MILP may gain most (`_rounding_loss`, most first); part order without it."""
    return np.arange(n_parts) if loss is None else np.argsort(-loss, kind="stable")


def _rounding_loss(pool: PlanPool, parts: list[Part], priced_cost: np.ndarray,
                   part_lp: np.ndarray | None) -> np.ndarray | None:
    """Per part, how far its best plan so far lies above its LP value at these prices: what its MILP may gain
    (the rounded LP plans of replica-heavy parts most). None without LP values."""
    if part_lp is None:
        return None
    return np.array([min((float(priced_cost[q.cols] @ x) for x in plans), default=np.inf) - v
                     for q, plans, v in zip(parts, pool.plans, part_lp)])


def _master_deadline(options: SolveOptions, deadline: float) -> float:
    """A master solve gets MASTER_SHARE of the time limit (at least 2 s), within the deadline."""
    return min(deadline, time.monotonic() + max(MASTER_SHARE * options.time_limit_s, 2.0))


def _master_plan(pool: PlanPool, form: Formulation, best: Priced, lower, upper, options: SolveOptions,
                 deadline: float) -> np.ndarray | None:
    """The master's plan (kept if better) and its slack-free prices (None: it needed slack). The swaps run before
    its MILP too: it starts from their plan (x100 cut by the clock: the MILP from the LP rounds' 308.5M plan
    returned that plan in its share; the swaps alone reach ~298M)."""
    _swap(pool, best, form.col_arrays()[0], lower, upper)
    master = solve_master(pool, form.n_cols, lower, upper, options.threads, _master_deadline(options, deadline),
                          start=best.x)
    if master.x is not None:
        _keep(best, master.x, master.objective)
    LOG.debug("master over %d plans: %s", pool.size(), "no plan" if master.x is None else f"{master.objective:.6g}")
    _swap(pool, best, form.col_arrays()[0], lower, upper)
    return master.prices if master.slack_free else None


def _swap(pool: PlanPool, best: Priced, cost: np.ndarray, lower, upper) -> None:
    """The best plan with cheaper pooled plans swapped in where the shared rows allow (master.improve_by_swaps)."""
    if best.x is not None:
        x = improve_by_swaps(pool, best.x, lower, upper)
        if x is not None:
            _keep(best, x, float(cost @ x))


def solve_priced(form: Formulation, shared: np.ndarray, run, backend, options: SolveOptions, deadline: float,
                 lp_x: np.ndarray | None) -> SolveResult | None:
    """price_shared, as the whole model's answer. Short of the gap with time left, the whole model goes on from
    the best plan (its bound, if higher, replaces pricing's). None: pricing has nothing to split."""
    t0 = time.monotonic()
    priced = price_shared(form, shared, run, backend, options, deadline, lp_x)
    n_parts = int(components(form, ~shared).max()) + 1
    if priced is None or isinstance(priced, SolveResult):    # nothing to price, or a part without a plan
        return priced if priced is None else replace(priced, decomposition={"parts": n_parts, "priced": True})
    names = form.row_names()
    rows = np.flatnonzero(shared)
    summary = {"parts": n_parts, "rounds": priced.rounds, "lp_rounds": priced.lp_rounds,
               "shared_rows_priced": [names[i] for i in rows[priced.prices != 0]],
               "price_bound": priced.bound, "price_s": round(time.monotonic() - t0, 3)}
    objective, bound, x = priced.objective, priced.bound, priced.x
    detail = f"shared rows priced: {summary['parts']} parts, {priced.rounds} rounds"
    solver, version = priced.solver, priced.solver_version
    if not _within(priced, options) and time.monotonic() < deadline and form.n_cols <= WHOLE_LP_COLS:
        left = max(deadline - time.monotonic(), 0.01)
        whole = run(backend, [Part(form, np.arange(form.n_cols), np.arange(form.n_rows))],
                    [replace(options, start=x, time_limit_s=left)], deadline)[0]
        solver, version = whole.solver, whole.solver_version
        summary["whole_after_pricing"] = True
        if whole.status in (INFEASIBLE, UNBOUNDED, ERROR):
            return replace(whole, decomposition=summary)
        if whole.x is not None and whole.objective < objective:
            x, objective = whole.x, float(whole.objective)
        bound = max(bound, proven_bound(whole))
        detail += "; then the whole model from the best plan"
    if x is None:
        return SolveResult(status=NO_PLAN_IN_TIME, x=None, objective=None, bound=bound, gap=None, solver=solver,
                           solver_version=version, detail=detail + ": no plan in time", decomposition=summary)
    bound = min(bound, objective)    # a bound a hair above the plan is the solvers' tolerance
    gap = relative_gap(objective, bound)
    status = OPTIMAL if gap is not None and gap <= options.mip_rel_gap * (1 + 1e-9) + 1e-12 else FEASIBLE
    return SolveResult(status=status, x=x, objective=objective, bound=bound, gap=gap, solver=solver,
                       solver_version=version, detail=detail, decomposition=summary)


def _within(best: Priced, options: SolveOptions) -> bool:
    if best.x is None or not math.isfinite(best.bound):
        return False
    return best.objective - best.bound <= (options.mip_rel_gap * (1 + 1e-9) + 1e-12) * abs(best.objective)


def _keep(best: Priced, x: np.ndarray, objective: float) -> None:
    if objective < best.objective:
        best.x, best.objective = x, objective


def _constant(p: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """sum_i p_i u_i where p_i > 0, p_i l_i where p_i < 0 (the price's side of each row)."""
    side = np.where(p > 0, upper, np.where(p < 0, lower, 0.0))
    return float(np.dot(p[p != 0], side[p != 0]))


def _project(p: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Prices of the right sign: none below zero on a row with no lower bound, none above on one with no upper."""
    p = np.where(np.isfinite(lower), p, np.maximum(p, 0.0))
    return np.where(np.isfinite(upper), p, np.minimum(p, 0.0))


def _lp_prices(form: Formulation, shared: np.ndarray, options: SolveOptions,
               deadline: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The shared rows' duals in the whole LP relaxation (HiGHS, whatever backend solves the parts), as prices
    on the row activity: p = -y (HiGHS: reduced cost = c - A^T y), the LP's columns and their reduced costs.
    Zero prices and reduced costs and no columns when the LP does not finish in time."""
    limit = max(min(options.time_limit_s * LP_SHARE, deadline - time.monotonic()), 0.01)
    lp = highs.solve_lp(form, options.threads, time_limit_s=limit, seed=options.seed)
    LOG.debug("whole LP for prices: %s", "no optimum" if lp is None else f"{lp.objective:.6g}")
    if lp is None:
        return np.zeros(int(shared.sum())), None, np.zeros(form.n_cols)
    return -lp.row_dual[shared], lp.x, lp.col_dual


def _polish_deadline(options: SolveOptions, deadline: float) -> float:
    """A repair gets POLISH_SHARE of the time limit (at least 2 s), within the deadline."""
    return min(deadline, time.monotonic() + max(POLISH_SHARE * options.time_limit_s, 2.0))


def _repair(form: Formulation, used: np.ndarray, reduced: np.ndarray | None, run, backend, options: SolveOptions,
            deadline: float, start: np.ndarray | None) -> SolveResult | None:
    """A plan of the whole model with its integer columns restricted to those some round, pooled plan (or an
    LP) used: it mixes the parts' plans option by option where the master takes each part's plan whole
    (scarce x10: 30.43M -> 30.33M in 8 CPU s). With the whole LP's reduced costs, as many again of the others
    with the least (the next best options, where scarce stock sends demand), and without a plan the
    neighbourhood doubles, up to the whole model; without them (no whole LP was solved), the used columns
    alone, from the best plan (which they hold)."""
    _, _, _, integer = form.col_arrays()
    others = np.flatnonzero(integer & ~used)
    if reduced is None:
        others = others[:0]
    else:
        others = others[np.argsort(reduced[others], kind="stable")]
    extra = max(int(used.sum()), 1) if len(others) else 0
    while True:
        allowed = used.copy()
        allowed[others[:extra]] = True
        whole = Part(integers_within(form, allowed), np.arange(form.n_cols), np.arange(form.n_rows))
        opts = replace(options, start=start, node_limit=REPAIR_NODES, mip_abs_gap=0.0)
        r = run(backend, [whole], [opts], deadline)[0]
        if r.x is not None and r.status in (OPTIMAL, FEASIBLE):
            return r
        if r.status != INFEASIBLE or extra >= len(others) or time.monotonic() >= deadline:
            return None
        extra *= 2


def integers_within(form: Formulation, allowed: np.ndarray) -> Formulation:
    """The model with every integer column outside `allowed` fixed at its lower bound (the repair's model)."""
    _, lb, ub, integer = form.col_arrays()
    return with_col_bounds(form, lb, np.where(integer & ~allowed, lb, ub))


def _failure(parts: list[Part], results: list[SolveResult]) -> SolveResult | None:
    """A part with no plan: the whole has none (its parts relax it), or time ran out."""
    for status in (INFEASIBLE, UNBOUNDED, NO_PLAN_IN_TIME):
        for p, r in zip(parts, results):
            if r.status == status or (r.x is None and status == NO_PLAN_IN_TIME):
                return replace(r, status=r.status if r.x is None else status, x=None, objective=None,
                               bound=None, gap=None, detail=f"{r.detail} (in the part with {p.form.col_names()[0]})")
    return None
