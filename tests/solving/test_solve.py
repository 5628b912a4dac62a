"""End to end: every shipped instance solves from the CLI as a planner runs it; statuses and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from typer.testing import CliRunner

import fleetopt
from fleetopt.cli import app
from fleetopt.paths import shipped_dir
from fleetopt.plan import Plan
from helpers import assert_verified, solve_and_verify, without_carbon_budget
from helpers import REPO, static_shipped_instances

INSTANCES = static_shipped_instances()
INFEASIBLE = sorted((shipped_dir("instances") / "infeasible").glob("*.yaml"))
runner = CliRunner()


@pytest.fixture(scope="module")
def plans():
    return {p.stem: solve_and_verify(fleetopt.load_instance(p)) for p in INSTANCES}


@pytest.mark.slow
@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_shipped_instance_solves_to_optimality(plans, path):
    plan = plans[path.stem]
    assert plan.status == "optimal", plan.detail
    assert plan.gap is not None and plan.gap <= 1e-4 + 1e-12
    inst = fleetopt.load_instance(path)
    assert set(plan.training) == set(inst.training)
    assert set(plan.serving) == set(inst.serving)
    # the JSON a pipeline reads back is the same plan
    assert Plan.model_validate_json(plan.model_dump_json()) == plan


def test_plan_holds_the_instance_rules(plans):
    """Spot checks in the user's terms (the full independent check is `fleetopt verify`)."""
    inst = fleetopt.load_instance(shipped_dir("instances") / "global-fleet.yaml")
    plan = plans["global-fleet"]
    for name, job in plan.training.items():
        assert job.wall_hours <= inst.training[name].deadline_hours
        assert job.gpus == job.tp * job.pp * job.dp
    for name, svc in plan.serving.items():
        for pop, rps in inst.serving[name].demand_rps.items():
            assert sum(r.rps for r in svc.routing if r.population == pop) == pytest.approx(rps, rel=1e-6)
        for route in svc.routing:  # residency: EU users stay in the EU
            allowed = inst.populations[route.population].allowed_jurisdictions
            if allowed:
                assert inst.regions[route.region].jurisdiction in allowed
    for region, use in plan.totals.regions.items():
        cap = inst.regions[region].power_cap_mw
        assert cap is None or use.power_mw <= cap * (1 + 1e-9)
        for accel, n in use.gpus.items():
            assert n <= inst.regions[region].gpus[accel].count
    assert plan.totals.carbon_t <= inst.policy.carbon_budget_t * (1 + 1e-9)


@pytest.mark.parametrize("path", INFEASIBLE, ids=lambda p: p.stem)
def test_infeasible_instances_exit_3(path, tmp_path):
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["solve", str(path), "-q", "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert json.loads(out.read_text())["status"] == "infeasible"


@pytest.mark.slow
def test_same_input_same_plan_bytes(plans):
    dumps = []
    inst = fleetopt.load_instance(shipped_dir("instances") / "global-fleet.yaml")
    for plan in (plans["global-fleet"], solve_and_verify(inst)):
        data = json.loads(plan.model_dump_json())
        data["provenance"].pop("timing_s")
        dumps.append(json.dumps(data, sort_keys=True))
    assert dumps[0] == dumps[1]


def test_time_limit_returns_best_plan_or_exit_4():
    result = runner.invoke(app, ["solve", str(shipped_dir("instances") / "global-fleet.yaml"), "-q",
                                 "--time-limit", "0.05", "-o", "/dev/null"])
    assert result.exit_code in (0, 4), result.output
    plan = solve_and_verify(fleetopt.load_instance(shipped_dir("instances") / "global-fleet.yaml"), time_limit_s=0.05)
    assert plan.status in ("optimal", "feasible", "no_plan_in_time")
    if plan.status == "feasible":
        assert plan.gap is not None and plan.gap > 0 and plan.training
    assert plan.exit_code == {"optimal": 0, "feasible": 0, "no_plan_in_time": 4}[plan.status]


@pytest.mark.slow
def test_solve_with_no_instance_plans_the_shipped_one_from_any_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fleetopt.cli", "solve", "-o", "plan.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "global-fleet: optimal" in proc.stdout
    assert json.loads((tmp_path / "plan.json").read_text())["provenance"]["instance"] == "global-fleet"


def test_export_mps_reads_back_to_the_same_optimum(tmp_path):
    from fleetopt.backends.highs import quiet_highs

    path = shipped_dir("instances") / "archetype-b.yaml"
    mps = tmp_path / "model.mps"
    result = runner.invoke(app, ["export", str(path), "--mps", str(mps)])
    assert result.exit_code == 0, result.output
    text = mps.read_text()
    assert "replica_capacity[feed-ranking," in text and "demand[feed-ranking,eu-users]" in text
    h = quiet_highs()
    h.readModel(str(mps))
    h.run()
    plan = solve_and_verify(fleetopt.load_instance(path))
    assert h.getInfo().objective_function_value == pytest.approx(plan.objective, rel=1e-6)


@pytest.mark.slow
def test_wheel_ships_models_and_instances(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [wheel] = tmp_path.glob("fleetopt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fleetopt/_shipped/instances/global-fleet.yaml" in names
    assert "fleetopt/_shipped/models/llama3-70b.yaml" in names
    assert "fleetopt/catalog/accelerators.yaml" in names
    assert any(n.startswith("fleetopt/_shipped/instances/infeasible/") for n in names)


def test_population_whose_slo_cannot_be_met_is_named(tmp_path):
    """A population no region can serve within its SLO is reported by name, not silently dropped."""
    import yaml

    doc = yaml.safe_load((shipped_dir("instances") / "global-fleet.yaml").read_text())
    doc["populations"]["mars-users"] = {"rtt_ms": {"us-east": 20000, "eu-west": 21000}}
    doc["serving"]["chat"]["demand_rps"]["mars-users"] = 5
    path = tmp_path / "mars.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["solve", str(path), "-o", str(out)])
    assert result.exit_code == 3
    assert "mars-users" in result.output
    plan = json.loads(out.read_text())
    [entry] = plan["unroutable"]
    assert (entry["service"], entry["population"]) == ("chat", "mars-users")
    assert "SLO" in entry["reason"]


def test_watchdog_cancels_a_run_that_overruns_its_time_limit(monkeypatch):
    """HiGHS does not poll its time limit everywhere; the backend's watchdog cancels the run and the best plan
    found so far comes back with its gap (here the watchdog is set to fire long before the limit: at 0.1 s, as the
    whole MILP, started from its optimum without plan-seeking heuristics, proves it in 0.4-0.7 CPU s)."""
    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.backends import highs

    monkeypatch.setattr(highs, "watchdog_s", lambda limit: 0.1)
    inst = fleetopt.load_instance(shipped_dir("instances") / "global-fleet.yaml")
    backend, options = options_for(inst, time_limit_s=3600.0)
    plan, result = solve_problem(build_problem(inst), backend, options)
    assert "watchdog" in result.detail
    assert plan.status in ("feasible", "no_plan_in_time")
    if plan.status == "feasible":
        assert plan.gap > 0
        assert_verified(inst, plan)


def test_a_watchdog_stop_in_a_part_ends_the_rounds(monkeypatch):
    """A part stopped by the watchdog ran past the whole solve's limit: the rounds stop there (they used to go on
    until the overall deadline) and the joined plan says the watchdog stopped it."""
    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.backends import highs

    # the watchdog stops any part's MILP 20 ms in (parts with their rows up front now prove in well under the
    # 0.5 s this used, so none ran past it); LPs keep the whole limit, so the parts' LP round still answers
    import highspy

    started = highs._start_watchdog

    def early_for_milps(h, time_limit_s):
        milp = any(v == highspy.HighsVarType.kInteger for v in h.getLp().integrality_)
        return started(h, 0.02 if milp else time_limit_s)

    monkeypatch.setattr(highs, "watchdog_s", lambda limit: limit)
    monkeypatch.setattr(highs, "_start_watchdog", early_for_milps)
    inst = without_carbon_budget()   # nothing shared binds: the model falls apart into parts
    backend, options = options_for(inst, time_limit_s=600.0)
    plan, result = solve_problem(build_problem(inst), backend, options)
    assert result.decomposition is not None and result.decomposition["parts"] > 1
    assert result.overran and "watchdog" in result.detail
    assert result.decomposition["rounds"] == 1
    if plan.status == "feasible":
        assert_verified(inst, plan)
