"""x10 part by part: which parts a first node-limited round leaves open, and what bounds them.

Run: python benchmarks/bench_x10_parts.py [--tier x10] [--nodes 200] [--time-limit 60] [--json out.json]
         [--only open|all] [--exact]
The tier's model is split as the default path splits it when no shared row binds (formulation/split.py, every shared
row left out) and each part is solved alone, single-threaded, at gap 0 with a node limit of --nodes (the default
path's first round, pipeline/decompose.FIRST_NODE_LIMIT). Per part: services, populations per service, columns and
integers, LP value, the HiGHS bound and plan after the round, and per service the whole-replica bound
(formulation/replica_bound.py), the covering program's (formulation/cover_bound.py) and the flow program's
(formulation/flow_bound.py) against its LP floor. Parts
still open after the round are then solved at gap 1e-5 with --time-limit (with the replica_bound rows, as the
default path runs them) and, with --exact, without them as well. With --reduced, each part's first round and its
open solves are also run on the part without its dominated options (formulation/dominated.py; the default path since
2026-11-30 13:00): "first_reduced", "reduced_covered" (reduced, then rows and covers: what the default path ran
until 2026-11-30 17:00), "reduced" (no rows) and "up_front" (reduced, with the rows a fractional part now starts its
first round with: pipeline/decompose._with_rows_up_front, with the covering-program rows of four-population services
since 2026-11-30 19:30) and "open_rows" (reduced, with the rows a part the first round leaves open runs on with:
pipeline/decompose._open_part_rows, the flow-program row of four-population services since 2026-11-30 22:00).
CPU seconds are this process's. The machine is shared: read CPU, and the load printed.
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
    parser.add_argument("--tier", default="x10")
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--only", default="open", choices=("open", "all"))
    parser.add_argument("--exact", action="store_true", help="also solve open parts without the rows")
    parser.add_argument("--reduced", action="store_true", help="also solve parts without dominated options")
    parser.add_argument("--variants", nargs="*", help="only these of the open parts' solves (e.g. covered)")
    parser.add_argument("--parts", type=int, nargs="*", help="only these parts (indices)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from bench_solve import load

    from fleetopt.api import build_problem
    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.cover_bound import covering_bound
    from fleetopt.formulation.dominated import without_dominated
    from fleetopt.formulation.flow_bound import flow_bound
    from fleetopt.formulation.replica_bound import form_knapsacks, lower_bound, lp_floor, with_form_replica_bounds
    from fleetopt.formulation.replica_cover import with_cover_rows
    from fleetopt.formulation.split import Part, components, relaxed, shared_rows, split
    from fleetopt.pipeline.decompose import _open_part_rows, _with_rows_up_front

    print("load", os.getloadavg(), file=sys.stderr)
    problem = build_problem(load(args.tier))
    form = problem.form
    kept = ~shared_rows(form)
    parts = split(form, components(form, kept), kept)
    base = SolveOptions(threads=1, mip_rel_gap=0.0, mip_abs_gap=1e-6)
    rows = []
    for i, p in enumerate(parts):
        _, _, _, integer = p.form.col_arrays()
        if not integer.any() or (args.parts and i not in args.parts):
            continue
        c0 = time.process_time()
        lp = highs.solve(relaxed(p.form), SolveOptions(threads=1))
        first = highs.solve(p.form, replace(base, node_limit=args.nodes, time_limit_s=args.time_limit))
        cpu_first = time.process_time() - c0
        gap = (first.objective - first.bound) / max(abs(first.objective), 1e-9) if first.objective else None
        knaps = form_knapsacks(p.form)
        services = []
        for name, _, sk in knaps:
            t = time.process_time()
            b = lower_bound(sk)
            bound_cpu = time.process_time() - t
            t = time.process_time()
            z = covering_bound(sk) if (sk.demand > 0).sum() > 1 else None
            covering_cpu = time.process_time() - t
            t = time.process_time()
            zf = flow_bound(sk) if (sk.demand > 0).sum() > 1 else None
            services.append({"service": name, "populations": int((sk.demand > 0).sum()),
                             "options": len(sk.cost), "lp_floor": lp_floor(sk), "replica_bound": b,
                             "bound_cpu_s": bound_cpu, "covering_bound": z,
                             "covering_cpu_s": covering_cpu, "flow_bound": zf,
                             "flow_cpu_s": time.process_time() - t})
        row = {"part": i, "columns": p.form.n_cols, "integer": int(integer.sum()), "n_rows": p.form.n_rows,
               "lp": lp.objective, "first_status": first.status, "first_objective": first.objective,
               "first_bound": first.bound, "first_gap": gap, "first_cpu_s": cpu_first, "services": services}
        if args.reduced:
            t = time.process_time()
            reduced, fixed = without_dominated(p.form)
            r = highs.solve(reduced, replace(base, node_limit=args.nodes, time_limit_s=args.time_limit))
            row["first_reduced"] = {"fixed": fixed, "status": r.status, "objective": r.objective, "bound": r.bound,
                                    "cpu_s": time.process_time() - t}
        rows.append(row)
        is_open = gap is None or gap > 1e-6
        if is_open or args.only == "all":
            t = time.process_time()
            bounded = with_form_replica_bounds(p.form)
            row["rows_cpu_s"] = time.process_time() - t
            t = time.process_time()
            covered = with_cover_rows(bounded)
            row["covers_cpu_s"] = time.process_time() - t
            row["covers"] = covered.families["replica_cover"].size if "replica_cover" in covered.families else 0
            variants = [("bounded", bounded), ("covered", covered)] + ([("plain", p.form)] if args.exact else [])
            if args.reduced:
                reduced, _ = without_dominated(p.form)
                variants += [("reduced", reduced),
                             ("reduced_covered", with_cover_rows(with_form_replica_bounds(reduced))),
                             ("up_front", _with_rows_up_front(Part(reduced, p.cols, p.rows)).form),
                             ("open_rows", _open_part_rows(Part(reduced, p.cols, p.rows)).form)]
            for label, f in [v for v in variants if not args.variants or v[0] in args.variants]:
                lp_rows = highs.solve(relaxed(f), SolveOptions(threads=1)).objective
                t = time.process_time()
                r = highs.solve(f, SolveOptions(threads=1, mip_rel_gap=1e-5, time_limit_s=args.time_limit))
                cpu = time.process_time() - t
                root = highs.solve(f, replace(base, node_limit=1, time_limit_s=args.time_limit))
                row[label] = {"status": r.status, "objective": r.objective, "bound": r.bound, "gap": r.gap,
                              "cpu_s": cpu, "root_bound": root.bound, "lp": lp_rows}
        print(json.dumps(row), flush=True)
    print("load", os.getloadavg(), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
