"""The Explanation attached to a Plan (pydantic): why the plan is what it is, in the chapter's diagnostic order.

symptom -> metric -> C3 term -> fleet-stack layer -> displaced cost -> governance evidence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fleetopt.physics.training import C3_TERMS

Term = Literal[C3_TERMS]


class BindingConstraint(BaseModel):
    """A row at zero slack with its price from the LP with the integer decisions fixed."""

    name: str
    family: str
    key: list[str]
    layer: str
    activity: float
    limit: float
    units: str
    meaning: str
    shadow_price: float            # d objective / d limit (objective units per unit of the limit), structure LP
    fixed_lp_price: float = 0.0    # the same from the LP with every integer fixed (getFixedLp)
    price_in_words: str            # "$ per extra MW of power cap in us-east over the horizon"
    range_low: float | None = None   # limit values over which the price holds (LP ranging)
    range_high: float | None = None


class C3Terms(BaseModel):
    """Time above the ideal, split by the fleet law's terms (seconds per step, or per request)."""

    ideal_s: float
    compute_s: float
    communication_s: float
    coordination_s: float
    binding: Term


class RunnerUp(BaseModel):
    description: str
    cost_difference: float          # runner-up minus chosen, in objective units
    blocked_by: list[str] = Field(default_factory=list)   # rows a direct swap would violate
    reason: str


class JobExplanation(BaseModel):
    job: str
    compute_s: float
    comm_s: float
    bubble_s: float
    overlap_s: float
    sync_s: float
    step_time_s: float
    terms: C3Terms
    goodput: float
    checkpoint_loss: float          # share of wall time spent writing checkpoints
    failure_loss: float             # share lost to rework and restarts after failures
    runner_up: RunnerUp | None = None


class RouteLatency(BaseModel):
    population: str
    region: str
    rps: float
    slo_ms: float
    rtt_ms: float
    nearest_rtt_ms: float           # the least RTT to any region the population may use
    prefill_ms: float
    decode_ms: float
    queueing_ms: float              # p99 (per-shard quantile with fan-out) at the routed load
    all_to_all_ms: float            # collectives inside the service time (TP AllReduce, embedding all-to-all)
    slack_ms: float
    terms: C3Terms


class ServiceExplanation(BaseModel):
    service: str
    routes: list[RouteLatency]
    terms: C3Terms                  # demand-weighted over the routes
    deciding: list[str]             # SLO and residency rules that shaped the routing


class IisMember(BaseModel):
    name: str
    family: str
    bound: str                      # "upper" | "lower" | "both"


class Relaxation(BaseModel):
    family: str
    key: list[str]
    setting: str                    # the instance path, e.g. regions.us-east.power_cap_mw
    current: float | None
    suggested: float | None
    units: str
    line: str                       # "raise power_cap_mw of eu-west from 0.012 MW to 0.63 MW"


class Infeasibility(BaseModel):
    """Why no plan exists and what makes one exist. Every relaxation claim was checked by a re-solve."""

    source: Literal["screening", "milp"]
    reasons: list[str]              # the conflict in the user's names: rows with their limits and units
    iis: list[IisMember]
    families: list[str]
    method: str                     # how the IIS was found
    relaxations: list[Relaxation]   # all of these together make a plan exist (the cheapest such set found)
    alternatives: list[Relaxation] = Field(default_factory=list)   # each of these alone makes a plan exist
    checks: list[str] = Field(default_factory=list)                # the re-solves behind those two claims


class FamilyMargin(BaseModel):
    family: str
    tightest: str
    activity: float
    limit: float
    margin: float                   # limit - activity, in the family's units
    relative_margin: float | None   # margin / |limit|; None for a zero limit
    units: str


class GroupCoverage(BaseModel):
    service: str
    region: str
    population: str
    group: str
    samples_per_window: float
    requests_per_window: float
    sampling_rate: float
    evaluator_gpus: float
    evaluator_gpus_needed: float


class Governance(BaseModel):
    input_sha256: str
    solver: str
    solver_version: str
    options: dict
    margins: list[FamilyMargin]
    monitoring: list[GroupCoverage]


class Diagnostic(BaseModel):
    """One line of the chapter's closing diagnostic."""

    subject: str
    symptom: str
    metric: str
    c3_term: Term
    layer: str
    displaced_cost: str
    governance_evidence: str


class ChangeExplanation(BaseModel):
    """Re-planning from the deployed fleet: the price of the change cap and what the cheapest plan (no change
    cost, no cap) would change and save (explain/change.py)."""

    changed_gpus: int
    cap: int | None = None
    cap_price: float | None = None            # objective units per GPU more allowed to change (when the cap binds)
    cheapest_changed_gpus: int | None = None  # the plan solved without the change cost and cap
    cheapest_saves: float | None = None       # objective units (change cost left out of both)
    lines: list[str] = Field(default_factory=list)


class SliceBinding(BaseModel):
    """A time slice in which rows bind, and their prices (objective units per unit of each row's limit)."""

    slice: str
    hours: float                  # horizon hours the slice stands for
    rows: list[str]
    prices: list[float]


class JobSchedule(BaseModel):
    """When a job runs, and the carbon it avoids against running its layout as early as possible."""

    job: str
    pausable: bool
    window: list[float]           # [earliest_start_hour, deadline inside the horizon]
    hours_run: float
    hours_by_slice: list[float]
    carbon_t: float
    carbon_asap_t: float          # the same layout from earliest_start_hour on, without a pause
    carbon_avoided_t: float       # carbon_asap_t - carbon_t


class ServiceSchedule(BaseModel):
    service: str
    replicas_by_slice: list[int]  # replicas of every option, per slice
    peak: int
    trough: int


class TimeExplanation(BaseModel):
    """A plan over time slices: where the limits bind, when jobs run, how serving follows demand."""

    labels: list[str]
    weights: list[float]
    binding_slices: list[SliceBinding] = Field(default_factory=list)
    jobs: list[JobSchedule] = Field(default_factory=list)
    services: list[ServiceSchedule] = Field(default_factory=list)


class Explanation(BaseModel):
    status: str
    first_binding_term: Term | None = None
    binding: list[BindingConstraint] = Field(default_factory=list)
    price_note: str = ""
    jobs: list[JobExplanation] = Field(default_factory=list)
    services: list[ServiceExplanation] = Field(default_factory=list)
    infeasibility: Infeasibility | None = None
    diagnostic: list[Diagnostic] = Field(default_factory=list)
    governance: Governance | None = None
    change: ChangeExplanation | None = None   # against the deployed plan, when re-planning from one
    time: TimeExplanation | None = None   # plans over time slices only
