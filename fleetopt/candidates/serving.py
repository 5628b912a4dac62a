"""Serving options: every (service, region, accelerator, config) replica the MILP may buy, and its routes.

Modelling choices (the physics lives in fleetopt/physics; this module lays it over the config grid):

- Transformer replica: tp GPUs of one node (tp in 1, 2, 4, 8; tp <= GPUs per node; tp divides heads and
  kv_heads, so weights and KV cache split evenly), weights in bf16 or fp8 (fp8 only when the service allows it
  and the accelerator has an FP8 peak; the KV cache stays bf16), batch from the ladder 1, 4, 16, 64, 256 with
  the first rung above the memory limit replaced by the limit itself (max_batch_that_fits at the mean decode
  context). Parameters: the card's params_b if given, else training_flops.dense_param_count.
  The batch is the replica's slot count under continuous batching. The physics is serving.llm_replica
  (calibrated on NVIDIA NIM H100 benchmarks); prefill_s and decode_s are a request's idle latency (request
  overhead + prefill, output x one-sequence step), service_rate_rps the saturation rate. A route's capacity is
  queueing.route_capacity_rps: the largest Poisson rate whose p99 (slot wait + TTFT + a decode stretched by
  the load's prefills and larger decode batch) fits SLO - RTT.
- DLRM replica: a shard group of embedding_shard_count GPUs holding the tables. One request is one sample.
  It fans out to F shards (the service's fanout, at most the shard count; fanout 1 means "derive it":
  shards_touched by the card's lookups). Each shard is an M/M/1 server; per visit it sends 1/F of the
  request's embedding all-to-all bytes over its NIC (region nic_gb_s) and runs 1/F of the dense FLOPs; a step
  serves `batch` visits plus one network latency (region net_latency_us). Each shard must meet 0.99^(1/F)
  (queueing.replica_capacity_rps with fanout; batch servers stay M/M/1) and each request loads F of the S
  shards, so a group takes S/F
  times one shard's capacity. The service time sits in prefill_s; decode_s is 0.
- CNN replica: one GPU, a batched forward pass at the roofline max(FLOPs / sustained peak, weight bytes / HBM
  bandwidth): compute bound except at tiny batches. The service time sits in prefill_s; decode_s is 0.
- Per replica over the horizon: power at TDP (GPUs x TDP x PUE; a bought replica is assumed busy, an upper
  bound on its draw), energy = that power x horizon, carbon = energy x the region's mean intensity (+ embodied
  if the policy includes it), cost = GPUs x the region's price x horizon (+ energy x the region's energy price
  when the GPU price excludes energy).
- Pruning: configs that cannot meet the SLO even at zero RTT and zero load are dropped; within a (service,
  region, accelerator) only configs no other beats in all of GPUs per replica (fewer), service rate per GPU
  (higher) and prefill + decode latency (lower) are kept.
- Spot (a region's accelerator with a `spot` block): every option there gets a spot twin at the spot price whose
  route capacities are scaled by the share of replicas up, 1 - preemptions per GPU-hour x GPUs per replica x
  replacement hours (physics/reliability.replicas_down_fraction): the headroom that covers the replicas lost
  to preemption until replaced, at the SLO. Twins are pruned apart from on-demand options (their own stock).
- Routes: population u may use an option when the region is a datacenter in u's allowed jurisdictions, u has
  an RTT to it, the latency budget SLO - RTT - prefill - decode is positive and the replica's p99 capacity
  (queueing.route_capacity_rps) is positive. Headroom is left to the formulation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fleetopt.candidates.routes import SLO_QUANTILE, route_dominance_mask, routes_for, take_options
from fleetopt.candidates.tables import SPOT, ServingCandidates
from fleetopt.io.schema import (
    Accelerator,
    CnnCard,
    DlrmCard,
    Instance,
    Region,
    ServingService,
    TransformerCard,
)
from fleetopt.physics import queueing, serving
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.reliability import replicas_down_fraction
from fleetopt.physics.serving import HBM_BANDWIDTH_EFFICIENCY, PREFILL_FLOPS_EFFICIENCY
from fleetopt.physics.tails import per_shard_quantile
from fleetopt.physics.training_flops import dense_param_count

TP_DEGREES = np.array([1, 2, 4, 8])
BATCH_LADDER = np.array([1, 4, 16, 64, 256])
PRECISIONS = np.array(["bf16", "fp8"])  # index = the table's precision code
DLRM_BYTES_PER_VALUE = 4  # fp32 embedding rows on the wire
HBM_USABLE_FRACTION = 0.9  # as in serving.max_batch_that_fits

# Per-option arrays a config builder returns; the queueing fields are kept apart from the table because a
# sharded replica queues per shard (shard_rate_rps, fanout) and scales by shards / fanout.
_CONFIG_FIELDS = ("tp", "precision", "batch", "gpus", "service_rate_rps", "prefill_s", "decode_s",
                  "shard_rate_rps", "fanout", "group_scale", "llm", "slots", "engine_prefill_s", "step_s",
                  "step_full_s", "chunks", "output_tokens")



def transformer_params(card: TransformerCard) -> float:
    """Parameter count: the card's params_b when given (an explicit override), else derived from its shape."""
    if card.params_b is not None:
        return card.params_b * 1e9
    return float(dense_param_count(card.layers, card.hidden, card.ffn_hidden, card.heads,
                                   card.kv_heads or card.heads, card.vocab, card.swiglu))


def _precision_codes(svc: ServingService, acc: Accelerator) -> np.ndarray:
    return np.array([0, 1]) if svc.allow_fp8 and acc.fp8_tflops is not None else np.array([0])


def _tp_link_gb_s(acc: Accelerator) -> float:
    """TP AllReduce bandwidth: NVLink, or PCIe on cards without it."""
    return acc.nvlink_gb_s if acc.nvlink_gb_s > 0 else acc.pcie_gb_s


def _config_table(tp, precision, batch, gpus, service_rate_rps, prefill_s, decode_s, shard_rate_rps=None,
                  fanout=1.0, group_scale=1.0, llm=False, slots=1, engine_prefill_s=1.0, step_s=1.0,
                  step_full_s=1.0, chunks=1.0, output_tokens=1) -> dict[str, np.ndarray]:
    """One dict of equal-length 1-D arrays per config (scalars broadcast); batch servers carry placeholder
    continuous-batching fields (llm False)."""
    shard_rate_rps = service_rate_rps if shard_rate_rps is None else shard_rate_rps
    values = (tp, precision, batch, gpus, service_rate_rps, prefill_s, decode_s, shard_rate_rps, fanout,
              group_scale, llm, slots, engine_prefill_s, step_s, step_full_s, chunks, output_tokens)
    return dict(zip(_CONFIG_FIELDS, np.broadcast_arrays(*(np.asarray(v) for v in values)), strict=True))


def transformer_configs(card: TransformerCard, svc: ServingService, acc: Accelerator,
                        with_rate: bool = True) -> dict[str, np.ndarray]:
    """Every (tp, precision, batch) replica that fits, with its saturation rate and idle latencies (1-D arrays).

    The batch is the replica's slot count (continuous batching); prefill_s is the idle TTFT (request overhead +
    one prompt's prefill), decode_s the idle decode (output x a one-sequence step). Load-dependent latency and
    the slot queue are in the route capacity (queueing.route_capacity_rps), not here. Without `with_rate`
    service_rate_rps is left NaN for the caller to fill (saturation_rates, one call for many tables).
    Source: physics.serving.llm_replica (calibrated roofline) and queueing.batching_saturation_rps.
    """
    kv_heads = card.kv_heads or card.heads
    params = transformer_params(card)
    context = serving.mean_decode_context_tokens(svc.prompt_tokens, svc.output_tokens)
    kv_per_token = serving.kv_cache_bytes_per_token(card.layers, card.hidden, card.heads, kv_heads)
    tp = TP_DEGREES[:, None, None]
    code = _precision_codes(svc, acc)[None, :, None]
    rung = BATCH_LADDER[None, None, :]
    previous_rung = np.concatenate([[0], BATCH_LADDER[:-1]])[None, None, :]
    precision = PRECISIONS[code]
    fits = serving.max_batch_that_fits(acc.hbm_gb, serving.weight_bytes(params, precision), kv_per_token,
                                       context, tp)
    # Keep rungs below the limit and the first rung past it, cut down to the limit.
    keep = ((tp <= acc.gpus_per_node) & (card.heads % tp == 0) & (kv_heads % tp == 0)
            & (fits >= 1) & (previous_rung < fits))
    tp, code, batch = (np.broadcast_to(a, keep.shape)[keep] for a in (tp, code, np.minimum(rung, fits)))
    rep = transformer_replica(card, svc, acc, tp, PRECISIONS[code], batch)
    table = _config_table(tp, code, batch, tp, np.nan, rep["prefill_s"], rep["decode_s"], llm=True, slots=batch,
                          **{k: rep[k] for k in ("engine_prefill_s", "step_s", "step_full_s", "chunks")},
                          output_tokens=svc.output_tokens)
    return saturation_rates([table])[0] if with_rate else table


def saturation_rates(tables: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The tables with service_rate_rps (= shard_rate_rps) set to each LLM option's saturation rate, from one
    vectorized call over all of them (its bisection costs the same for one option or thousands).

    Source: queueing.batching_saturation_rps.
    """
    if not tables:
        return tables
    joined = {k: np.concatenate([t[k] for t in tables]) for k in ("slots", "engine_prefill_s", "step_s",
                                                                  "step_full_s", "output_tokens", "chunks")}
    rate = queueing.batching_saturation_rps(joined["slots"], joined["engine_prefill_s"], joined["step_s"],
                                            joined["step_full_s"], joined["output_tokens"], joined["chunks"])
    parts = np.split(rate, np.cumsum([len(t["slots"]) for t in tables])[:-1])
    return [{**t, "service_rate_rps": part, "shard_rate_rps": part} for t, part in zip(tables, parts, strict=True)]


def transformer_replica(card: TransformerCard, svc: ServingService, acc: Accelerator, tp, precision,
                        batch) -> dict[str, np.ndarray]:
    """The LLM replica physics of (tp, precision, batch) arrays: llm_replica's engine_prefill_s, step_s,
    step_full_s, chunks, and the idle prefill_s (request overhead + prefill) and decode_s (output x step).
    The verifier restates this call (it may import physics, not candidates).

    Source: physics.serving.llm_replica (bf16 KV cache; NVLink, else PCIe, for the TP AllReduce).
    """
    fp8_tflops = acc.fp8_tflops if acc.fp8_tflops is not None else np.nan
    rep = serving.llm_replica(transformer_params(card), card.layers, card.hidden, card.heads,
                              card.kv_heads or card.heads, svc.prompt_tokens, svc.output_tokens, batch, tp,
                              acc.peak_tflops, acc.hbm_gb, acc.hbm_gb_s, _tp_link_gb_s(acc), precision, fp8_tflops)
    return {"engine_prefill_s": rep["prefill_s"], "step_s": rep["step_s"], "step_full_s": rep["step_full_s"],
            "chunks": rep["chunks"], "prefill_s": rep["prefill_s"] + serving.REQUEST_OVERHEAD_S,
            "decode_s": svc.output_tokens * rep["step_s"]}


def dlrm_configs(card: DlrmCard, svc: ServingService, acc: Accelerator,
                 region: Region) -> dict[str, np.ndarray]:
    """Shard-group replicas at each batch rung: tables over S GPUs, each request fanning out to F of them.

    Shard step = net latency + batch x (all-to-all bytes / F / NIC + dense FLOPs / F / sustained peak).
    Source: Naumov et al. 2019 (DLRM all-to-all), Mudigere et al. 2022 (sharded tables), alpha-beta model.
    """
    shards = float(serving.embedding_shard_count(card.embedding_tables_gb * 1e9, acc.hbm_gb))
    fanout = float(serving.dlrm_fanout(shards, svc.fanout, card.lookups_per_sample))
    batch = BATCH_LADDER.copy()
    step = serving.dlrm_shard_step_s(batch, svc.items_per_request, card.lookups_per_sample, card.embedding_dim,
                                     card.gflops_per_sample, fanout, region.nic_gb_s, region.net_latency_us,
                                     acc.peak_tflops, DLRM_BYTES_PER_VALUE)["step_s"]
    shard_rate = batch / step
    group_scale = shards / fanout
    return _config_table(1, 0, batch, int(shards), shard_rate * group_scale, step, 0.0, shard_rate, fanout,
                         group_scale)


def cnn_configs(card: CnnCard, svc: ServingService, acc: Accelerator) -> dict[str, np.ndarray]:
    """One-GPU replicas at each (precision, batch): a batched forward pass at the roofline.

    Source: roofline model (Williams et al. 2009): max(FLOPs / FLOP/s, weight bytes / HBM bytes/s).
    """
    code = np.repeat(_precision_codes(svc, acc), BATCH_LADDER.shape[0])
    batch = np.tile(BATCH_LADDER, code.shape[0] // BATCH_LADDER.shape[0])
    precision = PRECISIONS[code]
    weights = serving.weight_bytes(card.params_m * 1e6, precision)
    fp8_tflops = acc.fp8_tflops if acc.fp8_tflops is not None else np.nan
    flops_per_s = serving.peak_flops_per_s(acc.peak_tflops, precision, fp8_tflops) * PREFILL_FLOPS_EFFICIENCY
    step = np.maximum(batch * card.gflops_per_sample * 1e9 / flops_per_s,
                      weights / (acc.hbm_gb_s * 1e9 * HBM_BANDWIDTH_EFFICIENCY))
    fits = weights <= acc.hbm_gb * 1e9 * HBM_USABLE_FRACTION
    table = _config_table(1, code, batch, 1, batch / step, step, 0.0)
    return {k: v[fits] for k, v in table.items()}


def pareto_front(gpus, rate_per_gpu, latency_s) -> np.ndarray:
    """Mask of configs no other config beats: fewer-or-equal GPUs, higher-or-equal rate per GPU and
    lower-or-equal latency, strictly better in one. Of exact ties the first is kept."""
    g, r, t = (np.asarray(a, dtype=float) for a in (gpus, rate_per_gpu, latency_s))
    as_good = (g[:, None] <= g[None, :]) & (r[:, None] >= r[None, :]) & (t[:, None] <= t[None, :])
    better = (g[:, None] < g[None, :]) | (r[:, None] > r[None, :]) | (t[:, None] < t[None, :])
    index = np.arange(g.shape[0])
    earlier_twin = as_good & ~better & (index[:, None] < index[None, :])
    return ~(as_good & better | earlier_twin).any(axis=0)


def replica_economics(inst: Instance, region: np.ndarray, accel: np.ndarray, gpus: np.ndarray,
                      accel_names: list[str], usd_per_gpu_hour: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Power (MW, at TDP), energy (kWh over the horizon, at TDP), carbon (t) and cost (USD) of one replica of
    each option (arrays: region index, accelerator index into `accel_names`, GPUs per replica); the price is
    the on-demand one unless `usd_per_gpu_hour` gives it per option."""
    regions = list(inst.regions.values())
    accels = [inst.accelerators[a] for a in accel_names]

    def per_region(attr):
        return np.array([getattr(x, attr) for x in regions], dtype=float)[region]

    def per_accel(attr):
        return np.array([getattr(x, attr) for x in accels], dtype=float)[accel]

    def per_stock(attr):
        table = np.array([[float(getattr(x.gpus[a], attr)) if a in x.gpus else np.nan for a in accel_names]
                          for x in regions])
        return table[region, accel]

    charges = horizon_charges(
        gpus, inst.horizon_hours, tdp_w=per_accel("tdp_w"), pue=per_region("pue"),
        carbon_g_per_kwh=per_region("mean_carbon_g_per_kwh"),
        usd_per_gpu_hour=per_stock("usd_per_hour") if usd_per_gpu_hour is None else usd_per_gpu_hour,
        energy_usd_per_kwh=per_region("energy_usd_per_kwh"), price_includes_energy=per_stock("includes_energy") > 0,
        include_embodied=inst.policy.include_embodied, embodied_kgco2e=per_accel("embodied_kgco2e"),
        lifetime_hours=per_accel("lifetime_hours"))
    return {"power_mw_per_replica": charges["power_w"] / 1e6, "energy_kwh_per_replica": charges["energy_kwh"],
            "carbon_t_per_replica": charges["carbon_t"], "cost_usd_per_replica": charges["cost_usd"]}


def zero_load_queue_s(shard_rate_rps, fanout):
    """The least time the M/M/1 p99 tail adds (at zero load, per-shard quantile): -ln(1 - 0.99^(1/F)) / mu.

    A route needs a latency budget above this for its capacity to be positive.
    Source: queueing.mm1_max_arrival_rate at lambda = 0 (Kleinrock 1975) with tails.per_shard_quantile.
    """
    tail = -np.log1p(-per_shard_quantile(SLO_QUANTILE, np.maximum(fanout, 1.0)))
    return tail / np.asarray(shard_rate_rps, dtype=float)


def _configs(card, svc, acc, region, cache, key) -> tuple[dict[str, np.ndarray], float]:
    """Configs that can meet the SLO at zero RTT, Pareto-pruned, and the least service time + zero-load p99
    queueing over all configs that fit (inf when none fits).

    Transformer and CNN physics does not depend on the region or the SLO: computed once per (model, request
    shape, fp8 allowed, accelerator), shared by services that differ only in demand and SLO.
    """
    if isinstance(card, DlrmCard):
        key = key + (region.nic_gb_s, region.net_latency_us)   # the only region figures DLRM's shard step reads
    if key in cache:
        return cache[key]
    if isinstance(card, DlrmCard):
        raw = dlrm_configs(card, svc, acc, region)
    else:
        physics_key = _physics_key(svc, key[1])
        if physics_key not in cache:
            cache[physics_key] = (transformer_configs(card, svc, acc) if isinstance(card, TransformerCard)
                                  else cnn_configs(card, svc, acc))
        raw = cache[physics_key]
    latency = raw["prefill_s"] + raw["decode_s"]
    # an idle LLM replica has a free slot: no wait; a batch server's M/M/1 tail never vanishes
    best = latency + np.where(raw["llm"], 0.0, zero_load_queue_s(raw["shard_rate_rps"], raw["fanout"]))
    fast = best < svc.slo_p99_ms / 1e3
    raw = {k: v[fast] for k, v in raw.items()}
    keep = pareto_front(raw["gpus"], raw["service_rate_rps"] / raw["gpus"], latency[fast])
    cache[key] = out = {k: v[keep] for k, v in raw.items()}, float(best.min(initial=np.inf))
    return out


def _placements(inst: Instance, svc: ServingService):
    """(region index, region, accelerator name) where the service may run: datacenters stocking an accelerator
    it may use."""
    for r, region in enumerate(inst.regions.values()):
        if region.kind == "edge":
            continue
        for aname, stock in region.gpus.items():
            if stock.count <= 0 or aname not in inst.accelerators:
                continue
            if svc.allowed_accelerators is not None and aname not in svc.allowed_accelerators:
                continue
            yield r, region, aname


def _physics_key(svc: ServingService, aname: str) -> tuple:
    return ("physics", svc.model, svc.prompt_tokens, svc.output_tokens, svc.allow_fp8, aname)


def _llm_physics(inst: Instance, cache: dict) -> None:
    """Every LLM config table the services may use, into `cache` by physics key, their saturation rates from
    one call."""
    tables = {}
    for svc in inst.serving.values():
        card = inst.models[svc.model]
        if not isinstance(card, TransformerCard):
            continue
        for _, _, aname in _placements(inst, svc):
            key = _physics_key(svc, aname)
            if key not in tables:
                tables[key] = transformer_configs(card, svc, inst.accelerators[aname], with_rate=False)
    cache.update(zip(tables, saturation_rates(list(tables.values())), strict=True))


def _placed_options(configs: list[dict[str, np.ndarray]], placed: list[tuple[int, int, int, int]]) -> dict:
    """The option table: each placement's config table, in placement order, with its service, region and
    accelerator; gathered from the distinct tables in one take per field."""
    fields = _CONFIG_FIELDS + ("service", "region", "accel")
    if not placed:
        return {k: np.zeros(0) for k in fields}
    which, service, region, accel = (np.array(x, dtype=np.int64) for x in zip(*placed))
    size = np.array([c["tp"].shape[0] for c in configs], dtype=np.int64)
    length = size[which]
    first = (np.cumsum(size) - size)[which]
    at = np.repeat(first - (np.cumsum(length) - length), length) + np.arange(int(length.sum()))
    opt = {k: np.concatenate([c[k] for c in configs])[at] for k in _CONFIG_FIELDS}
    opt.update(service=np.repeat(service, length), region=np.repeat(region, length),
               accel=np.repeat(accel, length))
    return opt


def enumerate_serving(inst: Instance, prune: bool = True) -> ServingCandidates:
    """All replica options and routes of the instance's serving services, as flat arrays; with `prune`, only
    options that have a route and that no option of the same region and accelerator dominates."""
    service_names, region_names = list(inst.serving), list(inst.regions)
    accel_names, population_names = list(inst.accelerators), list(inst.populations)
    cache: dict = {}
    # Per (service, region): the least service time + zero-load p99 queueing of any fitting config, and where.
    fastest_s = np.full((len(service_names), len(region_names)), np.inf)
    fastest_accel = np.full(fastest_s.shape, -1)
    _llm_physics(inst, cache)
    accel_index = {a: i for i, a in enumerate(accel_names)}
    configs: list[dict[str, np.ndarray]] = []   # the distinct config tables, each shared by many placements
    config_of: dict[int, int] = {}
    placed: list[tuple[int, int, int, int]] = []   # (config table, service, region, accelerator) with configs
    for s, (sname, svc) in enumerate(inst.serving.items()):
        card = inst.models[svc.model]
        for r, region, aname in _placements(inst, svc):
            acc, a = inst.accelerators[aname], accel_index[aname]
            cfg, best = _configs(card, svc, acc, region, cache, (sname, aname))
            if best < fastest_s[s, r] or fastest_accel[s, r] < 0:
                fastest_s[s, r], fastest_accel[s, r] = best, a
            if cfg["tp"].shape[0] == 0:
                continue
            if id(cfg) not in config_of:
                config_of[id(cfg)] = len(configs)
                configs.append(cfg)
            placed.append((config_of[id(cfg)], s, r, a))

    opt = _placed_options(configs, placed)
    for k in ("tp", "precision", "batch", "gpus", "service", "region", "accel"):
        opt[k] = opt[k].astype(np.int64)
    opt.update(replica_economics(inst, opt["region"], opt["accel"], opt["gpus"], accel_names))

    routes, demand, unroutable = routes_for(inst, opt, population_names, fastest_s, fastest_accel)
    table = ServingCandidates(
        service_names=service_names, region_names=region_names, accel_names=accel_names,
        population_names=population_names,
        service=opt["service"], region=opt["region"], accel=opt["accel"], tp=opt["tp"],
        precision=opt["precision"], batch=opt["batch"], gpus_per_replica=opt["gpus"],
        power_mw_per_replica=opt["power_mw_per_replica"],
        energy_kwh_per_replica=opt["energy_kwh_per_replica"],
        carbon_t_per_replica=opt["carbon_t_per_replica"], cost_usd_per_replica=opt["cost_usd_per_replica"],
        service_rate_rps=opt["service_rate_rps"], prefill_s=opt["prefill_s"], decode_s=opt["decode_s"],
        route_option=routes["option"], route_population=routes["population"],
        route_capacity_rps=routes["capacity"], route_rtt_ms=routes["rtt"],
        demand_service=demand["service"], demand_population=demand["population"], demand_rps=demand["rps"],
        headroom=np.array([svc.headroom for svc in inst.serving.values()], dtype=float),
        unroutable=unroutable)
    table = spot_twins(inst, table)
    return take_options(table, route_dominance_mask(table)) if prune else table


def spot_twins(inst: Instance, sc: ServingCandidates) -> ServingCandidates:
    """The table plus a spot twin of every option whose region stocks its accelerator on spot terms: the spot
    price, and each route's capacity x the share of replicas up (1 - replicas_down_fraction)."""
    spot = [inst.regions[sc.region_names[r]].gpus.get(sc.accel_names[a]) for r, a in zip(sc.region, sc.accel)]
    idx = np.array([i for i, g in enumerate(spot) if g is not None and g.spot is not None and g.spot.count > 0],
                   dtype=np.int64)
    if not len(idx):
        return sc
    blocks = [spot[i].spot for i in idx]
    price = np.array([b.usd_per_hour for b in blocks])
    up = 1.0 - replicas_down_fraction(np.array([b.preemptions_per_gpu_hour for b in blocks]),
                                      sc.gpus_per_replica[idx], np.array([b.replacement_min for b in blocks]) / 60.0)
    econ = replica_economics(inst, sc.region[idx], sc.accel[idx], sc.gpus_per_replica[idx], sc.accel_names, price)
    per_option = ("service", "region", "accel", "tp", "precision", "batch", "gpus_per_replica",
                  "service_rate_rps", "prefill_s", "decode_s")
    changes = {k: np.concatenate([getattr(sc, k), getattr(sc, k)[idx]]) for k in per_option}
    changes |= {k: np.concatenate([getattr(sc, k), econ[k]]) for k in econ}
    changes["procurement"] = np.concatenate([sc.procurement, np.full(len(idx), SPOT)])
    twin_of = np.full(len(sc), -1)
    twin_of[idx] = len(sc) + np.arange(len(idx))
    routes = np.flatnonzero(twin_of[sc.route_option] >= 0)
    twin_up = np.zeros(len(sc))
    twin_up[idx] = up
    capacity = sc.route_capacity_rps[routes] * twin_up[sc.route_option[routes]]
    live = routes[capacity > 0]
    changes["route_option"] = np.concatenate([sc.route_option, twin_of[sc.route_option[live]]])
    changes["route_capacity_rps"] = np.concatenate([sc.route_capacity_rps, capacity[capacity > 0]])
    for k in ("route_population", "route_rtt_ms"):
        changes[k] = np.concatenate([getattr(sc, k), getattr(sc, k)[live]])
    return replace(sc, **changes)
