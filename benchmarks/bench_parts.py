"""Solving in parts (fleetopt/pipeline/decompose.py) against the whole-model solve, on global-fleet and the x10 tier.

Run: python benchmarks/bench_parts.py [--tiers gf,x10] [--gaps 1e-2,1e-3,1e-4] [--time-limit 60]
     [--whole-gaps 1e-2,1e-4] [--executors threads,dask] [--threads N] [--json out.json]
Each (tier, mode, gap, executor) is one `solve_problem` call (the path `fleetopt solve` takes) on candidates built
once per tier, timed wall and CPU; status, objective, bound and gap as the solver reports them. CPU is this
process's (all threads) plus its finished children's: `dask` starts a LocalCluster of N worker processes (N =
--threads, else the CPUs) inside the call and closes it before returning, so the workers' CPU and the cluster's
start and stop are counted. `same_plan` says whether the decisions equal the first executor's. The machine is
shared and noisy: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", default="gf,x10")
    parser.add_argument("--gaps", default="1e-2,1e-3,1e-4")
    parser.add_argument("--whole-gaps", default="1e-2,1e-4")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--executors", default="threads", help="where parts run: threads and/or dask")
    parser.add_argument("--threads", type=int, default=None, help="parts at once (default: the CPUs)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem

    rows = []
    for tier in args.tiers.split(","):
        problem = build_problem(load(tier))
        name, base = options_for(problem.inst, time_limit_s=args.time_limit, threads=args.threads)
        executors = args.executors.split(",")
        runs = [(True, float(g), ex) for g in args.gaps.split(",") for ex in executors]
        runs += [(False, float(g), "threads") for g in args.whole_gaps.split(",") if g]
        first: dict[tuple, str] = {}
        for parts, gap, executor in runs:
            options = replace(base, mip_rel_gap=gap, decompose=parts, executor=executor)
            w, c = time.perf_counter(), cpu_seconds()
            plan, result = solve_problem(problem, name, options)
            decisions = plan.model_dump_json(include={"training", "serving"})
            same = first.setdefault((parts, gap), decisions) == decisions
            row = {"tier": tier, "mode": "parts" if parts else "whole", "executor": executor, "mip_rel_gap": gap,
                   "wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(cpu_seconds() - c, 2),
                   "status": plan.status, "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
                   "same_plan": same, "decomposition": result.decomposition if result else None,
                   "load": os.getloadavg()[0]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its children that have ended (the Dask workers)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
