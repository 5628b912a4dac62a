"""The horizon's time slices as the formulation sees them: slice labels, per-slice prices, intensities, caps and
demand, and what one hour of each column costs and emits in each slice.

With one slice (a version 1 instance) every figure here is the static one, bit for bit, so the families written
once with a slice dimension build exactly the static model. With S > 1 slices (io/timeline.py):
  run[j,c,s] in [0, a[c,s]]   fraction of the horizon hours slice s stands for during which job j runs layout c;
                              a[c,s] = hours of s inside the job's window [earliest_start_hour, deadline] / w_s
  resume[j,c,s] >= 0          pausable jobs: fraction of the days of slice s on which the job resumes there
  cost and carbon of a column = sum_s w_s x (its per-hour charge in slice s) x its level in s
A slice's GPUs and MW are the fluid average over the hours it stands for (README design note "Plans over time").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.candidates.tables import SPOT, ServingCandidates, TrainingCandidates
from fleetopt.io.schema import Instance
from fleetopt.io.timeline import Timeline


def slice_labels(tl: Timeline) -> list[str]:
    """One name per slice for row and column keys: d<representative day>h<hour of day>, e.g. d0h13."""
    labels = [f"d{int(d)}h{float(h) % 24:g}" for d, h in zip(tl.day, tl.start_hour)]
    if len(set(labels)) < len(labels):  # slices merged across a day boundary may share a start hour of day
        labels = [f"{lab}s{i}" for i, lab in enumerate(labels)]
    return labels


def previous_slice(tl: Timeline) -> np.ndarray:
    """[S] the slice before each within its representative day, in hour-of-day order, cyclic (a day repeats)."""
    prev = np.arange(len(tl))
    for d in np.unique(tl.day):
        mine = np.flatnonzero(tl.day == d)
        order = mine[np.argsort(np.asarray(tl.start_hour, dtype=float)[mine] % 24, kind="stable")]
        prev[order] = np.roll(order, 1)
    return prev


def days_per_slice(tl: Timeline) -> np.ndarray:
    """[S] distinct days of the horizon each slice stands for: how often a resume there happens."""
    return np.array([len(np.unique(np.floor(np.asarray(m) * tl.step_hours / 24.0))) for m in tl.members],
                    dtype=float)


@dataclass
class Slices:
    """Per-slice inputs of the formulation, in the instance's region order."""

    timeline: Timeline
    labels: list[str]
    prev: np.ndarray            # [S]
    days: np.ndarray            # [S]
    carbon: np.ndarray          # [R, S] g CO2e per kWh
    energy_price: np.ndarray    # [R, S] USD per kWh
    power_cap: list[np.ndarray | None]  # per region: [S] MW, None = uncapped

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.timeline.weights, dtype=float)

    def keys(self, keys: list[tuple]) -> list[tuple]:
        """Row or column keys over slices: the key itself with one slice, else one per (key, slice), key-major."""
        if self.n == 1:
            return list(keys)
        return [k + (lab,) for k in keys for lab in self.labels]

    def static_or(self, static: np.ndarray, per_hour: np.ndarray) -> np.ndarray:
        """[n, S] charge of one unit held through each slice: the static figure itself with one slice (so the
        model is bit for bit the version 1 model), else w_s x the per-hour charge."""
        if self.n == 1:
            return np.asarray(static, dtype=float)[:, None]
        return per_hour * self.weights[None, :]


def slices_of(inst: Instance) -> Slices:
    """The instance's slices with each region's intensity, energy price and cap per slice (profile or constant)."""
    tl = inst.timeline
    regions = list(inst.regions.items())
    caps = []
    for r, reg in regions:
        path = f"regions.{r}.power_cap_mw"
        caps.append(None if reg.power_cap_mw is None and path not in tl.values
                    else tl.value(path, np.inf if reg.power_cap_mw is None else reg.power_cap_mw))
    return Slices(
        timeline=tl, labels=slice_labels(tl), prev=previous_slice(tl), days=days_per_slice(tl),
        carbon=np.array([tl.value(f"regions.{r}.carbon_g_per_kwh", reg.mean_carbon_g_per_kwh) for r, reg in regions]),
        energy_price=np.array([tl.value(f"regions.{r}.energy_usd_per_kwh", reg.energy_usd_per_kwh)
                               for r, reg in regions]),
        power_cap=caps)


def per_hour_charges(inst: Instance, sl: Slices, region: np.ndarray, mw: np.ndarray, excludes_energy: np.ndarray,
                     static_usd: np.ndarray, static_t: np.ndarray, static_hours) -> tuple[np.ndarray, np.ndarray]:
    """[n, S] USD and t CO2e of one hour of a column's use in each slice, from its static charges over
    `static_hours`: the static rate plus what the slice's energy price and intensity add to it.
    Source: physics/economics.horizon_charges is linear in hours, energy price and intensity (energy = MW x h)."""
    names = list(inst.regions)
    p0 = np.array([inst.regions[r].energy_usd_per_kwh for r in names])[region]
    i0 = np.array([inst.regions[r].mean_carbon_g_per_kwh for r in names])[region]
    kwh_per_hour = (np.asarray(mw, dtype=float) * 1e3)[:, None]
    hours = np.asarray(static_hours, dtype=float)
    hours = hours[:, None] if hours.ndim else hours
    usd = (np.asarray(static_usd, dtype=float)[:, None] / hours
           + np.asarray(excludes_energy, dtype=float)[:, None] * kwh_per_hour * (sl.energy_price[region] - p0[:, None]))
    t = np.asarray(static_t, dtype=float)[:, None] / hours + kwh_per_hour * (sl.carbon[region] - i0[:, None]) / 1e6
    return usd, t


@dataclass
class TrainingTime:
    """Per training candidate: its window, the hours it must cover inside the horizon, and its charges."""

    window: np.ndarray          # [C, S] a[c,s]: share of slice s's hours inside the job's window
    required_hours: np.ndarray  # [C] min(wall hours, window hours inside the horizon)
    restart_hours: np.ndarray   # [C] checkpoint read + warm-up per resume
    pausable: np.ndarray        # [C] bool
    one_off_usd: np.ndarray     # [C] charges that do not scale with hours run (dataset egress)
    usd: np.ndarray             # [C, S] per slice, at full use of the slice (w_s x per-hour)
    t: np.ndarray               # [C, S]


def _gpu_price(inst: Instance, tc: TrainingCandidates) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate: USD per GPU (or edge device) hour, and whether the price leaves energy out."""
    price, excl = np.zeros(len(tc)), np.zeros(len(tc), dtype=bool)
    for i, (r, a) in enumerate(zip(tc.region, tc.accel)):
        reg, aname = inst.regions[tc.region_names[r]], tc.accel_names[a]
        stock = reg.gpus.get(aname)
        if stock is not None:
            spot = tc.procurement[i] == SPOT
            price[i], excl[i] = stock.spot.usd_per_hour if spot else stock.usd_per_hour, not stock.includes_energy
        elif reg.devices is not None:
            price[i] = reg.devices.usd_per_device_hour
    return price, excl


def training_time(inst: Instance, tc: TrainingCandidates, sl: Slices) -> TrainingTime:
    tl, horizon = sl.timeline, inst.horizon_hours
    jobs = [inst.training[j] for j in tc.job_names]
    window = np.array([tl.hours_in_window(j.earliest_start_hour, min(j.deadline_hours, horizon)) for j in jobs])
    window = window.reshape(len(jobs), sl.n)
    share = window / sl.weights[None, :]
    hours = np.minimum(tc.wall_hours, horizon)
    price, excl = _gpu_price(inst, tc)
    names = list(inst.regions)
    region = np.array([names.index(tc.region_names[r]) for r in tc.region], dtype=np.int64)
    p0 = np.array([inst.regions[r].energy_usd_per_kwh for r in names])[region]
    # what the static cost holds beyond GPU-hours and their energy: the dataset's egress, paid once
    one_off = tc.cost_usd - hours * (tc.gpus * price + excl * tc.power_mw * 1e3 * p0)
    usd, t = per_hour_charges(inst, sl, region, tc.power_mw, excl, tc.cost_usd - one_off, tc.carbon_t, hours)
    return TrainingTime(
        window=share[tc.job], required_hours=np.minimum(tc.wall_hours, window.sum(axis=1)[tc.job]),
        restart_hours=np.array([j.checkpoint_restart_min / 60.0 for j in jobs])[tc.job],
        pausable=np.array([j.pausable for j in jobs], dtype=bool)[tc.job], one_off_usd=one_off,
        usd=usd * sl.weights[None, :], t=t * sl.weights[None, :])


def serving_charges(inst: Instance, sc: ServingCandidates, sl: Slices) -> tuple[np.ndarray, np.ndarray]:
    """[O, S] USD and t CO2e of one replica held through each slice."""
    names = list(inst.regions)
    region = np.array([names.index(sc.region_names[r]) for r in sc.region], dtype=np.int64)
    excl = np.array([not inst.regions[sc.region_names[r]].gpus[sc.accel_names[a]].includes_energy
                     if sc.accel_names[a] in inst.regions[sc.region_names[r]].gpus else False
                     for r, a in zip(sc.region, sc.accel)], dtype=bool)
    usd, t = per_hour_charges(inst, sl, region, sc.power_mw_per_replica, excl, sc.cost_usd_per_replica,
                              sc.carbon_t_per_replica, inst.horizon_hours)
    return sl.static_or(sc.cost_usd_per_replica, usd), sl.static_or(sc.carbon_t_per_replica, t)


def demand_by_slice(inst: Instance, sc: ServingCandidates, sl: Slices) -> np.ndarray:
    """[pairs, S] requests/s of each (service, population) with demand, per slice (the profile or the constant)."""
    tl = sl.timeline
    return np.array([tl.value(f"serving.{sc.service_names[s]}.demand_rps.{sc.population_names[u]}", d)
                     for s, u, d in zip(sc.demand_service, sc.demand_population, sc.demand_rps)]).reshape(-1, sl.n)
