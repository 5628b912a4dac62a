"""Tail latency and straggler laws: the slowest of many sets the pace.

All functions take scalars or numpy arrays (broadcast together) and return float64 arrays/scalars.
"""

import numpy as np


def fanout_tail_probability(p_slow, fanout):
    """Probability that a request fanning out to `fanout` servers meets at least one slow one: 1 - (1-p)^F.

    Source: chapter footnote 2 "Tail Latency" (100 servers, 1% slow -> 63.4%); Dean & Barroso 2013.
    """
    p = np.asarray(p_slow, dtype=float)
    return -np.expm1(np.asarray(fanout, dtype=float) * np.log1p(-p))


def per_shard_quantile(q, fanout):
    """Quantile each of `fanout` independent shards must meet so the whole request meets quantile q: q^(1/F).

    Source: Dean & Barroso 2013, "The Tail at Scale" (independent shards: P(all meet) = q_shard^F).
    """
    return np.asarray(q, dtype=float) ** (1.0 / np.asarray(fanout, dtype=float))


def straggler_throughput_factor(worker_speeds):
    """Synchronous throughput relative to all workers at the fastest peer's speed: min / max along the last axis.

    Source: chapter footnote 7 "Stragglers" (one worker at 80% speed cuts cluster throughput by 20%).
    """
    speeds = np.asarray(worker_speeds, dtype=float)
    return speeds.min(axis=-1) / speeds.max(axis=-1)


def expected_max_slowdown(n, cv):
    """Expected slowest of n step times (mean 1, coefficient of variation cv): 1 + cv*sqrt(2 ln n); 1 for n = 1.

    Source: extreme-value theory, E[max of n iid N(0,1)] <= sqrt(2 ln n); phenomenon: Dean & Barroso 2013.

    The bound is conservative (about 1.15x the exact normal value at n = 1000) and tends to it as n grows.
    """
    n = np.asarray(n, dtype=float)
    return 1.0 + np.asarray(cv, dtype=float) * np.sqrt(2.0 * np.log(np.maximum(n, 1.0)))
