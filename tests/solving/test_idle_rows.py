"""pipeline/idle_rows.py: the bound with idle rows' prices at zero is never above any part's optimum there."""

import numpy as np
import pytest
from helpers import EXACT, random_fleet, without_carbon_budget

from fleetopt.api import build_problem
from fleetopt.backends import highs
from fleetopt.formulation.split import components, shared_rows, split, with_cost
from fleetopt.pipeline import idle_rows


def _parts_at(form, p):
    """The parts, their exact optima at prices p on the shared rows (plan, value), and the shared rows; None
    when a part has no plan (some random fleets need more than their units give)."""
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    a_shared = form.matrix()[np.flatnonzero(shared)]
    cost = form.col_arrays()[0]
    priced = cost + a_shared.T @ p
    x = np.zeros(form.n_cols)
    bounds = []
    for q in parts:
        r = highs.solve(with_cost(q, priced[q.cols]).form, EXACT)
        if r.x is None:
            return None
        x[q.cols] = r.x
        bounds.append(r.objective)
    return parts, np.array(bounds), a_shared, form.row_bounds()[1][shared], x, priced


def _optimum_at(q, cost):
    return highs.solve(with_cost(q, cost[q.cols]).form, EXACT).objective


def _check_valid(form, p, monkeypatch, keep_bound=False):
    """Every priced row counted idle; each part's freed bound against its exact optimum at the freed prices.
    keep_bound: the mutation that keeps B_i without the probe (must fail somewhere)."""
    monkeypatch.setattr(idle_rows, "IDLE_SHARE", np.inf)
    at = _parts_at(form, p)
    if at is None:
        return True
    parts, bounds, a_shared, upper, x, priced = at
    freed = idle_rows.with_idle_rows_free(parts, p, a_shared, upper, a_shared @ x, priced, 1, np.inf)
    if freed is None:    # no row with a positive limit (a stock row no column draws from)
        assert not np.any((p > 0) & (upper > 0))
        return True
    p_free, forced = freed
    b_free = bounds if keep_bound else np.minimum(bounds, forced)
    cost_free = priced + a_shared.T @ (p_free - p)
    return all(b <= _optimum_at(q, cost_free) + 1e-6 * max(1.0, abs(b)) for q, b in zip(parts, b_free))


@pytest.mark.parametrize("seed", range(30))
def test_the_freed_bound_never_passes_a_parts_optimum(seed, monkeypatch):
    form = random_fleet(seed)
    rng = np.random.default_rng(1000 + seed)
    p = rng.uniform(0.5, 4.0, int(shared_rows(form).sum()))
    assert _check_valid(form, p, monkeypatch)


def test_without_the_probe_some_freed_bound_would_pass_the_optimum(monkeypatch):
    """The mutation the probe guards against: keeping B_i at the lower prices is not a bound."""
    broken = 0
    for seed in range(30):
        form = random_fleet(seed)
        p = np.random.default_rng(1000 + seed).uniform(0.5, 4.0, int(shared_rows(form).sum()))
        broken += not _check_valid(form, p, monkeypatch, keep_bound=True)
    assert broken > 0


def test_a_row_no_plan_uses_gives_its_price_back_to_the_bound():
    """A stock row priced so high that no part's plan touches it: at zero its price, p u, returns to the bound,
    less what the parts' probes give up."""
    gained = 0
    for seed in range(20):
        form = random_fleet(seed)
        p = np.full(int(shared_rows(form).sum()), 50.0)
        if (at := _parts_at(form, p)) is None:
            continue
        parts, bounds, a_shared, upper, x, priced = at
        freed = idle_rows.with_idle_rows_free(parts, p, a_shared, upper, a_shared @ x, priced, 1, np.inf)
        if freed is None:
            continue
        before = bounds.sum() - p @ upper
        after = np.minimum(bounds, freed[1]).sum() - freed[0] @ np.where(freed[0] > 0, upper, 0.0)
        gained += after > before + 1e-6
    assert gained > 0


def test_monitored_parts_force_evaluators_through_their_pipelines(monkeypatch):
    """global-fleet's parts with us-east's L4 stock priced so high that no plan draws from it: evaluators are
    among its columns (continuous, forced through their pipelines). Freed, each part's bound stays at or under
    its optimum; with the evaluators left out of the forcing row, a monitored part's would pass it by $20.84
    (checked when this test was written)."""
    form = build_problem(without_carbon_budget()).form
    names = np.array(form.row_names())[shared_rows(form)]
    p = np.where(names == "inventory[us-east,l4]", 300.0, 0.0)
    a_shared = form.matrix()[np.flatnonzero(shared_rows(form))]
    ev = form.blocks["evaluators"]
    assert (a_shared[:, ev.start:ev.start + ev.size].T @ p > 0).any()
    assert _check_valid(form, p, monkeypatch)


def test_nothing_idle_gives_none():
    form = random_fleet(0)
    parts, bounds, a_shared, upper, x, priced = _parts_at(form, np.zeros(int(shared_rows(form).sum())))
    assert idle_rows.with_idle_rows_free(parts, np.zeros(len(upper)), a_shared, upper, a_shared @ x, priced, 1,
                                         np.inf) is None
