"""The fidelity-v2 training laws, each against a published number: uneven stages, per-stage in-flight
micro-batches, dropout-free activations, HBM in GiB, oversubscription on crossing streams, context parallelism,
causal flash attention, the GEMM shape, and Llama 3 405B's published layout fitting where Meta ran it."""

import numpy as np
import pytest

from fleetopt.physics.collectives import effective_inter_bandwidth
from fleetopt.physics.training import (
    context_parallel_comm_s,
    gemm_arithmetic_intensity,
    gemm_efficiency,
    stage_layers,
    training_step_time,
)
from fleetopt.physics.training_memory import (
    activation_coefficients,
    fits_in_memory,
    in_flight_microbatches,
    usable_memory_gb,
)

LLAMA3_405B = {"layers": 126, "hidden": 16384, "ffn_hidden": 53248, "heads": 128, "kv_heads": 8,
               "vocab": 128256, "swiglu": True}
H100 = {"peak_tflops": 989.0, "hbm_gb": 80.0, "hbm_gb_s": 3350.0, "gpus_per_node": 8, "nvlink_gb_s": 450.0,
        "nic_gb_s": 50.0, "pod_gpus": 3072, "oversubscription": 7.0}


def test_llama3_stages_126_layers_on_16():
    # Dubey et al. 2024 Sec. 3.3.2: one fewer layer on the first and last stage: 14 x 8 + 2 x 7 = 126.
    heaviest, first = stage_layers(126, 16)
    assert (heaviest, first) == (8, 7) and 14 * heaviest + 2 * first == 126
    assert stage_layers(96, 16) == (6, 6)  # even split: no lighter stage


def test_uneven_stages_pay_for_the_heaviest():
    common = dict(**LLAMA3_405B, seq_len=8192, global_batch=2048, tp=8, dp=64, recompute="full", **H100)
    uneven = training_step_time(pp=16, **common)  # 8 layers on the heaviest stage
    even = training_step_time(pp=18, **common)    # 7 layers on every stage
    # Same micro-batches and GEMMs: each micro-batch costs the slowest stage's layers, 8 against 7.
    assert uneven["compute_s"] / even["compute_s"] == pytest.approx(8 / 7, rel=1e-9)


def test_in_flight_microbatches_match_megatron_warmup():
    # Megatron-LM schedules: stage r warms up p - r - 1 micro-batches (1F1B), so p - r are in flight; interleaved,
    # stage r runs (p - r - 1) x 2 + (v - 1) p + 1 chunks of 1/v stage each.
    p, v = 16, 4
    assert in_flight_microbatches(p, 32, 1, 0) == 16 and in_flight_microbatches(p, 32, 1, 1) == 15
    for r in (0, 1):
        assert in_flight_microbatches(p, 32, v, r) == pytest.approx(((p - r - 1) * 2 + (v - 1) * p + 1) / v)


def test_activations_without_dropout():
    # Korthikanti et al. 2022: 34 sbh per GPT layer, of which 2 sbh are the two dropout masks.
    replicated, split = activation_coefficients(4096, 4 * 4096, 32, 32)
    assert replicated + split == 34
    replicated, split = activation_coefficients(4096, 4 * 4096, 32, 32, dropout=False)
    assert replicated + split == 32


def test_hbm_is_counted_in_gib():
    # An "80 GB" A100/H100 holds 80 GiB = 85.9e9 bytes (81,920 MiB in nvidia-smi); 90% of it is usable here.
    assert usable_memory_gb(80) == pytest.approx(80 * 1.073741824 * 0.9)
    assert fits_in_memory(77.0, 80) and not fits_in_memory(77.5, 80)


def test_llama3_405b_published_layout_fits_on_80gb():
    # Dubey et al. 2024 Table 4: TP 8, PP 16 over 126 layers, DP 64 and 128, seq 8192, 16M tokens per step,
    # 8K sequences without activation checkpointing (Sec. 3.3.2): it ran on 80 GB H100s, under 1F1B.
    for dp, per_dp in ((64, 32), (128, 16)):
        result = training_step_time(**LLAMA3_405B, seq_len=8192, global_batch=dp * per_dp, tp=8, pp=16, dp=dp,
                                    micro_batch=1, recompute="none", sequence_parallel=True, flash_attention=True,
                                    distributed_optimizer=True, **H100)
        assert result["fits"], result["memory_gb_per_gpu"]
    # With GPT's dropout masks (not Llama's recipe) the same layout would not fit.
    gpt_like = training_step_time(**LLAMA3_405B, seq_len=8192, global_batch=2048, tp=8, pp=16, dp=64,
                                  micro_batch=1, recompute="none", sequence_parallel=True, flash_attention=True,
                                  distributed_optimizer=True, dropout=True, **H100)
    assert not gpt_like["fits"]


def test_oversubscription_counts_streams_crossing_the_aggregation_layer():
    # Llama 3 (Sec. 3.3.1): pods of 3,072 GPUs at full bisection, 1:7 above. The DP rings of a TP 8 x PP 16
    # model cross pods as 128 streams: 3,072 x NIC / 7 of uplink carries them at the full NIC rate.
    nic = 50e9
    assert effective_inter_bandwidth(16384, nic, 3072, 7.0, crossing_streams=128) == nic
    assert effective_inter_bandwidth(16384, nic, 3072, 7.0) == pytest.approx(nic / 7)  # every GPU crossing
    assert effective_inter_bandwidth(16384, nic, 3072, 7.0, 3072) == pytest.approx(nic / 7)
    assert effective_inter_bandwidth(2048, nic, 3072, 7.0, 3072) == nic  # inside one pod


def test_context_parallel_ring_hides_behind_attention_at_128k():
    # Llama 3 405B's 128K row (Table 4: TP 8, CP 16): K, V chunks of 8,192 tokens x 1,024 KV dims / 8 cross the
    # ring over 50 GB/s NICs in ~4 ms per layer, behind ~20 ms of attention: nothing exposed.
    tokens = 131072 / 16
    chunk_s = 15 * 3 * (2 * 2 * tokens * 1024 / 8) / 45e9
    attention_s = 12 * tokens * 131072 * 16384 / 8 * 0.5 / (989e12 * 0.6)
    assert chunk_s < attention_s
    assert context_parallel_comm_s(16, tokens, 16384, 128, 8, 8, attention_s, 5e-6, 45e9, "none") == 0.0
    exposed = context_parallel_comm_s(16, tokens, 16384, 128, 8, 8, 0.0, 5e-6, 45e9, "none")
    assert exposed == pytest.approx(3 * 15 * (5e-6 + 2 * 2 * tokens * 1024 / 8 / 45e9))


def test_causal_flash_attention_halves_the_score_work():
    common = dict(**LLAMA3_405B, seq_len=131072, global_batch=128, tp=8, cp=16, pp=16, dp=8, recompute="none",
                  sequence_parallel=True, distributed_optimizer=True, **H100)
    flash = training_step_time(flash_attention=True, softmax_bytes_per_score=0.0, **common)
    plain = training_step_time(flash_attention=False, softmax_bytes_per_score=0.0, **common)
    # Narayanan et al. 2021 count 12 l s h per token of scores (x3 passes); flash runs half of them (causal).
    tokens, l, s, h = 128 * 131072, 126, 131072, 16384
    half_scores = 0.5 * tokens * 12 * l * s * h / 16384  # per GPU
    saved = half_scores / (989e12 * 0.612) * 16 / 15.75  # heaviest stage: 8 of 126/16 layers
    assert plain["compute_s"] - flash["compute_s"] == pytest.approx(saved, rel=0.01)


def test_gemm_efficiency_follows_the_mlp_gemm_shape():
    # Roofline (Williams et al. 2009): A100 ridge 312e12 / 2039e9 = 153 FLOP/byte. A 128-token micro-batch of a
    # 4096-wide layer at tp 8 is bandwidth-bound with a narrow ffn (hidden/tp wide), less so with 4h.
    assert gemm_arithmetic_intensity(128, 512, 4096) < 153 / 1.0
    narrow = gemm_efficiency(128, 512, 4096, ffn_per_gpu=512)
    wide = gemm_efficiency(128, 512, 4096, ffn_per_gpu=2048)
    assert narrow < wide < 0.612 + 1e-12
    assert gemm_efficiency(2048, 2048, 8192, ffn_per_gpu=8192) == pytest.approx(0.612)
    np.testing.assert_allclose(gemm_efficiency(128, 512, 4096), narrow)  # ffn defaults to hidden/tp
