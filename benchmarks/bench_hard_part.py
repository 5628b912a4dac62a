"""The hardest part of the x10 tier alone: why a 1e-4 gap is out of reach in 60 s for any branch and bound, and
what the whole-replica bound (fleetopt/formulation/replica_bound.py) adds.

Run: python benchmarks/bench_hard_part.py [--service summarize-6] [--time-limit 60] [--scip]
The x10 tier (benchmarks/scale_tiers.py) is split into its independent parts (formulation/split.py, shared rows
left out: none binds in x10) and the part of one service is solved alone at gap 1e-4, single-threaded, by HiGHS
(highspy) without and with the service's replica_bound row, and with --scip also by SCIP (OR-Tools MathOpt,
gscip) without it. Printed: the part's size, its LP bound, the whole-replica bound and the seconds it took, and
per run the root node's bound (mip_max_nodes 1) and the plan, bound, gap and detail at the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", default="summarize-6")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--scip", action="store_true", help="also solve the part (without the row) with SCIP")
    args = parser.parse_args()

    from scale_tiers import load_tier

    from fleetopt.api import build_problem
    from fleetopt.backends import highs, ortools_backend
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.replica_bound import lower_bound, lp_floor, service_knapsacks, with_replica_bounds
    from fleetopt.formulation.split import components, relaxed, shared_rows, split

    problem = build_problem(load_tier(10, seed=0))
    s = problem.serving.service_names.index(args.service)
    sk = service_knapsacks(problem.serving, problem.form.blocks["replicas"].cost)[s]
    t0 = time.process_time()
    bound = lower_bound(sk)
    bound_cpu = time.process_time() - t0
    forms = {"off": problem.form, "on": with_replica_bounds(problem.form, problem.serving)}
    parts = {}
    for label, form in forms.items():
        kept = ~shared_rows(form)
        parts[label] = next(p for p in split(form, components(form, kept), kept)
                            if "replicas" in p.form.blocks and p.form.blocks["replicas"].keys[0][0] == args.service)
    part = parts["off"].form
    _, _, _, integer = part.col_arrays()
    lp = highs.solve(relaxed(part), SolveOptions())
    out = {"service": args.service, "columns": part.n_cols, "integer_columns": int(integer.sum()),
           "rows": part.n_rows, "lp_bound": lp.objective, "lp_floor": lp_floor(sk),
           "replica_bound": bound, "replica_bound_cpu_s": bound_cpu}
    options = SolveOptions(time_limit_s=args.time_limit, mip_rel_gap=1e-4, threads=1)
    runs = [("highs", highs.solve, options, "off"), ("highs+replica_bound", highs.solve, options, "on")]
    if args.scip:
        runs.append(("scip", ortools_backend.solve, SolveOptions(**{**options.__dict__, "ortools_solver": "gscip"}),
                     "off"))
    for label, solve, opts, rows in runs:
        root = solve(parts[rows].form, SolveOptions(**{**opts.__dict__, "node_limit": 1}))
        w, c = time.perf_counter(), time.process_time()
        r = solve(parts[rows].form, opts)
        out[label] = {"root_bound": root.bound, "status": r.status, "objective": r.objective, "bound": r.bound,
                      "gap": r.gap, "wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c,
                      "detail": r.detail}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
