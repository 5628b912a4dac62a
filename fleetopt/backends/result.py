"""What every backend takes and returns: options in, a status and a column vector out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SolveOptions:
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-4
    threads: int = 0
    seed: int = 0
    verbose: bool = False
    start: np.ndarray | None = None   # a warm start (column values), where the backend takes one
    pyomo_solver: str = "highs"       # backend="pyomo": any Pyomo solver name (pyomo.contrib.solver or legacy)
    ortools_solver: str = "highs"     # backend="ortools": a MathOpt SolverType name, "highs" or "gscip"


@dataclass
class SolveResult:
    status: str                   # optimal | feasible | infeasible | unbounded | no_plan_in_time | error
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    gap: float | None
    solver: str
    solver_version: str
    detail: str = ""
    solve_s: float = 0.0
