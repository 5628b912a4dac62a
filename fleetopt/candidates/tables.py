"""Candidate tables: every option the solver may pick, as flat numpy arrays (one entry per candidate).

The formulation reads only these tables and the instance's scalars (caps, stock, budgets), so each stage
can be tested alone: physics -> candidates -> formulation -> backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ON_DEMAND, SPOT = 0, 1
PROCUREMENT = ("on-demand", "spot")   # a candidate's class; on-demand GPUs are drawn from reserved stock first


@dataclass
class TrainingCandidates:
    """One row per (job, region, accelerator, tp, pp, dp, micro-batch, recompute, sync group, checkpoint)."""

    job_names: list[str]
    region_names: list[str]
    accel_names: list[str]
    job: np.ndarray             # index into job_names
    region: np.ndarray          # index into region_names
    accel: np.ndarray           # index into accel_names
    gpus: np.ndarray
    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    micro_batch: np.ndarray
    recompute: np.ndarray       # 0 none, 1 selective, 2 full
    interleave: np.ndarray
    sync_group: np.ndarray      # data-parallel replicas that synchronize every step
    checkpoint_interval_s: np.ndarray
    step_time_s: np.ndarray
    compute_s: np.ndarray
    comm_s: np.ndarray
    bubble_s: np.ndarray
    sync_s: np.ndarray
    overlap_s: np.ndarray
    mfu: np.ndarray
    memory_gb: np.ndarray
    goodput: np.ndarray
    wall_hours: np.ndarray
    power_mw: np.ndarray        # facility power while running (GPUs x TDP x PUE)
    energy_kwh: np.ndarray
    carbon_t: np.ndarray        # operational + embodied over the run
    cost_usd: np.ndarray        # GPU rental + energy not included + dataset egress
    storage_gb_s: np.ndarray    # checkpoint writes + data loading, averaged
    transfer_gb: np.ndarray     # dataset moved into the region
    binding_term: np.ndarray    # 0 compute, 1 communication, 2 coordination
    stats: dict = field(default_factory=dict)  # per job: enumerated / feasible / after pruning
    procurement: np.ndarray | None = None      # per candidate: ON_DEMAND (on-demand or reserved stock) or SPOT

    def __post_init__(self):
        if self.procurement is None:
            self.procurement = np.zeros(len(self.job), dtype=np.int64)

    def __len__(self) -> int:
        return int(self.job.shape[0])



@dataclass
class ServingCandidates:
    """Replica options o = (service, region, accelerator, serving config) and the routes (o, population)."""

    service_names: list[str]
    region_names: list[str]
    accel_names: list[str]
    population_names: list[str]
    # one entry per replica option
    service: np.ndarray
    region: np.ndarray
    accel: np.ndarray
    tp: np.ndarray
    precision: np.ndarray        # 0 bf16, 1 fp8
    batch: np.ndarray
    gpus_per_replica: np.ndarray
    power_mw_per_replica: np.ndarray
    energy_kwh_per_replica: np.ndarray
    carbon_t_per_replica: np.ndarray
    cost_usd_per_replica: np.ndarray
    service_rate_rps: np.ndarray   # throughput of one replica, before queueing
    prefill_s: np.ndarray
    decode_s: np.ndarray
    # one entry per route
    route_option: np.ndarray      # index into the options
    route_population: np.ndarray  # index into population_names
    route_capacity_rps: np.ndarray  # per replica, at the p99 SLO for this population's RTT, before headroom
    route_rtt_ms: np.ndarray
    # per (service, population) with demand
    demand_service: np.ndarray
    demand_population: np.ndarray
    demand_rps: np.ndarray
    headroom: np.ndarray          # per service
    unroutable: list[tuple[str, str, str]] = field(default_factory=list)  # (service, population, why)
    procurement: np.ndarray | None = None  # per option: ON_DEMAND (on-demand or reserved stock) or SPOT

    def __post_init__(self):
        if self.procurement is None:
            self.procurement = np.zeros(len(self.service), dtype=np.int64)

    def __len__(self) -> int:
        return int(self.service.shape[0])

    def demand_of(self, services: np.ndarray, populations: np.ndarray) -> np.ndarray:
        """The demand (requests/s) of each (service, population) pair given as parallel index arrays; 0 where
        the pair has none."""
        pair = pair_index(self.demand_service, self.demand_population, services, populations)
        return np.where(pair >= 0, np.asarray(self.demand_rps, dtype=float)[np.maximum(pair, 0)], 0.0) \
            if len(self.demand_rps) else np.zeros(len(pair))


def pair_index(known_a, known_b, a, b) -> np.ndarray:
    """For each (a, b) given as parallel integer arrays, the index of the same pair in (known_a, known_b), the last
    one if it repeats, -1 where it is absent: a dictionary lookup as one sort and one bisection."""
    known_a, known_b = np.asarray(known_a, dtype=np.int64), np.asarray(known_b, dtype=np.int64)
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if not len(known_a) or not len(a):
        return np.full(len(a), -1, dtype=np.int64)
    width = int(max(known_b.max(), b.max())) + 1
    lowest = int(min(known_a.min(), a.min(), known_b.min(), b.min()))
    if lowest < 0:
        raise ValueError("pair_index takes non-negative indices")
    code = known_a * width + known_b
    order = np.argsort(code, kind="stable")
    last = np.r_[code[order][1:] != code[order][:-1], True]    # of repeats, the last (as a dict keeps)
    order = order[last]
    sorted_code = code[order]
    want = a * width + b
    at = np.minimum(np.searchsorted(sorted_code, want), len(sorted_code) - 1)
    return np.where(sorted_code[at] == want, order[at], -1)
