"""Rounded cover rows on the parts a first round leaves open (pipeline/decompose.py: _open_part_rows): a static
part gets them where its LP falls short of whole replicas, a part over time slices does not, and solving in
parts with them keeps the whole model's optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import Part
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import Backend, _open_part_rows, solve_by_parts

EXACT = SolveOptions(mip_rel_gap=0.0, threads=1)


def two_services() -> Formulation:
    """Two services, each of replicas of 10 req/s at 100 and 5 req/s at 50 for one population (71 and 33 req/s),
    joined by nothing: two parts, whose LPs buy 7.1 and 3.3 replicas where 7.5 and 3.5 are needed."""
    form = Formulation()
    keys = [(s, size) for s in ("a", "b") for size in ("big", "half")]
    n = form.add_vars("replicas", keys, lb=0, ub=40, cost=[100.0, 50.0] * 2, integer=True)
    f = form.add_vars("flow", [k + ("u",) for k in keys], lb=0)
    form.add_rows("demand", [("a", "u"), ("b", "u")], [0, 0, 1, 1], f.cols, np.ones(4), lower=[71.0, 33.0],
                  upper=[71.0, 33.0])
    form.add_rows("replica_capacity", keys, np.r_[np.arange(4), np.arange(4)], np.r_[f.cols, n.cols],
                  np.r_[[0.1, 0.2] * 2, -np.ones(4)], upper=0.0)
    form.add_rows("inventory", [("fleet",)], np.zeros(4, int), n.cols, np.ones(4), upper=100.0, shared=True)
    return form


def test_a_static_part_gets_covers_and_a_sliced_one_none():
    form = two_services()
    part = Part(form, np.arange(form.n_cols), np.arange(form.n_rows))
    covered = _open_part_rows(part).form
    assert covered.families["replica_cover"].size >= 2 and "replica_cover" not in form.families
    assert "replica_cover" not in _open_part_rows(part, frozenset({"d0h0", "d0h1"})).form.families


def test_parts_with_covers_keep_the_optimum(monkeypatch):
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    form = two_services()
    whole = highs.solve(form, EXACT)
    parted = solve_by_parts(form, Backend(highs.solve, workers=2), replace(EXACT, replica_bound=None))
    assert whole.objective == pytest.approx(750.0 + 350.0)
    assert parted.status == "optimal" and parted.objective == pytest.approx(whole.objective)
    assert parted.bound <= whole.objective * (1 + 1e-9)
