"""Solving in parts on a Dask cluster (pipeline/cluster.py, decompose._run) gives the plan the threads give."""

from __future__ import annotations

import pickle
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from fleetopt.api import options_for
from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.cli import app, main
from fleetopt.errors import InputError
from fleetopt.io.load import load_instance
from fleetopt.pipeline import cluster as dask_cluster
from fleetopt.pipeline.decompose import Backend, solve_by_parts
from helpers import EXACT, REPO, random_fleet

ARCHETYPE = "instances/archetype-a.yaml"


class PickledInProcess:
    """A stand-in for DaskCluster.map that ships every task through pickle, as Dask does, and runs it here: a
    closure or an unpicklable argument fails as it would on a cluster."""

    def __init__(self):
        self.tasks = 0

    def map(self, fn, *iterables):
        out = []
        for args in zip(*iterables):
            fn_back, args_back = pickle.loads(pickle.dumps((fn, args)))
            out.append(pickle.loads(pickle.dumps(fn_back(*args_back))))
            self.tasks += 1
        return out


@pytest.mark.parametrize("seed", [1, 5, 7])
def test_parts_shipped_as_pickled_tasks_give_the_threads_plan(seed):
    form = random_fleet(seed)
    options = replace(EXACT, mip_rel_gap=1e-3)
    threads = solve_by_parts(form, Backend(highs.solve, workers=2, name="highs"), options)
    shipped = PickledInProcess()
    tasks = solve_by_parts(form, Backend(highs.solve, name="highs", cluster=shipped), options)
    assert shipped.tasks > 0
    assert tasks.status == threads.status
    if threads.x is not None:
        assert np.array_equal(tasks.x, threads.x) and tasks.objective == threads.objective
    if threads.decomposition is not None:
        assert threads.decomposition["executor"] == "threads" and tasks.decomposition["executor"] == "dask"
        assert {**tasks.decomposition, "executor": "threads"} == threads.decomposition


def test_a_wrapped_solve_cannot_go_to_a_cluster():
    """Workers import the backend by name, so a solve that wraps it would be bypassed there: refused up front."""
    with pytest.raises(ValueError, match="by its name"):
        Backend(lambda f, o: highs.solve(f, o), name="highs", cluster=PickledInProcess())
    with pytest.raises(ValueError, match="by its name"):
        Backend(highs.solve, cluster=PickledInProcess())


@pytest.mark.parametrize("backend", ["highs", "ortools"])
def test_a_task_imports_its_backend_by_name(backend):
    form = random_fleet(5)   # one with an optimum
    result = dask_cluster.solve_named(backend, form, SolveOptions(mip_rel_gap=0.0), ends_at=time.time() + 60)
    assert result.solver.startswith(backend)
    assert result.objective == pytest.approx(highs.solve(form, SolveOptions(mip_rel_gap=0.0)).objective, rel=1e-6)


def test_options_for_picks_the_executor():
    inst = load_instance(ARCHETYPE)
    assert options_for(inst)[1].executor == "threads"
    _, opts = options_for(inst, scheduler="tcp://10.0.0.5:8786")   # an address means dask
    assert (opts.executor, opts.scheduler) == ("dask", "tcp://10.0.0.5:8786")
    block = inst.solver.model_copy(update={"executor": "dask", "scheduler": "tcp://10.0.0.5:8786"})
    from_file = inst.model_copy(update={"solver": block})
    assert options_for(from_file)[1].scheduler == "tcp://10.0.0.5:8786"
    assert options_for(from_file, executor="threads")[1].scheduler is None
    with pytest.raises(InputError, match="executor: unknown executor 'spark'; expected threads | dask"):
        options_for(inst, executor="spark")
    with pytest.raises(InputError, match="scheduler: .* only with executor dask"):
        options_for(inst, executor="threads", scheduler="tcp://10.0.0.5:8786")


@pytest.mark.parametrize("block, words", [
    ("solver:\n  executor: spark\n", ["solver.executor", "'threads' or 'dask'", "spark"]),
    ("solver:\n  scheduler: tcp://10.0.0.5:8786\n", ["solver", "scheduler", "only with executor: dask"]),
])
def test_a_bad_solver_block_is_one_line(tmp_path, block, words):
    path = tmp_path / "fleet.yaml"
    path.write_text(open(ARCHETYPE).read() + block)
    result = CliRunner().invoke(app, ["solve", str(path), "-q"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), result.output


def one_line_exit_2(monkeypatch, capsys, args: list[str], words: list[str]) -> None:
    """`fleetopt solve archetype-a -q ARGS` as the command line runs it (usage errors go through main())."""
    monkeypatch.setattr(sys, "argv", ["fleetopt", "solve", ARCHETYPE, "-q", *args])
    with pytest.raises(SystemExit) as ended:
        main()
    err = capsys.readouterr().err
    assert ended.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), err


def test_the_cli_refuses_an_unknown_executor(monkeypatch, capsys):
    one_line_exit_2(monkeypatch, capsys, ["--executor", "spark"], ["--executor", "spark", "threads, dask"])
    one_line_exit_2(monkeypatch, capsys, ["--executor", "threads", "--scheduler", "tcp://10.0.0.5:8786"],
                    ["--scheduler", "only with executor dask"])


def test_the_cli_names_an_unreachable_scheduler(monkeypatch, capsys):
    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", "0.5s")   # nothing listens on port 1: refused until then
    one_line_exit_2(monkeypatch, capsys, ["--scheduler", "tcp://127.0.0.1:1"],
                    ["--scheduler", "cannot reach", "tcp://127.0.0.1:1"])
    one_line_exit_2(monkeypatch, capsys, ["--scheduler", "no-port-here"], ["--scheduler", "cannot reach"])


def test_without_dask_the_cli_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)   # `import distributed` raises ImportError
    one_line_exit_2(monkeypatch, capsys, ["--executor", "dask"], ["--executor", "pip install 'fleetopt[dask]'"])


COMPARE = """
import sys
import distributed
from helpers import solve_and_verify, without_carbon_budget

if __name__ == "__main__":
    inst = without_carbon_budget()
    threads = solve_and_verify(inst, threads=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \\
            distributed.Client(cl) as client:
        dasked = solve_and_verify(inst, threads=1, scheduler=cl.scheduler_address)
        assert len(client.scheduler_info()["workers"]) == 2   # the user's cluster is left running
    decisions = {"training", "serving", "totals", "binding"}
    for plan in (threads, dasked):
        print(plan.provenance.decomposition, repr(plan.objective), repr(plan.bound))
        print(plan.model_dump_json(include=decisions))
"""


@pytest.mark.slow
def test_parts_on_a_two_worker_local_cluster_give_the_threads_plan(tmp_path):
    """In a fresh process: HiGHS's search depends on its thread count, which is fixed per process by the first
    solve (backends/highs.py: pool_threads), so both paths get one HiGHS thread per part, here and on the
    workers; the threads path then runs its parts one after another, the cluster two at a time."""
    import os
    import subprocess

    pytest.importorskip("distributed")
    script = tmp_path / "compare.py"
    script.write_text(COMPARE)
    root = REPO
    path = f"{root}{os.pathsep}{root / 'tests'}"   # the checkout and tests/helpers.py
    done = subprocess.run([sys.executable, str(script)], cwd=root, env={**os.environ, "PYTHONPATH": path},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record_t, decisions_t, record_d, decisions_d = done.stdout.strip().splitlines()
    assert "'parts': 10" in record_t and "'executor': 'threads'" in record_t
    assert record_d == record_t.replace("'executor': 'threads'", "'executor': 'dask'")   # objective, bound too
    assert decisions_d == decisions_t and '"training":{}' not in decisions_t


@pytest.mark.slow
def test_the_cli_starts_and_closes_a_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    import json

    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["solve", ARCHETYPE, "--executor", "dask", "--threads", "2", "-q",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    provenance = json.loads(out.read_text())["provenance"]
    assert provenance["options"]["executor"] == "dask"
    assert provenance["decomposition"]["executor"] == "dask" and provenance["decomposition"]["parts"] == 2


def test_an_unguarded_script_solves_its_parts_in_threads(tmp_path):
    """A LocalCluster's spawned workers would import the script again and solve anew in each: threads instead."""
    import os
    import subprocess
    from pathlib import Path

    script = tmp_path / "plan_it.py"
    script.write_text("import fleetopt\n"
                      f"plan = fleetopt.solve(fleetopt.load_instance({str(Path(ARCHETYPE).resolve())!r}), "
                      "executor='dask')\n"
                      "print(plan.status, plan.provenance.decomposition['executor'])\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["optimal", "threads"]
    assert done.stderr.strip() == 'note: plan_it.py:2 lacks `if __name__ == "__main__":`; parts run in threads'
