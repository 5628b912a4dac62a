"""Whole-replica bounds on the parts a first round leaves open (pipeline/decompose.py, SolveOptions.replica_bound
None): read from the formulation alone (formulation/replica_bound.py: form_knapsacks), they are the rows the
option table gives, and solving in parts with them reaches the brute-force optimum of random small fleets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.api import build_problem
from fleetopt.backends import highs
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_bound import (form_knapsacks, lower_bound, service_knapsacks,
                                                with_form_replica_bounds, with_replica_bounds)
from fleetopt.io.load import load_instance
from fleetopt.paths import default_instance
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import Backend, solve_by_parts
from helpers import EXACT, rows_hold


def service_fleet(seed: int) -> Formulation:
    """2-4 services with near-twin replica options (capacities within 3%, whole, half and quarter replicas),
    each routed to 1-3 populations, the way families.py writes them (replicas, flow, demand, replica_capacity),
    joined by a GPU stock row that binds on some seeds."""
    rng = np.random.default_rng(seed)
    services = int(rng.integers(2, 5))
    opt_service, opt_cost, opt_gpus, routes, demands = [], [], [], [], []
    for s in range(services):
        n_pop, n_opt = int(rng.integers(1, 4)), int(rng.integers(2, 7))
        base = rng.uniform(2, 5)
        size = rng.choice([0.25, 0.5, 1.0], n_opt)
        cap = base * size * rng.uniform(0.97, 1.03, n_opt)
        first = len(opt_cost)
        opt_service += [s] * n_opt
        opt_cost += list((cap / base * 1000 * rng.uniform(1.0, 1.1, n_opt)).round(2))
        opt_gpus += list((size * 8).astype(int))
        reached = set()
        for o in range(n_opt):
            for u in rng.choice(n_pop, size=rng.integers(1, n_pop + 1), replace=False):
                routes.append((first + o, s, int(u), float(cap[o] * rng.uniform(0.98, 1.0))))
                reached.add(int(u))
        for u in set(range(n_pop)) - reached:
            routes.append((first, s, u, float(cap[0])))
        demands += [(s, u, float(rng.uniform(3, 25))) for u in range(n_pop)]
    form = Formulation()
    keys = [(f"s{s}", f"o{o}") for o, s in enumerate(opt_service)]
    n = form.add_vars("replicas", keys, lb=0, ub=50, cost=opt_cost, integer=True)
    f = form.add_vars("flow", [keys[o] + (f"u{u}",) for o, _, u, _ in routes], lb=0)
    row_of = {(s, u): i for i, (s, u, _) in enumerate(demands)}
    form.add_rows("demand", [(f"s{s}", f"u{u}") for s, u, _ in demands],
                  [row_of[(s, u)] for _, s, u, _ in routes], f.cols, np.ones(len(routes)),
                  lower=[d for _, _, d in demands], upper=[d for _, _, d in demands])
    form.add_rows("replica_capacity", keys, np.r_[[o for o, _, _, _ in routes], np.arange(len(keys))],
                  np.r_[f.cols, n.cols], np.r_[[1.0 / r for _, _, _, r in routes], -np.ones(len(keys))],
                  upper=0.0)
    # the stock: up to 10% over what the cheapest plan without it holds (the row binds on some seeds)
    held = float(np.asarray(opt_gpus) @ highs.solve(form, EXACT).x[n.cols])
    form.add_rows("inventory", [("fleet",)], np.zeros(len(keys), int), n.cols, opt_gpus,
                  upper=held * rng.uniform(1.0, 1.1), shared=True)
    return form


def holds(form: Formulation, x: np.ndarray) -> bool:
    """Every row and bound within HiGHS's feasibility tolerance (1e-6: a replica may come back as -1e-8)."""
    _, lb, ub, _ = form.col_arrays()
    clipped = np.clip(x, lb, ub)
    return bool(np.abs(clipped - x).max(initial=0.0) <= 1e-6 and rows_hold(form, clipped))


def test_the_formulation_gives_the_option_tables_knapsacks():
    problem = build_problem(load_instance(default_instance()))
    n = problem.form.blocks["replicas"]
    from_table = service_knapsacks(problem.serving, n.cost)
    from_form = form_knapsacks(problem.form)
    assert [name for name, _, _ in from_form] == problem.serving.service_names
    for s, (table, (_, cols, form_sk)) in enumerate(zip(from_table, from_form)):
        assert np.array_equal(cols, n.cols[problem.serving.service == s])
        assert np.array_equal(table.cost, form_sk.cost)
        assert np.allclose(np.sort(table.demand[table.demand > 0]), np.sort(form_sk.demand[form_sk.demand > 0]))
        assert lower_bound(table) == pytest.approx(lower_bound(form_sk), rel=1e-9)
    a, b = with_replica_bounds(problem.form, problem.serving), with_form_replica_bounds(problem.form)
    assert a.families["replica_bound"].keys == b.families["replica_bound"].keys
    assert np.allclose(a.families["replica_bound"].lower, b.families["replica_bound"].lower)


def test_rows_of_another_shape_give_no_bound():
    form = service_fleet(0)
    form.families["replica_capacity"].vals[-1] = -2.0   # a replica counted twice: not the shape bounded here
    assert form_knapsacks(form) == []
    assert "replica_bound" not in with_form_replica_bounds(form).families


@pytest.mark.parametrize("seed", range(12))
def test_bounded_open_parts_reach_the_brute_force_optimum(seed, monkeypatch):
    """First rounds of one node leave the parts open, so each gets its rows; the bound stays below the optimum
    of the whole model (HiGHS at gap 0) and the joined plan meets every row."""
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    form = service_fleet(seed)
    whole = highs.solve(form, EXACT)
    assert whole.status == "optimal"
    for bound_rows in (None, True):
        parted = solve_by_parts(form, Backend(highs.solve, workers=2), replace(EXACT, replica_bound=bound_rows))
        assert parted.status == "optimal"
        assert parted.objective == pytest.approx(whole.objective, rel=1e-6)
        assert parted.bound <= whole.objective * (1 + 1e-9)
        assert holds(form, parted.x)
    for _, _, sk in form_knapsacks(form):
        assert lower_bound(sk) >= 0.0
    bounded = with_form_replica_bounds(form)
    if "replica_bound" in bounded.families:
        assert bounded.n_cols == form.n_cols
        assert highs.solve(bounded, EXACT).objective == pytest.approx(whole.objective, rel=1e-6)
