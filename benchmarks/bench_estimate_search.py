"""Wall time of `fleetopt estimate --search` for Calculon's showcase: a 530B model on 5120 A100s.

Run: /tmp/venv/bin/python benchmarks/bench_estimate_search.py
Times the whole process from the shell (subprocess, median of 5 runs) for the search and for `fleetopt --help`
(the start-up share), plus the search alone in-process. The 530B model is the shipped megatron-529.6b card
(105 layers, hidden 20480, 128 heads; Narayanan et al. 2021). Target: < 2 s including start-up (Calculon's
README quotes about one minute for this search).
"""

import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
SEARCH_ARGS = ["estimate", "--model", "megatron-529.6b", "--accelerator", "a100-sxm4-80gb", "--gpus", "5120",
               "--search", "--global-batch", "2560", "--seq-len", "2048", "--json"]


def fleetopt_command() -> list[str]:
    """The installed entry point beside this interpreter, else `python -m fleetopt.cli`."""
    script = Path(sys.executable).parent / "fleetopt"
    if script.is_file():
        return [str(script)]
    found = shutil.which("fleetopt")
    return [found] if found else [sys.executable, "-m", "fleetopt.cli"]


def median_wall_s(args: list[str], runs: int = RUNS) -> tuple[float, list[float], str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        out = done.stdout
    return statistics.median(times), times, out


def main() -> None:
    import json

    from fleetopt.candidates.estimate import search_training_detail

    command = fleetopt_command()
    help_s, help_runs, _ = median_wall_s(command + ["--help"])
    search_s, search_runs, out = median_wall_s(command + SEARCH_ARGS)
    best = json.loads(out)
    start = time.perf_counter()
    found = search_training_detail("megatron-529.6b", "a100-sxm4-80gb", 5120, global_batch=2560, seq_len=2048)
    in_process_s = time.perf_counter() - start
    print(f"python {platform.python_version()}, command: {' '.join(command)}")
    print(f"fleetopt --help           median {help_s:.3f} s  runs {', '.join(f'{t:.3f}' for t in help_runs)}")
    print(f"fleetopt estimate --search median {search_s:.3f} s  runs {', '.join(f'{t:.3f}' for t in search_runs)}")
    print(f"search in-process (first call, card + catalog load included) {in_process_s * 1e3:.1f} ms; "
          f"{found['evaluated']} candidates scored, {found['fitting']} fit, {len(best)} layouts printed")
    top = best[0]
    print(f"best: tp {top['tp']} pp {top['pp']} dp {top['dp']} mb {top['micro_batch']} {top['recompute']} "
          f"v {top['interleave']} sp {top['sequence_parallel']} dist.opt {top['distributed_optimizer']}: "
          f"{top['step_time_s']:.2f} s/step, {top['hardware_tflops_per_gpu']:.1f} hardware TFLOP/s per GPU, "
          f"MFU {top['mfu']:.1%}, {top['memory_gb_per_gpu']:.1f} GB")
    print("target < 2 s:", "met" if search_s < 2.0 else "MISSED")


if __name__ == "__main__":
    main()
