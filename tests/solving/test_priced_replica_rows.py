"""The priced path with each part's whole-replica rows (pipeline/part_rows.py, used by pipeline/lagrange.py): the
rows are valid (each part's MILP optimum unchanged, its LP no lower), the whole LP with them bounds the brute-force
optimum, every bound pricing reports stays at or under it, and the plan holds every row."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import components, relaxed, shared_rows, split
from fleetopt.pipeline import lagrange, part_rows
from fleetopt.pipeline.decompose import Backend, _lp_apart, _run, solve_by_parts
from helpers import rows_hold
from test_open_parts_bound import service_fleet

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60, price_shared=True)
SEEDS = range(20)


def _parts(form):
    shared = shared_rows(form)
    return shared, split(form, components(form, ~shared), ~shared)


def _strong_parts(form):
    shared, parts = _parts(form)
    lp = _lp_apart(form, ~shared, Backend(highs.solve), EXACT, time.monotonic() + 60)
    return shared, part_rows.strengthened(parts, form, lp.x, Backend(highs.solve), EXACT, time.monotonic() + 60)


def test_some_parts_of_the_random_fleets_get_rows():
    """Else every test below would pass on unchanged parts."""
    strong = sum(isinstance(q, part_rows.Strong) for seed in SEEDS for q in _strong_parts(service_fleet(seed))[1])
    assert strong >= 10


@pytest.mark.parametrize("seed", SEEDS)
def test_the_rows_keep_each_parts_optimum_and_lift_its_lp(seed):
    form = service_fleet(seed)
    _, parts = _strong_parts(form)
    for q in parts:
        if not isinstance(q, part_rows.Strong):
            continue
        plain, strong = highs.solve(q.plain.form, EXACT), highs.solve(q.form, EXACT)
        assert strong.objective == pytest.approx(plain.objective, rel=1e-7, abs=1e-6)
        plain_lp, strong_lp = highs.solve(relaxed(q.plain.form), EXACT), highs.solve(relaxed(q.form), EXACT)
        assert plain_lp.objective - 1e-6 <= strong_lp.objective <= plain.objective * (1 + 1e-7) + 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_the_whole_lp_with_the_parts_rows_bounds_the_optimum(seed):
    form = service_fleet(seed)
    exact = highs.solve(form, EXACT)
    shared, parts = _strong_parts(form)
    whole, whole_shared = part_rows.with_part_rows(form, shared, parts)
    assert whole_shared.sum() == shared.sum() and len(whole_shared) == whole.n_rows
    lp = highs.solve(relaxed(whole), EXACT)
    plain_lp = highs.solve(relaxed(form), EXACT)
    assert plain_lp.objective - 1e-6 <= lp.objective <= exact.objective * (1 + 1e-7) + 1e-6


@pytest.mark.parametrize("seed", SEEDS)
def test_pricing_with_the_rows_bounds_the_optimum_and_the_plan_holds(seed):
    form = service_fleet(seed)
    exact = highs.solve(form, EXACT)
    options = replace(EXACT, mip_rel_gap=1e-3)
    priced = lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve, workers=2), options,
                                   time.monotonic() + 60,
                                   _lp_apart(form, ~shared_rows(form), Backend(highs.solve), EXACT,
                                             time.monotonic() + 60).x)
    if priced is None:     # one service: nothing to price
        return
    assert priced.bounds and max(priced.bounds) <= exact.objective * (1 + 1e-7) + 1e-6
    assert priced.bound <= exact.objective * (1 + 1e-7) + 1e-6
    if priced.x is not None:
        assert rows_hold(form, priced.x)
        assert priced.objective >= exact.objective - 1e-5
    whole = solve_by_parts(form, Backend(highs.solve, workers=2), options)
    assert whole.status == "optimal"
    assert rows_hold(form, whole.x)
    assert whole.bound <= exact.objective * (1 + 1e-7) + 1e-6
    assert whole.objective <= exact.objective * (1 + 1e-3) + 1e-6


def test_the_parts_rows_twice_keep_both_families():
    """A carbon-bound model carries the parts' rows already (solve._automatic_cuts) when pricing adds them again:
    two families of distinct names, every row counted once (the second used to replace the first in `families`,
    and the Pyomo backend read rows past the bounds: global-fleet priced on Pyomo and OR-Tools)."""
    form = next(f for f in (service_fleet(seed) for seed in SEEDS)
                if any(isinstance(q, part_rows.Strong) for q in _strong_parts(f)[1]))
    shared, parts = _strong_parts(form)
    once, once_shared = part_rows.with_part_rows(form, shared, parts)
    twice, twice_shared = part_rows.with_part_rows(once, once_shared, parts)
    added = once.n_rows - form.n_rows
    assert added > 0 and twice.n_rows == form.n_rows + 2 * added
    assert {"part_rows", "part_rows1"} <= set(twice.families)
    assert sum(f.size for f in twice.families.values()) == twice.n_rows == len(twice.row_bounds()[0])
    assert len(twice_shared) == twice.n_rows and twice_shared.sum() == shared.sum()
