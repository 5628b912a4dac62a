"""A reader of stdout that leaves early (`fleetopt solve ... | head`) costs the printout only: solve still writes
the files it was asked for and exits with the plan's code, and any other command exits 141 (128 + SIGPIPE, what
a shell reports for a tool its pipe closed on), never 1 (fleetopt's internal error) and never a traceback.

The CLI runs as a user runs it (`python -m fleetopt`, a separate process) with its stdout a pipe whose read end
is closed before the command starts printing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fleetopt
from helpers import TINY

SOURCE_ROOT = Path(fleetopt.__file__).resolve().parents[1]


def run_with_stdout_closed(*args: str, cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "fleetopt", *args], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdout.close()   # the reader leaves at once: every write to stdout meets a closed pipe
    _, err = child.communicate(timeout=120)
    return child.returncode, err


def test_solve_writes_its_plan_and_exits_with_the_plans_code_when_the_reader_left(tmp_path):
    code, err = run_with_stdout_closed("solve", str(TINY), "-o", str(tmp_path / "plan.json"), cwd=tmp_path)
    assert code == 0, err
    assert "Traceback" not in err
    assert json.loads((tmp_path / "plan.json").read_text())["status"] == "optimal"


def test_another_command_exits_141_without_a_traceback_when_the_reader_left(tmp_path):
    code, err = run_with_stdout_closed("schema", cwd=tmp_path)
    assert code == 141
    assert "Traceback" not in err and "Exception" not in err


def test_explain_writes_its_report_when_the_reader_left(tmp_path):
    plan = tmp_path / "plan.json"
    code, err = run_with_stdout_closed("solve", str(TINY), "-o", str(plan), cwd=tmp_path)
    assert code == 0, err
    code, err = run_with_stdout_closed("explain", str(TINY), str(plan), "-o", str(tmp_path / "report.md"),
                                       cwd=tmp_path)
    assert code == 0, err
    assert "Traceback" not in err and (tmp_path / "report.md").read_text().strip()


def test_a_sweep_draws_its_heat_map_when_the_reader_left(tmp_path):
    code, err = run_with_stdout_closed("whatif", str(TINY), "--set", "policy.carbon_budget_t=3,9", "--workers", "1",
                                       "-o", str(tmp_path / "runs.csv"), "--heatmap", str(tmp_path / "heat.png"),
                                       cwd=tmp_path)
    assert code == 0, err
    assert "Traceback" not in err and (tmp_path / "heat.png").stat().st_size > 0
