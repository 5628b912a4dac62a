"""Whole-process solve time of global-fleet (issue #12: proven within 1e-4 in under 2 s), before and after a
change, over seeds, beside the instances it must not slow.

    python benchmarks/bench_global_fleet.py [--seeds 0 1 2 3] [--variants before after] [--threads 1]
                                            [--instances global-fleet global-fleet-hourly scarce-x1]
                                            [--time-limit 600] [--base PATH]

Each (instance, variant, seed) runs in a fresh Python process that imports fleetopt, loads the instance, builds
and solves it (what `fleetopt solve` does, without writing the plan): its wall time, its CPU seconds (user +
system, from the parent's rusage of its children) and its peak memory are the process's own. Variants:
  before   SolveOptions.presolve_twins False (no dominated options fixed)
  after    the defaults (formulation/twins.py fixes the options a twin replaces at no loss)
  race     the defaults and two HiGHS runs raced on a whole-model solve (SolveOptions.race = 2)
  plain    the defaults but the carbon rows priced by the plain LP, no parts' rows in the whole model
           (pipeline/solve.STRONG_PRICE off)
  base     the defaults of another checkout (`--base PATH`, e.g. a `git worktree` of an older commit): its
           fleetopt is imported, run in turn with this one's variants, so both see the same load
Instances: a shipped instance's stem, or scarce-x1 (benchmarks/scarce_tiers.py). The load average is printed
beside every line: on a shared machine compare CPU seconds of runs made side by side, with a time limit the load
cannot reach (the instance's own 60 s stops runs early at load ~18, and then CPU seconds compare nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VARIANTS = ("before", "after", "race", "plain", "base")


def _child(instance: str, variant: str, seed: int, threads: int, time_limit_s: float) -> None:
    sys.path.insert(0, str(HERE))
    from fleetopt.io.load import load_instance
    from fleetopt.pipeline.problem import build_problem
    from fleetopt.pipeline.solve import options_for, solve_problem

    if instance.startswith("scarce-x"):
        from scarce_tiers import load_scarce_tier
        inst = load_scarce_tier(int(instance.removeprefix("scarce-x")))
    else:
        inst = load_instance(REPO / "instances" / f"{instance}.yaml")
    name, opts = options_for(inst, seed=seed, threads=threads, time_limit_s=time_limit_s or None)
    opts.presolve_twins = variant != "before"
    opts.race = 2 if variant == "race" else 1
    if variant == "plain":
        from fleetopt.pipeline import solve
        solve.STRONG_PRICE = False
    plan, _ = solve_problem(build_problem(inst), name, opts)
    print(json.dumps({"status": plan.status, "objective": plan.objective, "gap": plan.gap,
                      "solve_s": plan.provenance.timing_s.get("solve")}))


def run_one(instance: str, variant: str, seed: int, threads: int, time_limit_s: float,
            base: Path | None = None) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", instance, variant, str(seed), str(threads),
                          str(time_limit_s)],
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(base if variant == "base" else REPO)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"status": f"failed: {out.stderr.strip()[-200:]}"}
    return {"instance": instance, "variant": variant, "seed": seed, "wall_s": wall, "cpu_s": cpu,
            "load": os.getloadavg()[0], **result}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--variants", nargs="+", default=["before", "after"], choices=VARIANTS)
    ap.add_argument("--instances", nargs="+", default=["global-fleet"])
    ap.add_argument("--threads", type=int, default=1, help="HiGHS threads (0: the instance's solver block)")
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds (0: the instance's solver block)")
    ap.add_argument("--base", type=Path, help="the checkout whose fleetopt the variant `base` runs")
    args = ap.parse_args(argv)
    if "base" in args.variants and args.base is None:
        ap.error("the variant base needs --base PATH")
    if args.child:
        instance, variant, seed, threads, limit = args.child
        _child(instance, variant, int(seed), int(threads), float(limit))
        return
    print(f"{'instance':<20} {'variant':<7} {'seed':>4} {'status':<8} {'objective':>12} {'wall s':>7} "
          f"{'CPU s':>6} {'load':>5} {'gap':>8}")
    for instance in args.instances:
        for seed in args.seeds:
            for variant in args.variants:   # variants side by side, seed by seed
                r = run_one(instance, variant, seed, args.threads, args.time_limit, args.base)
                obj = f"{r['objective']:,.0f}" if r.get("objective") is not None else "-"
                gap = f"{r['gap']:.2e}" if r.get("gap") is not None else "-"
                print(f"{instance:<20} {variant:<7} {seed:>4} {r['status'][:8]:<8} {obj:>12} {r['wall_s']:>7.2f} "
                      f"{r['cpu_s']:>6.2f} {r['load']:>5.1f} {gap:>8}", flush=True)


if __name__ == "__main__":
    main()
