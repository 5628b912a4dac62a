"""Calibration of the serving model against NVIDIA NIM 1.8.0 benchmarks on H100 (data/calibration/serving_nim_h100.csv).

Run: python benchmarks/bench_serving_calibration.py [--markdown]
Prints, per row, measured vs predicted TTFT, inter-token latency (ITL) and output tokens/s of one replica under
the row's closed-loop concurrency (fleetopt.candidates.estimate_serving, the laws the planner uses), the signed
error of each, the MAPE per model and metric, and each model's rank correlation of measured and predicted
values. --markdown prints the README's table instead.

Setup: the rows' model, accelerator, tp and fp8 weights; the KV cache in fp8 too (NIM's FP8 profiles quantize
it; at bf16 the 70B 5000/500 table would saturate near 43 sequences, it saturates between 50 and 100), slots =
min(KV-cache fit, 256). Rows past saturation are kept: the model queues the clients beyond the slots.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from fleetopt.candidates.estimate_serving import estimate_serving

CSV_PATH = Path(__file__).resolve().parents[1] / "data" / "calibration" / "serving_nim_h100.csv"
METRICS = (("ttft", "ttft_ms", "ttft_s", 1e3), ("itl", "itl_ms", "itl_s", 1e3),
           ("throughput", "output_tokens_per_s", "output_tokens_per_s", 1.0))


def load_rows(path=CSV_PATH) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def predictions(rows: list[dict]) -> list[dict]:
    """Per row: the measured and predicted value and the relative error of each metric."""
    out = []
    for row in rows:
        est = estimate_serving(row["model"], row["accelerator"], int(row["tp"]), row["precision"],
                               int(row["prompt_tokens"]), int(row["output_tokens"]),
                               concurrency=int(row["concurrency"]), kv_precision="fp8")
        item = {k: row[k] for k in ("model", "prompt_tokens", "output_tokens", "concurrency")}
        for name, measured_key, predicted_key, scale in METRICS:
            measured, predicted = float(row[measured_key]), est[predicted_key] * scale
            item[name] = (measured, predicted, predicted / measured - 1.0)
        item["slots"] = est["slots"]
        out.append(item)
    return out


def summary(preds: list[dict]) -> dict[tuple[str, str], dict]:
    """(model, metric) -> MAPE, worst error, share of rows within 15%, rows, Spearman rank correlation of
    measured and predicted; plus ('all', metric)."""
    table = {}
    for model in sorted({p["model"] for p in preds}) + ["all"]:
        mine = [p for p in preds if model in ("all", p["model"])]
        for name, *_ in METRICS:
            err = np.abs([p[name][2] for p in mine])
            rho = spearmanr([p[name][0] for p in mine], [p[name][1] for p in mine]).statistic
            table[(model, name)] = {"mape": float(err.mean()), "worst": float(err.max()),
                                    "within_15": float((err <= 0.15).mean()), "rows": len(mine),
                                    "rank_corr": float(rho)}
    return table


def markdown(table: dict) -> str:
    """The README table: MAPE, worst row, share of rows within 15% and Spearman rank correlation per model and
    metric."""
    lines = ["| model | rows | TTFT MAPE (worst, within 15%, rank corr.) | ITL MAPE (...) | tokens/s MAPE (...) |",
             "|---|---|---|---|---|"]
    for model in sorted({m for m, _ in table}, key=lambda m: (m == "all", m)):
        cells = [f"{table[(model, n)]['mape']:.1%} ({table[(model, n)]['worst']:.0%}, "
                 f"{table[(model, n)]['within_15']:.0%}, {table[(model, n)]['rank_corr']:.2f})" for n, *_ in METRICS]
        lines.append(f"| {model} | {table[(model, 'ttft')]['rows']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    preds = predictions(load_rows())
    table = summary(preds)
    if "--markdown" in argv:
        print(markdown(table))
        return
    print(f"{'model':<11}{'in':>6}{'out':>6}{'conc':>5} {'TTFT ms':>17} {'err':>5} {'ITL ms':>13} {'err':>5}"
          f" {'tokens/s':>15} {'err':>5}")
    for p in preds:
        cells = []
        for name, width in (("ttft", 8), ("itl", 6), ("throughput", 7)):
            measured, predicted, err = p[name]
            cells.append(f"{measured:>{width}.0f}/{predicted:<{width}.0f} {err:>+5.0%}" if name != "itl" else
                         f"{measured:>{width}.1f}/{predicted:<{width}.1f} {err:>+5.0%}")
        print(f"{p['model']:<11}{p['prompt_tokens']:>6}{p['output_tokens']:>6}{p['concurrency']:>5} "
              + " ".join(cells))
    print()
    print(markdown(table))



if __name__ == "__main__":
    main(sys.argv[1:])
