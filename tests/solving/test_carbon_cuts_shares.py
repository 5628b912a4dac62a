"""A budget sweep's per-part carbon rows made in shares of their prices on several workers
(carbon_cuts.cuts_for_budgets(share=...), carbon_cuts.joined) are the rows made at once; and a plan a
neighbouring budget solved answers a budget only when it meets it and a bound valid there proves it."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.io.load import load_instance
from fleetopt.pipeline import carbon_cuts
from fleetopt.pipeline.problem import build_problem
from fleetopt.pipeline.solve import options_for, solve_problem
from helpers import TINY, assert_verified, solve_and_verify


def at_budget(budget: float):
    inst = load_instance(TINY)
    return inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})


@pytest.fixture(scope="module")
def tiny():
    inst = at_budget(7.0)
    problem = build_problem(inst)
    backend, options = options_for(inst, threads=1)
    return inst, problem, backend, options


def rows_of(cuts: carbon_cuts.CarbonCuts) -> set:
    out = set()
    for k in range(len(cuts.lower)):
        on = cuts.rows == k
        out.add((round(float(cuts.prices[k]), 6), int(cuts.part[k]), round(float(cuts.lower[k]), 4),
                 tuple(cuts.cols[on]), tuple(np.round(cuts.vals[on], 6))))
    return out


@pytest.mark.parametrize("n", [2, 3, 9])
def test_shares_joined_are_the_rows_made_at_once(tiny, n):
    _, problem, backend, options = tiny
    budgets = (3.0, 4.0, 7.0, 8.0)
    whole = carbon_cuts.cuts_for_budgets(problem.form, budgets, backend, options)
    shares = [carbon_cuts.cuts_for_budgets(problem.form, budgets, backend, options, share=(i, n)) for i in range(n)]
    joined = carbon_cuts.joined(shares)
    assert whole is not None and joined is not None
    assert rows_of(joined) == rows_of(whole)
    assert np.array_equal(joined.free_x, whole.free_x) and joined.free_carbon == whole.free_carbon
    for b in budgets:
        assert joined.bound_at(b) == pytest.approx(whole.bound_at(b), rel=1e-9)
    assert carbon_cuts.joined([*shares[:-1], None]) is None


def test_a_neighbours_plan_answers_a_budget_it_meets_proven_by_a_looser_bound(tiny):
    inst7, problem7, backend, options = tiny
    plan7, result7 = solve_problem(problem7, backend, options)
    assert_verified(inst7, plan7)
    cuts = carbon_cuts.cuts_for_budgets(problem7.form, (5.0, 7.0), backend, options)
    known = carbon_cuts.Known(result7.x, "budget 7", result7.bound, "budget 7")
    carbon7 = float(carbon_cuts.carbon_coefficients(problem7.form) @ result7.x)
    inst5 = at_budget(5.0)
    assert carbon7 <= 5.0 < 7.0            # tiny-fleet: 4-7 t share one plan
    problem5 = build_problem(inst5)
    plan5, _ = solve_problem(problem5, backend, options, carbon_cuts=replace(cuts, known=known))
    assert "the plan of budget 7 meets this budget" in plan5.detail
    assert_verified(inst5, plan5)
    alone = solve_and_verify(inst5)
    assert plan5.objective == pytest.approx(alone.objective, rel=options.mip_rel_gap)
    assert plan5.bound <= alone.objective * (1 + 1e-9) and plan5.gap <= options.mip_rel_gap


def test_a_neighbours_plan_over_the_budget_or_a_tighter_bound_answers_nothing(tiny):
    _, problem7, backend, options = tiny
    cuts = carbon_cuts.cuts_for_budgets(problem7.form, (3.0, 7.0), backend, options)
    inst8 = at_budget(8.0)
    plan8, result8 = solve_problem(build_problem(inst8), backend, options)
    assert_verified(inst8, plan8)
    over = carbon_cuts.Known(result8.x, "budget 8", -math.inf, "")     # 7.98 t: over a 3 t budget
    problem3 = build_problem(at_budget(3.0))
    assert carbon_cuts.free_answer(problem3.form, replace(cuts, known=over), options) is None
    # a plan meeting the budget, but no bound within the gap: a MILP is needed (the ledger passes only bounds
    # proven at looser budgets; a tighter one's is not a bound here)
    plan3, result3 = solve_problem(problem3, backend, options)
    meets = carbon_cuts.Known(result3.x, "budget 3", -math.inf, "")
    problem5 = build_problem(at_budget(5.0))
    assert carbon_cuts.free_answer(problem5.form, replace(cuts, known=meets), options) is None
