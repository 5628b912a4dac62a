"""The parts' LPs kept in HiGHS across price rounds: a round changes only the costs, and the simplex starts from
the basis of the last round (x100: 1,000 part LPs a round; passing each model again and solving it from scratch
was ~6.5 CPU s a round). Only for HiGHS parts run in this process's threads; other backends and Dask clusters go
through decompose._run as every other round does."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fleetopt.backends.result import SolveResult
from fleetopt.errors import ERROR, INFEASIBLE, NO_PLAN_IN_TIME, OPTIMAL, UNBOUNDED
from fleetopt.formulation.split import Part, relaxed


class WarmLPs:
    """One HiGHS object per part, holding its LP relaxation."""

    def __init__(self, parts: list[Part], threads: int, workers: int):
        self.parts = parts
        self.threads = threads
        self.workers = max(1, min(workers, len(parts)))
        self._models: list = [None] * len(parts)

    def solve(self, costs: list[np.ndarray], deadline: float) -> list[SolveResult]:
        """Each part's LP at its costs (in part order), each with the time left when it starts."""
        def one(i: int) -> SolveResult:
            return self._solve_one(i, costs[i], max(deadline - time.monotonic(), 0.01))

        if self.workers == 1:
            return [one(i) for i in range(len(self.parts))]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, range(len(self.parts))))

    def _solve_one(self, i: int, cost: np.ndarray, time_limit: float) -> SolveResult:
        import highspy

        from fleetopt.backends import highs

        h = self._models[i]
        n = len(cost)
        if h is None:
            h = highs.quiet_highs(self.threads)
            h.passModel(highs.to_lp(relaxed(self.parts[i].form), highspy))
            self._models[i] = h
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, dtype=float))
        h.setOptionValue("time_limit", float(time_limit))
        h.run()
        status = h.getModelStatus()
        ms = highspy.HighsModelStatus
        kind = {ms.kOptimal: OPTIMAL, ms.kInfeasible: INFEASIBLE, ms.kUnbounded: UNBOUNDED,
                ms.kUnboundedOrInfeasible: INFEASIBLE, ms.kTimeLimit: NO_PLAN_IN_TIME}.get(status, ERROR)
        if kind != OPTIMAL:
            return SolveResult(status=kind, x=None, objective=None, bound=None, gap=None, solver="highs",
                               solver_version=h.version(), detail=h.modelStatusToString(status))
        objective = float(h.getInfo().objective_function_value)
        return SolveResult(status=OPTIMAL, x=np.asarray(h.getSolution().col_value, dtype=float),
                           objective=objective, bound=objective, gap=0.0, solver="highs",
                           solver_version=h.version(), detail="optimal")
