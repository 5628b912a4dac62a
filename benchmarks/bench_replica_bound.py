"""The whole-replica bound rows (fleetopt/formulation/replica_bound.py) on a whole tier: root node and solve
without and with them, and per service the LP's bound and the whole-replica bound.

Run: python benchmarks/bench_replica_bound.py [--tier gf|scarce-x1|x10] [--time-limit 60] [--services]
The whole model of the tier goes to HiGHS (single thread, gap 1e-4) four times: root node alone
(mip_max_nodes 1) and a full solve, without and with the replica_bound rows. Printed per run: plan, bound, gap,
nodes, CPU and wall seconds; and the CPU seconds the rows took to compute.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tier", default="gf")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--services", action="store_true", help="also print each service's LP and bound")
    args = parser.parse_args()

    import highspy
    from bench_solve import highs_run, load

    from fleetopt.api import build_problem
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.replica_bound import lower_bound, lp_floor, service_knapsacks, with_replica_bounds

    problem = build_problem(load(args.tier))
    c = time.process_time()
    with_rows = with_replica_bounds(problem.form, problem.serving)
    rows = with_rows.families["replica_bound"].size if "replica_bound" in with_rows.families else 0
    print(f"{args.tier}: {rows} replica_bound rows of {len(problem.serving.service_names)} services, "
          f"{time.process_time() - c:.2f} CPU s")
    if args.services:
        for name, sk in zip(problem.serving.service_names,
                            service_knapsacks(problem.serving, problem.form.blocks["replicas"].cost)):
            print(f"  {name}: LP {lp_floor(sk):,.0f}  whole-replica bound {lower_bound(sk):,.0f}")
    for label, form in (("off", problem.form), ("on", with_rows)):
        for root in (True, False):
            r = highs_run(form, SolveOptions(time_limit_s=args.time_limit, mip_rel_gap=1e-4, threads=1), highspy,
                          max_nodes=1 if root else None)
            plan = f"{r['objective']:,.0f}" if r["objective"] is not None else "none"
            gap = f"{r['gap']:.2e}" if r["gap"] is not None else "-"
            print(f"rows {label:3} {'root' if root else 'solve'}: plan {plan} bound {r['bound']:,.0f} "
                  f"gap {gap} nodes {r['nodes']} CPU {r['cpu_s']:.2f} s wall {r['wall_s']:.2f} s", flush=True)

if __name__ == "__main__":
    main()
