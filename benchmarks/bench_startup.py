"""The whole `fleetopt solve` process and its fixed costs (issue #12: global-fleet proven within 1e-4 in < 2 s,
whole process), as a user runs it: `python -m fleetopt solve INSTANCE -q -o plan.json` in a fresh process.

Run: python benchmarks/bench_startup.py [--repeats 5] [--instances gf,gf-free,tiny] [--code ROOT]
         [--no-bytecode] [--json out.json]
Instances: gf = instances/global-fleet.yaml; gf-free = the same with its carbon budget lifted (230 t -> 100,000 t:
its parts all free); tiny = tests/data/whatif/tiny-fleet.yaml. `--code ROOT` runs the fleetopt found under ROOT
(PYTHONPATH=ROOT), so a checkout of another commit is measured side by side with this one.
Per instance: the median (and range) over the repeats of the process's wall and CPU seconds (user + sys of the
child, all its threads), the plan's provenance.timing_s (candidates, build, solve: wall), and the fixed cost = wall -
the solve stage. Also the imports alone (`-X importtime` of a run on tiny: the top-level modules' cumulative
time) and the CPU of `python -c "import ..."` of what `fleetopt solve` imports. Load averages beside each.
Bytecode: the session's environment may set PYTHONDONTWRITEBYTECODE, which makes every run compile fleetopt's
~100 modules again (~0.15 s); by default a first run writes the caches and the runs are measured without the
variable, as an installed package runs. `--no-bytecode` keeps the variable (nothing cached).
The machine is shared: read CPU beside wall, and compare only runs made side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSTANCES = {"gf": REPO / "instances" / "global-fleet.yaml",
             "tiny": REPO / "tests" / "data" / "whatif" / "tiny-fleet.yaml"}
IMPORTS = ("fleetopt.cli", "fleetopt.api", "fleetopt.explain.explainer", "fleetopt.io.load",
           "fleetopt.pipeline.decompose", "fleetopt.plan.terminal")


def free_variant(folder: Path) -> Path:
    """global-fleet with its carbon budget lifted: every part free (no shared row binds)."""
    text = INSTANCES["gf"].read_text(encoding="utf-8")
    lifted = re.sub(r"carbon_budget_t: 230\b", "carbon_budget_t: 100000", text)
    if lifted == text:
        raise SystemExit("global-fleet.yaml has no `carbon_budget_t: 230` to lift")
    path = folder / "global-fleet-free.yaml"
    path.write_text(lifted, encoding="utf-8")
    return path


def child_env(code: Path, bytecode: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def timed(cmd: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds (user + sys, the child's threads included) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - w
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def solve_runs(instance: Path, repeats: int, env: dict, folder: Path) -> dict:
    out_json = folder / "plan.json"
    runs = []
    for _ in range(repeats):
        load = os.getloadavg()[0]
        wall, cpu, done = timed([sys.executable, "-m", "fleetopt", "solve", str(instance), "-q", "-o",
                                 str(out_json)], env)
        if done.returncode != 0:
            raise SystemExit(f"fleetopt solve {instance} exited {done.returncode}: {done.stderr.strip()[-400:]}")
        plan = json.loads(out_json.read_text(encoding="utf-8"))
        timing = (plan.get("provenance") or {}).get("timing_s", {})
        runs.append({"wall_s": wall, "cpu_s": cpu, "load": load, "status": plan.get("status"),
                     "objective": plan.get("objective"), "timing_s": timing,
                     "fixed_s": wall - timing.get("solve", 0.0)})
    return {"runs": runs, **{f"median_{k}": statistics.median(r[k] for r in runs)
                             for k in ("wall_s", "cpu_s", "fixed_s")},
            "median_solve_s": statistics.median(r["timing_s"].get("solve", 0.0) for r in runs),
            "median_candidates_s": statistics.median(r["timing_s"].get("candidates", 0.0) for r in runs)}


def import_times(env: dict, repeats: int) -> dict:
    """-X importtime of `fleetopt solve tiny` (sum of the top-level modules' cumulative microseconds) and the
    CPU of importing what `fleetopt solve` imports, medians over the repeats."""
    totals, cpus = [], []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "fleetopt", "solve",
                               str(INSTANCES["tiny"]), "-q"], env=env, capture_output=True, text=True, cwd=REPO)
        top = [int(m.group(1)) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \| (\S)", done.stderr)]
        totals.append(sum(top) / 1e6)
        _, cpu, _ = timed([sys.executable, "-c", "import " + ", ".join(IMPORTS)], env)
        cpus.append(cpu)
    return {"importtime_s": statistics.median(totals), "import_cpu_s": statistics.median(cpus)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--instances", default="gf,gf-free,tiny")
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout whose fleetopt runs (PYTHONPATH)")
    ap.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE (nothing cached)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    env = child_env(args.code.resolve(), bytecode=not args.no_bytecode)
    result = {"code": str(args.code.resolve()), "bytecode": not args.no_bytecode, "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "load_before": os.getloadavg(), "instances": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {**INSTANCES, "gf-free": free_variant(folder)}
        if not args.no_bytecode:   # one run writes the bytecode caches the measured runs read
            subprocess.run([sys.executable, "-m", "fleetopt", "solve", str(paths["tiny"]), "-q"], env=env,
                           capture_output=True, cwd=REPO)
        result.update(import_times(env, args.repeats))
        print(f"imports: -X importtime {result['importtime_s']:.3f} s, `import ...` {result['import_cpu_s']:.3f} "
              f"CPU s (load {os.getloadavg()[0]:.1f})", flush=True)
        for name in args.instances.split(","):
            r = result["instances"][name] = solve_runs(paths[name], args.repeats, env, folder)
            walls = [x["wall_s"] for x in r["runs"]]
            cpus = [x["cpu_s"] for x in r["runs"]]
            loads = [x["load"] for x in r["runs"]]
            print(f"{name:8s} wall {r['median_wall_s']:.2f} s ({min(walls):.2f}-{max(walls):.2f}), CPU "
                  f"{r['median_cpu_s']:.2f} s ({min(cpus):.2f}-{max(cpus):.2f}), solve {r['median_solve_s']:.2f}, "
                  f"candidates {r['median_candidates_s']:.2f}, fixed {r['median_fixed_s']:.2f} s; "
                  f"{r['runs'][0]['status']} {r['runs'][0]['objective']:,.0f}; load {min(loads):.1f}-{max(loads):.1f}",
                  flush=True)
    result["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
