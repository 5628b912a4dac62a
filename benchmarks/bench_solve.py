"""The joint fleet MILP at scale: global-fleet, the generated x10 and x100 tiers (benchmarks/scale_tiers.py) and
the scarce tiers scarce-x1, scarce-x10, scarce-x100 (benchmarks/scarce_tiers.py: stock and power bind).

Run: python benchmarks/bench_solve.py [--tiers gf,x10,x100,scarce-x1] [--json out.json] [--no-pyomo x100]
         [--time-limit 60] [--root]
(--root: the model is solved a second time, stopped after the root node, for the root gap.)
Each tier runs in its own child process (so the process's peak RSS is that tier's), through the stages of
fleetopt.api with a timer around each:
    load        validate the document (load_document)
    candidates  enumerate training, serving and monitoring candidates
    build       the solver-neutral formulation (formulation/families.py)
    translate   highs: to_lp + passModel (the arrays handed over)
    solve       Highs.run()
    extract     the column vector read back into a Plan (extract.py), binding rows included
"outside the solver" is build + translate + extract (the work fleetopt adds around HiGHS on the direct path);
candidates are shown apart. CPU seconds (process time, all threads) sit next to wall seconds because the
machine is shared: a loaded machine stretches wall time, not CPU time. Then, untimed: tracemalloc's peak of
Python allocations over candidates + build + translate (HiGHS's own C++ memory is not traced; RSS shows it),
and Pyomo's build_model on the same formulation, timed against translate.
global-fleet also runs as a whole `fleetopt solve -q` process (median of 3).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TIERS = {"gf": 1, "x10": 10, "x100": 100, "scarce-x1": 1, "scarce-x10": 10, "scarce-x100": 100}
TIME_LIMIT_S = {"gf": 600.0, "x10": 600.0, "x100": 300.0, "scarce-x1": 60.0, "scarce-x10": 60.0,
                "scarce-x100": 300.0}
CLI_RUNS = 3


def load(tier: str):
    """global-fleet, a scale tier (scale_tiers.py) or a scarce tier (scarce_tiers.py: stock and power bind)."""
    from fleetopt.io.load import load_instance
    from fleetopt.paths import default_instance
    from scale_tiers import load_tier
    from scarce_tiers import load_scarce_tier

    if tier == "gf":
        return load_instance(default_instance())
    return (load_scarce_tier if tier.startswith("scarce") else load_tier)(TIERS[tier], seed=0)


class Clock:
    """Wall and CPU seconds of each stage, in order."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, stage: str, fn, *args):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.wall[stage] = time.perf_counter() - w
        self.cpu[stage] = time.process_time() - c
        return out


def highs_run(form, options, highspy, max_nodes: int | None = None) -> dict:
    """One HiGHS run of `form` (stopped after `max_nodes` nodes when given): wall and CPU s, bound, plan, gap, nodes."""
    from fleetopt.backends.highs import new_highs, to_lp

    h = new_highs(options)
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", max_nodes)
    h.passModel(to_lp(form, highspy))
    w, c = time.perf_counter(), time.process_time()
    h.run()
    info = h.getInfo()
    has_plan = info.primal_solution_status == 2
    return {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c,
            "bound": float(info.mip_dual_bound),
            "objective": float(info.objective_function_value) if has_plan else None,
            "gap": float(info.mip_gap) if has_plan else None, "nodes": int(info.mip_node_count)}


def root_node(form, options, highspy) -> dict:
    """The same model stopped after its root node (mip_max_nodes = 1): the plan and bound HiGHS has there."""
    run = highs_run(form, options, highspy, max_nodes=1)
    return {f"root_{key}": run[key] for key in ("wall_s", "cpu_s", "bound", "objective", "gap")}


def run_tier(tier: str, pyomo: bool, threads: int, time_limit_s: float | None = None, root: bool = False) -> dict:
    import highspy
    import numpy as np

    from fleetopt.api import build_problem, options_for
    from fleetopt.backends.highs import new_highs, to_lp
    from fleetopt.plan.extract import binding_rows, monitoring_decisions, serving_decisions, totals, training_decisions

    load_before = os.getloadavg()
    clock = Clock()
    inst = clock("load", load, tier)
    problem = build_problem(inst)
    clock.wall.update(problem.timing)  # candidates, build: wall only (api times them)
    form, tc, sc, mon = problem.form, problem.training, problem.serving, problem.monitoring
    screened = problem.screening_problems()
    _, options = options_for(inst, time_limit_s=time_limit_s or TIME_LIMIT_S[tier], threads=threads)

    def translate():
        h = new_highs(options)
        h.passModel(to_lp(form, highspy))
        return h

    h = clock("translate", translate)
    clock("solve", h.run)
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    x = np.asarray(h.getSolution().col_value, dtype=float) if info.primal_solution_status == 2 else None

    def extract():
        training = training_decisions(tc, x, form)
        serving = serving_decisions(sc, x, form)
        monitoring_decisions(sc, mon, x, form, serving)
        totals(inst, training, serving)
        binding_rows(form, x)

    if x is not None:
        clock("extract", extract)
    summary = form.summary()
    _, _, _, integer = form.col_arrays()
    out = {
        "tier": tier, "regions": len(inst.regions), "training_jobs": len(inst.training),
        "services": len(inst.serving), "populations": len(inst.populations), "screening": screened,
        "training_candidates": len(tc), "serving_options": len(sc), "routes": len(sc.route_option),
        "monitored_triples": len(mon), "columns": summary["columns"], "integer_columns": int(integer.sum()),
        "rows": summary["rows"], "nonzeros": summary["nonzeros"],
        "status": status, "objective": float(info.objective_function_value) if x is not None else None,
        "bound": float(info.mip_dual_bound), "gap": float(info.mip_gap) if x is not None else None,
        "nodes": int(info.mip_node_count), "time_limit_s": options.time_limit_s, "mip_rel_gap": options.mip_rel_gap,
        "threads": threads, "wall_s": clock.wall, "cpu_s": clock.cpu,
        "load_avg_before": load_before,
    }
    del h
    if root:
        out.update(root_node(form, options, highspy))
    out["tracemalloc_peak_mb"] = traced_peak_mb(inst, highspy)
    if pyomo:
        from fleetopt.backends.pyomo_backend import build_model

        w = time.perf_counter()
        model = build_model(form)
        out["pyomo_build_s"] = time.perf_counter() - w
        del model
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_avg_after"] = os.getloadavg()
    return out


def traced_peak_mb(inst, highspy) -> float:
    """Peak Python allocations over candidates + build + translate (a separate run: tracing slows it)."""
    from fleetopt.api import build_problem
    from fleetopt.backends.highs import quiet_highs, to_lp

    tracemalloc.start()
    problem = build_problem(inst)
    quiet_highs().passModel(to_lp(problem.form, highspy))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def cli_runs() -> list[float]:
    """Wall time of the whole `fleetopt solve -q` process on global-fleet."""
    exe = Path(sys.executable).with_name("fleetopt")
    times = []
    for _ in range(CLI_RUNS):
        start = time.perf_counter()
        done = subprocess.run([str(exe), "solve", "-q"], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"fleetopt solve -q exited {done.returncode}: {done.stderr[-2000:]}")
    return times


def tier_in_child(tier: str, pyomo: bool, threads: int, memory_gb: float, time_limit_s: float | None = None,
                  root: bool = False) -> dict:
    """One tier in a fresh interpreter, so ru_maxrss is that tier's alone."""
    cmd = [sys.executable, __file__, "--child", tier, "--threads", str(threads), "--memory-gb", str(memory_gb)]
    cmd += [] if pyomo else ["--no-pyomo-child"]
    cmd += ["--time-limit", str(time_limit_s)] if time_limit_s else []
    cmd += ["--root"] if root else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return {"tier": tier, "failed": f"exit code {done.returncode}: {done.stderr[-3000:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def outside_share(r: dict) -> float:
    w = r["wall_s"]
    outside = w["build"] + w["translate"] + w.get("extract", 0.0)
    return outside / (outside + w["solve"])


def report(results: list[dict], cli: list[float] | None) -> str:
    lines = []
    if cli:
        lines.append(f"`fleetopt solve -q` on global-fleet, whole process: median {statistics.median(cli):.2f} s "
                     f"({', '.join(f'{t:.2f}' for t in cli)})\n")
    for r in results:
        if "failed" in r:
            lines += [f"### {r['tier']}: failed ({r['failed']})", ""]
            continue
        w, c = r["wall_s"], r["cpu_s"]
        total = sum(w[k] for k in ("load", "candidates", "build", "translate", "solve", "extract") if k in w)
        lines += [f"### {r['tier']}: {r['regions']} regions, {r['training_jobs']} training jobs, "
                  f"{r['services']} services, {r['populations']} populations",
                  "",
                  f"Model: {r['columns']:,} columns ({r['integer_columns']:,} integer), {r['rows']:,} rows, "
                  f"{r['nonzeros']:,} nonzeros; {r['training_candidates']:,} training candidates, "
                  f"{r['serving_options']:,} serving options, {r['routes']:,} routes, "
                  f"{r['monitored_triples']:,} monitored triples. HiGHS: {r['status']}, objective "
                  f"{r['objective'] or float('nan'):,.0f}, gap {r['gap'] or float('nan'):.2e} (target "
                  f"{r['mip_rel_gap']:g}), {r['nodes']:,} nodes, time limit {r['time_limit_s']:g} s."
                  + (f" Root node alone: gap {r['root_gap'] or float('nan'):.2e}, bound {r['root_bound']:,.0f}, "
                     f"{r['root_wall_s']:.1f} s wall, {r['root_cpu_s']:.1f} s CPU." if "root_bound" in r else "")
                  + f" Load average {r['load_avg_before'][0]:.2f} before, {r['load_avg_after'][0]:.2f} after.",
                  "",
                  "| stage | wall s | CPU s |", "|---|---:|---:|"]
        for stage in ("load", "candidates", "build", "translate", "solve", "extract"):
            if stage in w:
                cpu = f"{c[stage]:.3f}" if stage in c else "-"
                lines.append(f"| {stage} | {w[stage]:.3f} | {cpu} |")
        lines.append(f"| total | {total:.3f} | |")
        lines.append(f"| outside the solver (build + translate + extract) | {outside_share(r):.1%} of "
                     "build..extract | |")
        if "pyomo_build_s" in r:
            lines.append(f"| Pyomo build_model (vs translate) | {r['pyomo_build_s']:.3f} "
                         f"({r['pyomo_build_s'] / w['translate']:.0f}x) | |")
        lines.append(f"| peak memory | {r['tracemalloc_peak_mb']:.0f} MB traced, {r['maxrss_mb']:.0f} MB RSS | |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", default="gf,x10,x100")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-pyomo", default="", help="tiers to skip Pyomo's build_model on, e.g. x100")
    parser.add_argument("--threads", type=int, default=0, help="HiGHS threads (0 = its default)")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--memory-gb", type=float, default=12.0,
                        help="address-space cap of each tier's process: a MemoryError there, not the OOM killer "
                             "on a shared machine (x100 enumeration needs ~60 GB at present)")
    parser.add_argument("--time-limit", type=float, help="seconds, instead of the tier's default")
    parser.add_argument("--root", action="store_true", help="also solve the root node alone (mip_max_nodes 1)")
    parser.add_argument("--child")
    parser.add_argument("--no-pyomo-child", action="store_true")
    args = parser.parse_args()
    if args.child:
        cap = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(run_tier(args.child, not args.no_pyomo_child, args.threads, args.time_limit, args.root)))
        return
    cli = None if args.no_cli or "gf" not in args.tiers.split(",") else cli_runs()
    skip = set(filter(None, args.no_pyomo.split(",")))
    results = []
    for tier in args.tiers.split(","):
        results.append(tier_in_child(tier, tier not in skip, args.threads, args.memory_gb, args.time_limit,
                                     args.root))
        print(f"[{tier} done]", file=sys.stderr, flush=True)
        if args.json:  # after every tier: a later tier may run out of time or memory
            args.json.write_text(json.dumps({"cli_s": cli, "tiers": results}, indent=2))
    print(report(results, cli))


if __name__ == "__main__":
    main()
