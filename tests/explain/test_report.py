"""What a planner reads: numbers print one way everywhere (fleetopt/io/numbers.py), the terminal summary fits 80
columns and adds up, and report.md read alone answers where each job runs and how, how many replicas of what
where, what each region uses against its stock and caps, what binds, and what the plan costs in dollars and
tonnes; `solve --report` and `explain` print the same report for one plan.
"""

from __future__ import annotations

import math
import re

import pytest

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.explain.decisions import plan_to_x
from fleetopt.explain.explainer import explain
from fleetopt.explain.report import render_markdown
from fleetopt.io.load import load_instance
from fleetopt.io.numbers import clean, label, money, num, pct, whole
from fleetopt.paths import default_instance
from fleetopt.plan.terminal import megawatts, plan_lines
from helpers import assert_verified

SCIENTIFIC = re.compile(r"\d\.?\d*e[+-]\d")

# ------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(("value", "text"), [
    (-4.552e-15, "0"), (1.401e-13, "0"), (0.0, "0"), (-0.0, "0"),       # solver residues
    (81_792.4, "81,792"), (5_840.1, "5,840"), (3_965_850.04, "3,965,850"),  # no 8.179e+04
    (7.7123, "7.712"), (0.014243, "0.01424"), (-27_853.2, "-27,853"), (999.96, "1,000"),
    (3.2e-6, "3.2e-06"), (None, "-"),
])
def test_num(value, text):
    assert num(value) == text


def test_a_residue_is_relative_to_the_scale():
    assert num(0.5, scale=1e6) == "0.5"
    assert num(1e-4, scale=1e6) == "0"          # 1e-4 of a million is a residue
    assert clean(2e-10) == 0.0 and clean(2e-9) == 2e-9


def test_money_whole_pct_label():
    assert money(81_792.4) == "$81,792" and money(0.6397) == "$0.6397" and money(-5_960) == "-$5,960"
    assert money(-1e-14) == "$0"
    assert whole(1_743.4) == "1,743" and whole(None) == "-"
    assert pct(0.4932) == "49.3%" and pct(9.96e-5, 2) == "0.01%"
    assert label(228.57142857142858) == "228.571" and label(300.0) == "300" and label(-2e-15) == "0"


# ------------------------------------------------------------------------------------------ global-fleet


@pytest.fixture(scope="module")
def fleet():
    inst = load_instance(default_instance())
    problem = build_problem(inst)
    backend, options = options_for(inst)
    plan, result = solve_problem(problem, backend, options)
    assert_verified(inst, plan)
    plan.explanation = explain(problem, plan, result.x, options)
    return inst, problem, plan, result, options


def rows_of(markdown: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under `heading`."""
    section = markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.mark.slow
def test_the_report_states_the_plan(fleet):
    inst, _, plan, _, _ = fleet
    md = render_markdown(plan, plan.explanation, None, inst)
    # where each job runs and how
    jobs = {row[0]: row for row in rows_of(md, "Training jobs: where and how")}
    for name, d in plan.training.items():
        row = jobs[name]
        assert row[1:5] == [d.region, d.accelerator, f"{d.gpus:,}", f"{d.tp}x{d.pp}x{d.dp}"]
    # how many replicas of what where
    groups = {tuple(row[:4]): row for row in rows_of(md, "Serving: replicas and routing")}
    for name, s in plan.serving.items():
        for g in s.replicas:
            row = groups[(name, g.region, g.accelerator, g.config)]
            assert int(row[4]) == g.replicas and int(row[5]) * g.replicas == g.gpus
    # what each region uses against its stock and its power cap
    regions = rows_of(md, "Regions: use against stock and power caps")
    for region, use in plan.totals.regions.items():
        mine = [row for row in regions if row[0] == region]
        assert {row[1] for row in mine} == set(use.gpus)
        assert mine[0][6] == megawatts(use.power_mw) and mine[0][7] == num(inst.regions[region].power_cap_mw, 3)
        for row in mine:
            assert row[4] == whole(inst.regions[region].gpus[row[1]].count)
    # what it costs in dollars and tonnes, against the carbon budget
    totals = md.split("## Totals", 1)[1].split("\n## ", 1)[0]
    assert money(plan.totals.cost_usd) in totals
    assert f"{num(plan.totals.carbon_t, 4)} t CO2e of a {num(inst.policy.carbon_budget_t, 4)} t budget" in totals
    assert f"GPUs: {whole(plan.totals.gpus)}" in totals
    # what binds, and the report speaks plainly: no 8.179e+04, no -1.401e-13
    assert "carbon_budget[fleet]" in md.split("## Binding constraints", 1)[1]
    assert not SCIENTIFIC.search(md.replace(plan.provenance.input_sha256, "")), SCIENTIFIC.findall(md)


@pytest.mark.slow
def test_the_summary_fits_80_columns_and_its_gpus_add_up(fleet):
    _, _, plan, _, _ = fleet
    lines = plan_lines(plan)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert not SCIENTIFIC.search(text)
    # the region table's whole GPUs plus the evaluators rounded up per pipeline give the total
    evaluators = [m.evaluator_gpus for s in plan.serving.values() for m in s.monitoring]
    whole_gpus = sum(n for use in plan.totals.regions.values() for n in use.gpus.values()) - sum(evaluators)
    assert round(whole_gpus) + sum(math.ceil(e - 1e-9) for e in evaluators) == plan.totals.gpus
    assert f"{whole(round(whole_gpus))} for training and replicas" in " ".join(text.split())
    # each binding family is named once, with every row's key
    binding = text.split("Binding constraints", 1)[1]
    for family in {b.family for b in plan.binding}:
        rows = [b for b in plan.binding if b.family == family]
        header = f"  {family}, {len(rows)} rows:" if len(rows) > 1 else f"  {rows[0].name}: "
        assert binding.count(header) == 1, header
        assert all(f"[{','.join(b.key)}]" in binding for b in rows)
    # a 56-GPU shard group reads as one replica of 56 GPUs, not 'x1'
    recommend = plan.serving["recommend"].replicas[0]
    assert f"1 replica of {recommend.gpus} GPUs" in text


@pytest.mark.slow
def test_solve_and_explain_print_the_same_report(fleet):
    """`solve --report` explains from the solver's columns, `explain` from the plan JSON read back: same text."""
    inst, problem, plan, result, options = fleet
    from_solver = render_markdown(plan, plan.explanation, None, inst)
    from fleetopt.plan import Plan

    again = Plan.model_validate_json(plan.model_dump_json())
    again.explanation = explain(problem, again, plan_to_x(problem, again), options)
    assert render_markdown(again, again.explanation, None, inst) == from_solver


@pytest.mark.slow
def test_placement_reasons_are_given_once_and_in_the_objectives_terms():
    inst = load_instance(default_instance())
    inst = inst.model_copy(update={"objective": "carbon"})
    problem = build_problem(inst)
    backend, options = options_for(inst)
    plan, result = solve_problem(problem, backend, options)
    assert_verified(inst, plan)
    e = explain(problem, plan, result.x, options)
    lines = [line for s in e.services for line in s.deciding]
    assert lines
    for s in e.services:
        assert len(s.deciding) == len(set(s.deciding)), s.deciding
    placements = [line for line in lines if line.startswith("placement:") and "no route" not in line]
    assert placements and all("t CO2e per request/s" in line and "$" not in line for line in placements)
    assert all("$" not in j.runner_up.reason for j in e.jobs if j.runner_up)
