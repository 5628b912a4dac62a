"""A part over time slices taken one slice at a time (pipeline/slices_apart.py), and parts left without a plan
(pipeline/decompose.py _fallback).

On a monitored service over 24 slices (its monitoring held through the horizon joins the slices into one part):
the slice_bound rows hold at the proven optimum, the optimum with them is the optimum without (the old
formulation), and the LP bound is strictly higher; the plan with the horizon fixed holds every row and costs no
more than the plan it came from; a static model is never touched. A first round that ends with no plan in any
part (a backend that stops every MIP at once: no timing) still returns a verified plan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveResult
from fleetopt.errors import NO_PLAN_IN_TIME
from fleetopt.formulation.split import relaxed
from fleetopt.pipeline import decompose, solve as pipeline_solve
from fleetopt.pipeline.problem import build_problem
from fleetopt.pipeline.slices_apart import (
    column_slices,
    plan_with_horizon_fixed,
    whole_in_many_slices,
    with_slice_bounds,
)
from helpers import CLEAN_NIGHT, EXACT, clean_night_timeline, load_text, rows_hold, solve_and_verify

MONITORED_DAY = """\
fleetopt: 2
name: monitored-day
horizon_hours: 240
regions:
  north:
    jurisdiction: US
    carbon_g_per_kwh: 300
    gpus:
      h100-sxm5-80gb: {count: 128, usd_per_hour: 4.0}
  south:
    jurisdiction: US
    carbon_g_per_kwh: 350
    gpus:
      h100-sxm5-80gb: {count: 128, usd_per_hour: 3.5}
populations:
  users:
    rtt_ms: {north: 20, south: 25}
    groups: {group-a: 0.7, group-b: 0.3}
  others:
    rtt_ms: {north: 30, south: 40}
    groups: {group-a: 0.9, group-b: 0.1}
serving:
  chat:
    model: llama3-8b
    demand_rps: {users: 100, others: 30}
    slo_p99_ms: 3000
    monitoring:
      min_detectable_gap: 0.02
      confidence: 0.95
      window_hours: 24
      evaluator_gpu_s_per_sample: 0.5
      pipeline_usd_per_hour: 4
"""
NEAR_EXACT = replace(EXACT, mip_rel_gap=1e-9)


def _run(parts, opts):
    return [highs.solve(p.form, o) for p, o in zip(parts, opts)]


@pytest.fixture(scope="module")
def monitored_day(tmp_path_factory):
    inst = load_text(MONITORED_DAY, tmp_path_factory.mktemp("monitored-day"))
    inst._timeline = clean_night_timeline(inst, carbon=False)
    form = build_problem(inst).form
    return inst, form, form.time.slices.labels


def test_bound_rows_cut_no_plan_and_raise_the_lp_bound(monitored_day):
    _, form, labels = monitored_day
    assert whole_in_many_slices(form, labels)
    bounded = with_slice_bounds(form, labels, _run, NEAR_EXACT)
    rows = bounded.families["slice_bound"]
    assert rows.size == len(labels) and {k[1] for k in rows.keys} == set(labels)
    # each row sums the costs of one slice's columns only
    assert set(column_slices(form, labels)[rows.cols]) <= set(range(len(labels)))
    plain = highs.solve(form, NEAR_EXACT)
    assert plain.status == "optimal"
    assert rows_hold(bounded, plain.x)                       # the proven optimum meets every slice's bound
    tight = highs.solve(bounded, NEAR_EXACT)
    assert tight.objective == pytest.approx(plain.objective, rel=1e-7)   # the optimum of the old formulation
    lp_before = highs.solve(relaxed(form), EXACT).objective
    lp_after = highs.solve(relaxed(bounded), EXACT).objective
    assert lp_after > lp_before + 1e-3 * abs(lp_before)      # the slices' rounding losses are in the bound
    assert lp_after <= plain.objective * (1 + 1e-9)


def test_plan_with_the_horizon_fixed_holds_and_is_no_worse(monitored_day):
    _, form, labels = monitored_day
    rough = highs.solve(form, replace(EXACT, node_limit=1))   # a first round's plan
    assert rough.x is not None
    x = plan_with_horizon_fixed(form, labels, rough.x, _run, NEAR_EXACT)
    assert x is not None and rows_hold(form, x)
    cost = form.col_arrays()[0]
    assert cost @ x <= cost @ rough.x + 1e-6
    horizon = column_slices(form, labels) < 0
    assert horizon[form.blocks["monitored"].cols].all() and horizon[form.blocks["evaluators"].cols].all()
    assert np.allclose(x[horizon], rough.x[horizon], atol=1e-6)   # the horizon's decisions kept


def test_rows_joining_slices_leave_the_plan_alone(tmp_path):
    inst = load_text(CLEAN_NIGHT, tmp_path)   # a pausable job's coverage row sums its runs over every slice
    inst._timeline = clean_night_timeline(inst)
    form = build_problem(inst).form
    labels = form.time.slices.labels
    plain = highs.solve(form, EXACT)
    assert plan_with_horizon_fixed(form, labels, plain.x, _run, EXACT) is None


def test_a_static_model_is_never_taken_apart(tmp_path):
    inst = load_text(MONITORED_DAY, tmp_path)   # no timeline: one slice, the model as before
    form = build_problem(inst).form
    assert form.time is None and decompose._slice_labels(form) == frozenset()
    assert not whole_in_many_slices(form, [])
    assert "slice_bound" not in form.families


def _no_plan_in_any_mip(form, options):
    """A backend whose every MIP stops at once without a plan (a clock run out), its LPs solved."""
    if options.node_limit == 0 and not any(b.integer for b in form.blocks.values()):
        return highs.solve(form, options)
    return SolveResult(status=NO_PLAN_IN_TIME, x=None, objective=None, bound=None, gap=None, solver="highs",
                       solver_version="", detail="time limit reached", overran=True)


@pytest.mark.parametrize("timed", [False, True])
def test_parts_without_a_plan_fall_back_to_their_lp_rounded_up(tmp_path, monkeypatch, timed):
    inst = load_text(MONITORED_DAY, tmp_path)
    if timed:
        inst._timeline = clean_night_timeline(inst, carbon=False)
    monkeypatch.setattr(pipeline_solve, "solver_for", lambda name: _no_plan_in_any_mip)
    plan = solve_and_verify(inst, mip_rel_gap=1e-3, time_limit_s=60)
    assert plan.has_plan and plan.status == "feasible"
    assert plan.gap is not None and plan.gap >= 0
