"""Implausible values are warned about with their key and the plausible range, and planning goes on; the shipped
instances and catalogs raise no warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.io.load import load_instance
from fleetopt.io.plausibility import RANGES, warnings_of
from helpers import REPO


TINY = """\
fleetopt: 1
name: tiny
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    power_cap_mw: {cap}
    gpus:
      h100-sxm5-80gb: {{count: 64, usd_per_hour: 4.25}}
accelerators:
  h100-sxm5-80gb: {{tdp_w: {tdp}}}
populations:
  us-users:
    rtt_ms: {{us-east: 20}}
serving:
  chat:
    model: llama3-8b
    demand_rps: {{us-users: 10}}
    slo_p99_ms: 3000
"""


def write(tmp_path: Path, cap="5", tdp="700") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(cap=cap, tdp=tdp))
    return path


def test_a_power_cap_of_forty_million_mw_is_named_with_its_range(tmp_path):
    found = warnings_of(load_instance(write(tmp_path, cap="40000000")))
    assert [w.key for w in found] == ["regions.us-east.power_cap_mw"]
    assert "40,000,000 MW" in found[0].message and "0.01 to 5,000 MW" in found[0].message
    assert found[0].line == 7


def test_a_milliwatt_gpu_is_named_with_its_range(tmp_path):
    found = warnings_of(load_instance(write(tmp_path, tdp="0.001")))
    assert [w.key for w in found] == ["accelerators.h100-sxm5-80gb.tdp_w"]
    assert "0.001 W" in found[0].message and "5 to 5,000 W" in found[0].message


def test_validate_prints_warnings_on_stderr_and_still_exits_0(tmp_path):
    path = write(tmp_path, cap="40000000", tdp="0.001")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 2
    assert all(line.startswith(f"warning: {path}:") for line in warnings)
    assert "valid" in result.stdout


def test_solve_warns_and_plans(tmp_path):
    path = write(tmp_path, cap="40000000")
    plan = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["solve", "-q", str(path), "-o", str(plan)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: ") and "regions.us-east.power_cap_mw" in result.stderr
    verified = CliRunner().invoke(app, ["verify", str(path), str(plan)])
    assert verified.exit_code == 0, verified.output


def test_a_value_far_past_its_range_is_bad_input(tmp_path):
    path = write(tmp_path, cap="1e30")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {path}:7: regions.us-east.power_cap_mw: ")
    assert "far beyond the plausible range 0.01 to 5,000 MW" in result.stderr


@pytest.mark.parametrize("path", sorted(REPO.glob("instances/**/*.yaml")), ids=lambda p: p.stem)
def test_shipped_instances_and_catalog_are_plausible(path):
    assert warnings_of(load_instance(path)) == []


def test_every_range_is_ordered():
    for pattern, low, high, _ in RANGES:
        assert low < high, pattern
