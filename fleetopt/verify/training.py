"""Training decisions re-checked from the physics: legality, memory fit, step time, goodput, wall hours, deadline,
power, energy, carbon and cost of each job (families assign, config, memory, deadline, reported).

Modelling rules re-derived here (they restate fleetopt/candidates/training.py and federated.py):
- global batch in sequences = max(1, round(global_batch_tokens / seq_len)); steps = tokens / (batch x seq_len).
- parameters: the card's params_b, else the dense count from its shape (physics.training_flops).
- a checkpoint holds 14 B per parameter (bf16 weights + fp32 master and Adam moments; ZeRO, Rajbhandari
  et al. 2020) = physics.training.checkpoint_bytes_per_gpu(params, tp=1, pp=1); one sync group writes it
  through the region's storage_gb_s; its MTBF is the per-GPU MTBF / (sync_group x tp x pp) GPUs; on spot
  (procurement "spot") the per-GPU figure is 1 / (1/MTBF + preemptions_per_gpu_hour) and the price the spot one.
- goodput at the plan's checkpoint interval (physics.reliability.goodput, restart = checkpoint_restart_min);
  wall hours = steps x step time / goodput / 3600 + dataset staging hours (verify/network.py).
- storage GB/s = tokens / wall seconds x 4 B per token (int32 ids) + (dp / sync_group) checkpoints per interval.
- the wall hours fit between earliest_start_hour and the deadline; over time slices the hours run in each
  slice are checked by verify/slices.py and charged at the slice's intensity and energy price.
- power = GPUs x TDP x PUE; energy, carbon and cost over min(wall hours, horizon); cost = GPUs x hours x the
  region's price (+ energy x energy price when the price excludes energy) + dataset egress; carbon =
  operational (the region's mean intensity) + embodied when the policy includes it: the one law
  physics.economics.horizon_charges, which the candidates use too (the verifier may import physics).
- federated (cnn card, edge region): `gpus` = clients per round = dp = sync group; samples per client =
  global_batch_tokens / clients >= 1; invited clients (x OVER_SELECTION) within count x participation; round
  time from physics.federated.round_time; power = invited clients x device watts x PUE; no embodied carbon.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from fleetopt.io.schema import CnnCard, Instance, TrainingJob, TransformerCard
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.energy import energy_kwh, operational_carbon_t
from fleetopt.physics.federated import DEVICE_EFFICIENCY, OVER_SELECTION, round_time
from fleetopt.physics.reliability import (
    checkpoint_write_time_s,
    goodput,
    group_mtbf_hours,
    mtbf_with_preemptions_hours,
)
from fleetopt.physics.training import checkpoint_bytes_per_gpu, training_step_time
from fleetopt.physics.training_flops import dense_param_count
from fleetopt.physics.training_memory import usable_memory_gb
from fleetopt.plan import Plan, TrainingDecision
from fleetopt.verify.draw import Draw
from fleetopt.verify.network import dataset_staging
from fleetopt.verify.report import Report
from fleetopt.verify.slices import SliceView, training_over_slices

DATA_BYTES_PER_TOKEN = 4.0
EDGE_DEVICE = "edge-device"
RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
_STEP_PARAMS = set(inspect.signature(training_step_time).parameters)


def verify_training(inst: Instance, plan: Plan, report: Report) -> list[Draw]:
    """Check every job's decision; return what the legal ones draw from their regions."""
    draws: list[Draw] = []
    for name in inst.training:
        report.check("assign")
        if name not in plan.training:
            report.add("assign", (name,), 1, "choices", "the job has no decision in the plan (it must run once)")
    for name, dec in plan.training.items():
        if name not in inst.training:
            report.check("assign")
            report.add("assign", (name,), 1, "choices", "the plan decides a job the instance does not have")
            continue
        draw = _verify_job(inst, name, dec, report)
        if draw is not None:
            draws.append(draw)
    return draws


def _config(report: Report, job: str, message: str) -> None:
    report.add("config", (job,), 1, "decisions", message)


def _verify_job(inst: Instance, name: str, dec: TrainingDecision, report: Report) -> Draw | None:
    job = inst.training[name]
    card = inst.models[job.model]
    report.check("config")
    region = inst.regions.get(dec.region)
    if region is None:
        _config(report, name, f"unknown region '{dec.region}'")
        return None
    if job.allowed_regions is not None and dec.region not in job.allowed_regions:
        _config(report, name, f"region '{dec.region}' is not in the job's allowed_regions")
    if isinstance(card, CnnCard):
        return _verify_federated(inst, name, job, card, dec, report)
    if not isinstance(card, TransformerCard):
        _config(report, name, f"a {card.kind} card is not trained by this planner")
        return None
    if region.kind != "datacenter":
        _config(report, name, f"region '{dec.region}' is an edge region; a transformer trains in a datacenter")
        return None
    accel = inst.accelerators.get(dec.accelerator)
    if accel is None:
        _config(report, name, f"unknown accelerator '{dec.accelerator}'")
        return None
    if job.allowed_accelerators is not None and dec.accelerator not in job.allowed_accelerators:
        _config(report, name, f"accelerator '{dec.accelerator}' is not in the job's allowed_accelerators")
    stock = region.gpus.get(dec.accelerator)
    spot = dec.procurement == "spot"
    if spot and (stock is None or stock.spot is None):
        _config(report, name, f"'{dec.region}' has no spot stock of '{dec.accelerator}'")
        return None
    tp, pp, dp, mb, v, group = dec.tp, dec.pp, dec.dp, dec.micro_batch, dec.interleave, dec.sync_group
    if min(tp, pp, dp, mb, v, group) < 1:
        _config(report, name, "tp, pp, dp, micro_batch, interleave and sync_group must all be at least 1")
        return None
    tau_s = dec.checkpoint_interval_min * 60.0
    if not (math.isfinite(tau_s) and tau_s > 0):
        _config(report, name, "the checkpoint interval must be a positive number of minutes")
        return None
    batch_seqs = max(1, int(round(job.global_batch_tokens / job.seq_len)))
    kv = card.kv_heads or card.heads
    gpus = tp * pp * dp
    rules = [
        (dec.gpus == gpus, f"gpus {dec.gpus} is not tp x pp x dp = {gpus}"),
        (dp * mb <= batch_seqs, f"dp x micro_batch = {dp * mb} exceeds the global batch of {batch_seqs} sequences"),
        (dp % group == 0, f"sync_group {group} does not divide dp {dp}"),
        (card.heads % tp == 0 and (kv % tp == 0 or tp <= kv), f"tp {tp} does not split the {card.heads} heads "
                                                               f"({kv} kv heads)"),
        (pp <= card.layers, f"pp {pp} exceeds the model's {card.layers} layers"),
        (v == 1 or (pp > 1 and pp * v <= card.layers), f"interleave {v} needs pp > 1 and pp x interleave <= layers"),
    ]
    for ok, message in rules:
        if not ok:
            _config(report, name, message)
    calibration = {k: val for k, val in accel.calibration.items() if k in _STEP_PARAMS}
    res = training_step_time(
        layers=card.layers, hidden=card.hidden, ffn_hidden=card.ffn_hidden, heads=card.heads, kv_heads=kv,
        vocab=card.vocab, swiglu=card.swiglu, seq_len=job.seq_len, global_batch=batch_seqs, tp=tp, pp=pp, dp=dp,
        micro_batch=mb, recompute=RECOMPUTE[dec.recompute], virtual_stages=v, sync_group=group,
        sequence_parallel=job.sequence_parallel, distributed_optimizer=job.distributed_optimizer,
        flash_attention=job.flash_attention, peak_tflops=accel.peak_tflops, hbm_gb=accel.hbm_gb,
        hbm_gb_s=accel.hbm_gb_s, gpus_per_node=accel.gpus_per_node,
        nvlink_gb_s=accel.nvlink_gb_s or accel.pcie_gb_s, nic_gb_s=region.nic_gb_s,
        net_latency_us=region.net_latency_us, pod_gpus=region.pod_gpus, oversubscription=region.oversubscription,
        **calibration)
    r = {k: (float(val) if np.asarray(val).dtype.kind == "f" else np.asarray(val).item()) for k, val in res.items()}
    report.check("memory")
    usable_gb = float(usable_memory_gb(accel.hbm_gb))
    if not r["fits"]:
        report.add("memory", (name,), r["memory_gb_per_gpu"] - usable_gb, "GB per GPU",
                   f"{r['memory_gb_per_gpu']:.6g} GB per GPU does not fit in {usable_gb:.6g} usable GB of "
                   f"{dec.accelerator}")
    params = card.params_b * 1e9 if card.params_b else float(dense_param_count(
        card.layers, card.hidden, card.ffn_hidden, card.heads, kv, card.vocab, card.swiglu))
    ckpt_bytes = float(checkpoint_bytes_per_gpu(params, 1, 1))
    # on spot, preemptions add their rate to every GPU's failure rate
    per_gpu = mtbf_with_preemptions_hours(accel.mtbf_hours, stock.spot.preemptions_per_gpu_hour) if spot \
        else accel.mtbf_hours
    mtbf_s = float(group_mtbf_hours(per_gpu, group * tp * pp)) * 3600.0
    delta_s = float(checkpoint_write_time_s(ckpt_bytes, region.storage_gb_s * 1e9))
    good = float(goodput(delta_s, tau_s, job.checkpoint_restart_min * 60.0, mtbf_s))
    staging = dataset_staging(inst, job.dataset_region, dec.region, job.dataset_tb)
    if staging is None:
        _config(report, name, f"the dataset in '{job.dataset_region}' cannot reach '{dec.region}' over any link")
        return None
    steps = job.tokens / (batch_seqs * job.seq_len)
    wall_h = steps * r["step_time_s"] / good / 3600.0 + staging.hours if good > 0 else math.inf
    report.upper("deadline", (name,), wall_h, job.deadline_hours - job.earliest_start_hour, "hours",
                 "the job's wall time (failures and checkpoints included) does not fit between its earliest "
                 "start and its deadline")
    storage = (job.tokens / (wall_h * 3600.0) * DATA_BYTES_PER_TOKEN + dp / group * ckpt_bytes / tau_s) / 1e9
    hours = min(wall_h, inst.horizon_hours)
    sv = None if inst.timeline.is_static else SliceView(inst)
    by_slice = None if sv is None else training_over_slices(inst, sv, name, dec, wall_h, report)
    if by_slice is not None:
        hours = by_slice  # the hours run in each slice, at each slice's intensity and energy price
    intensity, energy_price = region.mean_carbon_g_per_kwh, region.energy_usd_per_kwh
    if by_slice is not None:
        intensity = sv.value(f"regions.{dec.region}.carbon_g_per_kwh", intensity)
        energy_price = sv.value(f"regions.{dec.region}.energy_usd_per_kwh", energy_price)
    charges = horizon_charges(
        gpus, hours, tdp_w=accel.tdp_w, pue=region.pue, carbon_g_per_kwh=intensity,
        usd_per_gpu_hour=(stock.spot.usd_per_hour if spot else stock.usd_per_hour) if stock is not None else 0.0,
        energy_usd_per_kwh=energy_price, price_includes_energy=stock is None or stock.includes_energy,
        include_embodied=inst.policy.include_embodied, embodied_kgco2e=accel.embodied_kgco2e,
        lifetime_hours=accel.lifetime_hours)
    kwh, carbon = float(np.sum(charges["energy_kwh"])), float(np.sum(charges["carbon_t"]))
    power_w, cost = float(charges["power_w"]), float(np.sum(charges["cost_usd"])) + staging.egress_usd
    key = ("training", name)
    for label, stated, value, units in [
            ("step_time_s", dec.step_time_s, r["step_time_s"], "s"), ("mfu", dec.mfu, r["mfu"], "fraction"),
            ("memory_gb_per_gpu", dec.memory_gb_per_gpu, r["memory_gb_per_gpu"], "GB"),
            ("goodput", dec.goodput, good, "fraction"), ("wall_hours", dec.wall_hours, wall_h, "hours"),
            ("power_mw", dec.power_mw, power_w / 1e6, "MW"), ("energy_mwh", dec.energy_mwh, kwh / 1e3, "MWh"),
            ("carbon_t", dec.carbon_t, carbon, "t CO2e"), ("cost_usd", dec.cost_usd, cost, "USD"),
            ("breakdown.compute_s", dec.breakdown.compute_s, r["compute_s"], "s"),
            ("breakdown.comm_s", dec.breakdown.comm_s, r["comm_s"], "s"),
            ("breakdown.bubble_s", dec.breakdown.bubble_s, r["bubble_s"], "s"),
            ("breakdown.sync_s", dec.breakdown.sync_s, r["sync_s"], "s"),
            ("breakdown.overlap_s", dec.breakdown.overlap_s, r["overlap_s"], "s")]:
        report.stated(key, label, stated, value, units)
    _stated_term(report, key, dec.binding_term, str(r["binding_term"]))
    links = {i: staging.gb / (inst.policy.dataset_staging_hours * 3600.0) for i in staging.links}
    share = None if by_slice is None else by_slice / sv.weights
    return Draw(f"training job '{name}'", dec.region, dec.accelerator, gpus, power_w / 1e6, carbon, cost,
                kwh / 1e3, storage_gb_s=storage, link_gb_s=links,
                gpus_by_slice=None if share is None else gpus * share,
                mw_by_slice=None if share is None else power_w / 1e6 * share, spot=spot,
                gpu_hours=np.atleast_1d(gpus * np.asarray(hours, dtype=float)))


def _stated_term(report: Report, key, stated: str, recomputed: str) -> None:
    report.check("reported")
    if stated != recomputed:
        report.add("reported", key, 1, "term", f"binding_term: the plan states '{stated}', the physics gives "
                                               f"'{recomputed}'")


def _verify_federated(inst: Instance, name: str, job: TrainingJob, card: CnnCard, dec: TrainingDecision,
                      report: Report) -> Draw | None:
    region = inst.regions[dec.region]
    if region.kind != "edge" or region.devices is None:
        _config(report, name, f"a cnn card trains federated on an edge region; '{dec.region}' is a datacenter")
        return None
    if dec.accelerator != EDGE_DEVICE:
        _config(report, name, f"federated training runs on '{EDGE_DEVICE}', not '{dec.accelerator}'")
    clients = dec.gpus
    if clients < 1 or (dec.tp, dec.pp, dec.dp, dec.sync_group) != (1, 1, clients, clients):
        _config(report, name, "a federated round has tp = pp = 1 and dp = sync_group = gpus = clients per round")
        if clients < 1:
            return None
    dev = region.devices
    per_client = job.global_batch_tokens / clients
    report.check("config")
    if per_client < 1:
        _config(report, name, f"{clients} clients share {job.global_batch_tokens:g} samples a round: "
                              "fewer than one each")
    available = dev.count * dev.participation
    report.upper("inventory", (dec.region, EDGE_DEVICE), clients * OVER_SELECTION, available, "devices",
                 f"training job '{name}' invites clients x {OVER_SELECTION:g} over-selection, more than the "
                 "participating devices")
    t = {k: float(v) for k, v in round_time(clients, per_client, card.gflops_per_sample, card.params_m * 1e6,
                                             dev.tflops, dev.uplink_mbps).items()}
    rounds = job.tokens / job.global_batch_tokens
    wall_h = rounds * t["round_s"] / 3600.0
    report.upper("deadline", (name,), wall_h, job.deadline_hours, "hours", "the federated job is past its deadline")
    hours = min(wall_h, inst.horizon_hours)
    sv = None if inst.timeline.is_static else SliceView(inst)
    by_slice = None if sv is None else training_over_slices(inst, sv, name, dec, wall_h, report)
    intensity = region.mean_carbon_g_per_kwh
    if by_slice is not None:
        hours = by_slice
        intensity = sv.value(f"regions.{dec.region}.carbon_g_per_kwh", region.mean_carbon_g_per_kwh)
    power_w = clients * OVER_SELECTION * dev.watts * region.pue
    kwh = float(np.sum(energy_kwh(power_w, hours)))
    carbon = float(np.sum(operational_carbon_t(energy_kwh(power_w, hours), intensity)))
    cost = float(clients * np.sum(hours) * dev.usd_per_device_hour)
    key = ("training", name)
    for label, stated, value, units in [
            ("step_time_s", dec.step_time_s, t["round_s"], "s"),
            ("mfu", dec.mfu, DEVICE_EFFICIENCY * t["compute_s"] / t["round_s"], "fraction"),
            ("wall_hours", dec.wall_hours, wall_h, "hours"), ("power_mw", dec.power_mw, power_w / 1e6, "MW"),
            ("energy_mwh", dec.energy_mwh, kwh / 1e3, "MWh"), ("carbon_t", dec.carbon_t, carbon, "t CO2e"),
            ("cost_usd", dec.cost_usd, cost, "USD")]:
        report.stated(key, label, stated, value, units)
    return Draw(f"training job '{name}'", dec.region, EDGE_DEVICE, clients, power_w / 1e6, carbon, cost,
                kwh / 1e3, stocked=False,
                mw_by_slice=None if by_slice is None else power_w / 1e6 * by_slice / sv.weights)
