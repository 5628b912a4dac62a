"""How high can any prices lift the bound? An instance's Dantzig-Wolfe bound, by column generation.

Run: python benchmarks/bench_duality_gap.py [--tier scarce-x1] [--plan-limit 60] [--part-limit 120] [--rounds 40]
         [--whole 0] [--json out.json]
Tiers as bench_solve.py. Priced at its shared rows (stock, power, storage, links, carbon), a model falls apart
into one part per job and per service, and every price vector p gives the Lagrangian bound L(p) that
pipeline/lagrange.py raises round by round. No p bounds higher than z_DW, the LP over convex mixes of each part's
plans that meets the shared rows (Geoffrion 1974, "Lagrangean relaxation for integer programming", Math. Prog.
Study 2: the Lagrangian dual equals that LP). Column generation brackets it:
  master   the LP over the plans pooled so far (pipeline/master.mixed_plans): at least z_DW
  L        at the master's duals, every part solved to optimality (within --part-limit): at most z_DW
Each round adds the parts' plans whose priced cost lies under their part's dual; when none does and every part
was proven, master = z_DW.
The pool starts from the plan `fleetopt solve` finds on the priced path (--plan-limit). With --whole S the whole
model then runs S seconds from that plan for a bound on the optimum itself: where that bound lies above master,
the plan's remaining gap cannot be proven by any prices, only by branching on how the shared rows are split.
scarce-x1 on 2026-12-02 (benchmarks/RESULTS.md, "What prices can prove"): z_DW in [4,724,158, 4,724,166]
against the optimum 4,739,955 (proven within 1e-4 by the whole model in 187 s): no prices prove it within 0.3%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Bracket:
    """Column generation's rounds: per round the master LP (above z_DW), L at its duals (below), plans added."""
    master: list[float] = field(default_factory=list)
    lagrangian: list[float] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    converged: bool = False

    @property
    def best_lagrangian(self) -> float:
        return max(self.lagrangian, default=-np.inf)


def dantzig_wolfe(form, x_start: np.ndarray, part_limit: float, rounds: int, workers: int = 1,
                  progress=None) -> Bracket:
    """Column generation over the parts of `form` split at its shared rows, from the plan `x_start` (which meets
    every row, so the master has a mix from the first round). Parts solved by HiGHS to 1e-9 within part_limit s
    each, `workers` at a time; a part stopped by its limit still gives its proven bound to L."""
    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions, proven_bound
    from fleetopt.errors import OPTIMAL
    from fleetopt.formulation.split import components, shared_rows, split, with_cost
    from fleetopt.pipeline.lagrange import _constant
    from fleetopt.pipeline.master import PlanPool, mixed_plans

    shared = shared_rows(form)
    lower, upper = (v[shared] for v in form.row_bounds())
    cost = form.col_arrays()[0]
    a_shared = form.matrix()[np.flatnonzero(shared)].tocsr()
    parts = split(form, components(form, ~shared), ~shared)
    pool = PlanPool(parts, a_shared, cost)
    pool.add_whole(x_start)
    opts = SolveOptions(threads=1, time_limit_s=part_limit, mip_rel_gap=1e-9)
    out = Bracket()
    with ThreadPoolExecutor(max(workers, 1)) as run:
        for k in range(rounds):
            mixed = mixed_plans(pool, lower, upper, 1, time.monotonic() + 600.0)
            if mixed is None:      # the start meets every row, so only a failed LP gets here
                break
            priced = cost + a_shared.T @ mixed.prices
            results = list(run.map(highs.solve, [with_cost(q, priced[q.cols]).form for q in parts],
                                   [opts] * len(parts)))
            added = 0
            for i, r in enumerate(results):
                tol = 1e-9 * max(1.0, abs(mixed.part_duals[i]))
                if r.x is not None and r.objective < mixed.part_duals[i] - tol:
                    added += pool.add(i, r.x)
            value = sum(proven_bound(r) for r in results) - _constant(mixed.prices, lower, upper)
            out.master.append(mixed.value)
            out.lagrangian.append(float(value))
            out.added.append(added)
            if progress is not None:
                progress(k, out)
            if not added:     # the master is z_DW where every part's plan is proven its optimum
                out.converged = all(r.status == OPTIMAL for r in results)
                break
    return out


def _row(k, b: Bracket) -> str:
    return f"{k:>5} {b.master[-1]:>16,.0f} {b.lagrangian[-1]:>16,.0f} {b.best_lagrangian:>16,.0f} {b.added[-1]:>7}"


def main(argv: list[str] | None = None) -> int:
    from bench_solve import TIERS, load

    from fleetopt.api import build_problem, options_for
    from fleetopt.backends import highs
    from fleetopt.backends.result import proven_bound
    from fleetopt.pipeline.solve import solve_problem

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="scarce-x1", choices=sorted(TIERS))
    parser.add_argument("--plan-limit", type=float, default=60.0, help="the start plan's solve, s (default 60)")
    parser.add_argument("--part-limit", type=float, default=120.0, help="each part's MILP, s (default 120)")
    parser.add_argument("--rounds", type=int, default=40, help="column-generation rounds at most (default 40)")
    parser.add_argument("--whole", type=float, default=0.0, help="the whole model from the plan, s (0: not run)")
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args(argv)

    inst = load(args.tier)
    problem = build_problem(inst)
    name, options = options_for(inst, time_limit_s=args.plan_limit)
    started = time.monotonic()
    _, plan = solve_problem(problem, name, replace(options, price_shared=True))
    if plan is None or plan.x is None:
        print(f"{args.tier}: no plan in {args.plan_limit:g} s ({plan.status if plan else 'screened out'})")
        return 1
    print(f"{args.tier}: plan {plan.objective:,.0f}, its bound {proven_bound(plan):,.0f} "
          f"({time.monotonic() - started:.1f} s, priced path)", flush=True)
    print(f"{'round':>5} {'master (>= zDW)':>16} {'L (<= zDW)':>16} {'best L':>16} {'added':>7}", flush=True)
    bracket = dantzig_wolfe(problem.form, plan.x, args.part_limit, args.rounds, workers=os.cpu_count() or 1,
                            progress=lambda k, b: print(_row(k, b), flush=True))
    best_plan, optimum_bound = plan.objective, proven_bound(plan)
    if args.whole > 0:
        whole = highs.solve(problem.form, replace(options, start=plan.x, time_limit_s=args.whole, threads=1))
        optimum_bound = max(optimum_bound, proven_bound(whole))
        if whole.objective is not None:    # it starts from the plan, so it ends with one unless it failed
            best_plan = min(best_plan, whole.objective)
        print(f"whole model from the plan, {args.whole:g} s: plan {best_plan:,.0f}, "
              f"bound {proven_bound(whole):,.0f} ({whole.status})")
    z_low, z_high = bracket.best_lagrangian, min(bracket.master, default=np.inf)
    print(f"z_DW in [{z_low:,.0f}, {z_high:,.0f}]" + ("" if bracket.converged else " (not converged)"))
    print(f"the best plan lies {100 * (best_plan - z_high) / best_plan:.3f}% or more above any prices' bound")
    if optimum_bound > z_high:
        print(f"the optimum lies {100 * (optimum_bound - z_high) / optimum_bound:.3f}% or more above it: only "
              "branching proves that part")
    if args.json:
        args.json.write_text(json.dumps({
            "tier": args.tier, "plan": best_plan, "optimum_bound": optimum_bound, "z_dw_low": z_low,
            "z_dw_high": z_high, "converged": bracket.converged, "master": bracket.master,
            "lagrangian": bracket.lagrangian, "added": bracket.added}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
