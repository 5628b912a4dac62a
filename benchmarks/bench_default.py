"""The default path on every tier, as `fleetopt solve` takes it: build_problem, then solve_problem with the
instance's options (in parts, pricing or merging as the defaults decide), then fleetopt.verify on the plan.

Run: python benchmarks/bench_default.py [--tiers gf,scarce-x1,x10,scarce-x10] [--time-limit 60] [--gap 1e-4]
         [--json out.json] [--memory-gb 12] [--set replica_bound=true ...]
Each tier runs in its own child process, so ru_maxrss is that tier's peak RSS and each starts from a fresh
HiGHS. Per tier: wall and CPU s of load, candidates + build, solve and verify, the plan's status, objective,
bound and gap, the decomposition record, and the load average before and after. CPU is process time over all
threads. `--set key=value` overrides a SolveOptions field (e.g. replica_bound=false) to compare paths in one run.
The machine is shared: compare ratios of one run, and read CPU beside wall.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_tier(tier: str, time_limit_s: float, gap: float, overrides: dict) -> dict:
    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.verify import verify_plan

    out = {"tier": tier, "load_avg_before": os.getloadavg()}
    w, c = time.perf_counter(), time.process_time()
    inst = load(tier)
    out["load_s"] = [time.perf_counter() - w, time.process_time() - c]
    w, c = time.perf_counter(), time.process_time()
    problem = build_problem(inst)
    out["build_s"] = [time.perf_counter() - w, time.process_time() - c]
    out["candidates_wall_s"] = problem.timing.get("candidates")
    name, options = options_for(inst, time_limit_s=time_limit_s, mip_rel_gap=gap)
    options = replace(options, **overrides)
    w, c = time.perf_counter(), time.process_time()
    plan, result = solve_problem(problem, name, options)
    out["solve_s"] = [time.perf_counter() - w, time.process_time() - c]
    out.update(status=plan.status, objective=plan.objective, bound=plan.bound, gap=plan.gap, detail=plan.detail,
               columns=problem.form.n_cols, rows=problem.form.n_rows,
               decomposition=result.decomposition if result else None)
    if plan.objective is not None:
        w, c = time.perf_counter(), time.process_time()
        report = verify_plan(inst, plan)
        out["verify_s"] = [time.perf_counter() - w, time.process_time() - c]
        out["verified"] = report.holds
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_avg_after"] = os.getloadavg()
    return out


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        out[key] = {"true": True, "false": False, "none": None}.get(value.lower(), value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", default="gf,scarce-x1,x10,scarce-x10")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--memory-gb", type=float, default=12.0)
    parser.add_argument("--set", action="append", default=[], help="SolveOptions field=value")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    if args.child:
        cap = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(run_tier(args.child, args.time_limit, args.gap, overrides)))
        return
    rows = []
    for tier in args.tiers.split(","):
        cmd = [sys.executable, __file__, "--child", tier, "--time-limit", str(args.time_limit), "--gap",
               str(args.gap), "--memory-gb", str(args.memory_gb)] + [f"--set={s}" for s in args.set]
        w = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            row = {"tier": tier, "failed": f"exit code {done.returncode}: {done.stderr[-2000:]}"}
        else:
            row = json.loads(done.stdout.strip().splitlines()[-1])
        row["process_wall_s"] = time.perf_counter() - w
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        row["children_cpu_s_so_far"] = usage.ru_utime + usage.ru_stime
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
