"""Binding constraints with shadow prices, their units in words and the LP ranging over which they hold.

A MILP has no duals of its own. The LP with every integer fixed at the plan (what highspy's getFixedLp
returns) is the textbook answer, but here almost every cost sits on an integer column (candidates, replicas,
pipelines) and flows cost nothing, so that LP prices nearly every row at 0: with the counts fixed nothing
priced can move. The prices reported therefore come from the structure LP: the plan's binary decisions fixed,
replica counts, evaluators and flows continuous. They say what one more unit of a limit is worth if the counts
could follow it; the fixed-LP price is kept beside it (fixed_lp_price). At a degenerate vertex (no ranging
interval) a price is one of the subgradients: it lies between the objective's slopes left and right of the limit.
"""

from __future__ import annotations

import numpy as np

from fleetopt.backends.highs import quiet_highs, to_lp
from fleetopt.facts import FAMILIES, facts
from fleetopt.plan.explanation import BindingConstraint
from fleetopt.plan.extract import binding_rows
from fleetopt.formulation.model import Formulation, key_name
from fleetopt.plan import Binding

OBJECTIVE_UNITS = {"cost_usd": "$", "carbon_t": "t CO2e", "weighted_usd": "$ (cost + priced carbon)"}


def layer_of(family: str) -> str:
    """The fleet-stack layer a family speaks for (its declared facts, fleetopt/facts.py)."""
    return facts(family).layer if family in FAMILIES else ""


def unit_phrase(family: str, key: list[str]) -> str:
    """One more unit of a row's limit, in words (the family's declared phrase)."""
    if family in FAMILIES:
        return facts(family).unit_phrase(key)
    return f"unit of {family}[{','.join(key)}]"


def price_in_words(objective_name: str, family: str, key: list[str]) -> str:
    return f"{OBJECTIVE_UNITS.get(objective_name, objective_name)} per extra {unit_phrase(family, key)} " \
           "over the horizon"


def _lp(form: Formulation, x: np.ndarray, fix: np.ndarray):
    """The formulation as a continuous LP with the columns in `fix` fixed at their (rounded) plan values."""
    import highspy

    lp = to_lp(form, highspy)
    _, lb, ub, _ = form.col_arrays()
    lb, ub = lb.copy(), ub.copy()
    lb[fix] = ub[fix] = np.round(x[fix])
    lp.col_lower_, lp.col_upper_ = lb, ub
    lp.integrality_ = []
    return lp


def fixed_lp(form: Formulation, x: np.ndarray):
    """Every integer column fixed at the plan: the LP highspy's getFixedLp returns after the MILP solve."""
    return _lp(form, x, form.col_arrays()[3])


def structure_lp(form: Formulation, x: np.ndarray):
    """The binary decisions (candidates, pipelines, monitored routes) fixed; counts (replicas, evaluators) and
    flows free and continuous: the plan's structure with marginal room to move."""
    _, lb, ub, integer = form.col_arrays()
    return _lp(form, x, integer & (lb == 0) & (ub == 1))


def solve_lp(lp, row_lower: np.ndarray | None = None, row_upper: np.ndarray | None = None):
    """A Highs holding `lp` solved, with optional new row bounds (for finite differences)."""
    if row_lower is not None:
        lp.row_lower_ = row_lower
    if row_upper is not None:
        lp.row_upper_ = row_upper
    h = quiet_highs()
    h.passModel(lp)
    h.run()
    return h


def lp_objective(h) -> float | None:
    import highspy

    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value)


def _duals_and_ranging(h, n_rows: int, ranging: bool = True):
    """The LP's row duals and, if `ranging`, each row bound's ranging interval as two arrays (down, up); None
    where the LP has no optimum or HiGHS gives no valid ranging. The arrays are read once: each read of highspy's
    `value_` copies the whole vector (x100: 3,026 binding rows read one by one took 35 s)."""
    import highspy

    if lp_objective(h) is None:
        return np.zeros(n_rows), None
    duals = np.asarray(h.getSolution().row_dual, dtype=float)
    if not ranging:
        return duals, None
    status, rng = h.getRanging()
    if status != highspy.HighsStatus.kOk or not rng.valid:
        return duals, None
    return duals, (np.asarray(rng.row_bound_dn.value_, dtype=float), np.asarray(rng.row_bound_up.value_, dtype=float))


def priced_rows(form: Formulation, x: np.ndarray):
    """Rows to price: every inequality at zero slack (extract.binding_rows) and the demand equalities."""
    rows = list(binding_rows(form, x))
    if "demand" in form.families:
        fam = form.families["demand"]
        activity = form.matrix() @ x
        for i, key in enumerate(fam.keys):
            rows.append(Binding(family="demand", key=[str(k) for k in key],
                                name=key_name("demand", key), activity=float(activity[fam.start + i]),
                                limit=float(fam.upper[i]), units=fam.units, meaning=fam.meaning))
    return rows


def binding_constraints(form: Formulation, x: np.ndarray) -> tuple[list[BindingConstraint], str]:
    """Binding rows with the price of one more unit of their limit, in words, and the range where it holds."""
    h = solve_lp(structure_lp(form, x))
    duals, ranging = _duals_and_ranging(h, form.n_rows)
    fixed_duals, _ = _duals_and_ranging(solve_lp(fixed_lp(form, x)), form.n_rows, ranging=False)
    index = {name: i for i, name in enumerate(form.row_names())}
    out = []
    for b in priced_rows(form, x):
        i = index[b.name]
        low = high = None
        if ranging is not None:
            low, high = float(ranging[0][i]), float(ranging[1][i])
            low, high = (None if not np.isfinite(v) or abs(v) >= 1e30 else v for v in (low, high))
            if low is not None and high is not None and high - low <= 1e-12 * max(1.0, abs(high)):
                low = high = None   # a degenerate row (only fixed columns): no interval to report
        out.append(BindingConstraint(
            name=b.name, family=b.family, key=b.key, layer=layer_of(b.family), activity=b.activity,
            limit=b.limit, units=b.units, meaning=b.meaning, shadow_price=float(duals[i]) + 0.0,
            fixed_lp_price=float(fixed_duals[i]) + 0.0,
            price_in_words=price_in_words(form.objective_name, b.family, b.key), range_low=low, range_high=high))
    note = ("Prices: d objective / d limit in the LP that keeps the plan's binary decisions (training candidates, "
            "monitoring pipelines and routes) and lets replica and evaluator counts and flows move continuously, "
            "with the LP ranging over which each holds. The LP with every integer fixed (highspy getFixedLp) can "
            "price only what its continuous columns still move; its prices are in the plan JSON (fixed_lp_price). "
            "A degenerate row (no interval) has a price between its left and right slopes.")
    if lp_objective(h) is None:
        note = f"The pricing LP did not solve ({h.modelStatusToString(h.getModelStatus())}): no prices."
    return out, note
