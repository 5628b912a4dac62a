"""Training candidates: every (region, accelerator, tp, pp, dp, micro-batch, recompute, interleave, sync group,
checkpoint interval) of each job, scored by the physics, then pruned.

Step times do not depend on a job's tokens or deadline: jobs and regions that share the model, accelerator,
sequence length, global batch, memory flags and the region's network (NIC rate, latency, pod size,
oversubscription) share one step-time table (`StepTable`), computed once on the grid at the accelerator's
largest stock and cut to each region's stock; the checkpoint and failure terms are shared likewise per
(table, storage bandwidth, restart time). Per job only the wall hours, the deadline, the storage demand and,
for the candidates that survive pruning, power, energy, carbon and cost are computed, as arrays.

Pruning, in order: memory (does not fit), deadline (misses it), inventory (more GPUs than the region stocks),
then dominance within each (job, region, accelerator): a candidate is dropped when another needs no more GPUs,
no more charged GPU-hours (so no more cost, energy or carbon) and no more storage bandwidth, and is better in one.
Storage leaves the test in regions where it cannot bind even with every job at its hungriest candidate.
Accounting is over the planning horizon: a job longer than the horizon is charged for the horizon's share.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fleetopt.candidates.federated import EDGE_DEVICE, federated_candidates
from fleetopt.candidates.network import dataset_routes
from fleetopt.candidates.tables import ON_DEMAND, SPOT, TrainingCandidates
from fleetopt.errors import InputError, Problem
from fleetopt.io.schema import CnnCard, Instance, TransformerCard
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.reliability import (
    checkpoint_write_time_s,
    daly_interval,
    goodput,
    group_mtbf_hours,
    mtbf_with_preemptions_hours,
)
from fleetopt.physics.training import C3_TERMS, training_step_time
from fleetopt.physics.training_flops import dense_param_count

TP_CHOICES = (1, 2, 4, 8)
PP_CHOICES = (1, 2, 4, 8, 16, 32, 64)
MICRO_BATCH_CHOICES = (1, 2, 4)
RECOMPUTE_CHOICES = (0, 1, 2)           # none, selective, full
INTERLEAVE_CHOICES = (1, 2, 4)
SYNC_GROUP_DIVISORS = (1, 4)            # sync group = dp / divisor: 1 = fully synchronous
CHECKPOINT_MULTIPLES = (1.0, 2.0)       # x the Daly interval: 2x trades goodput for storage bandwidth
CHECKPOINT_BYTES_PER_PARAM = 14.0       # bf16 weights + fp32 master and Adam moments (Rajbhandari et al. 2020)
DATA_BYTES_PER_TOKEN = 4.0              # tokenized training data read per token (int32 ids)
CALIBRATION_KEYS = ("eff_max", "flash_efficiency_ratio", "pp_overlap_fraction", "softmax_bytes_per_score",
                    "nvlink_efficiency", "nic_efficiency",
                    "nvlink_latency_us", "straggler_cv", "dp_overlap_fraction", "outer_sync_interval_steps",
                    "outer_sync_penalty_per_group")


@dataclass
class _Grid:
    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    micro_batch: np.ndarray
    recompute: np.ndarray
    interleave: np.ndarray
    sync_group: np.ndarray


def parallel_grid(card: TransformerCard, batch_seqs: int, max_gpus: int, gpus_per_node: int) -> _Grid:
    """All (tp, pp, dp, mb, recompute, v, sync group) combinations that divide the model and batch sensibly."""
    kv = card.kv_heads or card.heads
    tps = [t for t in TP_CHOICES if t <= gpus_per_node and card.heads % t == 0 and (kv % t == 0 or t <= kv)]
    pps = [p for p in PP_CHOICES if p <= card.layers]  # uneven stages allowed (Llama 3: 126 layers on 16)
    dps = [d for d in 2 ** np.arange(0, 17) if d <= batch_seqs]
    t, p, d, b, r, v, g = (a.ravel() for a in np.meshgrid(tps, pps, dps, MICRO_BATCH_CHOICES, RECOMPUTE_CHOICES,
                                                            INTERLEAVE_CHOICES, SYNC_GROUP_DIVISORS, indexing="ij"))
    sync = d // g
    keep = ((t * p * d <= max_gpus) & (d * b <= batch_seqs) & (d % g == 0) & (sync >= 1)
            & ((v == 1) | ((p > 1) & (p * v <= card.layers))))
    return _Grid(t[keep], p[keep], d[keep], b[keep], r[keep], v[keep], sync[keep])


def _calibration(accel, file: str, job: str) -> dict:
    bad = [k for k in accel.calibration if k not in CALIBRATION_KEYS]
    if bad:
        raise InputError([Problem(file, f"accelerators.{job}.calibration.{bad[0]}",
                                  f"unknown calibration key; expected one of {', '.join(CALIBRATION_KEYS)}")])
    return dict(accel.calibration)


def _front_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Indices of the points no other point weakly dominates in (a, b), both minimized; one of equal twins.
    They come sorted by a (increasing) and b (decreasing): a staircase."""
    order = np.lexsort((b, a))
    sorted_b = b[order]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], sorted_b[:-1]]))
    return order[sorted_b < best_before]


def pareto_mask(gpus: np.ndarray, gpu_hours: np.ndarray, storage: np.ndarray) -> np.ndarray:
    """True for candidates no other candidate dominates in (GPUs, GPU-hours, storage GB/s), all minimized.

    GPU counts take few distinct values: each level keeps its own 2D front, then loses the points that the front
    of strictly fewer GPUs weakly dominates in (GPU-hours, storage), found by bisection on that staircase.
    O(n log n) per level.
    """
    keep = np.zeros(len(gpus), dtype=bool)
    front_h, front_s = np.empty(0), np.empty(0)
    for level in np.unique(gpus):
        idx = np.flatnonzero(gpus == level)
        idx = idx[_front_2d(gpu_hours[idx], storage[idx])]
        if len(front_h):
            # the staircase point with the most hours not above a point's has the least storage among them
            last = np.searchsorted(front_h, gpu_hours[idx], side="right") - 1
            beaten = (last >= 0) & (front_s[np.maximum(last, 0)] <= storage[idx])
            idx = idx[~beaten]
        keep[idx] = True
        both_h = np.concatenate([front_h, gpu_hours[idx]])
        both_s = np.concatenate([front_s, storage[idx]])
        merged = _front_2d(both_h, both_s)
        front_h, front_s = both_h[merged], both_s[merged]
    return keep


def grouped_pareto_mask(group: np.ndarray, gpus: np.ndarray, gpu_hours: np.ndarray,
                        storage: np.ndarray) -> np.ndarray:
    """pareto_mask within each group, in one call: hours and storage become exact integer ranks, shifted so
    that a later group has more hours and less storage than any point of an earlier one (no point can dominate
    across groups); ties and their order inside a group are kept, so the result is pareto_mask's per group.
    """
    if len(group) == 0:
        return np.zeros(0, dtype=bool)
    _, g = np.unique(group, return_inverse=True)
    _, h = np.unique(gpu_hours, return_inverse=True)
    _, s = np.unique(storage, return_inverse=True)
    width = max(int(h.max()), int(s.max())) + 1
    last = int(g.max())
    return pareto_mask(gpus, (g * width + h).astype(float), ((last - g) * width + s).astype(float))


@dataclass
class StepTable:
    """Step times of one (model, accelerator, seq_len, global batch, memory flags, region network), on the grid
    at the accelerator's largest stock; only the configurations that fit in memory are kept, in grid order."""

    grid_gpus: np.ndarray       # GPUs of every configuration of the grid, sorted (counts per stock)
    fit_gpus: np.ndarray        # GPUs of the configurations that fit, sorted
    grid: _Grid                 # the configurations that fit
    gpus: np.ndarray
    step: dict                  # step_time_s, compute_s, comm_s, bubble_s, sync_s, overlap_s, mfu, memory_gb,
                                # binding_term (codes): one entry per configuration that fits
    reliability: dict = field(default_factory=dict)   # (storage GB/s, restart min) -> per checkpoint multiple
    levels: np.ndarray = field(init=False)              # the distinct GPU counts that fit, and each row's
    level_of: np.ndarray = field(init=False)

    def __post_init__(self):
        self.levels, self.level_of = np.unique(self.gpus, return_inverse=True)
        self._sorted = (self.grid_gpus.tolist(), self.fit_gpus.tolist())   # for scalar bisection, per stock
        self.orders: dict = {}   # id of a reliability list -> _Order
        self.levels_list = self.levels.tolist()

    def counts(self, stock: int) -> tuple[int, int]:
        """Configurations enumerated and fitting with at most `stock` GPUs."""
        return bisect_right(self._sorted[0], stock), bisect_right(self._sorted[1], stock)


@dataclass
class _Context:
    """Everything enumerate_training shares across jobs: name indices, step tables, dataset routes."""

    inst: Instance
    tables: dict
    largest_stock: dict         # accelerator -> its largest stock in any region
    steps: dict = field(default_factory=dict)
    routes: dict = field(default_factory=dict)
    _lookup: dict = field(default_factory=dict)

    def lookup(self) -> dict:
        """Region, accelerator and stock figures as arrays indexed like the table (stock: [region, accel])."""
        if not self._lookup:
            regions = [self.inst.regions[r] for r in self.tables["region"]]
            accels = [self.inst.accelerators.get(a) for a in self.tables["accel"]]
            self._lookup["region"] = {k: np.array([getattr(x, k) for x in regions], dtype=float)
                                      for k in ("pue", "mean_carbon_g_per_kwh", "energy_usd_per_kwh")}
            self._lookup["accel"] = {k: np.array([getattr(x, k) if x is not None else np.nan for x in accels])
                                     for k in ("tdp_w", "embodied_kgco2e", "lifetime_hours")}
            self._lookup["stock"] = {k: np.array([[float(getattr(x.gpus[a], k)) if a in x.gpus else np.nan
                                                   for a in self.tables["accel"]] for x in regions])
                                     for k in ("usd_per_hour", "includes_energy")}
            self._lookup["stock"]["spot_usd_per_hour"] = np.array(
                [[x.gpus[a].spot.usd_per_hour if a in x.gpus and x.gpus[a].spot else np.nan
                  for a in self.tables["accel"]] for x in regions])
        return self._lookup


def _step_table(ctx: _Context, card: TransformerCard, job, batch_seqs: int, aname: str, region) -> StepTable:
    accel = ctx.inst.accelerators[aname]
    key = (job.model, aname, job.seq_len, batch_seqs, job.sequence_parallel, job.distributed_optimizer,
           job.flash_attention, region.nic_gb_s, region.net_latency_us, region.pod_gpus, region.oversubscription)
    if key in ctx.steps:
        return ctx.steps[key]
    calibration = _calibration(accel, ctx.inst.source or "instance", aname)
    g = parallel_grid(card, batch_seqs, ctx.largest_stock[aname], accel.gpus_per_node)
    res = training_step_time(
        layers=card.layers, hidden=card.hidden, ffn_hidden=card.ffn_hidden, heads=card.heads,
        kv_heads=card.kv_heads or card.heads, vocab=card.vocab, swiglu=card.swiglu, seq_len=job.seq_len,
        global_batch=batch_seqs, tp=g.tp, pp=g.pp, dp=g.dp, micro_batch=g.micro_batch,
        recompute=g.recompute, virtual_stages=g.interleave, sync_group=g.sync_group,
        sequence_parallel=job.sequence_parallel, distributed_optimizer=job.distributed_optimizer,
        flash_attention=job.flash_attention,
        peak_tflops=accel.peak_tflops, hbm_gb=accel.hbm_gb, hbm_gb_s=accel.hbm_gb_s,
        gpus_per_node=accel.gpus_per_node, nvlink_gb_s=accel.nvlink_gb_s or accel.pcie_gb_s,
        nic_gb_s=region.nic_gb_s, net_latency_us=region.net_latency_us, pod_gpus=region.pod_gpus,
        oversubscription=region.oversubscription, **calibration)
    fits = np.asarray(res["fits"], dtype=bool)
    gpus = g.tp * g.pp * g.dp
    fit_grid = _Grid(*(getattr(g, f)[fits] for f in _Grid.__dataclass_fields__))
    step = {k: res[k][fits] for k in ("step_time_s", "compute_s", "comm_s", "bubble_s", "sync_s", "overlap_s",
                                       "mfu")}
    step["memory_gb"] = res["memory_gb_per_gpu"][fits]
    step["binding_term"] = _term_codes(res["binding_term"][fits])
    table = ctx.steps[key] = StepTable(np.sort(gpus), np.sort(gpus[fits]), fit_grid, gpus[fits], step)
    return table


def _reliability(table: StepTable, accel, region, params: float, restart_min: float,
                 preemptions_per_gpu_hour: float = 0.0) -> list[dict]:
    """Per checkpoint multiple: interval, goodput (NaN where none is left) and checkpoint GB/s x 1e9 per
    configuration; failures per fate-sharing sync group, each checkpoint interval choice its own candidate.
    On spot, preemptions add their rate to the GPUs' failure rate (one law: physics/reliability)."""
    key = (region.storage_gb_s, restart_min, preemptions_per_gpu_hour)
    if key in table.reliability:
        return table.reliability[key]
    g = table.grid
    per_gpu = (accel.mtbf_hours if preemptions_per_gpu_hour == 0.0
               else mtbf_with_preemptions_hours(accel.mtbf_hours, preemptions_per_gpu_hour))
    mtbf_s = group_mtbf_hours(per_gpu, g.sync_group * g.tp * g.pp) * 3600.0
    ckpt_bytes = params * CHECKPOINT_BYTES_PER_PARAM
    delta_s = checkpoint_write_time_s(ckpt_bytes, region.storage_gb_s * 1e9)
    groups = g.dp / g.sync_group
    out = []
    for multiple in CHECKPOINT_MULTIPLES:
        tau_s = daly_interval(delta_s, mtbf_s) * multiple
        good = goodput(delta_s, tau_s, restart_min * 60.0, mtbf_s)
        out.append({"tau_s": tau_s, "goodput": good, "good": np.where(good > 0, good, np.nan),
                    "checkpoint_bytes_s": groups * ckpt_bytes / tau_s})
    table.reliability[key] = out
    return out


@dataclass
class _LevelFronts:
    """One job's rows of one (step table, reliability, dataset transfer time) that meet the deadline and no other
    row of them dominates in (GPUs, charged GPU-hours, storage): what the first pruning keeps of them in every
    region with this table, cut to the region's stock (a row's dominators have no more GPUs than it, so a
    region's stock, which keeps or drops whole levels, never changes which rows survive below it). `plain` marks
    the rows also kept when storage leaves the test (the second pruning, where storage cannot bind). In row
    order: checkpoint multiple, then grid order."""

    multiple: np.ndarray
    row: np.ndarray
    gpus: np.ndarray
    wall_hours: np.ndarray
    storage_gb_s: np.ndarray
    plain: np.ndarray
    levels: list                # the table's GPU levels; with at most that many GPUs: the rows meeting the
    on_time: list               # deadline at the first multiple, and the fastest wall hours
    fastest_hours: list


@dataclass
class _Order:
    """A table's rows at every checkpoint multiple of one reliability (position i = multiple x rows + row), in
    the order by (GPU level, step time / goodput, checkpoint GB/s, i): for any job, that is the order by (level,
    charged hours, storage, i) but for rounding, which _level_fronts checks."""

    at: np.ndarray              # positions, in this order
    level: np.ndarray
    gpus: np.ndarray
    step: np.ndarray
    good: np.ndarray
    checkpoint: np.ndarray
    first: np.ndarray           # the positions (into `at`) of the first multiple's rows
    first_starts: np.ndarray    # where each level starts among them


def _order(table: StepTable, rels: list[dict]) -> _Order:
    if id(rels) in table.orders:
        return table.orders[id(rels)]
    n, m = len(table.gpus), len(rels)
    step = np.tile(table.step["step_time_s"], m)
    good = np.concatenate([rel["good"] for rel in rels])
    checkpoint = np.concatenate([rel["checkpoint_bytes_s"] for rel in rels])
    level = np.tile(table.level_of, m)
    at = np.lexsort((checkpoint, step / good, level))   # a stable sort: ties keep position order
    first = np.flatnonzero(at < n)
    first_starts = _starts(level[at[first]])
    table.orders[id(rels)] = out = _Order(at, level[at], table.gpus[at % n], step[at], good[at], checkpoint[at],
                                          first, first_starts)
    return out


def _level_fronts(table: StepTable, rels: list[dict], job, steps: float, transfer_h: float,
                  horizon_hours: float) -> _LevelFronts:
    o = _order(table, rels)
    n = len(table.gpus)
    wall_all = steps * o.step / o.good / 3600.0 + transfer_h
    sel = np.flatnonzero(np.isfinite(wall_all) & (wall_all <= job.deadline_hours))
    at, wall, level, gpus = o.at[sel], wall_all[sel], o.level[sel], o.gpus[sel]
    storage = (job.tokens / (wall * 3600.0) * DATA_BYTES_PER_TOKEN + o.checkpoint[sel]) / 1e9
    hours = (gpus * np.minimum(wall, horizon_hours)).astype(float)
    if not _sorted(level, hours, storage, at):
        order = np.lexsort((at, storage, hours, level))
        at, wall, level, gpus, storage, hours = (x[order] for x in (at, wall, level, gpus, storage, hours))
    keep, plain = _sorted_fronts(level, hours, storage)
    back = np.argsort(at[keep])
    keep = keep[back]
    first_wall = wall_all[o.first]
    fastest = np.minimum.reduceat(np.where(np.isnan(first_wall), np.inf, first_wall), o.first_starts)
    on_time = np.cumsum(np.bincount(level[at < n], minlength=len(table.levels)))
    return _LevelFronts(at[keep] // n, at[keep] % n, gpus[keep], wall[keep], storage[keep], plain[back],
                        table.levels_list, on_time.tolist(), np.minimum.accumulate(fastest).tolist())


def _starts(level: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    if not len(level):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], level[1:] != level[:-1]]))


def _running_min_before(level: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row of a level-sorted array, the least value of the rows before it in its level (inf for the first):
    the levels as the rows of one inf-padded matrix, one running minimum."""
    starts = _starts(level)
    length = np.diff(np.concatenate([starts, [len(level)]]))
    pos = np.arange(len(level)) - np.repeat(starts, length)
    row = np.repeat(np.arange(len(starts)), length)
    pad = np.full((len(starts), int(length.max(initial=0)) + 1), np.inf)
    pad[row, pos + 1] = values
    return np.minimum.accumulate(pad, axis=1)[row, pos]


def _sorted(level: np.ndarray, hours: np.ndarray, storage: np.ndarray, at: np.ndarray) -> bool:
    """Are the rows in increasing (level, hours, storage, at) order, as np.lexsort would put them?"""
    if len(level) < 2:
        return True
    lv, h, s = (level[1:] - level[:-1]), (hours[1:] - hours[:-1]), (storage[1:] - storage[:-1])
    h_eq, s_eq = hours[1:] == hours[:-1], storage[1:] == storage[:-1]
    return bool(np.all((lv > 0) | ((lv == 0) & ((h > 0) | (h_eq & ((s > 0) | (s_eq & (at[1:] > at[:-1]))))))))


def _sorted_fronts(level: np.ndarray, hours: np.ndarray, storage: np.ndarray):
    """Rows sorted by (level, hours, storage, index): the positions of those no other row dominates in (level,
    hours, storage) (of equal twins the first), and which of these no other of them dominates in (level, hours)
    alone. Same survivors as pareto_mask: each level's 2D staircase (a running minimum of storage), less the
    points that a lower level's point weakly dominates (a [levels x rows] running minimum over rows by hours)."""
    idx = np.flatnonzero(storage < _running_min_before(level, storage))
    lv, h, s = level[idx], hours[idx], storage[idx]
    lv = lv - (lv[0] if len(idx) else 0)   # sorted: the lowest level present is row 0 of the matrix
    n_levels = int(lv[-1]) + 1 if len(idx) else 0
    by_hours = np.argsort(h, kind="stable")
    lower = np.full((n_levels, len(idx)), np.inf)
    lower[lv[by_hours], np.arange(len(idx))] = s[by_hours]
    lower = np.minimum.accumulate(np.minimum.accumulate(lower, axis=0), axis=1)
    last = np.searchsorted(h[by_hours], h, side="right") - 1
    beaten = (lv > 0) & (lower[np.maximum(lv - 1, 0), last] <= s)
    keep = idx[~beaten]
    # without storage: a level's fewest hours, if below every lower level's
    firsts = _starts(level[keep])
    best = hours[keep][firsts]
    below = best < np.concatenate([[np.inf], np.minimum.accumulate(best)[:-1]])
    plain = np.zeros(len(keep), dtype=bool)
    plain[firsts[below]] = True
    return keep, plain


def _job_params(card: TransformerCard) -> float:
    return float(card.params_b * 1e9) if card.params_b else float(dense_param_count(
        card.layers, card.hidden, card.ffn_hidden, card.heads, card.kv_heads or card.heads, card.vocab, card.swiglu))


@dataclass
class _Kept:
    """One job's candidates after the first pruning: `rows` holds region and storage_gb_s (what storage_may_bind
    reads: all rows, or each region's hungriest); `finish(tight)` prunes again with storage only in the `tight`
    regions and gives every field."""

    rows: dict
    finish: Callable[[np.ndarray], dict]


@dataclass
class _Groups:
    """One job's (region, accelerator, class) groups, each the rows of one _LevelFronts cut to the group's stock."""

    fronts: list                # the distinct _LevelFronts of the job, in first use
    front: list = field(default_factory=list)    # per group: index into fronts
    region: list = field(default_factory=list)
    accel: list = field(default_factory=list)
    procurement: list = field(default_factory=list)
    stock: list = field(default_factory=list)
    sources: list = field(default_factory=list)  # per front: its source index per checkpoint multiple

    def rows(self, tight: np.ndarray | None) -> dict:
        """Each group's rows with at most its stock of GPUs, in group order then row order; where `tight` is
        given, only the rows kept without storage in the regions outside it (the second pruning)."""
        f = self.fronts
        size = np.array([len(x.row) for x in f], dtype=np.int64)
        cat = {k: np.concatenate([getattr(x, k) for x in f]) for k in ("multiple", "row", "gpus", "wall_hours",
                                                                         "storage_gb_s", "plain")}
        g_front = np.array(self.front, dtype=np.int64)
        g_len = size[g_front]
        total = int(g_len.sum())
        first = np.concatenate([[0], np.cumsum(size)[:-1]])[g_front]
        at = np.repeat(first - (np.cumsum(g_len) - g_len), g_len) + np.arange(total)
        keep = cat["gpus"][at] <= np.repeat(np.array(self.stock, dtype=np.int64), g_len)
        region = np.repeat(np.array(self.region, dtype=np.int64), g_len)
        if tight is not None:
            keep &= tight[region] | cat["plain"][at]
        at = at[keep]
        source = np.array(self.sources, dtype=np.int64)[np.repeat(g_front, g_len)[keep], cat["multiple"][at]]
        return {"source": source, "row": cat["row"][at], "region": region[keep],
                "accel": np.repeat(np.array(self.accel, dtype=np.int64), g_len)[keep],
                "procurement": np.repeat(np.array(self.procurement, dtype=np.int64), g_len)[keep],
                "gpus": cat["gpus"][at], "wall_hours": cat["wall_hours"][at],
                "storage_gb_s": cat["storage_gb_s"][at]}


def _job_candidates(ctx: _Context, jname: str, stats: dict) -> _Kept | None:
    """One job's candidates after the first pruning (storage in the test everywhere); None if none."""
    inst, tables = ctx.inst, ctx.tables
    job = inst.training[jname]
    card = inst.models[job.model]
    file = inst.source or "instance"
    width = len(tables["accel"])
    if isinstance(card, CnnCard):
        pieces = federated_candidates(inst, jname, tables["job"][jname], tables["region"],
                                      tables["accel"][EDGE_DEVICE], stats)
        if not pieces:
            return None
        cand = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        rows = _prune(cand, inst.horizon_hours, width, np.ones(len(tables["region"]), dtype=bool))
        return _Kept(rows, lambda tight: _prune(rows, inst.horizon_hours, width, tight))
    if not isinstance(card, TransformerCard):
        raise InputError([Problem(file, f"training.{jname}.model", f"model '{job.model}' is a {card.kind} card; "
                                  "training is modelled for transformer (datacenter) and cnn (federated, edge "
                                  "regions) cards")])
    batch_seqs = max(1, int(round(job.global_batch_tokens / job.seq_len)))
    params = _job_params(card)
    if job.dataset_region not in ctx.routes:
        ctx.routes[job.dataset_region] = dataset_routes(inst, job.dataset_region)
    routes = ctx.routes[job.dataset_region]
    st = stats[jname] = {"enumerated": 0, "fit": 0, "meet_deadline": 0, "kept": 0}
    steps = job.tokens / (batch_seqs * job.seq_len)
    best_hours = np.inf
    sources: dict[tuple, int] = {}   # (table, reliability) -> index into `used`
    used: list[tuple[StepTable, dict]] = []
    fronts: dict[tuple, int] = {}    # (table, reliabilities, transfer hours) -> index into groups.fronts
    groups = _Groups([])
    for rname in job.allowed_regions or list(inst.regions):
        region = inst.regions[rname]
        if region.kind != "datacenter":
            continue
        if job.dataset_region and rname not in routes:
            continue  # the dataset cannot reach this region over any link
        transfer_h = routes.get(rname, (0.0, 0.0, 0.0))[2] * job.dataset_tb if job.dataset_region else 0.0
        for aname, cls, count, preempt in _classes(region):
            if count <= 0 or (job.allowed_accelerators and aname not in job.allowed_accelerators):
                continue
            accel = inst.accelerators[aname]
            table = _step_table(ctx, card, job, batch_seqs, aname, region)
            enumerated, fit = table.counts(count)
            st["enumerated"] += enumerated
            st["fit"] += fit
            if fit == 0:
                continue
            rels = _reliability(table, accel, region, params, job.checkpoint_restart_min, preempt)
            key = (id(table), id(rels), transfer_h)
            if key not in fronts:
                fronts[key] = len(groups.fronts)
                groups.fronts.append(_level_fronts(table, rels, job, steps, transfer_h, inst.horizon_hours))
                for rel in rels:
                    if (id(table), id(rel)) not in sources:
                        sources[(id(table), id(rel))] = len(used)
                        used.append((table, rel))
                groups.sources.append([sources[(id(table), id(rel))] for rel in rels])
            lf = groups.fronts[fronts[key]]
            below = bisect_right(lf.levels, count) - 1
            st["meet_deadline"] += lf.on_time[below] if below >= 0 else 0
            best_hours = min(best_hours, lf.fastest_hours[below])
            if not lf.gpus.size or lf.gpus.min() > count:
                continue
            groups.front.append(fronts[key])
            groups.region.append(tables["region"][rname])
            groups.accel.append(tables["accel"][aname])
            groups.procurement.append(cls)
            groups.stock.append(count)
    if not groups.front:
        if st["fit"] == 0:
            st["why"] = "no configuration fits in accelerator memory in any allowed region"
        else:
            st["why"] = (f"no configuration meets the deadline of {job.deadline_hours:g} h "
                         f"(fastest that fits: {best_hours:,.0f} h)")
        return None
    # storage_may_bind reads only each region's hungriest row: keep that, not the rows
    first = groups.rows(None)
    most = np.zeros(len(tables["region"]))
    np.maximum.at(most, first["region"], first["storage_gb_s"])
    regions = np.unique(first["region"])
    return _Kept({"region": regions, "storage_gb_s": most[regions]},
                 lambda tight: _fields(ctx, jname, job, groups.rows(tight), used, routes))


def _fields(ctx: _Context, jname: str, job, rows: dict, used: list[tuple[StepTable, dict]], routes: dict) -> dict:
    """Every field of the table for the rows kept, gathered from their step tables and charged as arrays."""
    inst, tables = ctx.inst, ctx.tables
    n_rows = len(rows["row"])
    grid_fields = ("tp", "pp", "dp", "micro_batch", "recompute", "interleave", "sync_group")
    out = {k: np.zeros(n_rows, dtype=np.int64) for k in grid_fields + ("binding_term",)}
    for k in ("step_time_s", "compute_s", "comm_s", "bubble_s", "sync_s", "overlap_s", "mfu", "memory_gb",
              "checkpoint_interval_s", "goodput"):
        out[k] = np.zeros(n_rows)
    region_names = list(tables["region"])
    for source, (table, rel) in enumerate(used):
        sel = np.flatnonzero(rows["source"] == source)
        if not len(sel):
            continue
        row = rows["row"][sel]
        for k in grid_fields:
            out[k][sel] = getattr(table.grid, k)[row]
        for k in ("step_time_s", "compute_s", "comm_s", "bubble_s", "sync_s", "overlap_s", "mfu", "memory_gb",
                  "binding_term"):
            out[k][sel] = table.step[k][row]
        out["checkpoint_interval_s"][sel] = rel["tau_s"][row]
        out["goodput"][sel] = rel["goodput"][row]
    n = out["tp"] * out["pp"] * out["dp"]
    hours = np.minimum(rows["wall_hours"], inst.horizon_hours)
    r, a = rows["region"], rows["accel"]
    lookup = ctx.lookup()

    def per_region(attr):
        return lookup["region"][attr][r]

    def per_accel(attr):
        return lookup["accel"][attr][a]

    def per_stock(attr):
        return lookup["stock"][attr][r, a]

    spot = rows["procurement"] == SPOT
    price = np.where(spot, lookup["stock"]["spot_usd_per_hour"][r, a], per_stock("usd_per_hour"))
    if job.dataset_region:
        per_tb = np.array([routes.get(name, (0.0, 0.0, 0.0))[:2] for name in region_names], dtype=float)[r]
    else:
        per_tb = np.zeros((n_rows, 2))
    transfer_gb, egress_usd = per_tb[:, 0] * job.dataset_tb, per_tb[:, 1] * job.dataset_tb
    charges = horizon_charges(
        n, hours, tdp_w=per_accel("tdp_w"), pue=per_region("pue"), carbon_g_per_kwh=per_region(
            "mean_carbon_g_per_kwh"), usd_per_gpu_hour=price,
        energy_usd_per_kwh=per_region("energy_usd_per_kwh"), price_includes_energy=per_stock("includes_energy")
        > 0, include_embodied=inst.policy.include_embodied, embodied_kgco2e=per_accel("embodied_kgco2e"),
        lifetime_hours=per_accel("lifetime_hours"), other_usd=egress_usd)
    out.update(job=np.full(n_rows, tables["job"][jname]), region=r, accel=a, gpus=n,
               procurement=rows["procurement"].astype(np.int64),
               wall_hours=rows["wall_hours"], power_mw=charges["power_w"] / 1e6, energy_kwh=charges["energy_kwh"],
               carbon_t=charges["carbon_t"], cost_usd=charges["cost_usd"], storage_gb_s=rows["storage_gb_s"],
               transfer_gb=transfer_gb)
    return out


def _classes(region):
    """(accelerator, class, GPUs the class may hold, preemptions per GPU-hour) of a region's stock: the
    on-demand class holds the on-demand and reserved counts (reserved GPUs are drawn first: the formulation's
    reserved_use), the spot class its own count at its own preemption rate."""
    for aname, stock in region.gpus.items():
        reserved = stock.reserved.count if stock.reserved is not None else 0
        yield aname, ON_DEMAND, stock.count + reserved, 0.0
        if stock.spot is not None and stock.spot.count > 0:
            yield aname, SPOT, stock.spot.count, stock.spot.preemptions_per_gpu_hour


def _term_codes(terms: np.ndarray) -> np.ndarray:
    return np.select([terms == C3_TERMS[0], terms == C3_TERMS[1]], [0, 1], 2)


def storage_may_bind(inst: Instance, region_names: list[str], jobs) -> np.ndarray:
    """Per region: could storage_bw bind at all? Not when every job at its most storage-hungry candidate there
    still fits; then storage drops out of the dominance test (an exact reduction: the row can never be tight)."""
    worst = np.zeros(len(region_names))
    for cand in jobs:
        most = np.zeros(len(region_names))
        np.maximum.at(most, cand["region"], cand["storage_gb_s"])
        worst += most
    capacity = np.array([inst.regions[r].storage_gb_s for r in region_names])
    return worst > capacity


def _prune(cand: dict, horizon_hours: float, width: int, storage_counts: np.ndarray) -> dict:
    """The candidates no other of the same (region, accelerator) dominates in (GPUs, charged GPU-hours, storage);
    storage only in regions where `storage_counts` is True."""
    charged_hours = (cand["gpus"] * np.minimum(cand["wall_hours"], horizon_hours)).astype(float)
    storage = np.where(storage_counts[cand["region"]], cand["storage_gb_s"], 0.0)
    # each class has its own stock and price: spot and on-demand twins never dominate each other
    cls = cand.get("procurement", np.zeros(len(cand["region"]), dtype=np.int64))
    keep = grouped_pareto_mask((cand["region"] * width + cand["accel"]) * 2 + cls, cand["gpus"].astype(float),
                               charged_hours, storage)
    return {k: v[keep] for k, v in cand.items()}


def enumerate_training(inst: Instance) -> TrainingCandidates:
    """Every pruned training candidate of every job of `inst`, as one table."""
    job_names = list(inst.training)
    region_names = list(inst.regions)
    accel_names = sorted(inst.accelerators) + [EDGE_DEVICE]
    tables = {"job": {j: i for i, j in enumerate(job_names)}, "region": {r: i for i, r in enumerate(region_names)},
              "accel": {a: i for i, a in enumerate(accel_names)}}
    largest: dict[str, int] = {}
    for region in inst.regions.values():
        for aname, _, count, _ in _classes(region):
            largest[aname] = max(largest.get(aname, 0), count)
    ctx = _Context(inst, tables, largest)
    stats: dict[str, dict] = {}
    # pass 1: each job pruned at once with storage in the test (memory stays one job's rows at a time)
    kept: dict[str, _Kept] = {}
    for jname in job_names:
        job_kept = _job_candidates(ctx, jname, stats)
        if job_kept is not None:
            kept[jname] = job_kept
    # pass 2: where storage cannot bind even at every job's hungriest kept candidate, it leaves the test; the 2D
    # front of the 3D front is the 2D front of all candidates, so this is exact
    tight = storage_may_bind(inst, region_names, [k.rows for k in kept.values()])
    parts: list[dict] = []
    for jname, job_kept in kept.items():
        cand = job_kept.finish(tight)
        cand.setdefault("procurement", np.zeros(len(cand["job"]), dtype=np.int64))   # federated: on-demand
        stats[jname]["kept"] = len(cand["job"])
        parts.append(cand)
    fields = TrainingCandidates.__dataclass_fields__
    columns = {k: (np.concatenate([p[k] for p in parts]) if parts else np.zeros(0))
               for k in fields if k not in ("job_names", "region_names", "accel_names", "stats")}
    for k in ("job", "region", "accel", "gpus", "tp", "pp", "dp", "micro_batch", "recompute", "interleave",
              "sync_group", "binding_term", "procurement"):
        columns[k] = columns[k].astype(np.int64)
    return TrainingCandidates(job_names=job_names, region_names=region_names, accel_names=accel_names,
                              stats=stats, **columns)
