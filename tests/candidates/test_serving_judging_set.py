"""The serving judging set (older NIM containers' H100 tables, data/calibration/serving_nim_h100_judging.csv): cited,
never fitted, its inferred lengths consistent with Little's law, and reported in the README table beside the
calibration set (benchmarks/bench_serving_calibration.py)."""

from __future__ import annotations

import sys

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_serving_calibration as bench  # noqa: E402

JUDGING = REPO / "data" / "calibration" / "serving_nim_h100_judging.csv"


def test_every_set_is_cited_and_has_a_role():
    roles = {name: role for name, _, role in bench.SETS}
    assert sorted(roles.values()) == ["calibration", "judging"]
    for _, path, _ in bench.SETS:
        header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
        assert "docs.nvidia.com/nim/benchmarking" in header
    assert "never fitted" in JUDGING.read_text()


def test_judging_rows_obey_littles_law_at_their_inferred_lengths():
    # Source: Little 1961; a closed loop of C clients cycles C / X = TTFT + (O - 1) ITL (think time ~0).
    # Below saturation the lengths the header infers (70B 5000/500, 8B 200/200) reproduce each row's tokens/s.
    for row in bench.load_rows(JUDGING):
        clients, out = int(row["concurrency"]), int(row["output_tokens"])
        if clients > 50:
            continue
        cycle_s = (float(row["ttft_ms"]) + (out - 1) * float(row["itl_ms"])) / 1e3
        assert clients * out / cycle_s == pytest.approx(float(row["output_tokens_per_s"]), rel=0.03)


def test_one_client_rows_of_the_judging_set_are_predicted_within_15_percent():
    # An idle replica has no queueing or scheduler in play: prefill, decode step and overheads alone, at the
    # constants calibrated on NIM 1.8.0 (70B: 368 ms TTFT, 19.9 ms ITL measured; 8B: 9.0 ms, 4.4 ms).
    preds = bench.predictions([r for r in bench.load_rows(JUDGING) if r["concurrency"] == "1"])
    assert len(preds) == 2
    for p in preds:
        for metric in ("ttft", "itl", "throughput"):
            assert abs(p[metric][2]) <= 0.15, (p["model"], metric, p[metric])


def test_mlperf_reference_point_cites_its_log_and_settings():
    text = bench.MLPERF_PATH.read_text()
    assert "inference_results_v4.1" in text and "gpu_batch_size 1024" in text and "H100_SXM_80GB_TP2x4" in text
    (row,) = bench.load_rows(bench.MLPERF_PATH)
    # Little's law over the run: in flight = rate x mean latency; at the published TPOT that is ~840 sequences,
    # inside the engine's max batch of 1024 (the point is a valid MLPerf run, so its batch held them).
    in_flight = float(row["samples_per_s"]) / int(row["replicas"]) * float(row["latency_mean_ms"]) / 1e3
    assert 700 < in_flight < int(row["max_batch"])


def test_the_planners_law_sustains_the_mlperf_rate_for_short_prompts():
    # MLPerf accepted this Server run, so one replica sustains 18.6 requests/s: the capacity law must not call it
    # saturated for short mean prompts (OpenOrca's, not published, are short chat questions).
    (row,) = bench.load_rows(bench.MLPERF_PATH)
    for prompt in (150, 300):
        x = bench.mlperf_bracket(row, prompt)
        assert x["saturation_rps"] > x["rps"] and x["latency_s"] < float("inf")
