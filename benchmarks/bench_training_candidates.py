"""Training-candidate enumeration on global-fleet and the scale tiers (benchmarks/scale_tiers.py), before and after
the shared step-time tables, in one run.

Run: python benchmarks/bench_training_candidates.py [--tiers gf,x10,x100] [--reference gf,x10] [--runs 5]
Per tier: candidates enumerated / fit in memory / meet the deadline / kept after dominance pruning (the `stats`
of enumerate_training's result) for global-fleet, then the enumeration's wall and CPU time (median of --runs on
global-fleet, one run on a tier) and its peak Python memory (tracemalloc, a separate run: tracing slows the code)
and the process's peak RSS. Tiers named in --reference are also enumerated by the plain per-job enumeration
(tests/training_reference.py, the code before the tables were shared), timed the same way, and the two tables
are compared column by column: the speed-up is measured in one run, on one machine load.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from scale_tiers import load_tier  # noqa: E402

from fleetopt.candidates.training import enumerate_training  # noqa: E402
from fleetopt.io.load import load_instance  # noqa: E402
from fleetopt.paths import default_instance  # noqa: E402


def load(tier: str):
    return load_instance(default_instance()) if tier == "gf" else load_tier(int(tier.lstrip("x")), seed=0)


def timed(fn, inst, runs: int) -> tuple[object, list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        table = fn(inst)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return table, walls, cpus


def traced_mb(fn, inst) -> float:
    tracemalloc.start()
    fn(inst)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def same_table(a, b) -> bool:
    arrays = [k for k in a.__dataclass_fields__ if isinstance(getattr(a, k), np.ndarray)]
    return a.stats == b.stats and all(np.array_equal(getattr(a, k), getattr(b, k)) for k in arrays)


def stats_table(table) -> list[str]:
    lines = ["| job | enumerated | fit | meet deadline | kept |", "|---|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0]
    for job in table.job_names:
        st = table.stats.get(job, {})
        counts = [st.get(k, 0) for k in ("enumerated", "fit", "meet_deadline", "kept")]
        totals = [a + b for a, b in zip(totals, counts)]
        why = f" ({st['why']})" if st.get("why") else ""
        lines.append(f"| {job}{why} | " + " | ".join(f"{c:,}" for c in counts) + " |")
    lines.append("| total | " + " | ".join(f"{c:,}" for c in totals) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", default="gf,x10")
    parser.add_argument("--reference", default="gf,x10", help="tiers to time the plain enumeration on too")
    parser.add_argument("--runs", type=int, default=5, help="runs on global-fleet (tiers: one)")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args()
    import training_reference

    reference = set(filter(None, args.reference.split(",")))
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    for tier in args.tiers.split(","):
        inst = load(tier)
        runs = args.runs if tier == "gf" else 1
        table, walls, cpus = timed(enumerate_training, inst, runs)
        if tier == "gf":
            print("\n".join(stats_table(table)))
        line = (f"{tier}: {len(inst.training)} jobs, {len(inst.regions)} regions, {len(table):,} kept; "
                f"shared tables: median {statistics.median(walls):.3f} s wall, {statistics.median(cpus):.3f} s CPU "
                f"({', '.join(f'{t:.3f}' for t in walls)})")
        if not args.no_trace:
            line += f", peak traced {traced_mb(enumerate_training, inst):.1f} MB"
        print(line, flush=True)
        if tier in reference:
            old, old_walls, old_cpus = timed(training_reference.enumerate_training, inst, runs)
            print(f"{tier}: plain enumeration: median {statistics.median(old_walls):.3f} s wall, "
                  f"{statistics.median(old_cpus):.3f} s CPU ({', '.join(f'{t:.3f}' for t in old_walls)}); "
                  f"CPU ratio {statistics.median(old_cpus) / statistics.median(cpus):.1f}x; "
                  f"same table: {same_table(table, old)}", flush=True)
        print(f"{tier}: peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
