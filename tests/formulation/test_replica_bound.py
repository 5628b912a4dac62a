"""The whole-replica bound (fleetopt/formulation/replica_bound.py): never above the optimum, so the plan and its
optimum are the same with its rows on or off; and above the LP where whole replicas matter."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from fleetopt.formulation.replica_bound import ServiceKnapsack, _min_plus, lower_bound, lp_floor, with_replica_bounds
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir
from helpers import solve_and_verify


def random_service(rng: np.random.Generator) -> ServiceKnapsack:
    """Near-twin options (capacity within 3%, whole, half and quarter replicas) routed to 1-3 populations."""
    n_pop, n_opt = int(rng.integers(1, 4)), int(rng.integers(2, 10))
    base = rng.uniform(2, 5)
    cap = base * rng.choice([0.25, 0.5, 1.0], n_opt) * rng.uniform(0.97, 1.03, n_opt)
    cost = cap / base * 1000 * rng.uniform(1.0, 1.1, n_opt)
    option, population, rps = [], [], []
    for o in range(n_opt):
        for u in rng.choice(n_pop, size=rng.integers(1, n_pop + 1), replace=False):
            option.append(o)
            population.append(int(u))
            rps.append(cap[o] * rng.uniform(0.98, 1.0))
    for u in set(range(n_pop)) - set(population):   # every population has a route
        option.append(0)
        population.append(u)
        rps.append(cap[0])
    return ServiceKnapsack(cost, np.array(option), np.array(population), np.array(rps),
                           rng.uniform(3, 25, n_pop))


def optimum(sk: ServiceKnapsack) -> float:
    """The service MILP solved exactly: integer replicas n, flows f; demand rows and replica capacity rows."""
    n_opt, n_route, n_pop = len(sk.cost), len(sk.route_option), len(sk.demand)
    flows = n_opt + np.arange(n_route)
    demand = sp.csr_matrix((np.ones(n_route), (sk.route_population, flows)), shape=(n_pop, n_opt + n_route))
    capacity = sp.csr_matrix((np.r_[1 / sk.route_rps, -np.ones(n_opt)],
                              (np.r_[sk.route_option, np.arange(n_opt)], np.r_[flows, np.arange(n_opt)])),
                             shape=(n_opt, n_opt + n_route))
    res = milp(np.r_[sk.cost, np.zeros(n_route)], integrality=np.r_[np.ones(n_opt), np.zeros(n_route)],
               constraints=[LinearConstraint(demand, sk.demand, sk.demand), LinearConstraint(capacity, -np.inf, 0)],
               bounds=Bounds(0, np.inf), options={"mip_rel_gap": 0.0})
    assert res.status == 0
    return float(res.mip_dual_bound)


@pytest.mark.parametrize("seed", range(4))
def test_the_bound_is_never_above_the_optimum(seed):
    rng = np.random.default_rng(seed)
    for _ in range(15):
        sk = random_service(rng)
        best = optimum(sk)
        assert lower_bound(sk) <= best * (1 + 1e-9)
        assert lp_floor(sk) <= best * (1 + 1e-9)


def test_one_population_on_one_option_is_exact():
    """Demand 10 on replicas of 3: the LP says 3.33 replicas, whole replicas 4."""
    sk = ServiceKnapsack(np.array([100.0]), np.array([0]), np.array([0]), np.array([3.0]), np.array([10.0]))
    assert lp_floor(sk) == pytest.approx(1000 / 3)
    assert lower_bound(sk) == pytest.approx(400.0, rel=1e-3)


def test_near_twins_are_combined_to_fill_the_demand():
    """Replicas of 3.0 at 100 and of 3.5 at 120: 7.0 needs two 3.5s (240) or three 3.0s (300); 6.0 two 3.0s."""
    sk = ServiceKnapsack(np.array([100.0, 120.0]), np.array([0, 1]), np.array([0, 0]), np.array([3.0, 3.5]),
                         np.array([7.0]))
    assert lower_bound(sk) == pytest.approx(240.0, rel=1e-3)
    sk.demand = np.array([6.0])
    assert lower_bound(sk) == pytest.approx(200.0, rel=1e-3)


def test_min_plus_matches_the_double_loop():
    rng = np.random.default_rng(0)
    for _ in range(10):
        a, b = rng.random(rng.integers(1, 9)), rng.random(rng.integers(1, 9))
        want = np.full(len(a) + len(b) - 1, np.inf)
        for i in range(len(a)):
            for j in range(len(b)):
                want[i + j] = min(want[i + j], a[i] + b[j])
        assert np.allclose(_min_plus(a, b), want)


def test_the_rows_change_neither_the_plan_nor_its_optimum():
    """archetype-b (sharded DLRM replicas far larger than the demand: whole replicas are most of the cost)."""
    inst = load_instance(shipped_dir("instances") / "archetype-b.yaml")
    off = solve_and_verify(inst, mip_rel_gap=1e-6)
    on = solve_and_verify(inst, mip_rel_gap=1e-6, replica_bound=True)
    assert on.status == off.status == "optimal"
    assert on.objective == pytest.approx(off.objective, rel=1e-6)
    assert on.bound >= off.bound * (1 - 1e-6)
    assert not any(b.family == "replica_bound" for b in on.binding)   # the rows are the solver's, not the plan's


def test_rows_are_appended_to_a_copy():
    from fleetopt.api import build_problem

    problem = build_problem(load_instance(shipped_dir("instances") / "archetype-b.yaml"))
    rows = problem.form.n_rows
    out = with_replica_bounds(problem.form, problem.serving)
    assert problem.form.n_rows == rows and "replica_bound" not in problem.form.families
    assert out.n_cols == problem.form.n_cols
    assert "replica_bound" in out.families     # the DLRM shard group: one whole replica beats its LP share


def regional_service(rng: np.random.Generator) -> ServiceKnapsack:
    """Three to five populations, the first reached by every option (as x100's us users are); each option reaches
    it and one or two others, at a capacity that differs by population; costs near-twins; a few replicas each."""
    n_pop, n_opt = int(rng.integers(3, 6)), int(rng.integers(3, 9))
    option, population, rps = [], [], []
    cap = rng.uniform(2, 5, n_opt)
    for o in range(n_opt):
        reach = [0] + list(rng.choice(np.arange(1, n_pop), size=rng.integers(1, 3), replace=False))
        for u in reach:
            option.append(o)
            population.append(int(u))
            rps.append(cap[o] * rng.uniform(0.6, 1.0))
    for u in set(range(n_pop)) - set(population):
        option.append(0)
        population.append(u)
        rps.append(cap[0])
    cost = cap * 100 * rng.uniform(1.0, 1.3, n_opt)
    return ServiceKnapsack(cost, np.array(option), np.array(population), np.array(rps), rng.uniform(1, 12, n_pop))


@pytest.mark.parametrize("seed", range(4))
def test_the_bound_with_three_reach_types_or_more_is_never_above_the_optimum(seed):
    """Services of three to five populations, where the split replicas' reach sets number three or more."""
    rng = np.random.default_rng(100 + seed)
    above = 0
    for _ in range(15):
        sk = regional_service(rng)
        best = optimum(sk)
        bound = lower_bound(sk)
        assert bound <= best * (1 + 1e-9)
        above += bound > lp_floor(sk) * (1 + 1e-6)
    assert above >= 1      # and it says something: above the LP's floor on some of them
