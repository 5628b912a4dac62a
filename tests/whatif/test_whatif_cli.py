"""`fleetopt whatif` and `fleetopt pareto` on the command line: every bad option is one line and exit 2, the
tables keep within 80 columns, and progress shows when stderr is not a terminal."""

from __future__ import annotations


import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.whatif.spec import parse_option
from fleetopt.whatif.tables import short_families, short_number
from helpers import TINY

WIDTH = 80

BAD_OPTIONS = [
    (["--backend", "cplex"], "--backend"),
    (["--gap", "-1"], "--gap"),
    (["--gap", "nan"], "--gap"),
    (["--time-limit", "-3"], "--time-limit"),
    (["--time-limit", "inf"], "--time-limit"),
    (["--threads", "-5"], "--threads"),
    (["--seed", "-1"], "--seed"),
    (["--workers", "0"], "--workers"),
    (["--executor", "cluster"], "--executor"),
]


def one_error_line(result, option: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}: "), result.output
    assert "Traceback" not in result.output and ("expected" in lines[0] or "use .csv" in lines[0])


@pytest.mark.parametrize("args, option", [*BAD_OPTIONS, (["--mode", "random"], "--mode"),
                                          (["-o", "results.txt"], "--output")])
def test_whatif_bad_option_is_one_line_and_exit_2(args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["whatif", str(TINY), "--set", "policy.carbon_budget_t=3,9", *args])
    one_error_line(result, option)
    assert not list(tmp_path.iterdir()), "nothing is written before the options are checked"


@pytest.mark.parametrize("args, option", [*BAD_OPTIONS, (["--points", "1"], "--points"),
                                          (["--points", "100000"], "--points"), (["-o", "front.txt"], "--output"),
                                          (["--results", "runs.txt"], "--results")])
def test_pareto_bad_option_is_one_line_and_exit_2(args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["pareto", str(TINY), *args])
    one_error_line(result, option)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_whatif_table_fits_80_columns_and_progress_shows_when_piped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"COLUMNS": str(WIDTH)}).invoke(app, [
        "whatif", str(TINY), "--set", "policy.carbon_budget_t=3:10:4", "--set",
        "regions.us-west.power_cap_mw=x0.5,x2", "--executor", "sequential", "-o", "r.csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    # one line per scenario: 8 scenarios and the base, each starting with its first factor's value
    rows = [line for line in lines if line.split() and line.split()[0] in ("base", "3", "5.333", "7.667", "10")]
    assert len(rows) == 9 and "5.333333" not in result.output
    # CliRunner's stderr is no terminal: a progress line per scenario
    progress = [line for line in lines if line.startswith("what-if: scenario ")]
    assert [p.split()[2] for p in progress] == [f"{i}/9" for i in range(1, 10)]
    assert progress[-1].endswith(": optimal") and " done (" in progress[-1]


def test_pareto_table_fits_80_columns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"COLUMNS": str(WIDTH)}).invoke(app, [
        "pareto", str(TINY), "--points", "4", "--executor", "sequential", "--gap", "0"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    assert any(line.startswith("knee ") or line.startswith("   ") for line in lines)
    assert any(line.startswith("pareto front: scenario ") for line in lines)


def test_labels_at_sensible_precision():
    labels = [str(s) for s in parse_option("policy.carbon_budget_t=200:400:8").settings]
    assert labels[1] == "policy.carbon_budget_t=228.6" and labels[0] == "policy.carbon_budget_t=200"
    close = [str(s) for s in parse_option("p=1.00001,1.00002").settings]
    assert close == ["p=1.00001", "p=1.00002"]  # as many digits as tell the values apart


def test_short_numbers_and_families():
    assert short_number(151571.83) == "151.6k" and short_number(2016.0, signed=True) == "+2.016k"
    assert short_number(3.2e-13) == "0" and short_number(None) == ""
    assert short_families("carbon_budget;inventory;monitoring_samples") == "carbon stock samples"
