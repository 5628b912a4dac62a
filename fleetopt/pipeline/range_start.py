"""A start for a MILP joined by one carbon row: the plan of a small MILP over the range of plans already known.

With one binding carbon row, the optimum takes each part's replicas mostly from between the parts' plans at the
carbon rows' prices and the LP's values rounded down and up; the whole model with every integer column bounded to
that range is a small MILP that lands on or next to the optimum. A single solve on the strong carbon path
(pipeline/solve._started) and a sweep's binding budgets (whatif/neighbourhood.first_plan, with their neighbours'
plans) start their MILPs from it, with HiGHS's restarts off.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import ROW_TOL, Formulation, rows_violated
from fleetopt.formulation.split import with_col_bounds
from fleetopt.pipeline.carbon_cuts import CarbonCuts, budget_of, carbon_coefficients

RANGE_NODES = 2_000     # the range's MILP is a heuristic: never let it run as long as the model it serves
RANGE_SHARE = 0.1       # of the time limit, at most
RANGE_GAP = 100.0       # its gap: the model's over this (a start within ~1e-6 of the optimum is what pays)
RANGE_WHOLE = 1e-6      # an LP value within this of a whole number counts as that number
RANGE_WIDEN = (0, 1)    # replicas added to the range either way, tried in turn until its MILP finds a plan


def price_plan_range(form: Formulation, plans: np.ndarray, lp_x: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds: each integer column within the whole numbers `plans` ([P, n_cols]) take and its LP value
    `lp_x` rounded down and up, clipped to its own bounds; the continuous columns keep theirs."""
    _, lb, ub, integer = form.col_arrays()
    values = np.round(np.asarray(plans, dtype=float).reshape(-1, form.n_cols))
    if lp_x is not None:
        values = np.vstack([values, np.floor(lp_x + RANGE_WHOLE), np.ceil(lp_x - RANGE_WHOLE)])
    if not len(values):
        return lb, ub
    low = np.clip(values.min(axis=0), lb, ub)
    high = np.clip(values.max(axis=0), lb, ub)
    return np.where(integer, low, lb), np.where(integer, high, ub)


def bracketing(form: Formulation, plans: np.ndarray) -> np.ndarray:
    """Of the price plans ([P, n_cols]), the two whose carbon brackets the model's budget most closely: the most
    carbon at or under it and the least over it (all of them without a budget row or with two plans or fewer).
    Why: a sweep's rows hold plans at every budget's prices, and the range of all of them is a MILP as hard as
    the budget's own (global-fleet: the first plan 0.2-1.2 s over all eight, 0.06-0.24 s over the two)."""
    a = carbon_coefficients(form)
    if a is None or len(plans) <= 2:
        return plans
    carbon, budget = plans @ a, budget_of(form)
    under, over = np.flatnonzero(carbon <= budget), np.flatnonzero(carbon > budget)
    keep = [under[np.argmax(carbon[under])]] if len(under) else []
    keep += [over[np.argmin(carbon[over])]] if len(over) else []
    return plans[keep]


def range_plan(form: Formulation, cuts: CarbonCuts, options: SolveOptions,
               plans: Sequence[np.ndarray] = ()) -> np.ndarray | None:
    """A plan of `form` (the model the whole MILP solves: rows `cuts` among them) from the MILP over the range the
    parts' plans at the rows' prices, `plans` (a sweep's neighbours', same columns) and the LP of `form` span
    (HiGHS, a node and time limit); None when it finds none there nor with one replica more room either way. Why:
    with one binding carbon row the optimum takes each part's replicas mostly from between its plans at the rows'
    prices and the LP's values, which mix the parts' plans on both sides of the budget: on global-fleet (rows at the
    LP's price alone) that MILP finds the optimum in ~0.05 CPU s, and the whole MILP handed it as a start (its
    restarts off) proves it in ~1 CPU s against 1.5-3.3 without (benchmarks/RESULTS.md, "global-fleet: a start from
    the price plans' range"). It restricts bounds only, so every plan it finds is a plan of `form`. Source: Berthold
    2006, "Primal heuristics for mixed integer programs", TU Berlin (crossover: a sub-MIP over what given solutions
    share); whatif/neighbourhood.first_plan runs it over a sweep's neighbours' plans too."""
    from fleetopt.backends import highs

    own = cuts.plans if cuts.plans is not None and cuts.plans.shape[-1] == form.n_cols else np.zeros((0, form.n_cols))
    own = bracketing(form, own)
    known = np.vstack([own, *(np.asarray(x, dtype=float)[None] for x in plans if len(x) == form.n_cols)])
    lp = highs.solve_lp(form, options.threads)
    if lp is None and not len(known):
        return None
    lower, upper = price_plan_range(form, known, None if lp is None else lp.x)
    _, lb, ub, integer = form.col_arrays()
    sub = replace(options, start=None, node_limit=RANGE_NODES, race=1, mip_abs_gap=0.0, decompose=False,
                  mip_rel_gap=options.mip_rel_gap / RANGE_GAP,
                  time_limit_s=max(RANGE_SHARE * options.time_limit_s, 0.1))
    for widen in RANGE_WIDEN:   # none in the range: once more with one replica more room either way
        low = np.where(integer, np.maximum(lower - widen, lb), lb)
        high = np.where(integer, np.minimum(upper + widen, ub), ub)
        result = highs.solve(with_col_bounds(form, low, high), sub)
        if result.x is not None:
            break
    if result.x is None:
        return None
    row_lower, row_upper = form.row_bounds()
    x = np.asarray(result.x, dtype=float)
    if rows_violated(form.matrix() @ x, row_lower, row_upper, ROW_TOL).any() or (x < lb - ROW_TOL).any() or \
            (x > ub + ROW_TOL).any():
        return None
    return x


def started(options: SolveOptions, x: np.ndarray | None, began: float) -> SolveOptions:
    """`options` with the plan `x` as the MILP's start and HiGHS's restarts off (a restart after the root redoes
    what a start near the optimum saved: global-fleet's MILP 0.88-1.23 CPU s with both, 1.23-1.93 with the start
    alone, 1.48-3.34 with neither, seeds 0-5), the time since `began` (time.perf_counter()) taken off the limit;
    only the time off when there is no plan. What a single solve's strong path and a sweep's binding budgets
    hand the MILP they start from this module's plans."""
    left = max(options.time_limit_s - (time.perf_counter() - began), 0.01)
    if x is None:
        return replace(options, time_limit_s=left)
    return replace(options, start=x, mip_restart=False, time_limit_s=left)
