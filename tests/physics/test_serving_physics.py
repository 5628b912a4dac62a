"""Serving physics (roofline, M/M/1, fan-out, fairness monitoring, DLRM sharding) against worked numbers."""

import math

import numpy as np
import pytest

from fleetopt.physics import fairness, queueing, serving
from fleetopt.physics.tails import fanout_tail_probability, per_shard_quantile

# llama3-70b model card (Dubey et al. 2024, Table 3) and H100 SXM (NVIDIA H100 datasheet, 2023).
LLAMA3_70B = {"params": 70.6e9, "layers": 80, "hidden": 8192, "heads": 64, "kv_heads": 8}
H100 = {"peak_tflops": 989.0, "hbm_gb": 80.0, "hbm_gb_s": 3350.0, "nvlink_gb_s": 450.0}


def llama_decode(fn, **overrides):
    args = {**LLAMA3_70B, "context_tokens": 1024, "batch": 1, "tp": 2, "peak_tflops": H100["peak_tflops"],
            "hbm_gb_s": H100["hbm_gb_s"], "nvlink_gb_s": H100["nvlink_gb_s"], **overrides}
    return fn(**args)


# Roofline


def test_kv_cache_bytes_per_token_llama3_70b_is_320_kib():
    kv = serving.kv_cache_bytes_per_token(80, 8192, 64, 8, bytes_per_value=2)
    assert kv == 327_680
    assert kv == 320 * 1024


def test_weight_bytes_by_precision():
    assert serving.weight_bytes(70.6e9, "bf16") == pytest.approx(141.2e9)
    assert serving.weight_bytes(70.6e9, "fp8") == pytest.approx(70.6e9)
    with pytest.raises(ValueError):
        serving.weight_bytes(70.6e9, "fp4")


def test_fp8_peak_defaults_to_twice_bf16_h100_datasheet():
    # H100 SXM datasheet: 989 TFLOP/s dense BF16, 1,979 dense FP8.
    assert serving.peak_flops_per_s(989.0, "fp8") == pytest.approx(1979e12, rel=1e-3)
    assert serving.peak_flops_per_s(989.0, "fp8", fp8_tflops=1979.0) == pytest.approx(1979e12)
    assert serving.peak_flops_per_s(989.0, "bf16") == pytest.approx(989e12)


def test_prefill_flops_dense_plus_causal_attention():
    # 8k-token prompt: 2 x 70.6e9 x 8192 = 1.1567e15 dense, 2 x 80 x 8192^2 x 8192 = 8.796e13 attention.
    flops = serving.prefill_flops(70.6e9, 80, 8192, 8192, 1)
    assert flops == pytest.approx(1.1567e15 + 8.796e13, rel=1e-3)


def test_prefill_time_llama3_70b_tp8():
    # 2048-token prompt, tp=8 at 50% of 989 TFLOP/s: (2.8918e14 + 5.50e12) FLOPs / 3.956e15 FLOP/s = 74.5 ms;
    # 160 ring AllReduces of 2048 x 8192 x 2 B = 33.5 MB at 450 GB/s: 160 x (14 + 1.75 x 74.6) us = 23.1 ms.
    t = serving.prefill_time_s(70.6e9, 80, 8192, 2048, 1, 8, 989.0, 450.0, flops_efficiency=0.5, alpha_s=1e-6)
    assert t == pytest.approx(0.0745 + 0.0231, rel=2e-3)
    # Never faster than the FLOPs at 100% of peak: 2 x 70.6e9 x 2048 / (8 x 989e12) = 36.5 ms.
    assert t > 0.0365


def test_memory_wall_batch1_llama3_70b_decode_on_h100_uses_under_one_percent_of_peak():
    # 141 GB of bf16 weights do not fit in one 80 GB H100: tp=2 is the smallest that does.
    kv = serving.kv_cache_bytes_per_token(80, 8192, 64, 8)
    weights = serving.weight_bytes(70.6e9, "bf16")
    assert serving.max_batch_that_fits(80.0, weights, kv, 1024, tp=1) == 0
    assert serving.max_batch_that_fits(80.0, weights, kv, 1024, tp=2) >= 1
    utilization = llama_decode(serving.decode_flops_utilization, tp=2, batch=1)
    # Chapter: decode is memory bound (its example measures 12%); batch-1 70B is far below that.
    assert utilization < 0.15
    assert 0.001 < utilization < 0.01


def test_decode_step_is_at_least_the_hbm_time_of_the_weights():
    # 70.6 GB of weights per GPU at 3,350 GB/s: 21.1 ms is the floor; ~26 ms at 80% achievable bandwidth.
    step = llama_decode(serving.decode_step_time_s, tp=2, batch=1)
    assert 0.0211 < step < 0.030


def test_batching_amortizes_weight_reads():
    steps = llama_decode(serving.decode_step_time_s, tp=8, batch=np.array([1, 8, 64]))
    utilization = llama_decode(serving.decode_flops_utilization, tp=8, batch=np.array([1, 8, 64]))
    # Step time grows far slower than batch (weights dominate), so utilization grows almost linearly.
    assert steps[2] < 2.0 * steps[0]
    assert utilization[2] > 30 * utilization[0]


def test_max_batch_that_fits_llama3_70b_tp8():
    # Per GPU: 72 GB usable - 17.65 GB weights = 54.35 GB; 40,960 B/token x 4,096 tokens = 167.8 MB -> 323.
    kv = 327_680
    batch = serving.max_batch_that_fits(80.0, 141.2e9, kv, 4096, tp=8, usable_fraction=0.9)
    assert batch == 323


def test_fp8_llama3_70b_fits_one_h100_with_a_short_context():
    # 70.6 GB of fp8 weights + one 4k-token sequence (1.34 GB) inside 72 GB usable.
    assert serving.max_batch_that_fits(80.0, serving.weight_bytes(70.6e9, "fp8"), 327_680, 4096, tp=1) == 1


def test_mean_decode_context_and_request_service_time():
    assert serving.mean_decode_context_tokens(1024, 256) == 1152
    # 0.1 s prefill + 256 steps x 20 ms = 5.22 s.
    assert serving.request_service_time_s(0.1, 0.020, 256) == pytest.approx(5.22)


def test_replica_throughput_counts_every_prefill_once():
    # 32 in flight, 256 tokens at 20 ms per step, 0.1 s prefill: 1 / (0.1 + 256 x 0.02 / 32) = 3.846 req/s.
    assert serving.replica_throughput_rps(0.1, 0.020, 256, 32) == pytest.approx(3.846, rel=1e-3)
    # Without prefill it is batch / (output x step): 32 / 5.12 = 6.25 req/s.
    assert serving.replica_throughput_rps(0.0, 0.020, 256, 32) == pytest.approx(6.25)


# Queueing


def test_mm1_p99_worked_number():
    # p99 = ln(100) / (mu - lambda) = 4.6052 / 2 = 2.3026 s for mu = 10/s, lambda = 8/s.
    assert queueing.mm1_sojourn_quantile_s(10.0, 8.0, 0.99) == pytest.approx(2.3026, abs=1e-4)
    assert queueing.mm1_sojourn_quantile_s(10.0, 10.0, 0.99) == np.inf
    assert queueing.mm1_sojourn_quantile_s(10.0, 12.0, 0.99) == np.inf


def test_mm1_max_arrival_rate_meets_the_worked_p99():
    assert queueing.mm1_max_arrival_rate(10.0, 2.3026, 0.99) == pytest.approx(8.0, abs=1e-3)
    # A budget shorter than ln(100)/mu leaves no admissible load.
    assert queueing.mm1_max_arrival_rate(10.0, 0.3, 0.99) == 0.0
    assert queueing.mm1_max_arrival_rate(10.0, -1.0, 0.99) == 0.0


def test_fanout_100_chapter_figures():
    # Chapter footnote 2: 100 servers, each slow 1% of the time -> 63.4% of requests meet a slow one.
    assert fanout_tail_probability(0.01, 100) == pytest.approx(0.634, abs=5e-4)
    assert 1 - 0.99**100 == pytest.approx(0.634, abs=5e-4)
    # Each shard must then meet its p99.99: 0.99^(1/100) = 0.99990.
    assert per_shard_quantile(0.99, 100) == pytest.approx(0.9999, abs=1e-5)


def test_fanout_costs_replica_capacity():
    # mu = 10/s, 1 s budget. F = 1: 10 - ln(100) = 5.395/s.
    # F = 100: shards meet p99.99 (1 - q = 1.005e-4), 10 - ln(1/1.005e-4) = 10 - 9.205 = 0.795/s.
    capacity = queueing.replica_capacity_rps(10.0, 1.0, 0.99, fanout=np.array([1, 100]))
    assert capacity[0] == pytest.approx(5.395, abs=1e-3)
    assert capacity[1] == pytest.approx(0.795, abs=1e-3)


def test_route_with_negative_budget_is_impossible():
    # 500 ms SLO - 150 ms RTT - 0.1 s prefill - 0.4 s decode = -0.15 s: no load can be routed there.
    budget = queueing.latency_budget_s(500.0, 150.0, 0.1, 0.4)
    assert budget == pytest.approx(-0.15)
    assert queueing.replica_capacity_rps(100.0, budget, 0.99) == 0.0


def test_latency_budget_feasible_route():
    # 4 s SLO - 85 ms RTT - 0.15 s - 2.5 s = 1.265 s left for queueing.
    assert queueing.latency_budget_s(4000.0, 85.0, 0.15, 2.5) == pytest.approx(1.265)


def test_with_headroom():
    assert queueing.with_headroom(120.0, 0.2) == pytest.approx(100.0)


# Fairness monitoring


def test_samples_to_detect_two_point_gap_at_95_percent():
    # Cochran: 1.96^2 x 0.25 / 0.02^2 = 2401 (exact z = 1.959964 gives 2400.9 -> 2401).
    assert fairness.samples_to_detect_gap(0.02, 0.95) == 2401
    # 1 point at 99%: 2.575829^2 x 0.25 / 1e-4 = 16,587.3 -> 16,588.
    assert fairness.samples_to_detect_gap(0.01, 0.99) == 16_588


def test_sampling_rate_for_a_two_percent_group():
    # 1,000 req/s x 2% x 3,600 s = 72,000 group requests per hour; 2,401 of them = 3.335%.
    rate, too_small = fairness.sampling_rate(2401, 0.02, 1000.0, 1.0)
    assert rate == pytest.approx(0.033347, rel=1e-4)
    assert not too_small
    # At 10 req/s the group has 720 requests an hour: evaluate all of them and flag it.
    rate, too_small = fairness.sampling_rate(2401, 0.02, 10.0, 1.0)
    assert rate == 1.0
    assert too_small


def test_evaluator_gpus_per_window():
    # 2,401 samples x 0.5 GPU-s = 1,200.5 GPU-s per 24 h window = 0.013895 GPUs.
    assert fairness.evaluator_gpu_seconds(2401, 0.5) == pytest.approx(1200.5)
    assert fairness.evaluator_gpus(2401, 0.5, 24.0) == pytest.approx(0.013895, rel=1e-4)


# Recommendation (DLRM) serving


def test_dlrm_all_to_all_bytes_mlperf_config():
    # MLPerf DLRM (Criteo 1TB): 26 sparse features, embedding dim 128, fp32: 13,312 B per sample; batch 2,048.
    assert serving.embedding_all_to_all_bytes(26, 128, 1) == 13_312
    assert serving.embedding_all_to_all_bytes(26, 128, 2048) == pytest.approx(27.26e6, rel=1e-3)


def test_dlrm_shards_and_fanout():
    # 2 TB of tables over 72 GB usable per H100 -> 28 shards.
    assert serving.embedding_shard_count(2e12, 80.0) == 28
    # A request with thousands of lookups touches every shard; one lookup touches one.
    touched = serving.shards_touched(28, np.array([1, 10, 10_000]))
    assert touched[0] == pytest.approx(1.0)
    assert touched[1] == pytest.approx(28 * (1 - (27 / 28) ** 10))
    assert touched[2] == pytest.approx(28.0)
    assert serving.shards_touched(1, 5) == 1.0


# Vectorization


def test_arrays_in_arrays_out_broadcast():
    tp = np.array([2, 4, 8])[:, None]
    batch = np.array([1, 16, 64, 256])[None, :]
    step = llama_decode(serving.decode_step_time_s, tp=tp, batch=batch)
    assert step.shape == (3, 4)
    assert np.all(np.diff(step, axis=1) > 0)  # more sequences, more KV to read
    assert np.all(np.diff(step, axis=0) < 0)  # more GPUs, fewer bytes each
    prefill = serving.prefill_time_s(70.6e9, 80, 8192, np.array([128, 1024]), 1, tp, 989.0, 450.0)
    assert prefill.shape == (3, 2)
    fits = serving.max_batch_that_fits(80.0, 141.2e9, 327_680, np.array([1024, 8192]), tp)
    assert fits.shape == (3, 2)
    mu = np.array([5.0, 10.0, 20.0])
    assert queueing.mm1_sojourn_quantile_s(mu, 8.0, 0.99).shape == (3,)
    assert queueing.replica_capacity_rps(mu[:, None], np.array([0.5, 1.0]), 0.99, fanout=10).shape == (3, 2)
    budgets = queueing.latency_budget_s(np.array([300.0, 4000.0]), 85.0, 0.1, np.array([[0.5], [1.0]]))
    assert budgets.shape == (2, 2)
    assert fairness.samples_to_detect_gap(np.array([0.01, 0.02, 0.05]), 0.95).tolist() == [9604, 2401, 385]
    rate, too_small = fairness.sampling_rate(2401, np.array([0.5, 0.02, 0.001]), 100.0, 1.0)
    assert too_small.tolist() == [False, False, True]
    assert rate[2] == 1.0
    assert math.isclose(rate[0], 2401 / 180_000)
