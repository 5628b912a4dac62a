"""A re-plan checked against the deployed plan (`current`): changed GPUs, the change cap, each job's move and
the change cost, re-derived from the plan's decisions and the deployed plan's (families changed_gpus,
change_cap, move_deadline, change).

Rules (as README "The fleet as deployed" states them):
- changed GPUs = sum over (workload, region, accelerator) of |GPUs in the plan - GPUs deployed|; a workload is
  `training.JOB` (its GPUs) or `serving.SERVICE` (its replica groups' GPUs); jobs done by policy.as_of_hour
  are left out on both sides; at most policy.max_changed_gpus.
- a deployed job with progress (as_of_hour > 0) whose region, accelerator, TP, PP, DP or sync group differs
  restarts (checkpoint_restart_min); when its region differs its checkpoint (14 B per parameter, ZeRO) also
  crosses the lowest-RTT path of links at the narrowest link's GB/s, egress charged per GB on every link.
  Its wall hours plus those hours stay within its deadline; the hours are charged at its GPUs' rate
  (physics.economics.horizon_charges) plus the egress.
- change cost = changed GPUs x change_usd_per_gpu + the moves' cost; the moves' carbon adds to the objective.
"""

from __future__ import annotations


from fleetopt.io.schema import Instance, TransformerCard
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.training import checkpoint_bytes_per_gpu
from fleetopt.physics.training_flops import dense_param_count
from fleetopt.plan import Plan
from fleetopt.plan.diff import held_gpus
from fleetopt.verify.network import lowest_rtt_paths
from fleetopt.verify.report import Report, differs


def _checkpoint_gb(inst: Instance, job: str) -> float:
    card = inst.models[inst.training[job].model]
    if not isinstance(card, TransformerCard):
        return 0.0
    params = card.params_b * 1e9 if card.params_b else float(dense_param_count(
        card.layers, card.hidden, card.ffn_hidden, card.heads, card.kv_heads or card.heads, card.vocab, card.swiglu))
    return float(checkpoint_bytes_per_gpu(params, 1, 1)) / 1e9


def _move(inst: Instance, name: str, dec, cur) -> dict | None:
    """The move of job `name` from its deployed layout `cur` to `dec`: hours, GB, egress, cost, carbon (None
    when it does not change); hours is inf when no link joins the regions."""
    layout = (dec.region, dec.accelerator, dec.tp, dec.pp, dec.dp, dec.sync_group)
    if cur.done_fraction <= 0.0 or layout == (cur.region, cur.accelerator, cur.tp, cur.pp, cur.dp, cur.sync_group):
        return None
    hours, gb, egress = inst.training[name].checkpoint_restart_min / 60.0, 0.0, 0.0
    if dec.region != cur.region:
        gb = _checkpoint_gb(inst, name)
        links = lowest_rtt_paths(inst, cur.region).get(dec.region)
        if links is None:
            return {"hours": float("inf"), "gb": gb, "egress": 0.0, "cost": 0.0, "carbon": 0.0}
        if links:
            hours += gb / min(inst.links[i].gb_s for i in links) / 3600.0
            egress = gb * sum(inst.links[i].egress_usd_per_gb for i in links)
    region = inst.regions[dec.region]
    stock, accel = region.gpus.get(dec.accelerator), inst.accelerators.get(dec.accelerator)
    charges = horizon_charges(
        dec.gpus, hours, tdp_w=accel.tdp_w if accel else 0.0, pue=region.pue,
        carbon_g_per_kwh=region.mean_carbon_g_per_kwh, usd_per_gpu_hour=stock.usd_per_hour if stock else 0.0,
        energy_usd_per_kwh=region.energy_usd_per_kwh, price_includes_energy=stock is None or stock.includes_energy,
        include_embodied=inst.policy.include_embodied, embodied_kgco2e=accel.embodied_kgco2e if accel else 0.0,
        lifetime_hours=accel.lifetime_hours if accel else float("inf"), other_usd=egress)
    return {"hours": hours, "gb": gb, "egress": egress, "cost": float(charges["cost_usd"]),
            "carbon": float(charges["carbon_t"])}


def verify_change(inst: Instance, plan: Plan, report: Report) -> tuple[float, float]:
    """Check the plan's change against the deployed fleet; return the change's (USD, t CO2e) for the objective."""
    fleet = inst.deployed
    if fleet is None or not plan.has_plan:
        if fleet is None and plan.change is not None:
            report.check("change")
            report.add("change", ("current",), 1, "plans", "the plan states a change against a deployed plan "
                       "the instance does not have")
        return 0.0, 0.0
    held, deployed = held_gpus(plan), fleet.gpus()
    keys = set(held) | set(deployed)
    report.check("changed_gpus", len(keys))   # more - fewer = GPUs - deployed holds by this definition
    changed = sum(abs(held.get(k, 0) - deployed.get(k, 0)) for k in keys)
    cap = inst.policy.max_changed_gpus
    if cap is not None:
        report.upper("change_cap", ("fleet",), changed, cap, "GPUs",
                     "GPUs whose assignment changes against the deployed plan exceed policy.max_changed_gpus")
    moves = {}
    for name, dec in plan.training.items():
        cur = fleet.training.get(name)
        move = _move(inst, name, dec, cur) if cur is not None and name in inst.training else None
        if move is None:
            continue
        moves[name] = move
        report.upper("move_deadline", (name,), dec.wall_hours + move["hours"], inst.training[name].deadline_hours,
                     "hours", "the job's wall time plus its checkpoint transfer and restart is past its deadline")
    cost = changed * inst.policy.change_usd_per_gpu + sum(m["cost"] for m in moves.values())
    carbon = sum(m["carbon"] for m in moves.values())
    stated = plan.change
    report.check("change")
    if stated is None:
        report.add("change", ("current",), 1, "plans", "the instance re-plans a deployed plan but the plan states "
                   "no change against it")
        return cost, carbon
    _stated(report, ("changed_gpus",), stated.changed_gpus, changed, "GPUs")
    _stated(report, ("cost_usd",), stated.cost_usd, cost, "USD")
    _stated(report, ("carbon_t",), stated.carbon_t, carbon, "t CO2e")
    report.check("change")
    if set(stated.moves) != set(moves):
        report.add("change", ("moves",), len(set(stated.moves) ^ set(moves)), "jobs",
                   f"the plan moves {sorted(stated.moves)}, the decisions move {sorted(moves)}")
    for name in set(stated.moves) & set(moves):
        s, m = stated.moves[name], moves[name]
        for label, value, units in (("hours", m["hours"], "hours"), ("checkpoint_gb", m["gb"], "GB"),
                                    ("egress_usd", m["egress"], "USD"), ("cost_usd", m["cost"], "USD"),
                                    ("carbon_t", m["carbon"], "t CO2e")):
            _stated(report, ("moves", name, label), getattr(s, label), value, units)
    return cost, carbon


def _stated(report: Report, key, stated: float, recomputed: float, units: str) -> None:
    """A change figure the plan states against the one re-derived (family `change`)."""
    report.check("change")
    if differs(float(stated), float(recomputed)):
        report.add("change", key, abs(float(stated) - float(recomputed)), units,
                   f"{'.'.join(key)}: the plan states {float(stated):.6g}, the decisions give {float(recomputed):.6g}")
