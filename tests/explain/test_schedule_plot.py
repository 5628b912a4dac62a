"""The schedule plot (plan/plots.py): GPUs in use per region and slice over the carbon intensity, from a plan
over time (built by hand here: its fields as the plan model names them) and from a static plan."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.io.load import load_instance
from fleetopt.plan.plots import plot_schedule, schedule_of
from helpers import TINY, solve_and_verify

PNG = b"\x89PNG\r\n\x1a\n"


def hourly_tiny(tmp_path, days: int = 2, merge: float | None = None):
    """tiny-fleet over 48 hours with an hourly us-west carbon curve: clean from 0h to 6h."""
    doc = yaml.safe_load(TINY.read_text())
    doc.update(fleetopt=2, horizon_hours=48, time={"step_hours": 1, "representative_days": days})
    if merge is not None:
        doc["time"]["merge_tolerance"] = merge
    for job in doc["training"].values():
        job["deadline_hours"] = 40
    curve = [50 if h < 6 else 400 for h in range(24)]
    doc["regions"]["us-west"]["carbon_g_per_kwh"] = curve
    path = tmp_path / "hourly.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_instance(path), curve


def plan_over_time(inst, gpus_by_region: dict[str, dict[str, list[float]]]):
    """A plan as fleetopt writes one over time, with only the fields the plot reads."""
    t = inst.timeline
    timeline = SimpleNamespace(step_hours=t.step_hours, weights=t.weights.tolist(), start_hour=t.start_hour.tolist(),
                               day=t.day.tolist(), labels=[f"d{d}h{int(h) % 24}" for d, h in zip(t.day, t.start_hour)])
    regions = {r: SimpleNamespace(gpus={a: max(v) for a, v in by.items()}, gpus_by_slice=by, power_mw=0.0,
                                  power_cap_mw=None) for r, by in gpus_by_region.items()}
    residue = {"h100-sxm5-80gb": [1e-12] * len(t)}
    regions["eu-north"] = SimpleNamespace(gpus={"h100-sxm5-80gb": 1e-12}, gpus_by_slice=residue, power_mw=0.0,
                                          power_cap_mw=None)
    return SimpleNamespace(timeline=timeline, totals=SimpleNamespace(regions=regions), has_plan=True,
                           provenance=SimpleNamespace(instance="hourly"))


def test_the_schedule_runs_through_each_day_with_its_carbon(tmp_path):
    inst, curve = hourly_tiny(tmp_path, days=0)
    night = [512.0 if (h % 24) < 6 else 0.0 for h in inst.timeline.start_hour]
    plan = plan_over_time(inst, {"us-west": {"h100-sxm5-80gb": night}, "us-east": {"l4": [8.0] * len(night)}})
    sched = schedule_of(plan, inst)
    assert set(sched.gpus) == {"us-west", "us-east"}, "eu-north holds only a residue: left out"
    assert sched.days_stood_for == {0: 1.0, 1: 1.0}
    assert np.array_equal(sched.carbon["us-west"], np.array(curve * 2, dtype=float))
    assert np.array_equal(sched.gpus["us-west"]["h100-sxm5-80gb"], np.array(night))
    assert np.all(sched.width_hours == 1.0) and sched.x_hours[24] > sched.x_hours[23] + 1, "a gap between days"


def test_merged_hours_are_one_wide_bar_and_a_day_counts_its_days(tmp_path):
    inst, _ = hourly_tiny(tmp_path, days=1, merge=0.01)
    t = inst.timeline
    assert len(t) == 2 and t.weights.tolist() == [12.0, 36.0]
    plan = plan_over_time(inst, {"us-west": {"h100-sxm5-80gb": [256.0, 0.0]}})
    sched = schedule_of(plan, inst)
    assert sched.width_hours.tolist() == [6.0, 18.0] and sched.days_stood_for == {0: 2.0}
    assert sched.carbon["us-west"].tolist() == [50.0, 400.0]


def test_the_plot_is_written_whole_as_a_png(tmp_path):
    inst, _ = hourly_tiny(tmp_path, days=0)
    plan = plan_over_time(inst, {"us-west": {"h100-sxm5-80gb": [64.0] * 48}, "us-east": {"l4": [8.0] * 48}})
    fig = plot_schedule(plan, inst, tmp_path / "schedule.png")
    assert (tmp_path / "schedule.png").read_bytes().startswith(PNG)
    assert len(fig.axes) == 4, "a panel and its carbon axis per region with GPUs"


def test_a_static_plan_is_one_slice(tmp_path):
    inst = load_instance(TINY)
    plan = solve_and_verify(inst)
    sched = schedule_of(plan, inst)
    used = {r for r, u in plan.totals.regions.items() if max(u.gpus.values(), default=0) >= 0.5}
    assert set(sched.gpus) == used
    for r in used:
        assert sched.carbon[r].tolist() == [pytest.approx(inst.regions[r].mean_carbon_g_per_kwh)]
    plot_schedule(plan, inst, tmp_path / "static.png")
    assert (tmp_path / "static.png").read_bytes().startswith(PNG)


def test_solve_writes_the_plot(tmp_path):
    target = tmp_path / "schedule.png"
    res = CliRunner().invoke(app, ["solve", str(TINY), "-q", "--plot", str(target)])
    assert res.exit_code == 0, res.output
    assert target.read_bytes().startswith(PNG)
