"""Serving roofline: prefill is compute bound, decode is HBM-bandwidth bound (the memory wall).

All functions take scalars or numpy arrays (broadcast together) and return float64 of the broadcast shape.
Units: params and tokens are counts; `*_tflops` is 1e12 FLOP/s, `*_gb` 1e9 B, `*_gb_s` 1e9 B/s (the
accelerator catalog's units). Tensor parallelism is Megatron-style and assumes tp <= kv_heads, so
weights and KV cache are both split tp ways.
"""

import numpy as np

from fleetopt.physics.collectives import ring_allreduce_time

# Assumption, overridable: fraction of dense peak that large forward GEMMs sustain. Same order as the 41-43%
# BF16 MFU of Llama 3 405B training on H100 (Dubey et al. 2024, Table 4); prefill is forward-only, so a bit higher.
PREFILL_FLOPS_EFFICIENCY = 0.5
# Assumption, overridable: fraction of the spec HBM bandwidth that weight/KV streaming kernels achieve.
HBM_BANDWIDTH_EFFICIENCY = 0.8
# Assumption, overridable: latency of one intra-node NVLink ring step (the alpha of the alpha-beta model).
NVLINK_ALPHA_S = 1e-6
# Megatron tensor parallelism: one AllReduce after attention and one after the MLP in each layer's forward.
TP_ALLREDUCES_PER_LAYER = 2
ACTIVATION_BYTES = 2  # bf16 activations on the TP AllReduce

# Continuous batching, calibrated once on data/calibration/serving_nim_h100.csv (NVIDIA NIM 1.8.0 on H100;
# benchmarks/bench_serving_calibration.py prints the per-row error). These replace the two assumptions above
# on the LLM serving path (llm_replica); the training and CNN/DLRM paths keep theirs.
SERVING_PREFILL_FLOPS_EFFICIENCY = 0.5   # fraction of dense peak a prefill forward sustains (calibrated)
SERVING_HBM_EFFICIENCY = 0.8             # fraction of spec HBM bandwidth a decode step streams (calibrated)
DECODE_FLOPS_EFFICIENCY = 0.35          # fraction of dense peak the decode GEMMs (batch rows) sustain (calibrated)
SERVING_ALLREDUCE_LATENCY_S = 16e-6      # fixed latency of one small TP AllReduce, any tp (calibrated at tp 2)
DECODE_STEP_OVERHEAD_S = 1.2e-3          # per engine step: scheduling, sampling, launches (calibrated)
REQUEST_OVERHEAD_S = 5e-3                # per request outside the GPU: HTTP, tokenizer, detokenizer (calibrated)
# TensorRT-LLM's default max_num_tokens (tokens one engine step takes): a prompt longer than this is prefilled
# in chunks, each carrying the running decodes (Agrawal et al. 2024, Sarathi-Serve, chunked prefill).
PREFILL_CHUNK_TOKENS = 8192
MAX_NUM_SEQS = 256                       # TensorRT-LLM and vLLM default max batch (max_batch_size, max_num_seqs)

_BYTES_PER_WEIGHT = {"bf16": 2.0, "fp8": 1.0}


def _is_fp8(precision):
    precision = np.asarray(precision)
    unknown = ~np.isin(precision, list(_BYTES_PER_WEIGHT))
    if np.any(unknown):
        raise ValueError(f"precision must be one of {sorted(_BYTES_PER_WEIGHT)}, got {precision[unknown]}")
    return precision == "fp8"


def bytes_per_weight(precision):
    """Bytes per stored weight: 2 for 'bf16', 1 for 'fp8'.

    Source: bfloat16 is 16 bits; FP8 (E4M3/E5M2) is 8 bits (Micikevicius et al. 2022, "FP8 Formats for DL").
    """
    return np.where(_is_fp8(precision), 1.0, 2.0)


def weight_bytes(params, precision="bf16"):
    """Bytes of all weights: params x bytes per weight (llama3-70b in bf16: 141.2 GB).

    Source: weight-memory accounting of Pope et al. 2023, "Efficiently Scaling Transformer Inference".
    """
    return np.asarray(params, dtype=float) * bytes_per_weight(precision)


def peak_flops_per_s(peak_tflops, precision="bf16", fp8_tflops=None):
    """Dense peak FLOP/s at the precision: peak_tflops for bf16; fp8_tflops (NaN or None: 2 x peak) for fp8.

    Source: NVIDIA H100 datasheet (989 TFLOP/s dense BF16, 1,979 dense FP8: FP8 is 2x BF16).
    """
    peak = np.asarray(peak_tflops, dtype=float)
    fp8 = 2.0 * peak if fp8_tflops is None else np.where(np.isnan(fp8_tflops), 2.0 * peak, fp8_tflops)
    return np.where(_is_fp8(precision), fp8, peak) * 1e12


def kv_cache_bytes_per_token(layers, hidden, heads, kv_heads, bytes_per_value=2):
    """KV-cache bytes per token: 2 (K, V) x layers x kv_heads x head_dim x bytes (llama3-70b bf16: 327,680).

    Source: Pope et al. 2023 (KV-cache size); grouped-query attention, Ainslie et al. 2023 (kv_heads < heads).
    """
    head_dim = np.asarray(hidden, dtype=float) / np.asarray(heads, dtype=float)
    return (2.0 * np.asarray(layers, dtype=float) * np.asarray(kv_heads, dtype=float) * head_dim
            * bytes_per_value)


def prefill_flops(params, layers, hidden, prompt_tokens, batch):
    """Prefill forward FLOPs: 2 x params x tokens plus causal attention 2 x layers x prompt^2 x hidden each.

    Source: Hoffmann et al. 2022 (Chinchilla) App. F: QK^T, AV 2 x seq^2 x hidden per layer; causal halves.
    """
    prompt = np.asarray(prompt_tokens, dtype=float)
    batch = np.asarray(batch, dtype=float)
    dense = 2.0 * np.asarray(params, dtype=float) * prompt * batch
    attention = 2.0 * np.asarray(layers, dtype=float) * prompt**2 * np.asarray(hidden, dtype=float) * batch
    return dense + attention


def tensor_parallel_allreduce_s(tokens, hidden, layers, tp, nvlink_gb_s, alpha_s=NVLINK_ALPHA_S):
    """TP AllReduce time of one forward over `tokens` tokens: 2 per layer, each of tokens x hidden activations.

    Source: Shoeybi et al. 2019 (Megatron-LM: two AllReduces per layer forward); ring cost, chapter fn. 3.
    """
    message_bytes = np.asarray(tokens, dtype=float) * np.asarray(hidden, dtype=float) * ACTIVATION_BYTES
    beta_bytes_per_s = np.asarray(nvlink_gb_s, dtype=float) * 1e9
    per_allreduce = ring_allreduce_time(tp, message_bytes, alpha_s, beta_bytes_per_s)
    return TP_ALLREDUCES_PER_LAYER * np.asarray(layers, dtype=float) * per_allreduce


def prefill_time_s(params, layers, hidden, prompt_tokens, batch, tp, peak_tflops, nvlink_gb_s,
                   precision="bf16", fp8_tflops=None, flops_efficiency=PREFILL_FLOPS_EFFICIENCY,
                   alpha_s=NVLINK_ALPHA_S, hbm_gb_s=None, hbm_efficiency=HBM_BANDWIDTH_EFFICIENCY):
    """Prefill time: prefill FLOPs / (tp x peak x efficiency), at least the weights' HBM read when hbm_gb_s
    is given (short prompts), plus the TP AllReduces.

    Source: roofline model (Williams et al. 2009) applied to transformer inference (Pope et al. 2023).
    """
    flops_per_s = (np.asarray(tp, dtype=float) * peak_flops_per_s(peak_tflops, precision, fp8_tflops)
                   * flops_efficiency)
    compute = prefill_flops(params, layers, hidden, prompt_tokens, batch) / flops_per_s
    if hbm_gb_s is not None:
        reads = weight_bytes(params, precision) / np.asarray(tp, dtype=float) / (
            np.asarray(hbm_gb_s, dtype=float) * 1e9 * hbm_efficiency)
        compute = np.maximum(compute, reads)
    tokens = np.asarray(prompt_tokens, dtype=float) * np.asarray(batch, dtype=float)
    return compute + tensor_parallel_allreduce_s(tokens, hidden, layers, tp, nvlink_gb_s, alpha_s)


def decode_step_flops(params, layers, hidden, context_tokens, batch):
    """FLOPs of one decode step: per sequence 2 x params plus attention 4 x layers x context x hidden.

    Source: Hoffmann et al. 2022 (Chinchilla) App. F, one query token attending to `context_tokens` keys.
    """
    batch = np.asarray(batch, dtype=float)
    dense = 2.0 * np.asarray(params, dtype=float) * batch
    attention = (4.0 * np.asarray(layers, dtype=float) * np.asarray(context_tokens, dtype=float)
                 * np.asarray(hidden, dtype=float) * batch)
    return dense + attention


def decode_step_time_s(params, layers, hidden, heads, kv_heads, context_tokens, batch, tp, peak_tflops,
                       hbm_gb_s, nvlink_gb_s, precision="bf16", fp8_tflops=None, kv_bytes_per_value=2,
                       hbm_efficiency=HBM_BANDWIDTH_EFFICIENCY, flops_efficiency=PREFILL_FLOPS_EFFICIENCY,
                       alpha_s=NVLINK_ALPHA_S):
    """One decode step: max(HBM time of (weights + batch KV)/tp, compute time) plus the TP AllReduces.

    Source: roofline (Williams et al. 2009); decode is memory bound (Pope et al. 2023; chapter, memory wall).
    """
    tp = np.asarray(tp, dtype=float)
    batch = np.asarray(batch, dtype=float)
    kv_bytes = batch * np.asarray(context_tokens, dtype=float) * kv_cache_bytes_per_token(
        layers, hidden, heads, kv_heads, kv_bytes_per_value)
    hbm_bytes_per_s = np.asarray(hbm_gb_s, dtype=float) * 1e9 * hbm_efficiency
    memory = (weight_bytes(params, precision) + kv_bytes) / tp / hbm_bytes_per_s
    flops_per_s = tp * peak_flops_per_s(peak_tflops, precision, fp8_tflops) * flops_efficiency
    compute = decode_step_flops(params, layers, hidden, context_tokens, batch) / flops_per_s
    allreduce = tensor_parallel_allreduce_s(batch, hidden, layers, tp, nvlink_gb_s, alpha_s)
    return np.maximum(memory, compute) + allreduce


def decode_flops_utilization(params, layers, hidden, heads, kv_heads, context_tokens, batch, tp, peak_tflops,
                             hbm_gb_s, nvlink_gb_s, precision="bf16", fp8_tflops=None, kv_bytes_per_value=2,
                             hbm_efficiency=HBM_BANDWIDTH_EFFICIENCY,
                             flops_efficiency=PREFILL_FLOPS_EFFICIENCY, alpha_s=NVLINK_ALPHA_S):
    """Achieved decode FLOP/s over the tp GPUs' peak at the precision (batch-1 70B decode: well under 1%).

    Source: chapter, "memory wall" (decode reaches a small fraction of H100 tensor peak); Pope et al. 2023.
    """
    step = decode_step_time_s(params, layers, hidden, heads, kv_heads, context_tokens, batch, tp,
                              peak_tflops, hbm_gb_s, nvlink_gb_s, precision, fp8_tflops, kv_bytes_per_value,
                              hbm_efficiency, flops_efficiency, alpha_s)
    achieved = decode_step_flops(params, layers, hidden, context_tokens, batch) / step
    return achieved / (np.asarray(tp, dtype=float) * peak_flops_per_s(peak_tflops, precision, fp8_tflops))


def serving_decode_step_s(params, layers, hidden, heads, kv_heads, context_tokens, batch, tp, peak_tflops,
                          hbm_gb_s, link_gb_s, precision="bf16", fp8_tflops=None, kv_bytes_per_value=2):
    """A serving engine's decode step: HBM time of (weights + batch KV)/tp plus the dense FLOPs of the batch's
    rows at DECODE_FLOPS_EFFICIENCY plus the TP AllReduces (the sum, not the roofline max: measured ITL grows
    linearly with the batch from batch 1, so weight streaming and the skinny GEMMs do not overlap).

    Calibrated on data/calibration/serving_nim_h100.csv (Llama 3 70B fp8 TP2 at batch 1: 18.6 ms).
    Source: roofline terms of Pope et al. 2023, summed; calibrated on NVIDIA NIM 1.8.0 H100 ITL.
    """
    tp = np.asarray(tp, dtype=float)
    batch = np.asarray(batch, dtype=float)
    kv_bytes = batch * np.asarray(context_tokens, dtype=float) * kv_cache_bytes_per_token(
        layers, hidden, heads, kv_heads, kv_bytes_per_value)
    memory = (weight_bytes(params, precision) + kv_bytes) / tp / (
        np.asarray(hbm_gb_s, dtype=float) * 1e9 * SERVING_HBM_EFFICIENCY)
    compute = 2.0 * np.asarray(params, dtype=float) * batch / (
        tp * peak_flops_per_s(peak_tflops, precision, fp8_tflops) * DECODE_FLOPS_EFFICIENCY)
    return memory + compute + serving_allreduce_s(batch, hidden, layers, tp, link_gb_s)


def serving_allreduce_s(tokens, hidden, layers, tp, link_gb_s):
    """TP AllReduces of one serving forward over `tokens` tokens: 2 per layer, each a fixed latency plus the
    ring's bandwidth term (a one-shot NVSwitch AllReduce's latency does not grow with tp as a ring's does).

    Source: Shoeybi et al. 2019 (2 per layer); TensorRT-LLM one-shot NVSwitch AllReduce; NIM 1.8.0 70B TP2 ITL.
    """
    ring = tensor_parallel_allreduce_s(tokens, hidden, layers, tp, link_gb_s, 0.0)
    latency = (TP_ALLREDUCES_PER_LAYER * np.asarray(layers, dtype=float) * SERVING_ALLREDUCE_LATENCY_S
               * (np.asarray(tp, dtype=float) > 1))
    return ring + latency


def llm_replica(params, layers, hidden, heads, kv_heads, prompt_tokens, output_tokens, slots, tp, peak_tflops,
                hbm_gb, hbm_gb_s, link_gb_s, precision="bf16", fp8_tflops=None, kv_precision="bf16"):
    """One LLM replica's serving physics at the calibrated constants, the single law candidates, verify and
    estimate call: a dict of arrays prefill_s (one prompt alone), step_s (a decode step of one sequence),
    step_full_s (of `slots` sequences; both at the mean decode context, with the per-step overhead),
    max_slots (sequences whose KV cache fits) and chunks (engine steps one prefill takes).

    Source: roofline (Williams et al. 2009; Pope et al. 2023), chunked prefill (Agrawal et al. 2024), NIM 1.8.0.
    """
    context = mean_decode_context_tokens(prompt_tokens, output_tokens)
    kv_value = bytes_per_weight(kv_precision)
    kv_per_token = kv_cache_bytes_per_token(layers, hidden, heads, kv_heads, kv_value)
    prefill = prefill_time_s(params, layers, hidden, prompt_tokens, 1, tp, peak_tflops, link_gb_s, precision,
                             fp8_tflops, SERVING_PREFILL_FLOPS_EFFICIENCY, 0.0, hbm_gb_s, SERVING_HBM_EFFICIENCY)
    prefill = prefill + serving_allreduce_s(0.0, hidden, layers, tp, link_gb_s)
    decode = (params, layers, hidden, heads, kv_heads, context)
    tail = (tp, peak_tflops, hbm_gb_s, link_gb_s, precision, fp8_tflops, kv_value)
    step = serving_decode_step_s(*decode, 1, *tail)
    step_full = serving_decode_step_s(*decode, slots, *tail)
    fits = max_batch_that_fits(hbm_gb, weight_bytes(params, precision), kv_per_token, context, tp)
    chunks = np.ceil(np.asarray(prompt_tokens, dtype=float) / PREFILL_CHUNK_TOKENS)
    return {"prefill_s": prefill + DECODE_STEP_OVERHEAD_S, "step_s": step + DECODE_STEP_OVERHEAD_S,
            "step_full_s": step_full + DECODE_STEP_OVERHEAD_S, "max_slots": fits,
            "chunks": np.maximum(chunks, 1.0)}


def max_batch_that_fits(hbm_gb, model_weight_bytes, kv_bytes_per_token, context_tokens, tp,
                        usable_fraction=0.9):
    """Most concurrent sequences whose KV cache fits beside the weights; 0 when not even the weights fit.

    Per GPU: floor((usable HBM - weights/tp) / (KV bytes per token / tp x context tokens)).
    Source: vLLM (Kwon et al. 2023): KV memory caps the batch; usable_fraction as its gpu_memory_utilization.
    """
    tp = np.asarray(tp, dtype=float)
    usable_bytes = np.asarray(hbm_gb, dtype=float) * 1e9 * usable_fraction
    free_bytes = usable_bytes - np.asarray(model_weight_bytes, dtype=float) / tp
    kv_per_sequence = np.asarray(kv_bytes_per_token, dtype=float) / tp * np.asarray(context_tokens, dtype=float)
    return np.floor(np.maximum(free_bytes, 0.0) / kv_per_sequence)


def mean_decode_context_tokens(prompt_tokens, output_tokens):
    """Average context over a request's decode steps: prompt + output/2 (the cache grows a token per step).

    Source: mean of prompt + t over t = 0..output-1 (KV-cache growth during decode, Pope et al. 2023).
    """
    return np.asarray(prompt_tokens, dtype=float) + np.asarray(output_tokens, dtype=float) / 2.0


def request_service_time_s(prefill_s, decode_step_s, output_tokens):
    """Time one request is being served: its own prefill plus output_tokens decode steps.

    Source: prefill/decode phases of LLM serving (Patel et al. 2024, Splitwise; Zhong et al. 2024, DistServe).
    """
    return np.asarray(prefill_s, dtype=float) + np.asarray(output_tokens, dtype=float) * decode_step_s


def replica_throughput_rps(prefill_s, decode_step_s, output_tokens, batch):
    """Requests/s of one replica under continuous batching: 1 / (prefill + output_tokens x step / batch).

    Each request holds the replica alone for its prefill and shares each decode step with the batch. By
    Little's law each request then stays batch x prefill + output x step, the others' prefills included;
    the cruder batch / request_service_time_s ignores those prefills and overstates capacity.
    Source: continuous batching, Yu et al. 2022 (Orca), Kwon et al. 2023 (vLLM); Little's law (Little 1961).
    """
    decode_share_s = (np.asarray(output_tokens, dtype=float) * np.asarray(decode_step_s, dtype=float)
                      / np.asarray(batch, dtype=float))
    return 1.0 / (np.asarray(prefill_s, dtype=float) + decode_share_s)


# Sharded-embedding recommendation serving (archetype B: DLRM).

def embedding_all_to_all_bytes(lookups_per_sample, embedding_dim, batch, bytes_per_value=4):
    """Bytes a request moves in the embedding all-to-all: lookups per sample x dim x bytes x batch.

    Source: Naumov et al. 2019 (DLRM: model-parallel embeddings exchanged by all-to-all); Mudigere et al. 2022.
    """
    return (np.asarray(lookups_per_sample, dtype=float) * np.asarray(embedding_dim, dtype=float)
            * bytes_per_value * np.asarray(batch, dtype=float))


def embedding_shard_count(table_bytes, hbm_gb, usable_fraction=0.9):
    """GPUs needed to hold the embedding tables in HBM: ceil(table bytes / usable HBM per GPU).

    Source: Mudigere et al. 2022 (ZionEX): multi-terabyte DLRM tables sharded over the GPUs' HBM.
    """
    usable_bytes = np.asarray(hbm_gb, dtype=float) * 1e9 * usable_fraction
    return np.ceil(np.asarray(table_bytes, dtype=float) / usable_bytes)


def shards_touched(shard_count, lookups_per_request):
    """Expected distinct shards touched by L lookups placed uniformly at random: S (1 - (1 - 1/S)^L).

    A request fans out to every shard it touches; many lookups touch them all.
    Source: occupancy problem (Feller 1968, An Introduction to Probability Theory, Vol. 1, ch. II).
    """
    shards = np.asarray(shard_count, dtype=float)
    lookups = np.asarray(lookups_per_request, dtype=float)
    # One shard: log1p(-1) = -inf; the where keeps 0 x -inf out of the answer.
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = -shards * np.expm1(lookups * np.log1p(-1.0 / shards))
    return np.where(shards <= 1.0, np.minimum(lookups, 1.0), spread)


def dlrm_fanout(shard_count, requested_fanout, lookups_per_sample):
    """Shards one DLRM request fans out to: the service's fan-out when it names one (> 1), at most the shard
    count; otherwise the expected number of distinct shards its lookups touch.

    Source: Dean & Barroso 2013 (fan-out to shards); shards_touched (occupancy, Feller 1968).
    """
    shards = np.asarray(shard_count, dtype=float)
    requested = np.asarray(requested_fanout, dtype=float)
    return np.where(requested > 1, np.minimum(requested, shards), shards_touched(shards, lookups_per_sample))


def dlrm_shard_step_s(batch, items_per_request, lookups_per_sample, embedding_dim, gflops_per_sample, fanout,
                      nic_gb_s, net_latency_us, peak_tflops, bytes_per_value=4,
                      flops_efficiency=PREFILL_FLOPS_EFFICIENCY):
    """One shard's step over `batch` visits, each 1/F of a request (its items scored, each one sample):
    step = net latency + batch x (all-to-all bytes / F / NIC rate + dense FLOPs / F / sustained peak).

    Returns a dict: step_s, all_to_all_s (the latency and the bytes' share: the collective inside the
    step) and compute_s (the dense FLOPs' share).
    Source: Naumov et al. 2019 (DLRM all-to-all), Mudigere et al. 2022 (sharded tables), alpha-beta model.
    """
    batch, fanout = np.asarray(batch, dtype=float), np.asarray(fanout, dtype=float)
    visit_bytes = embedding_all_to_all_bytes(lookups_per_sample, embedding_dim, items_per_request,
                                             bytes_per_value) / fanout
    visit_flops = np.asarray(items_per_request, dtype=float) * np.asarray(gflops_per_sample, dtype=float) * 1e9 / fanout
    nic_bytes_per_s = np.asarray(nic_gb_s, dtype=float) * 1e9
    sustained_flops = np.asarray(peak_tflops, dtype=float) * 1e12 * flops_efficiency
    latency_s = np.asarray(net_latency_us, dtype=float) * 1e-6
    step_s = latency_s + batch * (visit_bytes / nic_bytes_per_s + visit_flops / sustained_flops)
    return {"step_s": step_s, "all_to_all_s": latency_s + batch * visit_bytes / nic_bytes_per_s,
            "compute_s": batch * visit_flops / sustained_flops}
