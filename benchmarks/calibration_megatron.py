"""Calibration of the training model against Narayanan et al. 2021, Table 1 (Megatron-LM on A100 Selene).

Run: python benchmarks/calibration_megatron.py   (data: data/calibration/megatron_table1.csv)
Prints, per row, measured vs predicted hardware TFLOP/s per GPU (recompute counted, as Megatron-LM reports).

Setup (from the paper and the CSV header): A100-80GB, 8 GPUs/node, NVLink 300 GB/s per GPU per direction,
8 x 200 Gb/s HDR InfiniBand per node (25 GB/s per GPU), seq 2048, vocab 51,200, full recompute, fp16,
dp = gpus / (tp pp), GPT layers (ffn = 4h, kv_heads = heads, tied embeddings), no flash attention (2021).
Micro-batch sizes are not in the table. Rule used here: micro-batch 1 on every row (the paper's large runs
used small micro-batches; 1 maximizes m and so minimizes the bubble), and, where the model is pipelined
(pp > 1), the interleaved schedule with the fewest chunks per stage (2, else 3) that split the stage's layers
evenly (rows 5-10: v = 2, 3, 2, 2, 3, 2); plain 1F1B if neither divides.
"""

import csv
from pathlib import Path

import numpy as np

from fleetopt.physics.training import training_step_time

CSV_PATH = Path(__file__).resolve().parents[1] / "data" / "calibration" / "megatron_table1.csv"
SEQ_LEN = 2048
VOCAB = 51200
A100_SELENE = {
    "peak_tflops": 312.0,
    "hbm_gb": 80.0,
    "hbm_gb_s": 2039.0,
    "gpus_per_node": 8,
    "nvlink_gb_s": 300.0,
    "nic_gb_s": 25.0,
}


def load_rows(path=CSV_PATH):
    """The measured rows as a dict of float arrays, one entry per CSV column."""
    with open(path) as handle:
        lines = [line for line in handle if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def megatron_configs(rows):
    """Keyword arguments for training_step_time reproducing every row at once (arrays of 10)."""
    tp, pp, gpus, layers = rows["tp"], rows["pp"], rows["gpus"], rows["layers"]
    layers_per_stage = layers / pp
    virtual_stages = np.select([pp == 1, layers_per_stage % 2 == 0, layers_per_stage % 3 == 0], [1, 2, 3], 1)
    return dict(
        layers=layers,
        hidden=rows["hidden"],
        ffn_hidden=4 * rows["hidden"],
        heads=rows["heads"],
        kv_heads=rows["heads"],
        vocab=VOCAB,
        seq_len=SEQ_LEN,
        global_batch=rows["global_batch"],
        tp=tp,
        pp=pp,
        dp=gpus / (tp * pp),
        micro_batch=1,
        tied_embeddings=True,
        recompute="full",
        virtual_stages=virtual_stages,
        **A100_SELENE,
    )


def predict(rows, **overrides):
    """Predicted step-time terms for every row."""
    return training_step_time(**{**megatron_configs(rows), **overrides})


def main():
    rows = load_rows()
    result = predict(rows)
    measured = rows["tflops_per_gpu"]
    predicted = result["hardware_tflops_per_gpu"]
    error = predicted / measured - 1.0
    print(
        f"{'row':>3} {'params_b':>8} {'tp':>3} {'pp':>3} {'gpus':>5} {'measured':>9} {'predicted':>9} "
        f"{'error':>7} {'compute':>7} {'comm':>6} {'bubble':>6} {'sync':>6} {'mem_GB':>6}"
    )
    for i in range(len(measured)):
        step = result["step_time_s"][i]
        print(
            f"{i + 1:>3} {rows['params_b'][i]:>8.1f} {rows['tp'][i]:>3.0f} {rows['pp'][i]:>3.0f} "
            f"{rows['gpus'][i]:>5.0f} {measured[i]:>9.1f} {predicted[i]:>9.1f} {error[i]:>+7.1%} "
            f"{result['compute_s'][i] / step:>7.1%} {result['comm_s'][i] / step:>6.1%} "
            f"{result['bubble_s'][i] / step:>6.1%} {result['sync_s'][i] / step:>6.1%} "
            f"{result['memory_gb_per_gpu'][i]:>6.1f}"
        )
    print(f"max |error| {np.abs(error).max():.1%}, median |error| {np.median(np.abs(error)):.1%}")


if __name__ == "__main__":
    main()
