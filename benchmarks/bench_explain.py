"""What comes after the solve: the explanation `fleetopt solve` writes into the plan, and `fleetopt verify`.

Run: python benchmarks/bench_explain.py [--tier x10] [--time-limit 60] [--json out.json]
Tiers as bench_solve.py (gf, x10, x100, scarce-x1, scarce-x10, scarce-x100). The tier is solved once by the
default path within --time-limit (a plan to explain, not a speed under test), then, one after the other in this
process, each part of explain/explainer.explain is timed alone: the pricing LPs (explain/binding: the structure
LP with its ranging, the fixed LP), the jobs' terms and runner-ups (explain_jobs), the services' routes
(explain_services); then explain whole (the pricing LPs in a thread beside the rest, as the CLI runs it), and
verify_plan on the plan read back from its JSON, as `fleetopt verify` reads it. Wall and CPU seconds of this
process; the machine is shared: compare runs made side by side, and read the load printed.
x100 on 2026-12-02 (benchmarks/RESULTS.md, "Issue #12, twelfth and thirteenth sessions"): the explanation took
64 s before two fixes and ~25 s after; verify 32 s before and 8 s after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed(fn, *args):
    """(result, wall s, CPU s of this process)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    from bench_solve import TIERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="x10", choices=sorted(TIERS))
    parser.add_argument("--time-limit", type=float, default=60.0, help="the solve's limit, s (default 60)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.explain import binding, explainer
    from fleetopt.plan.read import read_plan
    from fleetopt.verify import verify_plan

    inst = load(args.tier)
    name, options = options_for(inst, time_limit_s=args.time_limit)
    problem = build_problem(inst)
    plan, result = solve_problem(problem, name, options)
    if result is None or result.x is None:
        print(f"{args.tier}: no plan within {args.time_limit:g} s ({plan.status}); nothing to explain")
        return 1
    form, x = problem.form, result.x
    print(f"{args.tier}: {form.n_cols:,} columns, {form.n_rows:,} rows; plan {plan.status}, gap "
          f"{plan.gap if plan.gap is not None else float('nan'):.3%}; load {os.getloadavg()[0]:.1f}", flush=True)

    rows: list[tuple[str, float, float]] = []

    def stage(label: str, fn, *fargs):
        out, wall, cpu = timed(fn, *fargs)
        rows.append((label, wall, cpu))
        print(f"  {label:<34} {wall:8.2f} s wall {cpu:8.2f} s CPU", flush=True)
        return out

    lp = stage("structure LP: build", binding.structure_lp, form, x)
    h = stage("structure LP: solve", binding.solve_lp, lp)
    stage("structure LP: duals and ranging", binding._duals_and_ranging, h, form.n_rows)
    stage("fixed LP: solve", lambda: binding.solve_lp(binding.fixed_lp(form, x)))
    stage("binding_constraints (all of it)", binding.binding_constraints, form, x)
    stage("explain_jobs", explainer.explain_jobs, problem, x)
    stage("explain_services", explainer.explain_services, problem, x)
    plan.explanation = stage("explain (as the CLI runs it)", explainer.explain, problem, plan, x, options)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_text(plan.model_dump_json(), encoding="utf-8")
        read = stage("read the plan JSON", read_plan, path)
        report = stage("verify_plan", verify_plan, inst, read)
    print(f"  verify: {'holds' if report.holds else 'VIOLATED'}; load {os.getloadavg()[0]:.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"tier": args.tier, "columns": form.n_cols, "rows": form.n_rows,
                                         "gap": plan.gap, "holds": report.holds,
                                         "stages": [{"stage": s, "wall_s": w, "cpu_s": c} for s, w, c in rows]},
                                        indent=2), encoding="utf-8")
    return 0 if report.holds else 1


if __name__ == "__main__":
    sys.exit(main())
