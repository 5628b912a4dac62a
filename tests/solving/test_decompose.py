"""Solving part by part (fleetopt/pipeline/decompose.py, formulation/split.py) gives the whole model's answer."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.backends import highs, ortools_backend
from fleetopt.backends.result import SolveResult
from fleetopt.pipeline.decompose import Backend, solve_by_parts
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import components, shared_rows, split
from fleetopt.io.load import load_instance
from fleetopt.paths import default_instance
from helpers import EXACT, assert_verified, random_fleet, rows_hold  # noqa: F401

@pytest.mark.parametrize("seed", range(40))
def test_parts_reach_the_whole_models_optimum(seed):
    form = random_fleet(seed)
    whole = highs.solve(form, EXACT)
    parted = solve_by_parts(form, Backend(highs.solve, workers=2), EXACT)
    assert parted.status == whole.status
    if whole.status == "optimal":
        assert parted.objective == pytest.approx(whole.objective, rel=1e-6, abs=1e-6)
        assert parted.gap <= 1e-9
        assert rows_hold(form, parted.x)


def test_a_shared_row_the_parts_overfill_is_added_and_solved_again():
    """Each part alone takes one big unit (cheaper than two small ones) and the two together overfill the shared
    row; neither the LP nor its rounding up foresees it (per unit of size the small option is the cheaper)."""
    form = Formulation()
    x = form.add_vars("units", [("a", "small"), ("a", "big"), ("b", "small"), ("b", "big")], lb=0, ub=3,
                      cost=[1.0, 1.5, 1.0, 1.5], integer=True)
    form.add_rows("need", [("a",), ("b",)], [0, 0, 1, 1], x.cols, [1.0, 1.3, 1.0, 1.3], lower=1.2)
    form.add_rows("stock", [("fleet",)], [0, 0], [x.cols[1], x.cols[3]], [1.0, 1.0], upper=1.0, shared=True)
    result = solve_by_parts(form, Backend(highs.solve), EXACT)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(3.5)   # one big unit and two small ones
    assert result.decomposition == {"parts": 1, "rounds": 2, "shared_rows_kept": ["stock[fleet]"],
                                    "executor": "threads"}


def test_a_gap_budget_holds_for_the_joined_plan():
    for seed in range(10):
        form = random_fleet(seed)
        exact = highs.solve(form, EXACT)
        if exact.status != "optimal":
            continue
        loose = solve_by_parts(form, Backend(highs.solve), replace(EXACT, mip_rel_gap=0.05))
        assert loose.gap <= 0.05
        assert (loose.objective - exact.objective) / loose.objective <= 0.05 + 1e-9


def test_a_part_without_a_plan_leaves_the_whole_without_one():
    form = next(f for f in map(random_fleet, range(40))
                if (solve_by_parts(f, Backend(highs.solve), EXACT).decomposition or {}).get("parts", 1) > 1)

    def flaky(f, o):
        r = highs.solve(f, o)
        if f.n_cols < form.n_cols and f.blocks["units"].keys[0][0] == 0 and f.blocks["units"].integer:
            return SolveResult(status="no_plan_in_time", x=None, objective=None, bound=None, gap=None,
                               solver="highs", solver_version=r.solver_version, detail="Time limit reached")
        return r

    # the part is tried again with more nodes until the time limit, which then ends the solve
    result = solve_by_parts(form, Backend(flaky), replace(EXACT, time_limit_s=1.0))
    assert result.status == "no_plan_in_time"
    assert "units[0," in result.detail


def test_an_infeasible_part_makes_the_whole_infeasible():
    form = Formulation()
    x = form.add_vars("units", [("a",), ("b",)], lb=0, ub=1, cost=1.0, integer=True)
    form.add_rows("need", [("a",), ("b",)], [0, 1], x.cols, [1.0, 1.0], lower=[1.0, 1.5])
    form.add_rows("stock", [("fleet",)], [0, 0], x.cols, [1.0, 1.0], upper=5.0, shared=True)
    assert highs.solve(form, EXACT).status == "infeasible"
    assert solve_by_parts(form, Backend(highs.solve), EXACT).status == "infeasible"


def test_split_keeps_names_bounds_and_coefficients():
    problem = build_problem(load_instance(default_instance()))
    form = problem.form
    kept = ~shared_rows(form)
    parts = split(form, components(form, kept), kept)
    a = form.matrix().tocsr()
    cost, lb, ub, integer = form.col_arrays()
    lower, upper = form.row_bounds()
    col_names, row_names = form.col_names(), form.row_names()
    # one part per job and per service
    assert len(parts) == len(problem.training.job_names) + len(set(problem.serving.service.tolist()))
    assert sorted(np.concatenate([p.cols for p in parts]).tolist()) == list(range(form.n_cols))
    assert sorted(np.concatenate([p.rows for p in parts]).tolist()) == np.flatnonzero(kept).tolist()
    for p in parts:
        assert (abs(p.form.matrix() - a[p.rows][:, p.cols]) > 0).nnz == 0
        c, lo, hi, integ = p.form.col_arrays()
        assert np.array_equal(c, cost[p.cols]) and np.array_equal(lo, lb[p.cols]) and np.array_equal(hi, ub[p.cols])
        assert np.array_equal(integ, integer[p.cols])
        rl, ru = p.form.row_bounds()
        assert np.array_equal(rl, lower[p.rows]) and np.array_equal(ru, upper[p.rows])
        assert p.form.col_names() == [col_names[c] for c in p.cols]
        assert p.form.row_names() == [row_names[r] for r in p.rows]


def test_other_backends_solve_the_parts_alike():
    form = random_fleet(5)
    expected = highs.solve(form, EXACT).objective
    result = solve_by_parts(form, Backend(ortools_backend.solve), EXACT)
    assert result.objective == pytest.approx(expected, rel=1e-6)


def test_the_same_plan_every_run_and_with_any_worker_count():
    form = random_fleet(7)
    runs = [solve_by_parts(form, Backend(highs.solve, workers=w), replace(EXACT, mip_rel_gap=1e-3))
            for w in (1, 2, 2)]
    assert all(np.array_equal(runs[0].x, r.x) for r in runs[1:])


def test_an_instance_solved_in_parts_matches_the_whole_solve():
    """archetype-a's two jobs share nothing that binds: two parts, the whole solve's plan and objective."""
    inst = load_instance("instances/archetype-a.yaml")
    problem = build_problem(inst)
    name, options = options_for(inst, mip_rel_gap=0.0)
    parted, result = solve_problem(problem, name, options)
    whole, _ = solve_problem(problem, name, replace(options, decompose=False))
    assert result.decomposition["parts"] == 2 and parted.provenance.decomposition["parts"] == 2
    assert whole.provenance.decomposition is None
    assert parted.objective == pytest.approx(whole.objective, rel=1e-9)
    assert_verified(inst, parted)


@pytest.mark.slow
def test_global_fleet_keeps_its_binding_carbon_budget_whole():
    inst = load_instance(default_instance())
    plan, result = solve_problem(build_problem(inst), *options_for(inst))
    assert result.decomposition == {"parts": 1, "rounds": 1, "shared_rows_kept": ["carbon_budget[fleet]"],
                                    "executor": "threads"}
    assert_verified(inst, plan)


def test_the_cli_turns_parts_off(tmp_path):
    from typer.testing import CliRunner

    from fleetopt.cli import app

    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["solve", "instances/archetype-a.yaml", "--no-decompose", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["options"]["decompose"] is False and provenance["decomposition"] is None


def test_parts_in_threads_leave_stdout_working(capfd):
    """quiet_highs points the process's stdout at /dev/null while it builds a Highs, and parts build theirs in
    threads: without turns, one thread saves another's /dev/null as the stdout to restore (seen on x10)."""
    from concurrent.futures import ThreadPoolExecutor

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # threads switch between any two bytecodes: the race shows up every run
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: highs.quiet_highs(), range(6000)))
    finally:
        sys.setswitchinterval(interval)
    os.write(1, b"still here\n")   # file descriptor 1 itself, not a Python stream over it
    assert "still here" in capfd.readouterr().out
