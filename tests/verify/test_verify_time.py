"""The verifier re-checks a plan over time slice by slice: a tampered schedule is caught, in the slice it breaks."""

from __future__ import annotations

import pytest

from fleetopt.verify import verify_plan
from helpers import CLEAN_NIGHT, clean_night_timeline, load_text, solve_and_verify


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    inst = load_text(CLEAN_NIGHT, tmp_path_factory.mktemp("clean-night"))
    inst._timeline = clean_night_timeline(inst)
    return inst, solve_and_verify(inst, mip_rel_gap=0.0)


def _families(inst, plan) -> dict[str, list[str]]:
    report = verify_plan(inst, plan)
    out: dict[str, list[str]] = {}
    for v in report.violations:
        out.setdefault(v.family, []).append(v.name)
    return out


def test_hours_outside_the_window_are_caught(solved):
    inst, plan = solved
    bad = plan.model_copy(deep=True)
    bad.training["waits"].hours_by_slice[0] = 11.0   # the slice stands for 10 hours
    assert "run_window[waits,d0h0]" in _families(inst, bad)["run_window"]


def test_a_job_that_cannot_pause_must_run_every_slice_alike(solved):
    inst, plan = solved
    bad = plan.model_copy(deep=True)
    hours = bad.training["steady"].hours_by_slice
    hours[3], hours[15] = hours[3] + 1.0, hours[15] - 1.0    # same total, moved towards the clean night
    assert "run_steady" in _families(inst, bad)


def test_hours_short_of_the_work_are_caught(solved):
    inst, plan = solved
    bad = plan.model_copy(deep=True)
    bad.training["waits"].hours_by_slice = [h * 0.9 for h in bad.training["waits"].hours_by_slice]
    found = _families(inst, bad)
    assert found["coverage"] == ["coverage[waits]"]
    assert "reported" in found  # its stated carbon and cost no longer match the hours


def test_a_replica_taken_from_a_busy_slice_is_caught(solved):
    inst, plan = solved
    bad = plan.model_copy(deep=True)
    group = max(bad.serving["chat"].replicas, key=lambda g: max(g.replicas_by_slice))
    s = group.replicas_by_slice.index(max(group.replicas_by_slice))
    group.replicas_by_slice[s] -= 1
    found = _families(inst, bad)
    label = plan.timeline.labels[s]
    assert any(name.endswith(f",{label}]") for name in found["replica_capacity"])


def test_a_schedule_of_the_wrong_length_is_caught(solved):
    inst, plan = solved
    bad = plan.model_copy(deep=True)
    bad.training["waits"].hours_by_slice = bad.training["waits"].hours_by_slice[:12]
    assert "config[training,waits]" in _families(inst, bad)["config"]


def test_the_untouched_plan_holds_in_every_slice(solved):
    inst, plan = solved
    report = verify_plan(inst, plan)
    assert report.holds
    assert report.checked["inventory"] >= 24 and report.checked["demand"] == 24
    # every family the formulation builds over slices is checked by the verifier
    from fleetopt.api import build_problem
    built = {n for n, fam in build_problem(inst).form.families.items() if fam.size}
    assert built <= set(report.checked), sorted(built - set(report.checked))
