"""Plans over time slices, solved end to end: a pausable job waits for the clean hours and a job that cannot
pause runs around the clock; replicas follow demand; constant profiles give exactly the static plan."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.io.timeline import Timeline
from helpers import CLEAN_HOURS, CLEAN_NIGHT, clean_night_timeline, load_text, solve_and_verify


@pytest.fixture(scope="module")
def clean_night(tmp_path_factory):
    inst = load_text(CLEAN_NIGHT, tmp_path_factory.mktemp("clean-night"))
    inst._timeline = clean_night_timeline(inst)
    return inst, solve_and_verify(inst, mip_rel_gap=0.0)


def test_the_pausable_job_runs_in_the_clean_hours(clean_night):
    inst, plan = clean_night
    waits = np.array(plan.training["waits"].hours_by_slice)
    dirty = np.setdiff1d(np.arange(24), CLEAN_HOURS)
    assert np.all(waits[dirty] == 0.0), waits
    # it runs the same share f of every clean hour, so it resumes on f of the 10 nights, each a restart: the
    # hours it runs are its work plus those restarts
    share = waits[list(CLEAN_HOURS)] / 10.0
    assert np.allclose(share, share[0])
    restarts = 10 * share[0] * inst.training["waits"].checkpoint_restart_min / 60.0
    assert waits.sum() == pytest.approx(plan.training["waits"].wall_hours + restarts, rel=1e-6)


def test_the_job_that_cannot_pause_runs_around_the_clock(clean_night):
    _, plan = clean_night
    steady = np.array(plan.training["steady"].hours_by_slice)
    assert np.allclose(steady, steady[0]) and steady[0] > 0
    assert steady.sum() == pytest.approx(plan.training["steady"].wall_hours, rel=1e-6)
    # same layout, same region: waiting for the clean night is what cuts the carbon
    waits = plan.training["waits"]
    assert (waits.gpus, waits.region) == (plan.training["steady"].gpus, plan.training["steady"].region)
    assert waits.carbon_t < 0.5 * plan.training["steady"].carbon_t


def test_replicas_follow_demand(tmp_path):
    inst = load_text(CLEAN_NIGHT, tmp_path)
    inst._timeline = clean_night_timeline(inst, carbon=False)
    plan = solve_and_verify(inst, mip_rel_gap=0.0)
    capacity = np.zeros(24)
    for g in plan.serving["chat"].replicas:
        capacity += np.array(g.replicas_by_slice)
    demand = inst.timeline.value("serving.chat.demand_rps.users", 0)
    assert capacity[np.argmax(demand)] > capacity[np.argmin(demand)]
    assert plan.timeline is not None and plan.timeline.weights == [10.0] * 24
    assert sum(plan.timeline.weights) == inst.horizon_hours


def test_constant_profiles_give_the_static_plan(tmp_path):
    inst = load_text(CLEAN_NIGHT, tmp_path)
    static = solve_and_verify(inst, mip_rel_gap=0.0)
    hour = np.arange(24)
    days = int(inst.horizon_hours // 24)
    inst._timeline = Timeline(
        step_hours=1.0, weights=np.full(24, float(days)), start_hour=hour.astype(float),
        day=np.zeros(24, dtype=np.int64), members=tuple(np.arange(days) * 24 + h for h in hour),
        values={"regions.north.carbon_g_per_kwh": np.full(24, 300.0),
                "serving.chat.demand_rps.users": np.full(24, 100.0)})
    sliced = solve_and_verify(inst, mip_rel_gap=0.0)
    assert sliced.objective == pytest.approx(static.objective, rel=1e-9)
    assert sliced.totals.cost_usd == pytest.approx(static.totals.cost_usd, rel=1e-9)
    keep = ("region", "accelerator", "gpus", "tp", "pp", "dp", "micro_batch", "recompute", "sync_group")
    for job, d in static.training.items():
        assert {k: getattr(sliced.training[job], k) for k in keep} == {k: getattr(d, k) for k in keep}
        assert sliced.training[job].carbon_t == pytest.approx(d.carbon_t, rel=1e-9)
    for s, dec in static.serving.items():
        assert [(g.region, g.config, g.replicas) for g in sliced.serving[s].replicas] == \
            [(g.region, g.config, g.replicas) for g in dec.replicas]
        assert all(g.replicas_by_slice == [g.replicas] * 24 for g in sliced.serving[s].replicas)


def test_a_window_keeps_the_job_out_of_its_first_days(tmp_path):
    inst = load_text(CLEAN_NIGHT.replace("    pausable: true\n", "    pausable: true\n    earliest_start_hour: 120\n"),
                     tmp_path)
    inst._timeline = clean_night_timeline(inst)
    plan = solve_and_verify(inst, mip_rel_gap=0.0)
    assert inst.training["waits"].earliest_start_hour == 120
    # half the horizon is outside the window: every slice has at most 5 of its 10 hours left
    assert max(plan.training["waits"].hours_by_slice) <= 5.0 + 1e-9


def test_solving_in_parts_over_slices_gives_the_whole_models_optimum(clean_night):
    inst, plan = clean_night
    whole = solve_and_verify(inst, mip_rel_gap=0.0, decompose=False)
    assert plan.objective == pytest.approx(whole.objective, rel=1e-9)
    assert plan.provenance.decomposition is not None


def test_a_power_cap_profile_holds_in_every_slice(tmp_path):
    inst = load_text(CLEAN_NIGHT, tmp_path)
    tl = clean_night_timeline(inst)
    cap = np.where(np.arange(24) >= 12, 0.004, 2.0)     # north can hold almost nothing in the afternoon
    inst._timeline = Timeline(tl.step_hours, tl.weights, tl.start_hour, tl.day, tl.members,
                              {**tl.values, "regions.north.power_cap_mw": cap})
    plan = solve_and_verify(inst, mip_rel_gap=0.0)
    north = plan.totals.regions["north"]
    assert all(mw <= c + 1e-9 for mw, c in zip(north.power_mw_by_slice, cap))
    # GPUs in use per slice, read back from the plan, draw no more than the afternoon cap
    steady = plan.training["steady"]
    gpus = north.gpus_by_slice["h100-sxm5-80gb"]
    assert len(gpus) == 24 and max(gpus[12:]) * steady.power_mw / max(steady.gpus, 1) <= 0.004 + 1e-9


@pytest.mark.parametrize("backend", ["pyomo", "ortools"])
def test_every_backend_plans_over_slices_alike(clean_night, backend):
    inst, plan = clean_night
    other = solve_and_verify(inst, backend=backend, mip_rel_gap=0.0)
    assert other.objective == pytest.approx(plan.objective, rel=1e-6)
