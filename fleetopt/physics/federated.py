"""Federated training on an edge fleet (the chapter's archetype C): one FedAvg round per synchronization.

Pure numpy; every argument broadcasts.
"""

from __future__ import annotations

import numpy as np

from fleetopt.physics.tails import expected_max_slowdown

TRAIN_FLOPS_PER_FORWARD = 3.0   # forward + backward (2x forward): the usual 3x training factor
DEVICE_EFFICIENCY = 0.3         # assumption: share of a phone/NPU's peak a training loop sustains
UPDATE_BYTES_PER_PARAM = 4.0    # fp32 model download and update upload
OVER_SELECTION = 1.3            # clients invited per client aggregated (stragglers are dropped)
DEVICE_CV = 0.1                 # step-time variation across devices after over-selection drops the slowest


def local_compute_s(samples_per_client, gflops_per_sample, device_tflops, efficiency=DEVICE_EFFICIENCY):
    """Seconds a client spends on local SGD over its samples: 3 x forward FLOPs / (peak x efficiency).

    Source: Kaplan et al. 2020 (training ~ 3x forward FLOPs); McMahan et al. 2017 (FedAvg local epochs).
    """
    flops = (np.asarray(samples_per_client, dtype=float) * np.asarray(gflops_per_sample, dtype=float) * 1e9
             * TRAIN_FLOPS_PER_FORWARD)
    return flops / (np.asarray(device_tflops, dtype=float) * 1e12 * efficiency)


def update_transfer_s(params, uplink_mbps, bytes_per_param=UPDATE_BYTES_PER_PARAM):
    """Seconds to download the model and upload the update over the device's uplink (download assumed as fast).

    Source: McMahan et al. 2017 (each round: broadcast the model, collect the updates).
    """
    bits = np.asarray(params, dtype=float) * bytes_per_param * 8.0
    return 2.0 * bits / (np.asarray(uplink_mbps, dtype=float) * 1e6)


def round_time(clients, samples_per_client, gflops_per_sample, params, device_tflops, uplink_mbps,
               cv=DEVICE_CV):
    """One synchronous FedAvg round, split into the fleet law's terms: dict of compute_s, comm_s, sync_s, round_s.

    The round waits for the slowest aggregated client: sync_s = (E[max slowdown] - 1) x (compute + comm).
    Source: chapter, "The Fleet Law"; Bonawitz et al. 2019 (rounds wait for the selected clients, over-selection).
    """
    compute = local_compute_s(samples_per_client, gflops_per_sample, device_tflops)
    comm = update_transfer_s(params, uplink_mbps)
    sync = (expected_max_slowdown(clients, cv) - 1.0) * (compute + comm)
    compute, comm, sync = np.broadcast_arrays(compute, comm, sync)
    return {"compute_s": compute, "comm_s": comm, "sync_s": sync, "round_s": compute + comm + sync}
