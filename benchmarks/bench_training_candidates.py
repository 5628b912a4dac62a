"""Training-candidate enumeration on the shipped reference instance (instances/global-fleet.yaml).

Run: /tmp/venv/bin/python benchmarks/bench_training_candidates.py
Per job: candidates enumerated / fit in memory / meet the deadline / kept after dominance pruning (the `stats`
of enumerate_training's result), then the enumeration's wall time (median of 5) and peak Python memory
(tracemalloc, one separate run: tracing slows the code, so it is not timed).
"""

import statistics
import time
import tracemalloc

from fleetopt.candidates.training import enumerate_training
from fleetopt.io.load import load_instance
from fleetopt.paths import default_instance

RUNS = 5


def main() -> None:
    inst = load_instance(default_instance())
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        table = enumerate_training(inst)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    enumerate_training(inst)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"instance: {default_instance()}")
    print("| job | enumerated | fit | meet deadline | kept |")
    print("|---|---:|---:|---:|---:|")
    totals = [0, 0, 0, 0]
    for job in table.job_names:
        st = table.stats.get(job, {})
        counts = [st.get(k, 0) for k in ("enumerated", "fit", "meet_deadline", "kept")]
        totals = [a + b for a, b in zip(totals, counts)]
        why = f" ({st['why']})" if st.get("why") else ""
        print(f"| {job}{why} | " + " | ".join(f"{c:,}" for c in counts) + " |")
    print("| total | " + " | ".join(f"{c:,}" for c in totals) + " |")
    print(f"enumeration: median {statistics.median(times):.3f} s over {RUNS} runs "
          f"({', '.join(f'{t:.3f}' for t in times)}); peak traced memory {peak / 1e6:.1f} MB; "
          f"{len(table.job)} candidates in the table")


if __name__ == "__main__":
    main()
