"""Serving decisions re-checked from the physics: each replica group's configuration and memory fit, each
route's residency, RTT and p99 capacity, the demand of every (service, population) and the load on every replica
option (families config, memory, route, demand, replica_capacity, reported).

Modelling rules re-derived here (they restate fleetopt/candidates/serving.py):
- transformer replica: tp GPUs of one node (tp <= gpus_per_node, tp divides heads and kv_heads); fp8 weights
  only when the service allows fp8 and the accelerator has an FP8 peak; KV cache in bf16; the batch must fit
  (physics.serving.max_batch_that_fits at the mean decode context); physics.serving.llm_replica over the TP
  link (NVLink, else PCIe); the batch is the slot count; prefill = request overhead + prefill, decode = output x
  a one-sequence step (idle latency); service rate = queueing.batching_saturation_rps.
- dlrm replica: tp 1, bf16; S = embedding_shard_count GPUs; fan-out F = min(fanout, S) when fanout > 1, else
  shards_touched(S, lookups); per visit 1/F of the all-to-all bytes (4 B values, items per request) over the
  region's NIC and 1/F of the dense FLOPs at PREFILL_FLOPS_EFFICIENCY of peak; step = net latency + batch x
  visit (physics.serving.dlrm_fanout and dlrm_shard_step_s, the laws the candidates use; the verifier may import
  physics, not candidates); shard rate = batch / step; each shard meets 0.99^(1/F); group capacity = shard
  capacity x S / F.
  The step is the service time (prefill); decode 0.
- cnn replica: one GPU, tp 1; weights must fit 90% of HBM; step = max(batch FLOPs / (peak x
  PREFILL_FLOPS_EFFICIENCY), weight bytes / (HBM rate x HBM_BANDWIDTH_EFFICIENCY)); rate = batch / step.
- a route (population -> option) needs a datacenter region in the population's allowed jurisdictions with an
  RTT from it, and a positive p99 latency budget SLO - RTT - prefill - decode; its capacity per replica is
  queueing.route_capacity_rps (continuous batching for LLM replicas, M/M/1 x the group scale otherwise), the
  law the candidates' routes use.
- replica_capacity: sum over routes of rps x (1 + headroom) / capacity <= replicas.
- route_needs_replica: a route's rps <= min(demand, capacity / (1 + headroom)) x replicas of its option (traffic
  only where a replica runs; implied by replica_capacity for whole replicas, checked on its own as the solver
  sees it).
- per replica over the horizon: power at TDP x PUE, energy, carbon (mean intensity, + embodied when the policy
  includes it), cost = GPUs x price x hours (+ energy x energy price when the price excludes energy): the law
  physics.economics.horizon_charges, shared with the candidates.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from fleetopt.io.schema import Accelerator, CnnCard, DlrmCard, Instance, TransformerCard
from fleetopt.physics import queueing, serving
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.reliability import replicas_down_fraction
from fleetopt.physics.serving import HBM_BANDWIDTH_EFFICIENCY, PREFILL_FLOPS_EFFICIENCY
from fleetopt.physics.training_flops import dense_param_count
from fleetopt.plan import Plan
from fleetopt.verify.draw import Draw
from fleetopt.verify.report import ABS_TOL, REL_TOL, Report

SLO_QUANTILE = 0.99
DLRM_BYTES_PER_VALUE = 4
HBM_USABLE_FRACTION = 0.9
BATCHING_FIELDS = ("llm", "slots", "prefill_s", "step_s", "step_full_s", "output_tokens", "chunks")
CONFIG = re.compile(r"^tp(\d+)-(bf16|fp8)-b(\d+)(-spot)?$")


@dataclass(frozen=True)
class Replica:
    """One replica of a serving option, from the physics."""

    gpus: int
    shard_rate_rps: float
    fanout: float
    group_scale: float
    prefill_s: float
    decode_s: float
    batching: dict  # continuous-batching fields for queueing.route_capacity_rps (llm False: a batch server)
    mw: float
    carbon_t: float
    cost_usd: float
    kwh: float
    up: float = 1.0       # share of replicas up: 1 - preemptions x GPUs x replacement hours on spot, else 1


def _params(card: TransformerCard) -> float:
    if card.params_b is not None:
        return card.params_b * 1e9
    return float(dense_param_count(card.layers, card.hidden, card.ffn_hidden, card.heads,
                                   card.kv_heads or card.heads, card.vocab, card.swiglu))


def replica_physics(inst: Instance, sname: str, rname: str, aname: str, tp: int, precision: str,
                    batch: int, spot: bool = False) -> tuple[Replica | None, list[tuple[str, str, float, str]]]:
    """A replica's physics and the rules it breaks as (family, message, amount, units); None when it cannot be
    computed (unknown names, or a configuration the physics does not model). On spot (a config ending -spot)
    the spot price, and the share of replicas up after preemptions (physics.reliability.replicas_down_fraction,
    Little's law), which scales every route's capacity."""
    svc, region = inst.serving[sname], inst.regions.get(rname)
    acc = inst.accelerators.get(aname)
    broken: list[tuple[str, str, float, str]] = []
    if region is None or acc is None:
        return None, [("config", f"unknown {'region' if region is None else 'accelerator'} "
                                 f"'{rname if region is None else aname}'", 1, "decisions")]
    if region.kind != "datacenter":
        return None, [("config", f"region '{rname}' is an edge region; replicas run in datacenters", 1, "decisions")]
    if aname not in region.gpus:
        broken.append(("config", f"region '{rname}' does not stock '{aname}'", 1, "decisions"))
    if svc.allowed_accelerators is not None and aname not in svc.allowed_accelerators:
        broken.append(("config", f"'{aname}' is not in the service's allowed_accelerators", 1, "decisions"))
    if batch < 1 or tp < 1:
        return None, broken + [("config", "tp and batch must be at least 1", 1, "decisions")]
    if precision == "fp8" and not (svc.allow_fp8 and acc.fp8_tflops is not None):
        broken.append(("config", "fp8 weights need allow_fp8 on the service and an FP8 peak on the accelerator",
                       1, "decisions"))
    card = inst.models[svc.model]
    if isinstance(card, TransformerCard):
        rep, more = _transformer(card, svc, acc, tp, precision, batch)
    elif isinstance(card, DlrmCard):
        rep, more = _dlrm(card, svc, acc, region, tp, precision, batch)
    else:
        rep, more = _cnn(card, acc, tp, precision, batch)
    broken += more
    if rep is None:
        return None, broken
    stock = region.gpus.get(aname)
    if spot and (stock is None or stock.spot is None):
        return None, broken + [("config", f"region '{rname}' has no spot stock of '{aname}'", 1, "decisions")]
    up = 1.0 - float(replicas_down_fraction(stock.spot.preemptions_per_gpu_hour, rep["gpus"],
                                            stock.spot.replacement_min / 60.0)) if spot else 1.0
    hours = inst.horizon_hours
    charges = horizon_charges(
        rep["gpus"], hours, tdp_w=acc.tdp_w, pue=region.pue, carbon_g_per_kwh=region.mean_carbon_g_per_kwh,
        usd_per_gpu_hour=(stock.spot.usd_per_hour if spot else stock.usd_per_hour) if stock else 0.0,
        energy_usd_per_kwh=region.energy_usd_per_kwh,
        price_includes_energy=stock is None or stock.includes_energy, include_embodied=inst.policy.include_embodied,
        embodied_kgco2e=acc.embodied_kgco2e, lifetime_hours=acc.lifetime_hours)
    power_w, kwh, carbon, cost = (float(charges[k]) for k in ("power_w", "energy_kwh", "carbon_t", "cost_usd"))
    batching = rep.get("batching", {"llm": False, "slots": 1, "prefill_s": 1.0, "step_s": 1.0,
                                    "step_full_s": 1.0, "output_tokens": 1, "chunks": 1.0})
    return Replica(int(rep["gpus"]), rep["shard_rate"], rep["fanout"], rep["scale"], rep["prefill"],
                   rep["decode"], batching, power_w / 1e6, carbon, cost, kwh, up), broken


def check_config_name(report: Report, key: tuple, group) -> None:
    """The replica group's config name must be the one its tp, precision, batch and class spell."""
    report.check("config")
    if group.config != config_name(group):
        report.add("config", key, 1, "decisions", f"config '{group.config}' disagrees with tp {group.tp}, "
                                                  f"{group.precision}, batch {group.batch}, "
                                                  f"{group.procurement or 'on-demand'}")


def replica_lookup(inst: Instance, report: Report):
    """physics(service, option_key, where): a replica's physics once per option (None when its config does not
    parse or its physics breaks; each problem reported once, at `where`)."""
    cache: dict[tuple, tuple] = {}

    def physics(sname, option_key, where):
        if option_key not in cache:
            _, rname, aname, config = option_key
            parsed = parse_config(config)
            cache[option_key] = (None, [("config", f"config '{config}' is not tpN-bf16|fp8-bB", 1, "decisions")]) \
                if parsed is None else replica_physics(inst, sname, rname, aname, *parsed)
            for family, message, amount, units in cache[option_key][1]:
                report.add(family, where, amount, units, message)
        return cache[option_key][0]
    return physics


def _fp8(acc: Accelerator) -> float:
    return acc.fp8_tflops if acc.fp8_tflops is not None else math.nan


def _transformer(card: TransformerCard, svc, acc: Accelerator, tp: int, precision: str, batch: int):
    kv = card.kv_heads or card.heads
    broken = []
    if tp > acc.gpus_per_node or card.heads % tp or kv % tp:
        broken.append(("config", f"tp {tp} must fit one node ({acc.gpus_per_node} GPUs) and divide the "
                                 f"{card.heads} heads and {kv} kv heads", 1, "decisions"))
    params = _params(card)
    context = float(serving.mean_decode_context_tokens(svc.prompt_tokens, svc.output_tokens))
    kv_per_token = serving.kv_cache_bytes_per_token(card.layers, card.hidden, card.heads, kv)
    fits = float(serving.max_batch_that_fits(acc.hbm_gb, serving.weight_bytes(params, precision), kv_per_token,
                                             context, tp))
    if batch > fits:
        broken.append(("memory", f"batch {batch} does not fit beside the weights in HBM (at most {fits:.0f})",
                       batch - fits, "sequences"))
    link = acc.nvlink_gb_s if acc.nvlink_gb_s > 0 else acc.pcie_gb_s
    rep = serving.llm_replica(params, card.layers, card.hidden, card.heads, kv, svc.prompt_tokens,
                              svc.output_tokens, batch, tp, acc.peak_tflops, acc.hbm_gb, acc.hbm_gb_s, link,
                              precision, _fp8(acc))
    batching = {"llm": True, "slots": batch, "prefill_s": float(rep["prefill_s"]), "step_s": float(rep["step_s"]),
                "step_full_s": float(rep["step_full_s"]), "output_tokens": svc.output_tokens,
                "chunks": float(rep["chunks"])}
    rate = float(queueing.batching_saturation_rps(batch, rep["prefill_s"], rep["step_s"], rep["step_full_s"],
                                                  svc.output_tokens, rep["chunks"]))
    return {"gpus": tp, "shard_rate": rate, "fanout": 1.0, "scale": 1.0,
            "prefill": float(rep["prefill_s"]) + serving.REQUEST_OVERHEAD_S,
            "decode": svc.output_tokens * float(rep["step_s"]), "batching": batching}, broken


def _dlrm(card: DlrmCard, svc, acc: Accelerator, region, tp: int, precision: str, batch: int):
    broken = []
    if tp != 1 or precision != "bf16":
        broken.append(("config", "a DLRM shard group is written tp1-bf16", 1, "decisions"))
    shards = float(serving.embedding_shard_count(card.embedding_tables_gb * 1e9, acc.hbm_gb))
    fanout = float(serving.dlrm_fanout(shards, svc.fanout, card.lookups_per_sample))
    step = float(serving.dlrm_shard_step_s(batch, svc.items_per_request, card.lookups_per_sample,
                                           card.embedding_dim, card.gflops_per_sample, fanout, region.nic_gb_s,
                                           region.net_latency_us, acc.peak_tflops, DLRM_BYTES_PER_VALUE)["step_s"])
    return {"gpus": int(shards), "shard_rate": batch / step, "fanout": fanout, "scale": shards / fanout,
            "prefill": step, "decode": 0.0}, broken


def _cnn(card: CnnCard, acc: Accelerator, tp: int, precision: str, batch: int):
    broken = []
    if tp != 1:
        broken.append(("config", "a CNN replica is one GPU (tp1)", 1, "decisions"))
    weights = float(serving.weight_bytes(card.params_m * 1e6, precision))
    usable = acc.hbm_gb * 1e9 * HBM_USABLE_FRACTION
    if weights > usable:
        broken.append(("memory", "the weights do not fit in HBM", (weights - usable) / 1e9, "GB"))
    flops_per_s = float(serving.peak_flops_per_s(acc.peak_tflops, precision, _fp8(acc))) * PREFILL_FLOPS_EFFICIENCY
    step = max(batch * card.gflops_per_sample * 1e9 / flops_per_s,
               weights / (acc.hbm_gb_s * 1e9 * HBM_BANDWIDTH_EFFICIENCY))
    return {"gpus": 1, "shard_rate": batch / step, "fanout": 1.0, "scale": 1.0, "prefill": step,
            "decode": 0.0}, broken


def parse_config(config: str) -> tuple[int, str, int] | None:
    found = CONFIG.match(config)
    return (int(found.group(1)), found.group(2), int(found.group(3)), bool(found.group(4))) if found else None


def config_name(group) -> str:
    """The config a replica group's fields give: tpN-bf16|fp8-bB, -spot on spot."""
    return f"tp{group.tp}-{group.precision}-b{group.batch}" + ("-spot" if group.procurement == "spot" else "")


def verify_serving(inst: Instance, plan: Plan, report: Report) -> tuple[list[Draw], dict]:
    """Check replicas, routes, demand and replica capacity. Returns the draws of the replica groups and the
    routed requests/s per (service, population, region) for the monitoring checks."""
    draws: list[Draw] = []
    routed: dict[tuple[str, str, str], float] = defaultdict(float)
    physics = replica_lookup(inst, report)

    for sname in plan.serving:
        report.check("config")
        if sname not in inst.serving:
            report.add("config", (sname,), 1, "decisions", "the plan serves a service the instance does not have")
    replicas: dict[tuple, int] = defaultdict(int)
    load: dict[tuple, float] = defaultdict(float)
    route_loads: list[tuple[tuple, float, float]] = []  # (route key, rps, capacity per replica after headroom)
    pending: list[tuple] = []   # routes whose capacity is left to check: _settle_routes
    for sname, dec in plan.serving.items():
        if sname not in inst.serving:
            continue
        for group in dec.replicas:
            key = (sname, group.region, group.accelerator, group.config)
            check_config_name(report, key, group)
            if group.replicas < 0:
                report.add("config", key, -group.replicas, "replicas", "a negative number of replicas")
                continue
            report.check("memory")
            rep = physics(sname, key, key)
            if rep is None:
                continue
            replicas[key] += group.replicas
            n = group.replicas
            for label, stated, value, units in [
                    ("gpus", group.gpus, n * rep.gpus, "GPUs"), ("cost_usd", group.cost_usd, n * rep.cost_usd, "USD"),
                    ("carbon_t", group.carbon_t, n * rep.carbon_t, "t CO2e"),
                    ("power_mw", group.power_mw, n * rep.mw, "MW")]:
                report.stated(key, label, stated, value, units)
            draws.append(Draw(f"service '{sname}' replicas", group.region, group.accelerator, n * rep.gpus,
                              n * rep.mw, n * rep.carbon_t, n * rep.cost_usd, n * rep.kwh / 1e3, service=sname,
                              spot=group.config.endswith("-spot")))
        for route in dec.routing:
            _check_route(inst, sname, route, report, physics, routed, pending)
    _settle_routes(pending, report, load, route_loads)
    _check_demand(inst, plan, routed, report)
    for key, rps, per_replica in route_loads:
        demand = inst.serving[key[0]].demand_rps.get(key[4], 0.0)
        report.upper("route_needs_replica", key, rps, min(demand, per_replica) * replicas.get(key[:4], 0),
                     "requests/s", "a route carries traffic beyond what the replicas of its option may take")
    for key in sorted(set(replicas) | set(load)):
        report.upper("replica_capacity", key, load.get(key, 0.0), replicas.get(key, 0), "replicas",
                     "routed load with headroom needs more replicas than the plan buys")
    return draws, dict(routed)


def _check_route(inst: Instance, sname: str, route, report: Report, physics, routed, pending) -> None:
    """A route's population, residency and RTT; its capacity is left in `pending` for _settle_routes."""
    svc = inst.serving[sname]
    option = (sname, route.region, route.accelerator, route.config)
    key = option + (route.population,)
    report.check("route")
    if not (math.isfinite(route.rps) and route.rps >= 0):
        report.add("config", key, abs(route.rps) if math.isfinite(route.rps) else math.inf, "requests/s",
                   "a route's requests/s must be a finite number >= 0")
        return
    pop = inst.populations.get(route.population)
    if pop is None:
        report.add("route", key, route.rps, "requests/s", f"unknown population '{route.population}'")
        return
    routed[(sname, route.population, route.region)] += route.rps
    region = inst.regions.get(route.region)
    rtt = pop.rtt_ms.get(route.region)
    if region is not None and pop.allowed_jurisdictions is not None \
            and region.jurisdiction not in pop.allowed_jurisdictions:
        report.add("route", key, route.rps, "requests/s", f"'{route.region}' ({region.jurisdiction}) is outside the "
                                                          "population's allowed jurisdictions")
    if rtt is None:
        report.add("route", key, route.rps, "requests/s", f"the population has no RTT to '{route.region}'")
        rtt = 0.0
    rep = physics(sname, option, key)
    if rep is None:
        return
    pending.append((key, option, route, svc, rtt, rep))


def _settle_routes(pending: list[tuple], report: Report, load, route_loads) -> None:
    """Each pending route's p99 budget and capacity per replica, the capacities in one vectorized call of the
    same law (x100's 2,394 routes one by one: 25 of verify's 32 s), then their checks in the routes' order."""
    if not pending:
        return
    reps = [p[5] for p in pending]
    time_left = np.array([(p[3].slo_p99_ms - p[4]) / 1e3 for p in pending])
    batching = {field: np.array([r.batching[field] for r in reps]) for field in BATCHING_FIELDS}
    capacities = queueing.route_capacity_rps(
        time_left, np.array([r.prefill_s for r in reps]), np.array([r.decode_s for r in reps]),
        np.array([r.shard_rate_rps for r in reps]), np.array([r.fanout for r in reps]),
        np.array([r.group_scale for r in reps]), batching, serving.REQUEST_OVERHEAD_S, queueing.OUTPUT_LENGTH_CV,
        SLO_QUANTILE) * np.array([r.up for r in reps])
    for (key, option, route, svc, rtt, rep), capacity in zip(pending, capacities.tolist()):
        budget = float(queueing.latency_budget_s(svc.slo_p99_ms, rtt, rep.prefill_s, rep.decode_s))
        if budget <= 0 or capacity <= 0:
            short_ms = max(-budget * 1e3, 0.0)
            report.add("route", key, short_ms, "ms", f"the p99 SLO of {svc.slo_p99_ms:g} ms cannot be met: RTT "
                       f"{rtt:g} ms + service {1e3 * (rep.prefill_s + rep.decode_s):.6g} ms + queueing")
            if route.rps > 0:
                load[option] += math.inf
            continue
        report.stated(key, "rtt_ms", route.rtt_ms, rtt, "ms")
        report.stated(key, "capacity_rps_per_replica", route.capacity_rps_per_replica, capacity, "requests/s")
        load[option] += route.rps * (1.0 + svc.headroom) / capacity
        route_loads.append((key, route.rps, capacity / (1.0 + svc.headroom)))


def _check_demand(inst: Instance, plan: Plan, routed: dict, report: Report) -> None:
    served: dict[tuple[str, str], float] = defaultdict(float)
    for (sname, pname, _), rps in routed.items():
        served[(sname, pname)] += rps
    for sname, svc in inst.serving.items():
        for pname, demand in svc.demand_rps.items():
            if demand <= 0:
                continue
            report.check("demand")
            got = served.get((sname, pname), 0.0)
            if abs(got - demand) > ABS_TOL + REL_TOL * demand:
                report.add("demand", (sname, pname), abs(got - demand), "requests/s",
                           f"routes carry {got:.6g} requests/s of a demand of {demand:.6g}")
    for (sname, pname), got in served.items():
        if inst.serving[sname].demand_rps.get(pname, 0.0) <= 0 and got > ABS_TOL:
            report.check("demand")
            report.add("demand", (sname, pname), got, "requests/s", "routes carry traffic of a population "
                                                                   "without demand for the service")
