"""`fleetopt estimate --serving`: the figures as JSON, the 80-column panel, and bad options as one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fleetopt

SOURCE_ROOT = Path(fleetopt.__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    return subprocess.run([sys.executable, "-m", "fleetopt", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)

BASE = ["estimate", "--serving", "--model", "llama3-70b", "--accelerator", "h100-sxm5-80gb", "--tp", "8",
        "--prompt-tokens", "2304", "--output-tokens", "512"]


def test_json_at_a_concurrency_and_at_an_slo(tmp_path):
    loaded = run_cli(*BASE, "--concurrency", "16", "--json", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    row = json.loads(loaded.stdout)
    assert row["mode"] == "concurrency" and row["gpus"] == 8
    # closed loop: 16 clients in the system (Little's law)
    assert row["rps"] * (row["latency_s"] + 0.0) == pytest.approx(16, rel=0.02)
    assert row["output_tokens_per_s"] == pytest.approx(row["rps"] * 512)
    slo = json.loads(run_cli(*BASE, "--slo-p99-ms", "8600", "--json", cwd=tmp_path).stdout)
    assert slo["mode"] == "slo" and 0 < slo["rps"] < slo["saturation_rps"]
    assert slo["p99_latency_s"] == pytest.approx(8.6, rel=1e-3)


def test_panel_fits_80_columns(tmp_path):
    shown = run_cli(*BASE, "--concurrency", "64", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "inter-token latency" in shown.stdout and "TTFT" in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80


@pytest.mark.parametrize("extra, words", [
    (["--concurrency", "4", "--slo-p99-ms", "100"], ["--concurrency", "exactly one"]),
    ([], ["--concurrency", "exactly one"]),
    (["--concurrency", "0"], ["--concurrency", "whole number"]),
    (["--slo-p99-ms", "-5"], ["--slo-p99-ms", "> 0"]),
    (["--concurrency", "4", "--precision", "fp4"], ["--precision", "bf16, fp8"]),
    (["--concurrency", "4", "--gpus", "8"], ["--gpus", "training option"]),
])
def test_bad_serving_options_are_one_line_exit_2(tmp_path, extra, words):
    done = run_cli(*BASE, *extra, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert all(word in lines[0] for word in words), lines[0]


def test_bad_tp_and_serving_options_without_serving(tmp_path):
    tp = run_cli(*[a if a != "8" else "3" for a in BASE], "--concurrency", "1", cwd=tmp_path)
    assert tp.returncode == 2 and "--tp" in tp.stderr and "divide" in tp.stderr
    no_fit = run_cli(*[a if a != "8" else "1" for a in BASE], "--concurrency", "1", cwd=tmp_path)
    assert no_fit.returncode == 2 and "--tp" in no_fit.stderr and "does not fit" in no_fit.stderr
    stray = run_cli("estimate", "--model", "llama3-70b", "--accelerator", "h100-sxm5-80gb", "--gpus", "8", "--tp",
                    "8", "--pp", "1", "--concurrency", "4", cwd=tmp_path)
    assert stray.returncode == 2 and "--concurrency" in stray.stderr and "--serving" in stray.stderr
