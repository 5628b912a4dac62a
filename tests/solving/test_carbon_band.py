"""The carbon rows' upper side (pipeline/carbon_cuts.with_band, capped): with a plan of cost UB in hand, every
plan as cheap keeps each part within UB - L(p) of its priced minimum. On random small fleets with a binding
carbon row: the band never cuts off the exact optimum, the banded MILP started from a plan finds that optimum,
a start that is not a plan adds no band, a dearer or missing answer gives way to the start, and a single solve
on the strong path hands the whole MILP the band and plans as one without rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.pipeline import carbon_cuts, range_start
from fleetopt.pipeline import solve as solve_module
from helpers import rows_hold, solve_and_verify
from solving.test_carbon_rows_strong import EXACT, carbon_services


def rows_for(form):
    strong = carbon_cuts.with_parts_rows(form, 2, EXACT, float("inf"))
    prices = carbon_cuts.lp_prices(strong, [carbon_cuts.budget_of(form)])
    cuts = carbon_cuts.cuts_for_budgets(form, [carbon_cuts.budget_of(form)], "highs", EXACT, prices=prices,
                                        free=False, parts_of=strong)
    return strong, cuts


@pytest.mark.parametrize("seed", range(10))
def test_the_band_keeps_the_optimum_from_any_start_and_narrows_the_parts(seed):
    form = carbon_services(seed, budget_share=0.8)
    exact = highs.solve(form, EXACT)
    if exact.status != "optimal":
        return
    strong, cuts = rows_for(form)
    if cuts is None:
        return
    model = carbon_cuts.with_cuts(strong, cuts)
    cost = form.col_arrays()[0]
    # starts: the optimum itself (the tightest band), the range's plan, and a dearer plan of the model
    starts = [exact.x, range_start.range_plan(model, cuts, EXACT)]
    dear = highs.solve(model, SolveOptions(mip_rel_gap=0.5, threads=1, node_limit=1))
    starts.append(dear.x)
    for start in (s for s in starts if s is not None):
        banded, ub = carbon_cuts.with_band(model, cuts, start)
        assert ub == pytest.approx(float(cost @ start), rel=1e-12)
        assert banded.n_rows == model.n_rows + len(cuts.lower)
        assert rows_hold(banded, exact.x)        # no plan as cheap as the start is cut off: the optimum stays
        assert rows_hold(banded, start)
        again = highs.solve(banded, SolveOptions(mip_rel_gap=0.0, threads=1, start=start, mip_restart=False))
        answer = carbon_cuts.capped(again, start, ub, 0.0)
        assert answer.objective == pytest.approx(exact.objective, rel=1e-7)
        assert answer.bound <= exact.objective * (1 + 1e-9) + 1e-6
        assert rows_hold(form, answer.x)
    # the band's width is UB - L(p): each part's priced cost lies in [lower, lower + UB - L(p)] at the optimum
    banded, ub = carbon_cuts.with_band(model, cuts, exact.x)
    fam = banded.families["carbon_band"]
    width = ub + cuts.prices[0] * carbon_cuts.budget_of(form) - cuts.lower.sum()
    assert np.allclose(fam.upper - cuts.lower, width + carbon_cuts.BAND_EASE * max(1.0, ub))


def test_no_band_from_a_start_that_is_not_a_plan():
    form = carbon_services(0, budget_share=0.8)
    strong, cuts = rows_for(form)
    model = carbon_cuts.with_cuts(strong, cuts)
    exact = highs.solve(model, EXACT)
    for bad in (np.zeros(model.n_cols),                   # meets no demand
                exact.x + np.where(model.col_arrays()[3], 0.5, 0.0),   # not whole
                exact.x[:-1], None):
        same, ub = carbon_cuts.with_band(model, cuts, bad)
        assert ub is None and same is model


def test_a_dearer_or_missing_answer_gives_way_to_the_start():
    start = np.array([1.0, 2.0])
    better = SolveResult(status="optimal", x=np.array([1.0, 1.0]), objective=90.0, bound=89.995, gap=5e-5,
                         solver="highs", solver_version="")
    assert carbon_cuts.capped(better, start, 100.0, 1e-4) is better
    none = SolveResult(status="no_plan_in_time", x=None, objective=None, bound=99.0, gap=None, solver="highs",
                       solver_version="")
    kept = carbon_cuts.capped(none, start, 100.0, 1e-4)
    assert kept.status == "feasible" and kept.objective == 100.0 and kept.bound == 99.0
    assert np.array_equal(kept.x, start)
    proven = carbon_cuts.capped(none.__class__(**{**none.__dict__, "bound": math.inf, "status": "infeasible"}),
                                start, 100.0, 1e-4)
    assert proven.status == "optimal" and proven.bound == 100.0 and proven.gap == 0.0


@pytest.mark.parametrize("budget", [3.0, 8.0])
def test_a_single_solve_on_the_strong_path_hands_the_milp_the_band(budget, monkeypatch):
    from fleetopt.io.load import load_instance
    from helpers import TINY

    inst = load_instance(TINY)
    inst = inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})
    handed = []
    real_run = solve_module.run_backend
    monkeypatch.setattr(solve_module, "run_backend", lambda n, f, o: handed.append(f) or real_run(n, f, o))
    default = solve_and_verify(inst)
    if "carbon_cuts" not in (default.provenance.decomposition or {}):   # not answered without a MILP
        assert handed and "carbon_band" in handed[-1].families
    monkeypatch.setattr(solve_module, "run_backend", real_run)
    plain = solve_and_verify(inst, carbon_cuts=False)
    assert default.status == plain.status == "optimal"
    assert default.objective == pytest.approx(plain.objective, rel=1e-7)
