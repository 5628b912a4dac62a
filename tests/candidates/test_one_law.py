"""One law, two callers: `fleetopt estimate` and the solver's training candidates give the same step time and
memory for the same layout, because both call physics/training.py's training_step_time."""

import numpy as np

from fleetopt.candidates.estimate import RECOMPUTE_NAMES, estimate_training
from fleetopt.candidates.training import enumerate_training
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir


def test_estimate_and_candidates_agree_on_every_fully_synchronous_candidate():
    inst = load_instance(shipped_dir("instances") / "global-fleet.yaml")
    tc = enumerate_training(inst)
    checked = 0
    for i in np.flatnonzero(tc.sync_group == tc.dp):
        job = inst.training[tc.job_names[tc.job[i]]]
        region = inst.regions[tc.region_names[tc.region[i]]]
        batch = max(1, int(round(job.global_batch_tokens / job.seq_len)))
        if batch % (tc.dp[i] * tc.micro_batch[i]) or inst.accelerators.get(tc.accel_names[tc.accel[i]]) is None:
            continue  # estimate takes whole micro-batches only; federated rows have no accelerator entry
        row = estimate_training(
            inst.models[job.model], inst.accelerators[tc.accel_names[tc.accel[i]]], int(tc.gpus[i]),
            int(tc.tp[i]), int(tc.pp[i]), micro_batch=int(tc.micro_batch[i]), global_batch=batch,
            seq_len=job.seq_len, recompute=RECOMPUTE_NAMES[tc.recompute[i]], interleave=int(tc.interleave[i]),
            flash_attention=job.flash_attention, sequence_parallel=job.sequence_parallel,
            distributed_optimizer=job.distributed_optimizer, nic_gb_s=region.nic_gb_s,
            pod_gpus=None if not np.isfinite(region.pod_gpus) else int(region.pod_gpus),
            oversubscription=region.oversubscription, net_latency_us=region.net_latency_us)
        assert row["step_time_s"] == tc.step_time_s[i]
        assert row["memory_gb_per_gpu"] == tc.memory_gb[i]
        checked += 1
    assert checked >= 5
