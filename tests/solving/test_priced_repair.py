"""The priced path's repair (pipeline/lagrange._repair) on the whole model with the parts' whole-replica rows
(pipeline/part_rows.with_part_rows): the rows are valid, so the repair with every column free finds the
brute-force optimum, a restricted repair never goes below it, and every plan holds every row of the plain model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import components, shared_rows, split
from fleetopt.pipeline import lagrange, part_rows
from fleetopt.pipeline.decompose import Backend, _lp_apart, _run
from helpers import rows_hold
from test_open_parts_bound import service_fleet

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60, price_shared=True)
SEEDS = range(20)


def _whole_with_rows(form):
    shared = shared_rows(form)
    parts = split(form, components(form, ~shared), ~shared)
    lp = _lp_apart(form, ~shared, Backend(highs.solve), EXACT, time.monotonic() + 60)
    parts = part_rows.strengthened(parts, form, lp.x, Backend(highs.solve), EXACT, time.monotonic() + 60)
    return part_rows.with_part_rows(form, shared, parts)[0]


def _repair(whole, used):
    return lagrange._repair(whole, used, None, _run, Backend(highs.solve), EXACT, time.monotonic() + 60, None)


def test_the_repair_model_has_rows_the_plain_one_lacks():
    """Else the tests below would repair the plain model."""
    assert sum(_whole_with_rows(service_fleet(seed)).n_rows > service_fleet(seed).n_rows for seed in SEEDS) >= 5


@pytest.mark.parametrize("seed", SEEDS)
def test_with_every_column_free_the_repair_finds_the_optimum(seed):
    form = service_fleet(seed)
    exact = highs.solve(form, EXACT)
    whole = _whole_with_rows(form)
    r = _repair(whole, form.col_arrays()[3].copy())
    if exact.status != "optimal":
        assert r is None
        return
    assert r.objective == pytest.approx(exact.objective, rel=1e-7, abs=1e-6)
    assert rows_hold(form, r.x)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_restricted_repair_never_beats_the_optimum_and_holds_every_row(seed):
    form = service_fleet(seed)
    exact = highs.solve(form, EXACT)
    if exact.status != "optimal":
        return
    integer = form.col_arrays()[3]
    cost = form.col_arrays()[0]
    whole = _whole_with_rows(form)
    rng = np.random.default_rng(seed)
    # the optimum's own columns: the repair finds a plan as cheap; a random half: none cheaper than the optimum
    for used in (integer & (exact.x > 1e-9), integer & (rng.random(form.n_cols) < 0.5)):
        holds_optimum = bool(np.all(used[integer & (exact.x > 1e-9)]))
        r = _repair(whole, used)
        if r is None:
            assert not holds_optimum
            continue
        assert rows_hold(form, r.x)
        assert np.all(r.x[integer & ~used] == form.col_arrays()[1][integer & ~used])
        assert float(cost @ r.x) >= exact.objective - 1e-5
        if holds_optimum:
            assert float(cost @ r.x) <= exact.objective * (1 + 1e-7) + 1e-6
