"""verify re-derives a re-plan's change against the deployed plan from the decisions (verify/change.py): the
changed GPUs, the change cost in the objective, the cap and each move; a plan that states them wrongly, or
states none, does not hold; it checks every family a re-plan builds."""

from __future__ import annotations

import pytest

from fleetopt.api import build_problem
from fleetopt.io.load import load_instance
from fleetopt.verify import verify_plan
from helpers import REPLAN, replan_instance, solve_and_verify


@pytest.fixture(scope="module")
def replanned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replan")
    old = solve_and_verify(load_instance(REPLAN))
    (folder / "old.json").write_text(old.model_dump_json())
    inst = replan_instance(folder, folder / "old.json", change_usd_per_gpu=500, max_changed_gpus=50)
    return inst, solve_and_verify(inst)


def test_verify_checks_every_family_a_replan_builds(replanned):
    inst, plan = replanned
    report = verify_plan(inst, plan)
    built = {n for n, fam in build_problem(inst).form.families.items() if fam.size}
    assert {"changed_gpus", "change_cap"} <= built
    assert built <= set(report.checked), sorted(built - set(report.checked))
    assert report.checked["change"] > 0


@pytest.mark.parametrize("field, delta", [("changed_gpus", 1), ("cost_usd", 500.0)])
def test_a_wrong_change_figure_is_a_violation(replanned, field, delta):
    inst, plan = replanned
    bad = plan.model_copy(deep=True)
    setattr(bad.change, field, getattr(bad.change, field) + delta)
    report = verify_plan(inst, bad)
    assert [v.name for v in report.violations] == [f"change[{field}]"]


def test_the_objective_holds_the_change_cost(replanned):
    inst, plan = replanned
    bad = plan.model_copy(deep=True)
    bad.objective -= plan.change.cost_usd   # the running cost alone
    assert plan.change.cost_usd > 0
    assert "reported[objective]" in [v.name for v in verify_plan(inst, bad).violations]


def test_a_plan_past_the_change_cap_or_without_its_change_does_not_hold(replanned):
    inst, plan = replanned
    tight = inst.model_copy(deep=True)
    tight.policy.max_changed_gpus = plan.change.changed_gpus - 1
    assert "change_cap[fleet]" in [v.name for v in verify_plan(tight, plan).violations]
    bare = plan.model_copy(deep=True)
    bare.change = None
    assert "change[current]" in [v.name for v in verify_plan(inst, bare).violations]
    fresh = load_instance(REPLAN)   # no deployed plan: a plan that states a change against one is wrong
    assert "change[current]" in [v.name for v in verify_plan(fresh, plan).violations]
