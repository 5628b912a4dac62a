"""The priced path's plans moved off the shared rows the parts' own plans overfill (pipeline/moved_off.moved_off):
each part re-solved with its share of every shared row it touches. Every plan it adds holds its part's rows, the
joined plan it returns holds every row of the whole model and is never cheaper than the brute-force optimum, and
the master over the pool then reaches plans the parts' own optima (which overfill) could not give."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import components, shared_rows, split
from fleetopt.pipeline import lagrange, moved_off
from fleetopt.pipeline.decompose import Backend, _run
from fleetopt.pipeline.master import PlanPool, solve_master
from helpers import random_fleet, rows_hold

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60, price_shared=True)
SEEDS = range(30)


def _own_optima(form: Formulation):
    """The parts apart (shared rows dropped), each at its own optimum, joined; the pool holding those plans."""
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    a_shared = form.matrix()[np.flatnonzero(shared)]
    cost = form.col_arrays()[0]
    pool = PlanPool(parts, a_shared, cost)
    x = np.zeros(form.n_cols)
    for i, q in enumerate(parts):
        r = highs.solve(q.form, EXACT)
        if r.x is None:
            return None
        x[q.cols] = r.x
        pool.add(i, r.x)
    lower, upper = (v[shared] for v in form.row_bounds())
    return parts, pool, x, cost, a_shared, lower, upper


def _moved_off(parts, pool, x, cost, a_shared, lower, upper):
    return moved_off.moved_off(parts, pool, x, cost, a_shared, lower, upper, np.full(len(parts), 1e-6), 1000,
                               _run, Backend(highs.solve), EXACT, time.monotonic() + 60)


def ten_jobs() -> Formulation:
    """Ten jobs, each one unit from one of two pools; the cheap pool holds five units (optimum 20)."""
    form = Formulation()
    x = form.add_vars("units", [(j, pool) for j in range(10) for pool in ("cheap", "dear")], lb=0, ub=1,
                      cost=np.tile([1.0, 3.0], 10), integer=True)
    form.add_rows("assign", [(j,) for j in range(10)], np.repeat(np.arange(10), 2), x.cols, np.ones(20),
                  lower=1.0, upper=1.0)
    form.add_rows("stock", [("cheap",)], np.zeros(10, int), x.cols[0::2], np.ones(10), upper=5.0, shared=True)
    return form


def test_the_overfilled_pools_users_are_moved_and_the_master_splits_them():
    """Each job's own optimum takes the cheap pool (ten units on a row of five): the pool holds one plan per job
    and no mix meets the row. Moved off, each job has its dear plan too; the proportional shares (half a unit
    each) join to a plan on the dear pool that meets the row, and the master mixes five and five: the optimum."""
    form = ten_jobs()
    parts, pool, x, cost, a_shared, lower, upper = _own_optima(form)
    assert solve_master(pool, form.n_cols, lower, upper, 1, time.monotonic() + 10).x is None
    joined = _moved_off(parts, pool, x, cost, a_shared, lower, upper)
    assert joined is not None and rows_hold(form, joined)
    assert float(cost @ joined) == pytest.approx(30.0)
    master = solve_master(pool, form.n_cols, lower, upper, 1, time.monotonic() + 10)
    assert master.x is not None and rows_hold(form, master.x)
    assert master.objective == pytest.approx(20.0)


def test_nothing_is_moved_where_the_plan_meets_every_row():
    form = ten_jobs()
    parts, pool, x, cost, a_shared, lower, upper = _own_optima(form)
    x = np.tile([0.0, 1.0], 10)          # every job on the dear pool: the row holds
    size = pool.size()
    assert _moved_off(parts, pool, x, cost, a_shared, lower, upper) is None
    assert pool.size() == size


@pytest.mark.parametrize("seed", SEEDS)
def test_moved_plans_hold_their_parts_and_the_joined_plan_holds_the_whole(seed):
    form = random_fleet(seed)
    exact = highs.solve(form, EXACT)
    apart = _own_optima(form)
    if apart is None:
        return
    parts, pool, x, cost, a_shared, lower, upper = apart
    before = [len(p) for p in pool.plans]
    joined = _moved_off(parts, pool, x, cost, a_shared, lower, upper)
    for q, plans, n in zip(parts, pool.plans, before):
        assert all(rows_hold(q.form, plan) for plan in plans[n:])
    if joined is not None:
        assert rows_hold(form, joined)
        assert exact.status == "optimal" and float(cost @ joined) >= exact.objective - 1e-5
    master = solve_master(pool, form.n_cols, lower, upper, 1, time.monotonic() + 10)
    if master.x is not None:
        assert rows_hold(form, master.x) and master.objective >= exact.objective - 1e-5


def test_some_random_fleets_overfill_and_get_a_joined_plan():
    """Else the test above would check nothing: the parts' own optima break the stock rows on most seeds, and
    the shares join into a plan that meets them on several."""
    joined = 0
    for seed in SEEDS:
        apart = _own_optima(random_fleet(seed))
        if apart is not None:
            joined += _moved_off(*apart) is not None
    assert joined >= 5


@pytest.mark.parametrize("seed", range(15))
def test_the_priced_bound_stays_below_the_optimum_and_the_plan_holds(seed, monkeypatch):
    """The whole priced path, with the step in it (as on a model over WHOLE_LP_COLS: x100's path, no whole LP
    nor repair): the bound never above the brute-force optimum."""
    monkeypatch.setattr(lagrange, "WHOLE_LP_COLS", 0)
    form = random_fleet(seed)
    exact = highs.solve(form, EXACT)
    priced = lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve), EXACT,
                                   time.monotonic() + 60)
    if priced is None or exact.status != "optimal":
        return
    assert priced.bound <= exact.objective + 1e-6
    if priced.x is not None:
        assert rows_hold(form, priced.x) and priced.objective >= exact.objective - 1e-5


def test_the_step_runs_only_where_no_repair_runs(monkeypatch):
    """Over WHOLE_LP_COLS (no whole LP, no repair: x100) the step runs after the first MILP round; under it the
    repair has the time (scarce x10 planned worse with the step taking 10% of the limit)."""
    calls = []
    monkeypatch.setattr(lagrange, "moved_off", lambda *a: calls.append(1) or moved_off.moved_off(*a))
    seed = next(s for s in SEEDS
                if (apart := _own_optima(random_fleet(s))) is not None and _moved_off(*apart) is not None)
    form = random_fleet(seed)
    lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve), EXACT, time.monotonic() + 60)
    assert not calls
    monkeypatch.setattr(lagrange, "WHOLE_LP_COLS", 0)
    lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve), EXACT, time.monotonic() + 60)
    assert calls
