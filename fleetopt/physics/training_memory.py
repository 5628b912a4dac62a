"""Memory per GPU of a training configuration: weights, gradients, optimizer states, activations.

All functions take scalars or numpy arrays (broadcast together) and return float64 of the broadcast shape.
Memory is reported for the peak pipeline stage: the first, which holds the input embedding and the most in-flight
micro-batches under 1F1B, or, when the layers do not split evenly and the first stage is one layer lighter (as in
Llama 3), the second, which holds the most layers.
"""

import numpy as np

from fleetopt.physics.training_flops import RECOMPUTE_FULL, RECOMPUTE_SELECTIVE, layer_params, recompute_code

BYTES_PER_GB = 1e9
GIB = 2.0**30  # accelerator memory is sold in binary gigabytes
# bf16 weights + bf16 grads + fp32 master weights, Adam m and v (2 + 2 + 12).
WEIGHT_AND_GRAD_BYTES_PER_PARAM = 4.0
OPTIMIZER_BYTES_PER_PARAM = 12.0
# Fraction of HBM a training process can fill: the rest goes to the CUDA context, NCCL buffers and allocator
# fragmentation (several GB on an 80 GB part).
USABLE_MEMORY_FRACTION = 0.9


def activation_coefficients(hidden, ffn_hidden, heads, kv_heads, swiglu=False, dropout=True):
    """(replicated, tp-split) activation bytes per layer in units of s*b*h, excluding attention scores.

    GPT (ffn = 4h, kv = heads): (10, 24), i.e. 34 without tensor parallelism. K, V scale by kv_heads/heads
    (GQA), the MLP's 4h terms by ffn/h (SwiGLU stores gate, up and their product: 6 instead of 4). Without
    dropout (Llama) the two 1-byte masks go: 8 replicated.
    Source: Korthikanti et al. 2022, Sec. 4.1 (attention 11sbh + 5as^2b, MLP 19sbh, layernorms 4sbh).
    """
    h = np.asarray(hidden, dtype=float)
    kv_ratio = np.asarray(kv_heads, dtype=float) / np.asarray(heads, dtype=float)
    ffn_ratio = np.asarray(ffn_hidden, dtype=float) / h
    # Replicated without sequence parallelism: two layernorm inputs (4), QKV and MLP inputs (2 + 2),
    # two dropout masks (1 + 1).
    replicated = np.broadcast_to(np.where(dropout, 10.0, 8.0), np.broadcast(h, kv_ratio, ffn_ratio).shape)
    # Split by tensor parallelism: Q (2), K and V (2 + 2, GQA-scaled), projection input (2), MLP tensors.
    mlp_intermediate = np.where(swiglu, 6.0, 4.0) * ffn_ratio
    split = 4.0 + 4.0 * kv_ratio + mlp_intermediate
    return replicated, split


def activation_bytes_per_layer(
    seq_len,
    micro_batch,
    hidden,
    ffn_hidden,
    heads,
    kv_heads,
    tp,
    swiglu=False,
    recompute=RECOMPUTE_FULL,
    sequence_parallel=False,
    flash_attention=False,
    dropout=True,
    attention_seq_len=None,
):
    """Stored activation bytes of one layer for one micro-batch, per GPU (Korthikanti Table 2 forms).

    none: sbh(10 + 24/t + 5as/(ht)); with sequence parallel sbh(34/t + 5as/(ht)); selective drops the score
    term (as does flash attention, which never stores scores); full keeps only the layer input, 2sbh (2sbh/t
    when sequence parallel shards it). Without dropout the scores cost 2as/(ht) (softmax output only).
    seq_len is the tokens held (s/cp under context parallelism), attention_seq_len the keys each attends (s).
    Source: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", Table 2.
    """
    s, b, h, a, t = (np.asarray(x, dtype=float) for x in (seq_len, micro_batch, hidden, heads, tp))
    keys = s if attention_seq_len is None else np.asarray(attention_seq_len, dtype=float)
    code = recompute_code(recompute)
    sbh = s * b * h
    replicated, split = activation_coefficients(h, ffn_hidden, heads, kv_heads, swiglu, dropout)
    linear = np.where(sequence_parallel, (replicated + split) / t, replicated + split / t)
    score_bytes = np.where(dropout, 5.0, 2.0)
    scores = np.where(flash_attention | (code == RECOMPUTE_SELECTIVE), 0.0, score_bytes * a * keys / (h * t))
    full = np.where(sequence_parallel, 2.0 / t, 2.0)
    return sbh * np.where(code == RECOMPUTE_FULL, full, linear + scores)


def in_flight_microbatches(pp, num_microbatches, virtual_stages=1, stage=0):
    """Micro-batches pipeline stage `stage` holds under 1F1B: min(p - stage, m); interleaved (v > 1), in units
    of a whole stage, min(p, m) x (1 + (p - 1 - 2 stage)/(p v)) (stage 0: 1 + (p-1)/(p v)).

    Megatron-LM's schedules warm up p - stage - 1 micro-batches, (p - stage - 1) x 2 + (v - 1) p chunks interleaved.
    Source: Narayanan et al. 2021, Sec. 2.2.1 (1F1B: p in flight); Korthikanti et al. 2022, Sec. 4.2.3.
    """
    p, m, v, r = (np.asarray(x, dtype=float) for x in (pp, num_microbatches, virtual_stages, stage))
    plain = np.minimum(np.maximum(p - r, 1.0), m)
    interleaved = np.minimum(p, m) * (1.0 + (p - 1.0 - 2.0 * r) / (p * v))
    return np.where(v > 1, interleaved, plain)


def training_memory_gb(
    *,
    layers,
    hidden,
    ffn_hidden,
    heads,
    kv_heads,
    vocab,
    seq_len,
    micro_batch,
    num_microbatches,
    tp,
    pp,
    dp,
    swiglu=False,
    tied_embeddings=False,
    recompute=RECOMPUTE_FULL,
    virtual_stages=1,
    sequence_parallel=False,
    flash_attention=False,
    distributed_optimizer=False,
    dropout=True,
    attention_seq_len=None,
):
    """Peak-stage memory per GPU in GB: weights_grads_gb, optimizer_gb, activations_gb, total_gb.

    Weights, grads, optimizer: 16 bytes/param (mixed-precision Adam), the 12 optimizer bytes sharded over dp
    with the distributed optimizer. Activations: the stage's layers x its in-flight micro-batches, plus one
    layer's full activations (full recompute) or its attention scores (selective) rebuilt during backward.
    The peak is the first stage (embedding, p in flight) or, with uneven stages (first one layer lighter), the
    larger of it and the second (ceil(l/p) layers, p - 1 in flight). seq_len: the tokens held (s/cp).
    Source: Rajbhandari et al. 2020 (ZeRO, 16 bytes/param); Korthikanti et al. 2022, Table 2 and Sec. 4.2.
    """
    l, h, v, t, p = (np.asarray(x, dtype=float) for x in (layers, hidden, vocab, tp, pp))
    code = recompute_code(recompute)
    heaviest = np.ceil(l / p)
    first = np.where((heaviest * p > l) & (p > 1), heaviest - 1.0, heaviest)
    # The first stage holds the input embedding; with p = 1 it also holds the output head unless tied.
    embedding_copies = np.where((p > 1) | tied_embeddings, 1.0, 2.0)
    per_layer = layer_params(h, ffn_hidden, heads, kv_heads, swiglu)
    state_bytes = WEIGHT_AND_GRAD_BYTES_PER_PARAM + OPTIMIZER_BYTES_PER_PARAM / np.where(
        distributed_optimizer, dp, 1.0)

    common = {
        "seq_len": seq_len,
        "micro_batch": micro_batch,
        "hidden": h,
        "ffn_hidden": ffn_hidden,
        "heads": heads,
        "kv_heads": kv_heads,
        "tp": t,
        "swiglu": swiglu,
        "sequence_parallel": sequence_parallel,
        "flash_attention": flash_attention,
        "dropout": dropout,
        "attention_seq_len": attention_seq_len,
    }
    stored = activation_bytes_per_layer(recompute=code, **common)
    without_recompute = activation_bytes_per_layer(recompute=0, **common)
    rebuilt = np.select(
        [code == RECOMPUTE_FULL, code == RECOMPUTE_SELECTIVE],
        [without_recompute, without_recompute - stored],
        0.0,
    )
    params_first = (first * per_layer + embedding_copies * v * h) / t
    acts_first = stored * first * in_flight_microbatches(p, num_microbatches, virtual_stages, 0) + rebuilt
    params_second = heaviest * per_layer / t
    acts_second = stored * heaviest * in_flight_microbatches(p, num_microbatches, virtual_stages, 1) + rebuilt
    total_first = params_first * state_bytes + acts_first
    total_second = np.where(p > 1, params_second * state_bytes + acts_second, 0.0)
    second_peaks = total_second > total_first
    params_per_gpu = np.where(second_peaks, params_second, params_first)
    activations = np.where(second_peaks, acts_second, acts_first)
    weights_grads = params_per_gpu * WEIGHT_AND_GRAD_BYTES_PER_PARAM
    optimizer = params_per_gpu * OPTIMIZER_BYTES_PER_PARAM / np.where(distributed_optimizer, dp, 1.0)
    total = weights_grads + optimizer + activations
    return {
        "weights_grads_gb": weights_grads / BYTES_PER_GB,
        "optimizer_gb": optimizer / BYTES_PER_GB,
        "activations_gb": activations / BYTES_PER_GB,
        "total_gb": total / BYTES_PER_GB,
    }


def usable_memory_gb(hbm_gb, usable_fraction=USABLE_MEMORY_FRACTION):
    """Memory a training process can fill, in 1e9 bytes: hbm_gb GiB x usable_fraction.

    Source: NVIDIA A100/H100 datasheets (HBM capacity in binary GB); headroom: a default.
    """
    return np.asarray(hbm_gb, dtype=float) * GIB / BYTES_PER_GB * usable_fraction


def fits_in_memory(memory_gb, hbm_gb, usable_fraction=USABLE_MEMORY_FRACTION):
    """True where memory_gb (1e9 bytes) <= hbm_gb GiB x usable_fraction (default 0.9: context, NCCL buffers,
    fragmentation). An "80 GB" A100 or H100 holds 80 GiB (81,920 MiB as nvidia-smi reports), 85.9e9 bytes.

    Source: NVIDIA A100/H100 datasheets (HBM capacity in binary GB); headroom: a default.
    """
    return np.asarray(memory_gb, dtype=float) <= usable_memory_gb(hbm_gb, usable_fraction)
