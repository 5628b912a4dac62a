"""benchmarks/bench_duality_gap.py's column generation against brute force: on random small fleets (a few covering
MILPs joined by shared stock rows, helpers.random_fleet), the Dantzig-Wolfe bound written out in full (every
integer point of every part a column of the master LP) equals where column generation converges, from above
(the master LP) and from below (the Lagrangian bound at its duals), and lies at or under the exact optimum."""

from __future__ import annotations

import itertools
import json
import sys

import numpy as np
import pytest
from helpers import REPO, random_fleet
from scipy.optimize import linprog

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import components, shared_rows, split

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_duality_gap  # noqa: E402


def brute_force_dw(form) -> float:
    """The master LP over every plan of every part. A random_fleet part is whole units u of its options and a
    spill s in [0, its bound] (positive cost) on its need row a.u + s >= need; the shared rows see only u, so for
    each u the least spill is the only plan worth a column (any other costs more and draws the same)."""
    shared = shared_rows(form)
    a_shared = form.matrix()[np.flatnonzero(shared)].toarray()
    upper = form.row_bounds()[1][shared]
    cost, lb, ub, integer = form.col_arrays()
    columns, costs, part_of = [], [], []
    for i, part in enumerate(split(form, components(form, ~shared), ~shared)):
        need = part.form.families["need"]
        units = part.cols[integer[part.cols]]
        size = dict(zip(need.cols.tolist(), need.vals.tolist()))
        local = np.flatnonzero(integer[part.cols])
        (spill_col,) = part.cols[~integer[part.cols]]
        for u in itertools.product(*(range(int(lb[j]), int(ub[j]) + 1) for j in units)):
            spill = max(0.0, float(need.lower[0]) - sum(size[k] * v for k, v in zip(local.tolist(), u)))
            if spill > ub[spill_col] + 1e-12:
                continue
            x = np.zeros(form.n_cols)
            x[units] = u
            columns.append(a_shared @ x)
            costs.append(float(cost @ x) + cost[spill_col] * spill)
            part_of.append(i)
    part_of = np.array(part_of)
    pick = (part_of[None, :] == np.arange(part_of.max() + 1)[:, None]).astype(float)
    lp = linprog(costs, A_ub=np.array(columns).T, b_ub=upper, A_eq=pick, b_eq=np.ones(len(pick)),
                 bounds=(0, None), method="highs")
    assert lp.status == 0
    return float(lp.fun)


def feasible_fleets(count: int):
    """The first `count` random fleets that have a plan, each with its exact optimum."""
    out = []
    for seed in itertools.count():
        form = random_fleet(seed)
        exact = highs.solve(form, SolveOptions(threads=1, mip_rel_gap=0.0, time_limit_s=30))
        if exact.x is not None:
            out.append((form, exact))
        if len(out) == count:
            return out


FLEETS = feasible_fleets(12)


@pytest.mark.parametrize("k", range(len(FLEETS)))
def test_column_generation_converges_on_the_dantzig_wolfe_bound(k):
    form, exact = FLEETS[k]
    bracket = bench_duality_gap.dantzig_wolfe(form, exact.x, part_limit=30, rounds=100)
    z_dw = brute_force_dw(form)
    tol = 1e-6 * max(1.0, abs(z_dw))
    assert bracket.converged
    assert bracket.master[-1] == pytest.approx(z_dw, abs=tol)
    assert bracket.best_lagrangian == pytest.approx(z_dw, abs=tol)
    # every round brackets it: the master over fewer plans above, the Lagrangian at any prices below
    assert all(m >= z_dw - tol for m in bracket.master)
    assert all(v <= z_dw + tol for v in bracket.lagrangian)
    assert z_dw <= exact.objective + tol


def test_some_random_fleet_has_a_duality_gap():
    """The bound prices cannot pass: on some random fleet the optimum lies above z_DW (else the test above would
    not tell a Lagrangian bound from the optimum)."""
    assert max(exact.objective - brute_force_dw(form) for form, exact in FLEETS) > 1e-3


@pytest.mark.slow
def test_the_benchmark_brackets_global_fleet(tmp_path, capsys):
    """End to end on the shipped instance: the bracket lies under the plan and its lines fit 80 columns."""
    out = tmp_path / "gap.json"
    assert bench_duality_gap.main(["--tier", "gf", "--plan-limit", "20", "--part-limit", "20", "--rounds", "3",
                                   "--json", str(out)]) == 0
    numbers = json.loads(out.read_text(encoding="utf-8"))
    tol = 1e-6 * numbers["plan"]
    assert numbers["z_dw_low"] <= numbers["z_dw_high"] + tol
    assert numbers["z_dw_high"] <= numbers["plan"] + tol
    printed = capsys.readouterr().out
    assert "z_DW in [" in printed and max(len(line) for line in printed.splitlines()) <= 80
