"""A 32-scenario carbon-budget sweep on the shipped reference instance (instances/global-fleet.yaml), three ways
in one run: cold sequential (no warm starts), warm sequential (each solve starts from the nearest solved
scenario's plan), and parallel (the local process pool, one worker per CPU, warm starts on). Each way solves
the base plan plus the 32 scenarios from scratch (no results file), and its wall time is reported with the
ratios to the cold sequential run.

Run: /tmp/venv/bin/python benchmarks/bench_sweep.py [--gap 1e-3] [--budgets 150:305:32] [--json out.json]

--processes N: issue #12's ratio as its targets are stated (whole processes): N pairs of `fleetopt whatif` over the
budgets against `fleetopt solve`, in turn.

--against-one: instead, issue #12's ratio in one process: one default solve of the base (`fleetopt.solve`, the
instance's gap) against the default sweep of the 32 budgets (`fleetopt.sweep`: local process pool, warm starts,
the instance's gap, one HiGHS thread per solve), in one run; wall seconds, and CPU seconds of this process plus its
ended children (the pool's workers). A sweep of the budget alone shares per-part Lagrangian rows made once, before its
scenarios, in shares on every worker (fleetopt/pipeline/carbon_cuts.py, fleetopt/whatif/budgets.py), and each
binding budget starts from a first plan sought in the range of its neighbours' plans (fleetopt/whatif/
neighbourhood.py: rows whose detail names "a MILP over its neighbours' plans" were answered by it); --no-cuts
measures the sweep without them (nor the budgets' ordering), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import fleetopt
from fleetopt.paths import default_instance
from fleetopt.whatif.scenario import read_base


def timed_sweep(base, budgets: str, gap: float, executor: str, warm: bool, workers: int | None):
    start = time.perf_counter()
    frame = fleetopt.sweep(base, {"policy.carbon_budget_t": budgets}, executor=executor,
                           warm_start=warm, workers=workers, mip_rel_gap=gap, threads=1)
    return time.perf_counter() - start, frame


def cpu_seconds() -> float:
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def against_one(budgets: str, out: str | None, cuts: bool = True, time_limit: float | None = None) -> None:
    """One default solve of the base against the default sweep, measured back to back (module docstring)."""
    if not cuts:   # the parent decides whether a sweep shares rows: without it every scenario solves alone
        import fleetopt.whatif.run as run

        run.budget_sweep = lambda *args: None
    inst = fleetopt.load_instance(default_instance())
    w, c, load = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
    plan = fleetopt.solve(inst, time_limit_s=time_limit)
    one = (time.perf_counter() - w, cpu_seconds() - c)
    print(f"code {os.path.dirname(fleetopt.__file__)}; one solve: {one[0]:.1f} s wall, {one[1]:.1f} s CPU, "
          f"{plan.status}, gap {plan.gap:.1e}; load {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    w, c, load = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
    frame = fleetopt.sweep(inst, {"policy.carbon_budget_t": budgets}, time_limit_s=time_limit)
    many = (time.perf_counter() - w, cpu_seconds() - c)
    statuses = frame["status"].value_counts().to_dict()
    print(f"sweep of {len(frame) - 1} budgets + base: {many[0]:.1f} s wall, {many[1]:.1f} s CPU, statuses "
          f"{statuses}, max gap {frame['gap'].max():.1e}; ratio {many[0] / one[0]:.1f}x wall, "
          f"{many[1] / one[1]:.1f}x CPU; load {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    milp = frame["detail"].astype(str).str.startswith("Optimal") & (frame.index > 0)   # a MILP of its own
    seconds = frame.loc[milp, "solve_s"].to_numpy(float)
    if len(seconds):
        print(f"  {len(seconds)} budgets solved by a MILP: solve_s summed {seconds.sum():.1f} s, median "
              f"{np.median(seconds):.1f} s, longest {seconds.max():.1f} s (wall, at the load above)", flush=True)
    for _, row in frame.iterrows():
        print(f"  {row['scenario'][:30]:30} {row['status']:9} {row['objective']:>11,.0f} {row['gap']:.1e} "
              f"{row['solve_s']:6.1f} s {str(row['detail'])[:14]}", flush=True)
    if out:
        with open(out, "w") as handle:
            columns = ["scenario", "status", "objective", "gap", "solve_s", "detail"]
            json.dump({"one_s": one, "sweep_s": many, "statuses": statuses, "budgets": budgets, "cuts": cuts,
                       "rows": frame[columns].to_dict("records")}, handle)


def processes(budgets: str, repeats: int) -> None:
    """Issue #12's ratio as its targets are stated, whole processes: `python -m fleetopt whatif` over the budgets
    (a fresh results file each time) against `python -m fleetopt solve`, in turn, `repeats` times; wall, and CPU
    of the process and its children (rusage). Bytecode caches on, as an installed package runs (the first pair
    writes them and is not counted)."""
    import resource
    import subprocess
    import sys
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(fleetopt.__file__))
    instance = str(default_instance())

    def run(args: list[str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fleetopt", *args], env=env, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t0, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    with tempfile.TemporaryDirectory() as folder:
        for k in range(repeats + 1):
            load = os.getloadavg()[0]
            many = run(["whatif", instance, "--set", f"policy.carbon_budget_t={budgets}", "-q",
                        "-o", os.path.join(folder, f"sweep{k}.csv")])
            one = run(["solve", instance, "-q", "-o", os.path.join(folder, f"plan{k}.json")])
            if k:   # the first pair writes the bytecode caches
                print(f"whole processes: sweep {many[0]:.1f} s wall, {many[1]:.1f} s CPU; one solve {one[0]:.2f} s "
                      f"wall, {one[1]:.2f} s CPU; ratio {many[0] / one[0]:.1f}x wall, {many[1] / one[1]:.1f}x CPU; "
                      f"load {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against-one", action="store_true", help="one default solve vs the default sweep")
    parser.add_argument("--budgets", default="150:305:32", help="carbon budgets, t CO2e (a:b:n)")
    parser.add_argument("--gap", type=float, default=1e-3, help="relative MIP gap of every solve")
    parser.add_argument("--workers", type=int, default=None, help="parallel run: workers (default: CPUs)")
    parser.add_argument("--json", default=None, help="also write the numbers as JSON")
    parser.add_argument("--no-cuts", action="store_true", help="--against-one: the sweep without shared rows")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="--against-one: every solve's limit, s (default: the instance's; on a loaded machine "
                             "a longer one keeps the ratio from comparing time-limited runs)")
    parser.add_argument("--processes", type=int, default=0, metavar="N",
                        help="instead: N pairs of whole processes, `fleetopt whatif` against `fleetopt solve`")
    args = parser.parse_args()
    if args.processes:
        processes(args.budgets, args.processes)
        return
    if args.against_one:
        against_one(args.budgets, args.json, cuts=not args.no_cuts, time_limit=args.time_limit)
        return

    cpus = len(os.sched_getaffinity(0))
    base = read_base(default_instance())  # read once: the three runs solve the very same document
    runs = {}
    for name, executor, warm in (("cold sequential", "sequential", False), ("warm sequential", "sequential", True),
                                 ("parallel (local pool, warm)", "local", True)):
        seconds, frame = timed_sweep(base, args.budgets, args.gap, executor, warm, args.workers)
        runs[name] = (seconds, frame)
        print(f"{name}: {seconds:.1f} s, {len(frame)} solves, statuses {frame['status'].value_counts().to_dict()}",
              flush=True)

    cold = runs["cold sequential"][0]
    ref = runs["cold sequential"][1]["objective"].to_numpy(float)
    print(f"\ninstance: {default_instance()} (sha256 {base.digest[:12]}), budgets {args.budgets} t, "
          f"mip_rel_gap {args.gap}, threads 1 per solve, {cpus} CPUs, {platform.processor() or platform.machine()}")
    print("| run | wall time | vs cold sequential | mean solve (worker) | max objective difference |")
    print("|---|---:|---:|---:|---:|")
    record = {"instance_sha256": base.digest, "budgets": args.budgets, "gap": args.gap, "cpus": cpus, "runs": {}}
    for name, (seconds, frame) in runs.items():
        obj = frame["objective"].to_numpy(float)
        diff = float(np.nanmax(np.abs(obj - ref) / np.abs(ref)))
        mean_solve = float(frame["solve_s"].mean())
        print(f"| {name} | {seconds:.1f} s | {seconds / cold:.2f} ({cold / seconds:.2f}x faster) | "
              f"{mean_solve:.2f} s | {diff:.1e} |")
        record["runs"][name] = {"wall_s": seconds, "ratio_to_cold": seconds / cold, "mean_solve_s": mean_solve,
                                "max_rel_objective_diff": diff}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)


if __name__ == "__main__":
    main()
