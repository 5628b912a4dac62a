"""Re-planning from the fleet as deployed (formulation/change.py): a change cost keeps most of the fleet where it
is, zero change cost gives the fresh plan, a change cap too tight is diagnosed with its cheapest relaxation, a job
that moves region pays its checkpoint transfer and restart, and progress (policy.as_of_hour) is kept.

replan-fleet (tests/data/replan/): planned afresh at 5% more demand, serving reshuffles its replicas between
regions (179 GPUs change under fidelity v2's serving law); with a change cost only the few new replicas (5 GPUs)
do. The assertions are relative (far fewer, at most the cap), not these counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.explain.explainer import explain
from fleetopt.io.load import load_document, load_instance
from fleetopt.plan.diff import diff_plans
from fleetopt.verify import verify_plan
from helpers import REPLAN, TINY, assert_verified, replan_instance, solve_and_verify


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The plan of replan-fleet at today's demand, as a file."""
    folder = tmp_path_factory.mktemp("deployed")
    plan = solve_and_verify(load_instance(REPLAN))
    path = folder / "plan.json"
    path.write_text(plan.model_dump_json())
    return plan, path


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, deployed):
    """The fresh plan at 5% more demand (no deployed fleet)."""
    return solve_and_verify(replan_instance(tmp_path_factory.mktemp("fresh"), None))


def test_a_change_cost_keeps_most_of_the_fleet_where_it_is(tmp_path, deployed, fresh):
    old, path = deployed
    moved_afresh = diff_plans(old, fresh).changed_gpus
    plan = solve_and_verify(replan_instance(tmp_path, path, change_usd_per_gpu=1000))
    assert plan.change is not None and plan.change.changed_gpus == diff_plans(old, plan).changed_gpus
    assert moved_afresh >= 40 and plan.change.changed_gpus <= moved_afresh / 4
    assert plan.training == old.training   # the job keeps its layout; only serving grows
    assert plan.change.cost_usd == pytest.approx(1000 * plan.change.changed_gpus)
    assert plan.objective == pytest.approx(plan.totals.cost_usd + plan.change.cost_usd, rel=1e-9)


def test_zero_change_cost_gives_the_fresh_plan(tmp_path, deployed, fresh):
    plan = solve_and_verify(replan_instance(tmp_path, deployed[1], change_usd_per_gpu=0))
    assert plan.objective == pytest.approx(fresh.objective, rel=1e-9)
    assert plan.totals.cost_usd == pytest.approx(fresh.totals.cost_usd, rel=1e-9)
    assert plan.change.changed_gpus == diff_plans(deployed[0], fresh).changed_gpus


def test_a_large_change_cost_keeps_a_plan_that_is_still_feasible(tmp_path, deployed):
    plan = solve_and_verify(replan_instance(tmp_path, deployed[1], demand_scale=1.0, change_usd_per_gpu=1e6))
    assert plan.change.changed_gpus == 0 and diff_plans(deployed[0], plan).empty


def test_a_change_cap_is_priced_and_the_cheapest_plan_named(tmp_path, deployed, fresh):
    inst = replan_instance(tmp_path, deployed[1], max_changed_gpus=8)
    name, options = options_for(inst)
    problem = build_problem(inst)
    plan, result = solve_problem(problem, name, options)
    assert_verified(inst, plan)
    assert plan.change.changed_gpus <= 8 < diff_plans(deployed[0], fresh).changed_gpus
    e = explain(problem, plan, result.x, options).change
    assert e.cheapest_changed_gpus == diff_plans(deployed[0], fresh).changed_gpus
    assert e.cheapest_saves == pytest.approx(plan.objective - fresh.objective, rel=1e-6)
    more = e.cheapest_changed_gpus - plan.change.changed_gpus
    assert any(f"changes {more} GPUs more and saves" in line for line in e.lines)


def test_an_infeasible_change_cap_is_named_with_its_cheapest_relaxation(tmp_path, deployed):
    # the fewest GPUs any plan must change: what a prohibitive change cost leaves
    least = solve_and_verify(replan_instance(tmp_path, deployed[1], change_usd_per_gpu=1e6)).change.changed_gpus
    assert least > 0
    inst = replan_instance(tmp_path, deployed[1], max_changed_gpus=least - 1)
    name, options = options_for(inst)
    problem = build_problem(inst)
    plan, result = solve_problem(problem, name, options)
    assert_verified(inst, plan)
    assert plan.status == "infeasible"
    inf = explain(problem, plan, None, options).infeasibility
    assert "change_cap" in inf.families
    cheapest = [r for r in inf.relaxations + inf.alternatives if r.family == "change_cap"]
    assert cheapest and cheapest[0].setting == "policy.max_changed_gpus" and cheapest[0].suggested == least


def tiny_v2(folder, **changes) -> dict:
    data = yaml.safe_load(TINY.read_text())
    data["fleetopt"] = 2
    for path, value in changes.items():
        node = data
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def test_a_job_that_moves_region_pays_its_checkpoint_and_restart_and_keeps_its_progress(tmp_path):
    job = "llm-8b-pretrain"
    # deployed in us-west (the only region allowed then); now us-east, 0.35 $/GPU-h cheaper, is allowed too
    before = load_document(tiny_v2(tmp_path, **{f"training.{job}.allowed_regions": ["us-west"]}),
                           tmp_path / "before.yaml")
    old = solve_and_verify(before)
    (tmp_path / "deployed.json").write_text(old.model_dump_json())
    as_of = 50.0
    inst = load_document(tiny_v2(tmp_path, current="deployed.json", **{"policy.as_of_hour": as_of}),
                         tmp_path / "after.yaml")
    done = as_of / old.training[job].wall_hours
    assert inst.training[job].tokens == pytest.approx(1e12 * (1 - done))
    plan = solve_and_verify(inst)
    move = plan.change.moves[job]
    assert (move.from_region, move.to_region) == ("us-west", "us-east")
    assert move.checkpoint_gb == pytest.approx(14 * 8.03, rel=0.02)   # 14 B per parameter of llama3-8b
    # us-west -> us-east over the 100 GB/s link at $0.01/GB, then the 10-minute restart
    assert move.egress_usd == pytest.approx(0.01 * move.checkpoint_gb)
    assert move.hours == pytest.approx(10 / 60 + move.checkpoint_gb / 100 / 3600)
    assert move.cost_usd == pytest.approx(plan.training[job].gpus * move.hours * 4.25 + move.egress_usd)
    assert plan.training[job].wall_hours + move.hours <= inst.training[job].deadline_hours
    # a move counts the GPUs released in us-west and those taken in us-east
    assert plan.change.changed_gpus == diff_plans(old, plan).changed_gpus
    assert plan.change.changed_gpus >= old.training[job].gpus + plan.training[job].gpus


def test_a_finished_job_leaves_the_replan(tmp_path):
    old = solve_and_verify(load_document(tiny_v2(tmp_path), tmp_path / "before.yaml"))
    (tmp_path / "deployed.json").write_text(old.model_dump_json())
    inst = load_document(tiny_v2(tmp_path, current="deployed.json", **{"policy.as_of_hour": 10_000}),
                         tmp_path / "after.yaml")
    assert not inst.training and inst.deployed.finished == ["llm-8b-pretrain"]
    plan = solve_and_verify(inst)
    assert plan.change.finished == ["llm-8b-pretrain"] and not plan.training
    stops = [c for c in diff_plans(old, plan).changes if c.kind == "job"]
    assert [(c.name, c.action) for c in stops] == [("llm-8b-pretrain", "stops")]


def test_without_current_the_formulation_is_the_static_one(tmp_path):
    v1 = build_problem(load_instance(TINY)).form
    v2 = build_problem(load_document(tiny_v2(tmp_path, **{"policy.change_usd_per_gpu": 5}), tmp_path / "v2.yaml")).form
    assert v1.row_names() == v2.row_names() and v1.col_names() == v2.col_names()
    assert "changed" not in v1.blocks and not math.isnan(v1.matrix().sum())
    assert (v1.matrix() != v2.matrix()).nnz == 0


def test_a_move_counts_against_the_carbon_budget(tmp_path):
    job = "llm-8b-pretrain"
    before = load_document(tiny_v2(tmp_path, **{f"training.{job}.allowed_regions": ["us-west"]}),
                           tmp_path / "before.yaml")
    (tmp_path / "deployed.json").write_text(solve_and_verify(before).model_dump_json())
    settings = {"current": "deployed.json", "policy.as_of_hour": 50.0}
    moved = solve_and_verify(load_document(tiny_v2(tmp_path, **settings), tmp_path / "free.yaml"))
    move_t = moved.change.moves[job].carbon_t
    assert move_t > 0
    # the budget row holds the move's carbon on the moving candidates, as the objective does
    inst = load_document(tiny_v2(tmp_path, **settings, **{"policy.carbon_budget_t": 1e6}), tmp_path / "b.yaml")
    form = build_problem(inst).form
    row = form.families["carbon_budget"]
    x = form.blocks["train_choice"]
    chosen = [i for i, k in enumerate(x.keys) if k[0] == job]
    assert row.vals[np.isin(row.cols, x.start + np.array(chosen))].sum() > 0
    # a budget the move's plan meets only without its move carbon: verify names the row
    budget = moved.totals.carbon_t + move_t / 2
    tight = load_document(tiny_v2(tmp_path, **settings, **{"policy.carbon_budget_t": budget}), tmp_path / "t.yaml")
    report = verify_plan(tight, moved)
    assert [v.family for v in report.violations] == ["carbon_budget"]
    plan = solve_and_verify(tight)
    assert plan.totals.carbon_t + (plan.change.carbon_t if plan.change else 0.0) <= budget * (1 + 1e-6)
