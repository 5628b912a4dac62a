"""Every instance in instances/infeasible/: the diagnosis names the conflicting families (an irreducible
infeasible subsystem) and applying the suggested relaxation makes the instance feasible."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.backends.highs import quiet_highs, to_lp
from fleetopt.cli import app
from fleetopt.explain.infeasible import apply_relaxations, explain_infeasible, round_up
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir
from helpers import assert_verified

INFEASIBLE = sorted((shipped_dir("instances") / "infeasible").glob("*.yaml"))

# What each file's header says conflicts (families of the formulation, or the screening rule).
CONFLICT = {
    "carbon-below-cleanest": {"carbon_budget"},
    "eu-residency-power": {"demand", "power_cap"},
    "impossible-deadline": {"deadline"},
    "inventory-shortfall": {"inventory", "assign"},
}


def diagnose(path):
    inst = load_instance(path)
    problem = build_problem(inst)
    backend, options = options_for(inst)
    plan, _ = solve_problem(problem, backend, options)
    assert plan.status == "infeasible"
    return inst, problem, backend, options, explain_infeasible(problem, options)


def lp_relaxation_feasible_with_only(form, rows: list[int]) -> bool:
    """The LP relaxation keeping only `rows` (every other row free; column bounds kept)."""
    import highspy

    lp = to_lp(form, highspy)
    lp.integrality_ = []
    keep = np.zeros(form.n_rows, dtype=bool)
    keep[rows] = True
    lower, upper = form.row_bounds()
    lp.row_lower_, lp.row_upper_ = np.where(keep, lower, -np.inf), np.where(keep, upper, np.inf)
    h = quiet_highs()
    h.passModel(lp)
    h.run()
    return h.getModelStatus() != highspy.HighsModelStatus.kInfeasible


@pytest.mark.parametrize("path", INFEASIBLE, ids=[p.stem for p in INFEASIBLE])
def test_iis_names_the_conflict_and_the_relaxation_repairs_it(path):
    inst, problem, backend, options, diagnosis = diagnose(path)
    assert diagnosis.iis
    assert CONFLICT.get(path.stem, set()) <= set(diagnosis.families), diagnosis.families
    if diagnosis.source == "milp" and diagnosis.method.startswith("highspy"):
        # an IIS of the LP relaxation: its rows alone conflict, and without any one of them they do not
        index = {n: i for i, n in enumerate(problem.form.row_names())}
        rows = [index[m.name] for m in diagnosis.iis]
        assert not lp_relaxation_feasible_with_only(problem.form, rows)
        assert all(lp_relaxation_feasible_with_only(problem.form, [r for r in rows if r != drop]) for drop in rows)
    assert diagnosis.relaxations
    for r in diagnosis.relaxations:
        assert r.line.startswith("raise ") and r.suggested > r.current
    repaired = apply_relaxations(inst, diagnosis.relaxations)
    plan, _ = solve_problem(build_problem(repaired), backend, options)
    assert_verified(repaired, plan)
    assert plan.status in ("optimal", "feasible"), [r.line for r in diagnosis.relaxations]


def test_screening_relaxation_is_the_fastest_candidate():
    """impossible-deadline: the least deadline any configuration meets, as the screening reason reports it."""
    *_, diagnosis = diagnose(shipped_dir("instances") / "infeasible" / "impossible-deadline.yaml")
    (relax,) = diagnosis.relaxations
    assert relax.line == "raise deadline of llm-70b from 48 h to 159 h"
    assert "fastest that fits: 159 h" in diagnosis.reasons[0]


def test_residency_is_named_for_the_eu_instance():
    *_, diagnosis = diagnose(shipped_dir("instances") / "infeasible" / "eu-residency-power.yaml")
    assert any(r.startswith("residency: eu-users may only be served in EU") for r in diagnosis.reasons)
    assert {r.key[0] for r in diagnosis.relaxations} <= {"eu-west", "eu-north"}


def test_round_up_never_rounds_down():
    assert round_up(0.04311) == pytest.approx(0.0432)
    assert round_up(159.0) == 159.0
    assert round_up(1419.2) == 1420.0


def test_cli_solve_prints_diagnosis_and_exits_3(tmp_path):
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(app, ["solve", str(shipped_dir("instances") / "infeasible" / "inventory-shortfall.yaml"),
                                   "-q", "-o", str(out)])
    assert res.exit_code == 3, res.output
    assert "IIS: inventory[us-east,h100-sxm5-80gb]" in res.output and "raise " in res.output
    data = json.loads(out.read_text())
    assert data["explanation"]["infeasibility"]["relaxations"]
