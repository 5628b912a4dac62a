"""Test helpers shared across files: no test file imports another, so what two files need lives here.

Every solve in the suite goes through solve_and_verify, so each plan the
tests see has also passed the independent verifier (fleetopt.verify)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from fleetopt.api import solve_instance
from fleetopt.backends.result import SolveOptions
from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.formulation.model import Formulation
from fleetopt.io.load import load_document, load_instance
from fleetopt.paths import default_instance
from fleetopt.io.schema import Instance
from fleetopt.plan import Plan
from fleetopt.verify import verify_plan

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
DATA = TESTS / "data"                       # bad_inputs/ (the corpus), whatif/ (small instances)
TINY = DATA / "whatif" / "tiny-fleet.yaml"  # a fleet small enough to solve in a blink
BENCHMARKS = REPO / "benchmarks"


def static_shipped_instances() -> list[Path]:
    """The shipped instances that plan without time slices (no `time:`): the ones the end-to-end solving tests
    hold to a 1e-4 gap on every backend. Plans over time (global-fleet-hourly) have their own tests."""
    import yaml

    from fleetopt.paths import shipped_dir
    return sorted(p for p in shipped_dir("instances").glob("*.yaml") if "time" not in yaml.safe_load(p.read_text()))


def solve_and_verify(inst: Instance, **opts) -> Plan:
    """solve_instance(inst, **opts), then fail the test unless a plan it returns holds under fleetopt.verify."""
    return assert_verified(inst, solve_instance(inst, **opts))


def assert_verified(inst: Instance, plan: Plan) -> Plan:
    """Fail the test unless `plan` (when it is a plan) holds under the independent verifier."""
    if plan.has_plan:
        report = verify_plan(inst, plan)
        assert report.holds, "\n".join([report.summary(inst.name), *report.lines()])
    return plan


# ------------------------------------------------------------------ instances several files start from

# The instance every corpus file was cut from; each bad file differs from it by its one mistake.
MINIMAL_VALID = """\
fleetopt: 1
name: tiny
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    power_cap_mw: 5
    gpus:
      h100-sxm5-80gb: {count: 64, usd_per_hour: 4.25}
populations:
  us-users:
    rtt_ms: {us-east: 20}
serving:
  chat:
    model: llama3-8b
    demand_rps: {us-users: 10}
    slo_p99_ms: 3000
"""

FIXTURE = """\
fleetopt: 1
name: verify-fixture
horizon_hours: 720
regions:
  home:
    jurisdiction: US
    carbon_g_per_kwh: 400
    power_cap_mw: 1.2
    storage_gb_s: 50
    gpus:
      h100-sxm5-80gb: {count: 512, usd_per_hour: 4.0}
      l4: {count: 64, usd_per_hour: 0.8}
  away:
    jurisdiction: US
    carbon_g_per_kwh: 100
    power_cap_mw: 0.1
    gpus:
      h100-sxm5-80gb: {count: 256, usd_per_hour: 4.5}
  eu:
    jurisdiction: EU
    carbon_g_per_kwh: 200
    power_cap_mw: 1
    gpus:
      a100-sxm4-80gb: {count: 256, usd_per_hour: 2.4}
      l4: {count: 64, usd_per_hour: 0.9}
links:
  - {a: home, b: away, rtt_ms: 30, gb_s: 100, egress_usd_per_gb: 0.01}
  - {a: home, b: eu, rtt_ms: 80, gb_s: 0.05, egress_usd_per_gb: 0.02}
populations:
  us-users:
    rtt_ms: {home: 20, away: 30, eu: 90}
    groups: {group-a: 0.7, group-b: 0.3}
  eu-users:
    rtt_ms: {eu: 10, home: 85}
    allowed_jurisdictions: [EU]
    groups: {group-a: 0.5, group-b: 0.5}
training:
  tune:
    model: llama3-8b
    tokens: 2.0e10
    seq_len: 4096
    global_batch_tokens: 1.0e6
    deadline_hours: 300
    dataset_region: home
    dataset_tb: 10
serving:
  chat:
    model: llama3-8b
    demand_rps: {us-users: 40, eu-users: 15}
    slo_p99_ms: 3000
    monitoring: {min_detectable_gap: 0.05, window_hours: 24, pipeline_usd_per_hour: 2}
policy:
  carbon_budget_t: 30
"""


def error_keys(stderr: str) -> list[str]:
    """The KEY field of each `error: WHERE: KEY: message` line (WHERE is FILE or FILE:LINE)."""
    keys = []
    for line in stderr.splitlines():
        assert line.startswith("error: "), f"not an error line: {line!r}"
        parts = line.removeprefix("error: ").split(": ", 2)
        assert len(parts) == 3 and parts[2].strip(), f"expected 'error: FILE: KEY: message', got {line!r}"
        keys.append(parts[1])
    return keys


# ------------------------------------------------------------------ random candidate tables (formulation alone)

REGIONS = ["r0", "r1"]
ACCELS = ["h100-sxm5-80gb", "a100-sxm4-80gb"]


def random_instance(rng) -> Instance:
    regions = {r: {"jurisdiction": "US", "carbon_g_per_kwh": float(rng.uniform(50, 500)),
                   "power_cap_mw": float(rng.uniform(0.5, 3.0)), "storage_gb_s": float(rng.uniform(5, 40)),
                   "gpus": {a: {"count": int(rng.integers(16, 80)), "usd_per_hour": 1.0} for a in ACCELS}}
               for r in REGIONS}
    return Instance.model_validate({
        "fleetopt": 1, "name": "random", "regions": regions,
        "populations": {"u0": {"rtt_ms": {"r0": 10, "r1": 20}}, "u1": {"rtt_ms": {"r0": 30, "r1": 5}}},
        "serving": {"s0": {"model": "m", "demand_rps": {"u0": 1, "u1": 1}, "slo_p99_ms": 1000}},
        "training": {"j0": {"model": "m", "tokens": 1, "global_batch_tokens": 4096, "deadline_hours": 1},
                     "j1": {"model": "m", "tokens": 1, "global_batch_tokens": 4096, "deadline_hours": 1}},
        "models": {"m": {"kind": "transformer", "layers": 2, "hidden": 64, "ffn_hidden": 256, "heads": 2,
                         "vocab": 100}},
        "policy": {"carbon_budget_t": float(rng.uniform(20, 120))},
    })


def random_training(rng, jobs=2, per_job=3) -> TrainingCandidates:
    n = jobs * per_job
    z = np.zeros(n)
    return TrainingCandidates(
        job_names=[f"j{i}" for i in range(jobs)], region_names=REGIONS, accel_names=ACCELS,
        job=np.repeat(np.arange(jobs), per_job), region=rng.integers(0, 2, n), accel=rng.integers(0, 2, n),
        gpus=rng.integers(8, 40, n), tp=np.ones(n, int), pp=np.ones(n, int), dp=np.ones(n, int),
        micro_batch=np.ones(n, int), recompute=np.zeros(n, int), interleave=np.ones(n, int),
        sync_group=np.ones(n, int), checkpoint_interval_s=z + 600, step_time_s=z + 1, compute_s=z, comm_s=z,
        bubble_s=z, sync_s=z, overlap_s=z, mfu=z, memory_gb=z, goodput=z + 1, wall_hours=z + 1,
        power_mw=rng.uniform(0.1, 1.0, n), energy_kwh=z, carbon_t=rng.uniform(1, 40, n),
        cost_usd=rng.uniform(100, 1000, n), storage_gb_s=rng.uniform(0, 10, n), transfer_gb=z,
        binding_term=np.zeros(n, int))


def random_serving(rng, options=3) -> ServingCandidates:
    routes_opt = np.repeat(np.arange(options), 2)
    routes_pop = np.tile([0, 1], options)
    return ServingCandidates(
        service_names=["s0"], region_names=REGIONS, accel_names=ACCELS, population_names=["u0", "u1"],
        service=np.zeros(options, int), region=rng.integers(0, 2, options), accel=rng.integers(0, 2, options),
        tp=np.ones(options, int), precision=np.zeros(options, int), batch=np.arange(options) + 1,
        gpus_per_replica=rng.integers(1, 9, options), power_mw_per_replica=rng.uniform(0.01, 0.2, options),
        energy_kwh_per_replica=np.zeros(options), carbon_t_per_replica=rng.uniform(0.5, 5, options),
        cost_usd_per_replica=rng.uniform(50, 300, options), service_rate_rps=np.ones(options),
        prefill_s=np.zeros(options), decode_s=np.zeros(options),
        route_option=routes_opt, route_population=routes_pop,
        route_capacity_rps=rng.uniform(2, 10, 2 * options), route_rtt_ms=np.zeros(2 * options),
        demand_service=np.zeros(2, int), demand_population=np.array([0, 1]),
        demand_rps=rng.uniform(3, 15, 2), headroom=np.array([0.2]))


# ------------------------------------------------------------------ solving in parts

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60)


def random_fleet(seed: int) -> Formulation:
    """A few independent covering MILPs (whole units of options with sizes and costs) joined by shared rows."""
    rng = np.random.default_rng(seed)
    form = Formulation()
    parts = int(rng.integers(2, 5))
    sizes = [int(rng.integers(2, 5)) for _ in range(parts)]
    x = form.add_vars("units", [(p, j) for p in range(parts) for j in range(sizes[p])], lb=0,
                      ub=rng.integers(1, 6, sum(sizes)), cost=rng.uniform(1, 3, sum(sizes)).round(2), integer=True)
    spill = form.add_vars("spill", [(p,) for p in range(parts)], lb=0, ub=0.5, cost=5.0)
    part_of = np.repeat(np.arange(parts), sizes)
    form.add_rows("need", [(p,) for p in range(parts)], np.concatenate([part_of, np.arange(parts)]),
                  np.concatenate([x.cols, spill.cols]),
                  np.concatenate([rng.uniform(0.5, 2.5, len(part_of)).round(2), np.ones(parts)]),
                  lower=rng.uniform(1, 4, parts).round(2))
    n_shared = int(rng.integers(1, 3))
    use = rng.uniform(0, 1, (n_shared, len(x.cols))).round(2) * (rng.random((n_shared, len(x.cols))) < 0.6)
    rows, cols = np.nonzero(use)
    form.add_rows("stock", [(k,) for k in range(n_shared)], rows, x.cols[cols], use[rows, cols],
                  upper=(use.sum(axis=1) * rng.uniform(0.2, 0.9, n_shared)).round(2), shared=True)
    return form


def rows_hold(form: Formulation, x: np.ndarray) -> bool:
    lower, upper = form.row_bounds()
    act = form.matrix() @ x
    _, lb, ub, integer = form.col_arrays()
    return bool(np.all(act <= upper + 1e-6) and np.all(act >= lower - 1e-6) and np.all(x >= lb - 1e-9)
                and np.all(x <= ub + 1e-9) and np.allclose(x[integer], np.round(x[integer]), atol=1e-6))


def without_carbon_budget():
    """global-fleet without its carbon budget, the one shared row that binds there: like the x10 tier, it falls
    apart into parts (one per job and service, 10)."""
    inst = load_instance(default_instance())
    return inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": None})})


# ------------------------------------------------------------------ re-planning a deployed fleet

REPLAN = DATA / "replan" / "replan-fleet.yaml"   # us-east's power nearly full: 5% more demand reshuffles it


def replan_instance(folder: Path, current: Path | None, demand_scale: float = 1.05, **policy) -> Instance:
    """replan-fleet with its demand scaled, re-planned from the plan file `current` (copied into `folder`, to which
    the instance's `current:` is relative) under `policy` (change_usd_per_gpu, max_changed_gpus, as_of_hour)."""
    import yaml

    from fleetopt.io.load import load_document

    data = yaml.safe_load(REPLAN.read_text())
    for svc in data["serving"].values():
        svc["demand_rps"] = {u: r * demand_scale for u, r in svc["demand_rps"].items()}
    data["policy"].update(policy)
    if current is not None:
        (folder / "deployed.json").write_text(current.read_text())
        data["current"] = "deployed.json"
    return load_document(data, folder / "replan.yaml")


# ------------------------------------------------------------------ plans over time slices

CLEAN_NIGHT = """\
fleetopt: 2
name: clean-night
horizon_hours: 240
objective: carbon
regions:
  north:
    jurisdiction: US
    carbon_g_per_kwh: 300
    power_cap_mw: 2
    gpus:
      h100-sxm5-80gb: {count: 128, usd_per_hour: 4.0}
  south:
    jurisdiction: US
    carbon_g_per_kwh: 350
    gpus:
      h100-sxm5-80gb: {count: 128, usd_per_hour: 3.5}
populations:
  users:
    rtt_ms: {north: 20, south: 25}
training:
  waits:
    model: llama3-8b
    tokens: 8.0e9
    seq_len: 4096
    global_batch_tokens: 1.0e6
    deadline_hours: 240
    allowed_regions: [north]
    pausable: true
  steady:
    model: llama3-8b
    tokens: 8.0e9
    seq_len: 4096
    global_batch_tokens: 1.0e6
    deadline_hours: 240
    allowed_regions: [north]
serving:
  chat:
    model: llama3-8b
    demand_rps: {users: 100}
    slo_p99_ms: 3000
"""
CLEAN_HOURS = range(0, 6)   # north's grid is clean from midnight to 6 am


def clean_night_timeline(inst: Instance, carbon: bool = True, demand: bool = True, scale: float = 1.0):
    """A typical day of 24 hourly slices over the instance's horizon: north clean at night (40 g/kWh in
    CLEAN_HOURS, 400 otherwise), chat's demand following the day (50 to 150 requests/s:
    two to four replicas of ~55 requests/s); `carbon`/`demand` False
    leave that profile out, and `scale` multiplies every profile (1 with constant values gives the static plan)."""
    from fleetopt.io.timeline import Timeline
    days = int(inst.horizon_hours // 24)
    hour = np.arange(24)
    values = {}
    if carbon:
        values["regions.north.carbon_g_per_kwh"] = scale * np.where(np.isin(hour, CLEAN_HOURS), 40.0, 400.0)
    if demand:
        values["serving.chat.demand_rps.users"] = scale * (100.0 - 50.0 * np.cos(2 * np.pi * (hour - 2) / 24))
    return Timeline(step_hours=1.0, weights=np.full(24, float(days)), start_hour=hour.astype(float),
                    day=np.zeros(24, dtype=np.int64), members=tuple(np.arange(days) * 24 + h for h in hour),
                    values=values)


def load_text(text: str, tmp_path) -> Instance:
    """An instance from YAML text (written under tmp_path and loaded as a file would be)."""
    path = tmp_path / "instance.yaml"
    path.write_text(text)
    return load_instance(path)


# ------------------------------------------------------------------ procurement classes (reserved, spot)
SPOT_JOBS = """\
fleetopt: 2
name: spot-jobs
horizon_hours: 720
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    storage_gb_s: 2000
    gpus:
      h100-sxm5-80gb:
        count: 2048
        usd_per_hour: 4.25
        spot: {count: 2048, usd_per_hour: SPOT_PRICE, preemptions_per_gpu_hour: 0.02}
training:
  small:          # 8B: a 112 GB checkpoint written in 0.06 s, a group of a few GPUs
    model: llama3-8b
    tokens: 2.0e10
    seq_len: 4096
    global_batch_tokens: 1.0e6
    deadline_hours: 300
  huge:           # 70B on a deadline that takes hundreds of GPUs in one fate-sharing group
    model: llama3-70b
    tokens: 3.0e11
    seq_len: 4096
    global_batch_tokens: 4.0e6
    deadline_hours: 200
"""

RESERVED_SERVING = """\
fleetopt: 2
name: reserved-serving
horizon_hours: 720
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    gpus:
      h100-sxm5-80gb:
        count: 64
        usd_per_hour: 4.25
        reserved: {count: RESERVED, usd_per_hour: 2.9}
populations:
  us-users:
    rtt_ms: {us-east: 20}
serving:
  chat:
    model: llama3-8b
    demand_rps: {us-users: DEMAND}
    slo_p99_ms: 3000
"""


def text_instance(text: str, **values) -> Instance:
    """An instance from YAML text whose UPPERCASE placeholders are replaced by `values` (no file written)."""
    for key, value in values.items():
        text = text.replace(key.upper(), str(value))
    return load_document(yaml.safe_load(text), Path(f"{values and 'x' or 'instance'}.yaml"))


def spot_jobs(spot_price: float = 1.6) -> Instance:
    return text_instance(SPOT_JOBS, spot_price=spot_price)


def reserved_serving(reserved: int, demand: float, with_block: bool = True) -> Instance:
    text = RESERVED_SERVING if with_block else RESERVED_SERVING.replace(
        "        reserved: {count: RESERVED, usd_per_hour: 2.9}\n", "")
    return text_instance(text, reserved=reserved, demand=demand)
