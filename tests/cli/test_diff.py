"""`fleetopt diff OLD NEW [--json]`, `solve --from` and `verify --from`: what changes between two plans in 80
columns, nothing between a plan and itself, and bad plan files as one error line with exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.io.load import load_instance
from helpers import REPLAN, error_keys, replan_instance, solve_and_verify


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """Today's plan of replan-fleet and a re-plan at 5% more demand with a change cost, as files."""
    folder = tmp_path_factory.mktemp("plans")
    old = folder / "old.json"
    old.write_text(solve_and_verify(load_instance(REPLAN)).model_dump_json())
    new = folder / "new.json"
    new.write_text(solve_and_verify(replan_instance(folder, old, change_usd_per_gpu=1000)).model_dump_json())
    return old, new


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_a_plan_against_itself_is_an_empty_diff(plans):
    old, _ = plans
    text = run("diff", old, old)
    assert text.exit_code == 0 and text.stdout == "no change\n"
    data = json.loads(run("diff", old, old, "--json").stdout)
    assert data["changes"] == [] and data["changed_gpus"] == 0 and data["cost_usd"] == 0


def test_the_diff_names_what_changes_in_80_columns(plans):
    old, new = plans
    result = run("diff", old, new)
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and all(len(line) <= 80 for line in lines), lines
    data = json.loads(run("diff", old, new, "--json").stdout)
    changed = data["changed_gpus"]
    assert changed > 0 and f"{changed} GPUs change assignment" in lines[0]
    assert f"service chat-small changes (+{changed} GPUs" in result.stdout
    assert [c["action"] for c in data["changes"]] == ["changes"]


@pytest.mark.parametrize("content", [None, "{not json", '{"status": "optimal"}', '{"fleetopt": 1}'],
                         ids=["missing", "not-json", "not-a-plan", "an-instance"])
def test_a_bad_plan_file_is_one_error_line(plans, tmp_path, content):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    result = run("diff", plans[0], bad)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "bad.json" in result.stderr
    error_keys(result.stderr)


def test_solve_and_verify_from_a_deployed_plan(plans, tmp_path):
    old, _ = plans
    out = tmp_path / "replan.json"
    instance = REPLAN   # version 2 without `current:`: --from gives it
    report = tmp_path / "report.md"
    result = run("solve", instance, "--from", old, "-q", "-o", out, "--report", report)
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())["change"]["changed_gpus"] == 0
    sections = [line for line in report.read_text().splitlines() if line.startswith("## ")]
    assert sections[0].startswith("## Change against the deployed plan")   # a re-plan's report starts with it
    assert run("verify", instance, out, "--from", old, "-q").exit_code == 0
    explained = run("explain", instance, out, "--from", old)
    assert explained.exit_code == 0 and "0 GPUs change assignment" in " ".join(explained.stdout.split())
    assert run("verify", instance, out, "-q").exit_code == 3   # without it the stated change has no ground


def test_solve_from_a_plan_of_another_instance_is_one_error_line(tmp_path):
    other = tmp_path / "other.json"
    other.write_text(solve_and_verify(load_instance(REPLAN)).model_dump_json().replace(
        '"instance":"replan-fleet"', '"instance":"another-fleet"'))
    result = run("solve", REPLAN, "--from", other, "-q")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert error_keys(result.stderr) == ["provenance.instance"] and "another-fleet" in result.stderr
