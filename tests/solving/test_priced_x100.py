"""The priced path over WHOLE_LP_COLS (x100's: no whole LP, no repair), on small fleets with WHOLE_LP_COLS
lowered: the master starts from the swapped plan, and the first round's parts that hold most of its open gap
are solved again closer; bounds never above the brute-force optimum, plans hold."""

from __future__ import annotations

import math
import time

import numpy as np

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import components, shared_rows, split
from fleetopt.pipeline import lagrange
from fleetopt.pipeline.master import MasterResult, PlanPool, improve_by_swaps
from helpers import random_fleet, rows_hold

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60, price_shared=True)


def _pool(form, seed: int, per_part: int = 4):
    """Each part's plans: its MILP's optima at random costs; the plan using least of the shared rows."""
    rng = np.random.default_rng(seed)
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    cost = form.col_arrays()[0]
    a_shared = form.matrix()[np.flatnonzero(shared)]
    pool = PlanPool(parts, a_shared, cost)
    for i, q in enumerate(parts):
        for _ in range(per_part):
            r = highs.solve(lagrange.with_cost(q, rng.uniform(-1, 3, len(q.cols))).form, EXACT)
            if r.x is not None:
                pool.add(i, r.x)
    if any(not plans for plans in pool.plans):
        return None
    dearest = np.zeros(form.n_cols)
    for q, plans in zip(parts, pool.plans):
        dearest[q.cols] = min(plans, key=lambda x: (float(np.abs(a_shared[:, q.cols] @ x).sum()),
                                                    -float(cost[q.cols] @ x)))
    return pool, dearest if rows_hold(form, dearest) else None


def test_the_master_starts_from_the_swapped_plan(monkeypatch):
    """Cut by the clock, x100's master MILP returned its start (the LP rounds' plan, 308.5M) where the swaps
    reach ~298M: the swaps run first, and the master starts from their plan."""
    starts = []
    monkeypatch.setattr(lagrange, "solve_master",
                        lambda *a, start=None, **k: starts.append(start) or MasterResult(None, math.inf, None))
    checked = 0
    for seed in range(15):
        form = random_fleet(seed)
        got = _pool(form, seed)
        if got is None or got[1] is None:
            continue
        pool, dearest = got
        cost = form.col_arrays()[0]
        shared = shared_rows(form)
        lower, upper = (v[shared] for v in form.row_bounds())
        swapped = improve_by_swaps(pool, dearest, lower, upper)
        if float(cost @ swapped) >= float(cost @ dearest) - 1e-6:
            continue
        best = lagrange.Priced(x=dearest, objective=float(cost @ dearest), bound=-math.inf,
                               prices=np.zeros(int(shared.sum())), rounds=0, bounds=[])
        starts.clear()
        lagrange._master_plan(pool, form, best, lower, upper, EXACT, time.monotonic() + 10)
        assert float(cost @ starts[0]) <= float(cost @ swapped) + 1e-6 < float(cost @ dearest)
        assert rows_hold(form, best.x)
        checked += 1
    assert checked >= 2
