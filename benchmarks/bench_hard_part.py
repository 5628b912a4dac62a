"""The hardest part of the x10 tier alone: why a 1e-4 gap is out of reach in 60 s for any branch and bound.

Run: /tmp/venv/bin/python benchmarks/bench_hard_part.py [--service summarize-6] [--time-limit 60]
The x10 tier (benchmarks/scale_tiers.py) is split into its independent parts (formulation/split.py, shared rows
left out: none binds in x10) and the part of one service is solved alone at gap 1e-4 by HiGHS (highspy) and by
SCIP (OR-Tools MathOpt, gscip), single-threaded. Printed: the part's size, its LP bound, and each solver's plan,
bound, gap and nodes at the limit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", default="summarize-6")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()

    from scale_tiers import load_tier

    from fleetopt.api import build_problem
    from fleetopt.backends import highs, ortools_backend
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.split import components, relaxed, shared_rows, split

    form = build_problem(load_tier(10, seed=0)).form
    kept = ~shared_rows(form)
    part = next(p for p in split(form, components(form, kept), kept)
                if "replicas" in p.form.blocks and p.form.blocks["replicas"].keys[0][0] == args.service)
    _, _, _, integer = part.form.col_arrays()
    lp = highs.solve(relaxed(part.form), SolveOptions())
    out = {"service": args.service, "columns": part.form.n_cols, "integer_columns": int(integer.sum()),
           "rows": part.form.n_rows, "lp_bound": lp.objective}
    options = SolveOptions(time_limit_s=args.time_limit, mip_rel_gap=1e-4, threads=1)
    for label, solve, opts in (("highs", highs.solve, options),
                               ("scip", ortools_backend.solve, SolveOptions(**{**options.__dict__,
                                                                               "ortools_solver": "gscip"}))):
        r = solve(part.form, opts)
        out[label] = {"status": r.status, "objective": r.objective, "bound": r.bound, "gap": r.gap,
                      "detail": r.detail}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
