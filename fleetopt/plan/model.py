"""The Plan: every decision in the user's names, totals, binding constraints and provenance (pydantic).

The data model at the bottom of the plan layer: the Explanation it carries is defined beside it
(plan/explanation.py), so fleetopt.explain fills a plan in without the plan importing explain."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fleetopt.errors import EXIT_CODES, WITH_PLAN, Status
from fleetopt.physics.training import C3_TERMS
from fleetopt.plan.explanation import Explanation


class Breakdown(BaseModel):
    """The fleet law per step: T = compute + comm + sync - overlap (bubble counted inside comm)."""

    compute_s: float
    comm_s: float
    bubble_s: float
    sync_s: float
    overlap_s: float


class TrainingDecision(BaseModel):
    region: str
    accelerator: str
    gpus: int
    tp: int
    pp: int
    dp: int
    micro_batch: int
    recompute: Literal["none", "selective", "full"]
    interleave: int
    sync_group: int
    checkpoint_interval_min: float
    step_time_s: float
    mfu: float
    memory_gb_per_gpu: float
    goodput: float
    wall_hours: float
    cost_usd: float
    energy_mwh: float
    carbon_t: float
    power_mw: float
    binding_term: Literal[C3_TERMS]
    breakdown: Breakdown
    hours_by_slice: list[float] | None = None  # horizon hours run in each time slice (plans over time only)
    # where its GPUs come from (instances with reserved or spot stock only): spot | reserved | on-demand |
    # reserved+on-demand (the region's reserved GPUs cover part of what is held on-demand there)
    procurement: str | None = None


class ReplicaGroup(BaseModel):
    region: str
    accelerator: str
    config: str
    tp: int
    precision: Literal["bf16", "fp8"]
    batch: int
    replicas: int
    gpus: int
    cost_usd: float
    carbon_t: float
    power_mw: float
    replicas_by_slice: list[int] | None = None  # replicas in each time slice; `replicas` is their peak
    procurement: str | None = None  # as TrainingDecision.procurement


class Route(BaseModel):
    population: str
    region: str
    accelerator: str
    config: str
    rps: float
    rtt_ms: float
    capacity_rps_per_replica: float
    rps_by_slice: list[float] | None = None  # requests/s in each time slice; `rps` is their peak


class GroupMonitoring(BaseModel):
    """One protected group's evaluation in one region: samples per window and the share of its requests."""

    population: str
    group: str
    samples_per_window: int
    requests_per_window: float
    sampling_rate: float


class MonitoringDecision(BaseModel):
    """A fairness-monitoring pipeline in a region: its evaluators and the groups it covers."""

    region: str
    accelerator: str
    evaluator_gpus: float
    evaluator_gpus_needed: float
    pipeline_cost_usd: float
    evaluator_cost_usd: float
    groups: list[GroupMonitoring]


class ServiceDecision(BaseModel):
    replicas: list[ReplicaGroup]
    routing: list[Route]
    gpus: int
    cost_usd: float
    carbon_t: float
    monitoring: list[MonitoringDecision] = Field(default_factory=list)


class Binding(BaseModel):
    """A constraint row at zero slack."""

    family: str
    key: list[str]
    name: str
    activity: float
    limit: float
    units: str
    meaning: str


class RegionUse(BaseModel):
    gpus: dict[str, float]  # fractional only where evaluator GPU-hours are billed by the hour
    power_mw: float
    power_cap_mw: float | None
    # plans over time: GPUs in use (horizon average over the hours each slice stands for) per accelerator and
    # slice, and facility MW per slice; `gpus` and `power_mw` above are what the decisions hold at their peak
    gpus_by_slice: dict[str, list[float]] | None = None
    power_mw_by_slice: list[float] | None = None
    # instances with reserved or spot stock: per accelerator, GPUs per class (reserved, on-demand, spot); over
    # time slices their peak over the slices
    gpus_by_class: dict[str, dict[str, float]] | None = None


class TimelineSummary(BaseModel):
    """The time slices a plan over time is made of (fleetopt/io/timeline.py): slice i stands for weights[i]
    horizon hours; it first occurs at start_hour[i] (hour of day: % 24) of representative day day[i]."""

    step_hours: float
    weights: list[float]
    start_hour: list[float]
    day: list[int]
    labels: list[str]     # the slice's name in row and column keys, e.g. d0h13


class Totals(BaseModel):
    cost_usd: float
    carbon_t: float
    energy_mwh: float
    gpus: int
    regions: dict[str, RegionUse]
    # reserved stock (instances with `reserved` blocks): the commitment, count x price x horizon, paid whether
    # used or not, and the on-demand rental the reserved GPUs in use replace; cost_usd = the decisions' costs
    # (each at its class's price: on-demand or spot) + reserved_usd - reserved_saving_usd
    reserved_usd: float | None = None
    reserved_saving_usd: float | None = None


class Provenance(BaseModel):
    instance: str
    instance_file: str
    input_sha256: str
    fleetopt_version: str
    solver: str
    solver_version: str
    options: dict
    model_size: dict
    decomposition: dict | None = None   # parts solved apart, rounds, shared rows kept (pipeline/decompose.py)
    timing_s: dict[str, float] = Field(default_factory=dict)


class JobMove(BaseModel):
    """A deployed job that changes layout: its checkpoint shipped (when it changes region) and a restart."""

    from_region: str
    to_region: str
    from_accelerator: str
    to_accelerator: str
    checkpoint_gb: float      # shipped over the links (0 when it stays in its region)
    hours: float              # transfer + restart, added to its wall hours
    egress_usd: float
    cost_usd: float           # its GPUs held for those hours + egress
    carbon_t: float


class ChangeSummary(BaseModel):
    """What re-planning from the deployed plan (`current`) changes and costs (formulation/change.py)."""

    current: str                      # the deployed plan's file
    changed_gpus: int                 # sum over (workload, region, accelerator) of |GPUs - deployed GPUs|
    change_usd_per_gpu: float
    max_changed_gpus: int | None
    moves: dict[str, JobMove] = Field(default_factory=dict)
    finished: list[str] = Field(default_factory=list)   # jobs done by policy.as_of_hour
    cost_usd: float                   # changed GPUs x change_usd_per_gpu + the moves' cost
    carbon_t: float                   # the moves' carbon


class Plan(BaseModel):
    status: Status
    detail: str = ""
    objective_name: str
    objective: float | None
    bound: float | None
    gap: float | None
    training: dict[str, TrainingDecision] = Field(default_factory=dict)
    serving: dict[str, ServiceDecision] = Field(default_factory=dict)
    totals: Totals | None = None
    binding: list[Binding] = Field(default_factory=list)
    unroutable: list[dict[str, str]] = Field(default_factory=list)
    candidates: dict[str, dict[str, int | str]] = Field(default_factory=dict)
    timeline: TimelineSummary | None = None  # the time slices, when the instance plans over time
    provenance: Provenance
    explanation: Explanation | None = None   # why the plan is what it is (fleetopt.explain fills it)
    change: ChangeSummary | None = None      # against the deployed plan, when re-planning from one

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def has_plan(self) -> bool:
        return self.status in WITH_PLAN
