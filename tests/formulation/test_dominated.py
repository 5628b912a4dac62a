"""Dominated serving options (fleetopt/formulation/dominated.py): fixing them never changes the brute-force
optimum, options that could not take the moved replicas are never used as dominators, and options whose columns
touch other rows differently (another region's monitoring row) are never compared."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.dominated import dominated_options, without_dominated
from fleetopt.formulation.model import Formulation

EXACT = SolveOptions(mip_rel_gap=0.0, threads=1)


def service(rng: np.random.Generator, ub: float = 40.0,
            demand_hi: float = 3.5) -> tuple[Formulation, list[tuple[int, int, float]]]:
    """A service as families.py writes it, 2-3 populations, 3-5 options plus near-twins of them: each twin costs
    at least as much, reaches a subset of its original's populations at no more requests/s (so it is dominated),
    or costs less (so it is not)."""
    n_pop = int(rng.integers(2, 4))
    n_base = int(rng.integers(3, 6))
    base = rng.uniform(5, 30)
    cap = base * rng.choice([0.5, 1.0], n_base) * rng.uniform(0.95, 1.05, n_base)
    cost = list((cap / base * 1000 * rng.uniform(1.0, 1.2, n_base)).round(2))
    routes = []
    for o in range(n_base):
        for u in rng.choice(n_pop, size=rng.integers(1, n_pop + 1), replace=False):
            routes.append((o, int(u), float(cap[o] * rng.uniform(0.9, 1.0))))
    for u in set(range(n_pop)) - {u for _, u, _ in routes}:
        routes.append((0, u, float(cap[0])))
    for o in rng.choice(n_base, size=int(rng.integers(1, n_base + 1)), replace=False):
        twin = len(cost)
        cost.append(round(cost[o] * rng.choice([0.97, 1.0, 1.0, 1.03]), 2))
        for _, u, r in [t for t in routes if t[0] == o]:
            if rng.uniform() < 0.8:
                routes.append((twin, u, r * rng.choice([0.98, 1.0, 1.0])))
        if not any(t[0] == twin for t in routes):
            routes.append((twin, routes[0][1], routes[0][2]))
    demand = base * rng.uniform(0.3, demand_hi, n_pop)
    n_opt = len(cost)
    form = Formulation()
    keys = [("svc", f"o{o}") for o in range(n_opt)]
    n = form.add_vars("replicas", keys, lb=0, ub=ub, cost=cost, integer=True)
    f = form.add_vars("flow", [keys[o] + (f"u{u}",) for o, u, _ in routes], lb=0, ub=demand[[u for _, u, _ in routes]])
    form.add_rows("demand", [("svc", f"u{u}") for u in range(n_pop)], [u for _, u, _ in routes], f.cols,
                  np.ones(len(routes)), lower=demand, upper=demand)
    form.add_rows("replica_capacity", keys, np.r_[[o for o, _, _ in routes], np.arange(n_opt)],
                  np.r_[f.cols, n.cols], np.r_[[1.0 / r for _, _, r in routes], -np.ones(n_opt)], upper=0.0)
    return form, routes


def brute_force(form: Formulation, most: int) -> float:
    """The least cost over every replica vector of up to `most` per option whose flows route the demand (an LP),
    trying the vectors cheapest first."""
    n = form.blocks["replicas"]
    counts = np.minimum(np.array(list(itertools.product(range(most + 1), repeat=n.size)), float), n.ub)
    for c in counts[np.argsort(counts @ n.cost, kind="stable")]:
        fixed = Formulation(dict(form.blocks), dict(form.families), form.objective_name, form.n_cols, form.n_rows)
        fixed.blocks["replicas"] = type(n)(n.name, n.keys, n.start, c, c, n.cost, False)
        if highs.solve(fixed, SolveOptions(threads=1)).status == "optimal":
            return float(c @ n.cost)
    return np.inf


@pytest.mark.parametrize("seed", range(8))
def test_fixing_dominated_options_keeps_the_optimum(seed):
    rng = np.random.default_rng(seed)
    fixed_any = 0
    for _ in range(5):
        form, _ = service(rng)
        reduced, fixed = without_dominated(form)
        fixed_any += fixed > 0
        assert reduced.n_cols == form.n_cols and reduced.n_rows == form.n_rows
        plain, fewer = highs.solve(form, EXACT), highs.solve(reduced, EXACT)
        assert plain.status == fewer.status == "optimal"
        assert fewer.objective == pytest.approx(plain.objective, rel=1e-9)
        gone = dominated_options(form)
        assert (fewer.x[form.blocks["replicas"].cols[gone]] == 0).all()
    assert fixed_any >= 3


@pytest.mark.parametrize("seed", range(3))
def test_the_reduced_optimum_is_the_brute_force_one(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(3):
        form, _ = service(rng, ub=5.0, demand_hi=1.5)
        while form.blocks["replicas"].size > 5:
            form, _ = service(rng, ub=5.0, demand_hi=1.5)
        reduced, _ = without_dominated(form)
        want = brute_force(form, 5)
        got = highs.solve(reduced, EXACT)
        assert np.isfinite(want) and got.objective == pytest.approx(want, rel=1e-9)


def two_options(ub_better: float, better_region: str = "r1") -> Formulation:
    """Option a (10 req/s at 100) and option b, dearer and slower (9 req/s at 110), one population of 45 req/s;
    a's flows enter a monitoring-like row of region `better_region`, b's that of r1."""
    form = Formulation()
    n = form.add_vars("replicas", [("s", "a"), ("s", "b")], lb=0, ub=[ub_better, 40.0], cost=[100.0, 110.0],
                      integer=True)
    f = form.add_vars("flow", [("s", "a", "u"), ("s", "b", "u")], lb=0, ub=45.0)
    form.add_rows("demand", [("s", "u")], [0, 0], f.cols, [1.0, 1.0], lower=45.0, upper=45.0)
    form.add_rows("replica_capacity", [("s", "a"), ("s", "b")], [0, 1, 0, 1], np.r_[f.cols, n.cols],
                  [0.1, 1 / 9, -1.0, -1.0], upper=0.0)
    regions = sorted({better_region, "r1"})
    form.add_rows("monitoring_traffic", [("s", "u", r) for r in regions],
                  [regions.index(better_region), regions.index("r1")], f.cols, [1.0, 1.0], upper=45.0)
    return form


def test_the_dearer_slower_option_is_fixed():
    assert dominated_options(two_options(40.0)).tolist() == [1]


def test_an_option_whose_bound_could_cut_dominates_nothing():
    """a may hold at most 3 replicas (30 req/s < 45): the plan needs b, so b stays."""
    form = two_options(3.0)
    assert dominated_options(form).size == 0
    assert highs.solve(without_dominated(form)[0], EXACT).objective == pytest.approx(3 * 100 + 2 * 110)


def test_options_touching_other_rows_differently_are_not_compared():
    assert dominated_options(two_options(40.0, better_region="r2")).size == 0
