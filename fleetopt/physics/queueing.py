"""Queueing laws for serving capacity: continuous batching for LLM replicas, M/M/1 for batch servers.

LLM replicas (continuous batching, Yu et al. 2022 Orca; Kwon et al. 2023 vLLM) are a pool of `slots`
sequences (the batch). A request holds a slot from its prefill to its last token: its decode phase is
output x the decode step at the current decode batch, stretched by the other requests' prefills (the part of
each prefill its chunks' steps do not carry as decode steps). The number decoding follows from Little's law,
so latency grows with load through the step and the prefills. Requests wait for a slot as in M/G/c
(Erlang C with the Allen-Cunneen correction for the holding time's variability, which comes from the
output-length distribution); a request of the service's size then takes its own prefill and decode: the p99
is the wait's p99 plus that time, not a multiple of the mean service time as under M/M/1. Fan-out applies
the per-shard quantile as before.

Batch servers (DLRM shard groups, CNN replicas) are treated as an M/M/1 server (Poisson arrivals, FCFS)
whose service rate mu is its throughput in requests/s at the chosen batch: the standard single-server
approximation (Kleinrock 1975; Harchol-Balter 2013, Performance Modeling and Design of Computer Systems). Their
queueing budget is what the SLO leaves after RTT, prefill and decode (latency_budget_s).

All functions take scalars or numpy arrays (broadcast together) and return float64 of the broadcast shape.
"""

import numpy as np
from scipy.special import gammaincc, gammaln

from fleetopt.physics.tails import per_shard_quantile

# Assumption, overridable: coefficient of variation of output lengths in production traffic (1: exponential-like
# lengths, as the geometric stop of sampling gives); fixed-length benchmarks have 0.
OUTPUT_LENGTH_CV = 1.0
_BISECTION_STEPS = 30  # relative precision 2^-30 of the bracket


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


# Continuous batching (LLM replicas).


def erlang_c(servers, offered_load):
    """Probability an arrival waits in M/M/c: Erlang B / (1 - rho (1 - Erlang B)); 1 when rho >= 1.

    Erlang B = Poisson pmf(c; a) / cdf(c; a), computed in logs (stable for hundreds of servers).
    Source: Erlang 1917; Kleinrock 1975, Queueing Systems Vol. 1, eq. 3.40 (M/M/2 at a = 1: C = 1/3).
    """
    c = np.asarray(servers, dtype=float)
    a = np.asarray(offered_load, dtype=float)
    a = np.where(np.isnan(a), np.inf, np.maximum(a, 1e-300))   # nan (0 x inf): no capacity
    rho = a / c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_pmf = c * np.log(a) - a - gammaln(c + 1.0)
        blocking = np.exp(log_pmf) / gammaincc(c + 1.0, a)
        wait = blocking / (1.0 - rho * (1.0 - blocking))
    return np.where(rho >= 1.0, 1.0, np.clip(np.nan_to_num(wait, nan=1.0), 0.0, 1.0))


def mgc_wait_quantile_s(servers, arrival_rps, holding_s, holding_cv2, quantile):
    """Quantile of the wait in M/G/c: P(W > t) = C(c, a) exp(-(c/H)(1 - rho) t x 2/(1 + cs^2)); inf at rho >= 1.

    M/M/c's exponential wait tail with its rate scaled by 2/(1 + cs^2), the Allen-Cunneen factor (M/D/1: the
    mean wait is half M/M/1's, Pollaczek-Khinchine).
    Source: Allen-Cunneen (Allen 1990, Probability, Statistics and Queueing Theory); Whitt 1993, GI/G/m approx.
    """
    c, lam = np.asarray(servers, dtype=float), np.asarray(arrival_rps, dtype=float)
    holding = np.asarray(holding_s, dtype=float)
    with np.errstate(invalid="ignore"):
        load = lam * holding
    load = np.where(np.isnan(load), np.inf, load)   # 0 x inf: a replica that never finishes
    rho = load / c
    waits = erlang_c(c, load)
    tail = 1.0 - np.asarray(quantile, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (c / holding) * (1.0 - rho) * 2.0 / (1.0 + np.asarray(holding_cv2, dtype=float))
        t = np.log(np.maximum(waits, 1e-300) / tail) / rate
    return np.where(rho >= 1.0, np.inf, np.where(waits <= tail, 0.0, t))


def md1_mean_wait_s(arrival_rps, service_s):
    """Mean wait in M/D/1: rho x service / (2 (1 - rho)), rho = lambda x service; inf at rho >= 1.

    Source: Pollaczek-Khinchine formula with deterministic service (Kleinrock 1975, eq. 5.105).
    """
    service = np.asarray(service_s, dtype=float)
    rho = np.asarray(arrival_rps, dtype=float) * service
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rho < 1.0, rho * service / (2.0 * (1.0 - np.minimum(rho, 0.999999))), np.inf)


def decode_phase_s(arrival_rps, prefill_s, step_s, step_full_s, slots, output_tokens, chunks):
    """A request's decode phase under continuous batching at arrival rate lambda: D = O s(m) / (1 - lambda
    (p - c s(m))+), m = lambda D the others decoding (at most slots - 1), s(m) linear from step_s (m = 0) to
    step_full_s (m = slots - 1); inf where the prefills leave no time to decode.

    Each prefill's c chunk steps also advance every running sequence, so only (p - c s)+ of its time stalls them.
    The least fixed point in closed form: with m below the cap and a stall, a quadratic in D
    (lambda^2 c k D^2 + (1 - lambda p + lambda c s1 - O k lambda) D - O s1 = 0, k the step's slope); without a
    stall D = O s1 / (1 - O k lambda); at the cap D = O sF / (1 - lambda (p - c sF)+).
    Source: Orca (Yu et al. 2022), Sarathi-Serve chunked prefill (Agrawal et al. 2024), Little's law (1961).
    """
    lam, p = np.asarray(arrival_rps, dtype=float), np.asarray(prefill_s, dtype=float)
    s1, sf = np.asarray(step_s, dtype=float), np.asarray(step_full_s, dtype=float)
    slots = np.asarray(slots, dtype=float)
    cap = np.where(slots > 1.0, slots - 1.0, np.inf)   # one slot: no others, the step stays step_s
    k = np.where(slots > 1.0, (sf - s1) / np.where(slots > 1.0, slots - 1.0, 1.0), 0.0)
    out, c = np.asarray(output_tokens, dtype=float), np.asarray(chunks, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        quad_a, quad_b = lam**2 * c * k, 1.0 - lam * p + lam * c * s1 - out * k * lam
        root = np.sqrt(quad_b**2 + 4.0 * quad_a * out * s1)
        stall = np.where(quad_b + root > 0.0, 2.0 * out * s1 / (quad_b + root), np.inf)
        no_stall = np.where(1.0 - out * k * lam > 0.0, out * s1 / (1.0 - out * k * lam), np.inf)
        left_full = 1.0 - lam * np.maximum(p - c * sf, 0.0)
        full = np.where(left_full > 0.0, out * sf / left_full, np.inf)

        def below_cap(d, stalls):
            step = s1 + k * lam * d
            return np.isfinite(d) & (lam * d < cap) & ((p - c * step > 0.0) == stalls)

        return np.minimum(np.minimum(np.where(below_cap(stall, True), stall, np.inf),
                                     np.where(below_cap(no_stall, False), no_stall, np.inf)),
                          np.where(lam * full >= cap, full, np.inf))


def batching_state(arrival_rps, slots, prefill_s, step_s, step_full_s, output_tokens, chunks, overhead_s=0.0,
                   output_cv=OUTPUT_LENGTH_CV, seen_fraction=1.0):
    """Mean behaviour of an LLM replica at arrival rate lambda (arrays broadcast): dict of decode_s, itl_s,
    ttft_s (overhead + prefill queueing + step wait + prefill, before any slot wait), holding_s (a slot's
    time: the TTFT's engine part + decode), utilization (of the slots), holding_cv2 (from the output-length CV).

    A new request queues behind other prefills (M/D/1) and, when others are decoding, waits out the running
    step (half a step) and shares its own prefill's step with their decodes (one more): 1.5 token gaps, times
    the chance others decode, min(1, seen_fraction x lambda D) (Poisson arrivals see the time average: 1; in a
    closed loop of C clients an arrival sees C - 1 of them, seen_fraction (C - 1) / C).
    The holding time's variance is (cv x D)^2: the decode phase scales with the output length.
    Source: Pollaczek-Khinchine and step residual (Kleinrock 1975, 5.2); arrival theorem (Lavenberg & Reiser 1980).
    """
    decode = decode_phase_s(arrival_rps, prefill_s, step_s, step_full_s, slots, output_tokens, chunks)
    itl = decode / np.asarray(output_tokens, dtype=float)
    with np.errstate(invalid="ignore"):
        others = np.minimum(np.asarray(seen_fraction, dtype=float) * np.asarray(arrival_rps, dtype=float) * decode,
                            1.0)
    others = np.where(np.isnan(others), 1.0, others)   # 0 x inf: no rate, no decode
    engine_wait = md1_mean_wait_s(arrival_rps, prefill_s) + 1.5 * itl * others
    holding = engine_wait + np.asarray(prefill_s, dtype=float) + decode
    with np.errstate(invalid="ignore", divide="ignore"):
        cv2 = np.where(np.isfinite(holding), (np.asarray(output_cv, dtype=float) * decode / holding) ** 2, 1.0)
        utilization = np.asarray(arrival_rps, dtype=float) * holding / np.asarray(slots, dtype=float)
    return {"decode_s": decode, "itl_s": itl,
            "ttft_s": np.asarray(overhead_s, dtype=float) + engine_wait + np.asarray(prefill_s, dtype=float),
            "holding_s": holding, "utilization": np.where(np.isnan(utilization), np.inf, utilization),
            "holding_cv2": cv2}


def batching_latency_quantile_s(arrival_rps, slots, prefill_s, step_s, step_full_s, output_tokens, chunks,
                                overhead_s=0.0, output_cv=OUTPUT_LENGTH_CV, quantile=0.99, fanout=1):
    """Quantile q of a request's latency (arrival to last token) on an LLM replica at arrival rate lambda:
    the M/G/c slot wait's q^(1/F) quantile + ttft + decode; inf when the replica cannot keep up.

    Source: mgc_wait_quantile_s (Allen-Cunneen) on batching_state; per-shard quantile (Dean & Barroso 2013).
    """
    state = batching_state(arrival_rps, slots, prefill_s, step_s, step_full_s, output_tokens, chunks,
                           overhead_s, output_cv)
    wait = mgc_wait_quantile_s(slots, arrival_rps, state["holding_s"], state["holding_cv2"],
                               per_shard_quantile(quantile, fanout))
    total = wait + state["ttft_s"] + state["decode_s"]
    return np.where(np.isfinite(state["holding_s"]), total, np.inf)


def batching_saturation_rps(slots, prefill_s, step_s, step_full_s, output_tokens, chunks):
    """Largest arrival rate an LLM replica sustains: where its slots are all held (utilization 1), by bisection.

    Source: batching_state at utilization 1 (continuous batching at a full batch; Little's law).
    """
    p = np.asarray(prefill_s, dtype=float)
    high = np.broadcast_to(1.0 / p, np.broadcast_shapes(np.shape(slots), p.shape, np.shape(step_s),
                                                       np.shape(step_full_s), np.shape(output_tokens),
                                                       np.shape(chunks))).copy()
    low = np.zeros_like(high)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        util = batching_state(mid, slots, prefill_s, step_s, step_full_s, output_tokens, chunks)["utilization"]
        ok = util < 1.0
        low, high = np.where(ok, mid, low), np.where(ok, high, mid)
    return low


def batching_capacity_rps(time_left_s, slots, prefill_s, step_s, step_full_s, output_tokens, chunks,
                          overhead_s=0.0, output_cv=OUTPUT_LENGTH_CV, quantile=0.99, fanout=1, saturation_rps=None):
    """Largest arrival rate whose latency quantile fits `time_left_s` (the SLO less the RTT); 0 when even an
    idle replica is too slow. The one capacity law of LLM replicas (candidates, verify and estimate call it).

    `saturation_rps` (batching_saturation_rps of the same replicas, when the caller has it) saves its bisection.
    Source: batching_latency_quantile_s solved for lambda by bisection (it grows with lambda).
    """
    args = (slots, prefill_s, step_s, step_full_s, output_tokens, chunks)
    high = np.array(batching_saturation_rps(*args) if saturation_rps is None else saturation_rps, dtype=float)
    high = high + 0.0 * np.asarray(time_left_s, dtype=float)
    low = np.zeros_like(high)
    budget = np.asarray(time_left_s, dtype=float)
    idle_ok = batching_latency_quantile_s(0.0, *args, overhead_s, output_cv, quantile, fanout) <= budget
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        ok = batching_latency_quantile_s(mid, *args, overhead_s, output_cv, quantile, fanout) <= budget
        low, high = np.where(ok, mid, low), np.where(ok, high, mid)
    return np.where(idle_ok, low, 0.0)


def closed_loop(concurrency, slots, prefill_s, step_s, step_full_s, output_tokens, chunks, overhead_s=0.0):
    """An LLM replica under `concurrency` clients that each send the next request when the last ends (how
    serving benchmarks load it): dict of rps, ttft_s, itl_s, latency_s, output_tokens_per_s, in_slots.

    Throughput X solves X (overhead + holding(X)) = C while C fits the slots, else X holding(X) = slots and
    the rest wait for a slot: wait = C / X - overhead - holding (Little's law on the whole loop).
    Source: interactive-system law N = X (R + Z) (Denning & Buzen 1978); batching_state (arrival theorem).
    """
    c = np.asarray(concurrency, dtype=float)
    seen = (c - 1.0) / c   # arrival theorem: an arrival sees the other C - 1 clients
    args = (slots, prefill_s, step_s, step_full_s, output_tokens, chunks)
    high = batching_saturation_rps(*args) * (1.0 + 0.0 * c)
    low = np.zeros_like(high)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        state = batching_state(mid, *args, overhead_s, 0.0, seen)
        in_loop = mid * (np.asarray(overhead_s, dtype=float) + state["holding_s"])
        ok = (in_loop < c) & (state["utilization"] < 1.0)
        low, high = np.where(ok, mid, low), np.where(ok, high, mid)
    state = batching_state(low, *args, overhead_s, 0.0, seen)
    slot_wait = np.maximum(c / low - np.asarray(overhead_s, dtype=float) - state["holding_s"], 0.0)
    ttft = state["ttft_s"] + slot_wait
    out = np.asarray(output_tokens, dtype=float)
    return {"rps": low, "ttft_s": ttft, "itl_s": state["itl_s"], "latency_s": ttft + state["decode_s"],
            "output_tokens_per_s": low * out, "in_slots": low * state["holding_s"]}


def route_capacity_rps(time_left_s, prefill_s, decode_s, shard_rate_rps, fanout, group_scale, batching,
                       overhead_s=0.0, output_cv=OUTPUT_LENGTH_CV, quantile=0.99):
    """Requests/s one replica of each option takes on a route with `time_left_s` (SLO - RTT) for the quantile:
    LLM options (batching["llm"]) by continuous batching (batching_capacity_rps on batching's slots,
    prefill_s, step_s, step_full_s, output_tokens, chunks, and saturation_rps if known); batch servers by
    M/M/1 on the budget left after their prefill_s + decode_s (replica_capacity_rps), times their group
    scale. The one law the candidates' routes and the verifier call.

    Source: batching_capacity_rps (M/G/c slots) and replica_capacity_rps (M/M/1), per-shard q (Dean & Barroso 2013).
    """
    time_left = np.asarray(time_left_s, dtype=float)
    llm = np.asarray(batching["llm"], dtype=bool)
    mm1 = replica_capacity_rps(shard_rate_rps, time_left - np.asarray(prefill_s, dtype=float)
                               - np.asarray(decode_s, dtype=float), quantile, fanout) * np.asarray(group_scale)
    if not llm.any():
        return np.where(llm, 0.0, mm1)
    llm_cap = batching_capacity_rps(time_left, batching["slots"], batching["prefill_s"], batching["step_s"],
                                    batching["step_full_s"], batching["output_tokens"], batching["chunks"],
                                    overhead_s, output_cv, quantile, fanout, batching.get("saturation_rps"))
    return np.where(llm, llm_cap, mm1)
