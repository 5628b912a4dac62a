"""Scarce tiers: the scale tiers of scale_tiers.py with GPU stock and power caps cut below what the fleet would
use unconstrained, so the inventory and power rows bind (scale_tiers.py keeps the fleet about as loaded as
global-fleet, where they mostly do not).

    make_scarce_tier(10, seed=0)  ->  an instance document (a dict, as `read_document` returns)

Method. Build the tier (make_tier(factor, seed)) and estimate its unconstrained demand from the candidates
alone, without a solve (a solve at x100 takes longer than the benchmarks it feeds):
    training  each job on its cheapest candidate (what it picks when no shared row binds);
    serving   each (service, population) demand on its cheapest route per request/s, i.e. replica cost x
              (1 + headroom) / the route's p99 capacity; replicas summed per option, then rounded up;
with cost + p x carbon in place of cost, p the carbon price (bisection) at which that plan meets the carbon
budget (a binding budget moves the real plan to clean regions; the cost-only picks sit in dirty cheap ones).
That gives GPUs per (region, accelerator) and MW per region. Every (region, accelerator) with demand gets a
stock of a seeded fraction U(0.7, 0.9) of it, and every region with demand a power cap of U(0.7, 0.9) of its
MW; the others keep the tier's figures, so the demand cut from the cheap regions has somewhere to go. The
carbon budget grows by 10%, as that demand spills to dirtier regions. Fairness evaluators are not in the
estimate (a fraction of a GPU per monitored triple). Feasibility is checked by a solve, not guaranteed:
scarce x1 (tests/solving/test_scarce_tiers.py) and x10 (benchmarks/RESULTS.md) have plans. Same (factor, seed), same
document.

Run `python benchmarks/scarce_tiers.py 10 out.yaml [seed]` to write one tier to a file (the x100 estimate
enumerates the x100 candidates: about a minute).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_tiers  # noqa: E402
from scale_tiers import make_tier  # noqa: E402

from fleetopt.candidates.serving import enumerate_serving  # noqa: E402
from fleetopt.candidates.training import enumerate_training  # noqa: E402
from fleetopt.io.load import load_document  # noqa: E402
from fleetopt.io.schema import Instance  # noqa: E402

SCARCITY = (0.7, 0.9)           # stock and power as a fraction of the unconstrained demand
CARBON_SLACK = 1.1              # the carbon budget grows by this, as demand spills to dirtier regions


def _choices(inst: Instance, tc, sc, carbon_usd_per_t: float) -> tuple[np.ndarray, np.ndarray, float]:
    """At a carbon price: each job's cheapest candidate, each demand pair's cheapest route (per request/s),
    the replicas per option that carries, and the total carbon (t)."""
    price = carbon_usd_per_t
    job_pick = np.array([rows[np.argmin(tc.cost_usd[rows] + price * tc.carbon_t[rows])]
                         for rows in (np.flatnonzero(tc.job == j) for j in range(len(tc.job_names))) if len(rows)],
                        dtype=int)
    option = sc.route_option
    headroom = sc.headroom[sc.service[option]]
    per_rps = ((sc.cost_usd_per_replica + price * sc.carbon_t_per_replica)[option] * (1.0 + headroom)
               / sc.route_capacity_rps)
    replicas = np.zeros(len(sc))
    for s, u, rps in zip(sc.demand_service, sc.demand_population, sc.demand_rps):
        routes = np.flatnonzero((sc.service[option] == s) & (sc.route_population == u))
        if len(routes) and rps > 0:
            best = routes[np.argmin(per_rps[routes])]
            replicas[option[best]] += rps * (1.0 + headroom[best]) / sc.route_capacity_rps[best]
    replicas = np.ceil(replicas - 1e-9)
    carbon = float(tc.carbon_t[job_pick].sum() + replicas @ sc.carbon_t_per_replica)
    return job_pick, replicas, carbon


def unconstrained_demand(inst: Instance) -> tuple[dict, dict]:
    """GPUs per (region, accelerator) and MW per region of the plan each job and each (service, population)
    would pick alone, under the carbon price (bisection) at which that plan meets the carbon budget."""
    tc, sc = enumerate_training(inst), enumerate_serving(inst)
    budget = inst.policy.carbon_budget_t
    low, high = 0.0, 1.0
    job_pick, replicas, carbon = _choices(inst, tc, sc, 0.0)
    if budget is not None and carbon > budget:
        while _choices(inst, tc, sc, high)[2] > budget and high < 1e7:
            low, high = high, high * 4.0
        for _ in range(30):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if _choices(inst, tc, sc, mid)[2] > budget else (low, mid)
        job_pick, replicas, carbon = _choices(inst, tc, sc, high)
    gpus: dict[tuple[str, str], float] = {}
    mw: dict[str, float] = {}
    rows = [(tc.region_names[tc.region[c]], tc.accel_names[tc.accel[c]], float(tc.gpus[c]), float(tc.power_mw[c]))
            for c in job_pick]
    rows += [(sc.region_names[sc.region[o]], sc.accel_names[sc.accel[o]], replicas[o] * float(sc.gpus_per_replica[o]),
              replicas[o] * float(sc.power_mw_per_replica[o])) for o in np.flatnonzero(replicas > 0)]
    for region, accel, n, power in rows:
        if inst.regions[region].kind != "datacenter":
            continue
        gpus[(region, accel)] = gpus.get((region, accel), 0.0) + n
        mw[region] = mw.get(region, 0.0) + power
    return gpus, mw


def make_scarce_tier(factor: int, seed: int = 0) -> dict:
    """make_tier(factor, seed) with stock and power at a seeded 70-90% of the unconstrained demand."""
    doc = make_tier(factor, seed)
    doc["name"] = f"global-fleet-x{factor}-scarce"
    inst = load_document(doc, Path(f"instances/scale/x{factor}-seed{seed}.yaml"))
    gpus, mw = unconstrained_demand(inst)
    rng = np.random.default_rng([seed, factor, 70])
    for (region, accel), need in sorted(gpus.items()):
        stock = doc["regions"][region]["gpus"][accel]
        stock["count"] = int(min(stock["count"], max(1, round(need * rng.uniform(*SCARCITY)))))
    for region, need in sorted(mw.items()):
        reg = doc["regions"][region]
        reg["power_cap_mw"] = round(float(min(reg.get("power_cap_mw", np.inf), need * rng.uniform(*SCARCITY))), 3)
    policy = doc.setdefault("policy", {})
    if policy.get("carbon_budget_t") is not None:
        policy["carbon_budget_t"] = round(float(policy["carbon_budget_t"]) * CARBON_SLACK, 1)
    return doc


def load_scarce_tier(factor: int, seed: int = 0) -> Instance:
    """make_scarce_tier, validated as an instance (as if read from instances/scale/x{factor}-scarce.yaml)."""
    return load_document(make_scarce_tier(factor, seed), Path(f"instances/scale/x{factor}-scarce-seed{seed}.yaml"))


if __name__ == "__main__":
    scale_tiers.main(sys.argv, make_scarce_tier)
