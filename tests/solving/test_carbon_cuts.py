"""Per-part Lagrangian cuts on the carbon budget (fleetopt/pipeline/carbon_cuts.py): every row holds at the
whole model's optimum for every budget, the model with the rows has the same optimum, and the parts' free plans
answer a budget only when they meet it."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.pipeline import carbon_cuts
from fleetopt.pipeline.decompose import Backend, _run
from helpers import rows_hold

EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=60)


def carbon_fleet(seed: int, budget: float) -> Formulation:
    """A few covering MILPs (whole units of options, each with a cost and a carbon) joined by one carbon row;
    one also draws on a shared stock row that never binds."""
    rng = np.random.default_rng(seed)
    form = Formulation()
    parts = int(rng.integers(2, 5))
    sizes = [int(rng.integers(2, 5)) for _ in range(parts)]
    n = sum(sizes)
    x = form.add_vars("units", [(p, j) for p in range(parts) for j in range(sizes[p])], lb=0,
                      ub=rng.integers(1, 6, n), cost=rng.uniform(1, 3, n).round(2), integer=True)
    spill = form.add_vars("spill", [(p,) for p in range(parts)], lb=0, ub=0.5, cost=5.0)
    part_of = np.repeat(np.arange(parts), sizes)
    form.add_rows("need", [(p,) for p in range(parts)], np.concatenate([part_of, np.arange(parts)]),
                  np.concatenate([x.cols, spill.cols]),
                  np.concatenate([rng.uniform(0.5, 2.5, n).round(2), np.ones(parts)]),
                  lower=rng.uniform(1, 4, parts).round(2))
    form.add_rows("inventory", [("pool",)], np.zeros(n, int), x.cols, np.ones(n), upper=1e6, shared=True)
    form.add_rows("carbon_budget", [("fleet",)], np.zeros(n, int), x.cols, rng.uniform(0.1, 3.0, n).round(2),
                  upper=budget, shared=True)
    return form


def with_budget(form: Formulation, budget: float) -> Formulation:
    fam = form.families["carbon_budget"]
    out = replace(form, families={**form.families, "carbon_budget": replace(fam, upper=np.array([budget]))})
    return out


def holds(form: Formulation, x: np.ndarray) -> bool:
    """rows_hold on the plan with its integers rounded and its columns in their bounds (HiGHS leaves them
    within its 1e-6 tolerances)."""
    _, lb, ub, integer = form.col_arrays()
    return rows_hold(form, np.clip(np.where(integer, np.round(x), x), lb, ub))


def cuts_of(form: Formulation, prices) -> carbon_cuts.CarbonCuts:
    return carbon_cuts.part_cuts(form, prices, _run, Backend(highs.solve), EXACT, time.monotonic() + 60)


@pytest.mark.parametrize("seed", range(25))
def test_every_cut_holds_at_every_budgets_optimum_and_keeps_it(seed):
    base = carbon_fleet(seed, budget=1e6)
    cuts = cuts_of(base, [0.3, 1.0, 4.0])
    free = highs.solve(base, EXACT)
    if cuts is None:                  # a part without a plan: so is the whole (no budget can help)
        assert free.status == "infeasible"
        return
    assert len(cuts.lower) == 4 * (int(cuts.part.max()) + 1)
    for share in (0.4, 0.6, 0.8, 1.0, 1.2):
        form = with_budget(base, round(share * float(carbon_cuts.carbon_coefficients(base) @ free.x), 2))
        assert carbon_cuts.signature(form) == cuts.signature      # only the budget differs
        exact = highs.solve(form, EXACT)
        cut = highs.solve(carbon_cuts.with_cuts(form, cuts), EXACT)
        assert cut.status == exact.status
        if exact.status != "optimal":
            continue
        act = carbon_cuts.with_cuts(form, cuts).matrix() @ exact.x
        assert (act[form.n_rows:] >= cuts.lower - 1e-5).all()     # no row cuts off the optimum (HiGHS: 1e-6)
        assert cut.objective == pytest.approx(exact.objective, abs=1e-5)
        assert holds(form, cut.x)
        budget = float(form.families["carbon_budget"].upper[0])
        assert cuts.bound_at(budget) <= exact.objective + 1e-6
        answer = carbon_cuts.free_answer(form, cuts, EXACT)
        if answer is not None:                                    # only where the free plans meet the budget
            assert float(carbon_cuts.carbon_coefficients(form) @ answer.x) <= budget + 1e-6
            assert answer.objective == pytest.approx(exact.objective, abs=1e-5)
            assert holds(form, answer.x)


def test_cuts_are_refused_by_a_model_that_differs_beyond_its_budget():
    form = carbon_fleet(0, budget=1e6)
    cuts = cuts_of(form, [1.0])
    assert carbon_cuts.free_answer(form, cuts, EXACT) is not None   # no budget to meet: the free plans answer
    other = replace(form, families={**form.families, "need": replace(
        form.families["need"], lower=form.families["need"].lower * 2)})
    assert carbon_cuts.signature(other) != cuts.signature
    assert carbon_cuts.free_answer(other, cuts, EXACT) is None


def test_the_parts_milps_run_without_restarts():
    """A part's MILP is small and fixes most of its columns at its root; a restart would redo the root's cut
    rounds (pipeline/carbon_cuts.part_cuts), so every part is handed restarts off, the caller's gap kept."""
    handed = []

    def run(backend, parts, opts, deadline):
        handed.extend(opts)
        return _run(backend, parts, opts, deadline)

    carbon_cuts.part_cuts(carbon_fleet(0, budget=10.0), [1.0], run, Backend(highs.solve), EXACT,
                          time.monotonic() + 60)
    assert handed and all(o.mip_restart is False and o.mip_rel_gap == EXACT.mip_rel_gap for o in handed)
    assert highs.new_highs(handed[0]).getOptionValue("mip_allow_restart")[1] is False


def test_no_cuts_without_a_budget_row_or_parts():
    form = carbon_fleet(1, budget=10.0)
    del form.families["carbon_budget"]
    assert cuts_of(form, [1.0]) is None


@pytest.mark.parametrize("budget", [3.0, 5.0, 60.0])
def test_a_single_solve_with_cuts_plans_as_without(budget):
    from fleetopt.io.load import load_instance
    from fleetopt.pipeline.problem import build_problem
    from helpers import TINY, solve_and_verify

    inst = load_instance(TINY)
    inst = inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})
    plain = solve_and_verify(inst, carbon_cuts=False)
    cut = solve_and_verify(inst, carbon_cuts=True)
    default = solve_and_verify(inst)   # a small static model with a budget: the rows pay, so they are made
    assert cut.status == plain.status == default.status == "optimal"
    assert cut.objective == pytest.approx(plain.objective, rel=1e-7)
    assert default.objective == pytest.approx(plain.objective, rel=1e-7)
    assert "carbon_cuts" in cut.provenance.timing_s and "carbon_cuts" not in plain.provenance.timing_s
    # by default only a budget the LP prices (it binds) gets the rows; a loose one goes the plain way, in parts
    binds = bool((carbon_cuts.lp_prices(build_problem(inst).form, [budget]) > 0).any())
    assert ("carbon_cuts" in default.provenance.timing_s) == binds
    assert budget == 60.0 or binds


def test_rows_are_made_by_default_only_on_small_static_models_with_a_budget():
    from fleetopt.io.load import load_instance
    from fleetopt.pipeline.problem import build_problem
    from fleetopt.pipeline.solve import AUTO_CUTS_COLS, cuts_pay
    from helpers import DATA, TINY

    inst = load_instance(TINY)
    form = build_problem(inst).form
    opts = SolveOptions()
    assert inst.policy.carbon_budget_t is not None and cuts_pay(form, opts)
    assert not cuts_pay(form, replace(opts, decompose=False)) and not cuts_pay(form, replace(opts, executor="dask"))
    no_budget = inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": None})})
    assert not cuts_pay(build_problem(no_budget).form, opts)
    assert not cuts_pay(build_problem(load_instance(DATA / "whatif" / "tiny-fleet-hourly.yaml")).form, opts)
    wide = carbon_fleet(0, budget=10.0)
    wide.add_vars("idle", [(i,) for i in range(AUTO_CUTS_COLS)], ub=1.0)
    assert cuts_pay(carbon_fleet(0, budget=10.0), opts) and not cuts_pay(wide, opts)
