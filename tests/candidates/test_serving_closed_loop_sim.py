"""The step-level simulation of the NIM benchmark's closed loop (benchmarks/sim_serving_closed_loop.py) and the
Little's-law reading of its rows (bench_serving_calibration.py --little), against published NIM 1.8.0 H100 rows
(data/calibration/serving_nim_h100.csv): what sets the benchmark's TTFT."""

from __future__ import annotations

import sys

import pytest
from helpers import REPO

from fleetopt.candidates.estimate_serving import estimate_serving
from fleetopt.physics import serving

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_serving_calibration as bench  # noqa: E402
import sim_serving_closed_loop as sim  # noqa: E402

H100 = "h100-sxm5-80gb"


def _row(model, prompt, clients):
    return next(r for r in bench.load_rows() if (r["model"], int(r["prompt_tokens"]), int(r["concurrency"]))
                == (model, prompt, clients))


def _sim_error(model, tp, prompt, output, clients, **kwargs):
    eng = sim.engine(model, H100, tp, prompt, output)
    got = sim.simulate(eng, clients, prompt, output, cycles=3, **kwargs)["ttft_s"]
    return got / (float(_row(model, prompt, clients)["ttft_ms"]) / 1e3) - 1.0


def test_one_client_is_the_models_own_prefill():
    # One client never shares a step: the simulation's TTFT is the model's request overhead + prefill alone
    # (the model's closed loop adds an M/D/1 wait that one client never has: under 1%). NIM 8B 1000/1000 at one
    # client: 19.03 ms measured.
    eng = sim.engine("llama3-8b", H100, 1, 1000, 1000)
    got = sim.simulate(eng, 1, 1000, 1000, cycles=2)
    model = estimate_serving("llama3-8b", H100, 1, "fp8", 1000, 1000, concurrency=1, kv_precision="fp8")
    assert got["ttft_s"] == pytest.approx(model["prefill_s"] + serving.REQUEST_OVERHEAD_S, rel=1e-6)
    assert got["ttft_s"] == pytest.approx(model["ttft_s"], rel=0.01)
    assert got["ttft_s"] == pytest.approx(0.01903, rel=0.25)
    assert got["itl_s"] == pytest.approx(eng["step_s"], rel=1e-6)


def test_a_step_adds_its_prompt_tokens_flops_to_the_running_decode():
    eng = sim.engine("llama3-70b", H100, 2, 1000, 1000)
    assert sim.step_time_s(eng, 10, 0) == pytest.approx(eng["step_s"] + 9 * eng["slope_s"])
    assert sim.step_time_s(eng, 10, 500) - sim.step_time_s(eng, 10, 0) == pytest.approx(500 * eng["token_s"])
    # Without decodes a short chunk still reads the weights once.
    assert sim.step_time_s(eng, 0, 1) == pytest.approx(serving.DECODE_STEP_OVERHEAD_S + eng["weights_s"])


def test_8b_long_prompts_at_5_clients_are_the_budgets_lockstep():
    # NIM 8B 5000/500 at 5 clients: 279.92 ms. All five start together and TensorRT-LLM's default 8,192-token
    # budget prefills them over four steps; a fixed-length closed loop keeps that order: within 10%.
    assert abs(_sim_error("llama3-8b", 1, 5000, 500, 5, budget=serving.PREFILL_CHUNK_TOKENS)) < 0.10


def test_70b_rows_need_a_smaller_budget_than_8b_rows():
    # NIM 70B 200/200 at 25 clients: 138.98 ms. At the 8,192-token budget the 25 prompts share one step and stay
    # in lockstep (> 2x the measured TTFT); at 1,024 tokens a step takes five and the cohorts are small (within
    # 25%). The two NIM engine profiles differ; neither budget is published for them.
    assert _sim_error("llama3-70b", 2, 200, 200, 25, budget=8192) > 1.0
    assert abs(_sim_error("llama3-70b", 2, 200, 200, 25, budget=1024)) < 0.25


def test_the_rows_obey_littles_law_so_ttft_follows_throughput():
    # C = X (TTFT + (O - 1) ITL) over the loop: the measured TTFT is C / X - (O - 1) ITL within 10% on most rows.
    # NIM 8B 200/200 at 250 clients: 12,964.72 tokens/s and 16.14 ms ITL give 645 ms; measured 605.6 ms.
    rows = bench.load_rows()
    ratios = [bench.little_ttft(r)["ratio"] for r in rows]
    assert sum(abs(x - 1.0) <= 0.1 for x in ratios) >= 0.7 * len(rows)
    x = bench.little_ttft(_row("llama3-8b", 200, 250))
    assert x["little_s"] == pytest.approx(0.645, abs=0.001)
    assert x["amplification"] == pytest.approx(6.4, abs=0.1)
