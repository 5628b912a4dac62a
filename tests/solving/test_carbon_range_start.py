"""The whole MILP's start on the strong carbon path (pipeline/range_start.range_plan, price_plan_range;
pipeline/solve._started; SolveOptions.mip_restart): the range it searches spans the price plans and the LP's
values, its plan is a plan of the model and never below the exact optimum, the rows made without price 0 still
bound it from below, and a single solve that takes the path hands the whole MILP that plan with HiGHS's restarts
off and plans as one without rows."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.pipeline import carbon_cuts, range_start
from fleetopt.pipeline import solve as solve_module
from helpers import rows_hold, solve_and_verify
from solving.test_carbon_rows_strong import EXACT, carbon_services


def test_the_range_spans_the_plans_and_the_lp_rounded_both_ways():
    form = carbon_services(1, budget_share=0.8)
    _, lb, ub, integer = form.col_arrays()
    rng = np.random.default_rng(0)
    plans = np.clip(rng.integers(0, 4, (3, form.n_cols)).astype(float), lb, ub)
    lp_x = np.clip(rng.uniform(0.0, 4.0, form.n_cols), lb, ub)
    lower, upper = range_start.price_plan_range(form, plans, lp_x)
    whole = np.vstack([plans, np.floor(lp_x), np.ceil(lp_x)])
    assert np.array_equal(lower[integer], np.clip(whole.min(axis=0), lb, ub)[integer])
    assert np.array_equal(upper[integer], np.clip(whole.max(axis=0), lb, ub)[integer])
    assert np.array_equal(lower[~integer], lb[~integer]) and np.array_equal(upper[~integer], ub[~integer])
    # an LP value a hair off a whole number counts as that number
    near = np.where(integer, np.round(lp_x) + 1e-9, lp_x)
    lower, upper = range_start.price_plan_range(form, np.zeros((0, form.n_cols)), near)
    assert np.array_equal(lower[integer], upper[integer])


@pytest.mark.parametrize("seed", range(10))
def test_the_range_plan_is_a_plan_never_below_the_optimum_and_the_rows_bound_it(seed):
    form = carbon_services(seed, budget_share=0.8)
    exact = highs.solve(form, EXACT)
    if exact.status != "optimal":
        return
    strong = carbon_cuts.with_parts_rows(form, 2, EXACT, float("inf"))
    prices = carbon_cuts.lp_prices(strong, [carbon_cuts.budget_of(form)])
    cuts = carbon_cuts.cuts_for_budgets(form, [carbon_cuts.budget_of(form)], "highs", EXACT, prices=prices,
                                        free=False, parts_of=strong)
    if cuts is None:
        return
    assert (cuts.prices > 0).all() and cuts.free_x is None        # no rows at price 0, no free plan
    assert cuts.signature == carbon_cuts.signature(form)          # made on the parts with their rows, for `form`
    # the same rows as on the plain parts (each part solved exactly: the parts' rows change no part's optimum)
    plain = carbon_cuts.cuts_for_budgets(form, [carbon_cuts.budget_of(form)], "highs", EXACT, prices=prices,
                                         free=False)
    assert np.allclose(cuts.lower, plain.lower, rtol=1e-7, atol=1e-6)
    assert cuts.bound_at(carbon_cuts.budget_of(form)) <= exact.objective * (1 + 1e-9) + 1e-6
    assert rows_hold(carbon_cuts.with_cuts(form, cuts), exact.x)   # no row cuts off the optimum
    model = carbon_cuts.with_cuts(strong, cuts)
    x = range_start.range_plan(model, cuts, EXACT)
    if x is None:   # a heuristic: the range (widened by one) may hold no plan; the MILP then starts without one
        return
    assert rows_hold(form, x) and rows_hold(model, x)
    cost = form.col_arrays()[0]
    assert float(cost @ x) >= exact.objective * (1 - 1e-9) - 1e-6
    # started from it with the restarts off, the whole MILP keeps the optimum
    again = highs.solve(model, SolveOptions(mip_rel_gap=0.0, threads=1, start=x, mip_restart=False))
    assert again.objective == pytest.approx(exact.objective, rel=1e-7)


def test_restarts_off_reaches_highs():
    assert highs.new_highs(SolveOptions(mip_restart=False)).getOptionValue("mip_allow_restart")[1] is False
    assert highs.new_highs(SolveOptions()).getOptionValue("mip_allow_restart")[1] is True


def test_plan_seeking_heuristics_off_reaches_highs():
    off, on = highs.new_highs(SolveOptions(improve_plans=False)), highs.new_highs(SolveOptions())
    for name in ("mip_heuristic_run_rins", "mip_heuristic_run_rens"):
        assert off.getOptionValue(name)[1] is False and on.getOptionValue(name)[1] is True


@pytest.mark.parametrize("budget", [3.0, 8.0])
def test_a_single_solve_on_the_strong_path_starts_its_milp_from_the_range(budget, monkeypatch):
    """tiny-fleet at these budgets: only its carbon row binds (the strong path): the rows come without price 0,
    the whole MILP gets the range's plan with restarts and the plan-seeking heuristics off, and the plan is the one
    without rows."""
    from fleetopt.io.load import load_instance
    from helpers import TINY

    inst = load_instance(TINY)
    inst = inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})
    handed, made = [], []
    real_run, real_cuts = solve_module.run_backend, solve_module.cuts_for_budgets
    monkeypatch.setattr(solve_module, "run_backend", lambda n, f, o: handed.append(o) or real_run(n, f, o))
    monkeypatch.setattr(solve_module, "cuts_for_budgets",
                        lambda *a, **k: made.append(c := real_cuts(*a, **k)) or c)
    default = solve_and_verify(inst)
    assert made and made[0] is not None and (made[0].prices > 0).all()
    if "carbon_cuts" not in (default.provenance.decomposition or {}):   # not answered without a MILP
        assert handed and handed[-1].start is not None and handed[-1].mip_restart is False
        assert handed[-1].improve_plans is False   # the search only proves the range's plan
    monkeypatch.setattr(solve_module, "run_backend", real_run)
    plain = solve_and_verify(inst, carbon_cuts=False)
    assert default.status == plain.status == "optimal"
    assert default.objective == pytest.approx(plain.objective, rel=1e-7)


def test_of_many_price_plans_the_range_takes_the_two_that_bracket_the_budget():
    """range_start.bracketing: of a sweep's price plans, the one with the most carbon within the budget and the one
    with the least over it (the range they span holds the budget's optimum's neighbourhood); two or fewer: all."""
    form = carbon_services(0, budget_share=0.8)
    a, budget = carbon_cuts.carbon_coefficients(form), carbon_cuts.budget_of(form)
    rng = np.random.default_rng(1)
    plans = rng.uniform(0.0, 3.0, (7, form.n_cols)) * np.linspace(0.3, 1.2, 7)[:, None]
    carbon = plans @ a
    assert (carbon <= budget).any() and (carbon > budget).any()
    kept = range_start.bracketing(form, plans)
    under = np.flatnonzero(carbon <= budget)
    over = np.flatnonzero(carbon > budget)
    expect = plans[[under[np.argmax(carbon[under])], over[np.argmin(carbon[over])]]]
    assert np.array_equal(kept, expect)
    assert np.array_equal(range_start.bracketing(form, plans[:2]), plans[:2])
    only_over = plans[over]
    assert np.array_equal(range_start.bracketing(form, only_over), only_over[[np.argmin(carbon[over])]])
