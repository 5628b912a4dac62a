"""Which C3 term binds first, read from the physics of the chosen configuration (chapter, Table 2).

Training: the ideal step is model FLOPs / (N x peak) (= MFU x step time). The time above it splits into
  compute       compute_s - ideal      (GEMM efficiency below peak, recomputation; on edge devices: the share
                                        of the device peak a training loop does not sustain)
  communication comm + bubble - overlap (TP/PP/DP collectives and the pipeline bubble they cause)
  coordination  sync                   (stragglers, outer synchronization, statistical penalty of groups)
and the largest share binds.
Serving (per route, then demand-weighted per service): the ideal is the request's FLOPs at peak plus the RTT
to the nearest region the population may use (the speed-of-light floor no fleet decision can move). Above it:
  compute       prefill + decode - collectives - ideal FLOP time (memory-bound decode, batching)
  communication collectives inside the service time (TP AllReduce, embedding all-to-all)
  coordination  p99 queueing at the routed load (LLM replicas: the p99 at that load above the idle latency,
                continuous batching; others M/M/1 with the per-shard quantile 0.99^(1/F) with fan-out) plus the RTT
                added by routing away from the nearest region (placement and routing: Table 2, archetype B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.pipeline.problem import Problem
from fleetopt.candidates.routes import SLO_QUANTILE
from fleetopt.candidates.serving import DLRM_BYTES_PER_VALUE, transformer_params, transformer_replica
from fleetopt.candidates.training import CHECKPOINT_BYTES_PER_PARAM
from fleetopt.plan.explanation import C3Terms, JobExplanation, RouteLatency
from fleetopt.io.schema import DlrmCard, TransformerCard
from fleetopt.physics import queueing, serving
from fleetopt.physics.reliability import (
    checkpoint_overhead_fraction,
    checkpoint_write_time_s,
    failure_loss_fraction,
    group_mtbf_hours,
)
from fleetopt.physics.tails import per_shard_quantile
from fleetopt.physics.training import C3_TERMS
from fleetopt.physics.training_flops import dense_param_count

TERMS = C3_TERMS


def terms(ideal_s: float, compute_s: float, communication_s: float, coordination_s: float) -> C3Terms:
    shares = np.array([compute_s, communication_s, coordination_s])
    return C3Terms(ideal_s=float(ideal_s), compute_s=float(compute_s), communication_s=float(communication_s),
                   coordination_s=float(coordination_s), binding=TERMS[int(np.argmax(shares))])


def job_terms(problem: Problem, c: int) -> JobExplanation:
    """The fleet-law breakdown of training candidate `c`, its binding term and its goodput losses."""
    inst, tc = problem.inst, problem.training
    ideal = float(tc.mfu[c] * tc.step_time_s[c])
    compute_excess = float(tc.compute_s[c]) - ideal
    communication = float(tc.comm_s[c] + tc.bubble_s[c] - tc.overlap_s[c])
    job_name = tc.job_names[tc.job[c]]
    ckpt_loss = fail_loss = 0.0
    job = inst.training[job_name]
    card = inst.models[job.model]
    if isinstance(card, TransformerCard):
        region, accel = inst.regions[tc.region_names[tc.region[c]]], inst.accelerators[tc.accel_names[tc.accel[c]]]
        params = card.params_b * 1e9 if card.params_b else float(dense_param_count(
            card.layers, card.hidden, card.ffn_hidden, card.heads, card.kv_heads or card.heads, card.vocab,
            card.swiglu))
        delta = checkpoint_write_time_s(params * CHECKPOINT_BYTES_PER_PARAM, region.storage_gb_s * 1e9)
        mtbf_s = group_mtbf_hours(accel.mtbf_hours, tc.sync_group[c] * tc.tp[c] * tc.pp[c]) * 3600.0
        ckpt_loss = float(checkpoint_overhead_fraction(delta, tc.checkpoint_interval_s[c]))
        fail_loss = float(failure_loss_fraction(tc.checkpoint_interval_s[c], job.checkpoint_restart_min * 60.0,
                                                mtbf_s))
    return JobExplanation(
        job=job_name, compute_s=float(tc.compute_s[c]), comm_s=float(tc.comm_s[c]), bubble_s=float(tc.bubble_s[c]),
        overlap_s=float(tc.overlap_s[c]), sync_s=float(tc.sync_s[c]), step_time_s=float(tc.step_time_s[c]),
        terms=terms(ideal, compute_excess, communication, float(tc.sync_s[c])), goodput=float(tc.goodput[c]),
        checkpoint_loss=ckpt_loss, failure_loss=fail_loss)


def nearest_rtt_ms(problem: Problem, population: str) -> float:
    """Least RTT from a population to a datacenter region it may be served in."""
    inst = problem.inst
    pop = inst.populations[population]
    rtts = [rtt for r, rtt in pop.rtt_ms.items() if r in inst.regions and inst.regions[r].kind == "datacenter"
            and (pop.allowed_jurisdictions is None or inst.regions[r].jurisdiction in pop.allowed_jurisdictions)]
    return float(min(rtts)) if rtts else 0.0


def _service_physics(problem: Problem, o: int) -> dict[str, float]:
    """Per request on option `o`: ideal FLOP time, collective time in the service, fan-out F, shard group scale."""
    inst, sc = problem.inst, problem.serving
    sname = sc.service_names[sc.service[o]]
    svc, region = inst.serving[sname], inst.regions[sc.region_names[sc.region[o]]]
    acc = inst.accelerators[sc.accel_names[sc.accel[o]]]
    card = inst.models[svc.model]
    gpus, batch = float(sc.gpus_per_replica[o]), float(sc.batch[o])
    precision = "fp8" if sc.precision[o] else "bf16"
    peak = float(serving.peak_flops_per_s(acc.peak_tflops, precision, acc.fp8_tflops or np.nan))
    if isinstance(card, DlrmCard):
        fanout = float(serving.dlrm_fanout(gpus, svc.fanout, card.lookups_per_sample))
        collective = serving.dlrm_shard_step_s(batch, svc.items_per_request, card.lookups_per_sample,
                                               card.embedding_dim, card.gflops_per_sample, fanout, region.nic_gb_s,
                                               region.net_latency_us, acc.peak_tflops,
                                               DLRM_BYTES_PER_VALUE)["all_to_all_s"]
        flops = svc.items_per_request * card.gflops_per_sample * 1e9
        return {"ideal": flops / (gpus * peak), "collective": float(collective), "fanout": fanout,
                "scale": gpus / fanout}
    if isinstance(card, TransformerCard):
        params = transformer_params(card)
        context = serving.mean_decode_context_tokens(svc.prompt_tokens, svc.output_tokens)
        link = acc.nvlink_gb_s if acc.nvlink_gb_s > 0 else acc.pcie_gb_s
        tp = float(sc.tp[o])
        flops = (serving.prefill_flops(params, card.layers, card.hidden, svc.prompt_tokens, 1)
                 + svc.output_tokens * serving.decode_step_flops(params, card.layers, card.hidden, context, 1))
        # a request's own prefill and its (idle, one-sequence) decode steps each carry AllReduces
        collective = float(serving.serving_allreduce_s(svc.prompt_tokens, card.hidden, card.layers, tp, link)
                           + svc.output_tokens * serving.serving_allreduce_s(1, card.hidden, card.layers, tp, link))
        rep = transformer_replica(card, svc, acc, tp, precision, batch)
        batching = (batch, rep["engine_prefill_s"], rep["step_s"], rep["step_full_s"], svc.output_tokens,
                    rep["chunks"])
        return {"ideal": float(flops) / (tp * peak), "collective": float(collective), "fanout": 1.0, "scale": 1.0,
                "batching": batching}
    flops = card.gflops_per_sample * 1e9
    return {"ideal": flops / peak, "collective": 0.0, "fanout": 1.0, "scale": 1.0}


@dataclass
class RouteLoads:
    """The plan's loads, made once for every service's routes (per service they cost the whole table: x100's
    600 services took 6.7 s)."""

    per_replica: np.ndarray   # [options] requests/s on the option's busiest replica, in its busiest slice
    flows: np.ndarray         # [routes] the route's requests/s in its busiest slice
    service: np.ndarray       # [routes] the route's service


def route_loads(problem: Problem, x: np.ndarray) -> RouteLoads:
    sc, form = problem.serving, problem.form
    S = 1 if form.time is None else form.time.slices.n
    replicas = np.round(x[form.blocks["replicas"].cols]).reshape(len(sc), S)
    flows_by_slice = x[form.blocks["flow"].cols].reshape(-1, S)
    load = np.zeros((len(sc), S))
    np.add.at(load, sc.route_option, flows_by_slice)
    # over slices a route is argued at its busiest: its peak requests/s, its option's busiest replica
    return RouteLoads((load / np.maximum(replicas, 1.0)).max(axis=1), flows_by_slice.max(axis=1),
                      sc.service[sc.route_option])


def route_latencies(problem: Problem, service: int, loads: RouteLoads) -> list[RouteLatency]:
    """The latency budget of every route the plan uses for `service`: RTT, prefill, decode, queueing. `loads`:
    route_loads(problem, x) of the plan, made once for every service."""
    inst, sc = problem.inst, problem.serving
    per_replica_load, flows = loads.per_replica, loads.flows
    sname = sc.service_names[service]
    svc = inst.serving[sname]
    out = []
    physics: dict[int, dict] = {}   # per option: its routes share it
    for i in np.flatnonzero((flows > 1e-9) & (loads.service == service)):
        o = int(sc.route_option[i])
        phys = physics[o] = physics.get(o) or _service_physics(problem, o)
        per_replica = per_replica_load[o]
        # each request loads F of a group's S shards: per-shard rate and load are the group's / (S / F)
        prefill, decode = float(sc.prefill_s[o]), float(sc.decode_s[o])
        if "batching" in phys:   # continuous batching: the p99 at this load above the idle latency
            queue = float(queueing.batching_latency_quantile_s(
                per_replica, *phys["batching"], serving.REQUEST_OVERHEAD_S, queueing.OUTPUT_LENGTH_CV,
                SLO_QUANTILE)) - prefill - decode
        else:
            queue = float(queueing.mm1_sojourn_quantile_s(sc.service_rate_rps[o] / phys["scale"],
                                                          per_replica / phys["scale"],
                                                          per_shard_quantile(SLO_QUANTILE, phys["fanout"])))
        population = sc.population_names[sc.route_population[i]]
        rtt, nearest = float(sc.route_rtt_ms[i]), nearest_rtt_ms(problem, population)
        compute = prefill + decode - phys["collective"] - phys["ideal"]
        out.append(RouteLatency(
            population=population, region=sc.region_names[sc.region[o]], rps=float(flows[i]), slo_ms=svc.slo_p99_ms,
            rtt_ms=rtt, nearest_rtt_ms=nearest, prefill_ms=prefill * 1e3, decode_ms=decode * 1e3,
            queueing_ms=queue * 1e3, all_to_all_ms=phys["collective"] * 1e3,
            slack_ms=svc.slo_p99_ms - rtt - (prefill + decode + queue) * 1e3,
            terms=terms(phys["ideal"] + nearest / 1e3, compute, phys["collective"],
                        queue + (rtt - nearest) / 1e3)))
    return out


def service_terms(routes: list[RouteLatency]) -> C3Terms:
    """Demand-weighted mean of the routes' terms."""
    w = np.array([r.rps for r in routes])
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / max(len(w), 1))

    def mean(attr: str) -> float:
        return float(sum(wi * getattr(r.terms, attr) for wi, r in zip(w, routes)))

    return terms(mean("ideal_s"), mean("compute_s"), mean("communication_s"), mean("coordination_s"))
