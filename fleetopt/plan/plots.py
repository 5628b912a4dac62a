"""The schedule plot: GPUs in use per region and time slice, over each region's carbon intensity.

One panel per region that holds GPUs: bars of the GPUs in use in each slice (stacked by accelerator; the
plan's per-slice region use, RegionUse.gpus_by_slice) and, on the right axis, the grid carbon intensity of the
slice (the instance's timeline). Slices run in the order of the day: each representative day is a block of 24
hours, labelled with the days it stands for; a merged block of hours is one wide bar. A static plan is one
slice of the whole horizon. Matplotlib without pyplot state (as whatif/plots.py); a PNG is written whole
(io/output.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fleetopt.io.output import write_bytes_atomic

HOURS_PER_DAY = 24.0
DAY_GAP_HOURS = 2.0      # white space between representative days
MIN_GPUS_SHOWN = 0.5     # a region below this in every slice holds no GPUs (solver residues)


@dataclass(frozen=True)
class Schedule:
    """What the plot draws, slices in the order they run within their day (all arrays [S] in that order)."""

    x_hours: np.ndarray                       # left edge of each slice on the plot's hour axis
    width_hours: np.ndarray                   # hours of its day the slice covers
    day: np.ndarray                           # representative day of each slice
    days_stood_for: dict[int, float]          # representative day -> horizon days it stands for
    gpus: dict[str, dict[str, np.ndarray]]    # region -> accelerator -> GPUs in use per slice
    carbon: dict[str, np.ndarray]             # region -> g CO2e/kWh per slice


def schedule_of(plan, inst) -> Schedule:
    """The plot's data from a plan (with its per-slice region use) and the instance it was made for."""
    tl = getattr(plan, "timeline", None)  # plans over time only (a static plan has none)
    if tl is None:  # a static plan: one slice of the whole horizon
        weights, start, day = np.array([float(inst.horizon_hours)]), np.zeros(1), np.zeros(1, dtype=np.int64)
    else:
        weights, start, day = np.asarray(tl.weights), np.asarray(tl.start_hour), np.asarray(tl.day)
    hour = start % HOURS_PER_DAY
    order = np.lexsort((hour, day))
    weights, hour, day = weights[order], hour[order], day[order]
    # a slice covers its day up to the next slice of the same day (the last one up to the day's end)
    nxt = np.append(hour[1:], HOURS_PER_DAY)
    same_day = np.append(day[1:] == day[:-1], False)
    width = np.where(same_day, nxt, HOURS_PER_DAY) - hour
    if tl is None:
        width = np.array([HOURS_PER_DAY])
    x = day * (HOURS_PER_DAY + DAY_GAP_HOURS) + hour
    stood = {int(d): float(weights[day == d].sum() / max(width[day == d].sum(), 1e-12)) for d in np.unique(day)}
    timeline = inst.timeline
    gpus, carbon = {}, {}
    for region, use in plan.totals.regions.items():
        by_slice = getattr(use, "gpus_by_slice", None) if tl is not None else None
        held = {a: (np.asarray(v, dtype=float)[order] if by_slice is not None else np.array([float(v)]))
                for a, v in (by_slice or use.gpus).items()}
        held = {a: v for a, v in held.items() if v.max(initial=0.0) >= MIN_GPUS_SHOWN}
        if not held:
            continue
        gpus[region] = held
        static = inst.regions[region].mean_carbon_g_per_kwh
        values = timeline.value(f"regions.{region}.carbon_g_per_kwh", static) if tl is not None else [static]
        carbon[region] = np.asarray(values, dtype=float)[order]
    return Schedule(x, width, day, stood, gpus, carbon)


def plot_schedule(plan, inst, path: str | Path | None = None, title: str | None = None):
    """The schedule figure (matplotlib Figure); written as a PNG to `path` when given."""
    from matplotlib.figure import Figure

    sched = schedule_of(plan, inst)
    regions = list(sched.gpus)
    fig = Figure(figsize=(10, 1.2 + 1.9 * max(len(regions), 1)), layout="constrained")
    axes = fig.subplots(max(len(regions), 1), 1, sharex=True, squeeze=False)[:, 0]
    accelerators = sorted({a for held in sched.gpus.values() for a in held})
    colors = {a: f"C{i}" for i, a in enumerate(accelerators)}
    for ax, region in zip(axes, regions):
        bottom = np.zeros(len(sched.x_hours))
        for accel, held in sorted(sched.gpus[region].items()):
            ax.bar(sched.x_hours, held, sched.width_hours * 0.92, bottom=bottom, align="edge", color=colors[accel])
            bottom += held
        ax.set_ylabel(f"{region}\nGPUs in use")
        ax.grid(axis="y", alpha=0.3)
        twin = ax.twinx()
        for d in np.unique(sched.day):  # one step line per representative day
            on = sched.day == d
            edges = np.append(sched.x_hours[on], sched.x_hours[on][-1] + sched.width_hours[on][-1])
            twin.stairs(sched.carbon[region][on], edges, color="black", linewidth=1.4)
        twin.set_ylabel("g CO2e/kWh")
        twin.set_ylim(0, max(1.0, float(sched.carbon[region].max())) * 1.15)
    if not regions:
        axes[0].text(0.5, 0.5, "no GPUs in use", ha="center", va="center", transform=axes[0].transAxes)
    for d, days in sched.days_stood_for.items():
        axes[0].annotate(f"day {d + 1}: stands for {days:.3g} days", (d * (HOURS_PER_DAY + DAY_GAP_HOURS), 1.0),
                         xycoords=("data", "axes fraction"), xytext=(0, 4), textcoords="offset points", fontsize=8)
    ticks = [d * (HOURS_PER_DAY + DAY_GAP_HOURS) + h for d in sched.days_stood_for for h in range(0, 24, 6)]
    axes[-1].set_xticks(ticks, [f"{int(t % (HOURS_PER_DAY + DAY_GAP_HOURS))}h" for t in ticks])
    axes[-1].set_xlabel("hour of the day (UTC)")
    if regions:
        fig.legend(handles=_legend(colors), loc="outside lower center", ncols=len(colors) + 1, fontsize=8)
    fig.suptitle(title or f"{plan.provenance.instance}: GPUs in use over the carbon intensity")
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        write_bytes_atomic(path, buf.getvalue())
    return fig


def _legend(colors: dict[str, str]) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [Patch(color=c, label=a) for a, c in colors.items()] + [
        Line2D([], [], color="black", linewidth=1.4, label="carbon intensity (right axis)")]
