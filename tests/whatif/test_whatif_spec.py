"""--set parsing, scenario building and the one-line errors of bad --set options (no solver here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.errors import InputError
from fleetopt.whatif.scenario import apply, check_settings, read_base, scenario_id
from fleetopt.whatif.spec import (GRID, ONE_AT_A_TIME, Setting, expand_range, factors_from, parse_option,
                                  scenarios, split_path)
from helpers import TINY



@pytest.fixture(scope="module")
def base():
    return read_base(TINY)


def values(option: str) -> list:
    return [s.value for s in parse_option(option).settings]


def test_range_is_inclusive_and_evenly_spaced():
    assert expand_range("o", "2000:9000:8") == [2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]
    assert expand_range("o", "0:1:5") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert expand_range("o", "7:7:1") == [7.0]
    assert values("a=1,2:4:3,x") == [1, 2, 3, 4, "x"]


def test_factors_scale_and_null():
    f = parse_option("regions.*.power_cap_mw=x0.5:2:4")
    assert [(s.value, s.scale, s.shown) for s in f.settings] == [(0.5, True, "x0.5"), (1.0, True, "x1"),
                                                               (1.5, True, "x1.5"), (2.0, True, "x2")]
    assert values("policy.carbon_budget_t=null,10") == [None, 10]
    assert values("a=no,true") == ["no", True]  # no YAML guessing: 'no' stays text


def test_paths():
    assert split_path("links[0].gb_s") == ["links", 0, "gb_s"]
    assert split_path("links.1.gb_s") == ["links", 1, "gb_s"]
    assert split_path("regions[my.region].pue") == ["regions", "my.region", "pue"]


def test_grid_and_one_at_a_time_counts():
    factors = factors_from(["a=1,2,3", "b=x1,x2"])
    assert len(scenarios(factors, GRID)) == 6
    oat = scenarios(factors, ONE_AT_A_TIME)
    assert [str(s[0]) for s in oat] == ["a=1", "a=2", "a=3", "b=x1", "b=x2"]
    assert factors_from({"a": [1, 2], "b": "3:5:3"})[1].settings[-1].value == 5


def test_apply_sets_scales_and_removes(base):
    doc, wrote = apply(base.document, (Setting("regions.*.power_cap_mw", 2.0, scale=True),
                                       Setting("serving.chat-small.demand_rps", 3, scale=True),
                                       Setting("policy.carbon_budget_t", None)))
    assert doc["regions"]["us-east"]["power_cap_mw"] == 6 and doc["regions"]["eu-north"]["power_cap_mw"] == 2
    assert doc["serving"]["chat-small"]["demand_rps"] == {"us-users": 600, "eu-users": 180}
    assert "carbon_budget_t" not in doc["policy"]
    assert base.document["regions"]["us-east"]["power_cap_mw"] == 3  # the base is never touched
    assert set(wrote) >= {"regions.us-east.power_cap_mw", "policy.carbon_budget_t"}


def test_scenario_id_ignores_option_order_but_not_values(base):
    a, b = Setting("x.y", 1), Setting("z", 2)
    assert scenario_id(base.digest, (a, b), {}) == scenario_id(base.digest, (b, a), {})
    assert scenario_id(base.digest, (a,), {}) != scenario_id(base.digest, (Setting("x.y", 2),), {})
    assert scenario_id(base.digest, (a,), {}) != scenario_id(base.digest, (a,), {"mip_rel_gap": 0.01})


@pytest.mark.parametrize("option, phrase", [
    ("policy.carbon_budget_t=-5", "policy.carbon_budget_t: expected a number >= 0"),
    ("regions.us-eats.power_cap_mw=10", "no 'us-eats' under 'regions'; did you mean"),
    ("polcy.carbon_budget_t=3", "polcy: unknown key; did you mean 'policy'?"),
    ("links[7].gb_s=10", "'links' is a list of 2 items"),
    ("regions.us-east.pue=abc", "expected a number"),
])
def test_bad_values_are_blamed_on_their_option(base, option, phrase):
    factor = parse_option(option)
    try:
        problems = check_settings(base, factor.settings)
    except InputError as err:
        problems = err.problems
    assert len(problems) == 1
    line = str(problems[0])
    assert line.startswith(f"--set: {option}:") and phrase in line, line


@pytest.mark.parametrize("option, phrase", [
    ("policy.carbon_budget_t", "expected PATH=VALUES"),
    ("policy.carbon_budget_t=1:2", "must be start:stop:count"),
    ("policy.carbon_budget_t=1:2:0", "range count '0'"),
    ("policy.carbon_budget_t=", "no values after '='"),
])
def test_bad_syntax(option, phrase):
    with pytest.raises(InputError) as err:
        parse_option(option)
    assert phrase in str(err.value)


def test_cli_bad_set_exits_2_with_one_line_per_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["whatif", str(TINY), "--set", "regions.us-eats.power_cap_mw=x0.5,x2",
                                      "--set", "policy.carbon_budget_t=-1", "-o", "unused.csv"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 2, result.output  # the wrong path once, not once per value
    assert "Traceback" not in result.output
    assert not Path("unused.csv").exists()
