"""Shared resources re-checked over every decision's draw (families inventory, power_cap, storage_bw, link_bw,
carbon_budget) and the plan's totals and objective (family reported).

Rules: GPUs of training, replicas and evaluators on an accelerator in a region stay within its stock (edge
devices are checked per job); facility MW within the region's cap when it has one; training storage GB/s within
the region's storage_gb_s; dataset staging GB/s on each link within its gb_s; operational + embodied t CO2e of
everything within the policy's budget. Objective: cost -> USD + carbon price x t; carbon -> t; weighted ->
cost weight x USD + (carbon_usd_per_t + carbon price) x t.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from fleetopt.io.schema import Instance, WeightedObjective
from fleetopt.plan import Plan
from fleetopt.verify.draw import Draw
from fleetopt.verify.procurement import reserved_in_use, stock_limit
from fleetopt.verify.report import Report
from fleetopt.verify.slices import SliceView


def _by_slice(d: Draw, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A draw's GPUs and MW per slice: its schedule, else the same in every slice."""
    gpus = np.full(n, float(d.gpus)) if d.gpus_by_slice is None else np.asarray(d.gpus_by_slice, dtype=float)
    mw = np.full(n, float(d.mw)) if d.mw_by_slice is None else np.asarray(d.mw_by_slice, dtype=float)
    return gpus, mw


def verify_slices(inst: Instance, draws: list[Draw], report: Report) -> None:
    """Inventory and power cap in every time slice (GPUs and MW averaged over the hours each stands for)."""
    sv = SliceView(inst)
    tl, n, labels = sv.timeline, sv.n, sv.labels
    gpus: dict[tuple[str, str, bool], np.ndarray] = defaultdict(lambda: np.zeros(n))
    mw: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(n))
    for d in draws:
        g, m = _by_slice(d, n)
        if d.stocked:
            gpus[(d.region, d.accelerator, d.spot)] += g
        mw[d.region] += m
    reserved = reserved_in_use(inst, draws)
    for (r, a, spot), use in sorted(gpus.items()):
        stock = inst.regions[r].gpus.get(a) if r in inst.regions else None
        if not spot and (r, a) in reserved:
            use = use - reserved[(r, a)]   # reserved GPUs in use first; the rest is held on-demand
        for s, label in enumerate(labels):
            report.upper("spot_stock" if spot else "inventory", (r, a, label), use[s], stock_limit(stock, spot),
                         "GPUs", f"GPUs in use by training, serving and evaluators exceed the region's "
                         f"{'spot ' if spot else ''}stock")
    for r, region in inst.regions.items():
        path = f"regions.{r}.power_cap_mw"
        if region.power_cap_mw is None and path not in tl.values:
            continue
        cap = tl.value(path, np.inf if region.power_cap_mw is None else region.power_cap_mw)
        for s, label in enumerate(labels):
            report.upper("power_cap", (r, label), mw[r][s] if r in mw else 0.0, cap[s], "MW",
                         "facility power (GPUs x TDP x PUE) in the slice exceeds the region's cap")


def verify_resources(inst: Instance, draws: list[Draw], report: Report, move_carbon_t: float = 0.0) -> None:
    """Every shared row; the carbon budget adds `move_carbon_t`, the emissions of moving jobs (verify/change.py)."""
    if not inst.timeline.is_static:
        verify_slices(inst, draws, report)
    gpus: dict[tuple[str, str], float] = defaultdict(float)
    spot: dict[tuple[str, str], float] = defaultdict(float)
    mw: dict[str, float] = defaultdict(float)
    storage: dict[str, float] = defaultdict(float)
    links: dict[int, float] = defaultdict(float)
    for d in draws:
        if d.stocked:
            (spot if d.spot else gpus)[(d.region, d.accelerator)] += d.gpus
        mw[d.region] += d.mw
        storage[d.region] += d.storage_gb_s
        for i, gb_s in d.link_gb_s.items():
            links[i] += gb_s
    pairs = [(r, a) for r, reg in inst.regions.items() for a in reg.gpus]
    reserved = reserved_in_use(inst, draws)
    for r, a in (pairs + sorted(set(gpus) - set(pairs))) if inst.timeline.is_static else []:
        stock = inst.regions[r].gpus.get(a) if r in inst.regions else None
        held = gpus.get((r, a), 0.0) - (float(reserved[(r, a)][0]) if (r, a) in reserved else 0.0)
        report.upper("inventory", (r, a), held, stock_limit(stock, False), "GPUs",
                     "GPUs held by training, serving and evaluators exceed the region's stock")
    spot_pairs = [(r, a) for r, reg in inst.regions.items() for a, g in reg.gpus.items() if g.spot is not None]
    for r, a in (spot_pairs + sorted(set(spot) - set(spot_pairs))) if inst.timeline.is_static else []:
        stock = inst.regions[r].gpus.get(a) if r in inst.regions else None
        report.upper("spot_stock", (r, a), spot.get((r, a), 0.0), stock_limit(stock, True), "GPUs",
                     "GPUs held on spot terms exceed the region's spot stock")
    for r, region in inst.regions.items():
        if region.power_cap_mw is not None and inst.timeline.is_static:
            report.upper("power_cap", (r,), mw.get(r, 0.0), region.power_cap_mw, "MW",
                         "facility power (GPUs x TDP x PUE) exceeds the region's cap")
        report.upper("storage_bw", (r,), storage.get(r, 0.0), region.storage_gb_s, "GB/s",
                     "checkpoint writes and data loading exceed the region's storage bandwidth")
    for i, link in enumerate(inst.links):
        report.upper("link_bw", (f"{link.a}-{link.b}",), links.get(i, 0.0), link.gb_s, "GB/s",
                     "datasets staged over the link within the staging window exceed its bandwidth")
    budget = inst.policy.carbon_budget_t
    if budget is not None:
        report.upper("carbon_budget", ("fleet",), sum(d.carbon_t for d in draws) + move_carbon_t, budget, "t CO2e",
                     "operational, embodied and job-move emissions over the horizon exceed the budget")


def objective_name(inst: Instance) -> str:
    if inst.objective == "carbon":
        return "carbon_t"
    return "weighted_usd" if isinstance(inst.objective, WeightedObjective) else "cost_usd"


def objective_value(inst: Instance, cost_usd: float, carbon_t: float) -> float:
    price = inst.policy.carbon_price_usd_per_t
    if inst.objective == "carbon":
        return carbon_t
    if isinstance(inst.objective, WeightedObjective):
        return inst.objective.cost * cost_usd + (inst.objective.carbon_usd_per_t + price) * carbon_t
    return cost_usd + price * carbon_t


def verify_totals(inst: Instance, plan: Plan, draws: list[Draw], report: Report,
                  change: tuple[float, float] = (0.0, 0.0), reserved_usd: float = 0.0) -> None:
    """The figures a planner reads first: per service and fleet totals, per region use, the objective (which
    adds `change`, the USD and t CO2e of changing the deployed fleet, verify/change.py; the totals and the
    objective add `reserved_usd`, the reserved commitment less the rental it saves, verify/procurement.py)."""
    by_service: dict[str, list[Draw]] = defaultdict(list)
    for d in draws:
        if d.service is not None:
            by_service[d.service].append(d)
    for sname, dec in plan.serving.items():
        if sname not in inst.serving:
            continue
        mine = by_service.get(sname, [])
        report.stated(("serving", sname), "gpus", dec.gpus, sum(d.gpus_counted for d in mine), "GPUs")
        report.stated(("serving", sname), "cost_usd", dec.cost_usd, sum(d.cost_usd for d in mine), "USD")
        report.stated(("serving", sname), "carbon_t", dec.carbon_t, sum(d.carbon_t for d in mine), "t CO2e")
    cost, carbon = sum(d.cost_usd for d in draws) + reserved_usd, sum(d.carbon_t for d in draws)
    if plan.totals is None and plan.has_plan:
        report.check("reported")
        report.add("reported", ("totals",), 1, "sections", "the plan has decisions but no totals")
    if plan.totals is not None:
        t = plan.totals
        report.stated(("totals",), "cost_usd", t.cost_usd, cost, "USD")
        report.stated(("totals",), "carbon_t", t.carbon_t, carbon, "t CO2e")
        report.stated(("totals",), "energy_mwh", t.energy_mwh, sum(d.energy_mwh for d in draws), "MWh")
        report.stated(("totals",), "gpus", t.gpus, sum(d.gpus_counted for d in draws), "GPUs")
        use: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        power: dict[str, float] = defaultdict(float)
        for d in draws:
            use[d.region][d.accelerator] += d.gpus
            power[d.region] += d.mw
        for r in sorted(set(t.regions) | {r for r, u in use.items() if any(u.values())}):
            stated = t.regions.get(r)
            for a in sorted(set(stated.gpus if stated else {}) | set(use.get(r, {}))):
                report.stated(("totals", r, a), "gpus", stated.gpus.get(a, 0) if stated else 0,
                              use.get(r, {}).get(a, 0.0), "GPUs")
            report.stated(("totals", r), "power_mw", stated.power_mw if stated else 0.0, power.get(r, 0.0), "MW")
            cap = inst.regions[r].power_cap_mw if r in inst.regions else None
            if stated is not None and (stated.power_cap_mw is None) != (cap is None):
                report.check("reported")
                report.add("reported", ("totals", r), 1, "MW", "power_cap_mw: the plan and the instance disagree "
                                                               "on whether the region is capped")
            elif stated is not None and cap is not None:
                report.stated(("totals", r), "power_cap_mw", stated.power_cap_mw, cap, "MW")
    if not plan.has_plan:
        return
    report.check("reported")
    if plan.objective_name != objective_name(inst):
        report.add("reported", ("objective",), 1, "names", f"objective_name: the plan states "
                   f"'{plan.objective_name}', the instance asks for '{objective_name(inst)}'")
    if plan.objective is not None:
        value = objective_value(inst, cost + change[0], carbon + change[1])
        report.stated(("objective",), plan.objective_name, plan.objective, value, "objective units")
        if plan.bound is not None:  # a lower bound above the plan's own value is not a bound
            report.check("reported")
            if not plan.bound - value <= 1e-6 * max(1.0, abs(value)):
                report.add("reported", ("objective", "bound"), abs(plan.bound - value), "objective units",
                           f"bound: the plan states a lower bound of {plan.bound:.6g} above its objective "
                           f"{value:.6g}")
