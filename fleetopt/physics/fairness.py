"""Fairness monitoring cost: samples to detect a gap in a group's metric, the sampling rate, evaluator GPUs.

All functions take scalars or numpy arrays (broadcast together) and return float64 (or bool) arrays of the
broadcast shape.
"""

import numpy as np
from scipy.special import ndtri  # the normal quantile, without importing all of scipy.stats

SECONDS_PER_HOUR = 3600.0


def samples_to_detect_gap(min_gap, confidence, p=0.5):
    """Samples per group to estimate a rate within +/- min_gap at `confidence`: ceil(z^2 p(1-p) / gap^2).

    z is the two-sided normal quantile; p = 0.5 is the worst case (2 points at 95%: 2,401).
    Source: Cochran 1977, Sampling Techniques, ch. 4 (sample size for proportions).
    """
    confidence = np.asarray(confidence, dtype=float)
    z = ndtri(0.5 + np.asarray(confidence, dtype=float) / 2.0)
    p = np.asarray(p, dtype=float)
    n = z**2 * p * (1.0 - p) / np.asarray(min_gap, dtype=float) ** 2
    # Round-off guard: z = 1.96 gives exactly 2401 up to the last bit, which must not become 2402.
    return np.ceil(n - 1e-9)


def group_requests_per_window(group_share, requests_per_s, window_hours):
    """Requests of one group in a monitoring window: share x requests/s x window seconds.

    Source: definition (a group's share of a population's traffic, the instance's `groups`).
    """
    return (np.asarray(group_share, dtype=float) * np.asarray(requests_per_s, dtype=float)
            * np.asarray(window_hours, dtype=float) * SECONDS_PER_HOUR)


def sampling_rate(samples_per_window, group_share, requests_per_s, window_hours):
    """Fraction of a group's requests to evaluate, capped at 1; returns (rate, too_small).

    too_small marks a group whose whole window holds fewer requests than the sample count: it gets rate 1 and
    still cannot reach the required power. Source: Cochran 1977 (sample size per stratum) applied per window.
    """
    available = group_requests_per_window(group_share, requests_per_s, window_hours)
    samples = np.asarray(samples_per_window, dtype=float)
    too_small = available < samples
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(too_small, 1.0, samples / np.where(available > 0.0, available, 1.0))
    return rate, too_small


def evaluator_gpu_seconds(samples, gpu_s_per_sample):
    """Evaluator GPU-seconds per window: samples x GPU-seconds per evaluated sample.

    Source: definition (README design notes: evaluation runs in the region that served the traffic).
    """
    return np.asarray(samples, dtype=float) * np.asarray(gpu_s_per_sample, dtype=float)


def evaluator_gpus(samples, gpu_s_per_sample, window_hours):
    """Continuous evaluator GPUs to keep up: GPU-seconds per window / window seconds.

    Source: definition (utilization law: busy time / elapsed time, Denning & Buzen 1978).
    """
    return evaluator_gpu_seconds(samples, gpu_s_per_sample) / (np.asarray(window_hours, dtype=float)
                                                               * SECONDS_PER_HOUR)
