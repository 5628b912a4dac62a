"""Rows up front (pipeline/decompose.py: _with_rows_up_front): a fractional static part starts its first round
with the whole-replica rows of its services of up to three populations and the cover rows of those of up to four;
the rows cut off no plan, so on random small services solving in parts keeps the brute-force optimum, and the
parts' plan of a fleet verifies. Also `_run`: results in part order, parts changed by `prepare` written back."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import Part
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import Backend, _run, _with_rows_up_front, solve_by_parts

from helpers import solve_and_verify, without_carbon_budget

EXACT = SolveOptions(mip_rel_gap=0.0, threads=1)


def services(spec: list[tuple[str, list[float], list[float], np.ndarray]], most: int = 60,
             inventory: float = 1e4) -> Formulation:
    """Services joined only by a shared inventory row of `inventory` replicas (by default it does not bind), at
    most `most` replicas an option. Each: (name, demand per population, cost per option, rps[option, population],
    0 where the option has no route there)."""
    form = Formulation()
    keys = [(s, f"o{o}") for s, _, cost, _ in spec for o in range(len(cost))]
    n = form.add_vars("replicas", keys, lb=0, ub=most, cost=np.concatenate([c for _, _, c, _ in spec]),
                      integer=True)
    routes, demand_keys, demand = [], [], []
    for s, d, cost, rps in spec:
        base = len(demand_keys)
        demand_keys += [(s, f"u{u}") for u in range(len(d))]
        demand += list(d)
        routes += [((s, f"o{o}"), base + u, rps[o, u]) for o in range(len(cost)) for u in range(len(d))
                   if rps[o, u] > 0]
    f = form.add_vars("flow", [k + (demand_keys[row][1],) for k, row, _ in routes], lb=0)
    form.add_rows("demand", demand_keys, [row for _, row, _ in routes], f.cols, np.ones(len(routes)),
                  lower=demand, upper=demand)
    option_row = [keys.index(k) for k, _, _ in routes]
    form.add_rows("replica_capacity", keys, np.r_[option_row, np.arange(len(keys))], np.r_[f.cols, n.cols],
                  np.r_[[1.0 / r for _, _, r in routes], -np.ones(len(keys))], upper=0.0)
    form.add_rows("inventory", [("fleet",)], np.zeros(len(keys), int), n.cols, np.ones(len(keys)),
                  upper=inventory, shared=True)
    return form


def random_service(rng, name: str, populations: int) -> tuple:
    """3-4 near-twin options of 3-9 req/s (each reaching a random nonempty set of populations) at about 10 USD per
    req/s, demands of 3-12 req/s: few whole replicas, so the LP rounds badly."""
    options = int(rng.integers(3, 5))
    rps = rng.uniform(3.0, 9.0, (options, 1)) * rng.uniform(0.97, 1.0, (options, populations))
    reach = rng.random((options, populations)) < 0.7
    reach[np.arange(options), rng.integers(0, populations, options)] = True
    rps = np.where(reach, np.round(rps, 2), 0.0)
    cost = np.round(rps.max(axis=1) * rng.uniform(9.0, 11.0, options), 1)
    return name, list(np.round(rng.uniform(3.0, 12.0, populations), 1)), list(cost), rps


def brute_force(spec) -> float:
    """Per service, the least cost over every replica vector (up to what carries all the demand alone): vectors
    cheapest first, each checked by an LP of its flows, the first that routes the demand answering."""
    total = 0.0
    for name, d, cost, rps in spec:
        form = services([(name, d, cost, rps)])
        most = np.ceil(sum(d) / rps.max(axis=1)).astype(int)
        counts = np.array(list(itertools.product(*[range(m + 1) for m in most])), float)
        n = form.blocks["replicas"]
        for c in counts[np.argsort(counts @ np.array(cost), kind="stable")]:
            if c @ rps.max(axis=1) < sum(d) - 1e-9:
                continue   # cannot carry the demand: no LP needed
            fixed = replace(form, blocks=dict(form.blocks), families=dict(form.families))
            fixed.blocks["replicas"] = replace(n, lb=c, ub=c)
            if highs.solve(fixed, EXACT).status == "optimal":
                total += float(c @ np.array(cost))
                break
    return total


def test_a_small_service_gets_both_rows_and_a_four_population_one_only_covers():
    rng = np.random.default_rng(3)
    form = services([random_service(rng, "two", 2), random_service(rng, "four", 4)])
    up = _with_rows_up_front(Part(form, np.arange(form.n_cols), np.arange(form.n_rows))).form
    assert [k[0] for k in up.families["replica_bound"].keys] == ["two"]
    assert "four" in {k[0] for k in up.families["replica_cover"].keys}
    assert up.n_cols == form.n_cols and "replica_bound" not in form.families


def parts_at_brute_force(spec) -> list:
    """Solve the services of `spec` in parts (default rows, EXACT); assert the brute-force optimum and a bound
    under it; return the models the backend was handed."""
    seen = []
    backend = Backend(lambda f, o: seen.append(f) or highs.solve(f, o), workers=2)
    parted = solve_by_parts(services(spec), backend, replace(EXACT, replica_bound=None))
    expected = brute_force(spec)
    assert parted.status == "optimal" and parted.objective == pytest.approx(expected, rel=1e-9)
    assert parted.bound <= expected * (1 + 1e-9)
    return seen


@pytest.mark.parametrize("seed", range(6))
def test_parts_with_rows_up_front_keep_the_brute_force_optimum(seed, monkeypatch):
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    rng = np.random.default_rng(seed)
    seen = parts_at_brute_force([random_service(rng, "a", int(rng.integers(1, 4))), random_service(rng, "b", 2)])
    # the MILPs ran with the rows (LPs apart are the relaxed parts: no integers)
    milps = [f for f in seen if any(b.integer and b.size for b in f.blocks.values())]
    assert any("replica_cover" in f.families or "replica_bound" in f.families for f in milps)


def test_run_keeps_part_order_and_writes_prepared_parts_back():
    rng = np.random.default_rng(0)
    forms = [services([random_service(rng, f"s{i}", 1 + i % 3)]) for i in range(5)]
    parts = [Part(f, np.arange(f.n_cols), np.arange(f.n_rows)) for f in forms]
    prepared = list(parts)
    results = _run(Backend(highs.solve, workers=2), prepared, [EXACT] * 5, float("inf"),
                   lambda k, p: _with_rows_up_front(p))
    alone = [highs.solve(f, EXACT) for f in forms]
    assert [r.objective for r in results] == pytest.approx([r.objective for r in alone], rel=1e-9)
    assert all(p is not q and p.form.n_cols == q.form.n_cols for p, q in zip(prepared, parts))


def test_a_fleet_in_parts_with_rows_up_front_verifies():
    """global-fleet without its carbon budget falls apart into parts; the plan holds and meets the gap."""
    plan = solve_and_verify(without_carbon_budget(), time_limit_s=120.0)
    assert plan.status == "optimal" and plan.provenance.decomposition["parts"] > 1
