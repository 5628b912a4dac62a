"""The whole `fleetopt solve` process and its fixed costs (issue #12: global-fleet proven within 1e-4 in < 2 s,
whole process), as a user runs it: `python -m fleetopt solve INSTANCE -q -o plan.json` in a fresh process.

Run: python benchmarks/bench_startup.py [--repeats 5] [--instances gf,gf-free,tiny] [--code ROOT]
         [--against ROOT] [--no-bytecode] [--seeds] [--json out.json]
Instances: gf = instances/global-fleet.yaml; gf-free = the same with its carbon budget lifted (230 t -> 100,000 t:
its parts all free); tiny = tests/data/whatif/tiny-fleet.yaml. `--code ROOT` runs the fleetopt found under ROOT
(PYTHONPATH=ROOT); `--against ROOT` runs another checkout's too, one run of each in turn (so both see the
same load), and prints the ratio of the medians.
Per instance: the median (and range) over the repeats of the process's wall and CPU seconds (user + sys of the
child, all its threads), the plan's provenance.timing_s (candidates, build, solve: wall), and the fixed cost = wall -
the solve stage. Also the imports alone (`-X importtime` of a run on tiny: the top-level modules' cumulative
time) and the CPU of `python -c "import ..."` of what `fleetopt solve` imports. Load averages beside each.
Bytecode: the session's environment may set PYTHONDONTWRITEBYTECODE, which makes every run compile fleetopt's
~100 modules again (~0.15 s); by default a first run writes the caches and the runs are measured without the
variable, as an installed package runs. `--no-bytecode` keeps the variable (nothing cached).
`--seeds`: run r solves a copy of the instance whose `solver:` block has `seed: r` (HiGHS's tree search varies
~2x over seeds: a change is judged on seeds 0..repeats-1, never on one); each run's line gives its seed.
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


def seeded(instance: Path, seed: int, folder: Path) -> Path:
    """A copy of `instance` (a `solver:` block with `seed: N` in flow style) whose seed is `seed`."""
    text = instance.read_text(encoding="utf-8")
    changed = re.sub(r"(\bseed:\s*)\d+", rf"\g<1>{seed}", text)
    if changed == text and seed != 0:
        raise SystemExit(f"{instance.name} has no `seed: N` in its solver block to change")
    path = folder / f"{instance.stem}-seed{seed}.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def child_env(code: Path, bytecode: bool) -> dict:
    """The child's environment; it also runs in `code` (its PYTHONPATH), since `python -m` and `-c` put the
    working folder first on sys.path, before PYTHONPATH."""
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
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=env["PYTHONPATH"])
    wall = time.perf_counter() - w
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def one_run(instance: Path, env: dict, out_json: Path, seed: int | None = None) -> dict:
    load = os.getloadavg()[0]
    wall, cpu, done = timed([sys.executable, "-m", "fleetopt", "solve", str(instance), "-q", "-o", str(out_json)],
                            env)
    if done.returncode != 0:
        raise SystemExit(f"fleetopt solve {instance} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    plan = json.loads(out_json.read_text(encoding="utf-8"))
    timing = (plan.get("provenance") or {}).get("timing_s", {})
    return {"wall_s": wall, "cpu_s": cpu, "load": load, "status": plan.get("status"), "seed": seed,
            "objective": plan.get("objective"), "timing_s": timing, "fixed_s": wall - timing.get("solve", 0.0)}


def summary(runs: list[dict]) -> dict:
    return {"runs": runs, **{f"median_{k}": statistics.median(r[k] for r in runs)
                             for k in ("wall_s", "cpu_s", "fixed_s")},
            "median_solve_s": statistics.median(r["timing_s"].get("solve", 0.0) for r in runs),
            "median_candidates_s": statistics.median(r["timing_s"].get("candidates", 0.0) for r in runs)}


def solve_runs(instance: Path, repeats: int, envs: list[dict], folder: Path, seeds: bool = False) -> list[dict]:
    """`repeats` runs per environment, the environments taking turns run by run (`seeds`: run r at seed r)."""
    runs: list[list[dict]] = [[] for _ in envs]
    for r in range(repeats):
        path = seeded(instance, r, folder) if seeds else instance
        for k, env in enumerate(envs):
            runs[k].append(one_run(path, env, folder / "plan.json", r if seeds else None))
            if seeds:
                x = runs[k][-1]
                print(f"  seed {r} [{Path(env['PYTHONPATH']).name}] wall {x['wall_s']:.2f} s, CPU {x['cpu_s']:.2f} s, "
                      f"solve {x['timing_s'].get('solve', 0.0):.2f} s, {x['status']} {x['objective']:,.0f}; "
                      f"load {x['load']:.1f}", flush=True)
    return [summary(r) for r in runs]


def line(name: str, r: dict) -> str:
    walls = [x["wall_s"] for x in r["runs"]]
    cpus = [x["cpu_s"] for x in r["runs"]]
    loads = [x["load"] for x in r["runs"]]
    return (f"{name:8s} wall {r['median_wall_s']:.2f} s ({min(walls):.2f}-{max(walls):.2f}), CPU "
            f"{r['median_cpu_s']:.2f} s ({min(cpus):.2f}-{max(cpus):.2f}), solve {r['median_solve_s']:.2f}, "
            f"candidates {r['median_candidates_s']:.2f}, fixed {r['median_fixed_s']:.2f} s; "
            f"{r['runs'][0]['status']} {r['runs'][0]['objective']:,.0f}; load {min(loads):.1f}-{max(loads):.1f}")


def import_times(envs: list[dict], repeats: int) -> list[dict]:
    """Per environment (taking turns): -X importtime of `fleetopt solve tiny` (sum of the top-level modules'
    cumulative microseconds) and the CPU of importing what `fleetopt solve` imports, medians over the repeats."""
    totals: list[list[float]] = [[] for _ in envs]
    cpus: list[list[float]] = [[] for _ in envs]
    for _ in range(repeats):
        for k, env in enumerate(envs):
            done = subprocess.run([sys.executable, "-X", "importtime", "-m", "fleetopt", "solve",
                                   str(INSTANCES["tiny"]), "-q"], env=env, capture_output=True, text=True,
                                  cwd=env["PYTHONPATH"])
            top = [int(m.group(1)) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \| (\S)", done.stderr)]
            totals[k].append(sum(top) / 1e6)
            _, cpu, _ = timed([sys.executable, "-c", "import " + ", ".join(IMPORTS)], env)
            cpus[k].append(cpu)
    return [{"importtime_s": statistics.median(t), "import_cpu_s": statistics.median(c)}
            for t, c in zip(totals, cpus)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--instances", default="gf,gf-free,tiny")
    ap.add_argument("--code", type=Path, default=REPO, help="the checkout whose fleetopt runs (PYTHONPATH)")
    ap.add_argument("--against", type=Path, help="another checkout, run in turn with --code")
    ap.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE (nothing cached)")
    ap.add_argument("--seeds", action="store_true", help="run r at HiGHS seed r (a copy of the instance)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    unknown = [n for n in args.instances.split(",") if n not in (*INSTANCES, "gf-free")]
    if unknown:
        ap.error(f"--instances: unknown {', '.join(unknown)}; expected names among gf, gf-free, tiny")
    codes = [args.code.resolve()] + ([args.against.resolve()] if args.against else [])
    envs = [child_env(code, bytecode=not args.no_bytecode) for code in codes]
    result = {"codes": [str(c) for c in codes], "bytecode": not args.no_bytecode, "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "load_before": os.getloadavg(), "instances": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {**INSTANCES, "gf-free": free_variant(folder)}
        for env in envs:
            if not args.no_bytecode:   # one run writes the bytecode caches the measured runs read
                subprocess.run([sys.executable, "-m", "fleetopt", "solve", str(paths["tiny"]), "-q"], env=env,
                               capture_output=True, cwd=env["PYTHONPATH"])
        result["imports"] = import_times(envs, args.repeats)
        for code, imports in zip(codes, result["imports"]):
            print(f"imports  -X importtime {imports['importtime_s']:.3f} s, `import ...` "
                  f"{imports['import_cpu_s']:.3f} CPU s  [{code.name}] (load {os.getloadavg()[0]:.1f})", flush=True)
        for name in args.instances.split(","):
            both = result["instances"][name] = solve_runs(paths[name], args.repeats, envs, folder, args.seeds)
            for code, r in zip(codes, both):
                print(line(name, r) + (f"  [{code.name}]" if len(codes) > 1 else ""), flush=True)
            if len(both) == 2:
                print(f"{'':8s} ratio {codes[0].name}/{codes[1].name}: wall "
                      f"{both[0]['median_wall_s'] / both[1]['median_wall_s']:.2f}, CPU "
                      f"{both[0]['median_cpu_s'] / both[1]['median_cpu_s']:.2f}, fixed "
                      f"{both[0]['median_fixed_s'] / both[1]['median_fixed_s']:.2f}", flush=True)
    result["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
