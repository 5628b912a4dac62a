"""Training performance model: parameter counts, FLOPs, activation memory, step time, calibration."""

import importlib.util

import numpy as np
import pytest

from fleetopt.physics.training import (
    job_reliability,
    pipeline_bubble_fraction,
    tp_allreduces_per_layer,
    training_step_time,
)
from fleetopt.physics.training_flops import (
    dense_param_count,
    hardware_flops_per_step,
    model_flops_per_step,
    narayanan_flops_per_step,
    recompute_code,
)
from fleetopt.physics.training_memory import activation_bytes_per_layer, in_flight_microbatches
from helpers import REPO

_BENCH = REPO / "benchmarks" / "calibration_megatron.py"
_spec = importlib.util.spec_from_file_location("calibration_megatron", _BENCH)
calibration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(calibration)

GPT3_175B = {
    "layers": 96,
    "hidden": 12288,
    "ffn_hidden": 4 * 12288,
    "heads": 96,
    "kv_heads": 96,
    "vocab": 50257,
}
LLAMA3_70B = {
    "layers": 80,
    "hidden": 8192,
    "ffn_hidden": 28672,
    "heads": 64,
    "kv_heads": 8,
    "vocab": 128256,
    "swiglu": True,
}
LLAMA3_405B = {
    "layers": 126,
    "hidden": 16384,
    "ffn_hidden": 53248,
    "heads": 128,
    "kv_heads": 8,
    "vocab": 128256,
    "swiglu": True,
}
# Public figures: Llama 3 cluster (pods of 3,072 at full bisection, 1:7 above), H100 SXM catalog.
H100_LLAMA3_CLUSTER = {
    "peak_tflops": 989.0,
    "hbm_gb": 80.0,
    "hbm_gb_s": 3350.0,
    "gpus_per_node": 8,
    "nvlink_gb_s": 450.0,
    "nic_gb_s": 50.0,
    "net_latency_us": 10.0,
    "pod_gpus": 3072,
    "oversubscription": 7.0,
}


# Parameter counts ---------------------------------------------------------------------------------


def test_gpt3_175b_parameter_count():
    assert dense_param_count(**GPT3_175B, tied_embeddings=True) == pytest.approx(175e9, rel=0.01)


def test_llama3_70b_parameter_count():
    assert dense_param_count(**LLAMA3_70B) == pytest.approx(70.6e9, rel=0.005)


def test_megatron_table1_parameter_counts():
    rows = calibration.load_rows()
    counts = dense_param_count(
        rows["layers"],
        rows["hidden"],
        4 * rows["hidden"],
        rows["heads"],
        rows["heads"],
        51200,
        tied_embeddings=True,
    )
    # The table prints two significant figures below 10B (1.65 -> 1.7), four above.
    np.testing.assert_allclose(counts / 1e9, rows["params_b"], rtol=0.002, atol=0.051)


# FLOPs --------------------------------------------------------------------------------------------


def test_hardware_flops_with_full_recompute_is_the_narayanan_formula():
    batch, seq = 1536, 2048
    for layers, hidden in [(96, 12288), (24, 2304), (128, 25600)]:
        card = {
            "layers": layers,
            "hidden": hidden,
            "ffn_hidden": 4 * hidden,
            "heads": hidden // 128,
            "kv_heads": hidden // 128,
            "vocab": 51200,
        }
        ours = hardware_flops_per_step(batch * seq, seq, recompute="full", **card)
        # Narayanan et al. 2021, eq. (3), written out.
        published = (
            96 * batch * seq * layers * hidden**2 * (1 + seq / (6 * hidden) + 51200 / (16 * layers * hidden))
        )
        assert ours == pytest.approx(published, rel=1e-12)
        assert narayanan_flops_per_step(batch, seq, layers, hidden, 51200) == pytest.approx(
            published, rel=1e-12
        )


def test_model_flops_are_six_params_tokens_plus_attention():
    tokens, seq = 4e6, 2048
    model = model_flops_per_step(tokens, seq, **GPT3_175B)
    params = dense_param_count(**GPT3_175B, tied_embeddings=True)
    attention = 12 * 96 * seq * 12288 * tokens  # 12 l s h per token (Narayanan eq. (3), 3 passes)
    assert model == pytest.approx(6 * params * tokens + attention, rel=1e-9)
    full = hardware_flops_per_step(tokens, seq, recompute="full", **GPT3_175B)
    selective = hardware_flops_per_step(tokens, seq, recompute="selective", **GPT3_175B)
    assert 1.32 < full / model < 4 / 3  # one more forward of every layer, not of the output head
    assert selective - model == pytest.approx(4 * 96 * seq * 12288 * tokens, rel=1e-9)


# Memory -------------------------------------------------------------------------------------------


def test_korthikanti_gpt3_activation_forms():
    s, b, h, a, t = 2048, 1, 12288, 96, 8
    sbh = s * b * h
    card = {"seq_len": s, "micro_batch": b, "hidden": h, "ffn_hidden": 4 * h, "heads": a, "kv_heads": a}
    # The paper: for GPT-3 5as/h = 80, so attention scores are 70% of a layer's activations (80 of 114).
    none_single = activation_bytes_per_layer(tp=1, recompute="none", **card)
    assert none_single == pytest.approx(sbh * (34 + 80))
    # Table 2 rows at t = 8: 10 + 24/t + 5as/(ht); 34/t + 5as/(ht); 34/t; 2.
    assert activation_bytes_per_layer(tp=t, recompute="none", **card) == pytest.approx(sbh * (10 + 3 + 10))
    assert activation_bytes_per_layer(
        tp=t, recompute="none", sequence_parallel=True, **card
    ) == pytest.approx(sbh * (34 / 8 + 10))
    assert activation_bytes_per_layer(
        tp=t, recompute="selective", sequence_parallel=True, **card
    ) == pytest.approx(sbh * 34 / 8)
    assert activation_bytes_per_layer(tp=t, recompute="full", **card) == pytest.approx(2 * sbh)


def test_korthikanti_five_fold_activation_reduction():
    # Abstract: sequence parallelism + selective recompute cut activation memory about 5x vs TP alone.
    for h, a in [(12288, 96), (20480, 128)]:  # GPT-3 175B, MT-NLG 530B
        card = {
            "seq_len": 2048,
            "micro_batch": 1,
            "hidden": h,
            "ffn_hidden": 4 * h,
            "heads": a,
            "kv_heads": a,
            "tp": 8,
        }
        ratio = activation_bytes_per_layer(recompute="none", **card) / activation_bytes_per_layer(
            recompute="selective", sequence_parallel=True, **card
        )
        assert 4.5 < ratio < 5.5


def test_in_flight_microbatches_under_1f1b():
    assert in_flight_microbatches(8, 64) == 8
    assert in_flight_microbatches(8, 4) == 4
    assert in_flight_microbatches(8, 64, 4) == pytest.approx(8 * (1 + 7 / 32))


def test_gpt3_175b_on_8_a100_does_not_fit():
    result = training_step_time(
        **GPT3_175B, tied_embeddings=True, seq_len=2048, global_batch=8, tp=8, pp=1, dp=1
    )
    # 175e9 params x 16 bytes / 8 GPUs = 350 GB of weights, gradients and Adam state per GPU.
    assert not result["fits"]
    assert 350 < result["memory_gb_per_gpu"] < 400


def test_every_megatron_table1_configuration_fits():
    result = calibration.predict(calibration.load_rows())
    assert result["fits"].all()  # they ran on 80 GB A100s


# Step time ----------------------------------------------------------------------------------------


def test_pipeline_bubble_fraction():
    assert pipeline_bubble_fraction(8, 32) == pytest.approx(7 / 32)
    assert pipeline_bubble_fraction(8, 32, 2) == pytest.approx(7 / 64)
    assert pipeline_bubble_fraction(1, 32) == 0.0


def test_tp_allreduces_per_layer():
    np.testing.assert_array_equal(tp_allreduces_per_layer(np.array([0, 1, 2])), [4, 4, 6])


def test_vectorized_over_candidates():
    tp = np.array([1, 2, 4, 8])[:, None]
    pp = np.array([1, 2, 4])[None, :]
    result = training_step_time(
        **LLAMA3_70B,
        seq_len=4096,
        global_batch=512,
        tp=tp,
        pp=pp,
        dp=512 // (tp * pp),
        micro_batch=1,
        recompute=np.array(["none", "selective", "full"]),
    )
    for key, value in result.items():
        assert np.shape(value) == (4, 3), key
    assert set(np.unique(result["binding_term"])) <= {"compute", "communication", "coordination"}
    total = (
        result["compute_s"] + result["comm_s"] + result["bubble_s"] + result["sync_s"] - result["overlap_s"]
    )
    np.testing.assert_allclose(result["step_time_s"], total)
    np.testing.assert_array_equal(recompute_code(["none", "full"]), [0, 2])


def test_smaller_sync_groups_pay_coordination():
    common = dict(
        **LLAMA3_70B, seq_len=4096, global_batch=1024, tp=8, pp=4, dp=64, micro_batch=1, **H100_LLAMA3_CLUSTER
    )
    whole = training_step_time(**common)
    split = training_step_time(**common, sync_group=8)
    assert split["sync_s"] > whole["sync_s"]
    assert split["dp_comm_s"] < whole["dp_comm_s"]


def test_megatron_table1_calibration():
    rows = calibration.load_rows()
    predicted = calibration.predict(rows)["hardware_tflops_per_gpu"]
    error = np.abs(predicted / rows["tflops_per_gpu"] - 1.0)
    assert error.max() <= 0.10, error
    assert np.median(error) <= 0.05


def test_llama3_405b_on_8192_h100():
    # Public figure: TP 8, PP 16, DP 64, seq 8192, 16M tokens per batch -> 430 TFLOP/s per GPU, 43% BF16 MFU.
    result = training_step_time(
        **LLAMA3_405B,
        seq_len=8192,
        global_batch=2048,
        tp=8,
        pp=16,
        dp=64,
        micro_batch=1,
        recompute="none",
        virtual_stages=2,
        sequence_parallel=True,
        flash_attention=True,
        distributed_optimizer=True,
        **H100_LLAMA3_CLUSTER,
    )
    assert result["model_tflops_per_gpu"] == pytest.approx(430, rel=0.20)
    assert result["mfu"] == pytest.approx(0.43, rel=0.20)


# Reliability --------------------------------------------------------------------------------------


def test_llama3_group_mtbf():
    # 16,384 GPUs at the implied per-GPU MTBF of 50,700 h: one interruption every ~3.1 h.
    result = job_reliability(16384, 50700, 1e9, 2e12)
    assert result["mtbf_s"] / 3600 == pytest.approx(3.1, abs=0.05)


def test_daly_interval_example():
    # Daly 2006: delta = 5 min, M = 24 h -> ~117 min. 1,000 GPUs x 24,000 h; 1.5 GB each at 5 GB/s = 300 s.
    result = job_reliability(1000, 24000, 1.5e9, 5e9)
    assert result["checkpoint_s"] == pytest.approx(300)
    assert result["interval_s"] / 60 == pytest.approx(117, abs=2)
    assert 0.9 < result["goodput"] < 1.0
