"""Sweeps end to end on a tiny instance: executors agree (sequential, local pool, Dask LocalCluster of two
workers), a sweep killed mid-way resumes with every scenario exactly once, and the CLI."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fleetopt
from fleetopt.cli import app
from helpers import REPO, TINY

BUDGETS = {"policy.carbon_budget_t": "3:10:8"}
KEY_COLUMNS = ["scenario_id", "scenario", "status"]


def same_results(a, b) -> None:
    """Same scenarios in the same order with the same answers (tiny-fleet is solved to a zero gap)."""
    assert a[KEY_COLUMNS].values.tolist() == b[KEY_COLUMNS].values.tolist()
    for col in ("objective", "cost_usd", "displaced_cost_usd"):
        assert a[col].fillna(-1).to_numpy() == pytest.approx(b[col].fillna(-1).to_numpy(), rel=1e-9), col


@pytest.fixture(scope="module")
def sequential():
    return fleetopt.sweep(TINY, BUDGETS, executor="sequential")


def test_sweep_rows_and_displaced_cost(sequential):
    df = sequential
    assert df["scenario"].tolist()[0] == "base" and len(df) == 9
    assert (df["status"] == "optimal").all()
    base_cost = df["cost_usd"].iloc[0]
    assert df["displaced_cost_usd"].to_numpy() == pytest.approx((df["cost_usd"] - base_cost).to_numpy())
    # a tighter budget never costs less, and every plan keeps within its budget
    budgets = df["policy.carbon_budget_t"].iloc[1:].to_numpy()
    costs = df["cost_usd"].iloc[1:].to_numpy()
    assert all(costs[i] >= costs[i + 1] - 1e-6 for i in range(len(costs) - 1))
    assert (df["carbon_t"].iloc[1:].to_numpy() <= budgets + 1e-6).all()
    tight = df.iloc[1]  # 3 t: the training job must leave us-east's 323 g/kWh grid
    assert "llm-8b-pretrain: us-east ->" in tight["changed"]
    assert df["warm_start"].iloc[1:].all() and not df["warm_start"].iloc[0]


def test_an_independent_solve_agrees(sequential):
    inst = fleetopt.load_instance(TINY)
    plan = fleetopt.solve(inst.model_copy(update={"policy": inst.policy.model_copy(
        update={"carbon_budget_t": 5.0})}))
    row = sequential[sequential["policy.carbon_budget_t"] == 5].iloc[0]
    assert row["objective"] == pytest.approx(plan.objective, rel=1e-9)


def test_cold_and_warm_agree(sequential):
    cold = fleetopt.sweep(TINY, BUDGETS, executor="sequential", warm_start=False)
    same_results(cold, sequential)
    assert not cold["warm_start"].any()


@pytest.mark.slow
def test_local_pool_agrees(sequential, tmp_path):
    pooled = fleetopt.sweep(TINY, BUDGETS, executor="local", workers=2, results=tmp_path / "r.parquet")
    same_results(pooled, sequential)
    again = fleetopt.sweep(TINY, BUDGETS, executor="local", workers=2, results=tmp_path / "r.parquet")
    assert again.attrs["solved"] == 0 and again.attrs["reused"] == 9
    same_results(again, sequential)


@pytest.mark.slow
def test_dask_local_cluster_of_two_workers_agrees(tmp_path):
    distributed = pytest.importorskip("distributed")
    settings = dict(BUDGETS, **{"regions.us-west.power_cap_mw": "x0.5,x2"})
    pooled = fleetopt.sweep(TINY, settings, executor="local", workers=2, results=tmp_path / "pool.jsonl")
    # a cluster fleetopt starts for the sweep (--executor dask) ...
    dasked = fleetopt.sweep(TINY, settings, executor="dask", workers=2, results=tmp_path / "dask.jsonl")
    assert len(dasked) == 17
    same_results(dasked, pooled)
    # ... and an existing one, by its scheduler's address (--scheduler)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        remote = fleetopt.sweep(TINY, settings, executor="dask", scheduler=cl.scheduler_address)
    same_results(remote, pooled)


def read_ids(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return [row["scenario_id"] for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_killed_sweep_resumes_with_every_scenario_once(tmp_path):
    results = tmp_path / "sweep.csv"
    sets = ["--set", "policy.carbon_budget_t=3:10:8", "--set", "regions.us-west.power_cap_mw=x0.5,x1,x2,x3"]
    command = [sys.executable, "-m", "fleetopt.cli", "whatif", str(TINY), *sets, "-o", str(results),
               "--workers", "2", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") >= 6:  # header + base + 4 scenarios
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep ended before it could be killed: " + proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its pool workers, mid-sweep
    proc.wait(timeout=30)
    saved = read_ids(results)
    assert 5 <= len(saved) < 33

    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"already in {results}" in rerun.stderr
    ids = read_ids(results)
    assert len(ids) == len(set(ids)) == 33  # every scenario exactly once
    assert ids[:len(saved)] == saved  # what was saved stays as it was

    uninterrupted = fleetopt.sweep(TINY, [s for s in sets if s != "--set"], executor="sequential")
    import pandas as pd

    resumed = pd.read_csv(results).set_index("scenario_id").loc[uninterrupted["scenario_id"]].reset_index()
    assert set(resumed["scenario_id"]) == set(uninterrupted["scenario_id"])
    assert resumed["status"].tolist() == uninterrupted["status"].tolist()
    assert resumed["objective"].to_numpy() == pytest.approx(uninterrupted["objective"].to_numpy(), rel=1e-9)


def test_cli_whatif_one_at_a_time_with_heatmap(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["whatif", str(TINY), "--set", "policy.carbon_budget_t=3,9", "--set",
                                      "serving.chat-small.demand_rps=x2", "--mode", "oat", "--executor",
                                      "sequential", "-o", "oat.jsonl", "--heatmap", "heat.png"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    rows = pd.read_json(tmp_path / "oat.jsonl", lines=True)
    assert rows["scenario"].tolist() == ["base", "policy.carbon_budget_t=3", "policy.carbon_budget_t=9",
                                         "serving.chat-small.demand_rps=x2"]
    doubled = rows.iloc[3]
    assert doubled["displaced_cost_usd"] > 0 and "chat-small" in doubled["changed"]
    assert (tmp_path / "heat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_scenario_without_a_plan_is_a_row_not_a_failure(tmp_path):
    df = fleetopt.sweep(TINY, {"training.llm-8b-pretrain.deadline_hours": [5]}, executor="sequential")
    assert df["status"].tolist() == ["optimal", "infeasible"]
    assert df["cost_usd"].isna().tolist() == [False, True]
