"""Federated training candidates (archetype C): a CNN trained by FedAvg on an edge region's devices.

For a job on a `kind: cnn` card, `tokens` counts training samples and `global_batch_tokens` the samples
aggregated per round; the choice is the number of clients per round (the sync group) in each edge region.
"""

from __future__ import annotations

import numpy as np

from fleetopt.io.schema import CnnCard, Instance
from fleetopt.physics.energy import energy_kwh, operational_carbon_t
from fleetopt.physics.federated import DEVICE_EFFICIENCY, OVER_SELECTION, round_time

CLIENT_CHOICES = 2 ** np.arange(4, 17)   # 16 .. 65,536 clients per round
EDGE_DEVICE = "edge-device"


def federated_candidates(inst: Instance, jname: str, job_index: int, region_index: dict[str, int],
                         device_index: int, stats: dict) -> list[dict]:
    job = inst.training[jname]
    card = inst.models[job.model]
    assert isinstance(card, CnnCard)
    st = stats[jname] = {"enumerated": 0, "fit": 0, "meet_deadline": 0, "kept": 0}
    out = []
    for rname in job.allowed_regions or list(inst.regions):
        region = inst.regions[rname]
        if region.kind != "edge" or region.devices is None:
            continue
        dev = region.devices
        clients = CLIENT_CHOICES.astype(float)
        st["enumerated"] += len(clients)
        available = dev.count * dev.participation
        per_client = job.global_batch_tokens / clients
        ok = (clients * OVER_SELECTION <= available) & (per_client >= 1)
        st["fit"] += int(ok.sum())
        rounds = job.tokens / job.global_batch_tokens
        t = round_time(clients, per_client, card.gflops_per_sample, card.params_m * 1e6, dev.tflops,
                       dev.uplink_mbps)
        wall_h = rounds * t["round_s"] / 3600.0
        ok &= wall_h <= job.deadline_hours
        st["meet_deadline"] += int(ok.sum())
        idx = np.flatnonzero(ok)
        if not len(idx):
            continue
        n = clients[idx]
        hours = np.minimum(wall_h[idx], inst.horizon_hours)
        power_w = n * OVER_SELECTION * dev.watts * region.pue
        kwh = energy_kwh(power_w, hours)
        terms = np.stack([t["compute_s"][idx], t["comm_s"][idx], t["sync_s"][idx]])
        k = len(idx)
        out.append(dict(
            job=np.full(k, job_index), region=np.full(k, region_index[rname]), accel=np.full(k, device_index),
            gpus=n.astype(np.int64), tp=np.ones(k, np.int64), pp=np.ones(k, np.int64), dp=n.astype(np.int64),
            micro_batch=np.maximum(1, np.round(per_client[idx])).astype(np.int64), recompute=np.zeros(k, np.int64),
            interleave=np.ones(k, np.int64), sync_group=n.astype(np.int64), checkpoint_interval_s=t["round_s"][idx],
            step_time_s=t["round_s"][idx], compute_s=t["compute_s"][idx], comm_s=t["comm_s"][idx],
            bubble_s=np.zeros(k), sync_s=t["sync_s"][idx], overlap_s=np.zeros(k),
            mfu=DEVICE_EFFICIENCY * t["compute_s"][idx] / t["round_s"][idx],
            memory_gb=np.full(k, card.params_m * 1e6 * 16 / 1e9), goodput=np.ones(k), wall_hours=wall_h[idx],
            power_mw=power_w / 1e6, energy_kwh=kwh, carbon_t=operational_carbon_t(kwh, region.mean_carbon_g_per_kwh),
            cost_usd=n * hours * dev.usd_per_device_hour, storage_gb_s=np.zeros(k), transfer_gb=np.zeros(k),
            binding_term=np.argmax(terms, axis=0).astype(np.int64)))
    if not out:
        st["why"] = ("no edge region has enough participating devices to meet the deadline"
                     if st["fit"] else "no edge region with enough participating devices")
    return out
