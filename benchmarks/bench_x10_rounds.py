"""Where x10's default solve spends its CPU: per round of pipeline/decompose.py and per part, HiGHS against the rest.

Run: python benchmarks/bench_x10_rounds.py [--tier x10] [--time-limit 300] [--gap 1e-4] [--top 12] [--json out.json]
The tier is built and solved on the default path (api.solve_problem with the instance's options); every dispatch
of parts (decompose._run) is one "call" (the LP apart, then the MILP rounds), and inside it every part's solve
and every part's rows made before its first round (decompose._with_rows_up_front) are timed with
time.thread_time() in the thread that runs them ("thread CPU": HiGHS's own pool threads are not in it; the
process CPU of each call, all threads, is printed beside). Per part it prints its service (the first replica
column's key), status, bound and objective after each round. The machine is shared: read CPU, and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def part_name(form) -> str:
    """The part's first service (replicas block key) or its first column's name."""
    n = form.blocks.get("replicas")
    if n is not None and n.size:
        return str(n.keys[0][0])
    return form.col_names()[0] if form.n_cols else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tier", default="x10")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from bench_solve import load

    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.pipeline import decompose

    calls: list[dict] = []
    original_run, original_rows = decompose._run, decompose._with_rows_up_front
    rows_cpu: dict[str, float] = defaultdict(float)

    def rows_up_front(p):
        t = time.thread_time()
        out = original_rows(p)
        rows_cpu[part_name(p.form)] += time.thread_time() - t
        return out

    def run(backend, parts, opts, deadline, prepare=None):
        solve = backend.solve
        log: dict[int, dict] = {}

        def timed(form, o):
            t = time.thread_time()
            r = solve(form, o)
            log[id(form)] = {"part": part_name(form), "cpu": time.thread_time() - t, "status": r.status,
                             "objective": r.objective, "bound": r.bound, "node_limit": o.node_limit,
                             "rows": form.n_rows, "cols": form.n_cols}
            return r

        backend.solve = timed
        w, c = time.perf_counter(), time.process_time()
        try:
            out = original_run(backend, parts, opts, deadline, prepare)
        finally:
            backend.solve = solve
        calls.append({"parts": len(parts), "wall": time.perf_counter() - w, "process_cpu": time.process_time() - c,
                      "solves": list(log.values())})
        return out

    decompose._run, decompose._with_rows_up_front = run, rows_up_front
    print("load", os.getloadavg(), file=sys.stderr)
    inst = load(args.tier)
    problem = build_problem(inst)
    name, options = options_for(inst, time_limit_s=args.time_limit, mip_rel_gap=args.gap)
    w, c = time.perf_counter(), time.process_time()
    _, result = solve_problem(problem, name, options)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    print(f"status {result.status} objective {result.objective:,.0f} bound {result.bound:,.0f} "
          f"solve wall {wall:.1f} s, process CPU {cpu:.1f} s", file=sys.stderr)
    logged = 0.0
    for k, call in enumerate(calls):
        thread = sum(s["cpu"] for s in call["solves"])
        logged += thread
        print(f"call {k}: {call['parts']} parts, wall {call['wall']:.1f} s, process CPU {call['process_cpu']:.1f} s, "
              f"solves' thread CPU {thread:.1f} s", file=sys.stderr)
        for s in sorted(call["solves"], key=lambda s: -s["cpu"])[:args.top]:
            print(f"    {s['part']:<16} {s['cpu']:6.2f} s  {s['status']:<14} nodes {s['node_limit']:>6} "
                  f"bound {s['bound'] or 0:>13,.0f} obj {s['objective'] or 0:>13,.0f} "
                  f"{s['rows']}x{s['cols']}", file=sys.stderr)
    print(f"rows up front, thread CPU {sum(rows_cpu.values()):.1f} s: "
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(rows_cpu.items(), key=lambda kv: -kv[1])[:args.top]),
          file=sys.stderr)
    print(f"solves' thread CPU {logged:.1f} s of the process's {cpu:.1f} s", file=sys.stderr)
    print("load", os.getloadavg(), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"calls": calls, "rows_cpu": rows_cpu, "wall": wall, "cpu": cpu,
                                         "objective": result.objective, "bound": result.bound}, indent=1))


if __name__ == "__main__":
    main()
