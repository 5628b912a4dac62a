"""The serving model against every published serving set it is calibrated on or judged by (SETS): NVIDIA NIM 1.8.0
on H100 (data/calibration/serving_nim_h100.csv, the calibration set) and the older NIM containers' tables
(serving_nim_h100_judging.csv, never fitted).

Run: python benchmarks/bench_serving_calibration.py [--markdown | --ttft | --little | --mlperf]
Prints, per set and row, measured vs predicted TTFT, inter-token latency (ITL) and output tokens/s of one replica
under the row's closed-loop concurrency (fleetopt.candidates.estimate_serving, the laws the planner uses), the
signed error of each, the MAPE per model and metric, and each model's rank correlation of measured and predicted
values. --markdown prints the README's table (every set) instead. --ttft and --little read the calibration set:
--ttft prints, per row, how far the measured TTFT exceeds the model's, counted in the row's own prefills and in
its decode steps, and the TTFT MAPE per model of the closed-loop laws tried for it (ttft_laws): none fits both
models (README, "LLM replicas"); --little prints, per row, the TTFT that Little's law gives from the row's own
throughput and ITL (little_ttft) beside the measured one, and the cycle-to-TTFT ratio: the factor by which a
throughput error becomes a TTFT error in a closed loop. --mlperf sets the planner's Poisson-arrival law beside
MLPerf Inference's H100 llama2-70b Server point (serving_mlperf_h100_reference.csv) over a bracket of mean prompt
lengths, the one length that point does not publish (mlperf_bracket).

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
from fleetopt.io.schema import TransformerCard
from fleetopt.physics import queueing
from fleetopt.physics.serving import DECODE_STEP_OVERHEAD_S, PREFILL_CHUNK_TOKENS, REQUEST_OVERHEAD_S

DATA = Path(__file__).resolve().parents[1] / "data" / "calibration"
CSV_PATH = DATA / "serving_nim_h100.csv"
# (name, file, role): the calibration set chose the constants; judging sets were never fitted.
SETS = (("NIM 1.8.0", CSV_PATH, "calibration"),
        ("NIM 1.5.0/1.3.0", DATA / "serving_nim_h100_judging.csv", "judging"))
MLPERF_PATH = DATA / "serving_mlperf_h100_reference.csv"
MLPERF_PROMPTS = (150, 200, 300, 400, 500, 600)   # mean prompt lengths bracketed (OpenOrca's is not published)
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
        item["prefill_s"], item["itl_s"] = est["prefill_s"] - DECODE_STEP_OVERHEAD_S, est["itl_s"]
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


def markdown(table: dict, label: str = "") -> str:
    """The README table: MAPE, worst row, share of rows within 15% and Spearman rank correlation per model and
    metric; with `label`, one table's rows under a leading set column (no header)."""
    lines = [] if label else ["| model | rows | TTFT MAPE (worst, within 15%, rank corr.) | ITL MAPE (...) | "
                              "tokens/s MAPE (...) |", "|---|---|---|---|---|"]
    for model in sorted({m for m, _ in table}, key=lambda m: (m == "all", m)):
        cells = [f"{table[(model, n)]['mape']:.1%} ({table[(model, n)]['worst']:.0%}, "
                 f"{table[(model, n)]['within_15']:.0%}, {table[(model, n)]['rank_corr']:.2f})" for n, *_ in METRICS]
        lead = f"| {label} " if label else ""
        lines.append(f"{lead}| {model} | {table[(model, 'ttft')]['rows']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def set_tables() -> list[tuple[str, str, dict]]:
    """(name, role, summary table) of every set in SETS."""
    return [(name, role, summary(predictions(load_rows(path)))) for name, path, role in SETS]


def readme_markdown(tables: list[tuple[str, str, dict]]) -> str:
    """The README's serving table: every set (calibration and judging), one line per model and the set's total."""
    lines = ["| set (role) | model | rows | TTFT MAPE (worst, within 15%, rank corr.) | ITL MAPE (...) | "
             "tokens/s MAPE (...) |", "|---|---|---|---|---|---|"]
    return "\n".join(lines + [markdown(table, f"{name} ({role})") for name, role, table in tables])


def ttft_laws(p: dict) -> dict[str, float]:
    """Predicted TTFT (s) of one row under the closed-loop laws tried for the benchmark's clients: the model's
    (Poisson-like arrivals spread over the cycle: M/D/1 prefill wait and 1.5 decode steps), lockstep (the C
    clients arrive together and a request waits behind the (C - 1)/2 prefills admitted before it on average),
    lockstep in chunks (its first token comes when the PREFILL_CHUNK_TOKENS-token chunk holding the end of its
    prompt is done) and a fixed admission delay of 5 decode steps in place of the model's 1.5.
    Source: iteration-level scheduling (Orca, Yu et al. 2022); chunked prefill (Sarathi-Serve, Agrawal et al.
    2024); measured TTFT of data/calibration/serving_nim_h100.csv for the comparison."""
    clients, model = min(int(p["concurrency"]), p["slots"]), p["ttft"][1] / 1e3
    prompt, prefill = int(p["prompt_tokens"]), p["prefill_s"]
    ahead = np.ceil(np.arange(1, clients + 1) * prompt / PREFILL_CHUNK_TOKENS) * PREFILL_CHUNK_TOKENS
    chunked = np.minimum(ahead, clients * prompt).mean() / prompt * prefill
    others = (int(p["concurrency"]) - 1) / int(p["concurrency"])
    return {"model": model, "lockstep": model + (clients - 1) / 2 * prefill,
            "lockstep_chunks": model - prefill + chunked, "five_steps": model + 3.5 * p["itl_s"] * others}


def ttft_excess(p: dict) -> dict[str, float]:
    """How far the measured TTFT exceeds the model's: in ms, in the row's own prefills (as a lockstep cohort:
    1 + 2 x excess / prefill clients arriving together) and in decode steps (excess / ITL)."""
    excess = (p["ttft"][0] - p["ttft"][1]) / 1e3
    return {"excess_ms": excess * 1e3, "cohort": 1.0 + 2.0 * excess / p["prefill_s"],
            "decode_steps": excess / p["itl_s"]}


def little_ttft(row: dict) -> dict[str, float]:
    """TTFT (s) that Little's law gives a closed loop of C clients from the row's measured output tokens/s and
    ITL: C / X - (O - 1) x ITL (X = tokens/s / O requests/s; client think time ~0), the measured TTFT's ratio to
    it, and `amplification` = (C / X) / TTFT: a relative error e in X moves that TTFT by about -e x amplification.
    Source: Little 1961 (N = X R over the whole loop); data/calibration/serving_nim_h100.csv."""
    clients, output = int(row["concurrency"]), int(row["output_tokens"])
    cycle = clients * output / float(row["output_tokens_per_s"])
    little = cycle - (output - 1) * float(row["itl_ms"]) / 1e3
    measured = float(row["ttft_ms"]) / 1e3
    return {"little_s": little, "ratio": measured / little, "amplification": cycle / measured}


def little_report(rows: list[dict]) -> str:
    lines = [f"{'model':<11}{'in':>6}{'out':>6}{'conc':>5} {'TTFT ms':>10} {'Little ms':>10} {'ratio':>6} "
             f"{'cycle/TTFT':>10}"]
    for row in rows:
        x = little_ttft(row)
        lines.append(f"{row['model']:<11}{row['prompt_tokens']:>6}{row['output_tokens']:>6}{row['concurrency']:>5} "
                     f"{float(row['ttft_ms']):>10.0f} {x['little_s'] * 1e3:>10.0f} {x['ratio']:>6.2f} "
                     f"{x['amplification']:>10.1f}")
    ratios = np.array([little_ttft(r)["ratio"] for r in rows])
    lines.append(f"measured / Little: median {np.median(ratios):.2f}, within 10% on "
                 f"{(np.abs(ratios - 1) <= 0.1).mean():.0%} of {len(rows)} rows")
    return "\n".join(lines)


def ttft_report(preds: list[dict]) -> str:
    lines = [f"{'model':<11}{'in':>6}{'out':>6}{'conc':>5} {'excess ms':>10} {'cohort':>7} {'steps':>6}"]
    for p in preds:
        x = ttft_excess(p)
        lines.append(f"{p['model']:<11}{p['prompt_tokens']:>6}{p['output_tokens']:>6}{p['concurrency']:>5} "
                     f"{x['excess_ms']:>10.0f} {x['cohort']:>7.1f} {x['decode_steps']:>6.1f}")
    lines += ["", "TTFT MAPE (share of rows within 15%) per closed-loop law:"]
    for model in sorted({p["model"] for p in preds}):
        mine = [p for p in preds if p["model"] == model]
        cells = []
        for law in ttft_laws(mine[0]):
            err = np.abs([ttft_laws(p)[law] / (p["ttft"][0] / 1e3) - 1.0 for p in mine])
            cells.append(f"{law} {err.mean():.0%} ({(err <= 0.15).mean():.0%})")
        lines.append(f"{model:<11}" + ", ".join(cells))
    return "\n".join(lines)


def mlperf_bracket(row: dict, prompt_tokens: int) -> dict[str, float]:
    """The planner's law for one replica of the MLPerf Server point at its published settings (tp, fp8 weights and
    KV cache, max batch) and per-replica Poisson rate, at a mean prompt of `prompt_tokens`: slots, saturation
    requests/s, and mean TTFT, ITL and request latency at that rate (inf past saturation).
    Source: batching_state (continuous batching; Little's law) on data/calibration/serving_mlperf_h100_reference.csv."""
    card = TransformerCard(layers=int(row["layers"]), hidden=int(row["hidden"]), ffn_hidden=int(row["ffn_hidden"]),
                           heads=int(row["heads"]), kv_heads=int(row["kv_heads"]), vocab=int(row["vocab"]),
                           swiglu=True)
    rps = float(row["samples_per_s"]) / int(row["replicas"])
    output = round(float(row["output_tokens_per_s"]) / float(row["samples_per_s"]))
    est = estimate_serving(card, row["accelerator"], int(row["tp"]), row["precision"], prompt_tokens, output,
                           concurrency=1, kv_precision="fp8", max_batch=int(row["max_batch"]))
    chunks = max(1.0, float(np.ceil(prompt_tokens / PREFILL_CHUNK_TOKENS)))
    state = queueing.batching_state(rps, est["slots"], est["prefill_s"], est["decode_step_s"],
                                    est["decode_step_full_s"], output, chunks, REQUEST_OVERHEAD_S)
    return {"slots": est["slots"], "saturation_rps": est["saturation_rps"], "rps": rps,
            "ttft_s": float(state["ttft_s"]), "itl_s": float(state["itl_s"]),
            "latency_s": float(state["ttft_s"] + state["decode_s"])}


def mlperf_report(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        lines.append(f"{row['model']} tp {row['tp']} {row['precision']}, max batch {row['max_batch']}, "
                     f"{float(row['samples_per_s']) / int(row['replicas']):.2f} req/s per replica")
        lines.append(f"measured: TTFT {float(row['ttft_mean_ms']):.0f} ms, TPOT {float(row['tpot_mean_ms']):.0f} "
                     f"ms, latency {float(row['latency_mean_ms']) / 1e3:.1f} s")
        lines.append(f"{'prompt':>7} {'slots':>6} {'sat. req/s':>10} {'TTFT ms':>8} {'ITL ms':>7} {'latency s':>9}")
        for prompt in MLPERF_PROMPTS:
            x = mlperf_bracket(row, prompt)
            lines.append(f"{prompt:>7} {x['slots']:>6} {x['saturation_rps']:>10.2f} {x['ttft_s'] * 1e3:>8.0f} "
                         f"{x['itl_s'] * 1e3:>7.1f} {x['latency_s']:>9.1f}")
    return "\n".join(lines)


def row_report(preds: list[dict]) -> None:
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


def main(argv: list[str]) -> None:
    if "--little" in argv:
        print(little_report(load_rows()))
        return
    if "--ttft" in argv:
        print(ttft_report(predictions(load_rows())))
        return
    if "--markdown" in argv:
        print(readme_markdown(set_tables()))
        return
    if "--mlperf" in argv:
        print(mlperf_report(load_rows(MLPERF_PATH)))
        return
    for name, path, role in SETS:
        preds = predictions(load_rows(path))
        print(f"{name} ({role}): {path.name}")
        row_report(preds)
        print()
        print(markdown(summary(preds)))
        print()



if __name__ == "__main__":
    main(sys.argv[1:])
