"""Candidates and formulation stage by stage: wall and CPU seconds of training, serving and monitoring
enumeration and of the formulation build, per tier, with the load average before and after.

Run: python benchmarks/bench_enumeration.py [--tiers gf,x10,x100] [--json out.json]
Each tier runs in this process one after the other (the instance is generated first and not timed). CPU is
process time. The machine is shared: read CPU beside wall and compare runs made side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def run_tier(tier: str) -> dict:
    from bench_solve import load

    from fleetopt.candidates.monitoring import monitoring_requirements
    from fleetopt.candidates.serving import enumerate_serving
    from fleetopt.candidates.training import enumerate_training
    from fleetopt.formulation.families import build

    out: dict = {"tier": tier, "load_avg_before": os.getloadavg()}
    inst = load(tier)

    def clock(stage, fn, *args):
        w, c = time.perf_counter(), time.process_time()
        result = fn(*args)
        out[stage] = [round(time.perf_counter() - w, 2), round(time.process_time() - c, 2)]
        return result

    tc = clock("training", enumerate_training, inst)
    sc = clock("serving", enumerate_serving, inst)
    mon = clock("monitoring", monitoring_requirements, inst, sc)
    form = clock("build", build, inst, tc, sc, mon)
    out["total"] = [round(sum(out[k][i] for k in ("training", "serving", "monitoring", "build")), 2)
                    for i in (0, 1)]
    out.update(training_rows=len(tc), options=len(sc), routes=len(sc.route_option), columns=form.n_cols,
               rows=form.n_rows, maxrss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
               load_avg_after=os.getloadavg())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", default="gf,x10,x100")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for tier in args.tiers.split(","):
        rows.append(run_tier(tier))
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
