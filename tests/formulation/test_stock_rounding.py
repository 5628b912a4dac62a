"""Rounded rows of the shared scarce rows (formulation/stock_rounding.py): every MIR row holds at every plan of
the row it rounds (brute force over small knapsacks), never cuts the optimum of small random fleets or the plan
of the scarce x1 tier, and its LP lies between the plain LP and the optimum."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import shared_rows
from fleetopt.formulation.stock_rounding import mir_row, rows_matrix, separate, with_stock_rows
from helpers import BENCHMARKS, assert_verified, random_fleet, rows_hold

sys.path.insert(0, str(BENCHMARKS))


def _lp(form):
    return highs.lp_values(form)


@pytest.mark.parametrize("seed", range(40))
def test_every_mir_row_holds_at_every_integer_point_of_its_knapsack(seed):
    """sum a x + sum g y <= b over every integer x in its box, y the least continuous use that meets the row (the
    worst case for the MIR row, whose continuous coefficients are <= 0): each divisor's row, each complementing."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    a = rng.choice([1.0, 2.0, 4.0, 8.0, 0.37, 1.5, 2.25, -1.0], n) * rng.uniform(0.5, 3.0)
    u = rng.integers(1, 4, n).astype(float)
    g = np.array([-rng.uniform(0.5, 2.0), rng.uniform(0.1, 1.0)]) if seed % 2 else np.zeros(0)
    b = float(rng.uniform(0.2, 0.8) * np.abs(a) @ u)
    checked = 0
    for d in np.unique(np.abs(a)[:, None] / np.array([1, 2, 3])[None, :]):
        for flip in (np.zeros(n, bool), u > 1, rng.random(n) < 0.5):
            row = mir_row(a, u, g, b, float(d), flip)
            if row is None:
                continue
            f, h, rhs = row
            assert np.all(h <= 0)
            for x in itertools.product(*(range(int(k) + 1) for k in u)):
                x = np.array(x, dtype=float)
                need = max(float(a @ x) - b, 0.0)     # what the negative continuous column must absorb
                if need > 0 and not len(g):
                    continue                          # x is no plan of the row
                y = np.zeros(len(g))
                if need > 0:
                    y[0] = need / -g[0]
                assert f @ x + h @ y <= rhs + 1e-9, (d, flip, x)
                checked += 1
    assert checked


def test_a_fractional_fill_of_whole_units_is_cut():
    """Three 8-GPU replicas' worth of stock, 20 GPUs: the LP takes 2.5 replicas; whole ones are at most 2."""
    a, u, g = np.array([8.0]), np.array([np.inf]), np.zeros(0)
    f, _, rhs = mir_row(a, u, g, 20.0, 8.0, np.zeros(1, bool))
    assert f[0] * 2.5 > rhs and f[0] * 2 <= rhs


@pytest.mark.parametrize("seed", range(25))
def test_rows_never_cut_the_optimum_of_small_random_fleets(seed):
    form = random_fleet(seed)
    exact = highs.solve(form, SolveOptions(mip_rel_gap=0.0, time_limit_s=30))
    out, added = with_stock_rows(form, np.flatnonzero(shared_rows(form)), _lp)
    if exact.status != "optimal":
        return
    assert rows_hold(out, exact.x)
    lp_before = highs.solve_lp(form).objective
    lp_after = highs.solve_lp(out).objective
    assert lp_before - 1e-7 <= lp_after <= exact.objective + 1e-6
    if added:
        assert np.all(rows_matrix(out, "stock_rounding") @ exact.x <= out.families["stock_rounding"].upper + 1e-7)


def test_some_random_fleet_gets_a_row_that_lifts_its_lp():
    """The separation is not idle: across the seeds some LP breaks a rounded row and rises."""
    lifted = 0
    for seed in range(25):
        form = random_fleet(seed)
        out, added = with_stock_rows(form, np.flatnonzero(shared_rows(form)), _lp)
        after = highs.solve_lp(out)    # None: the rows proved the MILP infeasible (seeds 0, 11, 20; HiGHS agrees)
        if added and after is not None and after.objective > highs.solve_lp(form).objective + 1e-6:
            lifted += 1
    assert lifted


def test_the_scarce_tier_plan_meets_its_stock_and_power_rows_rounded():
    from scarce_tiers import load_scarce_tier

    from fleetopt.api import build_problem, options_for, solve_problem

    problem = build_problem(load_scarce_tier(1, seed=0))
    name, options = options_for(problem.inst, time_limit_s=60, mip_rel_gap=1e-2)
    plan, result = solve_problem(problem, name, options)
    assert_verified(problem.inst, plan)
    form = problem.form
    shared = np.flatnonzero(shared_rows(form))
    out, added = with_stock_rows(form, shared, _lp)
    assert added
    rows = rows_matrix(out, "stock_rounding")
    assert np.all(rows @ result.x <= out.families["stock_rounding"].upper + 1e-6)
    assert not separate(out, shared, result.x)   # an integer plan breaks no rounded row of any divisor
