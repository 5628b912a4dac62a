"""The training enumeration as it was written before step-time tables were shared (commit 6262d01): every job,
region and accelerator scored from scratch, each (job, region, accelerator) pruned by its own Pareto front.
Slow and plain on purpose: tests/candidates/test_training_candidates.py checks that fleetopt.candidates.training gives
exactly this table (same rows, same order, same values), and benchmarks/bench_training_candidates.py times
both in one run. The grid, the constants and the charging law are shared with the real module.
"""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.federated import EDGE_DEVICE, federated_candidates
from fleetopt.candidates.network import dataset_routes
from fleetopt.candidates.tables import TrainingCandidates
from fleetopt.candidates.training import (
    CHECKPOINT_BYTES_PER_PARAM,
    CHECKPOINT_MULTIPLES,
    DATA_BYTES_PER_TOKEN,
    _calibration,
    _term_codes,
    parallel_grid,
    storage_may_bind,
)
from fleetopt.errors import InputError, Problem
from fleetopt.io.schema import CnnCard, Instance, TransformerCard
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.reliability import checkpoint_write_time_s, daly_interval, goodput, group_mtbf_hours
from fleetopt.physics.training import training_step_time
from fleetopt.physics.training_flops import dense_param_count


def _front_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Indices of the points no other point weakly dominates in (a, b), both minimized; one of equal twins."""
    order = np.lexsort((b, a))
    sorted_b = b[order]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], sorted_b[:-1]]))
    return order[sorted_b < best_before]


def pareto_mask(gpus: np.ndarray, gpu_hours: np.ndarray, storage: np.ndarray) -> np.ndarray:
    """True for candidates no other candidate dominates in (GPUs, GPU-hours, storage GB/s), all minimized.

    GPU counts take few distinct values: each level keeps its own 2D front, then loses the points that a front
    of strictly fewer GPUs weakly dominates in (GPU-hours, storage). O(n log n + levels x front x level size).
    """
    keep = np.zeros(len(gpus), dtype=bool)
    front_h, front_s = np.empty(0), np.empty(0)
    for level in np.unique(gpus):
        idx = np.flatnonzero(gpus == level)
        idx = idx[_front_2d(gpu_hours[idx], storage[idx])]
        if len(front_h):
            beaten = ((front_h[None, :] <= gpu_hours[idx, None]) & (front_s[None, :] <= storage[idx, None])).any(1)
            idx = idx[~beaten]
        keep[idx] = True
        both_h = np.concatenate([front_h, gpu_hours[idx]])
        both_s = np.concatenate([front_s, storage[idx]])
        merged = _front_2d(both_h, both_s)
        front_h, front_s = both_h[merged], both_s[merged]
    return keep


def _job_candidates(inst: Instance, jname: str, tables: dict, stats: dict) -> list[dict]:
    job = inst.training[jname]
    card = inst.models[job.model]
    file = inst.source or "instance"
    if isinstance(card, CnnCard):
        return federated_candidates(inst, jname, tables["job"][jname], tables["region"],
                                    tables["accel"][EDGE_DEVICE], stats)
    if not isinstance(card, TransformerCard):
        raise InputError([Problem(file, f"training.{jname}.model", f"model '{job.model}' is a {card.kind} card; "
                                  "training is modelled for transformer (datacenter) and cnn (federated, edge "
                                  "regions) cards")])
    batch_seqs = max(1, int(round(job.global_batch_tokens / job.seq_len)))
    params = float(card.params_b * 1e9) if card.params_b else float(dense_param_count(
        card.layers, card.hidden, card.ffn_hidden, card.heads, card.kv_heads or card.heads, card.vocab, card.swiglu))
    routes = dataset_routes(inst, job.dataset_region)
    out = []
    st = stats[jname] = {"enumerated": 0, "fit": 0, "meet_deadline": 0, "kept": 0}
    best_hours = np.inf
    regions = job.allowed_regions or list(inst.regions)
    for rname in regions:
        region = inst.regions[rname]
        if region.kind != "datacenter":
            continue
        if job.dataset_region and rname not in routes:
            continue  # the dataset cannot reach this region over any link
        for aname, stock in region.gpus.items():
            if stock.count <= 0 or (job.allowed_accelerators and aname not in job.allowed_accelerators):
                continue
            accel = inst.accelerators[aname]
            g = parallel_grid(card, batch_seqs, stock.count, accel.gpus_per_node)
            st["enumerated"] += len(g.tp)
            res = training_step_time(
                layers=card.layers, hidden=card.hidden, ffn_hidden=card.ffn_hidden, heads=card.heads,
                kv_heads=card.kv_heads or card.heads, vocab=card.vocab, swiglu=card.swiglu, seq_len=job.seq_len,
                global_batch=batch_seqs, tp=g.tp, pp=g.pp, dp=g.dp, micro_batch=g.micro_batch,
                recompute=g.recompute, virtual_stages=g.interleave, sync_group=g.sync_group,
                sequence_parallel=job.sequence_parallel, distributed_optimizer=job.distributed_optimizer,
                flash_attention=job.flash_attention,
                peak_tflops=accel.peak_tflops, hbm_gb=accel.hbm_gb, hbm_gb_s=accel.hbm_gb_s,
                gpus_per_node=accel.gpus_per_node, nvlink_gb_s=accel.nvlink_gb_s or accel.pcie_gb_s,
                nic_gb_s=region.nic_gb_s, net_latency_us=region.net_latency_us, pod_gpus=region.pod_gpus,
                oversubscription=region.oversubscription, **_calibration(accel, file, aname))
            fits = np.asarray(res["fits"], dtype=bool)
            st["fit"] += int(fits.sum())
            gpus = g.tp * g.pp * g.dp
            steps = job.tokens / (batch_seqs * job.seq_len)
            # reliability per fate-sharing sync group; each checkpoint interval choice is its own candidate
            group_gpus = g.sync_group * g.tp * g.pp
            mtbf_s = group_mtbf_hours(accel.mtbf_hours, group_gpus) * 3600.0
            ckpt_bytes = params * CHECKPOINT_BYTES_PER_PARAM
            delta_s = checkpoint_write_time_s(ckpt_bytes, region.storage_gb_s * 1e9)
            transfer_gb, egress_usd, transfer_h = routes.get(rname, (0.0, 0.0, 0.0)) if job.dataset_region \
                else (0.0, 0.0, 0.0)
            transfer_gb, egress_usd = transfer_gb * job.dataset_tb, egress_usd * job.dataset_tb
            transfer_h = transfer_h * job.dataset_tb
            for multiple in CHECKPOINT_MULTIPLES:
                tau_s = daly_interval(delta_s, mtbf_s) * multiple
                good = goodput(delta_s, tau_s, job.checkpoint_restart_min * 60.0, mtbf_s)
                with np.errstate(divide="ignore", invalid="ignore"):
                    wall_h = steps * res["step_time_s"] / np.where(good > 0, good, np.nan) / 3600.0 + transfer_h
                ok = fits & np.isfinite(wall_h) & (wall_h <= job.deadline_hours)
                if multiple == CHECKPOINT_MULTIPLES[0]:
                    st["meet_deadline"] += int(ok.sum())
                    if fits.any():
                        best_hours = min(best_hours, float(np.nanmin(np.where(fits, wall_h, np.inf))))
                if not ok.any():
                    continue
                idx = np.flatnonzero(ok)
                groups = g.dp[idx] / g.sync_group[idx]
                storage = (job.tokens / (wall_h[idx] * 3600.0) * DATA_BYTES_PER_TOKEN
                           + groups * ckpt_bytes / tau_s[idx]) / 1e9
                hours = np.minimum(wall_h[idx], inst.horizon_hours)
                n = gpus[idx]
                charges = horizon_charges(
                    n, hours, tdp_w=accel.tdp_w, pue=region.pue, carbon_g_per_kwh=region.mean_carbon_g_per_kwh,
                    usd_per_gpu_hour=stock.usd_per_hour, energy_usd_per_kwh=region.energy_usd_per_kwh,
                    price_includes_energy=stock.includes_energy, include_embodied=inst.policy.include_embodied,
                    embodied_kgco2e=accel.embodied_kgco2e, lifetime_hours=accel.lifetime_hours,
                    other_usd=egress_usd)
                power_w, kwh, carbon, cost = (charges[k] for k in ("power_w", "energy_kwh", "carbon_t", "cost_usd"))
                out.append(dict(
                    job=np.full(len(idx), tables["job"][jname]), region=np.full(len(idx), tables["region"][rname]),
                    accel=np.full(len(idx), tables["accel"][aname]), gpus=n, tp=g.tp[idx], pp=g.pp[idx],
                    dp=g.dp[idx], micro_batch=g.micro_batch[idx], recompute=g.recompute[idx],
                    interleave=g.interleave[idx], sync_group=g.sync_group[idx], checkpoint_interval_s=tau_s[idx],
                    step_time_s=res["step_time_s"][idx], compute_s=res["compute_s"][idx],
                    comm_s=res["comm_s"][idx], bubble_s=res["bubble_s"][idx], sync_s=res["sync_s"][idx],
                    overlap_s=res["overlap_s"][idx], mfu=res["mfu"][idx], memory_gb=res["memory_gb_per_gpu"][idx],
                    goodput=good[idx], wall_hours=wall_h[idx], power_mw=power_w / 1e6, energy_kwh=kwh,
                    carbon_t=carbon, cost_usd=cost, storage_gb_s=storage,
                    transfer_gb=np.full(len(idx), transfer_gb),
                    binding_term=_term_codes(res["binding_term"][idx])))
    if not out:
        if st["fit"] == 0:
            st["why"] = "no configuration fits in accelerator memory in any allowed region"
        else:
            st["why"] = (f"no configuration meets the deadline of {job.deadline_hours:g} h "
                         f"(fastest that fits: {best_hours:,.0f} h)")
    return out


def _prune(cand: dict, horizon_hours: float, width: int, storage_counts: np.ndarray) -> dict:
    """The candidates no other of the same (region, accelerator) dominates in (GPUs, charged GPU-hours, storage);
    storage only in regions where `storage_counts` is True."""
    keep = np.zeros(len(cand["job"]), dtype=bool)
    key = cand["region"] * width + cand["accel"]
    charged_hours = (cand["gpus"] * np.minimum(cand["wall_hours"], horizon_hours)).astype(float)
    for k in np.unique(key):
        sel = np.flatnonzero(key == k)
        storage = cand["storage_gb_s"][sel] if storage_counts[k // width] else np.zeros(len(sel))
        keep[sel[pareto_mask(cand["gpus"][sel].astype(float), charged_hours[sel], storage)]] = True
    return {k: v[keep] for k, v in cand.items()}


def enumerate_training(inst: Instance) -> TrainingCandidates:
    """Every pruned training candidate of every job of `inst`, as one table."""
    job_names = list(inst.training)
    region_names = list(inst.regions)
    accel_names = sorted(inst.accelerators) + [EDGE_DEVICE]
    tables = {"job": {j: i for i, j in enumerate(job_names)}, "region": {r: i for i, r in enumerate(region_names)},
              "accel": {a: i for i, a in enumerate(accel_names)}}
    stats: dict[str, dict] = {}
    width = len(accel_names)
    # pass 1: each job pruned at once with storage in the test (memory stays one job's table at a time)
    kept: dict[str, dict] = {}
    for jname in job_names:
        pieces = _job_candidates(inst, jname, tables, stats)
        if pieces:
            cand = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
            kept[jname] = _prune(cand, inst.horizon_hours, width, np.ones(len(region_names), dtype=bool))
    # pass 2: where storage cannot bind even at every job's hungriest kept candidate, it leaves the test; the 2D
    # front of the 3D front is the 2D front of all candidates, so this is exact
    tight = storage_may_bind(inst, region_names, kept.values())
    parts: list[dict] = []
    for jname, cand in kept.items():
        cand = _prune(cand, inst.horizon_hours, width, tight)
        stats[jname]["kept"] = len(cand["job"])
        parts.append(cand)
    fields = TrainingCandidates.__dataclass_fields__
    columns = {k: (np.concatenate([p[k] for p in parts]) if parts else np.zeros(0))
               for k in fields if k not in ("job_names", "region_names", "accel_names", "stats", "procurement")}
    for k in ("job", "region", "accel", "gpus", "tp", "pp", "dp", "micro_batch", "recompute", "interleave",
              "sync_group", "binding_term"):
        columns[k] = columns[k].astype(np.int64)
    return TrainingCandidates(job_names=job_names, region_names=region_names, accel_names=accel_names,
                              stats=stats, **columns)
