"""The covering program's bound (formulation/cover_bound.py): options dropped only where another dominates them,
the reduced program's optimum the full one's, and its row never above the brute-force optimum of random small
services of four populations (near-twin options, few replicas), so a part solved with it keeps that optimum."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.formulation.cover_bound import covering_bound, covering_options, solve_covering, with_cover_bounds
from fleetopt.formulation.replica_bound import form_knapsacks, lp_floor
from fleetopt.formulation.replica_cover import population_sets, set_capacity
from fleetopt.formulation.split import relaxed

from solving.test_parts_rows_up_front import EXACT, brute_force, parts_at_brute_force, random_service, services


def covering_brute_force(cost: np.ndarray, cap: np.ndarray, demand: np.ndarray) -> float:
    """The covering program's optimum over every replica vector up to what covers every set alone."""
    most = [int(np.ceil(demand.max() / a.max())) if a.max() > 0 else 0 for a in cap]
    best = np.inf
    for n in itertools.product(*[range(m + 1) for m in most]):
        n = np.array(n, float)
        if (n @ cap >= demand - 1e-9).all():
            best = min(best, float(n @ cost))
    return best


def test_a_dominated_option_is_dropped_and_twins_keep_the_first():
    cost = np.array([10.0, 9.0, 9.0, 12.0, 5.0])
    cap = np.array([[4.0, 4.0], [4.0, 4.5], [4.0, 4.5], [6.0, 0.0], [0.0, 0.0]])
    # 0: dearer than 1 and carries no more; 2: twin of 1; 3: carries more to the first set; 4: carries nothing
    assert covering_options(cost, cap).tolist() == [1, 3]


def test_an_option_that_a_multiple_of_another_dominates_is_dropped():
    cost = np.array([2.0, 4.0, 4.0, 8.0, 1.5])
    cap = np.array([[5.0, 5.0], [8.0, 9.0], [8.0, 11.0], [16.0, 16.0], [2.0, 0.0]])
    # 1: two of 0 (cost 4) carry 10 >= 8 and 10 >= 9; 2: two of 0 carry 10 < 11, so it stays; 3: four of 0
    # (cost 8) carry 20; 4: cheaper than 0, and no multiple of 0 costs as little
    assert covering_options(cost, cap).tolist() == [0, 2, 4]


@pytest.mark.parametrize("seed", range(8))
def test_dropping_multiples_keeps_the_covering_optimum(seed):
    """Options at 2x and 4x a base option's cost that carry less than 2 and 4 of it (a model's larger replicas):
    dropped, and the program's optimum (HiGHS, proven) is the full one's."""
    rng = np.random.default_rng(900 + seed)
    base_cost = rng.uniform(9.0, 11.0, 3)
    base = rng.uniform(3.0, 5.0, (3, 3)) * (rng.random((3, 3)) < 0.8)
    base[np.arange(3), np.arange(3)] = rng.uniform(3.0, 5.0, 3)
    cost = np.concatenate([base_cost, 2 * base_cost, 4 * base_cost])
    cap = np.concatenate([base, base * rng.uniform(1.5, 2.0, (3, 1)), base * rng.uniform(3.0, 4.0, (3, 1))])
    demand = rng.uniform(5.0, 15.0, 3)
    keep = covering_options(cost, cap)
    assert keep.max() < 3   # only base options stay
    full, _ = solve_covering(cost, cap.T, demand, 10**6, 60.0)
    reduced, _ = solve_covering(cost[keep], cap[keep].T, demand, 10**6, 60.0)
    assert reduced == pytest.approx(full, rel=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_the_reduced_program_has_the_full_ones_optimum(seed):
    rng = np.random.default_rng(seed)
    _, d, cost, rps = random_service(rng, "s", 3)
    sk = form_knapsacks(services([("s", d, cost, rps)]))[0][2]
    sets = population_sets(sk)
    cap = np.array([set_capacity(sk, s) for s in sets]).T
    demand = np.array([sk.demand[s].sum() for s in sets])
    keep = covering_options(sk.cost, cap)
    full = covering_brute_force(sk.cost, cap, demand)
    assert covering_brute_force(sk.cost[keep], cap[keep], demand) == pytest.approx(full, rel=1e-12)
    assert covering_bound(sk) == pytest.approx(full, rel=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_the_row_is_never_above_the_brute_force_optimum(seed):
    rng = np.random.default_rng(100 + seed)
    spec = [random_service(rng, "four", 4)]
    form = services(spec)
    expected = brute_force(spec)
    bounded = with_cover_bounds(form)
    assert bounded.n_cols == form.n_cols and "replica_cover_bound" not in form.families
    if "replica_cover_bound" in bounded.families:
        row = bounded.families["replica_cover_bound"]
        assert row.lower[0] <= expected * (1 + 1e-9)
        assert row.lower[0] > lp_floor(form_knapsacks(form)[0][2])
    solved = highs.solve(bounded, EXACT)
    assert solved.status == "optimal" and solved.objective == pytest.approx(expected, rel=1e-9)
    assert highs.solve(relaxed(bounded), EXACT).objective <= expected * (1 + 1e-9)


def test_the_row_lifts_the_lp_where_replicas_round_badly():
    """Over seeds, some four-population service's LP rises with the row (it is not a row that never binds)."""
    raised = 0
    for seed in range(6):
        form = services([random_service(np.random.default_rng(200 + seed), "four", 4)])
        lp = highs.solve(relaxed(form), EXACT).objective
        raised += highs.solve(relaxed(with_cover_bounds(form)), EXACT).objective > lp * (1 + 1e-6)
    assert raised >= 1


def test_services_and_fixed_options_are_respected():
    rng = np.random.default_rng(7)
    form = services([random_service(rng, "a", 4), random_service(rng, "b", 4)])
    only_b = with_cover_bounds(form, services={"b"})
    assert {k[0] for k in only_b.families.get("replica_cover_bound", replace(form.families["demand"],
                                                                              keys=[])).keys} <= {"b"}
    # every option fixed at zero: no route, so no bound to state
    n = form.blocks["replicas"]
    none_open = form.copy()
    none_open.blocks["replicas"] = replace(n, ub=np.zeros(n.size))
    assert "replica_cover_bound" not in with_cover_bounds(none_open).families


@pytest.mark.parametrize("seed", range(4))
def test_parts_with_the_row_up_front_keep_the_brute_force_optimum(seed, monkeypatch):
    """Solved in parts (rows up front, pipeline/decompose.py), a four-population service beside a two-population
    one: the brute-force optimum, a bound under it, and the covering row in the first round's MILP."""
    from fleetopt.pipeline import decompose

    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    rng = np.random.default_rng(300 + seed)
    seen = parts_at_brute_force([random_service(rng, "four", 4), random_service(rng, "two", 2)])
    four = [f for f in seen if "replica_cover_bound" in f.families]
    assert four and all(k[0] == "four" for f in four for k in f.families["replica_cover_bound"].keys)
