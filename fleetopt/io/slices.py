"""The horizon's steps reduced to weighted slices: representative days (k-medoids) and flat hours merged.

Days are the horizon's 24-hour windows from its hour 0. Each day is a vector of every profiled path's values
over its steps, each path scaled by its standard deviation over the horizon (so carbon in g/kWh and demand in
requests/s weigh alike). K-medoids picks K real days; every day joins its nearest medoid, and each hour of a
medoid becomes a slice that stands for that hour on every day of its cluster (weights sum to the horizon).
Merging then joins consecutive hours of a representative day while every path stays within a tolerance of its
horizon mean: a block is one slice whose value is the mean of its hours.

The reduction is exact for the days it keeps (representative_days: 0 keeps every day); otherwise a plan's
totals on the slices differ from the same plan laid over the full series: `carbon_on_full_series` measures it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fleetopt.io.timeline import Timeline

HOURS_PER_DAY = 24.0
MAX_ITERATIONS = 100


def daily_features(series: Mapping[str, np.ndarray], steps_per_day: int) -> np.ndarray:
    """[D, P*paths] each day's scaled values; a partial last day is completed with the mean day's values.

    Source: Kotzur et al. 2018, Renewable Energy 117:474 (typical days from normalised daily profiles).
    """
    columns = []
    for values in series.values():
        spread = float(np.std(values))
        if spread <= 1e-12 * max(1.0, float(np.abs(values).max(initial=0.0))):
            continue  # a flat path separates no days
        days = -(-len(values) // steps_per_day)
        padded = np.full(days * steps_per_day, np.nan)
        padded[:len(values)] = (values - values.mean()) / spread
        grid = padded.reshape(days, steps_per_day)
        columns.append(np.where(np.isnan(grid), np.nanmean(grid, axis=0), grid))
    return np.hstack(columns) if columns else np.zeros((0, 0))


def squared_distances(x: np.ndarray) -> np.ndarray:
    """[D, D] squared Euclidean distances between the rows of x."""
    norms = (x * x).sum(axis=1)
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * x @ x.T, 0.0)


def k_medoids(dist: np.ndarray, k: int, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(medoids, cluster of each point): PAM's greedy BUILD, then alternate assignment and medoid update.

    Deterministic (ties go to the lowest index); only `eligible` points become medoids. Stops adding medoids
    when no point lowers the total distance (identical days make one cluster).
    Source: Kaufman & Rousseeuw 1990, Finding Groups in Data, ch. 2 (PAM); Park & Jun 2009 (alternating update).
    """
    candidates = np.flatnonzero(eligible)
    total = dist[candidates].sum(axis=1)
    medoids = [int(candidates[np.argmin(total)])]
    nearest = dist[medoids[0]].copy()
    while len(medoids) < k:
        gain = np.maximum(nearest[None, :] - dist[candidates], 0.0).sum(axis=1)
        gain[np.isin(candidates, medoids)] = -1.0
        if gain.max() <= 0.0:
            break
        medoids.append(int(candidates[np.argmax(gain)]))
        nearest = np.minimum(nearest, dist[medoids[-1]])
    medoids_arr = np.array(sorted(medoids))
    for _ in range(MAX_ITERATIONS):
        cluster = np.argmin(dist[medoids_arr], axis=0)
        updated = medoids_arr.copy()
        for c in range(len(medoids_arr)):
            members = np.flatnonzero(cluster == c)
            choices = members[eligible[members]]
            updated[c] = choices[np.argmin(dist[np.ix_(choices, members)].sum(axis=1))]
        updated = np.sort(updated)
        if np.array_equal(updated, medoids_arr):
            break
        medoids_arr = updated
    return medoids_arr, np.argmin(dist[medoids_arr], axis=0)


def _merge_blocks(values: np.ndarray, scale: np.ndarray, tolerance: float) -> list[tuple[int, int]]:
    """[(start, stop)) runs of consecutive steps whose values (paths x steps) stay within tolerance*scale."""
    blocks, start = [], 0
    for stop in range(1, values.shape[1] + 1):
        if stop == values.shape[1]:
            blocks.append((start, stop))
            break
        window = values[:, start:stop + 1]
        if np.any(window.max(axis=1) - window.min(axis=1) > tolerance * scale):
            blocks.append((start, stop))
            start = stop
    return blocks


def build_timeline(horizon_hours: float, step_hours: float, series: Mapping[str, np.ndarray],
                   representative_days: int = 0, merge_tolerance: float | None = None) -> Timeline:
    """The slices of a horizon whose profiled paths have the per-step values `series` (each [T])."""
    steps = int(round(horizon_hours / step_hours))
    per_day = int(round(HOURS_PER_DAY / step_hours))
    days = -(-steps // per_day)
    full = np.array([min(per_day, steps - d * per_day) == per_day for d in range(days)])
    if 0 < representative_days < days and full.any():
        features = daily_features(series, per_day)
        dist = squared_distances(features) if features.size else np.zeros((days, days))
        medoids, cluster = k_medoids(dist, representative_days, full)
    else:  # every day stands for itself
        medoids, cluster = np.arange(days), np.arange(days)
    names = list(series)
    stacked = np.array([series[n] for n in names]).reshape(len(names), steps)
    scale = np.maximum(np.abs(stacked.mean(axis=1)), 1e-12) if names else np.zeros(0)
    weights, start, day, members, values = [], [], [], [], []
    for c, medoid in enumerate(medoids):
        in_cluster = np.flatnonzero(cluster == c)
        hours = np.arange(min(per_day, steps - medoid * per_day))
        occurrences = [d * per_day + hours[d * per_day + hours < steps] for d in in_cluster]
        step_members = [np.sort(np.concatenate([o[o % per_day == h] for o in occurrences])) for h in hours]
        own = stacked[:, medoid * per_day + hours]
        blocks = _merge_blocks(own, scale, merge_tolerance) if merge_tolerance is not None and names \
            else [(h, h + 1) for h in hours]
        for lo, hi in blocks:
            block_members = np.sort(np.concatenate(step_members[lo:hi]))
            counts = np.array([len(m) for m in step_members[lo:hi]], dtype=float)
            members.append(block_members)
            weights.append(len(block_members) * step_hours)
            start.append(block_members[0] * step_hours)
            day.append(c)
            values.append(own[:, lo:hi] @ counts / counts.sum())
    per_slice = np.array(values).reshape(len(weights), len(names))
    return Timeline(step_hours=float(step_hours), weights=np.array(weights), start_hour=np.array(start, dtype=float),
                    day=np.array(day, dtype=np.int64), members=tuple(members),
                    values={n: per_slice[:, i] for i, n in enumerate(names)},
                    series={n: np.asarray(series[n], dtype=float) for n in names})


# ------------------------------------------------------------------ the reduction's error


@dataclass(frozen=True)
class ReductionError:
    """A plan's total on the slices against the same plan laid over every step of the full series."""

    on_slices: float
    on_full_series: float

    @property
    def absolute(self) -> float:
        return self.on_slices - self.on_full_series

    @property
    def relative(self) -> float:
        """(slices - full) / full; 0 when both are 0."""
        return self.absolute / self.on_full_series if self.on_full_series else 0.0


def weighted_on_full_series(timeline: Timeline, usage: Mapping[str, np.ndarray]) -> ReductionError:
    """Σ usage x value x hours over the slices and over the full series, for each path's per-slice usage.

    A slice's usage stands for every step it holds (as the plan means it), so the full series total is
    Σ_t step_hours·usage[slice(t)]·series[t]; a path without a series is the same in both and is left out.
    Source: Brown et al. 2018, J. Open Research Software 6:4 (PyPSA: totals as sums over weighted snapshots).
    """
    of_step = timeline.slice_of_step()
    on_slices = on_full = 0.0
    for path, use in usage.items():
        full = timeline.series.get(path)
        if full is None:
            continue
        use = np.asarray(use, dtype=float)
        on_slices += float((timeline.weights * use * timeline.values[path]).sum())
        on_full += float((timeline.step_hours * use[of_step] * full).sum())
    return ReductionError(on_slices, on_full)


def carbon_on_full_series(timeline: Timeline, mw_by_region: Mapping[str, np.ndarray]) -> ReductionError:
    """Operational carbon (t) of facility power per region and slice (MW, PUE included) on the slices and on
    the full carbon-intensity series: the error the reduction to slices makes in the plan's carbon.

    Source: operational carbon = energy (kWh) x grid intensity (g/kWh), as physics/energy.py.
    """
    usage = {f"regions.{r}.carbon_g_per_kwh": np.asarray(mw, dtype=float) * 1e3 / 1e6  # MW -> kW, g -> t
             for r, mw in mw_by_region.items()}
    return weighted_on_full_series(timeline, usage)


def reduction_line(timeline: Timeline, mw_by_region: Mapping[str, np.ndarray]) -> str | None:
    """One sentence for reports: a plan's operational carbon on the slices and over every step of the horizon
    (None when no carbon intensity varies over time)."""
    if not any(p.endswith(".carbon_g_per_kwh") for p in timeline.series):
        return None
    err = carbon_on_full_series(timeline, mw_by_region)
    return (f"Operational carbon on the {len(timeline)} slices: {err.on_slices:,.2f} t; the same per-slice power "
            f"over all {timeline.steps:,} steps of the horizon: {err.on_full_series:,.2f} t (the reduction to "
            f"slices is off by {err.relative:+.2%}).")
