"""Where scarce-x10's optimum lies: the priced solve's models kept, then one long solve of the whole model with
the parts' whole-replica rows from the best plan (one HiGHS thread, its log and solution file kept).

Run: python benchmarks/scarce_truth.py capture --tier scarce-x10 --time-limit 150 --out /tmp/sx10/cap.pkl
     python benchmarks/scarce_truth.py long --cap /tmp/sx10/cap.pkl --time-limit 3600 --out /tmp/sx10/long
capture: the default solve (solve_problem, as `fleetopt solve`), with pipeline/lagrange.py's whole model with
the parts' rows, its shared-row mask, the plain model and the best plan pickled. long: HiGHS on that model
(threads 1, mip_rel_gap 1e-6), started from the plan; HiGHS's log in OUT.log, its best plan in OUT.sol
(HiGHS's solution file), the result in OUT.json. parts: at the whole LP's prices, each part's MILP solved close:
the Lagrangian bound L(p*) and the plan's excess over it, part by part and row by row. repair: the capture's
repair model run to its own bound. widen: the same, with the columns of the parts' plans at dearer prices of the
scarce rows. rows: the LPs with and without formulation/stock_rounding.py's MIR rows.
Other modes: python benchmarks/scarce_truth.py MODE --cap CAP.pkl [--time-limit S] (see --help).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def capture(args) -> None:
    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.pipeline import lagrange

    kept: dict = {}
    with_rows = lagrange.with_part_rows

    def keep_rows(form, shared, parts):
        whole, whole_shared = with_rows(form, shared, parts)
        kept.update(form=form, shared=shared, whole=whole, whole_shared=whole_shared, n_parts=len(parts))
        return whole, whole_shared

    lagrange.with_part_rows = keep_rows
    repair = lagrange._repair

    def keep_repair(form, used, reduced, run, backend, options, deadline, start):
        w, c = time.perf_counter(), time.process_time()
        out = repair(form, used, reduced, run, backend, options, deadline, start)
        kept.setdefault("repairs", []).append({
            "used": used.copy(), "start": start, "x": None if out is None else out.x,
            "objective": None if out is None else out.objective, "bound": None if out is None else out.bound,
            "wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c})
        return out

    lagrange._repair = keep_repair
    if args.log:
        from bench_lagrange import _log_rounds
        clock = _log_rounds()
    problem = build_problem(load(args.tier))
    name, options = options_for(problem.inst, time_limit_s=args.time_limit, mip_rel_gap=1e-4)
    w, c = time.perf_counter(), time.process_time()
    if args.log:
        clock[:] = [w, c]
    plan, result = solve_problem(problem, name, options)
    kept.update(x=result.x, objective=result.objective, bound=result.bound, wall_s=time.perf_counter() - w,
                cpu_s=time.process_time() - c, load=os.getloadavg()[0])
    with open(args.out, "wb") as f:
        pickle.dump(kept, f)
    print(json.dumps({k: kept[k] for k in ("objective", "bound", "wall_s", "cpu_s", "load", "n_parts")}))


def long(args) -> None:
    import highspy
    import numpy as np

    from fleetopt.backends.highs import to_lp

    with open(args.cap, "rb") as f:
        kept = pickle.load(f)
    whole = kept["whole"]
    h = highspy.Highs()
    for key, value in (("threads", 1), ("time_limit", float(args.time_limit)), ("mip_rel_gap", 1e-6),
                       ("log_file", f"{args.out}.log"), ("log_to_console", False)):
        h.setOptionValue(key, value)
    h.passModel(to_lp(whole, highspy))
    x = np.asarray(kept["x"], dtype=float)
    start = np.zeros(whole.n_cols)
    start[:len(x)] = x          # the parts' rows add no columns; a longer model keeps zeros past the plan's
    sol = highspy.HighsSolution()
    sol.col_value = list(start)
    sol.value_valid = True
    h.setSolution(sol)
    w, c = time.perf_counter(), time.process_time()
    h.run()
    info = h.getInfo()
    h.writeSolution(f"{args.out}.sol", 1)
    out = {"status": h.modelStatusToString(h.getModelStatus()), "objective": info.objective_function_value,
           "bound": info.mip_dual_bound, "gap": info.mip_gap, "nodes": info.mip_node_count,
           "wall_s": round(time.perf_counter() - w, 1), "cpu_s": round(time.process_time() - c, 1),
           "start": kept["objective"], "cols": whole.n_cols, "rows": whole.n_rows, "load": os.getloadavg()[0]}
    Path(f"{args.out}.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


def parts(args) -> None:
    """At the whole LP's prices p* (the LP with the parts' rows; its shared rows' duals), each part's MILP solved
    close (its bound), and the best plan's excess over L(p*) split exactly: per part, its priced cost less its
    bound; per priced row, p_i times the row's slack in the plan."""
    import numpy as np

    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions, proven_bound
    from fleetopt.formulation.split import components, split, with_cost
    from fleetopt.pipeline.lagrange import _project
    from fleetopt.pipeline.part_rows import part_with_rows

    with open(args.cap, "rb") as f:
        kept = pickle.load(f)
    form, shared, whole, ws, x = kept["form"], kept["shared"], kept["whole"], kept["whole_shared"], kept["x"]
    lp = highs.solve_lp(whole, 1)
    cost = form.col_arrays()[0]
    a_s = form.matrix()[np.flatnonzero(shared)]
    lower, upper = (v[shared] for v in form.row_bounds())
    p = _project(-lp.row_dual[ws], lower, upper)   # prices of the right sign: L(p) is a bound at any such p
    priced = cost + a_s.T @ p
    const = float(np.dot(p[p > 0], upper[p > 0]) + np.dot(p[p < 0], lower[p < 0]))
    qs = split(form, components(form, ~shared), ~shared)
    opts = SolveOptions(mip_rel_gap=args.part_gap, time_limit_s=args.part_time, threads=1)
    c = time.process_time()
    rows = []
    for q in qs:
        strong = with_cost(part_with_rows(q), priced[q.cols]).form
        r = highs.solve(strong, opts)
        part_lp = highs.solve_lp(strong, 1)
        rows.append((q.form.col_names()[0], float(priced[q.cols] @ x[q.cols]), proven_bound(r), r.objective,
                     part_lp.objective))
    bound = sum(r[2] for r in rows) - const
    act = a_s @ x
    with np.errstate(invalid="ignore"):   # inf x 0 where a row has no bound on the side of a zero price
        slack = np.where(p > 0, p * (upper - act), np.where(p < 0, p * (lower - act), 0.0))
    names = np.array(form.row_names())[shared]
    print(f"LP with the parts' rows {lp.objective:,.0f}; L(p*) >= {bound:,.0f} (parts to {args.part_gap:g}, "
          f"{time.process_time() - c:.1f} CPU s, load {os.getloadavg()[0]:.1f}); plan {kept['objective']:,.0f}")
    print(f"L(p*) - LP = {bound - lp.objective:,.0f}: the parts' own rounding at p* (bound - LP, with their rows)")
    for name, _, b, o, low in sorted(rows, key=lambda t: t[4] - t[2])[:args.top]:
        print(f"  part {name[:48]:48s} bound-LP {b - low:10,.0f}  part open {(o or b) - b:8,.0f}")
    print(f"plan - L(p*) = {kept['objective'] - bound:,.0f}: parts {sum(r[1] - r[2] for r in rows):,.0f}, "
          f"row slack {slack.sum():,.0f}")
    for name, v, b, o, _ in sorted(rows, key=lambda t: t[2] - t[1])[:args.top]:
        print(f"  part {name[:48]:48s} plan-bound {v - b:10,.0f}  part open {(o or b) - b:8,.0f}")
    for i in np.argsort(-slack)[:args.top]:
        if slack[i] > 1:
            print(f"  row {names[i]:40s} price {p[i]:10.4g} slack cost {slack[i]:10,.0f}")


def repair(args) -> None:
    """The priced solve's last repair again (the whole model with the parts' rows, its integer columns restricted
    to those the repair was given, from the plan it started from), one HiGHS thread, with growing node limits:
    what the restricted model holds (its own bound) and what it costs to reach it."""
    import numpy as np

    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions
    from fleetopt.pipeline.lagrange import integers_within

    with open(args.cap, "rb") as f:
        kept = pickle.load(f)
    rep = kept["repairs"][args.which]
    whole = kept["whole"]
    cost = whole.col_arrays()[0]
    start = rep["start"] if rep["start"] is not None else None
    union = np.zeros(whole.n_cols, dtype=bool)
    for r in kept["repairs"]:
        union |= r["used"]
    for name, used in (("given", rep["used"]), ("every repair's", union)):
        form = integers_within(whole, used)
        for nodes in args.nodes:
            c = time.process_time()
            r = highs.solve(form, SolveOptions(mip_rel_gap=1e-4, time_limit_s=args.time_limit, threads=1,
                                               node_limit=nodes, start=start))
            print(json.dumps({"columns": name, "integer_used": int(used.sum()), "nodes": nodes,
                              "start": None if start is None else float(cost @ start), "objective": r.objective,
                              "bound": r.bound, "status": r.status, "cpu_s": round(time.process_time() - c, 1),
                              "load": os.getloadavg()[0]}), flush=True)


def widen(args) -> None:
    """The repair's model widened: every repair's integer columns plus those of each part's plan at the whole
    LP's prices scaled by --scales (dearer scarce rows: plans that take less of them), from the best plan."""
    import numpy as np

    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.split import components, split, with_cost
    from fleetopt.pipeline.lagrange import _project, integers_within
    from fleetopt.pipeline.part_rows import part_with_rows

    with open(args.cap, "rb") as f:
        kept = pickle.load(f)
    form, shared, whole, ws = kept["form"], kept["shared"], kept["whole"], kept["whole_shared"]
    cost, _, _, integer = form.col_arrays()
    lower, upper = (v[shared] for v in form.row_bounds())
    p = _project(-highs.solve_lp(whole, 1).row_dual[ws], lower, upper)
    a_s = form.matrix()[np.flatnonzero(shared)]
    used = np.zeros(form.n_cols, dtype=bool)
    for r in kept["repairs"]:
        used |= r["used"]
    before = int(used.sum())
    c = time.process_time()
    opts = SolveOptions(mip_rel_gap=1e-3, time_limit_s=10, threads=1)
    for scale in args.scales:
        priced = cost + a_s.T @ (p * scale)
        for q in split(form, components(form, ~shared), ~shared):
            r = highs.solve(with_cost(part_with_rows(q), priced[q.cols]).form, opts)
            if r.x is not None:
                used[q.cols] |= integer[q.cols] & (r.x > 1e-9)
    made = time.process_time() - c
    c = time.process_time()
    r = highs.solve(integers_within(whole, used), SolveOptions(mip_rel_gap=1e-4, time_limit_s=args.time_limit,
                                                          threads=1, start=kept["x"]))
    print(json.dumps({"integer_used": [before, int(used.sum())], "plans_cpu_s": round(made, 1),
                      "start": kept["objective"], "objective": r.objective, "bound": r.bound, "status": r.status,
                      "cpu_s": round(time.process_time() - c, 1), "load": os.getloadavg()[0]}))


def rows(args) -> None:
    """The LP of the plain model and of the model with the parts' rows, before and after the MIR rows of the
    shared scarce rows (formulation/stock_rounding.py): what rounding the stock and power rows alone lifts."""
    import numpy as np

    from fleetopt.backends import highs
    from fleetopt.formulation.stock_rounding import with_stock_rows

    with open(args.cap, "rb") as f:
        kept = pickle.load(f)
    for name, form, shared in (("plain", kept["form"], kept["shared"]),
                               ("with the parts' rows", kept["whole"], kept["whole_shared"])):
        values: list[float | None] = []

        def lp(f, values=values):
            sol = highs.solve_lp(f, 1)
            values.append(None if sol is None else sol.objective)
            return None if sol is None else sol.x

        c = time.process_time()
        out, added = with_stock_rows(form, np.flatnonzero(shared), lp)
        after = highs.solve_lp(out, 1).objective
        holds = bool(np.all(out.matrix() @ kept["x"] <= out.row_bounds()[1] + 1e-6))
        print(json.dumps({"model": name, "lp": values[0], "lp_with_mir": after, "lift": after - values[0],
                          "rows": added, "lp_solves": len(values) + 1, "plan_meets_them": holds,
                          "cpu_s": round(time.process_time() - c, 2), "load": os.getloadavg()[0]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("capture", "long", "parts", "repair", "rows", "widen"))
    parser.add_argument("--scales", type=lambda v: [float(n) for n in v.split(",")], default=[1.0, 1.5, 2.5])
    parser.add_argument("--which", type=int, default=-1)
    parser.add_argument("--nodes", type=lambda v: [int(n) for n in v.split(",")], default=[500, 2000, 0])
    parser.add_argument("--part-gap", type=float, default=1e-4)
    parser.add_argument("--part-time", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--log", action="store_true")
    parser.add_argument("--tier", default="scarce-x10")
    parser.add_argument("--time-limit", type=float, default=150.0)
    parser.add_argument("--cap", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    {"capture": capture, "long": long, "parts": parts, "repair": repair, "rows": rows,
     "widen": widen}[args.mode](args)


if __name__ == "__main__":
    main()
