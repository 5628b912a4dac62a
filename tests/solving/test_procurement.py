"""Procurement classes end to end: spot where the price gap pays for the goodput preemptions cost, on-demand
where a huge fate-sharing group would lose it; reserved GPUs used before on-demand ones, their commitment in
the total either way (every plan verified by fleetopt.verify)."""

from __future__ import annotations

import pytest

from fleetopt.api import build_problem
from fleetopt.candidates.tables import SPOT
from fleetopt.io.load import load_instance
from helpers import CLEAN_NIGHT, TINY, clean_night_timeline, load_text, solve_and_verify
from helpers import reserved_serving, spot_jobs


def test_a_cheap_checkpoint_runs_on_spot_and_a_huge_group_does_not():
    inst = spot_jobs(spot_price=1.6)
    plan = solve_and_verify(inst)
    small, huge = plan.training["small"], plan.training["huge"]
    assert small.procurement == "spot"
    assert huge.procurement == "on-demand"
    assert huge.gpus // (huge.dp // huge.sync_group) >= 256   # one group of hundreds of GPUs
    # the lost goodput is real: the same layout on-demand keeps more of it
    tc = build_problem(inst).training
    same = [c for c in range(len(tc)) if tc.job_names[tc.job[c]] == "small" and tc.gpus[c] == small.gpus
            and tc.sync_group[c] == small.sync_group and tc.tp[c] == small.tp and tc.pp[c] == small.pp]
    on_demand = [c for c in same if tc.procurement[c] != SPOT]
    assert on_demand and all(tc.goodput[c] > small.goodput for c in on_demand)


def test_spot_without_a_price_gap_is_not_worth_its_preemptions():
    plan = solve_and_verify(spot_jobs(spot_price=4.24))   # a cent below on-demand: less than the goodput lost
    assert plan.training["small"].procurement == "on-demand"


def test_reserved_gpus_are_used_before_on_demand_and_paid_either_way():
    reserved, price, usd_od, hours = 8, 2.9, 4.25, 720
    commitment = reserved * price * hours
    plan = solve_and_verify(reserved_serving(reserved, demand=600), mip_rel_gap=0.0)
    without = solve_and_verify(reserved_serving(reserved, demand=600, with_block=False), mip_rel_gap=0.0)
    use = plan.totals.regions["us-east"].gpus_by_class["h100-sxm5-80gb"]
    held = plan.totals.regions["us-east"].gpus["h100-sxm5-80gb"]
    assert held > reserved
    assert use == {"reserved": reserved, "on-demand": held - reserved, "spot": 0.0}
    assert plan.totals.reserved_usd == pytest.approx(commitment)
    assert plan.totals.reserved_saving_usd == pytest.approx(reserved * usd_od * hours)
    # the same plan's cost, less the on-demand rental of the reserved GPUs, plus their commitment
    assert plan.totals.cost_usd == pytest.approx(without.totals.cost_usd - reserved * usd_od * hours + commitment)
    assert plan.objective == pytest.approx(plan.totals.cost_usd)


def test_unused_reserved_capacity_is_paid_all_the_same():
    plan = solve_and_verify(reserved_serving(48, demand=30))
    use = plan.totals.regions["us-east"].gpus_by_class["h100-sxm5-80gb"]
    held = plan.totals.regions["us-east"].gpus["h100-sxm5-80gb"]
    assert held < 48 and use["reserved"] == held and use["on-demand"] == 0
    assert all(g.procurement == "reserved" for g in plan.serving["chat"].replicas)
    assert plan.totals.cost_usd == pytest.approx(48 * 2.9 * 720)   # rental all earned back; energy is in the price


def test_classes_hold_in_every_time_slice(tmp_path):
    """Over time slices each class's stock is a row per slice, reserved GPUs in use are per slice, and the plan
    still verifies (spot goodput, per-class stock per slice, the reserved figures)."""
    text = CLEAN_NIGHT.replace("objective: carbon", "objective: cost").replace(
        "      h100-sxm5-80gb: {count: 128, usd_per_hour: 4.0}",
        "      h100-sxm5-80gb:\n        count: 128\n        usd_per_hour: 4.0\n"
        "        reserved: {count: 16, usd_per_hour: 2.5}\n"
        "        spot: {count: 64, usd_per_hour: 1.5, preemptions_per_gpu_hour: 0.01}")
    inst = load_text(text, tmp_path)
    inst._timeline = clean_night_timeline(inst)
    problem = build_problem(inst)
    labels = problem.form.time.slices.labels
    for family in ("inventory", "spot_stock", "reserved_stock", "reserved_use"):
        keys = problem.form.families[family].keys
        assert {k[-1] for k in keys} == set(labels), family
    assert len(problem.form.blocks["reserved"].keys) == len(labels)
    plan = solve_and_verify(inst)
    assert plan.totals.reserved_usd == pytest.approx(16 * 2.5 * 240)
    assert plan.totals.regions["north"].gpus_by_class["h100-sxm5-80gb"]["reserved"] > 0
    assert {d.procurement for d in plan.training.values()} <= {"spot", "reserved", "on-demand", "reserved+on-demand"}


def test_without_class_blocks_the_plan_says_nothing_of_classes():
    inst = load_instance(TINY)
    problem = build_problem(inst)
    assert not {"reserved", "spot_stock", "reserved_stock", "reserved_use"} & (set(problem.form.blocks)
                                                                             | set(problem.form.families))
    assert problem.form.objective_offset == 0.0
    plan = solve_and_verify(inst)
    assert all(d.procurement is None for d in plan.training.values())
    assert all(g.procurement is None for s in plan.serving.values() for g in s.replicas)
    assert plan.totals.reserved_usd is None
    assert all(u.gpus_by_class is None for u in plan.totals.regions.values())
