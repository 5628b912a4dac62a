"""Training step time by the fleet law, T = compute + comm + bubble + sync - overlap, for dense transformers.

Every function broadcasts over numpy arrays of candidates (region x accelerator x tp x pp x dp x micro-batch x
recompute x sync group) and returns arrays of the broadcast shape. Hardware arguments use the accelerator and
region catalog names (peak_tflops, hbm_gb_s, nvlink_gb_s, nic_gb_s, net_latency_us, pod_gpus,
oversubscription); their defaults are the A100-80GB on Selene, the calibration set
(benchmarks/calibration_megatron.py). Candidates with global_batch < dp x micro_batch (m < 1) are the
caller's to prune.

Calibrated defaults (fitted once, by least squares on the step time, to the 10 rows of Narayanan et al. 2021
Table 1, not per row; benchmarks/bench_calibration.py --fit). Other accelerators override them in their catalog
`calibration:` block, each fitted to one cited table (the H100: Dubey et al. 2024 Table 4):
  EFF_MAX = 0.612             fraction of peak sustained on large GEMM-bound work, including the non-GEMM
                              kernels and framework time that scale with the FLOPs
  SOFTMAX_BYTES_PER_SCORE = 12  HBM bytes moved per attention-score element per forward-equivalent pass
                              (scale, mask, softmax, dropout, unfused), the memory-bound work that makes
                              small-hidden models slower; zero with flash attention
  NVLINK_EFFICIENCY = 0.85    achieved fraction of the NVLink rate in TP AllReduce (NCCL bus bandwidth)
"""

import numpy as np

from fleetopt.physics.collectives import (
    effective_inter_bandwidth,
    hierarchical_allreduce_time,
    ring_allreduce_time,
)
from fleetopt.physics.reliability import checkpoint_write_time_s, daly_interval, goodput, group_mtbf_hours
from fleetopt.physics.tails import expected_max_slowdown
from fleetopt.physics.training_flops import (
    RECOMPUTE_FULL,
    hardware_flops_per_step,
    layer_params,
    model_flops_per_step,
    recompute_code,
)
from fleetopt.physics.training_memory import USABLE_MEMORY_FRACTION, fits_in_memory, training_memory_gb

EFF_MAX = 0.612
SOFTMAX_BYTES_PER_SCORE = 12.0
NVLINK_EFFICIENCY = 0.85
NIC_EFFICIENCY = 0.9  # achieved fraction of the NIC line rate in inter-node collectives
NVLINK_LATENCY_US = 5.0
# Flash-attention kernels against the GEMMs' eff_max (1: as fast; Table 1 ran without flash attention, so the
# A100 default is not fitted; the H100's comes from Llama 3 Table 4, whose 128K row is attention-bound).
FLASH_EFFICIENCY_RATIO = 1.0
PP_OVERLAP_FRACTION = 0.0  # share of pipeline sends hidden behind compute (0: blocking, as in 2021)
STRAGGLER_CV = 0.01  # per-step time variation of one worker on a dedicated cluster
DP_OVERLAP_FRACTION = 1.0  # share of the gradient reduction that may hide behind the last backward pass
OUTER_SYNC_INTERVAL_STEPS = 100  # H: steps between synchronizations of independent sync groups
OUTER_SYNC_PENALTY_PER_GROUP = 0.02  # extra optimizer steps per extra sync group (statistical efficiency)
GRAD_BYTES_PER_PARAM = 2.0  # bf16 gradients on the wire
ACTIVATION_BYTES = 2.0  # bf16 activations on the wire (TP collectives, pipeline sends)
_SECONDS_PER_HOUR = 3600.0

C3_TERMS = ("compute", "communication", "coordination")  # the chapter's C3 terms; one home for their names
BINDING_TERMS = np.array(C3_TERMS)


def gemm_arithmetic_intensity(tokens, out_features, in_features):
    """FLOPs per HBM byte of a bf16 GEMM (tokens x in) @ (in x out): M N K / (M K + K N + M N).

    Source: Williams, Waterman & Patterson 2009, "Roofline" (operational intensity); bf16 operands.
    """
    m, n, k = (np.asarray(x, dtype=float) for x in (tokens, out_features, in_features))
    return m * n * k / (m * k + k * n + m * n)


def gemm_efficiency(tokens, hidden_per_gpu, hidden, peak_tflops=312.0, hbm_gb_s=2039.0, eff_max=EFF_MAX,
                    ffn_per_gpu=None):
    """Fraction of peak a layer GEMM sustains: eff_max x min(1, intensity / (peak / HBM rate)).

    The per-GPU GEMM is tokens x hidden x ffn/tp (the MLP's, the layer's largest; hidden/tp when ffn_per_gpu
    is not given): below the roofline ridge it is bandwidth-bound (few tokens per micro-batch, large tp, narrow
    ffn), above it eff_max.
    Source: Williams et al. 2009 (roofline); eff_max fitted to Narayanan et al. 2021 Table 1 (A100).
    """
    inner = hidden_per_gpu if ffn_per_gpu is None else ffn_per_gpu
    intensity = gemm_arithmetic_intensity(tokens, inner, hidden)
    balance = np.asarray(peak_tflops, dtype=float) * 1e12 / (np.asarray(hbm_gb_s, dtype=float) * 1e9)
    return np.asarray(eff_max, dtype=float) * np.minimum(1.0, intensity / balance)


def compute_time_s(
    *,
    hardware_flops_per_gpu,
    tokens_per_microbatch,
    hidden,
    heads,
    seq_len,
    tp,
    layers_per_stage,
    microbatches_per_step,
    recompute=RECOMPUTE_FULL,
    flash_attention=False,
    peak_tflops=312.0,
    hbm_gb_s=2039.0,
    eff_max=EFF_MAX,
    softmax_bytes_per_score=SOFTMAX_BYTES_PER_SCORE,
    ffn_hidden=None,
    flash_score_flops_per_gpu=0.0,
    flash_efficiency_ratio=FLASH_EFFICIENCY_RATIO,
):
    """Compute seconds per step per GPU: GEMM FLOPs at the shape-dependent efficiency + score traffic.

    tokens_per_microbatch are the tokens one GPU holds (b s / cp). Score traffic per layer per micro-batch =
    bytes/score x (b a s^2 / (t cp)) x passes (3, 4 with any recompute), at the HBM rate; flash attention keeps
    scores on chip (no traffic) and runs its score FLOPs (flash_score_flops_per_gpu, part of the hardware FLOPs)
    at flash_efficiency_ratio x eff_max.
    Source: chapter "The Fleet Law"; Korthikanti et al. 2022 Sec. 4.1; fit to Narayanan et al. 2021 Table 1.
    """
    h, t = np.asarray(hidden, dtype=float), np.asarray(tp, dtype=float)
    ffn_per_gpu = None if ffn_hidden is None else np.asarray(ffn_hidden, dtype=float) / t
    efficiency = gemm_efficiency(tokens_per_microbatch, h / t, h, peak_tflops, hbm_gb_s, eff_max, ffn_per_gpu)
    peak = np.asarray(peak_tflops, dtype=float) * 1e12
    flash_flops = np.asarray(flash_score_flops_per_gpu, dtype=float)
    gemm_s = (np.asarray(hardware_flops_per_gpu, dtype=float) - flash_flops) / (peak * efficiency) + flash_flops / (
        peak * np.asarray(eff_max, dtype=float) * np.asarray(flash_efficiency_ratio, dtype=float))
    code = recompute_code(recompute)
    passes = np.where(code > 0, 4.0, 3.0)
    scores_per_layer = (
        np.asarray(tokens_per_microbatch, dtype=float)
        * np.asarray(heads, dtype=float)
        * np.asarray(seq_len, dtype=float)
        / t
    )
    score_bytes = (
        softmax_bytes_per_score
        * scores_per_layer
        * passes
        * np.asarray(layers_per_stage, dtype=float)
        * np.asarray(microbatches_per_step, dtype=float)
    )
    score_s = np.where(flash_attention, 0.0, score_bytes / (np.asarray(hbm_gb_s, dtype=float) * 1e9))
    return gemm_s + score_s


def stage_layers(layers, pp):
    """(heaviest, first) stage layer counts: ceil(l/p), and one fewer on the first (and last) stage when the
    layers do not split evenly, which also carry the embedding and the output head.

    Source: Dubey et al. 2024 (Llama 3), Sec. 3.3.2: 126 layers on 16 stages, one fewer on the first and last.
    """
    l, p = np.asarray(layers, dtype=float), np.asarray(pp, dtype=float)
    heaviest = np.ceil(l / p)
    uneven = heaviest * p > l
    return heaviest, np.where(uneven & (p > 1), heaviest - 1.0, heaviest)


def pipeline_bubble_fraction(pp, num_microbatches, virtual_stages=1):
    """Pipeline bubble as a fraction of the ideal (bubble-free) time: (p - 1) / (v m).

    Source: Narayanan et al. 2021, Sec. 2.2.1 (1F1B: (p-1)/m) and Sec. 2.2.2 (interleaved: divided by v).
    """
    p, m, v = (np.asarray(x, dtype=float) for x in (pp, num_microbatches, virtual_stages))
    return (p - 1.0) / (v * m)


def tp_allreduces_per_layer(recompute=RECOMPUTE_FULL):
    """TP AllReduces per layer per micro-batch: 2 forward + 2 backward, + 2 if full recompute re-runs forward.

    Source: Shoeybi et al. 2019 (Megatron-LM, Sec. 3: f and g operators, 2 AllReduces per layer per pass).
    """
    return np.where(recompute_code(recompute) == RECOMPUTE_FULL, 6.0, 4.0)


def context_parallel_comm_s(cp, tokens_per_gpu, hidden, heads, kv_heads, tp, attention_s, alpha_s,
                            bytes_per_s, recompute=RECOMPUTE_FULL):
    """Exposed ring-attention seconds per layer per micro-batch: the K, V chunks (and their gradients) passed
    around the cp ranks, hidden behind the attention blocks they feed: max(0, comm - attention compute).

    Each rank sends cp - 1 chunks of 2 x tokens x h_kv / t bf16 values forward, twice that backward (K, V and
    dK, dV), again forward when full recompute re-runs the layer.
    Llama 3 all-gathers K and V instead (Dubey et al. 2024, Sec. 3.3.2); the bytes are the same.
    Source: Liu et al. 2023 (Ring Attention: block transfers overlapped with block compute).
    """
    c = np.asarray(cp, dtype=float)
    kv_hidden = np.asarray(hidden, dtype=float) * np.asarray(kv_heads, dtype=float) / np.asarray(heads, float)
    chunk = ACTIVATION_BYTES * 2.0 * np.asarray(tokens_per_gpu, dtype=float) * kv_hidden / np.asarray(tp, float)
    passes = np.where(recompute_code(recompute) == RECOMPUTE_FULL, 4.0, 3.0)
    comm = passes * (c - 1.0) * (alpha_s + chunk / bytes_per_s)
    return np.where(c > 1, np.maximum(0.0, comm - attention_s), 0.0)


def training_step_time(
    *,
    layers,
    hidden,
    ffn_hidden,
    heads,
    kv_heads,
    vocab,
    seq_len,
    global_batch,
    tp,
    pp,
    dp,
    micro_batch=1,
    cp=1,
    swiglu=False,
    tied_embeddings=False,
    dropout=None,
    recompute=RECOMPUTE_FULL,
    virtual_stages=1,
    sync_group=None,
    sequence_parallel=False,
    flash_attention=False,
    distributed_optimizer=False,
    peak_tflops=312.0,
    hbm_gb=80.0,
    hbm_gb_s=2039.0,
    gpus_per_node=8,
    nvlink_gb_s=300.0,
    nic_gb_s=25.0,
    net_latency_us=5.0,
    pod_gpus=np.inf,
    oversubscription=1.0,
    eff_max=EFF_MAX,
    softmax_bytes_per_score=SOFTMAX_BYTES_PER_SCORE,
    flash_efficiency_ratio=FLASH_EFFICIENCY_RATIO,
    nvlink_efficiency=NVLINK_EFFICIENCY,
    nic_efficiency=NIC_EFFICIENCY,
    nvlink_latency_us=NVLINK_LATENCY_US,
    grad_bytes_per_param=GRAD_BYTES_PER_PARAM,
    dp_overlap_fraction=DP_OVERLAP_FRACTION,
    pp_overlap_fraction=PP_OVERLAP_FRACTION,
    straggler_cv=STRAGGLER_CV,
    outer_sync_interval_steps=OUTER_SYNC_INTERVAL_STEPS,
    outer_sync_penalty_per_group=OUTER_SYNC_PENALTY_PER_GROUP,
    usable_memory_fraction=USABLE_MEMORY_FRACTION,
):
    """Step time and its fleet-law terms for dense-transformer training candidates (all arrays broadcast).

    global_batch is in sequences; m = global_batch / (dp x micro_batch) micro-batches per step; GPUs = tp x cp
    x pp x dp (cp: context parallelism, each sequence split over cp GPUs); sync_group is the number of DP
    replicas that AllReduce every step (default dp), groups synchronizing every H steps. Layers need not split
    evenly over pp: the heaviest stage (ceil(l/p) layers) sets the pace (stage_layers). dropout (activation
    memory) defaults to the card family: GPT cards train with it, SwiGLU (Llama) cards without.
    Returns a dict of arrays: step_time_s, compute_s, comm_s (TP + CP + DP + PP p2p), tp_comm_s, cp_comm_s,
    dp_comm_s, pp_comm_s, bubble_s, sync_s, overlap_s, model_flops, hardware_flops, model_tflops_per_gpu,
    hardware_tflops_per_gpu, mfu, compute_efficiency, memory_gb_per_gpu, fits, binding_term.
    Source: chapter "The Fleet Law" (T = T_compute/N + T_comm(N) + T_sync(N) - T_overlap); terms cited inline.
    """
    l, h, s, t, p, d = (np.asarray(x, dtype=float) for x in (layers, hidden, seq_len, tp, pp, dp))
    b, v = np.asarray(micro_batch, dtype=float), np.asarray(virtual_stages, dtype=float)
    c = np.asarray(cp, dtype=float)
    group = d if sync_group is None else np.asarray(sync_group, dtype=float)
    code = recompute_code(recompute)
    # Narayanan et al. 2021 train GPT with dropout 0.1; Llama 2 and 3 (SwiGLU) train without (Dubey et al. 2024).
    dropout = np.logical_not(swiglu) if dropout is None else np.asarray(dropout, dtype=bool)
    gpus = t * c * p * d
    m = np.asarray(global_batch, dtype=float) / (d * b)
    tokens = np.asarray(global_batch, dtype=float) * s
    heaviest_layers, _ = stage_layers(l, p)
    # The heaviest stage sets the pace: its layers over the mean l/p (1 when the layers split evenly).
    imbalance = heaviest_layers * p / l
    tokens_per_microbatch = b * s / c  # tokens one GPU holds: the sequence is split over the cp ranks
    card = {
        "seq_len": s,
        "layers": l,
        "hidden": h,
        "ffn_hidden": ffn_hidden,
        "heads": heads,
        "kv_heads": kv_heads,
        "vocab": vocab,
        "swiglu": swiglu,
    }

    model_flops = model_flops_per_step(tokens, **card)
    hardware_flops = hardware_flops_per_step(tokens, recompute=code, **card)
    # Causal flash attention skips the masked half of the score blocks; the FLOP count keeps the full s x s.
    score_flops = tokens * 4.0 * l * s * h * np.where(code > 0, 4.0, 3.0)
    executed_flops = hardware_flops - np.where(flash_attention, 0.5 * score_flops, 0.0)
    compute_s = imbalance * compute_time_s(
        hardware_flops_per_gpu=executed_flops / gpus,
        tokens_per_microbatch=tokens_per_microbatch,
        hidden=h,
        heads=heads,
        seq_len=s,
        tp=t,
        layers_per_stage=l / p,
        microbatches_per_step=m,
        recompute=code,
        flash_attention=flash_attention,
        peak_tflops=peak_tflops,
        hbm_gb_s=hbm_gb_s,
        eff_max=eff_max,
        softmax_bytes_per_score=softmax_bytes_per_score,
        ffn_hidden=ffn_hidden,
        flash_score_flops_per_gpu=np.where(flash_attention, 0.5 * score_flops, 0.0) / gpus,
        flash_efficiency_ratio=flash_efficiency_ratio,
    )

    nvlink_bps = np.asarray(nvlink_gb_s, dtype=float) * 1e9 * nvlink_efficiency
    nic_bps = np.asarray(nic_gb_s, dtype=float) * 1e9 * nic_efficiency
    alpha_net_s = np.asarray(net_latency_us, dtype=float) * 1e-6
    alpha_nvlink_s = np.asarray(nvlink_latency_us, dtype=float) * 1e-6

    # TP: activation AllReduces on the critical path (Megatron does not overlap them); when tp exceeds the node
    # the collective is hierarchical: reduce-scatter on NVLink, the shard over the scale-out NICs, all-gather.
    activation_msg = ACTIVATION_BYTES * tokens_per_microbatch * h
    tp_one = np.where(
        t <= gpus_per_node,
        ring_allreduce_time(t, activation_msg, alpha_nvlink_s, nvlink_bps),
        hierarchical_allreduce_time(t, gpus_per_node, activation_msg, alpha_net_s, nvlink_bps, nic_bps),
    )
    tp_comm_s = np.where(t > 1, tp_allreduces_per_layer(code) * heaviest_layers * m * tp_one, 0.0)

    # CP: ring attention on NVLink while tp x cp fits a node, else over the NICs; hidden behind attention.
    # fwd + bwd score FLOPs of one layer on one GPU (causal flash attention runs half of them)
    attention_flops = 12.0 * tokens_per_microbatch * s * h / t * np.where(flash_attention, 0.5, 1.0)
    attention_s = attention_flops / (np.asarray(peak_tflops, dtype=float) * 1e12 * np.asarray(eff_max, float)
                                     * np.where(flash_attention, flash_efficiency_ratio, 1.0))
    in_node = t * c <= gpus_per_node
    cp_comm_s = heaviest_layers * m * context_parallel_comm_s(
        c, tokens_per_microbatch, h, heads, kv_heads, t, attention_s,
        np.where(in_node, alpha_nvlink_s, alpha_net_s), np.where(in_node, nvlink_bps, nic_bps), code)

    # PP: one activation send forward, one gradient send backward per micro-batch per chunk; across nodes each
    # TP rank sends its 1/t slice over its own NIC (Narayanan et al. 2021 Sec. 4.1, scatter/gather). The share
    # pp_overlap_fraction runs asynchronously behind compute (0: the blocking sends of the 2021 calibration).
    crosses_nodes = t * c * p > gpus_per_node
    p2p_s = np.where(
        crosses_nodes,
        alpha_net_s + activation_msg / t / nic_bps,
        alpha_nvlink_s + activation_msg / nvlink_bps,
    )
    pp_comm_s = np.where(p > 1, 2.0 * m * v * p2p_s, 0.0) * (1.0 - np.asarray(pp_overlap_fraction, dtype=float))

    # Bubble: (p-1)/(v m) of the ideal time of one pipeline pass over all micro-batches.
    bubble_s = pipeline_bubble_fraction(p, m, v) * (compute_s + tp_comm_s + cp_comm_s + pp_comm_s)

    # DP: gradient AllReduce of the first stage's shard over the sync group and the cp ranks (which hold the
    # same weights), hierarchical across nodes; above a pod only the streams crossing the aggregation layer
    # share its uplinks.
    params_per_gpu = (
        heaviest_layers * layer_params(h, ffn_hidden, heads, kv_heads, swiglu)
        + np.asarray(vocab, dtype=float) * h
    ) / t
    grad_msg = params_per_gpu * grad_bytes_per_param
    reducers = group * c
    replicas_per_node = np.clip(np.floor(gpus_per_node / (t * p)), 1.0, reducers)
    model_ranks = t * p  # one reduction ring per model-parallel rank crosses the pod boundary
    inter_bps = effective_inter_bandwidth(reducers * t * p, nic_bps, pod_gpus, oversubscription, model_ranks)
    dp_comm_s = np.where(
        reducers > 1,
        hierarchical_allreduce_time(reducers, replicas_per_node, grad_msg, alpha_net_s, nvlink_bps, inter_bps),
        0.0,
    )
    # Overlap: the reduction can hide behind the backward pass of the last micro-batch (2/3 of its compute).
    last_backward_s = compute_s / m * (2.0 / 3.0)
    overlap_s = np.asarray(dp_overlap_fraction, dtype=float) * np.minimum(dp_comm_s, last_backward_s)
    comm_s = tp_comm_s + cp_comm_s + pp_comm_s + dp_comm_s

    # Coordination: the slowest of the group's replicas sets the pace; independent sync groups reconcile every
    # H steps and each extra group costs statistical efficiency (more steps for the same loss).
    straggler_s = (expected_max_slowdown(group, straggler_cv) - 1.0) * compute_s
    groups = d / group
    outer_inter_bps = effective_inter_bandwidth(gpus, nic_bps, pod_gpus, oversubscription, model_ranks * c)
    outer_sync_s = np.where(
        groups > 1,
        ring_allreduce_time(groups, grad_msg, alpha_net_s, outer_inter_bps)
        / np.asarray(outer_sync_interval_steps, dtype=float),
        0.0,
    )
    statistical_s = (
        np.asarray(outer_sync_penalty_per_group, dtype=float)
        * (groups - 1.0)
        * (compute_s + comm_s + bubble_s - overlap_s)
    )
    sync_s = straggler_s + outer_sync_s + statistical_s

    step_time_s = compute_s + comm_s + bubble_s + sync_s - overlap_s
    memory = training_memory_gb(
        layers=l,
        hidden=h,
        ffn_hidden=ffn_hidden,
        heads=heads,
        kv_heads=kv_heads,
        vocab=vocab,
        seq_len=s / c,
        attention_seq_len=s,
        micro_batch=b,
        num_microbatches=m,
        tp=t,
        pp=p,
        dp=group * c,
        swiglu=swiglu,
        tied_embeddings=tied_embeddings,
        dropout=dropout,
        recompute=code,
        virtual_stages=v,
        sequence_parallel=sequence_parallel,
        flash_attention=flash_attention,
        distributed_optimizer=distributed_optimizer,
    )
    terms = np.stack(np.broadcast_arrays(compute_s, comm_s + bubble_s - overlap_s, sync_s))
    peak_flops = np.asarray(peak_tflops, dtype=float) * 1e12
    result = {
        "step_time_s": step_time_s,
        "compute_s": compute_s,
        "comm_s": comm_s,
        "tp_comm_s": tp_comm_s,
        "cp_comm_s": cp_comm_s,
        "dp_comm_s": dp_comm_s,
        "pp_comm_s": pp_comm_s,
        "bubble_s": bubble_s,
        "sync_s": sync_s,
        "overlap_s": overlap_s,
        "model_flops": model_flops,
        "hardware_flops": hardware_flops,
        "model_tflops_per_gpu": model_flops / (step_time_s * gpus) / 1e12,
        "hardware_tflops_per_gpu": hardware_flops / (step_time_s * gpus) / 1e12,
        "mfu": model_flops / (step_time_s * gpus * peak_flops),
        "compute_efficiency": hardware_flops / (compute_s * gpus * peak_flops),
        "memory_gb_per_gpu": memory["total_gb"],
        "fits": fits_in_memory(memory["total_gb"], hbm_gb, usable_memory_fraction),
        "binding_term": BINDING_TERMS[np.argmax(terms, axis=0)],
    }
    # Every output gets the candidates' full broadcast shape, even terms that do not vary along some axes.
    shape = np.broadcast_shapes(*(np.shape(value) for value in result.values()))
    return {key: np.broadcast_to(value, shape).copy() for key, value in result.items()}


def checkpoint_bytes_per_gpu(total_params, tp, pp, dp=1, distributed_optimizer=False):
    """Checkpoint bytes each GPU writes: bf16 weights (2 B/param) + fp32 master and Adam moments (12 B/param,
    sharded over dp with the distributed optimizer; otherwise DP rank 0's copy is the one written).

    Source: Rajbhandari et al. 2020 (ZeRO: 2 + 12 bytes of model and optimizer state per parameter).
    """
    shard = np.asarray(total_params, dtype=float) / (
        np.asarray(tp, dtype=float) * np.asarray(pp, dtype=float)
    )
    return shard * (2.0 + 12.0 / np.where(distributed_optimizer, dp, 1.0))


def job_reliability(
    sync_group_gpus, per_gpu_mtbf_hours, checkpoint_bytes_per_gpu, write_bytes_per_s, restart_s=600.0
):
    """Failure and checkpoint economics of one fate-sharing sync group: dict of mtbf_s, checkpoint_s,
    interval_s (Daly) and goodput. The group writes its GPUs' checkpoint bytes through write_bytes_per_s.

    Group MTBF = per-GPU MTBF / GPUs; goodput = 1 - delta/tau - (tau/2 + restart)/M.
    Source: Daly 2006 (interval); Young 1974 (goodput); README design notes (sync groups).
    """
    mtbf_s = group_mtbf_hours(per_gpu_mtbf_hours, sync_group_gpus) * _SECONDS_PER_HOUR
    delta_s = checkpoint_write_time_s(
        np.asarray(checkpoint_bytes_per_gpu, dtype=float) * np.asarray(sync_group_gpus, dtype=float),
        write_bytes_per_s,
    )
    interval_s = daly_interval(delta_s, mtbf_s)
    return {
        "mtbf_s": mtbf_s,
        "checkpoint_s": delta_s,
        "interval_s": interval_s,
        "goodput": goodput(delta_s, interval_s, restart_s, mtbf_s),
    }
