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
(carbon_cuts.free_answer), else the model's own MILP starts from it, HiGHS's restarts off, and proves the answer.
The MILP over the range is pipeline/range_start.range_plan, which a single solve's strong carbon path also runs
(over the price plans alone).
Source: Berthold 2006, "Primal heuristics for mixed integer programs", diploma thesis, TU Berlin (crossover: a
sub-MIP over what given solutions share); Danna, Rothberg, Le Pape 2005, "Exploring relaxation induced
neighborhoods to improve MIP solutions", Math. Prog. 102 (RINS: a sub-MIP bounded by the LP and a solution).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation


def first_plan(form: Formulation, cuts, plans: Sequence[np.ndarray], options: SolveOptions) -> np.ndarray | None:
    """A plan of `form` (a binding budget's model, twins fixed as solve_problem solves it) from the MILP over
    the range of `plans` (same columns), the rows' price plans and the LP with the rows (module docstring); None
    when that MILP finds none."""
    from fleetopt.pipeline.carbon_cuts import with_cuts
    from fleetopt.pipeline.range_start import range_plan

    return range_plan(with_cuts(form, cuts), cuts, options, plans)   # the rows add no column: x reads on `form`
