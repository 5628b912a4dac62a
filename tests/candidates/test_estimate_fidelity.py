"""`fleetopt estimate` on Llama 3 405B's published layouts (Dubey et al. 2024, Table 4): uneven stages (126 layers
on 16) and context parallelism (CP 16 at 128K tokens) are accepted, through the CLI and the API."""

import json

from typer.testing import CliRunner

from fleetopt.candidates.estimate import estimate_training
from fleetopt.cli import app

H100 = "h100-sxm5-80gb"
LLAMA3 = ["--model", "llama3-405b", "--accelerator", H100, "--tp", "8", "--pp", "16", "--recompute", "none",
          "--flash-attention", "--sequence-parallel", "--distributed-optimizer", "--nic-gb-s", "50"]


def test_llama3_405b_tp8_pp16_over_126_layers_is_accepted_and_fits():
    result = CliRunner().invoke(app, ["estimate", *LLAMA3, "--gpus", "8192", "--seq-len", "8192",
                                      "--global-batch", "2048", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["tp"], out["pp"], out["dp"], out["cp"]) == (8, 16, 64, 1)
    assert out["fits"], out["memory_gb_per_gpu"]  # Meta ran it on 80 GB H100s
    # 430 TFLOP/s per GPU published (Meta's count, causal attention); ours counts full attention, so a bit more
    # work per step, and 1F1B here (Meta interleaved): within 25% below, never above what interleaving reaches.
    assert 0.75 * 430 < out["model_tflops_per_gpu"] < 1.1 * 430


def test_llama3_405b_context_parallel_at_128k():
    row = estimate_training("llama3-405b", H100, 16384, 8, 16, cp=16, seq_len=131072, global_batch=128,
                            recompute="none", interleave=4, flash_attention=True, sequence_parallel=True,
                            distributed_optimizer=True, nic_gb_s=50)
    assert (row["dp"], row["cp"], row["num_microbatches"]) == (8, 16, 16)
    assert row["breakdown"]["cp_comm_s"] == 0.0  # ring hidden behind attention at 128K
    text = CliRunner().invoke(app, ["estimate", *LLAMA3, "--gpus", "16384", "--cp", "16", "--seq-len", "131072",
                                    "--global-batch", "128", "--interleave", "4"])
    assert text.exit_code == 0 and "tp 8 x pp 16 x dp 8" in text.output and "cp 16, interleave 4" in text.output
