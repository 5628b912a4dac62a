"""Queueing laws for serving capacity: the M/M/1 sojourn tail and the load a replica takes at a p99 target.

A replica is treated as an M/M/1 server (Poisson arrivals, FCFS) whose service rate mu is its throughput in
requests/s at the chosen batch (serving.replica_throughput_rps): the standard single-server approximation
(Kleinrock 1975; Harchol-Balter 2013, Performance Modeling and Design of Computer Systems). It captures the
blow-up of the tail as load nears capacity; it models neither the batch slots nor service-time variability
other than exponential. The queueing budget is what the SLO leaves after RTT, prefill and decode
(latency_budget_s).

All functions take scalars or numpy arrays (broadcast together) and return float64 of the broadcast shape.
"""

import numpy as np

from fleetopt.physics.tails import per_shard_quantile


def mm1_sojourn_quantile_s(service_rate_rps, arrival_rate_rps, quantile):
    """Quantile q of M/M/1 time in system: -ln(1-q) / (mu - lambda); inf when lambda >= mu.

    The p99 is ln(100) / (mu - lambda).
    Source: Kleinrock 1975, Queueing Systems Vol. 1: FCFS M/M/1 time in system is exponential, rate mu - lambda.
    """
    spare_rps = np.asarray(service_rate_rps, dtype=float) - np.asarray(arrival_rate_rps, dtype=float)
    tail = -np.log1p(-np.asarray(quantile, dtype=float))
    with np.errstate(divide="ignore"):
        return np.where(spare_rps > 0.0, tail / np.where(spare_rps > 0.0, spare_rps, 1.0), np.inf)


def mm1_max_arrival_rate(service_rate_rps, budget_s, quantile):
    """Largest arrival rate whose M/M/1 sojourn quantile fits the budget: max(0, mu + ln(1-q)/budget).

    Zero when the budget is <= 0.
    Source: mm1_sojourn_quantile_s solved for lambda (Kleinrock 1975; Harchol-Balter 2013).
    """
    budget_s = np.asarray(budget_s, dtype=float)
    positive = budget_s > 0.0
    tail = np.log1p(-np.asarray(quantile, dtype=float))
    rate = np.asarray(service_rate_rps, dtype=float) + tail / np.where(positive, budget_s, 1.0)
    return np.where(positive, np.maximum(rate, 0.0), 0.0)


def replica_capacity_rps(service_rate_rps, queue_budget_s, quantile=0.99, fanout=1):
    """Load one replica (shard) can take when a request fanning out to `fanout` shards must meet `quantile`.

    Each shard must meet quantile q^(1/F) (tails.per_shard_quantile), so high fan-out costs capacity.
    Source: M/M/1 tail (Kleinrock 1975) with the fan-out tail of Dean & Barroso 2013 (chapter footnote 2).
    """
    return mm1_max_arrival_rate(service_rate_rps, queue_budget_s, per_shard_quantile(quantile, fanout))


def latency_budget_s(slo_p99_ms, rtt_ms, prefill_s, decode_s):
    """Time left for queueing: SLO - RTT - prefill - decode, in seconds; <= 0: the route cannot meet the SLO.

    Source: definition (the p99 SLO split into RTT, prefill, decode and queueing; README "Formulation").
    """
    return ((np.asarray(slo_p99_ms, dtype=float) - np.asarray(rtt_ms, dtype=float)) / 1e3
            - np.asarray(prefill_s, dtype=float) - np.asarray(decode_s, dtype=float))


def with_headroom(capacity, headroom):
    """Capacity usable by routed load when `headroom` (0.2 = 20%) is kept spare: capacity / (1 + headroom).

    Source: chapter, Archetype A ("serving SLOs must leave headroom for rollback and fallback").
    """
    return np.asarray(capacity, dtype=float) / (1.0 + np.asarray(headroom, dtype=float))
