"""A HiGHS run whose reported objective is not its plan's cost runs again with presolve off
(backends/highs.consistent). HiGHS 1.16's presolve maps a MIP start into its reduced space with the wrong
objective on a model whose carbon cut rows each have an upper row of the same coefficients beside them (a
"band": every plan as cheap as the start keeps each part near its priced minimum), then returns the start's
columns with another plan's objective and bound as optimal. Built here on a small random fleet with a binding
carbon row (the one of seeds 0-39 where it shows)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import components, shared_rows, split, with_cost
from fleetopt.pipeline import carbon_cuts, range_start
from helpers import rows_hold
from solving.test_carbon_rows_strong import EXACT, carbon_services


def banded_model():
    """The fleet, its model with the parts' rows, carbon cut rows at the LP's price bounded below by each part's
    LP and above by UB + p B - sum of the others' (UB: the range start's cost), and that start."""
    form = carbon_services(30, budget_share=0.6)
    strong = carbon_cuts.with_parts_rows(form, 1, EXACT, float("inf"))
    budget = carbon_cuts.budget_of(form)
    cuts = carbon_cuts.cuts_for_budgets(form, [budget], "highs", EXACT, prices=carbon_cuts.lp_prices(strong, [budget]),
                                        free=False, parts_of=strong)
    cost, carbon, price = form.col_arrays()[0], carbon_cuts.carbon_coefficients(form), cuts.prices[0]
    shared = shared_rows(strong)
    parts = split(strong, components(strong, ~shared), ~shared)
    lower = np.array([highs.solve_lp(with_cost(q, (cost + price * carbon)[q.cols]).form).objective for q in parts])
    cuts = replace(cuts, lower=lower)
    model = carbon_cuts.with_cuts(strong, cuts)
    start = range_start.range_plan(model, cuts, EXACT)
    width = float(cost @ start) + price * budget - lower.sum() + 1e-6 * float(cost @ start)
    model.add_rows("band", [(int(k),) for k in cuts.part], cuts.rows, cuts.cols, cuts.vals,
                   lower=np.full(len(lower), -np.inf), upper=lower + width)
    return form, model, start


def test_a_run_whose_objective_is_not_its_plans_cost_is_made_again_without_presolve(monkeypatch):
    form, model, start = banded_model()
    exact = highs.solve(form, EXACT)
    cost = form.col_arrays()[0]
    assert rows_hold(model, start) and rows_hold(model, exact.x)   # the band keeps the optimum and the start
    opts = SolveOptions(mip_rel_gap=0.0, threads=1, start=start, mip_restart=False)
    right = highs.solve(model, opts)
    assert right.status == "optimal"
    assert right.objective == pytest.approx(float(cost @ right.x), rel=1e-9)
    assert right.objective == pytest.approx(exact.objective, rel=1e-9)
    assert right.bound <= exact.objective * (1 + 1e-9)
    # what HiGHS returns without the check: the start's columns with the optimum's objective
    monkeypatch.setattr(highs, "consistent", lambda *a: True)
    raw = highs.solve(model, opts)
    if raw.objective == pytest.approx(float(cost @ raw.x), rel=1e-9):
        pytest.skip(f"HiGHS {raw.solver_version} reads this start right: the check is not exercised")
    assert float(cost @ raw.x) > exact.objective * (1 + 1e-6)


def test_consistent_reads_the_plans_cost():
    form = carbon_services(0, budget_share=0.8)
    x = highs.solve(form, EXACT).x
    cost = float(form.col_arrays()[0] @ x)
    assert highs.consistent(form, x, cost) and highs.consistent(form, None, None)
    assert not highs.consistent(form, x, cost * 0.99)
