"""Rounded cover rows (fleetopt/formulation/replica_cover.py): every row holds for every plan, so the optimum is
the brute-force one with the rows on or off, and the LP with them is never below the LP without."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_cover import population_sets, rounded_rows, set_capacity, with_cover_rows
from fleetopt.formulation.replica_bound import ServiceKnapsack, form_knapsacks
from fleetopt.formulation.split import relaxed

EXACT = SolveOptions(mip_rel_gap=0.0, threads=1)


def service(rng: np.random.Generator, n_pop: int | None = None) -> Formulation:
    """One service as families.py writes it (replicas, flow, demand, replica_capacity): 2-6 options of whole and
    half replicas (capacities within 3%), each routed to some of 1-4 populations at 90-100% of its capacity,
    demands of 1-6 replicas, so that whole replicas are a large share of the cost."""
    n_pop = n_pop or int(rng.integers(1, 5))
    n_opt = int(rng.integers(2, 7))
    base = rng.uniform(5, 50)
    size = rng.choice([0.5, 1.0], n_opt)
    cap = base * size * rng.uniform(0.97, 1.03, n_opt)
    cost = (cap / base * 1000 * rng.uniform(1.0, 1.2, n_opt)).round(2)
    routes = []
    for o in range(n_opt):
        for u in rng.choice(n_pop, size=rng.integers(1, n_pop + 1), replace=False):
            routes.append((o, int(u), float(cap[o] * rng.uniform(0.9, 1.0))))
    for u in set(range(n_pop)) - {u for _, u, _ in routes}:
        routes.append((0, u, float(cap[0])))
    demand = base * rng.uniform(0.3, 6.0, n_pop)
    form = Formulation()
    keys = [("svc", f"o{o}") for o in range(n_opt)]
    n = form.add_vars("replicas", keys, lb=0, ub=40, cost=cost, integer=True)
    f = form.add_vars("flow", [keys[o] + (f"u{u}",) for o, u, _ in routes], lb=0)
    form.add_rows("demand", [("svc", f"u{u}") for u in range(n_pop)], [u for _, u, _ in routes], f.cols,
                  np.ones(len(routes)), lower=demand, upper=demand)
    form.add_rows("replica_capacity", keys, np.r_[[o for o, _, _ in routes], np.arange(n_opt)],
                  np.r_[f.cols, n.cols], np.r_[[1.0 / r for _, _, r in routes], -np.ones(n_opt)], upper=0.0)
    return form


def most_replicas(form: Formulation) -> np.ndarray:
    """Per option, the replicas that carry all the demand it reaches on its slowest route (never more needed)."""
    _, _, sk = form_knapsacks(form)[0]
    out = np.zeros(len(sk.cost), dtype=int)
    for o in range(len(sk.cost)):
        on = sk.route_option == o
        out[o] = int(np.ceil(sk.demand[np.unique(sk.route_population[on])].sum() / sk.route_rps[on].min()))
    return out


def brute_force(form: Formulation) -> float:
    """The least cost over every replica vector (up to most_replicas) whose flows can route the demand (an LP)."""
    n = form.blocks["replicas"]
    best = np.inf
    for counts in itertools.product(*(range(m + 1) for m in most_replicas(form))):
        cost = float(n.cost @ np.array(counts))
        if cost >= best:
            continue
        fixed = Formulation(dict(form.blocks), dict(form.families), form.objective_name, form.n_cols, form.n_rows)
        fixed.blocks["replicas"] = type(n)(n.name, n.keys, n.start, np.array(counts, float),
                                           np.array(counts, float), n.cost, False)
        if highs.solve(fixed, SolveOptions(threads=1)).status == "optimal":
            best = cost
    return best


def test_every_rounding_holds_for_every_covering_point():
    rng = np.random.default_rng(0)
    for _ in range(30):
        cap = rng.uniform(1, 10, 3) * rng.choice([0.0, 1.0], 3, p=[0.2, 0.8])
        demand = float(rng.uniform(1, 30))
        coef, rhs = rounded_rows(cap, demand)
        points = np.array(list(itertools.product(range(7), repeat=3)), float)
        covering = points[points @ cap >= demand]
        assert (covering @ coef.T >= rhs[None, :] - 1e-9).all()


def test_seven_replicas_of_ten_do_not_carry_seventy_one():
    """Replicas of 10 req/s at 100 and of 5 at 50; 71 req/s: the LP buys 7.1 (710), whole replicas 7.5 (750)."""
    form = Formulation()
    n = form.add_vars("replicas", [("s", "big"), ("s", "half")], lb=0, ub=40, cost=[100.0, 50.0], integer=True)
    f = form.add_vars("flow", [("s", "big", "u"), ("s", "half", "u")], lb=0)
    form.add_rows("demand", [("s", "u")], [0, 0], f.cols, [1.0, 1.0], lower=71.0, upper=71.0)
    form.add_rows("replica_capacity", [("s", "big"), ("s", "half")], [0, 1, 0, 1], np.r_[f.cols, n.cols],
                  [0.1, 0.2, -1.0, -1.0], upper=0.0)
    assert highs.solve(relaxed(form), EXACT).objective == pytest.approx(710.0)
    covered = with_cover_rows(form)
    assert "replica_cover" in covered.families and "replica_cover" not in form.families
    assert highs.solve(relaxed(covered), EXACT).objective == pytest.approx(750.0)
    assert highs.solve(covered, EXACT).objective == pytest.approx(750.0)


def test_sets_of_many_populations_are_singletons_reaches_and_all():
    sk = ServiceKnapsack(np.ones(3), np.array([0, 0, 1, 2, 2, 2, 2, 2, 2]), np.array([0, 1, 2, 3, 4, 5, 6, 0, 1]),
                         np.ones(9), np.ones(7))
    sets = {tuple(s) for s in population_sets(sk)}
    assert {(u,) for u in range(7)} <= sets and (0, 1) in sets and tuple(range(7)) in sets
    assert len(sets) < 2 ** 7 - 1
    assert np.array_equal(set_capacity(sk, np.array([2, 3])), [0.0, 1.0, 1.0])


@pytest.mark.parametrize("seed", range(6))
def test_the_rows_keep_the_brute_force_optimum_and_never_lower_the_lp(seed):
    rng = np.random.default_rng(seed)
    for _ in range(6):
        form = service(rng)
        covered = with_cover_rows(form)
        assert covered.n_cols == form.n_cols and form_knapsacks(form)
        plain, cut = highs.solve(form, EXACT), highs.solve(covered, EXACT)
        assert plain.status == cut.status == "optimal"
        assert cut.objective == pytest.approx(plain.objective, rel=1e-9)
        lp, lp_cut = (highs.solve(relaxed(g), EXACT).objective for g in (form, covered))
        assert lp_cut >= lp * (1 - 1e-9)
        assert lp_cut <= plain.objective * (1 + 1e-9)
        if np.prod(most_replicas(form) + 1.0) <= 2000:
            assert plain.objective == pytest.approx(brute_force(form), rel=1e-9)


def test_the_rows_raise_the_lp_of_few_large_replicas():
    """Over random services of 1-6 replicas per population, the rows close part of the LP's gap on most."""
    rng = np.random.default_rng(42)
    raised = 0
    for _ in range(20):
        form = service(rng, n_pop=int(rng.integers(2, 5)))
        lp = highs.solve(relaxed(form), EXACT).objective
        raised += highs.solve(relaxed(with_cover_rows(form)), EXACT).objective > lp * (1 + 1e-6)
    assert raised >= 10


def test_services_of_more_populations_get_no_rows():
    """Past replica_cover.MOST_POPULATIONS populations a service's sets multiply: no rows."""
    from fleetopt.formulation import replica_cover

    rng = np.random.default_rng(7)
    form = service(rng, n_pop=replica_cover.MOST_POPULATIONS + 1)
    assert "replica_cover" not in with_cover_rows(form).families
    fewer = service(rng, n_pop=2)
    lp = highs.solve(relaxed(fewer), EXACT).objective
    covered = with_cover_rows(fewer)
    assert ("replica_cover" in covered.families) == (highs.solve(relaxed(covered), EXACT).objective > lp)
