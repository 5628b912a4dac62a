"""Single-replica serving estimator: TTFT, inter-token latency, request latency and throughput of one LLM
replica (tp GPUs, weights at a precision) at a concurrency, or its capacity at a p99 SLO.

The laws are the candidates' and the verifier's: physics.serving.llm_replica for prefill and decode, and
physics.queueing's continuous-batching model (closed_loop at a concurrency, as serving benchmarks load a
server; batching_capacity_rps at an SLO, as the planner does with Poisson arrivals).
"""

from __future__ import annotations

import math

import numpy as np

from fleetopt.candidates.estimate import resolve_accelerator, resolve_model
from fleetopt.candidates.serving import transformer_params
from fleetopt.errors import bad_argument, check_number, check_whole
from fleetopt.io.schema import Accelerator, TransformerCard
from fleetopt.physics import queueing, serving

PRECISIONS = ("bf16", "fp8")
MAX_TOKENS = 10**7
MAX_CONCURRENCY = 10**6


def _check(card: TransformerCard, acc: Accelerator, tp, precision, kv_precision, prompt_tokens, output_tokens,
           concurrency, slo_p99_ms, max_batch) -> None:
    check_whole("tp", tp, 1, 1024)
    kv_heads = card.kv_heads or card.heads
    if tp > acc.gpus_per_node or card.heads % tp or kv_heads % tp:
        raise bad_argument("tp", f"{tp} must be at most the node's {acc.gpus_per_node} GPUs and divide the "
                           f"{card.heads} heads and {kv_heads} kv heads")
    for argument, value in (("precision", precision), ("kv_precision", kv_precision)):
        if value not in PRECISIONS:
            raise bad_argument(argument, f"'{value}'; expected one of {', '.join(PRECISIONS)}")
    if precision == "fp8" and acc.fp8_tflops is None:
        raise bad_argument("precision", "fp8 needs an accelerator with an FP8 peak (fp8_tflops)")
    check_whole("prompt_tokens", prompt_tokens, 1, MAX_TOKENS)
    check_whole("output_tokens", output_tokens, 1, MAX_TOKENS)
    if (concurrency is None) == (slo_p99_ms is None):
        raise bad_argument("concurrency", "give exactly one of --concurrency and --slo-p99-ms")
    if concurrency is not None:
        check_whole("concurrency", concurrency, 1, MAX_CONCURRENCY)
    if slo_p99_ms is not None:
        check_number("slo_p99_ms", slo_p99_ms, 0, low_open=True)
    if max_batch is not None:
        check_whole("max_batch", max_batch, 1, MAX_CONCURRENCY)


def estimate_serving(model, accelerator, tp: int, precision: str, prompt_tokens: int, output_tokens: int, *,
                     concurrency: int | None = None, slo_p99_ms: float | None = None,
                     kv_precision: str = "bf16", max_batch: int | None = None,
                     output_cv: float = queueing.OUTPUT_LENGTH_CV) -> dict:
    """One replica's serving figures (a JSON-ready dict). With `concurrency`: TTFT, ITL, request latency,
    output tokens/s and requests/s under that many closed-loop clients. With `slo_p99_ms`: the requests/s the
    replica takes with Poisson arrivals at that p99 (output lengths of coefficient of variation `output_cv`),
    and the latencies there. Slots = max_batch (default: min(KV-cache fit, serving.MAX_NUM_SEQS)).

    Raises fleetopt.errors.InputError for bad arguments or a model whose weights and one sequence do not fit
    the tp GPUs.
    """
    mname, card = resolve_model(model, "the serving estimator models transformer (LLM) serving only")
    aname, acc = resolve_accelerator(accelerator)
    _check(card, acc, tp, precision, kv_precision, prompt_tokens, output_tokens, concurrency, slo_p99_ms,
           max_batch)
    check_number("output_cv", output_cv, 0)
    params = transformer_params(card)
    kv_heads = card.kv_heads or card.heads
    link = acc.nvlink_gb_s if acc.nvlink_gb_s > 0 else acc.pcie_gb_s
    fp8 = acc.fp8_tflops if acc.fp8_tflops is not None else math.nan

    def physics(slots):
        return serving.llm_replica(params, card.layers, card.hidden, card.heads, kv_heads, prompt_tokens,
                                   output_tokens, slots, tp, acc.peak_tflops, acc.hbm_gb, acc.hbm_gb_s, link,
                                   precision, fp8, kv_precision)

    fits = int(physics(1)["max_slots"])
    if fits < 1:
        raise bad_argument("tp", f"{mname} in {precision} with one {prompt_tokens + output_tokens}-token "
                           f"sequence does not fit {tp} x {acc.hbm_gb:g} GB; raise --tp")
    slots = min(fits, serving.MAX_NUM_SEQS) if max_batch is None else min(max_batch, fits)
    rep = physics(slots)
    args = (slots, rep["prefill_s"], rep["step_s"], rep["step_full_s"], output_tokens, rep["chunks"])
    row = {"model": mname, "accelerator": aname, "tp": int(tp), "gpus": int(tp), "precision": precision,
           "kv_precision": kv_precision, "prompt_tokens": int(prompt_tokens), "output_tokens": int(output_tokens),
           "slots": int(slots), "kv_fit_sequences": fits, "prefill_s": float(rep["prefill_s"]),
           "decode_step_s": float(rep["step_s"]), "decode_step_full_s": float(rep["step_full_s"]),
           "saturation_rps": float(queueing.batching_saturation_rps(*args))}
    if concurrency is not None:
        loop = queueing.closed_loop(concurrency, *args, serving.REQUEST_OVERHEAD_S)
        row.update(mode="concurrency", concurrency=int(concurrency), **{k: float(v) for k, v in loop.items()})
    else:
        rps = float(queueing.batching_capacity_rps(slo_p99_ms / 1e3, *args, serving.REQUEST_OVERHEAD_S,
                                                   output_cv, 0.99))
        state = queueing.batching_state(rps, *args, serving.REQUEST_OVERHEAD_S, output_cv)
        p99 = float(queueing.batching_latency_quantile_s(rps, *args, serving.REQUEST_OVERHEAD_S, output_cv))
        idle = float(queueing.batching_latency_quantile_s(0.0, *args, serving.REQUEST_OVERHEAD_S, output_cv))
        row.update(mode="slo", slo_p99_ms=float(slo_p99_ms), rps=rps, output_tokens_per_s=rps * output_tokens,
                   ttft_s=float(state["ttft_s"]), itl_s=float(state["itl_s"]),
                   latency_s=float(state["ttft_s"] + state["decode_s"]),
                   p99_latency_s=p99 if rps > 0 else idle, idle_p99_latency_s=idle,
                   in_slots=float(rps * state["holding_s"]) if rps > 0 else 0.0)
    return {k: (round(v, 9) if isinstance(v, float) and np.isfinite(v) else v) for k, v in row.items()}
