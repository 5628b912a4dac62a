"""Read a solver's column vector back into a Plan, in the user's names."""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.monitoring import MonitoringTable
from fleetopt.candidates.names import option_key
from fleetopt.candidates.tables import SPOT, ServingCandidates, TrainingCandidates
from fleetopt.formulation.model import Formulation, key_name
from fleetopt.io.schema import Instance
from fleetopt.physics.training import C3_TERMS
from fleetopt.plan.model import (
    Binding,
    Breakdown,
    GroupMonitoring,
    MonitoringDecision,
    RegionUse,
    ReplicaGroup,
    Route,
    ServiceDecision,
    TimelineSummary,
    Totals,
    TrainingDecision,
)

RECOMPUTE = ("none", "selective", "full")
BINDING_RTOL = 1e-3  # integer decisions rarely land a row exactly on its limit


def timeline_summary(form: Formulation) -> TimelineSummary | None:
    """The slices of a formulation over time (None on a static one)."""
    if form.time is None:
        return None
    tl = form.time.slices.timeline
    return TimelineSummary(step_hours=float(tl.step_hours), weights=[float(w) for w in tl.weights],
                           start_hour=[float(h) for h in tl.start_hour], day=[int(d) for d in tl.day],
                           labels=list(form.time.slices.labels))


def _by_slice(form: Formulation, block: str, x: np.ndarray) -> np.ndarray:
    """[items, S] a block's values per item and slice (slices are the fastest-moving part of its keys)."""
    S = 1 if form.time is None else form.time.slices.n
    return x[form.blocks[block].cols].reshape(-1, S)


def _clean(v: float) -> float:
    """A solver residue (1e-13) as 0."""
    return 0.0 if abs(v) < 1e-9 else float(v)


def training_decisions(tc: TrainingCandidates, x: np.ndarray, form: Formulation) -> dict[str, TrainingDecision]:
    chosen = np.flatnonzero(x[form.blocks["train_choice"].cols] > 0.5)
    out = {}
    time = form.time
    for c in chosen:
        if time is not None:
            run = _by_slice(form, "train_run", x)[c]
            hours = [_clean(h) for h in run * time.slices.weights]
            cost = float(time.training.one_off_usd[c] + run @ time.training.usd[c])
            carbon, energy = float(run @ time.training.t[c]), float(tc.power_mw[c] * sum(hours))
        else:
            hours, cost, carbon = None, float(tc.cost_usd[c]), float(tc.carbon_t[c])
            energy = float(tc.energy_kwh[c] / 1e3)
        out[tc.job_names[tc.job[c]]] = TrainingDecision(
            region=tc.region_names[tc.region[c]], accelerator=tc.accel_names[tc.accel[c]], gpus=int(tc.gpus[c]),
            tp=int(tc.tp[c]), pp=int(tc.pp[c]), dp=int(tc.dp[c]), micro_batch=int(tc.micro_batch[c]),
            recompute=RECOMPUTE[int(tc.recompute[c])], interleave=int(tc.interleave[c]),
            sync_group=int(tc.sync_group[c]), checkpoint_interval_min=float(tc.checkpoint_interval_s[c] / 60),
            step_time_s=float(tc.step_time_s[c]), mfu=float(tc.mfu[c]), memory_gb_per_gpu=float(tc.memory_gb[c]),
            goodput=float(tc.goodput[c]), wall_hours=float(tc.wall_hours[c]), cost_usd=cost,
            energy_mwh=energy, carbon_t=carbon, power_mw=float(tc.power_mw[c]), hours_by_slice=hours,
            procurement="spot" if tc.procurement[c] == SPOT else None,   # the rest: plan/procurement.py
            binding_term=C3_TERMS[int(tc.binding_term[c])],
            breakdown=Breakdown(compute_s=float(tc.compute_s[c]), comm_s=float(tc.comm_s[c]),
                                bubble_s=float(tc.bubble_s[c]), sync_s=float(tc.sync_s[c]),
                                overlap_s=float(tc.overlap_s[c])))
    return out


def serving_decisions(sc: ServingCandidates, x: np.ndarray, form: Formulation) -> dict[str, ServiceDecision]:
    by_slice = np.round(_by_slice(form, "replicas", x)).astype(int)
    flows_by_slice = _by_slice(form, "flow", x)
    time = form.time
    # over slices a group states its peak replicas (and routes their peak requests/s) with the schedule beside
    replicas, flows = by_slice.max(axis=1), flows_by_slice.max(axis=1)
    out: dict[str, ServiceDecision] = {s: ServiceDecision(replicas=[], routing=[], gpus=0, cost_usd=0.0, carbon_t=0.0)
                                       for s in sc.service_names}
    for o in np.flatnonzero(replicas > 0):
        name, region, accel, config = option_key(sc, o)
        n = int(replicas[o])
        if time is None:
            cost, carbon, schedule = float(n * sc.cost_usd_per_replica[o]), float(n * sc.carbon_t_per_replica[o]), None
        else:
            cost, carbon = float(by_slice[o] @ time.replica_usd[o]), float(by_slice[o] @ time.replica_t[o])
            schedule = [int(v) for v in by_slice[o]]
        group = ReplicaGroup(region=region, accelerator=accel, config=config, tp=int(sc.tp[o]),
                             precision="fp8" if sc.precision[o] else "bf16", batch=int(sc.batch[o]), replicas=n,
                             gpus=n * int(sc.gpus_per_replica[o]), cost_usd=cost, carbon_t=carbon,
                             power_mw=float(n * sc.power_mw_per_replica[o]), replicas_by_slice=schedule,
                             procurement="spot" if sc.procurement[o] == SPOT else None)
        dec = out[name]
        dec.replicas.append(group)
        dec.gpus += group.gpus
        dec.cost_usd += group.cost_usd
        dec.carbon_t += group.carbon_t
    for i in np.flatnonzero(flows > 1e-9):
        o = sc.route_option[i]
        name, region, accel, config = option_key(sc, o)
        out[name].routing.append(Route(population=sc.population_names[sc.route_population[i]], region=region,
                                       accelerator=accel, config=config, rps=float(flows[i]),
                                       rtt_ms=float(sc.route_rtt_ms[i]),
                                       capacity_rps_per_replica=float(sc.route_capacity_rps[i]),
                                       rps_by_slice=None if time is None else
                                       [_clean(v) for v in flows_by_slice[i]]))
    return out


def monitoring_decisions(sc: ServingCandidates, mon: MonitoringTable, x: np.ndarray, form: Formulation,
                         serving: dict[str, ServiceDecision]) -> None:
    """Add each open pipeline, its evaluators and its groups' sampling rates to the service decisions."""
    open_pipes = np.flatnonzero(x[form.blocks["pipeline"].cols] > 0.5)
    evaluators = x[form.blocks["evaluators"].cols]
    monitored = x[form.blocks["monitored"].cols] > 0.5
    # over slices the samples a window supplies are those of the quietest slice (formulation/monitoring.py)
    flows = x[form.blocks["flow"].cols] if form.time is None else _by_slice(form, "flow", x)
    time = form.time
    usd_per_gpu = mon.evaluator_usd_per_gpu if time is None else time.evaluator_usd
    t_per_gpu = mon.evaluator_t_per_gpu if time is None else time.evaluator_t
    route_region = sc.region[sc.route_option]
    route_service = sc.service[sc.route_option]
    for p in open_pipes:
        s, r = int(mon.pipe_service[p]), int(mon.pipe_region[p])
        triples = np.flatnonzero((mon.triple_pipe == p) & monitored)
        groups = []
        for t in triples:
            u = int(mon.population[t])
            mine = flows[(route_service == s) & (route_region == r) & (sc.route_population == u)]
            rps = float(mine.sum() if form.time is None else mine.sum(axis=0).min())
            for gi in np.flatnonzero(mon.group_triple == t):
                requests = float(mon.group_share[gi] * rps * mon.window_s[gi])
                pname, gname = mon.group_names[gi].split("/", 1)
                groups.append(GroupMonitoring(population=pname, group=gname,
                                              samples_per_window=int(mon.group_samples[gi]),
                                              requests_per_window=requests,
                                              sampling_rate=min(1.0, float(mon.group_samples[gi]) / requests)
                                              if requests > 0 else 1.0))
        serving[sc.service_names[s]].monitoring.append(MonitoringDecision(
            region=sc.region_names[r], accelerator=sc.accel_names[mon.evaluator_accel[p]],
            evaluator_gpus=float(evaluators[p]), evaluator_gpus_needed=float(mon.evaluator_gpus[triples].sum()),
            pipeline_cost_usd=float(mon.pipe_usd[p]),
            evaluator_cost_usd=float(evaluators[p] * usd_per_gpu[p]), groups=groups))
        dec = serving[sc.service_names[s]]
        dec.cost_usd += float(mon.pipe_usd[p] + evaluators[p] * usd_per_gpu[p])
        dec.carbon_t += float(evaluators[p] * t_per_gpu[p])
        dec.gpus += int(np.ceil(evaluators[p] - 1e-9))


def binding_rows(form: Formulation, x: np.ndarray) -> list[Binding]:
    """Inequality rows with (relatively) zero slack at the solution."""
    activity, engaged = form.row_activity(x)
    out = []
    for fam in form.families.values():
        if np.all(fam.lower == fam.upper):
            continue  # equalities (assign, demand) always hold with equality
        act = activity[fam.start:fam.start + fam.size]
        for i, key in enumerate(fam.keys):
            if not engaged[fam.start + i]:
                continue
            for limit in (fam.upper[i], fam.lower[i]):
                if np.isfinite(limit) and abs(limit - act[i]) <= BINDING_RTOL * max(1.0, abs(limit)):
                    out.append(Binding(family=fam.name, key=[str(k) for k in key],
                                       name=key_name(fam.name, key), activity=float(act[i]),
                                       limit=float(limit), units=fam.units, meaning=fam.meaning))
                    break
    return out


def totals(inst: Instance, training: dict[str, TrainingDecision], serving: dict[str, ServiceDecision]) -> Totals:
    regions = {r: RegionUse(gpus={}, power_mw=0.0, power_cap_mw=reg.power_cap_mw) for r, reg in inst.regions.items()}

    def use(region: str, accel: str, gpus: int, mw: float) -> None:
        regions[region].gpus[accel] = regions[region].gpus.get(accel, 0) + gpus
        regions[region].power_mw += mw

    tl = inst.timeline
    weights = np.asarray(tl.weights, dtype=float)
    sliced = not tl.is_static
    if sliced:
        for u in regions.values():
            u.gpus_by_slice, u.power_mw_by_slice = {}, [0.0] * len(tl)

    def use_by_slice(region: str, accel: str, gpus: np.ndarray, mw: np.ndarray) -> None:
        """GPUs and MW in use per slice (the average over the hours each slice stands for)."""
        u = regions[region]
        u.gpus_by_slice[accel] = list(np.asarray(u.gpus_by_slice.get(accel, np.zeros(len(tl)))) + gpus)
        u.power_mw_by_slice = list(np.asarray(u.power_mw_by_slice) + mw)

    energy = 0.0
    for d in training.values():
        use(d.region, d.accelerator, d.gpus, d.power_mw)
        energy += d.energy_mwh
        if sliced and d.hours_by_slice is not None:
            share = np.asarray(d.hours_by_slice) / weights
            use_by_slice(d.region, d.accelerator, d.gpus * share, d.power_mw * share)
    for s in serving.values():
        for g in s.replicas:
            use(g.region, g.accelerator, g.gpus, g.power_mw)
            if sliced and g.replicas_by_slice is not None:
                n = np.asarray(g.replicas_by_slice, dtype=float)
                each_gpus, each_mw = g.gpus / max(g.replicas, 1), g.power_mw / max(g.replicas, 1)
                use_by_slice(g.region, g.accelerator, n * each_gpus, n * each_mw)
                energy += float(n @ weights) * each_mw
            else:
                energy += g.power_mw * inst.horizon_hours
        for m in s.monitoring:
            acc, region = inst.accelerators[m.accelerator], inst.regions[m.region]
            mw = m.evaluator_gpus * acc.tdp_w * region.pue / 1e6
            use(m.region, m.accelerator, m.evaluator_gpus, mw)
            energy += mw * inst.horizon_hours
            if sliced:
                use_by_slice(m.region, m.accelerator, np.full(len(tl), m.evaluator_gpus), np.full(len(tl), mw))
    cost = sum(d.cost_usd for d in training.values()) + sum(s.cost_usd for s in serving.values())
    carbon = sum(d.carbon_t for d in training.values()) + sum(s.carbon_t for s in serving.values())
    gpus = sum(d.gpus for d in training.values()) + sum(s.gpus for s in serving.values())
    if sliced:
        for u in regions.values():
            u.gpus_by_slice = {a: [_clean(float(v)) for v in g] for a, g in u.gpus_by_slice.items()}
            u.power_mw_by_slice = [_clean(float(v)) for v in u.power_mw_by_slice]
    return Totals(cost_usd=cost, carbon_t=carbon, energy_mwh=energy, gpus=gpus,
                  regions={r: u for r, u in regions.items() if u.gpus})
