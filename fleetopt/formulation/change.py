"""Re-planning from the fleet as deployed (`current:` or `--from`): what changing it costs and how much may change.

Only built when the instance has a deployed plan (io/current.py); a plan from nothing has none of these.

  changed[w,r,a,more|fewer]         continuous >= 0: GPUs of workload w on accelerator a in region r above
                                    (below) the deployed count; cost change_usd_per_gpu each
  changed_gpus[w,r,a]               GPUs(w,r,a) - changed[w,r,a,more] + changed[w,r,a,fewer] = deployed(w,r,a)
  change_cap[fleet]                 sum changed <= max_changed_gpus
  move_deadline[j]                  sum over j's candidates that move or change layout of
                                    (wall hours + move hours) x <= deadline
So more + fewer >= |GPUs(w,r,a) - deployed(w,r,a)|, with equality wherever a GPU of change costs something or
the cap binds (the plan's figure is read from the decisions, never from these columns). An equality per key,
not two inequalities: the definition is never listed among the binding rows.

A workload is `training.JOB` or `serving.SERVICE`; GPUs(w,r,a) are the job's candidate GPUs (or the service's
replicas x GPUs per replica) in r on a. A job moving 1,024 GPUs between regions changes 2,048 assignments
(1,024 released, 1,024 taken); a new layout on the same region and accelerator changes |new - current| GPUs.
Fairness evaluators (GPU-hours of batch work) are not counted.

A training job of the deployed plan that has made progress (policy.as_of_hour > 0) and moves region stops,
ships its checkpoint (14 B per parameter) over the lowest-RTT path of links and restarts: transfer at the
path's narrowest link, egress on every link crossed, then checkpoint_restart_min. One that changes
accelerator, TP, PP, DP or sync group in its region restarts from its checkpoint. Those hours are added to the
candidate's wall hours (move_deadline) and their charges (its GPUs held for the hours, plus egress) to its
objective coefficient, and the carbon of those hours to the carbon budget row (carbon_budget[fleet]: the
budget caps what the plan emits, moves included). A region no link reaches from the job's region is out of
its reach (upper bound 0).
A job without progress has no checkpoint: it starts wherever it is put, at no move cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.candidates.network import shortest_paths
from fleetopt.candidates.tables import SPOT, ServingCandidates, TrainingCandidates
from fleetopt.facts import add_family
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance, TransformerCard
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.training import checkpoint_bytes_per_gpu
from fleetopt.physics.training_flops import dense_param_count


@dataclass
class Moves:
    """Per training candidate: what changing to it from the deployed layout costs (zeros where nothing changes)."""

    changes: np.ndarray       # bool: the candidate's layout differs from the deployed one
    moves: np.ndarray         # bool: ... and its region differs
    reachable: np.ndarray     # bool: a path of links joins the regions (True where it does not move)
    checkpoint_gb: np.ndarray
    hours: np.ndarray         # transfer + restart
    egress_usd: np.ndarray
    cost_usd: np.ndarray      # the candidate's GPUs held for `hours` + egress
    carbon_t: np.ndarray


def checkpoint_gb(inst: Instance, job: str) -> float:
    """The job's full checkpoint in GB: bf16 weights + fp32 master and Adam moments, 14 B per parameter.
    Source: Rajbhandari et al. 2020 (ZeRO), via physics.training.checkpoint_bytes_per_gpu(params, tp=1, pp=1)."""
    card = inst.models[inst.training[job].model]
    if not isinstance(card, TransformerCard):
        return 0.0
    params = card.params_b * 1e9 if card.params_b else float(dense_param_count(
        card.layers, card.hidden, card.ffn_hidden, card.heads, card.kv_heads or card.heads, card.vocab,
        card.swiglu))
    return float(checkpoint_bytes_per_gpu(params, 1, 1)) / 1e9


def training_moves(inst: Instance, tc: TrainingCandidates) -> Moves:
    """What changing each candidate's job from its deployed layout takes: hours, egress, cost and carbon.
    Source: transfer = GB / narrowest link GB/s, egress per GB per link crossed (candidates/network.py, as a
    dataset travels); restart = TrainingJob.checkpoint_restart_min; charges by physics.economics.horizon_charges."""
    n = len(tc)
    out = Moves(np.zeros(n, bool), np.zeros(n, bool), np.ones(n, bool), *(np.zeros(n) for _ in range(5)))
    fleet = inst.deployed
    for j, name in enumerate(tc.job_names):
        cur = fleet.training.get(name) if fleet is not None else None
        if cur is None or cur.done_fraction <= 0.0:   # no progress, no checkpoint: it starts wherever it is put
            continue
        mine = np.flatnonzero(tc.job == j)
        region = np.asarray(tc.region_names)[tc.region[mine]]
        accel = np.asarray(tc.accel_names)[tc.accel[mine]]
        moved = region != cur.region
        changed = moved | (accel != cur.accelerator) | (tc.tp[mine] != cur.tp) | (tc.pp[mine] != cur.pp) \
            | (tc.dp[mine] != cur.dp) | (tc.sync_group[mine] != cur.sync_group)
        # per region: (transfer hours, egress USD per GB), or NaN where no path of links reaches it
        paths = shortest_paths(inst, cur.region) if cur.region in inst.regions else {}
        gb = checkpoint_gb(inst, name)
        per_region = np.full((len(tc.region_names), 2), np.nan)
        for r, links in paths.items():
            if r in tc.region_names:
                per_region[tc.region_names.index(r)] = (
                    gb / min(inst.links[k].gb_s for k in links) / 3600.0 if links else 0.0,
                    sum(inst.links[k].egress_usd_per_gb for k in links))
        route = per_region[tc.region[mine]]
        c, m = mine[changed], mine[moved]
        out.changes[c], out.moves[m] = True, True
        out.hours[c] = inst.training[name].checkpoint_restart_min / 60.0
        out.checkpoint_gb[m] = gb
        out.reachable[m] = ~np.isnan(route[moved, 0])
        out.hours[m] += np.nan_to_num(route[moved, 0])
        out.egress_usd[m] = gb * np.nan_to_num(route[moved, 1])
    idx = np.flatnonzero(out.changes)
    if len(idx):
        charges = move_charges(inst, tc, idx, out.hours[idx], out.egress_usd[idx])
        out.cost_usd[idx], out.carbon_t[idx] = charges["cost_usd"], charges["carbon_t"]
    return out


def move_charges(inst: Instance, tc: TrainingCandidates, idx: np.ndarray, hours, egress) -> dict:
    """The candidates' GPUs held `hours` in their region (power, energy, carbon, cost) plus egress."""
    regions = [inst.regions[tc.region_names[r]] for r in tc.region[idx]]
    accels = [tc.accel_names[a] for a in tc.accel[idx]]
    stock = [reg.gpus.get(a) for reg, a in zip(regions, accels)]
    spec = [inst.accelerators.get(a) for a in accels]
    return horizon_charges(
        tc.gpus[idx].astype(float), hours, tdp_w=np.array([s.tdp_w if s else 0.0 for s in spec]),
        pue=np.array([r.pue for r in regions]), carbon_g_per_kwh=np.array([r.mean_carbon_g_per_kwh for r in regions]),
        usd_per_gpu_hour=np.array([0.0 if not g else g.spot.usd_per_hour if cls == SPOT else g.usd_per_hour
                                   for g, cls in zip(stock, tc.procurement[idx])]),
        energy_usd_per_kwh=np.array([r.energy_usd_per_kwh for r in regions]),
        price_includes_energy=np.array([g is None or g.includes_energy for g in stock]),
        include_embodied=inst.policy.include_embodied,
        embodied_kgco2e=np.array([s.embodied_kgco2e if s else 0.0 for s in spec]),
        lifetime_hours=np.array([s.lifetime_hours if s else np.inf for s in spec]), other_usd=egress)


def workload_gpus(tc: TrainingCandidates, sc: ServingCandidates, form: Formulation):
    """Every column that holds GPUs, as (workload, region, accelerator) labels, columns and GPUs per unit."""
    x, n = form.blocks["train_choice"], form.blocks["replicas"]
    labels = [(f"training.{tc.job_names[j]}", tc.region_names[r], tc.accel_names[a])
              for j, r, a in zip(tc.job, tc.region, tc.accel)]
    labels += [(f"serving.{sc.service_names[s]}", sc.region_names[r], sc.accel_names[a])
               for s, r, a in zip(sc.service, sc.region, sc.accel)]
    cols = np.concatenate([x.cols, n.cols])
    gpus = np.concatenate([tc.gpus, sc.gpus_per_replica]).astype(float)
    return labels, cols, gpus


def add_change(form: Formulation, inst: Instance, tc: TrainingCandidates, sc: ServingCandidates,
               w_usd: float, w_t: float) -> None:
    """The change families, when the instance re-plans a deployed fleet (none otherwise)."""
    if inst.deployed is None:
        return
    moves = training_moves(inst, tc)
    x = form.blocks["train_choice"]
    x.cost += w_usd * moves.cost_usd + w_t * moves.carbon_t
    x.ub[~moves.reachable] = 0.0
    add_move_carbon(form, x, moves)
    add_move_deadline(form, inst, tc, moves)
    d = add_changed(form, inst, tc, sc, w_usd)
    add_change_cap(form, inst, d)


def add_move_carbon(form: Formulation, x, moves: Moves) -> None:
    """A move's GPUs held idle emit like any other hours (move_charges), so they count against the carbon
    budget as they count in the objective."""
    budget = form.families.get("carbon_budget")
    cand = np.flatnonzero(moves.carbon_t)
    if budget is None or not len(cand):
        return
    budget.rows = np.concatenate([budget.rows, np.zeros(len(cand), dtype=np.int64)])
    budget.cols = np.concatenate([budget.cols, x.start + cand])
    budget.vals = np.concatenate([budget.vals, moves.carbon_t[cand]])
    form.invalidate()


def add_move_deadline(form: Formulation, inst: Instance, tc: TrainingCandidates, moves: Moves) -> None:
    cand = np.flatnonzero(moves.changes)
    jobs = sorted({int(j) for j in tc.job[cand]})
    row_of = {j: i for i, j in enumerate(jobs)}
    add_family(form, "move_deadline", [(tc.job_names[j],) for j in jobs],
               np.array([row_of[int(j)] for j in tc.job[cand]], dtype=np.int64), form.blocks["train_choice"].cols[cand],
               tc.wall_hours[cand] + moves.hours[cand],
               upper=[inst.training[tc.job_names[j]].deadline_hours for j in jobs])


def add_changed(form: Formulation, inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, w_usd: float):
    labels, cols, gpus = workload_gpus(tc, sc, form)
    deployed = inst.deployed.gpus()
    keys = list(dict.fromkeys(labels + list(deployed)))
    key_of = {k: i for i, k in enumerate(keys)}
    k = len(keys)
    # columns 0..k-1: GPUs more than deployed; k..2k-1: fewer
    d = form.add_vars("changed", [key + ("more",) for key in keys] + [key + ("fewer",) for key in keys], lb=0.0,
                      cost=w_usd * inst.policy.change_usd_per_gpu)
    which = np.array([key_of[lab] for lab in labels], dtype=np.int64)
    current = np.array([deployed.get(key, 0) for key in keys], dtype=float)
    add_family(form, "changed_gpus", keys, np.concatenate([which, np.arange(k), np.arange(k)]),
               np.concatenate([cols, d.cols]), np.concatenate([gpus, -np.ones(k), np.ones(k)]),
               lower=current, upper=current)
    return d


def add_change_cap(form: Formulation, inst: Instance, d) -> None:
    cap = inst.policy.max_changed_gpus
    if cap is None:
        return
    add_family(form, "change_cap", [("fleet",)], np.zeros(d.size, dtype=np.int64), d.cols, np.ones(d.size),
               upper=float(cap))


def set_changed(form: Formulation, inst: Instance, tc: TrainingCandidates, sc: ServingCandidates,
                x: np.ndarray) -> None:
    """Fill the `changed` columns of `x` from its GPU-holding columns (more, fewer = the parts of GPUs - deployed
    above and below 0): what the solver would put there, for a plan read back from its JSON."""
    if "changed" not in form.blocks:
        return
    d = form.blocks["changed"]
    k = d.size // 2
    index = {key[:3]: i for i, key in enumerate(d.keys[:k])}
    labels, cols, gpus = workload_gpus(tc, sc, form)
    held = np.zeros(k)
    np.add.at(held, np.array([index[lab] for lab in labels], dtype=np.int64), np.round(x[cols]) * gpus)
    deployed = inst.deployed.gpus()
    excess = held - np.array([deployed.get(key[:3], 0) for key in d.keys[:k]], dtype=float)
    x[d.cols[:k]], x[d.cols[k:]] = np.maximum(excess, 0.0), np.maximum(-excess, 0.0)
