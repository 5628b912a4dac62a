"""What every backend takes and returns: options in, a status and a column vector out."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fleetopt.errors import OPTIMAL


@dataclass
class SolveOptions:
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-4
    mip_abs_gap: float = 0.0          # stop once objective - bound is within this (0: only the relative gap)
    node_limit: int = 0               # stop after this many branch-and-bound nodes (0: no limit)
    threads: int = 0
    seed: int = 0
    verbose: bool = False
    start: np.ndarray | None = None   # a warm start (column values), where the backend takes one
    pyomo_solver: str = "highs"       # backend="pyomo": any Pyomo solver name (pyomo.contrib.solver or legacy)
    ortools_solver: str = "highs"     # backend="ortools": a MathOpt SolverType name, "highs" or "gscip"
    decompose: bool = True            # solve independent jobs and services apart (pipeline/decompose.py)
    executor: str = "threads"         # where the parts run: "threads" (this process) or "dask" (a cluster)
    scheduler: str | None = None      # executor "dask": an existing scheduler's address (None: a LocalCluster)
    price_shared: bool | None = None  # binding shared rows: price them (pipeline/lagrange.py), not merge parts
                                      # (None: when they join many parts)
    replica_bound: bool | None = None # whole-replica bound rows (formulation/replica_bound.py): True on every
                                      # service, False on none, None on the parts a first round leaves open
    race: int = 1                     # HiGHS: this many runs of a whole model, seeds seed, seed+1, ..., raced in
                                      # threads; the first to finish answers (backends/highs.py)
    presolve_twins: bool = True       # fix the serving options k replicas of a twin replace at no loss
                                      # (formulation/twins.py)
    heuristic_effort: float | None = None   # HiGHS's mip_heuristic_effort (None: its default, 0.05); a carbon
                                      # sweep's binding budgets ask for more (whatif/worker.py)
    mip_restart: bool = True          # HiGHS: restart after the root when it fixes many integer columns; off when
                                      # the start is near the optimum (the restarts then redo what the start
                                      # saved: pipeline/range_start.py)
    improve_plans: bool = True        # HiGHS: its sub-MIP heuristics (RINS, RENS) that seek better plans; off
                                      # when the start is proven near the optimum and the search only proves it
                                      # (pipeline/solve._started)


@dataclass
class SolveResult:
    status: str                   # one of fleetopt.errors.STATUSES
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    gap: float | None
    solver: str
    solver_version: str
    detail: str = ""
    solve_s: float = 0.0
    decomposition: dict | None = None   # parts, rounds and the shared rows kept (pipeline/decompose.py)
    overran: bool = False               # the backend's watchdog stopped a run past its time limit: no more rounds


def proven_bound(r: SolveResult) -> float:
    """The bound a result proves: its bound, its objective when optimal without one, else -inf."""
    if r.bound is not None and math.isfinite(r.bound):
        return r.bound
    return r.objective if r.status == OPTIMAL and r.objective is not None else -math.inf


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / |objective|, 0 when both are equal, inf when only the objective is 0 (as HiGHS)."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None if objective is None else math.inf
    diff = abs(objective - bound)
    if diff == 0.0:
        return 0.0
    return diff / abs(objective) if objective != 0.0 else math.inf
