"""The verifier re-derives procurement on its own: the spot goodput with the preemption rate, the spot price,
each class's stock and the reserved figures of the totals; a tampered figure is caught."""

from __future__ import annotations

import pytest

from fleetopt.physics.reliability import (
    checkpoint_write_time_s,
    goodput,
    group_mtbf_hours,
    mtbf_with_preemptions_hours,
)
from fleetopt.plan import Plan
from fleetopt.verify import verify_plan
from helpers import solve_and_verify
from helpers import SPOT_JOBS, reserved_serving, spot_jobs, text_instance


@pytest.fixture(scope="module")
def spot_plan():
    inst = spot_jobs()
    return inst, solve_and_verify(inst)


def _edited(plan: Plan, edit) -> Plan:
    data = plan.model_dump()
    edit(data)
    return Plan.model_validate(data)


def _families(inst, plan: Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in verify_plan(inst, plan).violations:
        out.setdefault(v.family, []).append(v.message)
    return out


def test_the_spot_goodput_is_the_one_the_preemption_rate_gives(spot_plan):
    inst, plan = spot_plan
    d = plan.training["small"]
    accel = inst.accelerators["h100-sxm5-80gb"]
    per_gpu = mtbf_with_preemptions_hours(accel.mtbf_hours, 0.02)
    mtbf_s = group_mtbf_hours(per_gpu, d.sync_group * d.tp * d.pp) * 3600
    delta_s = checkpoint_write_time_s(14 * 8.03e9, 2000e9)   # 14 B per parameter through 2 TB/s
    assert float(goodput(delta_s, d.checkpoint_interval_min * 60, 600.0, mtbf_s)) == pytest.approx(d.goodput,
                                                                                                    rel=1e-3)
    without = float(goodput(delta_s, d.checkpoint_interval_min * 60, 600.0,
                            group_mtbf_hours(accel.mtbf_hours, d.sync_group * d.tp * d.pp) * 3600))
    assert without > d.goodput


def test_a_tampered_spot_goodput_is_caught(spot_plan):
    inst, plan = spot_plan

    def better(data):
        data["training"]["small"]["goodput"] = min(1.0, data["training"]["small"]["goodput"] + 0.01)
    found = _families(inst, _edited(plan, better))
    assert any("goodput" in m for m in found["reported"])


def test_a_spot_job_stated_as_on_demand_is_caught(spot_plan):
    """Without the preemption rate the goodput, wall hours and cost the plan states are not the physics'."""
    inst, plan = spot_plan

    def on_demand(data):
        data["training"]["small"]["procurement"] = "on-demand"
    messages = _families(inst, _edited(plan, on_demand))["reported"]
    for figure in ("goodput", "wall_hours", "cost_usd"):
        assert any(m.startswith(figure) for m in messages), figure


def test_spot_gpus_beyond_the_spot_stock_are_caught(spot_plan):
    _, plan = spot_plan
    scarce = text_instance(SPOT_JOBS.replace("spot: {count: 2048", "spot: {count: 2"), spot_price=1.6)
    found = _families(scarce, plan)
    assert "spot_stock" in found and "inventory" not in found


def test_a_tampered_reserved_saving_is_caught():
    inst = reserved_serving(8, demand=600)
    plan = solve_and_verify(inst)

    def more(data):
        data["totals"]["reserved_saving_usd"] += 1000.0
        data["totals"]["cost_usd"] -= 1000.0
    found = _families(inst, _edited(plan, more))
    assert any(m.startswith("reserved_saving_usd") for m in found["reported"])
    assert any(m.startswith("cost_usd") for m in found["reported"])
