"""Carbon rows priced by the LP with the parts' own rows (pipeline/carbon_cuts.with_parts_rows, carbon_price_alone;
pipeline/solve._automatic_cuts) and the one LP builder they use (backends/highs.solve_lp): the parts' rows cut off
no plan (the exact optimum of random services joined by a carbon row meets them and stays the optimum), the LP
builder gives what the LPs it replaced gave, and a single solve that takes the path plans as one without rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import relaxed
from fleetopt.pipeline import carbon_cuts
from fleetopt.pipeline import solve as solve_module
from helpers import random_fleet, rows_hold, solve_and_verify
from solving.test_parts_rows_up_front import services

EXACT = SolveOptions(mip_rel_gap=0.0, threads=1, time_limit_s=60)


def carbon_services(seed: int, budget_share: float, inventory: float = 1e4) -> Formulation:
    """Two or three services of 3-4 near-twin options (whole replicas, few of them: the LP rounds badly), each
    option with a carbon per replica, joined by a carbon budget at `budget_share` of what the cheapest plan
    ignoring it emits, and by an inventory row of `inventory` replicas."""
    rng = np.random.default_rng(seed)
    spec = []
    for s in range(int(rng.integers(2, 4))):
        pops, opts = int(rng.integers(1, 4)), int(rng.integers(3, 5))
        rps = rng.uniform(3.0, 9.0, (opts, 1)) * rng.uniform(0.97, 1.0, (opts, pops))
        reach = rng.random((opts, pops)) < 0.7
        reach[np.arange(opts), rng.integers(0, pops, opts)] = True
        reach[rng.integers(0, opts, pops), np.arange(pops)] = True   # every population reached
        spec.append((f"s{s}", np.round(rng.uniform(3.0, 12.0, pops), 1), np.where(reach, np.round(rps, 2), 0.0)))
    cap = np.concatenate([rps.max(axis=1) for _, _, rps in spec])
    cost = np.round(cap * rng.uniform(9.0, 11.0, len(cap)), 1)
    sizes = np.cumsum([0] + [len(rps) for _, _, rps in spec])
    form = services([(s, list(d), list(cost[a:b]), rps) for (s, d, rps), a, b in zip(spec, sizes, sizes[1:])],
                    most=30, inventory=inventory)
    n = form.blocks["replicas"]
    keys = n.keys
    carbon = np.round(rng.uniform(0.5, 5.0, len(keys)), 2)
    form.add_rows("carbon_budget", [("fleet",)], np.zeros(len(keys), int), n.cols, carbon, upper=1e9, shared=True)
    free = highs.solve(form, EXACT)
    fam = form.families["carbon_budget"]
    form.families["carbon_budget"] = replace(fam, upper=np.array([round(budget_share * float(carbon @
                                                                                          free.x[n.cols]), 2)]))
    return form


@pytest.mark.parametrize("seed", range(12))
def test_parts_rows_keep_the_exact_optimum_and_it_meets_them(seed):
    form = carbon_services(seed, budget_share=0.8)
    exact = highs.solve(form, EXACT)
    strong = carbon_cuts.with_parts_rows(form, 2, EXACT, float("inf"))
    assert strong.n_cols == form.n_cols and strong.n_rows >= form.n_rows
    again = highs.solve(strong, EXACT)
    assert again.status == exact.status
    if exact.status != "optimal":
        return
    assert again.objective == pytest.approx(exact.objective, rel=1e-7)
    x = np.clip(np.where(strong.col_arrays()[3], np.round(exact.x), exact.x), *strong.col_arrays()[1:3])
    assert rows_hold(strong, x)                         # every appended row holds at the plain model's optimum
    # the LP with them is a tighter relaxation, never above the optimum
    plain_lp, strong_lp = highs.solve_lp(form), highs.solve_lp(strong)
    assert plain_lp.objective - 1e-6 <= strong_lp.objective <= exact.objective * (1 + 1e-9) + 1e-6
    # the carbon rows at the strong LP's price: the whole model with both keeps the optimum
    prices = carbon_cuts.lp_prices(strong, [carbon_cuts.budget_of(form)])
    cuts = carbon_cuts.cuts_for_budgets(form, [carbon_cuts.budget_of(form)], "highs", EXACT, prices=prices)
    if cuts is not None:
        both = highs.solve(carbon_cuts.with_cuts(strong, cuts), EXACT)
        assert both.objective == pytest.approx(exact.objective, rel=1e-7)   # HiGHS: 1e-6 integrality


def only_carbon_binds(form) -> bool:
    return carbon_cuts.carbon_price_alone(form)[1]


def test_only_carbon_binds_tells_the_carbon_row_from_the_others():
    tight = carbon_services(1, budget_share=0.8)
    assert only_carbon_binds(tight)
    assert not only_carbon_binds(carbon_services(1, budget_share=10.0))   # the budget does not bind
    # inventory cut to the replicas of the LP's plan less a tenth: the LP prices it as well
    inv = tight.families["inventory"]
    lp_total = float(highs.solve_lp(tight).x[tight.blocks["replicas"].cols].sum())
    scarce = replace(tight, families={**tight.families, "inventory": replace(inv, upper=np.array([0.9 * lp_total]))})
    lp = highs.solve_lp(scarce)
    assert lp is not None and abs(lp.row_dual[inv.start]) > 1e-6
    assert not only_carbon_binds(scarce)
    no_budget = replace(tight, families={k: v for k, v in tight.families.items() if k != "carbon_budget"})
    assert not only_carbon_binds(no_budget)


@pytest.mark.parametrize("share", [0.8, 10.0])
def test_the_price_from_that_lp_is_lp_prices_at_the_models_own_budget(share):
    form = carbon_services(1, budget_share=share)
    budget = float(form.families["carbon_budget"].upper[0])
    price, _ = carbon_cuts.carbon_price_alone(form)
    assert np.array_equal(price, carbon_cuts.lp_prices(form, [budget]))


@pytest.mark.parametrize("seed", range(8))
def test_solve_lp_matches_the_relaxation_and_its_duals_price_it(seed):
    form = random_fleet(seed)
    lp = highs.solve_lp(form)
    ref = highs.solve(relaxed(form), EXACT)
    assert (lp is None) == (ref.status != "optimal")        # no optimum (infeasible stock): None
    if lp is None:
        assert highs.lp_values(form) is None
        return
    assert lp.objective == pytest.approx(ref.objective, rel=1e-9, abs=1e-9)
    assert np.array_equal(highs.lp_values(form), lp.x)
    cost = form.col_arrays()[0]
    assert float(cost @ lp.x) == pytest.approx(lp.objective, rel=1e-9, abs=1e-9)
    # reduced costs are c - A^T y
    assert np.allclose(lp.col_dual, cost - form.matrix().T @ lp.row_dual, atol=1e-7)
    # column bounds given: the LP with every integer fixed at its rounded optimum (what `polished` solves)
    exact = highs.solve(form, EXACT)
    if exact.status == "optimal":
        _, lb, ub, integer = form.col_arrays()
        fixed = np.clip(np.round(exact.x), lb, ub)
        at = highs.solve_lp(form, lower=np.where(integer, fixed, lb), upper=np.where(integer, fixed, ub))
        assert at.objective == pytest.approx(exact.objective, rel=1e-7, abs=1e-7)


def test_lp_prices_over_budgets_match_each_budget_alone():
    form = carbon_services(4, budget_share=0.8)
    budget = carbon_cuts.budget_of(form)
    budgets = [budget * s for s in (0.7, 0.85, 1.0, 1.3)]
    together = carbon_cuts.lp_prices(form, budgets)
    alone = np.concatenate([carbon_cuts.lp_prices(form, [b]) for b in budgets])
    assert np.allclose(together, carbon_cuts.distinct_prices(alone), rtol=1e-6)


@pytest.mark.parametrize("budget", [3.0, 8.0])
def test_a_single_solve_on_the_strong_path_plans_as_without_rows(budget, monkeypatch):
    """tiny-fleet at these budgets: only its carbon row binds, so the default takes the strong path."""
    from fleetopt.io.load import load_instance
    from helpers import TINY

    inst = load_instance(TINY)
    inst = inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})
    made = []
    real = solve_module.with_parts_rows
    monkeypatch.setattr(solve_module, "with_parts_rows", lambda *a: made.append(1) or real(*a))
    default = solve_and_verify(inst)
    assert made and "carbon_cuts" in default.provenance.timing_s
    plain = solve_and_verify(inst, carbon_cuts=False)
    monkeypatch.setattr(solve_module, "STRONG_PRICE", False)
    before = solve_and_verify(inst)
    assert default.status == plain.status == before.status == "optimal"
    assert default.objective == pytest.approx(plain.objective, rel=1e-7)
    assert before.objective == pytest.approx(plain.objective, rel=1e-7)


@pytest.mark.slow
def test_global_fleet_on_the_strong_path_is_optimal_within_its_gap():
    from fleetopt.io.load import load_instance
    from helpers import REPO

    plan = solve_and_verify(load_instance(REPO / "instances" / "global-fleet.yaml"), threads=1, seed=0)
    assert plan.status == "optimal" and plan.gap <= 1e-4
    assert plan.objective == pytest.approx(3_300_632, rel=1e-4)
