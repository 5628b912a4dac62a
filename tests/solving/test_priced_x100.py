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
from test_open_parts_bound import service_fleet

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


def _parts_at_prices(form, seed: int):
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    rng = np.random.default_rng(seed)
    priced_cost = form.col_arrays()[0] * rng.uniform(0.8, 1.2, form.n_cols)
    return parts, priced_cost


def _root_round(parts, priced_cost, rows_for):
    """One priced round stopped at each part's root (one node), the parts in `rows_for` with their rows."""
    from fleetopt.pipeline.decompose import Backend, _run

    last, starts = [None] * len(parts), [None] * len(parts)
    return lagrange._priced_round(parts, priced_cost, last, starts, np.full(len(parts), 1e-6), 1, _run,
                                  Backend(highs.solve), EXACT, time.monotonic() + 60, np.arange(len(parts)),
                                  rows_for)


def test_parts_given_their_rows_before_their_first_milp_bound_higher_and_never_above_their_optimum():
    """Over WHOLE_LP_COLS (x100) no part has its whole-replica rows from the start: the parts `rows_for` names
    get them in the round's own thread. At the root the rows lift the parts' bounds (x100's open parts: +287k
    where 8x the nodes gave +52k), never above each part's optimum; the parts keep their rows (Strong) for
    the next rounds, and their plans hold their plain rows."""
    from fleetopt.backends.result import proven_bound
    from fleetopt.pipeline.part_rows import Strong, plain

    higher = 0
    for seed in range(10):
        form = service_fleet(seed)
        parts, priced_cost = _parts_at_prices(form, seed)
        plain_round = _root_round(list(parts), priced_cost, set())
        strong_parts = list(parts)
        strong_round = _root_round(strong_parts, priced_cost, set(range(len(parts))))
        for q, s, a, b in zip(parts, strong_parts, plain_round, strong_round):
            exact = highs.solve(lagrange.with_cost(q, priced_cost[q.cols]).form, EXACT)
            if exact.status != "optimal" or b.x is None:
                continue
            assert proven_bound(b) <= exact.objective + 1e-6 * max(1.0, abs(exact.objective))
            assert rows_hold(plain(s).form, b.x)
            if proven_bound(b) > proven_bound(a) + 1e-6 * max(1.0, abs(exact.objective)):
                higher += 1
                assert isinstance(s, Strong)
    assert higher >= 3


def test_x100s_path_gives_rows_to_the_parts_that_lose_most_and_bounds_stay_valid(monkeypatch):
    """The whole priced path as over WHOLE_LP_COLS: some parts get their rows before their first MILP, the
    bound never above the brute-force optimum, the plan holds every row."""
    made = []
    monkeypatch.setattr(lagrange, "WHOLE_LP_COLS", 0)
    real = lagrange.part_with_rows
    monkeypatch.setattr(lagrange, "part_with_rows", lambda q: made.append(1) or real(q))
    from fleetopt.pipeline.decompose import Backend, _run

    for seed in range(10):
        form = service_fleet(seed)
        exact = highs.solve(form, EXACT)
        priced = lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve), EXACT,
                                       time.monotonic() + 60)
        if priced is None or not isinstance(priced, lagrange.Priced) or exact.status != "optimal":
            continue
        assert priced.bound <= exact.objective + 1e-6 * max(1.0, abs(exact.objective))
        if priced.x is not None:
            assert rows_hold(form, priced.x) and priced.objective >= exact.objective - 1e-5
    assert made
