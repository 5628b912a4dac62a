"""Plans over time slices: solve time of global-fleet as its horizon is cut into 1, 6, 24 and 96 slices.

Run: python benchmarks/bench_time_slices.py [--slices 1,6,24,96] [--gap 1e-3] [--time-limit 120] [--json out.json]
         [--instance global-fleet | global-fleet-hourly]

--instance global-fleet-hourly (issue #13's target) plans the shipped hourly instance with its own profiles: 24
slices as shipped (one representative day), 96 with representative_days 4, and 6 and 1 its 24 hourly slices
merged into blocks of 4 hours and into one slice (values averaged over the hours merged, weights summed).

The profiles are made up (a typical day), not measured: every region's grid intensity swings +-40% around its
constant over the day with its cleanest hour at local midday (solar; longitudes from the region's name), every
population's demand swings +-30% around its constant with its peak at 20:00 local, and every training job may
pause. 1 slice is the static (version 1) model; 6 slices are 4-hour blocks of the typical day; 24 are its hours;
96 are 4 representative days of 24 hours (days of the 30-day horizon assigned round robin, each day scaled
0.85/0.95/1.05/1.15 in intensity). Each size runs in its own child process; wall and CPU seconds of the solve
(candidates and build apart), the status, gap, objective and model size are printed and optionally saved.
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

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# UTC hour of local noon per region and of the evening peak per population (made up from the names)
NOON_UTC = {"us-east": 17, "us-central": 18, "us-west": 20, "eu-west": 12, "eu-north": 11, "ap-south": 7,
            "ap-east": 4}
EVENING_UTC = {"us-users": 1, "eu-users": 19, "apac-users": 12, "latam-users": 23}
DAY_SCALE = (0.85, 0.95, 1.05, 1.15)


def hourly_profiles(inst) -> dict[str, np.ndarray]:
    """[24] per instance path: a made-up typical day around each constant."""
    hour = np.arange(24)
    out = {}
    for r, reg in inst.regions.items():
        noon = NOON_UTC.get(r, 12)
        out[f"regions.{r}.carbon_g_per_kwh"] = reg.mean_carbon_g_per_kwh * (
            1 - 0.4 * np.cos(2 * np.pi * (hour - noon) / 24))
    for s, svc in inst.serving.items():
        for u, d in svc.demand_rps.items():
            peak = EVENING_UTC.get(u, 20)
            out[f"serving.{s}.demand_rps.{u}"] = d * (1 + 0.3 * np.cos(2 * np.pi * (hour - peak) / 24))
    return out


def timeline(inst, slices: int):
    """The horizon as `slices` slices (1, 6, 24 or 96) of the made-up typical day."""
    from fleetopt.io.timeline import Timeline
    days = int(inst.horizon_hours // 24)
    hourly = hourly_profiles(inst)
    if slices == 1:
        return Timeline.static(inst.horizon_hours)
    if slices in (6, 24):
        width = 24 // slices
        blocks = [np.arange(b * width, (b + 1) * width) for b in range(slices)]
        return Timeline(step_hours=1.0, weights=np.full(slices, float(days * width)),
                        start_hour=np.array([float(b[0]) for b in blocks]), day=np.zeros(slices, dtype=np.int64),
                        members=tuple(np.sort((np.arange(days)[:, None] * 24 + b[None, :]).ravel()) for b in blocks),
                        values={p: np.array([v[b].mean() for b in blocks]) for p, v in hourly.items()})
    if slices == 96:
        k = len(DAY_SCALE)
        cluster = np.arange(days) % k
        members, weights, start, day, values = [], [], [], [], {p: [] for p in hourly}
        for c in range(k):
            mine = np.flatnonzero(cluster == c)
            for h in range(24):
                members.append(mine * 24 + h)
                weights.append(float(len(mine)))
                start.append(float(mine[0] * 24 + h))
                day.append(c)
                for p, v in hourly.items():
                    values[p].append(v[h] * (DAY_SCALE[c] if ".carbon_g_per_kwh" in p else 1.0))
        return Timeline(step_hours=1.0, weights=np.array(weights), start_hour=np.array(start),
                        day=np.array(day, dtype=np.int64), members=tuple(members),
                        values={p: np.array(v) for p, v in values.items()})
    raise SystemExit(f"slices must be 1, 6, 24 or 96, not {slices}")


def merged(tl, blocks: int):
    """The one-day timeline `tl` with its slices merged into `blocks` equal blocks of consecutive hours."""
    from fleetopt.io.timeline import Timeline
    w = np.asarray(tl.weights, dtype=float)
    groups = np.array_split(np.argsort(np.asarray(tl.start_hour, dtype=float) % 24, kind="stable"), blocks)
    return Timeline(step_hours=tl.step_hours, weights=np.array([w[g].sum() for g in groups]),
                    start_hour=np.array([float(tl.start_hour[g[0]]) for g in groups]),
                    day=np.zeros(blocks, dtype=np.int64),
                    members=tuple(np.sort(np.concatenate([tl.members[i] for i in g])) for g in groups),
                    values={p: np.array([np.average(np.asarray(v)[g], weights=w[g]) for g in groups])
                            for p, v in tl.values.items()})


def hourly_instance(slices: int):
    """global-fleet-hourly with `slices` slices from its own profiles (module docstring)."""
    import yaml

    from fleetopt.io.load import load_document
    path = REPO / "instances" / "global-fleet-hourly.yaml"
    data = yaml.safe_load(path.read_text())
    data["time"]["representative_days"] = 4 if slices == 96 else 1
    inst = load_document(data, path)
    if slices in (1, 6):
        inst._timeline = merged(inst.timeline, slices)
    elif slices not in (24, 96):
        raise SystemExit(f"slices must be 1, 6, 24 or 96, not {slices}")
    return inst


def run_one(slices: int, gap: float, time_limit: float, instance: str = "global-fleet") -> dict:
    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.io.load import load_instance
    from fleetopt.verify import verify_plan
    if instance == "global-fleet-hourly":
        inst = hourly_instance(slices)
    else:
        inst = load_instance(REPO / "instances" / "global-fleet.yaml")
        if slices > 1:
            for job in inst.training.values():
                job.pausable = True
        inst._timeline = timeline(inst, slices)
    t0, c0 = time.perf_counter(), time.process_time()
    problem = build_problem(inst)
    built, built_cpu = time.perf_counter() - t0, time.process_time() - c0
    name, options = options_for(inst, mip_rel_gap=gap, time_limit_s=time_limit)
    t0, c0 = time.perf_counter(), time.process_time()
    plan, _ = solve_problem(problem, name, options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    report = verify_plan(inst, plan) if plan.has_plan else None
    size = problem.form.summary()
    return {"process_cpu_s": round(time.process_time(), 2),   # the whole child: imports, build, solve, verify
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load": [round(v, 2) for v in os.getloadavg()],
            "slices": slices, "status": plan.status, "detail": plan.detail, "gap": plan.gap,
            "objective": plan.objective,
            "carbon_t": plan.totals.carbon_t if plan.totals else None, "build_s": round(built, 2),
            "build_cpu_s": round(built_cpu, 2), "solve_s": round(wall, 2), "solve_cpu_s": round(cpu, 2),
            "columns": size["columns"], "rows": size["rows"], "verified": report.holds if report else None,
            "violations": report.lines()[:5] if report else [],
            "parts": (plan.provenance.decomposition or {}).get("parts")}


def _gap(gap) -> str:
    return "-" if gap is None else f"{gap:.2e}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", default="1,6,24,96")
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--json")
    ap.add_argument("--instance", default="global-fleet", choices=("global-fleet", "global-fleet-hourly"))
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)   # the child process
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.gap, args.time_limit, args.instance)))
        return
    rows = []
    for s in [int(v) for v in args.slices.split(",")]:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--one", str(s), "--gap", str(args.gap), "--time-limit",
                              str(args.time_limit), "--instance", args.instance], capture_output=True, text=True,
                             check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        r["process_wall_s"] = round(time.perf_counter() - started, 2)   # the whole child: imports to exit
        print(f"{r['slices']:>3} slices  {r['columns']:>6} cols {r['rows']:>6} rows  build {r['build_s']:>5} s  "
              f"solve {r['solve_s']:>6} s (cpu {r['solve_cpu_s']:>6})  {r['status']:<18} gap "
              f"{_gap(r['gap'])}  obj {r['objective']}  "
              f"verified {r['verified']}", flush=True)
        print(f"      whole process {r['process_wall_s']} s wall, {r['process_cpu_s']} s cpu, "
              f"{r['peak_rss_mb']} MB peak, load {r['load']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
