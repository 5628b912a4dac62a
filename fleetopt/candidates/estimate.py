"""Single-job training estimator: step time, throughput and memory of one parallel layout, or the fastest
layouts that fit (the job Calculon, llm-analysis and vTrain do), on the fleet law of physics/training.py.

Network defaults (override per call): 25 GB/s of NIC per GPU (one 200 Gb/s HDR InfiniBand NIC per GPU, the
Selene / DGX A100 network the physics is calibrated on), one non-blocking fabric (no pod boundary).
Default global batch: one sequence per GPU (global batch = gpus), the ratio of Megatron-LM's largest runs
(Narayanan et al. 2021, Table 1: 2520 sequences on 2520 GPUs, 3072 on 3072).
"""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.training import (
    CALIBRATION_KEYS,
    MICRO_BATCH_CHOICES,
    RECOMPUTE_CHOICES,
    TP_CHOICES,
)
from fleetopt.errors import InputError, bad_argument, check_number, check_whole, did_you_mean
from fleetopt.io.load import accelerator_catalog, load_model_card
from fleetopt.io.schema import Accelerator, TransformerCard
from fleetopt.physics.training import training_step_time
from fleetopt.physics.training_memory import USABLE_MEMORY_FRACTION, usable_memory_gb

DEFAULT_NIC_GB_S = 25.0
RECOMPUTE_NAMES = ("none", "selective", "full")  # index = the physics' recompute code
SEARCH_INTERLEAVE_CHOICES = (1, 2, 3, 4)  # chunks per stage; Megatron's 530B run needs 3 (3 layers per stage)
MAX_COUNT = 10**9  # any whole-number argument (sequences, tokens, stages...)
MAX_WHOLE = {"gpus": 10**7, "pod_gpus": 10**7}  # ten times the largest clusters built (~10^5 to 10^6 GPUs)
_BREAKDOWN = ("compute_s", "comm_s", "tp_comm_s", "cp_comm_s", "pp_comm_s", "dp_comm_s", "bubble_s", "sync_s",
              "overlap_s")


def _bad(argument: str, message: str) -> InputError:
    """Bad input in one argument, by its Python name (the CLI prints it under the option's name)."""
    return bad_argument(argument, message)


def resolve_model(model: str | TransformerCard, models: str = "the estimator models transformer training only"
                  ) -> tuple[str, TransformerCard]:
    """(name, card) for a shipped card name, a card file path, or a card object; `models` says what the caller
    models when the card is not a transformer."""
    if isinstance(model, TransformerCard):
        return "custom", model
    card = load_model_card(str(model))
    if not isinstance(card, TransformerCard):
        raise _bad("model", f"model '{model}' is a {card.kind} card; {models}")
    return str(model), card


def resolve_accelerator(accelerator: str | Accelerator) -> tuple[str, Accelerator]:
    """(name, spec) for a catalog name or an Accelerator object."""
    if isinstance(accelerator, Accelerator):
        return "custom", accelerator
    catalog = accelerator_catalog()
    if accelerator not in catalog:
        raise _bad("accelerator", f"unknown accelerator '{accelerator}'" + did_you_mean(str(accelerator), catalog))
    return str(accelerator), Accelerator(**catalog[accelerator])


def default_global_batch(gpus: int) -> int:
    """One sequence per GPU (see the module docstring)."""
    return int(gpus)


def _positive(argument: str, value, integer: bool = True) -> None:
    """A whole number from 1 to the argument's bound, or a finite number > 0."""
    if integer:
        check_whole(argument, value, 1, MAX_WHOLE.get(argument, MAX_COUNT))
    else:
        check_number(argument, value, 0, low_open=True)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_network(nic_gb_s, pod_gpus, oversubscription) -> None:
    if nic_gb_s is not None:
        _positive("nic_gb_s", nic_gb_s, integer=False)
    if pod_gpus is not None:
        _positive("pod_gpus", pod_gpus)
    check_number("oversubscription", oversubscription, 1.0)  # 1 = non-blocking


def _check_layout(card: TransformerCard, gpus, tp, pp, micro_batch, global_batch, seq_len, recompute,
                  interleave, sync_group, cp=1) -> None:
    """Raise InputError naming the first option that makes the layout impossible. Layers need not split evenly
    into stages (the first and last stage take one fewer, as Llama 3's 126 layers on 16 stages)."""
    for argument, value in (("gpus", gpus), ("tp", tp), ("pp", pp), ("cp", cp), ("micro_batch", micro_batch),
                            ("global_batch", global_batch), ("seq_len", seq_len), ("interleave", interleave)):
        _positive(argument, value)
    if recompute not in RECOMPUTE_NAMES:
        raise _bad("recompute", f"unknown recompute '{recompute}'; expected one of "
                   f"{', '.join(reversed(RECOMPUTE_NAMES))}")
    if tp > gpus:
        raise _bad("tp", f"tp = {tp} is more than the {gpus} GPUs of the job (gpus)")
    if card.heads % tp:
        raise _bad("tp", f"the model's {card.heads} attention heads do not split over tp = {tp}; "
                   f"choose tp dividing {card.heads}")
    if pp > card.layers:
        raise _bad("pp", f"{pp} stages are more than the model's {card.layers} layers; choose pp <= {card.layers}")
    if seq_len % (2 * cp) and cp > 1:
        raise _bad("cp", f"the {seq_len}-token sequence does not split into 2 x cp = {2 * cp} equal chunks "
                   "(causal load balancing); choose cp dividing seq_len / 2")
    if gpus % (tp * cp * pp):
        raise _bad("gpus", f"{gpus} GPUs are not a multiple of tp x cp x pp = {tp} x {cp} x {pp} = "
                   f"{tp * cp * pp}")
    dp = gpus // (tp * cp * pp)
    if global_batch % (dp * micro_batch):
        raise _bad("global_batch", f"{global_batch} sequences do not split into whole micro-batches over "
                   f"dp x micro-batch = {dp} x {micro_batch}; give a multiple of {dp * micro_batch}")
    if interleave > 1:
        if pp == 1:
            raise _bad("interleave", "interleaving needs pipeline stages (pp > 1)")
        if pp * interleave > card.layers:
            raise _bad("interleave", f"{pp} stages x {interleave} chunks need at least {pp * interleave} layers; "
                       f"the model has {card.layers}")
    if sync_group is not None:
        _positive("sync_group", sync_group)
        if dp % sync_group:
            raise _bad("sync_group", f"sync group {sync_group} does not divide dp = {dp}")


def _calibration(accel: Accelerator) -> dict:
    bad = [k for k in accel.calibration if k not in CALIBRATION_KEYS]
    if bad:
        raise _bad("accelerator", f"calibration.{bad[0]}: unknown calibration key; expected one of "
                   f"{', '.join(CALIBRATION_KEYS)}")
    return dict(accel.calibration)


def _evaluate(card, accel, layout: dict, *, global_batch, seq_len, flash_attention, nic_gb_s, pod_gpus,
              oversubscription, net_latency_us=None) -> dict:
    """training_step_time over arrays of layouts (tp, pp, dp, micro_batch, recompute, interleave, sync_group,
    sequence_parallel, distributed_optimizer)."""
    return training_step_time(
        layers=card.layers, hidden=card.hidden, ffn_hidden=card.ffn_hidden, heads=card.heads,
        kv_heads=card.kv_heads or card.heads, vocab=card.vocab, swiglu=card.swiglu,
        tied_embeddings=getattr(card, "tied_embeddings", False), seq_len=seq_len, global_batch=global_batch,
        tp=layout["tp"], pp=layout["pp"], dp=layout["dp"], cp=layout.get("cp", 1), micro_batch=layout["micro_batch"],
        recompute=layout["recompute"], virtual_stages=layout["interleave"], sync_group=layout["sync_group"],
        flash_attention=flash_attention, sequence_parallel=layout["sequence_parallel"],
        distributed_optimizer=layout["distributed_optimizer"],
        peak_tflops=accel.peak_tflops, hbm_gb=accel.hbm_gb, hbm_gb_s=accel.hbm_gb_s,
        gpus_per_node=accel.gpus_per_node, nvlink_gb_s=accel.nvlink_gb_s or accel.pcie_gb_s,
        nic_gb_s=DEFAULT_NIC_GB_S if nic_gb_s is None else nic_gb_s,
        pod_gpus=np.inf if pod_gpus is None else pod_gpus, oversubscription=oversubscription,
        **({} if net_latency_us is None else {"net_latency_us": net_latency_us}), **_calibration(accel))


def does_not_fit_message(memory_gb: float, hbm_gb: float) -> str:
    """The one line printed for a layout that cannot fit."""
    usable = float(usable_memory_gb(hbm_gb))
    return (f"does not fit: needs {memory_gb:.1f} GB per GPU, the accelerator has {hbm_gb:g} GB "
            f"({usable:.0f} GB usable at {USABLE_MEMORY_FRACTION:.0%})")


def _rows(res: dict, layout: dict, idx, context: dict, hbm_gb: float) -> list[dict]:
    """Plain-Python result dicts (JSON-ready) for the candidates at positions idx."""
    out = []
    for i in idx:
        dp, mb = int(layout["dp"][i]), int(layout["micro_batch"][i])
        fits = bool(res["fits"][i])
        memory = float(res["memory_gb_per_gpu"][i])
        step = float(res["step_time_s"][i])
        out.append({
            **{k: context[k] for k in ("model", "accelerator", "gpus")},
            "tp": int(layout["tp"][i]), "pp": int(layout["pp"][i]), "dp": dp,
            "cp": int(np.broadcast_to(layout.get("cp", 1), np.shape(layout["tp"]))[i]), "micro_batch": mb,
            "global_batch": context["global_batch"], "num_microbatches": context["global_batch"] // (dp * mb),
            "seq_len": context["seq_len"], "recompute": RECOMPUTE_NAMES[int(layout["recompute"][i])],
            "interleave": int(layout["interleave"][i]), "sync_group": int(layout["sync_group"][i]),
            "flash_attention": context["flash_attention"],
            "sequence_parallel": bool(layout["sequence_parallel"][i]),
            "distributed_optimizer": bool(layout["distributed_optimizer"][i]),
            "step_time_s": step,
            "tokens_per_s": context["global_batch"] * context["seq_len"] / step,
            "model_tflops_per_gpu": float(res["model_tflops_per_gpu"][i]),
            "hardware_tflops_per_gpu": float(res["hardware_tflops_per_gpu"][i]),
            "mfu": float(res["mfu"][i]),
            "memory_gb_per_gpu": memory,
            "hbm_gb": hbm_gb,
            "fits": fits,
            "binding_term": str(res["binding_term"][i]),
            "breakdown": {k: float(res[k][i]) for k in _BREAKDOWN},
            "note": None if fits else does_not_fit_message(memory, hbm_gb),
        })
    return out


def estimate_training(model, accelerator, gpus, tp, pp, *, micro_batch=1, global_batch=None, seq_len=2048,
                      recompute="full", interleave=1, sync_group=None, flash_attention=False,
                      sequence_parallel=False, distributed_optimizer=False, nic_gb_s=None, pod_gpus=None,
                      oversubscription=1.0, cp=1, net_latency_us=None) -> dict:
    """Step time, TFLOP/s, MFU, memory and the fleet-law breakdown of one training layout (dp = gpus / (tp cp
    pp); cp splits each sequence over cp GPUs).

    A layout that cannot fit is returned with fits False and a `note` giving the memory it needs; impossible
    input raises InputError naming the argument.
    """
    name, card = resolve_model(model)
    aname, accel = resolve_accelerator(accelerator)
    global_batch = default_global_batch(gpus) if global_batch is None else global_batch
    _check_layout(card, gpus, tp, pp, micro_batch, global_batch, seq_len, recompute, interleave, sync_group, cp)
    _check_network(nic_gb_s, pod_gpus, oversubscription)
    dp = gpus // (tp * cp * pp)
    layout = {k: np.array([v]) for k, v in dict(
        tp=tp, pp=pp, dp=dp, cp=cp, micro_batch=micro_batch, recompute=RECOMPUTE_NAMES.index(recompute),
        interleave=interleave, sync_group=dp if sync_group is None else sync_group,
        sequence_parallel=bool(sequence_parallel), distributed_optimizer=bool(distributed_optimizer)).items()}
    res = _evaluate(card, accel, layout, global_batch=global_batch, seq_len=seq_len,
                    flash_attention=bool(flash_attention), nic_gb_s=nic_gb_s, pod_gpus=pod_gpus,
                    oversubscription=oversubscription, net_latency_us=net_latency_us)
    context = dict(model=name, accelerator=aname, gpus=int(gpus), global_batch=int(global_batch),
                   seq_len=int(seq_len), flash_attention=bool(flash_attention))
    return _rows(res, layout, [0], context, float(accel.hbm_gb))[0]


def search_grid(card: TransformerCard, gpus: int, global_batch: int, gpus_per_node: int,
                micro_batches=MICRO_BATCH_CHOICES, recomputes=RECOMPUTE_CHOICES,
                interleaves=SEARCH_INTERLEAVE_CHOICES, sequence_parallel=(False, True),
                distributed_optimizer=(False, True)) -> dict:
    """Every layout with tp x pp x dp == gpus exactly, as arrays: tp from the solver's TP_CHOICES (within a
    node, dividing the heads), pp up to the layers (uneven stages allowed), whole micro-batches, interleave up
    to the layers per stage,
    sequence parallelism and the distributed optimizer off and on (memory savers, no step-time cost here).

    The solver's parallel_grid (powers of two for pp and dp, GPUs <= stock) cannot express exact GPU counts
    such as Megatron's 2520 = 8 x 35 x 9, hence this grid; it shares the micro-batch and recompute choices.
    """
    kv = card.kv_heads or card.heads
    tps = [t for t in TP_CHOICES if t <= gpus_per_node and gpus % t == 0 and card.heads % t == 0
           and (kv % t == 0 or t <= kv)]
    pps = [p for p in _divisors(gpus) if p <= card.layers]  # uneven stages allowed, as in the candidates
    t, p, b, r, v, sp, do = (a.ravel() for a in np.meshgrid(
        tps, pps, micro_batches, recomputes, interleaves, np.array(sequence_parallel, dtype=bool),
        np.array(distributed_optimizer, dtype=bool), indexing="ij"))
    whole = gpus % (t * p) == 0
    d = np.where(whole, gpus // (t * p), 1)
    keep = (whole & (global_batch % (d * b) == 0)
            & ((v == 1) | ((p > 1) & (p * v <= card.layers)))
            & ~(sp & (t == 1)) & ~(do & (d == 1)))  # no-ops without tp / dp: keep one copy
    return {"tp": t[keep], "pp": p[keep], "dp": d[keep], "micro_batch": b[keep], "recompute": r[keep],
            "interleave": v[keep], "sync_group": d[keep], "sequence_parallel": sp[keep],
            "distributed_optimizer": do[keep]}


def search_training(model, accelerator, gpus, *, global_batch=None, seq_len=2048, micro_batch=None,
                    recompute=None, interleave=None, flash_attention=False, sequence_parallel=None,
                    distributed_optimizer=None, nic_gb_s=None, pod_gpus=None, oversubscription=1.0,
                    top=10, cp=1) -> list[dict]:
    """The `top` fastest layouts of exactly `gpus` GPUs that fit in memory, fastest first, with fully
    synchronous data parallelism; of layouts differing only in memory savers, the one needing the fewest.
    micro_batch, recompute, interleave, sequence_parallel and distributed_optimizer are searched when None,
    fixed when given. An empty list means no layout fits.
    """
    return search_training_detail(
        model, accelerator, gpus, global_batch=global_batch, seq_len=seq_len, micro_batch=micro_batch,
        recompute=recompute, interleave=interleave, flash_attention=flash_attention,
        sequence_parallel=sequence_parallel, distributed_optimizer=distributed_optimizer, nic_gb_s=nic_gb_s,
        pod_gpus=pod_gpus, oversubscription=oversubscription, top=top, cp=cp)["best"]


def _choices(value, default: tuple) -> tuple:
    return default if value is None else (value,)


def search_training_detail(model, accelerator, gpus, *, global_batch=None, seq_len=2048, micro_batch=None,
                           recompute=None, interleave=None, flash_attention=False, sequence_parallel=None,
                           distributed_optimizer=None, nic_gb_s=None, pod_gpus=None, oversubscription=1.0,
                           top=10, cp=1) -> dict:
    """search_training's answer with its context: best (the ranked list, at most `top`), evaluated (layouts
    scored), fitting (how many distinct layouts fit, as ranked: variants differing only in memory savers count
    once), least_memory_gb (the smallest need of any layout: why nothing fits), hbm_gb. cp is fixed (the
    search splits the gpus / cp model replicas' GPUs)."""
    name, card = resolve_model(model)
    aname, accel = resolve_accelerator(accelerator)
    global_batch = default_global_batch(gpus) if global_batch is None else global_batch
    for argument, value in (("gpus", gpus), ("global_batch", global_batch), ("seq_len", seq_len), ("top", top)):
        _positive(argument, value)
    if recompute is not None and recompute not in RECOMPUTE_NAMES:
        raise _bad("recompute", f"unknown recompute '{recompute}'; expected one of "
                   f"{', '.join(reversed(RECOMPUTE_NAMES))}")
    for argument, value in (("micro_batch", micro_batch), ("interleave", interleave)):
        if value is not None:
            _positive(argument, value)
    _check_network(nic_gb_s, pod_gpus, oversubscription)
    _positive("cp", cp)
    if gpus % cp:
        raise _bad("gpus", f"{gpus} GPUs are not a multiple of cp = {cp}")
    grid = search_grid(
        card, gpus // cp, global_batch, accel.gpus_per_node,
        micro_batches=_choices(micro_batch, MICRO_BATCH_CHOICES),
        recomputes=_choices(None if recompute is None else RECOMPUTE_NAMES.index(recompute), RECOMPUTE_CHOICES),
        interleaves=_choices(interleave, SEARCH_INTERLEAVE_CHOICES),
        sequence_parallel=_choices(sequence_parallel, (False, True)),
        distributed_optimizer=_choices(distributed_optimizer, (False, True)))
    grid["cp"] = np.full(len(grid["tp"]), cp)
    if len(grid["tp"]) == 0:
        raise _bad("gpus", f"no layout of {gpus} GPUs splits the model ({card.layers} layers, "
                   f"{card.heads} heads) and the global batch ({global_batch} sequences) exactly")
    res = _evaluate(card, accel, grid, global_batch=global_batch, seq_len=seq_len,
                    flash_attention=bool(flash_attention), nic_gb_s=nic_gb_s, pod_gpus=pod_gpus,
                    oversubscription=oversubscription)
    fitting = np.flatnonzero(res["fits"])
    # Fastest first; sequence parallelism and the distributed optimizer cost no step time here, so among
    # equally fast variants of one layout keep only the one needing the fewest of them, then the least memory.
    savers = grid["sequence_parallel"].astype(int) + grid["distributed_optimizer"].astype(int)
    order = fitting[np.lexsort((res["memory_gb_per_gpu"][fitting], savers[fitting], res["step_time_s"][fitting]))]
    layout = np.stack([grid[k][order] for k in ("tp", "pp", "micro_batch", "recompute", "interleave")], axis=1)
    _, first = np.unique(layout, axis=0, return_index=True)
    distinct = order[np.sort(first)]  # one per layout: its variant needing the fewest memory savers
    order = distinct[:top]
    context = dict(model=name, accelerator=aname, gpus=int(gpus), global_batch=int(global_batch),
                   seq_len=int(seq_len), flash_attention=bool(flash_attention))
    return {"best": _rows(res, grid, order, context, float(accel.hbm_gb)), "evaluated": len(grid["tp"]),
            "fitting": len(distinct), "least_memory_gb": float(res["memory_gb_per_gpu"].min()),
            "hbm_gb": float(accel.hbm_gb)}
