"""A binding budget's first plan, from a small MILP over the plans its sweep already has.

Why: a binding budget's whole MILP (global-fleet, per-part rows on) spends most of its time finding a
near-optimal plan: handed its own optimum as a start it takes 1.7-4x less CPU (benchmarks/RESULTS.md,
"Carbon-budget sweep: a first plan from the neighbourhood"). The sweep already holds plans near each budget's
optimum: the parts' plans at each price of the rows (carbon_cuts.CarbonCuts.plans; the rows' prices reach twice
the highest LP price, whose plans carry less carbon than any budget swept), the plans of the nearest budgets
solved so far, and the LP with the rows at this budget (a mix of the parts' plans on both sides of it). The
optimum mostly takes each whole number from among theirs, so the whole model with every integer column bounded
to the range those plans span (the LP's values rounded down and up) is a MILP of ~50 free integers out of 262
that finds a plan within ~1e-4 of the optimum in 0.1-0.7 s. It restricts bounds only: every plan it finds is a
plan of the model; it answers the budget when within the gap of the rows' bound there
(carbon_cuts.free_answer), else the model's own MILP starts from it and proves the answer.
Source: Berthold 2006, "Primal heuristics for mixed integer programs", diploma thesis, TU Berlin (crossover: a
sub-MIP over what given solutions share); Danna, Rothberg, Le Pape 2005, "Exploring relaxation induced
neighborhoods to improve MIP solutions", Math. Prog. 102 (RINS: a sub-MIP bounded by the LP and a solution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import ROW_TOL, Formulation, rows_violated

NODE_LIMIT = 2_000      # the sub-MILP is a heuristic: never let it run as long as the model it serves
TIME_SHARE = 0.1        # of the scenario's time limit, at most
GAP_FACTOR = 100.0      # its gap: the scenario's over this (the plan answers its budget when within the scenario's
                        # gap of the rows' bound, so it must not lose that gap inside its own range)
INTEGRALITY = 1e-6      # an LP value within this of a whole number counts as that number


def with_col_bounds(form: Formulation, lower: np.ndarray, upper: np.ndarray) -> Formulation:
    """A copy of `form` with every column's bounds replaced (same rows, columns and names)."""
    out = form.copy()
    for name, b in form.blocks.items():
        out.blocks[name] = replace(b, lb=np.asarray(lower[b.start:b.start + b.size], dtype=float),
                                   ub=np.asarray(upper[b.start:b.start + b.size], dtype=float))
    return out


def integer_range(form: Formulation, plans: Sequence[np.ndarray],
                  lp_x: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds: each integer column within the whole numbers the plans take and the LP's value rounded down
    and up; the continuous columns keep theirs."""
    _, lb, ub, integer = form.col_arrays()
    values = [np.round(np.asarray(x, dtype=float)) for x in plans]
    if lp_x is not None:
        values += [np.floor(lp_x + INTEGRALITY), np.ceil(lp_x - INTEGRALITY)]
    if not values:
        return lb, ub
    low = np.clip(np.min(values, axis=0), lb, ub)
    high = np.clip(np.max(values, axis=0), lb, ub)
    return np.where(integer, low, lb), np.where(integer, high, ub)


def first_plan(form: Formulation, cuts, plans: Sequence[np.ndarray], options: SolveOptions) -> np.ndarray | None:
    """A plan of `form` (a binding budget's model, twins fixed as solve_problem solves it) from the MILP over
    the range of `plans` (same columns), the rows' price plans and the LP with the rows (module docstring); None
    when that MILP finds none in its nodes or the plan misses a row of `form`."""
    from fleetopt.backends import highs
    from fleetopt.pipeline.carbon_cuts import with_cuts

    model = with_cuts(form, cuts)
    lp = highs.solve_lp(model, options.threads)
    known = [x for x in (*(cuts.plans if cuts.plans is not None else ()), *plans) if len(x) == form.n_cols]
    lower, upper = integer_range(form, known, None if lp is None else lp.x[:form.n_cols])
    sub = replace(options, start=None, node_limit=NODE_LIMIT, race=1, mip_abs_gap=0.0,
                  mip_rel_gap=options.mip_rel_gap / GAP_FACTOR,
                  time_limit_s=max(TIME_SHARE * options.time_limit_s, 0.1))
    result = highs.solve(with_col_bounds(model, lower, upper), sub)
    if result.x is None:
        return None
    x = np.asarray(result.x[:form.n_cols], dtype=float)
    row_lower, row_upper = form.row_bounds()
    _, lb, ub, _ = form.col_arrays()
    if rows_violated(form.matrix() @ x, row_lower, row_upper, ROW_TOL).any() or \
            (x < lb - ROW_TOL).any() or (x > ub + ROW_TOL).any():
        return None
    return x
