"""A 32-scenario carbon-budget sweep on the shipped reference instance (instances/global-fleet.yaml), three ways
in one run: cold sequential (no warm starts), warm sequential (each solve starts from the nearest solved
scenario's plan), and parallel (the local process pool, one worker per CPU, warm starts on). Each way solves
the base plan plus the 32 scenarios from scratch (no results file), and its wall time is reported with the
ratios to the cold sequential run.

Run: /tmp/venv/bin/python benchmarks/bench_sweep.py [--gap 1e-3] [--budgets 150:305:32] [--json out.json]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", default="150:305:32", help="carbon budgets, t CO2e (a:b:n)")
    parser.add_argument("--gap", type=float, default=1e-3, help="relative MIP gap of every solve")
    parser.add_argument("--workers", type=int, default=None, help="parallel run: workers (default: CPUs)")
    parser.add_argument("--json", default=None, help="also write the numbers as JSON")
    args = parser.parse_args()

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
