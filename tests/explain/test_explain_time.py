"""A plan over time slices explained: when each job runs and the carbon it avoids against running as early as
possible, the replicas per slice, the slices that bind with their prices, and the report's section."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.explain.decisions import plan_to_x
from fleetopt.explain.explainer import explain
from fleetopt.explain.report import render_markdown
from helpers import CLEAN_HOURS, CLEAN_NIGHT, assert_verified, clean_night_timeline, load_text


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    inst = load_text(CLEAN_NIGHT, tmp_path_factory.mktemp("clean-night"))
    inst._timeline = clean_night_timeline(inst)
    name, options = options_for(inst, mip_rel_gap=0.0)
    problem = build_problem(inst)
    plan, result = solve_problem(problem, name, options)
    assert_verified(inst, plan)
    plan.explanation = explain(problem, plan, result.x, options)
    return inst, problem, plan, result, options


def test_the_pausable_job_avoids_carbon_the_steady_one_cannot(explained):
    inst, _, plan, _, _ = explained
    jobs = {j.job: j for j in plan.explanation.time.jobs}
    waits, steady = jobs["waits"], jobs["steady"]
    assert waits.pausable and not steady.pausable
    assert waits.carbon_t == pytest.approx(plan.training["waits"].carbon_t, rel=1e-9)
    # as early as possible it runs its work around the clock from hour 0: north's mean intensity
    assert waits.carbon_avoided_t > 0.5 * waits.carbon_asap_t
    # around the clock in the plan too: it avoids nothing, up to the part of a day its contiguous run would
    # leave out, which the fluid share spreads over every hour (46 h = 1.9 days: the partial day's hours weigh
    # about 2% of its carbon, and the profile differs by less than that)
    assert abs(steady.carbon_avoided_t) < 0.02 * steady.carbon_t
    assert steady.hours_run % 24 != 0
    assert waits.hours_by_slice == plan.training["waits"].hours_by_slice


def test_replicas_per_slice_and_binding_slices(explained):
    inst, _, plan, _, _ = explained
    t = plan.explanation.time
    (chat,) = t.services
    assert chat.peak > chat.trough and len(chat.replicas_by_slice) == 24
    assert [b.slice for b in t.binding_slices] == sorted({b.slice for b in t.binding_slices}, key=t.labels.index)
    # the pausable job's resume rows bind where it starts its night: the first clean hour
    first = t.labels[min(CLEAN_HOURS)]
    assert any(r.startswith("run_resume[waits,") for b in t.binding_slices if b.slice == first for r in b.rows)


def test_a_plan_read_back_explains_the_same(explained):
    inst, problem, plan, result, options = explained
    x = plan_to_x(problem, plan)
    assert np.allclose(problem.form.matrix() @ x, problem.form.matrix() @ result.x, atol=1e-6)
    again = explain(problem, plan, x, options)
    assert [j.carbon_avoided_t for j in again.time.jobs] == pytest.approx(
        [j.carbon_avoided_t for j in plan.explanation.time.jobs])


def test_the_report_has_a_time_section(explained):
    inst, _, plan, _, _ = explained
    text = render_markdown(plan, plan.explanation, None, inst)
    assert "## Time slices" in text and "as early as possible t" in text and "d0h13" in text


@pytest.fixture(scope="module")
def afternoon_without_power(tmp_path_factory):
    """North can hold nothing in the afternoon, and the job that cannot pause must run there every hour:
    (instance, options, plan status, its explanation)."""
    from fleetopt.io.timeline import Timeline
    inst = load_text(CLEAN_NIGHT, tmp_path_factory.mktemp("afternoon"))
    tl = clean_night_timeline(inst)
    cap = np.where(np.arange(24) >= 12, 1e-4, 2.0)
    inst._timeline = Timeline(tl.step_hours, tl.weights, tl.start_hour, tl.day, tl.members,
                              {**tl.values, "regions.north.power_cap_mw": cap})
    name, options = options_for(inst, mip_rel_gap=0.0)
    problem = build_problem(inst)
    plan, result = solve_problem(problem, name, options)
    return inst, options, plan.status, explain(problem, plan, None if result is None else result.x, options)


def test_an_infeasible_plan_over_slices_names_the_slices_that_conflict(afternoon_without_power):
    _, _, status, e = afternoon_without_power
    assert status == "infeasible"
    names = {m.name for m in e.infeasibility.iis}
    assert {"coverage", "run_steady", "power_cap"} <= {m.family for m in e.infeasibility.iis}
    assert any(n.startswith("power_cap[north,d0h1") for n in names)
    assert not any(n.startswith("power_cap[north,d0h0]") for n in names)   # a morning slice has room


def test_an_infeasible_plan_over_slices_is_repaired_in_its_slices(afternoon_without_power):
    """The advice raises the profiled cap in the slices that conflict (a re-solve confirms it) and reads
    each row's limit from its slice, not from the horizon mean."""
    from fleetopt.explain.infeasible import apply_relaxations, infeasibility_lines, plan_exists
    inst, options, _, e = afternoon_without_power
    e = e.infeasibility
    changes = e.relaxations + e.alternatives
    assert changes and all(r.family == "power_cap" and r.current == pytest.approx(1e-4) for r in changes)
    assert {r.key[-1] for r in changes} <= {f"d0h{h}" for h in range(12, 24)}
    assert plan_exists(apply_relaxations(inst, e.relaxations or e.alternatives[:1]), options)[0]
    text = "\n".join(infeasibility_lines(e))
    assert "power_cap_mw of north in slice" in text and "no change of the relaxable limits" not in text
