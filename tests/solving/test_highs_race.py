"""HiGHS runs raced on two seeds (SolveOptions.race, backends/highs.py): the same proven answer as one run, and
a plan that verifies when the race runs through the pipeline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.errors import INFEASIBLE, OPTIMAL
from fleetopt.io.load import load_instance
from fleetopt.pipeline.problem import build_problem
from fleetopt.pipeline.solve import options_for, solve_problem
from helpers import TINY, assert_verified

ONE = SolveOptions(threads=1, mip_rel_gap=0.0, time_limit_s=30)


@pytest.fixture(scope="module")
def tiny_form():
    return build_problem(load_instance(TINY)).form


def test_a_race_proves_the_optimum_one_run_proves(tiny_form):
    alone = highs.solve(tiny_form, ONE)
    raced = highs.solve(tiny_form, replace(ONE, race=2))
    assert alone.status == raced.status == OPTIMAL
    assert raced.objective == pytest.approx(alone.objective, rel=1e-9)
    assert raced.bound == pytest.approx(alone.bound, rel=1e-9)
    # the winner's plan holds every row of the model
    lower, upper = tiny_form.row_bounds()
    act = tiny_form.matrix() @ raced.x
    tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(upper), upper, lower)))
    assert (act <= upper + tol).all() and (act >= lower - tol).all()


def test_a_race_on_an_infeasible_model_says_infeasible(tiny_form):
    dem = tiny_form.families["demand"]
    impossible = replace(tiny_form, families=dict(tiny_form.families))
    # every replica bounded to zero: no demand can be carried
    n = tiny_form.blocks["replicas"]
    impossible.blocks = dict(tiny_form.blocks)
    impossible.blocks["replicas"] = replace(n, ub=np.zeros(n.size))
    assert dem.lower.max() > 0
    assert highs.solve(impossible, replace(ONE, race=2)).status == INFEASIBLE


def test_the_pipeline_races_the_whole_model_and_the_plan_verifies():
    inst = load_instance(TINY)
    name, opts = options_for(inst, threads=1)
    alone, _ = solve_problem(build_problem(inst), name, opts)
    raced, _ = solve_problem(build_problem(inst), name, replace(opts, race=2))
    assert_verified(inst, raced)
    assert raced.status == alone.status == OPTIMAL
    assert raced.objective == pytest.approx(alone.objective, rel=2e-4)
