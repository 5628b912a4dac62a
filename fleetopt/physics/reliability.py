"""Failure rates of fate-sharing groups, checkpoint intervals (Young, Daly) and the goodput they leave.

All functions take scalars or numpy arrays (broadcast together) and return float64 arrays/scalars.
Intervals and costs share one time unit (seconds by name; any unit works if used consistently).
"""

import numpy as np

HOURS_PER_DAY = 24.0


def group_mtbf_hours(per_gpu_mtbf_hours, n_gpus):
    """MTBF of a group in which any GPU failure stops all: per-GPU MTBF / n (independent exponential failures).

    Source: chapter "failures occur continuously" (Llama 3: 16,384 GPUs -> one interruption every ~3.1 h).
    """
    return np.asarray(per_gpu_mtbf_hours, dtype=float) / np.asarray(n_gpus, dtype=float)


def interruption_interval_hours(days, interruptions):
    """Mean wall-clock hours between interruptions observed over `days`.

    Source: Dubey et al. 2024 (Llama 3): 419 unexpected interruptions in 54 days -> one every ~3.1 h.
    """
    return np.asarray(days, dtype=float) * HOURS_PER_DAY / np.asarray(interruptions, dtype=float)


def per_gpu_mtbf_from_interruptions(n_gpus, days, interruptions):
    """Per-GPU MTBF implied by a fleet's interruption count: GPU-hours observed / interruptions.

    Source: Dubey et al. 2024, Llama 3 §3.3.4 (16,384 x 54 x 24 / 419 ~ 50,700 h).
    """
    return np.asarray(n_gpus, dtype=float) * interruption_interval_hours(days, interruptions)


def young_interval(delta_s, mtbf_s):
    """First-order optimal checkpoint interval sqrt(2 delta M).

    Source: Young 1974, "A first order approximation to the optimum checkpoint interval", CACM 17(9).
    """
    return np.sqrt(2.0 * np.asarray(delta_s, dtype=float) * np.asarray(mtbf_s, dtype=float))


def daly_interval(delta_s, mtbf_s):
    """Higher-order optimal interval sqrt(2dM)[1 + sqrt(d/2M)/3 + (d/2M)/9] - d for d < 2M, else M.

    Source: Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart dumps", FGCS 22(3).
    """
    delta = np.asarray(delta_s, dtype=float)
    mtbf = np.asarray(mtbf_s, dtype=float)
    ratio = delta / (2.0 * mtbf)
    series = young_interval(delta, mtbf) * (1.0 + np.sqrt(ratio) / 3.0 + ratio / 9.0) - delta
    return np.where(delta < 2.0 * mtbf, series, mtbf)


def checkpoint_overhead_fraction(delta_s, tau_s):
    """Fraction of time spent writing checkpoints: delta / tau.

    Source: Young 1974 (first-order model: goodput = 1 - delta/tau - (tau/2 + restart)/M).
    """
    return np.asarray(delta_s, dtype=float) / np.asarray(tau_s, dtype=float)


def failure_loss_fraction(tau_s, restart_s, mtbf_s):
    """Fraction of time lost to failures: (half an interval of lost work + restart) per MTBF.

    Source: Young 1974 (first-order model: goodput = 1 - delta/tau - (tau/2 + restart)/M).
    """
    tau = np.asarray(tau_s, dtype=float)
    return (tau / 2.0 + np.asarray(restart_s, dtype=float)) / np.asarray(mtbf_s, dtype=float)


def goodput(delta_s, tau_s, restart_s, mtbf_s):
    """Useful fraction of wall-clock time 1 - delta/tau - (tau/2 + restart)/M, clipped at 0.

    Source: Young 1974 (first-order checkpoint/restart model).
    """
    wasted = checkpoint_overhead_fraction(delta_s, tau_s) + failure_loss_fraction(tau_s, restart_s, mtbf_s)
    return np.maximum(1.0 - wasted, 0.0)


def checkpoint_write_time_s(checkpoint_bytes, write_bytes_per_s):
    """Checkpoint cost delta: bytes to write / storage write bandwidth.

    Source: definition; Dubey et al. 2024 §3.3 (Tectonic sustained 2 TB/s for Llama 3 checkpoints).
    """
    return np.asarray(checkpoint_bytes, dtype=float) / np.asarray(write_bytes_per_s, dtype=float)


def mtbf_with_preemptions_hours(per_gpu_mtbf_hours, preemptions_per_gpu_hour):
    """Per-GPU mean time between interruptions when spot preemptions come on top of failures: 1 / (1/M + p).
    A fate-sharing group of n such GPUs stops at n x (1/M + p) per hour (group_mtbf_hours of this figure).

    Source: independent exponential interruption processes add their rates (the same law as group_mtbf_hours);
    preemption as one more interruption source of the checkpoint/restart model (Young 1974).
    """
    rate = 1.0 / np.asarray(per_gpu_mtbf_hours, dtype=float) + np.asarray(preemptions_per_gpu_hour, dtype=float)
    return 1.0 / rate


def replicas_down_fraction(preemptions_per_gpu_hour, gpus_per_replica, replacement_hours):
    """Share of a spot deployment's replicas down at any time: preemptions per replica-hour x hours to replace
    one (a replica stops when any of its GPUs is preempted), clipped at 1.

    Source: Little's law L = lambda W (Little 1961): replicas down = arrival rate of preemptions x time down.
    """
    down = (np.asarray(preemptions_per_gpu_hour, dtype=float) * np.asarray(gpus_per_replica, dtype=float)
            * np.asarray(replacement_hours, dtype=float))
    return np.minimum(down, 1.0)
