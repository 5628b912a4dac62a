"""Parts solved without their dominated serving options (formulation/dominated.py: part_without_dominated, which
pipeline/decompose.py and lagrange.py call): the part keeps its columns and rows, the options fixed are the
dominated ones, and solving in parts keeps the whole model's optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.dominated import part_without_dominated
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import Part
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import Backend, solve_by_parts

EXACT = SolveOptions(mip_rel_gap=0.0, threads=1)


def two_services() -> Formulation:
    """Two services of three options for two populations (demands 71/33 and 40/25 req/s): "fast" (10 req/s to both
    at 100), "half" (5 req/s to both at 50) and "slow" (9 req/s to the first only at 100, dominated by fast),
    joined only by a shared inventory row that does not bind."""
    form = Formulation()
    keys = [(s, o) for s in ("a", "b") for o in ("fast", "half", "slow")]
    n = form.add_vars("replicas", keys, lb=0, ub=40, cost=[100.0, 50.0, 100.0] * 2, integer=True)
    routes = [(k, u, rps) for k, (o, pops, rps) in zip(keys, [("fast", (0, 1), 10.0), ("half", (0, 1), 5.0),
                                                          ("slow", (0,), 9.0)] * 2) for u in pops]
    f = form.add_vars("flow", [k + (f"u{u}",) for k, u, _ in routes], lb=0)
    service_of = {"a": 0, "b": 1}
    demand_row = [2 * service_of[k[0]] + u for k, u, _ in routes]
    demand = [71.0, 33.0, 40.0, 25.0]
    form.add_rows("demand", [(s, f"u{u}") for s in ("a", "b") for u in (0, 1)], demand_row, f.cols,
                  np.ones(len(routes)), lower=demand, upper=demand)
    option_row = [keys.index(k) for k, _, _ in routes]
    form.add_rows("replica_capacity", keys, np.r_[option_row, np.arange(len(keys))], np.r_[f.cols, n.cols],
                  np.r_[[1.0 / r for _, _, r in routes], -np.ones(len(keys))], upper=0.0)
    form.add_rows("inventory", [("fleet",)], np.zeros(len(keys), int), n.cols, np.ones(len(keys)), upper=100.0,
                  shared=True)
    return form


def test_a_part_keeps_its_columns_and_loses_its_dominated_options():
    form = two_services()
    part = Part(form, np.arange(form.n_cols), np.arange(form.n_rows))
    fewer = part_without_dominated(part)
    assert fewer.form.n_cols == form.n_cols and fewer.form.n_rows == form.n_rows
    ub = fewer.form.blocks["replicas"].ub
    # the inventory row is the same for every option here, so only the slow options are dominated
    assert ub.tolist() == [40.0, 40.0, 0.0, 40.0, 40.0, 0.0]


def test_parts_without_dominated_options_keep_the_optimum(monkeypatch):
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    form = two_services()
    whole = highs.solve(form, EXACT)
    parted = solve_by_parts(form, Backend(highs.solve, workers=2), replace(EXACT, replica_bound=None))
    assert parted.status == "optimal" and parted.objective == pytest.approx(whole.objective)
    assert parted.bound <= whole.objective * (1 + 1e-9)
    slow = [i for i, k in enumerate(form.blocks["replicas"].keys) if k[1] == "slow"]
    assert (parted.x[form.blocks["replicas"].cols[slow]] == 0).all()


def test_the_parts_lose_their_dominated_options_in_the_threads_that_solve_them(monkeypatch):
    """decompose's first round fixes each part's dominated options in the thread that then solves it (where its
    rows up front are made), not in the main thread before the round; every MILP still runs without them."""
    import threading

    main = threading.get_ident()
    made_in: list[int] = []

    def spy(part):
        made_in.append(threading.get_ident())
        return part_without_dominated(part)
    monkeypatch.setattr(decompose, "part_without_dominated", spy)
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    form = two_services()
    seen: list[Formulation] = []
    backend = Backend(lambda f, o: seen.append(f) or highs.solve(f, o), workers=2)
    parted = solve_by_parts(form, backend, replace(EXACT, replica_bound=None))
    assert parted.status == "optimal" and parted.objective == pytest.approx(highs.solve(form, EXACT).objective)
    assert len(made_in) == 2 and main not in made_in
    milps = [f.blocks["replicas"] for f in seen if f.col_arrays()[3].any()]
    assert milps and all(n.ub[j] == 0 for n in milps for j, k in enumerate(n.keys) if k[1] == "slow")
