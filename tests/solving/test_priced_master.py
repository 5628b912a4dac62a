"""The restricted master over the parts' plans (fleetopt/pipeline/master.py) and the part-LP rounds that feed it
(pipeline/lagrange.py): the master's choice meets every shared row and is the cheapest choice among the plans it
has; rounds cut short (one part-LP round, no MILP round) still give a plan that holds, under a valid bound."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import components, shared_rows, split
from fleetopt.pipeline import lagrange
from fleetopt.pipeline.decompose import Backend, _run, solve_by_parts
from fleetopt.pipeline.master import PlanPool, rounded_plan, solve_master
from helpers import random_fleet, rows_hold

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60, price_shared=True)


def _pool_of_part_plans(form, rng, per_part: int = 3) -> tuple[PlanPool, list]:
    """Each part's plans: a few of its own feasible points, from its MILP at random costs."""
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    cost, _, _, _ = form.col_arrays()
    pool = PlanPool(parts, form.matrix()[np.flatnonzero(shared)], cost)
    for i, q in enumerate(parts):
        for _ in range(per_part):
            r = highs.solve(lagrange.with_cost(q, rng.uniform(-1, 3, len(q.cols))).form, EXACT)
            if r.x is not None:
                pool.add(i, r.x)
    return pool, parts


@pytest.mark.parametrize("seed", range(15))
def test_the_master_picks_the_cheapest_choice_of_plans_that_meets_the_shared_rows(seed):
    form = random_fleet(seed)
    rng = np.random.default_rng(seed)
    pool, parts = _pool_of_part_plans(form, rng)
    if any(not plans for plans in pool.plans):    # a part with no plan: no whole plan either
        return
    shared = shared_rows(form)
    lower, upper = (v[shared] for v in form.row_bounds())
    cost, _, _, _ = form.col_arrays()
    # brute force over every choice of one plan per part
    cheapest = np.inf
    for choice in itertools.product(*(range(len(p)) for p in pool.plans)):
        x = np.zeros(form.n_cols)
        for q, plans, j in zip(parts, pool.plans, choice):
            x[q.cols] = plans[j]
        if rows_hold(form, x):
            cheapest = min(cheapest, float(cost @ x))
    master = solve_master(pool, form.n_cols, lower, upper, 0, time.monotonic() + 30)
    if not np.isfinite(cheapest):
        assert master.x is None
        return
    assert master.x is not None and rows_hold(form, master.x)
    assert master.objective == pytest.approx(float(cost @ master.x))
    assert master.objective == pytest.approx(cheapest, rel=1e-6)


def test_a_plan_already_in_the_pool_is_not_added_twice():
    form = random_fleet(0)
    pool, _ = _pool_of_part_plans(form, np.random.default_rng(0), per_part=1)
    x = pool.plans[0][0]
    assert not pool.add(0, x.copy())
    assert pool.add(0, x + 1.0)


def test_a_rounded_plan_is_kept_only_when_it_meets_its_parts_rows():
    form = random_fleet(3)
    shared = shared_rows(form)
    part = split(form, components(form, ~shared), ~shared)[0]
    _, lb, ub, integer = part.form.col_arrays()
    lower, upper = part.form.row_bounds()
    lp = highs.solve(lagrange.relaxed(part.form), EXACT)
    plan = rounded_plan(part, lp.x)
    if plan is not None:
        assert np.all(plan[integer] == np.ceil(lp.x[integer] - 1e-6))
        act = part.form.matrix() @ plan
        assert np.all(act >= lower - 1e-6) and np.all(act <= upper + 1e-6)
    assert rounded_plan(part, np.where(integer, ub + 1.0, lb)) is None   # above its columns' bounds


@pytest.mark.parametrize("seed", range(20))
def test_rounds_cut_short_still_give_a_plan_that_holds_under_a_valid_bound(seed, monkeypatch):
    """One part-LP round and one MILP round of at most 5 nodes: the plan comes from the master (or the repair)
    and holds; the bound stays under the brute-force optimum."""
    monkeypatch.setattr(lagrange, "LP_ROUNDS", 1)
    monkeypatch.setattr(lagrange, "ROUNDS", 1)
    monkeypatch.setattr(lagrange, "PART_NODES", 5)
    form = random_fleet(seed)
    exact = highs.solve(form, EXACT)
    priced = lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve),
                                   replace(EXACT, mip_rel_gap=1e-9), time.monotonic() + 60)
    if priced is None:
        return
    if exact.status != "optimal":
        assert getattr(priced, "status", None) == "infeasible" or priced.x is None
        return
    assert priced.lp_rounds == 1 and priced.rounds <= 1
    assert priced.bound <= exact.objective + 1e-6
    assert priced.x is not None and rows_hold(form, priced.x)
    assert priced.objective >= exact.objective - 1e-5


@pytest.mark.parametrize("seed", range(10))
def test_without_the_whole_model_the_priced_path_still_plans_and_bounds(seed, monkeypatch):
    """As on x100 (too big for any whole-model solve): no whole LP, no repair, no whole MILP after pricing; the
    plan is the master's and the bound the prices'."""
    monkeypatch.setattr(lagrange, "WHOLE_LP_COLS", 0)
    form = random_fleet(seed)
    exact = highs.solve(form, EXACT)
    result = solve_by_parts(form, Backend(highs.solve), replace(EXACT, mip_rel_gap=1e-3))
    if exact.status != "optimal":
        assert result.status == "infeasible" or result.x is None
        return
    if result.x is None:     # pricing may run out of rounds before the master has a plan; never a wrong one
        return
    assert rows_hold(form, result.x)
    assert result.bound <= exact.objective + 1e-6
    assert "whole_after_pricing" not in (result.decomposition or {})


@pytest.mark.parametrize("seed", range(5))
def test_warm_part_lps_give_the_cold_lps_values_as_the_costs_change(seed):
    from fleetopt.formulation.split import relaxed
    from fleetopt.pipeline.warm_lps import WarmLPs

    form = random_fleet(seed)
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    warm = WarmLPs(parts, threads=0, workers=2)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        costs = [rng.uniform(-1, 3, len(q.cols)) for q in parts]
        got = warm.solve(costs, time.monotonic() + 30)
        for q, c, r in zip(parts, costs, got):
            cold = highs.solve(lagrange.with_cost(type(q)(relaxed(q.form), q.cols, q.rows), c).form, EXACT)
            assert r.status == cold.status
            if cold.status == "optimal":
                assert r.objective == pytest.approx(cold.objective, rel=1e-7, abs=1e-7)
                assert float(c @ r.x) == pytest.approx(r.objective, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("seed", range(15))
def test_swaps_never_raise_the_cost_and_keep_every_row(seed):
    from fleetopt.pipeline.master import improve_by_swaps

    form = random_fleet(seed)
    pool, parts = _pool_of_part_plans(form, np.random.default_rng(seed), per_part=4)
    if any(not plans for plans in pool.plans):
        return
    shared = shared_rows(form)
    lower, upper = (v[shared] for v in form.row_bounds())
    cost, _, _, _ = form.col_arrays()
    a_shared = form.matrix()[np.flatnonzero(shared)]
    dearest = np.zeros(form.n_cols)     # start from each part's plan using least of the shared rows
    for q, plans in zip(parts, pool.plans):
        dearest[q.cols] = min(plans, key=lambda x: (float(np.abs(a_shared[:, q.cols] @ x).sum()),
                                                    -float(cost[q.cols] @ x)))
    if not rows_hold(form, dearest):
        return
    better = improve_by_swaps(pool, dearest, lower, upper)
    assert better is not None and rows_hold(form, better)
    assert float(cost @ better) <= float(cost @ dearest) + 1e-9
    # no single swap left that saves and holds
    for q, plans in zip(parts, pool.plans):
        for plan in plans:
            trial = better.copy()
            trial[q.cols] = plan
            assert not (float(cost @ trial) < float(cost @ better) - 1e-6 and rows_hold(form, trial))
