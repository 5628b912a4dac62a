"""A plan from the parts' own plans: pick one plan per part so that every shared row holds.

Why: priced rounds give each part a plan that is best at its prices, and the parts' plans joined overfill the
scarce rows (every part moves to the cheap stock together). Repairing the whole model is out of reach at x100
(650k columns); choosing among the plans the rounds already found is a small MILP: one binary per (part, plan),
one "pick one" row per part, and the shared rows over the plans' activities. This is the restricted master of
Dantzig-Wolfe decomposition, its columns the plans found so far, solved with integer choices (the "restricted
master heuristic"). Source: Dantzig & Wolfe 1960, "Decomposition principle for linear programs", Oper. Res.
8(1); Joncour, Michel, Sadykov, Sverdlov, Vanderbeck 2010, "Column generation based primal heuristics", ENDM 36.
Its LP, with slack on the shared rows, also gives prices (its duals) for the next round.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from fleetopt.formulation.model import ROW_TOL, row_tolerance, rows_violated
from fleetopt.formulation.split import Part

SLACK_COST = 1.0    # a unit of slack on a shared row first costs this many times a unit's median plan cost


@dataclass
class PlanPool:
    """The plans found for each part: their values on the part's columns, costs and shared-row activities."""
    parts: list[Part]
    a_shared: sp.csr_matrix       # the shared rows over the whole model's columns
    cost: np.ndarray              # the whole model's column costs
    plans: list[list[np.ndarray]] = field(default_factory=list)
    keys: list[dict] = field(default_factory=list)    # per part: a plan's rounded values -> its index
    slack_cost: np.ndarray | None = None    # per shared row, the master LP's cost of a unit of slack
    _blocks: list[sp.csc_matrix] = field(default_factory=list)

    def __post_init__(self) -> None:
        a = self.a_shared.tocsc()
        self._blocks = [a[:, p.cols] for p in self.parts]
        self.plans = [[] for _ in self.parts]
        self.keys = [{} for _ in self.parts]

    def add(self, i: int, x: np.ndarray) -> bool:
        """Part i's plan x (on its own columns); False if it is already in the pool."""
        key = np.round(np.asarray(x, dtype=float), 6).tobytes()
        if key in self.keys[i]:
            return False
        self.keys[i][key] = len(self.plans[i])
        self.plans[i].append(np.asarray(x, dtype=float))
        return True

    def choice_of(self, x: np.ndarray) -> np.ndarray | None:
        """Per part, the index (among all the pool's plans, part by part) of x's plan; None if one is missing."""
        offset, out = 0, []
        for p, plans, keys in zip(self.parts, self.plans, self.keys):
            j = keys.get(np.round(np.asarray(x[p.cols], dtype=float), 6).tobytes())
            if j is None:
                return None
            out.append(offset + j)
            offset += len(plans)
        return np.array(out)

    def add_whole(self, x: np.ndarray) -> None:
        """A plan of the whole model (e.g. a repair's), one plan per part."""
        for i, p in enumerate(self.parts):
            self.add(i, x[p.cols])

    def support(self, n_cols: int) -> np.ndarray:
        """The whole model's columns some pooled plan sets (above 1e-9)."""
        out = np.zeros(n_cols, dtype=bool)
        for p, plans in zip(self.parts, self.plans):
            if plans:
                out[p.cols[(np.abs(np.column_stack(plans)) > 1e-9).any(axis=1)]] = True
        return out

    def size(self) -> int:
        return sum(len(p) for p in self.plans)

    def block(self, i: int) -> sp.csc_matrix:
        """The shared rows over part i's columns (its plans' activity is this times the plan)."""
        return self._blocks[i]

    def columns(self) -> tuple[np.ndarray, np.ndarray, sp.csc_matrix]:
        """Per plan: its part, its cost, and (as a column) its activity on the shared rows."""
        part_of, costs, acts = [], [], []
        for i, (p, plans) in enumerate(zip(self.parts, self.plans)):
            if not plans:
                continue
            x = np.column_stack(plans)
            part_of.append(np.full(len(plans), i))
            costs.append(self.cost[p.cols] @ x)
            acts.append(sp.csc_matrix(self._blocks[i] @ x))
        if not acts:
            return np.zeros(0, int), np.zeros(0), sp.csc_matrix((self.a_shared.shape[0], 0))
        return np.concatenate(part_of), np.concatenate(costs), sp.hstack(acts, format="csc")


@dataclass
class MasterResult:
    x: np.ndarray | None       # the whole model's columns (None: no choice of plans meets the shared rows)
    objective: float
    prices: np.ndarray | None  # the master LP's shared-row prices (None: its LP did not solve)
    slack_free: bool = False   # its LP met the rows without slack: the prices are Dantzig-Wolfe's duals; else
                               # they price the rows short of plans at what those plans cost per unit


def solve_master(pool: PlanPool, n_cols: int, lower: np.ndarray, upper: np.ndarray, threads: int,
                 deadline: float, node_limit: int = 2000, start: np.ndarray | None = None) -> MasterResult:
    """The master over the pool's plans: its LP (with slack, for prices), then, if the LP needed none, its MILP
    (one plan per part) until `deadline` or `node_limit` nodes, from the choice that makes `start` (the best
    plan so far) if the pool has it. A part with no plan yet: no plan (x None)."""
    if any(not plans for plans in pool.plans):
        return MasterResult(None, math.inf, None)
    (part_of, costs, acts), prices, slack_free = _pool_lp(pool, lower, upper, threads, deadline)
    # slack cheaper than a plan's extra cost is taken where no slack is needed: ask the LP without slack again
    if not slack_free and _mixed(part_of, costs, acts, len(pool.parts), lower, upper, threads, deadline) is None:
        return MasterResult(None, math.inf, prices, slack_free)   # no mix of the plans meets them: no choice
    first = pool.choice_of(start) if start is not None else None
    chosen = _master_milp(part_of, costs, acts, len(pool.parts), lower, upper, threads, deadline, node_limit,
                          first)
    if chosen is None:
        return MasterResult(None, math.inf, prices, slack_free)
    x = np.zeros(n_cols)
    first = np.searchsorted(part_of, np.arange(len(pool.parts)))
    for i, j in enumerate(chosen):
        x[pool.parts[i].cols] = pool.plans[i][j - first[i]]
    return MasterResult(x, float(costs[chosen].sum()), prices, slack_free)


def lp_prices(pool: PlanPool, lower: np.ndarray, upper: np.ndarray, threads: int,
              deadline: float) -> tuple[np.ndarray | None, bool]:
    """The master LP's shared-row prices over the pool's columns and whether it met the rows without slack
    (the restricted master of column generation when the pool holds the parts' LP solutions)."""
    if any(not plans for plans in pool.plans):
        return None, False
    return _pool_lp(pool, lower, upper, threads, deadline)[1:]


def _pool_lp(pool: PlanPool, lower, upper, threads, deadline):
    """The pool's columns (pool.columns), its master LP's prices and whether they needed no slack; the rows'
    slack costs kept in the pool for the next call."""
    columns = pool.columns()
    prices, slack_free, pool.slack_cost = _master_lp_prices(*columns, len(pool.parts), lower, upper, threads,
                                                            deadline, pool.slack_cost)
    return columns, prices, slack_free


def _master_rows(part_of, acts, n_parts, lower, upper) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """Pick-one rows (one per part), then the shared rows."""
    n = len(part_of)
    pick = sp.csc_matrix((np.ones(n), (part_of, np.arange(n))), shape=(n_parts, n))
    a = sp.vstack([pick, acts], format="csc")
    return a, np.concatenate([np.ones(n_parts), lower]), np.concatenate([np.ones(n_parts), upper])


def _highs(a: sp.csc_matrix, cost, lb, ub, row_lo, row_hi, integer: bool, threads: int, time_limit: float,
           node_limit: int = 0, start: np.ndarray | None = None):
    import highspy

    from fleetopt.backends.highs import quiet_highs

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lb, ub
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * a.shape[1]
    h = quiet_highs(threads)
    h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    if node_limit:
        h.setOptionValue("mip_max_nodes", int(node_limit))
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    return h


def _master_lp_prices(part_of, costs, acts, n_parts, lower, upper, threads, deadline,
                      slack_cost: np.ndarray | None) -> tuple[np.ndarray | None, bool, np.ndarray | None]:
    """The shared rows' duals in the master LP, as prices on row activity (p = -y), whether the LP met the rows
    without slack, and each row's slack cost for the next call. While a row needs slack its price is its slack's
    cost: it starts at about what a unit of the row costs (_first_slack_cost) and doubles each call the row is
    still short, so the parts' next plans move off it step by step, not all at once."""
    import highspy

    a, lo, hi = _master_rows(part_of, acts, n_parts, lower, upper)
    m = acts.shape[0]
    if slack_cost is None or len(slack_cost) != m:
        slack_cost = _first_slack_cost(costs, acts)
    big = slack_cost
    # slack on each shared row: a column of +1 (to meet a lower bound) and one of -1 (an upper)
    rows = n_parts + np.arange(m)
    slack = sp.csc_matrix((np.concatenate([np.ones(m), -np.ones(m)]), (np.concatenate([rows, rows]),
                          np.arange(2 * m))), shape=(a.shape[0], 2 * m))
    has = np.flatnonzero(np.concatenate([np.isfinite(lower), np.isfinite(upper)]))
    slack = slack[:, has]
    full = sp.hstack([a, slack], format="csc")
    cost = np.concatenate([costs, np.concatenate([big, big])[has]])
    n = a.shape[1]
    h = _highs(full, cost, np.zeros(full.shape[1]), np.concatenate([np.ones(n), np.full(slack.shape[1], np.inf)]),
               lo, hi, False, threads, deadline - time.monotonic())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None, False, slack_cost
    sol = h.getSolution()
    used = np.zeros(2 * m)
    used[has] = np.asarray(sol.col_value)[n:]
    short = (used[:m] + used[m:]) > 1e-6
    # a row still short of plans at its slack's cost gets a dearer slack next time (its price doubles)
    return -np.asarray(sol.row_dual, dtype=float)[n_parts:], not short.any(), np.where(short, 2 * big, big)


@dataclass
class MixedPlans:
    """The master LP without slack: the cheapest mix of each part's pooled plans that meets the shared rows."""
    value: float           # its cost: at least the Dantzig-Wolfe bound, max over prices of the Lagrangian bound
    part_duals: np.ndarray  # per part, its pick-one row's dual: a new plan of priced cost below it lowers `value`
    prices: np.ndarray     # the shared rows' duals as prices on row activity (p = -y)


def mixed_plans(pool: PlanPool, lower: np.ndarray, upper: np.ndarray, threads: int,
                deadline: float) -> MixedPlans | None:
    """The master LP over the pool's plans, without slack; None when no mix meets the shared rows (or a part has
    no plan). Column generation's restricted master: with every part priced exactly at its duals and no plan of
    priced cost below its part's dual, its value is the Dantzig-Wolfe bound (Dantzig & Wolfe 1960; Geoffrion
    1974: that bound equals the best Lagrangian bound, so no prices bound higher)."""
    if any(not plans for plans in pool.plans):
        return None
    return _mixed(*pool.columns(), len(pool.parts), lower, upper, threads, deadline)


def _mixed(part_of, costs, acts, n_parts, lower, upper, threads, deadline) -> MixedPlans | None:
    """mixed_plans on the pool's columns; None where no mix of the plans meets the shared rows."""
    import highspy

    a, lo, hi = _master_rows(part_of, acts, n_parts, lower, upper)
    n = a.shape[1]
    h = _highs(a, costs, np.zeros(n), np.ones(n), lo, hi, False, threads, deadline - time.monotonic())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    y = np.asarray(h.getSolution().row_dual, dtype=float)
    return MixedPlans(float(h.getInfo().objective_function_value), y[:n_parts], -y[n_parts:])


def _first_slack_cost(costs: np.ndarray, acts: sp.csc_matrix) -> np.ndarray:
    """Per shared row: SLACK_COST x the median cost per unit of the row among the plans that use it (at least
    1): about what a unit of the resource costs, so a row priced at it sends the parts to other rows."""
    nz = acts.tocoo()
    on = np.abs(nz.data) > 1e-9
    per_unit = np.abs(costs[nz.col[on]]) / np.abs(nz.data[on])
    rows = nz.row[on]
    order = np.lexsort((per_unit, rows))
    rows, per_unit = rows[order], per_unit[order]
    out = np.ones(acts.shape[0])
    first = np.searchsorted(rows, np.arange(acts.shape[0]))
    last = np.searchsorted(rows, np.arange(acts.shape[0]), side="right")
    has = last > first
    out[has] = np.maximum(per_unit[(first[has] + last[has] - 1) // 2], 1.0)
    return SLACK_COST * out


def _master_milp(part_of, costs, acts, n_parts, lower, upper, threads, deadline, node_limit,
                 first: np.ndarray | None) -> np.ndarray | None:
    """The plan chosen for each part (indices into the pool's columns), or None; `first`: a choice to start
    from."""

    a, lo, hi = _master_rows(part_of, acts, n_parts, lower, upper)
    n = a.shape[1]
    start = None
    if first is not None:
        start = np.zeros(n)
        start[first] = 1.0
    h = _highs(a, costs, np.zeros(n), np.ones(n), lo, hi, True, threads, deadline - time.monotonic(), node_limit,
               start)
    if h.getInfo().primal_solution_status != 2:    # kSolutionStatusFeasible
        return None
    z = np.asarray(h.getSolution().col_value)
    chosen = np.zeros(n_parts, dtype=int)
    on = np.flatnonzero(z > 0.5)
    chosen[part_of[on]] = on
    return chosen


def rounded_plan(part: Part, x_lp: np.ndarray) -> np.ndarray | None:
    """The part's LP solution with its integer columns rounded up, if that meets the part's own rows and
    bounds (rounding replicas up keeps every capacity row: the usual case); else None."""
    cost, lb, ub, integer = part.form.col_arrays()
    x = np.where(integer, np.ceil(x_lp - 1e-6), x_lp)
    if np.any(x > ub + 1e-9) or np.any(x < lb - 1e-9):
        return None
    lower, upper = part.form.row_bounds()
    return None if rows_violated(part.form.matrix() @ x, lower, upper, ROW_TOL).any() else x


def improve_by_swaps(pool: PlanPool, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray | None:
    """The plan x (every part's plan in the pool) with parts' plans swapped for cheaper ones of the pool while
    every shared row still holds, the largest saving first, until no swap is left: a local search on the master's
    choice, for when its MILP runs out of time (x100: 1,000 parts, ~5,000 plans). None if x is not the pool's."""
    choice = pool.choice_of(x)
    if choice is None:
        return None
    part_of, costs, acts = pool.columns()
    acts = acts.tocsc()
    first = np.searchsorted(part_of, np.arange(len(pool.parts)))
    activity = np.asarray(acts[:, choice].sum(axis=1)).ravel()
    tol = row_tolerance(lower, upper, 1e-9)
    while True:
        saving = costs[choice][part_of] - costs
        order = np.flatnonzero(saving > 1e-9 * np.maximum(1.0, np.abs(costs)))
        order = order[np.argsort(-saving[order], kind="stable")]
        swapped = False
        for j in order:
            i = part_of[j]
            if costs[choice[i]] - costs[j] <= 0:     # an earlier swap of this part already saved more
                continue
            new = activity + (acts[:, j] - acts[:, choice[i]]).toarray().ravel()
            # no row may move out of its bounds, nor further out than it was (solver tolerances)
            if np.all(_outside(new, lower, upper) <= np.maximum(_outside(activity, lower, upper), tol)):
                activity, choice[i], swapped = new, j, True
        if not swapped:
            break
    out = x.copy()
    for i, j in enumerate(choice):
        out[pool.parts[i].cols] = pool.plans[i][j - first[i]]
    return out


def _outside(activity: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """How far each row's activity lies outside its bounds (0 within)."""
    return np.maximum(np.maximum(activity - upper, lower - activity), 0.0)
