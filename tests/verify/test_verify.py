"""fleetopt verify: a plan edited by hand to break each constraint family is caught, with the family, key,
amount and units; an untouched plan holds; the verifier never uses the formulation's arrays.

The fixture instance is small (one training job, one monitored service, three regions) and its caps are set so
each edit below breaks one family (plus 'reported': the edited plan's stated figures no longer match).
"""

from __future__ import annotations

import ast
import copy
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.io.load import load_instance
from fleetopt.plan import Plan
from fleetopt.verify import verify_plan
from helpers import FIXTURE, solve_and_verify
from helpers import REPO



H100, A100 = "h100-sxm5-80gb", "a100-sxm4-80gb"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """(instance file, instance, plan as a dict) of the fixture, solved once and verified."""
    path = tmp_path_factory.mktemp("verify") / "fixture.yaml"
    path.write_text(FIXTURE)
    inst = load_instance(path)
    plan = solve_and_verify(inst)
    assert plan.status == "optimal"
    data = json.loads(plan.model_dump_json())
    # the edits below assume this shape of the optimum; fail loudly if the solver's answer moved
    assert data["training"]["tune"]["region"] == "home" and data["training"]["tune"]["accelerator"] == H100
    assert {m["region"] for m in data["serving"]["chat"]["monitoring"]} == {"home", "eu"}
    return path, inst, data


def group(plan: dict, region: str, accel: str) -> dict:
    return next(g for g in plan["serving"]["chat"]["replicas"] if g["region"] == region and g["accelerator"] == accel)


def pipeline(plan: dict, region: str) -> dict:
    return next(m for m in plan["serving"]["chat"]["monitoring"] if m["region"] == region)


def route(plan: dict, population: str) -> dict:
    return next(r for r in plan["serving"]["chat"]["routing"] if r["population"] == population)


def add_replicas(plan: dict, region: str, accel: str, n: int) -> None:
    plan["serving"]["chat"]["replicas"].append(dict(
        region=region, accelerator=accel, config="tp1-bf16-b64", tp=1, precision="bf16", batch=64, replicas=n,
        gpus=n, cost_usd=0.0, carbon_t=0.0, power_mw=0.0))


def edit_assign(p):
    del p["training"]["tune"]


def edit_deadline(p):
    p["training"]["tune"]["checkpoint_interval_min"] = 3.2 / 60  # goodput collapses: checkpoints take 2.24 s


def edit_demand(p):
    route(p, "eu-users")["rps"] = 5.0


def edit_replica_capacity(p):
    group(p, "eu", A100)["replicas"] = 0


def edit_route_needs_replica(p):
    p["serving"]["chat"]["replicas"] = [g for g in p["serving"]["chat"]["replicas"] if g["region"] != "home"]


def edit_inventory(p):
    t = p["training"]["tune"]
    t["dp"], t["sync_group"] = 130, 130
    t["gpus"] = t["tp"] * t["pp"] * 130


def edit_power_cap(p):
    add_replicas(p, "away", H100, 140)


def edit_storage_bw(p):
    p["training"]["tune"]["checkpoint_interval_min"] = 0.5 / 60


def edit_link_bw(p):
    t = p["training"]["tune"]
    t["region"], t["accelerator"], t["dp"], t["sync_group"] = "eu", A100, 4, 4
    t["gpus"] = t["tp"] * t["pp"] * 4


def edit_carbon_budget(p):
    add_replicas(p, "home", H100, 150)


def edit_monitoring_traffic(p):
    pipeline(p, "home")["groups"] = []


def edit_monitoring_pipeline(p):
    p["serving"]["chat"]["monitoring"] = [m for m in p["serving"]["chat"]["monitoring"] if m["region"] != "home"]


def edit_monitoring_samples(p):
    pipeline(p, "home")["groups"].append(dict(population="eu-users", group="group-a", samples_per_window=385,
                                              requests_per_window=0.0, sampling_rate=1.0))


def edit_monitoring_coverage(p):
    pipeline(p, "eu")["evaluator_gpus"] = 0


def edit_memory(p):
    t = p["training"]["tune"]
    t.update(tp=1, pp=1, dp=1, gpus=1, interleave=1)


def edit_route(p):
    r = route(p, "eu-users")
    r["region"], r["accelerator"], r["config"] = "home", H100, group(p, "home", H100)["config"]


def edit_config(p):
    p["training"]["tune"]["tp"] = 3


def edit_reported(p):
    p["training"]["tune"]["cost_usd"] /= 2
    p["totals"]["cost_usd"] -= 1000.0
    p["objective"] -= 1000.0


# family -> (edit, the key it must name, families the edit may also break besides 'reported')
CASES = {
    "assign": (edit_assign, ("tune",), set()),
    "deadline": (edit_deadline, ("tune",), set()),
    "demand": (edit_demand, ("chat", "eu-users"), set()),
    # keys with a replica config name the config the plan chose (a callable of the plan): it moves with the
    # serving physics
    "replica_capacity": (edit_replica_capacity, lambda p: ("chat", "eu", A100, group(p, "eu", A100)["config"]),
                         {"route_needs_replica"}),
    "route_needs_replica": (edit_route_needs_replica,
                            lambda p: ("chat", "home", H100, group(p, "home", H100)["config"], "us-users"),
                            {"replica_capacity"}),
    "inventory": (edit_inventory, ("home", H100), set()),
    "power_cap": (edit_power_cap, ("away",), set()),
    "storage_bw": (edit_storage_bw, ("home",), {"deadline"}),
    "link_bw": (edit_link_bw, ("home-eu",), set()),
    "carbon_budget": (edit_carbon_budget, ("fleet",), set()),
    "monitoring_traffic": (edit_monitoring_traffic, ("chat", "us-users", "home"), set()),
    "monitoring_pipeline": (edit_monitoring_pipeline, ("chat", "us-users", "home"), set()),
    "monitoring_samples": (edit_monitoring_samples, ("chat", "eu-users", "home", "eu-users/group-a"),
                           {"monitoring_coverage"}),  # the added population also needs evaluator time
    "monitoring_coverage": (edit_monitoring_coverage, ("chat", "eu"), set()),
    "memory": (edit_memory, ("tune",), {"deadline"}),
    "route": (edit_route, lambda p: ("chat", "home", H100, group(p, "home", H100)["config"], "eu-users"),
              {"replica_capacity", "monitoring_traffic", "monitoring_samples"}),
    "config": (edit_config, ("tune",), {"memory"}),
    "reported": (edit_reported, ("training", "tune"), set()),
}


@pytest.mark.parametrize("family", sorted(CASES))
def test_a_hand_edited_plan_is_caught_in_its_family(solved, family):
    _, inst, data = solved
    edit, key, also = CASES[family]
    key = key(data) if callable(key) else key
    edited = copy.deepcopy(data)
    edit(edited)
    report = verify_plan(inst, Plan.model_validate(edited))
    found = {(v.family, v.key) for v in report.violations}
    assert (family, key) in found, "\n".join(report.lines())
    unexpected = {v.family for v in report.violations} - {family, "reported"} - also
    assert not unexpected, "\n".join(report.lines())
    mine = next(v for v in report.violations if (v.family, v.key) == (family, key))
    assert mine.units and mine.message and (mine.amount > 0 or math.isinf(mine.amount))


def test_the_formulation_families_all_have_a_case():
    families = {"assign", "deadline", "demand", "replica_capacity", "inventory", "power_cap", "storage_bw",
                "link_bw", "carbon_budget", "monitoring_traffic", "monitoring_samples", "monitoring_pipeline",
                "monitoring_coverage", "route_needs_replica"}
    assert families <= set(CASES)


def test_amounts_are_in_the_rows_units(solved):
    _, inst, data = solved
    edited = copy.deepcopy(data)
    edit_power_cap(edited)
    v = next(v for v in verify_plan(inst, Plan.model_validate(edited)).violations if v.family == "power_cap")
    # 140 H100 replicas at 700 W x PUE 1.1 against a 0.1 MW cap
    assert v.units == "MW" and v.amount == pytest.approx(140 * 700 * 1.1 / 1e6 - 0.1, rel=1e-9)


def test_the_untouched_plan_holds_through_the_command(solved, tmp_path):
    path, _, data = solved
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(data))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["verify", str(path), str(plan), "-o", str(report)])
    assert result.exit_code == 0, result.output
    assert "holds" in result.stdout
    assert json.loads(report.read_text())["holds"] is True


def test_a_broken_plan_exits_3_with_one_line_per_violation(solved, tmp_path):
    path, _, data = solved
    edited = copy.deepcopy(data)
    edit_monitoring_coverage(edited)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(edited))
    result = CliRunner().invoke(app, ["verify", str(path), str(plan)])
    assert result.exit_code == 3, result.output
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("violation: monitoring_coverage[chat,eu]: ") and "evaluator GPUs" in line
               for line in lines)
    assert "does not hold" in lines[-1]


@pytest.mark.parametrize("text", ["not json", "[]", '{"status": "optimal"}', '{"status": 3}'])
def test_a_bad_plan_file_is_bad_input(solved, tmp_path, text):
    path, _, _ = solved
    plan = tmp_path / "plan.json"
    plan.write_text(text)
    result = CliRunner().invoke(app, ["verify", str(path), str(plan)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert all(line.startswith("error: ") for line in result.stderr.splitlines())


def test_an_infeasible_plan_does_not_hold(tmp_path):
    inst = load_instance(REPO / "instances" / "infeasible" / "inventory-shortfall.yaml")
    plan = solve_and_verify(inst)
    assert plan.status == "infeasible"
    report = verify_plan(inst, plan)
    assert not report.holds and {v.family for v in report.violations} == {"assign"}
    assert any("infeasible" in n for n in report.notes)


@pytest.mark.parametrize("name", ["archetype-a", "archetype-b", "archetype-c"])
def test_shipped_archetypes_hold(name):
    plan = solve_and_verify(load_instance(REPO / "instances" / f"{name}.yaml"))
    assert plan.status == "optimal"


def fleetopt_imports(module: str) -> set[str]:
    """Every fleetopt module `module` imports, directly or through others, lazy imports included (read from the
    source, so nothing is imported)."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        base = REPO / Path(*name.split("."))
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] + [f"{node.module}.{a.name}" for a in node.names] \
                if isinstance(node, ast.ImportFrom) and node.module else []
            todo += [n for n in names if n.startswith("fleetopt")]
    return seen


def test_the_verifier_is_an_independent_path():
    used = fleetopt_imports("fleetopt.verify") | fleetopt_imports("fleetopt.cli.verify")
    assert "fleetopt.physics.training" in used and "fleetopt.verify.io" in used  # the walk does follow imports
    assert "fleetopt.formulation.families" in fleetopt_imports("fleetopt.api")  # and would see a forbidden one
    forbidden = ("fleetopt.formulation", "fleetopt.candidates", "fleetopt.plan.extract", "fleetopt.pipeline",
                 "fleetopt.api", "fleetopt.backends")
    assert sorted(m for m in used if m.startswith(forbidden)) == []
