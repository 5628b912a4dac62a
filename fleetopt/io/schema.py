"""Instance format v1 as pydantic models. Units are in the key names (`fleetopt schema` prints the JSON Schema).

Every model forbids unknown keys so a typo is caught (and the loader suggests the closest known key).
Cross-references (a job's model, a population's regions, ...) are checked by io/references.py after
these models validate, so every problem of a file is reported in one pass.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, PrivateAttr, field_validator,
                      model_validator)

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
CardRef = Annotated[str, Field(min_length=1, max_length=512)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


class HorizonMean(float):
    """A number that varies over time: its value is the mean over the horizon, what every static consumer
    reads; `written` keeps what the file wrote (a list as a tuple, a scalar, or None), so a dump gives the
    file's value back and the loader can lay it over the horizon again (io/profiles.py). A list's value is
    its mean until the loader replaces it by the mean of the effective series (the list laid over the
    horizon, or the profiles CSV's column)."""

    written: tuple[float, ...] | float | None

    def __new__(cls, value: float, written) -> HorizonMean:
        obj = super().__new__(cls, value)
        obj.written = tuple(float(v) for v in written) if isinstance(written, list | tuple) else written
        return obj

    def __reduce__(self):  # copies and pickles keep both (float's own would call __new__ with one argument)
        return HorizonMean, (float(self), self.written)


def _mean_of_profile(value):
    if isinstance(value, list):
        if not value:
            raise ValueError("an hourly profile needs at least one value")
        return HorizonMean(sum(value) / len(value), value)
    return value


def _as_written(value):
    if isinstance(value, HorizonMean):
        return list(value.written) if isinstance(value.written, tuple) else value.written
    return value


def _profile(number: Any) -> Any:
    """A number that may also be a profile: a scalar, a list of a day's steps, or one value per horizon step."""
    return Annotated[number | list[number], AfterValidator(_mean_of_profile), PlainSerializer(_as_written)]


NonNegativeProfile = _profile(NonNegative)
PositiveProfile = _profile(Positive)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------- catalogs


class Accelerator(Strict):
    """One accelerator type. Built-in entries live in fleetopt/catalog/accelerators.yaml."""

    peak_tflops: Positive = Field(description="dense BF16/FP16 tensor peak, no sparsity")
    fp8_tflops: Positive | None = Field(None, description="dense FP8 peak; none = no FP8 support")
    hbm_gb: Positive
    hbm_gb_s: Positive
    tdp_w: Positive
    gpus_per_node: PositiveInt = 8
    nvlink_gb_s: NonNegative = Field(0.0, description="per GPU per direction; 0 = PCIe only")
    pcie_gb_s: Positive = 32.0
    mtbf_hours: Positive = 50_700.0
    embodied_kgco2e: NonNegative = 1_500.0
    lifetime_hours: Positive = 35_000.0
    usd_per_hour: NonNegative | None = None
    calibration: dict[str, float] = Field(default_factory=dict, description="training efficiency curve")
    source: str | None = None


class TransformerCard(Strict):
    kind: Literal["transformer"] = "transformer"
    layers: PositiveInt
    hidden: PositiveInt
    ffn_hidden: PositiveInt
    heads: PositiveInt
    kv_heads: PositiveInt | None = None
    vocab: PositiveInt
    swiglu: bool = False
    params_b: Positive | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _heads_divide(self) -> TransformerCard:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        return self


class DlrmCard(Strict):
    kind: Literal["dlrm"]
    embedding_tables_gb: Positive
    embedding_dim: PositiveInt
    dense_params_m: Positive
    lookups_per_sample: PositiveInt
    gflops_per_sample: Positive
    source: str | None = None


class CnnCard(Strict):
    kind: Literal["cnn"]
    params_m: Positive
    gflops_per_sample: Positive
    source: str | None = None


ModelCard = Annotated[TransformerCard | DlrmCard | CnnCard, Field(discriminator="kind")]


# ---------------------------------------------------------------- the fleet


class ReservedGpus(Strict):
    """Committed capacity (format version 2): paid over the whole horizon whether used or not."""

    count: NonNegativeInt
    usd_per_hour: NonNegative


class SpotGpus(Strict):
    """Spot capacity (format version 2): cheaper, limited, and preempted at a rate per GPU-hour."""

    count: NonNegativeInt
    usd_per_hour: NonNegative
    preemptions_per_gpu_hour: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
    replacement_min: NonNegative = Field(10.0, description="minutes to bring a preempted serving replica back "
                                         "(provision, load weights)")


class RegionGpus(Strict):
    count: NonNegativeInt
    usd_per_hour: NonNegativeProfile
    includes_energy: bool = Field(True, description="false: energy is charged at the region's price")
    reserved: ReservedGpus | None = Field(None, description="committed GPUs beside the on-demand count "
                                          "(format version 2)")
    spot: SpotGpus | None = Field(None, description="preemptible GPUs beside the on-demand count (format version 2)")


class EdgeDevices(Strict):
    """An edge fleet: many small devices, each a federated client (archetype C)."""

    count: PositiveInt
    tflops: Positive
    watts: Positive
    uplink_mbps: Positive
    participation: Annotated[float, Field(gt=0, le=1)] = 0.1
    memory_gb: Positive = 4.0
    usd_per_device_hour: NonNegative = 0.0


class Region(Strict):
    kind: Literal["datacenter", "edge"] = "datacenter"
    jurisdiction: Name
    pue: Annotated[float, Field(ge=1.0, le=5.0)] = 1.1
    carbon_g_per_kwh: NonNegativeProfile
    energy_usd_per_kwh: NonNegativeProfile = 0.0
    power_cap_mw: PositiveProfile | None = Field(None, description="none = no cap")
    storage_gb_s: Positive = 1_000.0
    nic_gb_s: Positive = 50.0
    net_latency_us: NonNegative = 10.0
    pod_gpus: PositiveInt = 3072
    oversubscription: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] = 1.0
    gpus: dict[Name, RegionGpus] = Field(default_factory=dict)
    devices: EdgeDevices | None = None

    @model_validator(mode="after")
    def _edge_has_devices(self) -> Region:
        if self.kind == "edge" and self.devices is None:
            raise ValueError("an edge region needs a 'devices' block (count, tflops, watts, uplink_mbps)")
        return self

    @property
    def mean_carbon_g_per_kwh(self) -> float:
        """The horizon mean (a profile's value is already its mean: HorizonMean)."""
        v = self.carbon_g_per_kwh
        return float(sum(v) / len(v)) if isinstance(v, list) else float(v)


class Link(Strict):
    a: Name
    b: Name
    rtt_ms: NonNegative
    gb_s: Positive
    egress_usd_per_gb: NonNegative = 0.0


class Population(Strict):
    rtt_ms: dict[Name, NonNegative]
    allowed_jurisdictions: list[Name] | None = None
    groups: dict[Name, Fraction] = Field(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _shares_sum_to_one(cls, v: dict[str, float]):
        if v and not math.isclose(sum(v.values()), 1.0, abs_tol=1e-6):
            raise ValueError(f"group shares must sum to 1, they sum to {sum(v.values()):.6g}")
        return v


class TrainingJob(Strict):
    model: CardRef = Field(description="a card in models/, under `models:` in this file, or a card file path")
    tokens: Positive
    seq_len: PositiveInt = 2048
    global_batch_tokens: Positive
    deadline_hours: Positive
    dataset_region: Name | None = None
    dataset_tb: NonNegative = 0.0
    allowed_regions: list[Name] | None = None
    allowed_accelerators: list[Name] | None = None
    checkpoint_restart_min: NonNegative = 10.0
    earliest_start_hour: NonNegative = Field(0.0, description="the job's window is [earliest_start_hour, "
                                             "deadline_hours], hours from the horizon's start")
    pausable: bool = Field(False, description="may stop in dirty or dear hours and resume from its checkpoint "
                                              "(each resume costs checkpoint_restart_min)")
    flash_attention: bool = Field(True, description="fused attention kernels (scores stay on chip)")
    sequence_parallel: bool = True
    distributed_optimizer: bool = Field(True, description="optimizer states sharded over data parallelism")

    @model_validator(mode="after")
    def _window_opens_before_the_deadline(self) -> TrainingJob:
        if self.earliest_start_hour >= self.deadline_hours:
            raise ValueError(f"earliest_start_hour ({self.earliest_start_hour:g}) must be before deadline_hours "
                             f"({self.deadline_hours:g})")
        return self


class Monitoring(Strict):
    min_detectable_gap: Annotated[float, Field(gt=0, lt=1)]
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    window_hours: Positive = 24.0
    evaluator_gpu_s_per_sample: NonNegative = 0.5
    pipeline_usd_per_hour: NonNegative = 0.0


class ServingService(Strict):
    model: CardRef
    demand_rps: dict[Name, NonNegativeProfile]
    prompt_tokens: PositiveInt = 512
    output_tokens: PositiveInt = 128
    slo_p99_ms: Positive
    headroom: Annotated[float, Field(ge=0, le=10)] = 0.2
    fanout: PositiveInt = 1
    items_per_request: PositiveInt = Field(1, description="dlrm: candidate items scored per request")
    allow_fp8: bool = False
    allowed_accelerators: list[Name] | None = None
    monitoring: Monitoring | None = None


class WeightedObjective(Strict):
    cost: NonNegative = 1.0
    carbon_usd_per_t: NonNegative = 0.0


class Policy(Strict):
    carbon_budget_t: NonNegative | None = None
    carbon_price_usd_per_t: NonNegative = 0.0
    include_embodied: bool = True
    dataset_staging_hours: Positive = Field(48.0, description="window to copy datasets to their job's region")
    # the fleet as deployed (`current`, io/current.py)
    change_usd_per_gpu: NonNegative = Field(0.0, description="cost of each GPU whose assignment changes "
                                            "against `current`")
    max_changed_gpus: NonNegativeInt | None = Field(None, description="at most this many GPUs change assignment "
                                                    "against `current`; none = no cap")
    as_of_hour: NonNegative = Field(0.0, description="hours the `current` plan has run: each of its jobs has "
                                    "done this share of its wall hours and trains only the rest")


class SolverOptions(Strict):
    backend: Literal["highs", "pyomo", "ortools"] = "highs"
    time_limit_s: Annotated[float, Field(gt=0, lt=1e9, allow_inf_nan=False,
                                         description="seconds (below 1e9: HiGHS's timer overflows past it)")] = 60.0
    mip_rel_gap: Annotated[float, Field(ge=0, lt=1)] = 1e-4
    threads: NonNegativeInt = 0
    seed: NonNegativeInt = 0
    decompose: bool = Field(True, description="solve jobs and services that no binding shared row joins apart")
    executor: Literal["threads", "dask"] = Field(
        "threads", description="where the parts run: threads in this process, or tasks on a Dask cluster")
    scheduler: str | None = Field(None, min_length=1, description="executor dask: an existing scheduler's address, "
                                  "e.g. tcp://10.0.0.5:8786 (none: a LocalCluster started for the solve)")
    price_shared: bool | None = Field(None, description="price binding shared rows (Lagrange) instead of merging "
                                      "the parts they join (default: when they join 20 parts or more)")

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> SolverOptions:
        if self.scheduler is not None and self.executor != "dask":
            raise ValueError("scheduler is used only with executor: dask")
        return self


class TimeSlices(Strict):
    """`time:` (format version 2): the horizon in steps, reduced to representative days."""

    step_hours: Positive = Field(1.0, description="resolution of every profile, in hours; divides 24")
    representative_days: NonNegativeInt = Field(
        0, description="cluster the horizon's days into this many weighted days (k-medoids); 0 = every day")
    merge_tolerance: NonNegative | None = Field(
        None, description="merge consecutive steps of a day into one slice while every profiled value stays "
        "within this fraction of its horizon mean (0.05 = 5%); none = no merging")

    @field_validator("step_hours")
    @classmethod
    def _divides_a_day(cls, v: float) -> float:
        steps = 24.0 / v
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"expected a step that divides 24 hours (0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24), got {v:g}")
        return v


class Instance(Strict):
    fleetopt: Literal[1, 2] = Field(description="format version (2 adds time, profiles, procurement, current)")
    name: Name
    horizon_hours: Positive = 720.0
    time: TimeSlices | None = Field(None, description="time slices (format version 2); none = one static slice")
    profiles: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        None, description="a CSV of values over time (format version 2), relative to the instance file: a column "
        "`hour` (0-based) or `datetime` (ISO 8601, UTC), then one column per instance path it sets")
    objective: Literal["cost", "carbon"] | WeightedObjective = "cost"
    accelerators: dict[Name, Accelerator] = Field(default_factory=dict)
    models: dict[CardRef, ModelCard] = Field(default_factory=dict)
    regions: dict[Name, Region] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    populations: dict[Name, Population] = Field(default_factory=dict)
    training: dict[Name, TrainingJob] = Field(default_factory=dict)
    serving: dict[Name, ServingService] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    solver: SolverOptions = Field(default_factory=SolverOptions)
    current: CardRef | None = Field(None, description="the fleet as deployed: a plan JSON fleetopt wrote, "
                                    "relative to this file (format version 2)")

    _source: str = PrivateAttr("")
    _digest: str = PrivateAttr("")
    _timeline: Any = PrivateAttr(None)  # io.timeline.Timeline, set by the loader from `time:` and `profiles`
    _current: Any = PrivateAttr(None)   # io.current.CurrentFleet, set by the loader from `current` or --from

    @property
    def source(self) -> str:
        """The file this instance was read from."""
        return self._source

    @property
    def timeline(self):
        """The horizon's time slices (io/timeline.py); one slice for the whole horizon when the file has no `time:`."""
        if self._timeline is None:
            from fleetopt.io.timeline import Timeline
            return Timeline.static(self.horizon_hours)
        return self._timeline

    @property
    def deployed(self):
        """The fleet as deployed (io/current.py CurrentFleet), or None: the plan starts from nothing."""
        return self._current

    @property
    def digest(self) -> str:
        """SHA-256 of the validated input with catalogs merged: the plan's provenance."""
        return self._digest

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_form(cls, value):
        """A wrong name or type: one message listing all three forms (the union would name only two)."""
        if value in ("cost", "carbon") or isinstance(value, dict | WeightedObjective):
            return value
        shown = repr(value) if isinstance(value, str) else str(value)
        raise ValueError(f"expected cost | carbon | {{cost: W, carbon_usd_per_t: P}}, got {shown[:40]}")

    @field_validator("current")
    @classmethod
    def _current_needs_v2(cls, value, info):
        if value is not None and info.data.get("fleetopt") == 1:
            raise ValueError("`current` needs format version 2 (fleetopt: 2)")
        return value

    @model_validator(mode="after")
    def _has_work(self) -> Instance:
        if not self.training and not self.serving:
            raise ValueError("an instance needs at least one training job or serving service")
        return self
