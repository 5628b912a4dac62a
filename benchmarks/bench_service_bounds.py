"""Where the serving parts' rounding loss lies, by how many populations a service has.

Run: python benchmarks/bench_service_bounds.py [--tier x100] [--sample 3] [--time-limit 20] [--json out.json]
Tiers as bench_solve.py. The tier's model, with the options twins replace fixed at zero (as `fleetopt solve`
solves it), falls apart at its shared rows into one part per job and per service (pipeline/decompose.py). For
every serving part, grouped by its service's populations with demand and by whether it carries fairness
monitoring, this sums (no prices: the parts' own costs):
  lp       the part's LP relaxation (replicas, monitoring and all)
  floor    each population's demand at its best USD per req/s (replica_bound.lp_floor: the LP's replica cost)
  bound    the whole-replica bound (replica_bound.lower_bound), which is a row only where it beats the floor
Then, for --sample parts of each group (the first by their order in the model), one HiGHS thread each:
  rows     the LP with the part's own rows (pipeline/part_rows.part_with_rows: the bound and cover rows), and
           the CPU seconds making them took
  MILP     the part solved to 1e-5 within --time-limit: its plan and its proven bound
and "closed" is the share of the gap from the part's LP to its plan that the rows' LP closes.
x100 on 2026-12-02 (benchmarks/RESULTS.md, "x100's gap by population count"): the 200 four-population
services hold 72.6M of LP; their whole-replica bound lies 1.3% under their floor, so they carry no bound row, and
the rows close a third of their LP's gap to the plan.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def serving_parts(form):
    """(part, its knapsacks) for every part of `form` (split at its shared rows) that has a service."""
    from fleetopt.formulation.replica_bound import form_knapsacks
    from fleetopt.formulation.split import components, shared_rows, split

    kept = ~shared_rows(form)
    out = []
    for part in split(form, components(form, kept), kept):
        knapsacks = form_knapsacks(part.form)
        if knapsacks:
            out.append((part, knapsacks))
    return out


def group_of(part, knapsacks) -> tuple[int, bool]:
    """(most populations with demand among its services, has monitoring columns)."""
    return max(int((sk.demand > 0).sum()) for _, _, sk in knapsacks), "monitored" in part.form.blocks


def main(argv: list[str] | None = None) -> int:
    from bench_solve import TIERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="x100", choices=sorted(TIERS))
    parser.add_argument("--sample", type=int, default=3, help="parts per group given rows and a MILP (default 3)")
    parser.add_argument("--time-limit", type=float, default=20.0, help="each sampled MILP's limit, s (default 20)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    from bench_solve import load

    from fleetopt.api import build_problem
    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.replica_bound import lower_bound, lp_floor
    from fleetopt.formulation.split import relaxed
    from fleetopt.formulation.twins import with_dominated_fixed
    from fleetopt.pipeline.part_rows import part_with_rows

    form = with_dominated_fixed(build_problem(load(args.tier)).form)[0]
    parts = serving_parts(form)
    print(f"{args.tier}: {len(parts)} serving parts; load {os.getloadavg()[0]:.1f}", flush=True)
    lp_opts = SolveOptions(time_limit_s=60.0, mip_rel_gap=1e-5, threads=1)
    mip_opts = SolveOptions(time_limit_s=args.time_limit, mip_rel_gap=1e-5, threads=1)
    groups: dict[tuple[int, bool], dict] = {}
    for part, knapsacks in parts:
        g = groups.setdefault(group_of(part, knapsacks), {"parts": 0, "lp": 0.0, "floor": 0.0, "bound": 0.0,
                                                           "under_floor": 0, "sampled": []})
        g["parts"] += 1
        lp = highs.solve(relaxed(part.form), lp_opts).objective
        floor = sum(lp_floor(sk) for _, _, sk in knapsacks)
        bound = sum(lower_bound(sk) for _, _, sk in knapsacks)
        g["lp"] += lp
        g["floor"] += floor
        g["bound"] += bound
        g["under_floor"] += bound < floor * (1 - 1e-9)
        if len(g["sampled"]) < args.sample:
            c = time.process_time()
            strong = part_with_rows(part).form
            rows_cpu = time.process_time() - c
            with_rows = highs.solve(relaxed(strong), lp_opts).objective
            c = time.process_time()
            milp = highs.solve(part.form, mip_opts)
            g["sampled"].append({"lp": lp, "rows_lp": with_rows, "rows_cpu_s": rows_cpu, "plan": milp.objective,
                                 "milp_bound": milp.bound, "milp_cpu_s": time.process_time() - c,
                                 "status": milp.status})
    print(table(groups))
    if args.json:
        rows = [{"populations": p, "monitored": m, **g} for (p, m), g in sorted(groups.items())]
        args.json.write_text(json.dumps({"tier": args.tier, "groups": rows}, indent=1), encoding="utf-8")
    return 0


def table(groups: dict) -> str:
    """Two tables within 80 columns: the sums per group, then the sampled parts' rows and MILPs."""
    lines = [f"{'pops':>4} {'mon':>3} {'parts':>5} {'LP USD':>13} {'floor USD':>13} {'bound/floor':>11} "
             f"{'<floor':>6}"]
    for (p, m), g in sorted(groups.items()):
        lines.append(f"{p:>4} {'yes' if m else 'no':>3} {g['parts']:>5} {g['lp']:>13,.0f} {g['floor']:>13,.0f} "
                     f"{g['bound'] / max(g['floor'], 1e-9) - 1:>+11.2%} {g['under_floor']:>6}")
    lines += ["", f"{'pops':>4} {'mon':>3} {'n':>2} {'closed':>7} {'rows s':>7} {'MILP open':>9} {'MILP s':>7} "
                  f"{'plan/LP':>8}"]
    for (p, m), g in sorted(groups.items()):
        s = [x for x in g["sampled"] if x["plan"] is not None]
        if not s:
            continue
        lp, rows, plan = (sum(x[k] for x in s) for k in ("lp", "rows_lp", "plan"))
        bound = sum(x["milp_bound"] for x in s)
        closed = (rows - lp) / (plan - lp) if plan - lp > 1e-9 * max(abs(plan), 1.0) else 1.0
        lines.append(f"{p:>4} {'yes' if m else 'no':>3} {len(s):>2} {closed:>7.1%} "
                     f"{sum(x['rows_cpu_s'] for x in s):>7.2f} {(plan - bound) / max(abs(plan), 1e-9):>9.3%} "
                     f"{sum(x['milp_cpu_s'] for x in s):>7.1f} {plan / max(abs(lp), 1e-9) - 1:>+8.2%}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
