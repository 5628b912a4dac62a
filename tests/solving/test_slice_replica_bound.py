"""Whole-replica bounds per (service, time slice) on the parts a first round leaves open (pipeline/decompose.py
_per_slice_replica_bounds): one row per slice where the demand is met by that slice's replicas alone. The rows
hold at the proven optimum of the clean-night fleet (so they cut no plan off), the optimum with them is the
optimum without, and a static model never gets them."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.formulation.replica_bound import with_form_replica_bounds
from fleetopt.pipeline.decompose import _per_slice_replica_bounds, _slice_labels, _with_replica_bounds
from fleetopt.pipeline.problem import build_problem
from fleetopt.formulation.split import Part
from helpers import CLEAN_NIGHT, EXACT, clean_night_timeline, load_text, rows_hold


@pytest.fixture(scope="module")
def clean_night(tmp_path_factory):
    inst = load_text(CLEAN_NIGHT, tmp_path_factory.mktemp("clean-night"))
    inst._timeline = clean_night_timeline(inst)
    return inst, build_problem(inst)


def test_one_row_per_slice_that_holds_at_the_optimum(clean_night):
    _, problem = clean_night
    form = problem.form
    slices = _slice_labels(form)
    assert len(slices) == 24
    bounded = _per_slice_replica_bounds(form, slices)
    assert bounded is not None
    rows = bounded.families["replica_bound"]
    assert {k[0] for k in rows.keys} == {"chat"} and {k[1] for k in rows.keys} <= slices
    assert rows.size >= 1
    plain = highs.solve(form, EXACT)
    assert plain.status == "optimal"
    assert rows_hold(bounded, plain.x)     # the proven optimum meets every per-slice bound
    tight = highs.solve(bounded, EXACT)
    assert tight.objective == pytest.approx(plain.objective, rel=1e-6)


def test_a_static_model_keeps_the_rows_per_service(tmp_path):
    inst = load_text(CLEAN_NIGHT, tmp_path)     # no timeline: one slice, the model as before
    form = build_problem(inst).form
    assert _slice_labels(form) == frozenset()
    part = Part(form, np.arange(form.n_cols), np.arange(form.n_rows))
    mine = _with_replica_bounds(part).form
    before = with_form_replica_bounds(form)
    assert list(mine.families) == list(before.families)
    assert mine.n_rows == before.n_rows

