"""Pricing the shared rows (fleetopt/pipeline/lagrange.py): every price gives a bound no higher than the optimum,
and the plan meets every row and is within the gap of the whole model's."""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import shared_rows
from fleetopt.pipeline import lagrange
from fleetopt.pipeline.decompose import Backend, _run, solve_by_parts
from helpers import BENCHMARKS, random_fleet, rows_hold, solve_and_verify, static_shipped_instances

sys.path.insert(0, str(BENCHMARKS))

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60, price_shared=True)


def _priced(form: Formulation, options: SolveOptions, start_prices=None):
    return lagrange.price_shared(form, shared_rows(form), _run, Backend(highs.solve), options,
                                 time.monotonic() + options.time_limit_s, start_prices=start_prices)


@pytest.mark.parametrize("seed", range(30))
def test_every_price_tried_bounds_the_optimum_and_the_plan_holds(seed):
    form = random_fleet(seed)
    exact = highs.solve(form, EXACT)
    rng = np.random.default_rng(seed)
    n_shared = int(shared_rows(form).sum())
    for start in (None, rng.uniform(0, 5, n_shared)):   # the LP's duals, and prices far from them
        priced = _priced(form, replace(EXACT, mip_rel_gap=0.01), start)
        if priced is None:                   # the shared rows join nothing: no parts to price
            continue
        if exact.status != "optimal":
            assert getattr(priced, "status", None) == "infeasible" or priced.x is None
            continue
        assert priced.bounds and max(priced.bounds) <= exact.objective + 1e-6
        assert priced.bound <= exact.objective + 1e-6
        if priced.x is not None:
            assert rows_hold(form, priced.x)
            assert priced.objective >= exact.objective - 1e-5   # the LP tolerance on continuous columns


@pytest.mark.parametrize("seed", range(30))
def test_the_large_model_path_bounds_the_optimum_and_the_plan_holds(seed, monkeypatch):
    """The path of a model over WHOLE_LP_COLS (x100's): prices from the part-LP rounds' column generation from
    zero prices, idle rows after each round, and, once another round would not end before the clock, the most
    open parts closer. Every bound tried stays under the optimum and the plan holds."""
    monkeypatch.setattr(lagrange, "WHOLE_LP_COLS", 0)
    monkeypatch.setattr(lagrange, "PART_NODES", 1)      # parts stop early: something for the last minute to close
    monkeypatch.setattr(lagrange, "_another_round_fits", lambda began, deadline: False)
    form = random_fleet(seed)
    exact = highs.solve(form, EXACT)
    priced = _priced(form, replace(EXACT, mip_rel_gap=1e-6, time_limit_s=3.0))
    if priced is None or exact.status != "optimal":
        return
    assert priced.bounds and max(priced.bounds) <= exact.objective + 1e-6
    assert priced.bound <= exact.objective + 1e-6
    if priced.x is not None:
        assert rows_hold(form, priced.x)
        assert priced.objective >= exact.objective - 1e-5


def test_a_repair_that_finds_nothing_waits_for_more_columns(monkeypatch):
    """After a repair that found no better plan, the next one waits until the used columns have grown by
    REPAIR_GROWTH (each repair costs up to a quarter of the clock, on one core)."""
    calls = []

    def finds_nothing(form, used, reduced, run, backend, options, deadline, start):
        calls.append((int(used.sum()), start is not None))
        return None

    monkeypatch.setattr(lagrange, "_repair", finds_nothing)
    checked = 0
    for seed in range(30):
        calls.clear()
        _priced(random_fleet(seed), replace(EXACT, mip_rel_gap=1e-9, time_limit_s=2.0))
        for (before, had_plan), (after, _) in zip(calls, calls[1:]):
            if had_plan:     # the rule holds once there is a plan for the repair to beat
                assert after > int(lagrange.REPAIR_GROWTH * before)
                checked += 1
    assert checked > 0


def test_prices_on_a_binding_stock_row_close_the_gap_without_the_whole_model():
    """Ten jobs, each one unit from one of two pools; the cheap pool holds five units. Pricing the pool at the
    cost difference makes every job indifferent, and the repair splits them five and five: the bound
    (ten cheap units less the price of five) equals the plan's cost."""
    form = Formulation()
    jobs = range(10)
    x = form.add_vars("units", [(j, pool) for j in jobs for pool in ("cheap", "dear")], lb=0, ub=1,
                      cost=np.tile([1.0, 3.0], 10), integer=True)
    form.add_rows("assign", [(j,) for j in jobs], np.repeat(np.arange(10), 2), x.cols, np.ones(20), lower=1.0,
                  upper=1.0)
    form.add_rows("stock", [("cheap",)], np.zeros(10, int), x.cols[0::2], np.ones(10), upper=5.0, shared=True)
    result = solve_by_parts(form, Backend(highs.solve), replace(EXACT, mip_rel_gap=1e-6))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(20.0)
    assert result.bound == pytest.approx(20.0)
    assert result.decomposition["shared_rows_priced"] == ["stock[cheap]"]
    assert "whole_after_pricing" not in result.decomposition
    assert rows_hold(form, result.x)


@pytest.mark.parametrize("seed", range(20))
def test_priced_and_merged_paths_agree_within_the_gap(seed):
    form = random_fleet(seed)
    gap = 0.02
    priced = solve_by_parts(form, Backend(highs.solve, workers=2), replace(EXACT, mip_rel_gap=gap))
    merged = solve_by_parts(form, Backend(highs.solve), replace(EXACT, mip_rel_gap=gap, price_shared=False))
    assert priced.status == merged.status
    if priced.status == "optimal":
        assert rows_hold(form, priced.x)
        assert priced.bound <= merged.objective + 1e-5 and merged.bound <= priced.objective + 1e-5
        assert abs(priced.objective - merged.objective) <= gap * max(priced.objective, merged.objective) + 1e-6


def test_the_scarce_tier_priced_agrees_with_the_merged_and_verifies():
    from scarce_tiers import load_scarce_tier

    inst = load_scarce_tier(1, seed=0)
    gap = 0.01

    def with_pricing(on: bool):
        return inst.model_copy(update={"solver": inst.solver.model_copy(update={"price_shared": on})})

    priced = solve_and_verify(with_pricing(True), mip_rel_gap=gap, time_limit_s=120)
    merged = solve_and_verify(with_pricing(False), mip_rel_gap=gap, time_limit_s=120)
    assert priced.status == merged.status == "optimal"
    assert "shared_rows_priced" in priced.provenance.decomposition
    assert priced.bound <= merged.objective * (1 + 1e-9) and merged.bound <= priced.objective * (1 + 1e-9)
    assert abs(priced.objective - merged.objective) <= gap * max(priced.objective, merged.objective)


INSTANCES = static_shipped_instances()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["highs", "pyomo", "ortools"])
@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_shipped_instances_priced_agree_with_the_whole_model(path, backend):
    from fleetopt.io.load import load_instance

    inst = load_instance(path)
    gap = 1e-3
    priced_inst = inst.model_copy(update={"solver": inst.solver.model_copy(update={"price_shared": True})})
    priced = solve_and_verify(priced_inst, backend=backend, mip_rel_gap=gap, time_limit_s=120)
    whole = solve_and_verify(inst, backend=backend, mip_rel_gap=gap, time_limit_s=120, decompose=False)
    assert priced.status == whole.status
    if whole.objective is not None:
        assert priced.bound <= whole.objective * (1 + 1e-9) + 1e-6
        assert whole.bound <= priced.objective * (1 + 1e-9) + 1e-6
        tolerance = (priced.gap + whole.gap + 1e-9) * max(abs(priced.objective), abs(whole.objective))
        assert abs(priced.objective - whole.objective) <= tolerance

