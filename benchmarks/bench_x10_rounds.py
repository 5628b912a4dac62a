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
import threading
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


def tail(events: list[dict], start: float, end: float) -> dict:
    """A call's serial tail: from when the first of its threads ran out of parts to the call's end, and what ran
    in it (the parts whose work ended last, with their rows' and solve's wall seconds)."""
    if not events:
        return {"threads": 0, "idle_from": 0.0, "seconds": 0.0, "last": []}
    last_end = defaultdict(float)
    for e in events:
        last_end[e["thread"]] = max(last_end[e["thread"]], e["end"])
    idle_from = min(last_end.values()) if len(last_end) > 1 else end
    late = sorted((e for e in events if e["end"] > idle_from), key=lambda e: e["start"])
    return {"threads": len(last_end), "idle_from": idle_from - start, "seconds": end - idle_from,
            "last": [(e["kind"], e["part"], round(e["start"] - start, 2), round(e["end"] - start, 2),
                      round(e["cpu"], 2)) for e in late]}


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
    original_open_rows = decompose._open_part_rows
    rows_cpu: dict[str, float] = defaultdict(float)
    events: list[dict] = []   # the current call's timeline: what ran in which thread, from when to when

    def timed_event(kind, name, fn, *a):
        w, t = time.perf_counter(), time.thread_time()
        out = fn(*a)
        events.append({"kind": kind, "part": name, "thread": threading.get_ident(), "start": w,
                       "end": time.perf_counter(), "cpu": time.thread_time() - t})
        return out

    def rows_up_front(p):
        t = time.thread_time()
        out = timed_event("rows", part_name(p.form), original_rows, p)
        rows_cpu[part_name(p.form)] += time.thread_time() - t
        return out

    def open_rows(p, slices=frozenset(), flow_services=None):
        more = () if flow_services is None else (flow_services,)   # main before 2026-12-01 takes two
        return timed_event("rows", part_name(p.form), original_open_rows, p, slices, *more)

    def run(backend, parts, opts, deadline, prepare=None, in_order=False, after=None):
        solve = backend.solve
        log: dict[int, dict] = {}

        def timed(form, o):
            t = time.thread_time()
            r = timed_event("solve", part_name(form), solve, form, o)
            log[id(form)] = {"part": part_name(form), "cpu": time.thread_time() - t, "status": r.status,
                             "objective": r.objective, "bound": r.bound, "node_limit": o.node_limit,
                             "rows": form.n_rows, "cols": form.n_cols}
            return r

        backend.solve = timed
        w, c = time.perf_counter(), time.process_time()
        events.clear()
        try:
            out = original_run(backend, parts, opts, deadline, prepare, in_order,
                               **({} if after is None else {"after": after}))
        finally:
            backend.solve = solve
        end = time.perf_counter()
        calls.append({"parts": len(parts), "wall": end - w, "process_cpu": time.process_time() - c,
                      "solves": list(log.values()), "tail": tail(events, w, end),
                      "events": [{**e, "start": e["start"] - w, "end": e["end"] - w} for e in events]})
        return out

    decompose._run, decompose._with_rows_up_front = run, rows_up_front
    decompose._open_part_rows = open_rows
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
        t = call["tail"]
        if t["threads"] > 1:
            print(f"  tail: one thread idle from {t['idle_from']:.2f} s, {t['seconds']:.2f} s alone: "
                  + ", ".join(f"{k} {p} {a}-{b} s ({c} CPU)" for k, p, a, b, c in t["last"]), file=sys.stderr)
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
