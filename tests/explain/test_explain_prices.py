"""Every reported shadow price matches a finite difference: re-solve the pricing LP with the limit moved by a
small step inside its ranging interval and compare the objective change."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.explain.binding import fixed_lp, lp_objective, solve_lp, structure_lp
from fleetopt.explain.explainer import explain
from fleetopt.explain.infeasible import apply_relaxations, explain_infeasible
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir
from helpers import assert_verified

INSTANCES = shipped_dir("instances")


def solved(inst):
    problem = build_problem(inst)
    backend, options = options_for(inst)
    plan, result = solve_problem(problem, backend, options)
    assert_verified(inst, plan)
    return problem, plan, result, explain(problem, plan, result.x, options)


def relaxed_eu_residency():
    """eu-residency-power with its suggested power caps: the EU caps then bind exactly."""
    inst = load_instance(INSTANCES / "infeasible" / "eu-residency-power.yaml")
    problem = build_problem(inst)
    _, options = options_for(inst)
    return apply_relaxations(inst, explain_infeasible(problem, options).relaxations)


CASES = {
    "archetype-a": lambda: load_instance(INSTANCES / "archetype-a.yaml"),
    "archetype-b": lambda: load_instance(INSTANCES / "archetype-b.yaml"),
    "eu-residency-power-relaxed": relaxed_eu_residency,
}


def finite_difference(form, x, row: int, low, high, direction: float = 1.0) -> tuple[float | None, float]:
    """(objective change / step, step) for a step of the row's limit that stays inside [low, high]; the change
    is None when the moved LP has no solution."""
    lower, upper = (b.copy() for b in form.row_bounds())
    limit = upper[row] if np.isfinite(upper[row]) else lower[row]
    step = direction * 1e-4 * max(1.0, abs(limit))
    if high is not None and limit + step > high:
        step = -step if low is None or limit - step >= low else (high - limit) / 2.0
    if lower[row] == upper[row]:
        lower[row] += step
    upper[row] += step
    base = lp_objective(solve_lp(structure_lp(form, x)))
    moved = lp_objective(solve_lp(structure_lp(form, x), row_lower=lower, row_upper=upper))
    assert base is not None
    return (None if moved is None else (moved - base) / step), step


@pytest.fixture(scope="module")
def explained():
    return {name: solved(make()) for name, make in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shadow_prices_match_finite_differences(explained, name):
    problem, _, result, e = explained[name]
    form = problem.form
    index = {n: i for i, n in enumerate(form.row_names())}
    assert e.binding
    exact = 0
    for b in e.binding:
        tol = dict(rel=1e-4, abs=1e-6 * max(1.0, abs(b.shadow_price)))
        if b.range_low is not None or b.range_high is not None:
            slope, step = finite_difference(form, result.x, index[b.name], b.range_low, b.range_high)
            assert slope == pytest.approx(b.shadow_price, **tol), \
                f"{b.name}: price {b.shadow_price}, finite difference {slope} (step {step})"
            exact += 1
        else:
            # a degenerate vertex (no ranging interval): the objective is convex in the limit and the price is a
            # subgradient, between its slope to the left and to the right (an infeasible side is -inf / +inf)
            right, _ = finite_difference(form, result.x, index[b.name], None, None, 1.0)
            left, _ = finite_difference(form, result.x, index[b.name], None, None, -1.0)
            right = np.inf if right is None else right
            left = -np.inf if left is None else left
            assert left - tol["abs"] <= b.shadow_price <= right + tol["abs"], (b.name, left, right)
    assert exact


def test_some_prices_are_not_zero(explained):
    """The check above is not vacuous: demand and the EU power caps carry real prices."""
    priced = {b.name: b.shadow_price for _, _, _, e in explained.values() for b in e.binding if b.shadow_price}
    assert any(n.startswith("demand[") for n in priced)
    assert any(n.startswith("power_cap[eu-") for n in priced)
    assert all(v < 0 for n, v in priced.items() if n.startswith("power_cap"))   # more power never costs more


def test_units_in_words(explained):
    names = {b.family: b.price_in_words for _, _, _, e in explained.values() for b in e.binding}
    assert names["power_cap"].startswith("$ per extra MW of power cap in eu-")
    assert names["power_cap"].endswith("over the horizon")


def test_fixed_lp_is_highspy_getfixedlp(explained):
    """fixed_lp fixes the integers exactly as highspy's getFixedLp does after the MILP solve."""
    import highspy

    from fleetopt.backends.highs import quiet_highs, to_lp

    form = explained["archetype-b"][0].form
    h = quiet_highs()
    h.passModel(to_lp(form, highspy))
    h.run()
    status, theirs = h.getFixedLp()
    mine = fixed_lp(form, np.asarray(h.getSolution().col_value))
    assert status == highspy.HighsStatus.kOk
    assert np.allclose(theirs.col_lower_, mine.col_lower_) and np.allclose(theirs.col_upper_, mine.col_upper_)
    assert not any(theirs.integrality_) and not any(mine.integrality_)
