"""Cost against carbon: the Pareto front by the epsilon-constraint method, and its knee.

Two anchors first: the cheapest plan with no carbon budget (the front's high-carbon end) and the cleanest plan
(objective carbon: its low-carbon end). Then cost is minimized under carbon budgets spread evenly between the
two ends; the plans that no other plan beats on both cost and carbon form the front. Every solve is a scenario
of an ordinary sweep, so the front runs on the same executors and resumes the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fleetopt.errors import WITH_PLAN, check_whole
from fleetopt.whatif.executors import check_executor
from fleetopt.whatif.run import Job, SolveSettings, plan_jobs, run_sweep
from fleetopt.whatif.scenario import Base
from fleetopt.whatif.spec import Setting
from fleetopt.whatif.store import Columns, MemoryStore, ResultStore, frame_of

BUDGET = "policy.carbon_budget_t"
RELATIVE_TOL = 1e-9
MAX_POINTS = 1000


def nondominated(carbon: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """True for each point no other point beats on both axes (equal points: the first one counts).
    Source: Miettinen (1999), Nonlinear Multiobjective Optimization, Def. 2.2.1 (Pareto optimality)."""
    carbon, cost = np.asarray(carbon, float), np.asarray(cost, float)
    order = np.lexsort((cost, carbon))
    keep = np.zeros(len(carbon), bool)
    best = np.inf
    for i in order:  # ascending carbon: a point is on the front when it is cheaper than every cleaner one
        if not np.isfinite(best) or cost[i] < best - RELATIVE_TOL * max(abs(best), 1.0):
            keep[i] = True
            best = cost[i]
    return keep


def knee_index(carbon: np.ndarray, cost: np.ndarray) -> int | None:
    """The knee of a front: with both axes scaled to [0, 1], the point farthest below the chord joining the
    two ends (where a little more carbon stops buying much cost). None with fewer than three points.
    Source: Das (1999), On characterizing the 'knee' of the Pareto curve based on Normal-Boundary
    Intersection, Structural Optimization 18:107-115 (largest distance from the convex hull of the individual
    minima, here the chord)."""
    carbon, cost = np.asarray(carbon, float), np.asarray(cost, float)
    if len(carbon) < 3:
        return None
    c = (carbon - carbon.min()) / (np.ptp(carbon) or 1.0)
    u = (cost - cost.min()) / (np.ptp(cost) or 1.0)
    i0, i1 = int(np.argmin(carbon)), int(np.argmax(carbon))
    dx, dy = c[i1] - c[i0], u[i1] - u[i0]
    norm = math.hypot(dx, dy) or 1.0
    below = (dy * (c - c[i0]) - dx * (u - u[i0])) / norm  # > 0 on the origin side of the chord
    below[[i0, i1]] = -np.inf
    best = int(np.argmax(below))
    return best if below[best] > 0 else None


def epsilon_budgets(low: float, high: float, points: int) -> list[float]:
    """Carbon budgets from the cleanest plan's carbon to the cheapest plan's, both included. The lowest is
    rounded up (never below what the cleanest plan emits), the rest to 6 significant digits."""
    if points < 2 or high <= low:
        return [_round_up(low)]
    values = np.linspace(low, high, points)
    return [_round_up(values[0])] + [float(f"{v:.6g}") for v in values[1:-1]] + [_round_up(values[-1])]


def _round_up(value: float, digits: int = 6) -> float:
    if value <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale * (1 - 1e-12)) / scale


@dataclass
class ParetoFront:
    """Every epsilon solve (`runs`, a DataFrame) and the front itself (`front`, sorted by carbon, with a
    `knee` column)."""

    runs: object
    front: object
    knee: int | None

    @property
    def knee_row(self):
        return None if self.knee is None else self.front.iloc[self.knee]


def _settings(base: Base, objective: str, budget: float | None) -> tuple[Setting, ...]:
    """Pure cost (no carbon price) or pure carbon, under a budget or none."""
    doc = base.document
    out = []
    policy = doc.get("policy") or {}
    if objective != "cost" or doc.get("objective", "cost") != "cost":
        out.append(Setting("objective", objective))
    if policy.get("carbon_price_usd_per_t", 0):
        out.append(Setting("policy.carbon_price_usd_per_t", 0))
    out.append(Setting(BUDGET, budget))
    return tuple(out)


def pareto_columns() -> Columns:
    from fleetopt.whatif.api import columns_for
    from fleetopt.whatif.spec import Factor

    return columns_for([Factor(BUDGET, (Setting(BUDGET, 0.0),)), Factor("objective", (Setting("objective", "c"),))])


def pareto_front(base: Base, points: int = 9, *, results: str | Path | None = None, executor: str = "local",
                 workers: int | None = None, scheduler: str | None = None, warm_start: bool = True,
                 solve: SolveSettings = SolveSettings(), progress: bool = False) -> ParetoFront:
    """Trace cost against carbon with `points` carbon budgets between the two anchors."""
    check_whole("points", points, 2, MAX_POINTS)
    check_executor(executor, workers)
    from fleetopt.whatif.api import factor_values, progress_bar

    columns = pareto_columns()
    store = ResultStore(results, columns) if results is not None else MemoryStore(columns)

    def run(jobs: Sequence[Job], title: str):
        with progress_bar(len(jobs), progress, title) as on_row:
            return run_sweep(base, jobs, store, solve=solve, executor=executor, workers=workers,
                             scheduler=scheduler, warm_start=warm_start, on_row=on_row, extra=factor_values)

    cheapest, cleanest = _settings(base, "cost", None), _settings(base, "carbon", None)
    anchors = run(plan_jobs(base, [cleanest], solve, reference=cheapest), "pareto anchors")
    high_row, low_row = anchors.rows[0], anchors.rows[-1]
    if high_row.get("carbon_t") is None or low_row.get("carbon_t") is None:  # no plan at all: no front
        runs = frame_of(anchors.rows, columns)
        return ParetoFront(runs, runs.iloc[0:0].assign(knee=[]), None)
    budgets = epsilon_budgets(low_row["carbon_t"], high_row["carbon_t"], points)
    traced = run(plan_jobs(base, [_settings(base, "cost", b) for b in budgets], solve, reference=cheapest),
                 "pareto front")
    runs = frame_of(anchors.rows + traced.rows[1:], columns)
    solved = runs[runs["status"].isin(WITH_PLAN) & runs["carbon_t"].notna()]
    solved = solved[solved["scenario_id"] != low_row["scenario_id"]]  # the cleanest plan's cost is not minimized
    keep = nondominated(solved["carbon_t"].to_numpy(), solved["cost_usd"].to_numpy())
    front = solved[keep].sort_values("carbon_t").reset_index(drop=True)
    knee = knee_index(front["carbon_t"].to_numpy(), front["cost_usd"].to_numpy())
    front["knee"] = [i == knee for i in range(len(front))]
    return ParetoFront(runs, front, knee)
