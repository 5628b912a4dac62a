"""Pricing the shared rows (fleetopt/pipeline/lagrange.py) against merging the parts they join (the old path).

Run: python benchmarks/bench_lagrange.py [--tiers gf,scarce-x1,scarce-x10] [--gap 1e-4] [--time-limit 60]
     [--modes priced,merged,auto] [--json out.json] [--log]
Each (tier, mode) is one `solve_problem` call (the path `fleetopt solve` takes) on candidates built once per
tier (priced: price_shared=True, merged: False, auto: None, the default), timed wall and CPU (all threads);
status, objective, bound and gap as reported, and whether fleetopt.verify accepts the plan.
--log prints pipeline/lagrange.py's debug lines (one per round: bound, plan, pool; the tightening; the whole LP)
stamped with the wall and CPU seconds since the solve began: where the time goes and which side the gap sits on.
The machine is shared and noisy: compare the ratios of one run.
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
    parser.add_argument("--tiers", default="gf,scarce-x1,scarce-x10")
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--modes", default="priced,merged")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--log", action="store_true")
    args = parser.parse_args()
    clock = _log_rounds() if args.log else None

    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.verify import verify_plan

    rows = []
    for tier in args.tiers.split(","):
        problem = build_problem(load(tier))
        name, base = options_for(problem.inst, time_limit_s=args.time_limit, mip_rel_gap=args.gap)
        for mode in args.modes.split(","):
            options = replace(base, price_shared={"priced": True, "merged": False, "auto": None}[mode])
            w, c = time.perf_counter(), time.process_time()
            if clock is not None:
                clock[:] = [w, c]
            plan, result = solve_problem(problem, name, options)
            row = {"tier": tier, "mode": mode, "mip_rel_gap": args.gap,
                   "wall_s": round(time.perf_counter() - w, 2), "cpu_s": round(time.process_time() - c, 2),
                   "status": plan.status, "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
                   "verified": verify_plan(problem.inst, plan).holds if plan.has_plan else None,
                   "decomposition": result.decomposition if result else None, "load": os.getloadavg()[0]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _log_rounds() -> list[float]:
    """The priced path's debug lines on stdout, each stamped with wall and CPU s since the clock's start (the
    list returned: [wall, cpu] at the solve's start, set by the caller)."""
    import logging

    clock = [time.perf_counter(), time.process_time()]

    class Stamp(logging.Filter):
        def filter(self, record):
            record.stamp = f"{time.perf_counter() - clock[0]:7.1f} s {time.process_time() - clock[1]:7.1f} CPU s"
            return True

    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(Stamp())
    handler.setFormatter(logging.Formatter("%(stamp)s %(name)s: %(message)s"))
    for name in ("fleetopt.pipeline.lagrange", "fleetopt.pipeline.part_rows"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    return clock


if __name__ == "__main__":
    main()
