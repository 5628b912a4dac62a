"""Solving in parts (fleetopt/pipeline/decompose.py) against the whole-model solve, on global-fleet and the x10 tier.

Run: /tmp/venv/bin/python benchmarks/bench_parts.py [--tiers gf,x10] [--gaps 1e-2,1e-3,1e-4] [--time-limit 60]
     [--whole-gaps 1e-2,1e-4] [--json out.json]
Each (tier, mode, gap) is one `solve_problem` call (the path `fleetopt solve` takes) on candidates built once per
tier, timed wall and CPU (all threads); status, objective, bound and gap as the solver reports them. The machine
is shared and noisy: compare the ratios of one run.
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
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem

    rows = []
    for tier in args.tiers.split(","):
        problem = build_problem(load(tier))
        name, base = options_for(problem.inst, time_limit_s=args.time_limit)
        runs = [(True, float(g)) for g in args.gaps.split(",")]
        runs += [(False, float(g)) for g in args.whole_gaps.split(",") if g]
        for parts, gap in runs:
            options = replace(base, mip_rel_gap=gap, decompose=parts)
            w, c = time.perf_counter(), time.process_time()
            plan, result = solve_problem(problem, name, options)
            row = {"tier": tier, "mode": "parts" if parts else "whole", "mip_rel_gap": gap,
                   "wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(time.process_time() - c, 2),
                   "status": plan.status, "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
                   "decomposition": result.decomposition if result else None, "load": os.getloadavg()[0]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
