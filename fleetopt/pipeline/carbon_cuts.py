"""Per-part Lagrangian cuts on the carbon budget: rows valid for every budget, computed once.

Why: a carbon budget that binds joins every job and service into one model whose root bound is ~0.5% weak
(global-fleet: the LP buys fractional replicas), and a sweep over budgets pays that gap-closing in every
scenario (benchmarks/RESULTS.md, "Scale ... 5."). Each part's own integrality, priced, knows more.

Relax every shared row (stock, power, storage, links, carbon): the model falls apart into parts X_k, one per
job and service (formulation/split.py). For a carbon price p >= 0 (USD per t) and a_k part k's carbon per unit
of its columns,
    (c_k + p a_k) x_k >= L_k(p) = min over X_k of (c_k + p a_k) x        for every x_k in X_k,
so the row holds at every plan of the whole model, whatever its carbon budget: the budget is not in X_k, and
neither is the objective (the row's coefficients are stored, not read again). A part solved to a gap gives its
proven bound in place of L_k(p), still a bound on every x_k. With the carbon row, the rows for prices P give
the whole model's LP at least max over p in P of sum_k L_k(p) - p B, the Lagrangian bound at those prices.
Source: Geoffrion 1974, "Lagrangean relaxation for integer programming", Math. Prog. Study 2, Theorem 1
(L(p) <= the optimum; the Lagrangian dual equals the LP over each part's convex hull).

The parts' plans at p = 0 meet every row of the parts, and the whole model's when its shared rows hold: a budget
they meet is answered by them, proven by the rows' Lagrangian bound at that budget, with no MILP. A sweep over
budgets also hands each model what its neighbours proved (`Known`): the cost is non-increasing in the budget,
so a plan solved at a tighter budget meets this one, and a bound proven at a looser budget holds here.
A model carries cuts made on another only if it is the same model but for the carbon budget's bound
(`signature`), so a sweep over budgets computes them once.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.backends.result import SolveOptions, SolveResult, relative_gap
from fleetopt.errors import OPTIMAL
from fleetopt.formulation.model import ROW_TOL, Formulation, rows_violated
from fleetopt.formulation.split import components, shared_rows, split, with_cost

FAMILY = "carbon_cut"     # the rows' family in the whole model (not shared: each row lies in one part)
BUDGET = "carbon_budget"
PRICE_STEP = 0.02         # LP prices closer than 2% make one row per part


@dataclass
class CarbonCuts:
    """Rows (c_k + p a_k) x_k >= lower, one per (price, part), and the parts' joint plan at price 0."""

    prices: np.ndarray        # [K] USD (objective units) per t CO2e of each row
    part: np.ndarray          # [K] part of each row
    rows: np.ndarray          # nonzeros: row (0..K-1), column, coefficient
    cols: np.ndarray
    vals: np.ndarray
    lower: np.ndarray         # [K] the part's proven bound at the row's price
    signature: str            # the model they hold for, but for the carbon budget's bound
    free_x: np.ndarray | None   # the parts' plans at price 0 (carbon left free), joined; None: not all found
    free_bound: float         # sum of the parts' bounds at price 0: a bound on every budget's optimum
    seconds: float = 0.0
    free_carbon: float = math.inf   # t CO2e of free_x: every budget at or above it is answered by free_x
    known: Known | None = None      # what a sweep's neighbours proved at this model's budget
    plans: np.ndarray | None = None # [P, n_cols] the parts' plans at each price made here, joined (a sweep's
                                    # scenarios combine them with their neighbours' plans: whatif/neighbourhood.py)

    def bound_at(self, budget: float) -> float:
        """The Lagrangian bound the rows give at `budget`: max over prices of sum_k lower - p budget (each
        price's rows must cover every part; a share of the prices made apart does)."""
        best = -math.inf
        for p in np.unique(self.prices):
            on = self.prices == p
            best = max(best, float(self.lower[on].sum()) - p * budget)
        return best


@dataclass
class Known:
    """What a sweep over budgets already knows at one budget. Cost is non-increasing in the budget: a plan
    solved at a tighter budget meets this one, and a bound proven at a looser budget holds here."""

    x: np.ndarray | None = None   # a plan solved at another budget (same columns), None: none meets this one
    source: str = ""              # the scenario that plan answered
    bound: float = -math.inf      # the best bound proven at a budget >= this one
    bound_source: str = ""


def joined(shares: list[CarbonCuts | None]) -> CarbonCuts | None:
    """The rows of shares of the prices made apart (in parallel) on one model, as one set; None if any share
    is missing or the shares were made on different models. The share with price 0 carries the free plan."""
    if not shares or any(c is None for c in shares) or len({c.signature for c in shares}) != 1:
        return None
    free = [c for c in shares if c.free_x is not None]
    if not free:
        return None
    offsets = np.cumsum([0] + [len(c.lower) for c in shares])
    return replace(free[0], prices=np.concatenate([c.prices for c in shares]),
                   part=np.concatenate([c.part for c in shares]),
                   rows=np.concatenate([c.rows + o for c, o in zip(shares, offsets)]),
                   cols=np.concatenate([c.cols for c in shares]), vals=np.concatenate([c.vals for c in shares]),
                   lower=np.concatenate([c.lower for c in shares]), seconds=max(c.seconds for c in shares),
                   plans=np.concatenate([c.plans for c in shares if c.plans is not None]))


def signature(form: Formulation) -> str:
    """A digest of every array of the model except the carbon budget's bounds (and the objective): two models
    with one signature have the same parts X_k, so one's cuts hold on the other."""
    _, lb, ub, integer = form.col_arrays()
    a = form.matrix()
    lower, upper = (v.copy() for v in form.row_bounds())
    fam = form.families.get(BUDGET)
    if fam is not None:
        lower[fam.start:fam.start + fam.size] = upper[fam.start:fam.start + fam.size] = 0.0
    h = hashlib.sha256()
    for arr in (lb, ub, integer.astype(np.int8), a.indptr, a.indices, a.data, lower, upper):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update("\n".join(form.col_names()).encode())
    return h.hexdigest()


def carbon_coefficients(form: Formulation) -> np.ndarray | None:
    """Each column's t CO2e in the carbon budget row; None without one row of that family."""
    fam = form.families.get(BUDGET)
    if fam is None or fam.size != 1:
        return None
    a = np.zeros(form.n_cols)
    np.add.at(a, fam.cols, fam.vals)
    return a


def part_cuts(form: Formulation, prices, run, backend, options: SolveOptions,
              deadline: float, free: bool = True, parts_of: Formulation | None = None) -> CarbonCuts | None:
    """The rows at `prices` (USD per t; 0 among them when `free`), each part solved by
    `run(backend, parts, opts, deadline)` (decompose._run) within `options.mip_rel_gap`. None when the model has
    no carbon budget row, falls apart into fewer than two parts, or a part has no plan or bound in time.
    `parts_of`: the parts are taken from this model instead, `form` with valid rows of its own on each part's
    columns (carbon_cuts.with_parts_rows: same columns, same part plans and optima; global-fleet's part MILPs
    take ~25% less CPU with them, benchmarks/RESULTS.md); the rows hold on `form` (its signature)."""
    t0 = time.monotonic()
    carbon = carbon_coefficients(form)
    if carbon is None:
        return None
    source = form if parts_of is None else parts_of
    shared = shared_rows(source)
    labels = components(source, ~shared)
    if labels.max(initial=0) < 1:
        return None
    parts = split(source, labels, ~shared)
    cost = form.col_arrays()[0]
    prices = np.unique(np.concatenate([[0.0] if free else [], np.maximum(np.asarray(prices, dtype=float), 0.0)]))
    if not len(prices):   # a share of the prices with none left: no rows, still joins
        none = np.zeros(0)
        return CarbonCuts(none, none.astype(int), none.astype(int), none.astype(int), none, none, signature(form),
                          None, -math.inf, plans=np.zeros((0, form.n_cols)))
    # restarts off: a part's MILP here is small and fixes most of its columns at the root, and HiGHS's restart
    # then redoes the root's cut rounds (global-fleet, seeds 0-9 twice: 10% less wall per solve)
    opts = [replace(options, start=None, node_limit=0, mip_abs_gap=0.0, mip_restart=False)] * len(parts)
    lower, free_x, free_bound, free_carbon = [], None, -math.inf, math.inf
    plans = np.zeros((len(prices), form.n_cols))
    for i, p in enumerate(prices):
        priced = cost + p * carbon
        results = run(backend, [with_cost(q, priced[q.cols]) for q in parts], opts, deadline)
        if any(r.bound is None or not math.isfinite(r.bound) or r.x is None for r in results):
            return None
        lower.append([r.bound for r in results])
        for q, r in zip(parts, results):
            plans[i, q.cols] = r.x
        if p == 0.0:
            free_x = plans[i].copy()
            free_bound = float(sum(r.bound for r in results))
            free_carbon = float(carbon @ free_x)
    k = len(parts)
    row_of = np.arange(len(prices) * k).reshape(len(prices), k)
    rows = np.concatenate([np.full(len(q.cols), row_of[i, j]) for i in range(len(prices)) for j, q in enumerate(parts)])
    cols = np.concatenate([q.cols for _ in prices for q in parts])
    vals = np.concatenate([cost[q.cols] + p * carbon[q.cols] for p in prices for q in parts])
    return CarbonCuts(prices=np.repeat(prices, k), part=np.tile(np.arange(k), len(prices)), rows=rows, cols=cols,
                      vals=vals, lower=np.asarray(lower, dtype=float).ravel(), signature=signature(form),
                      free_x=free_x, free_bound=free_bound, seconds=time.monotonic() - t0, free_carbon=free_carbon,
                      plans=plans)


def with_parts_rows(form: Formulation, workers: int, options: SolveOptions, ends: float,
                    reuse: bool = False) -> Formulation:
    """`form` with every part's whole-replica bound and rounded cover rows appended (pipeline/part_rows.py: valid
    rows on each part's own columns, so the model's plans and optimum stay the same, and a copy that adds no
    column). Why: with one binding carbon row the whole MILP is the parts joined by that row, and its LP then
    comes close to the parts' convex hulls: global-fleet's LP prices carbon at 2,398 USD/t with them (the
    Lagrangian dual's maximiser is 2,381.5) against 1,853 without, and the MILP after the carbon rows closes in
    fewer nodes (benchmarks/RESULTS.md, "global-fleet's carbon rows at the strong LP's price"). Parts whose rows
    are not made by `ends` (time.monotonic()) get none. `reuse`: the parts' rows made for this process's last
    model of the same signature are taken again (a sweep's budgets: the rows do not read the budget)."""
    from fleetopt.pipeline.decompose import Backend
    from fleetopt.pipeline.part_rows import strengthened, with_part_rows

    shared = shared_rows(form)
    key = signature(form) if reuse else None
    strong = _STRONG.get(key) if reuse else None
    if strong is None:
        parts = split(form, components(form, ~shared), ~shared)
        strong = strengthened(parts, form, None, Backend(None, workers=workers), options, ends)
        if reuse:
            _STRONG.clear()
            _STRONG[key] = strong
    return with_part_rows(form, shared, strong)[0]


_STRONG: dict[str, list] = {}   # this process's last model (by signature: any carbon budget) -> its strong parts


def with_cuts(form: Formulation, cuts: CarbonCuts) -> Formulation:
    """A copy of `form` with the rows appended as family `carbon_cut` (no column added: a solution of the copy
    reads back on `form`). Each lower bound is eased by 1e-9 relative, so float noise never cuts a plan off."""
    out = form.copy()
    keys = [(f"{p:g}", int(k)) for p, k in zip(cuts.prices, cuts.part)]
    out.add_rows(FAMILY, keys, cuts.rows, cuts.cols, cuts.vals, lower=cuts.lower - 1e-9 * np.abs(cuts.lower),
                 units="objective", meaning="a part's priced cost is at least its proven minimum at that price")
    return out


FREE_DETAIL = "the parts' plans with the carbon budget left free meet it"


def budget_of(form: Formulation) -> float:
    """The carbon budget (t CO2e) of a model with one carbon budget row."""
    return float(form.families[BUDGET].upper[0])


def free_answer(form: Formulation, cuts: CarbonCuts, options: SolveOptions,
                solver: str = "") -> SolveResult | None:
    """The cheapest plan known to meet every row of `form` (its budget among them) as the answer, when it is
    within the gap of the best bound known at this budget; else None (a MILP is needed). The plans: the parts'
    plans at price 0, and a neighbour's (`cuts.known`). The bound: the rows' Lagrangian bound at the budget, or
    one proven at a looser budget."""
    if cuts.signature != signature(form):
        return None
    known = cuts.known or Known()
    lower, upper = form.row_bounds()
    a, cost = form.matrix(), form.col_arrays()[0]
    plans = [(float(cost @ x), x, why) for x, why in ((cuts.free_x, FREE_DETAIL),
                                                        (known.x, f"the plan of {known.source} meets this budget"))
             if x is not None and len(x) == form.n_cols and not rows_violated(a @ x, lower, upper, ROW_TOL).any()]
    if not plans:
        return None
    objective, x, why = min(plans, key=lambda plan: plan[0])
    rows_bound = max(cuts.free_bound, cuts.bound_at(budget_of(form)))
    bound = min(max(rows_bound, known.bound), objective)
    gap = relative_gap(objective, bound)
    if gap is None or gap > options.mip_rel_gap * (1 + 1e-9) + 1e-12:
        return None
    if known.bound > rows_bound:
        why += f", within the gap of the bound proven at {known.bound_source}"
    return SolveResult(status=OPTIMAL, x=x.copy(), objective=objective, bound=bound, gap=gap, solver=solver,
                       solver_version="", detail=why, decomposition={"carbon_cuts": why})


def polished(form: Formulation, result: SolveResult) -> SolveResult:
    """The plan with its integer columns rounded and the others re-solved as an LP of `form` (no cut rows).
    With the rows, HiGHS may leave an option at 1e-7 replicas carrying 1e-6 requests/s within its integrality
    tolerance; rounded, that flow has no replica (verify's route_needs_replica). Unchanged when the LP fails."""
    from fleetopt.backends import highs

    if result.x is None:
        return result
    cost, lb, ub, integer = form.col_arrays()
    fixed = np.clip(np.round(result.x), lb, ub)
    lp = highs.solve_lp(form, lower=np.where(integer, fixed, lb), upper=np.where(integer, fixed, ub))
    if lp is None:
        return result
    x = lp.x
    x[integer] = fixed[integer]
    objective = float(cost @ x)
    if objective > result.objective + 1e-9 * max(1.0, abs(result.objective)):
        return result
    bound = result.bound if result.bound is None else min(result.bound, objective)
    return replace(result, x=x, objective=objective, bound=bound, gap=relative_gap(objective, bound))


def lp_prices(form: Formulation, budgets, threads: int | None = None) -> np.ndarray:
    """The carbon row's dual in the whole LP relaxation at each budget (USD per t, >= 0; HiGHS, one model whose
    row bound changes): where the LP prices carbon, the parts' priced optima are near each budget's plan.
    A budget the LP cannot meet gets no price. `threads`: the caller's (HiGHS sizes its pool once per process,
    at the first request: a sweep's worker asks for 1 here, else every later solve in it runs on the default)."""
    import highspy

    from fleetopt.backends import highs

    fam = form.families[BUDGET]
    out, handle = [], []
    for b in budgets:
        if not handle:   # one model whose row bound changes: each budget's LP starts from the last basis
            upper = form.row_bounds()[1].copy()
            upper[fam.start] = float(b)
            lp = highs.solve_lp(form, threads, row_upper=upper, handle=handle)
        else:
            handle[0].changeRowBounds(fam.start, -highspy.kHighsInf, float(b))
            handle[0].run()
            lp = highs.lp_solution(handle[0])
        if lp is not None:
            out.append(max(-float(lp.row_dual[fam.start]), 0.0))
    return distinct_prices(out)


def carbon_price_alone(form: Formulation, threads: int | None = None) -> tuple[np.ndarray, bool]:
    """The carbon budget row's price in the whole LP relaxation, as `lp_prices(form, [its budget])` gives it
    (empty when the LP has no optimum), and whether that LP prices the carbon row and no other shared row
    (stock, power, storage, links): then the parts are joined by that one row alone (global-fleet; scarce tiers
    also price stock and power). One LP for both."""
    from fleetopt.backends import highs

    fam = form.families.get(BUDGET)
    lp = highs.solve_lp(form, threads) if fam is not None and fam.size == 1 else None
    if lp is None:
        return np.zeros(0), False
    y = np.abs(lp.row_dual)
    others = shared_rows(form)
    others[fam.start] = False
    alone = bool(y[fam.start] > 0 and (y[others] <= 1e-7 * max(y[fam.start], 1.0)).all())
    return distinct_prices([max(-float(lp.row_dual[fam.start]), 0.0)]), alone


def distinct_prices(prices, rel: float = PRICE_STEP) -> np.ndarray:
    """The prices, ascending, each more than `rel` above the last kept (near-equal prices give near-equal
    rows: one is enough)."""
    kept: list[float] = []
    for p in np.sort(np.asarray(prices, dtype=float)):
        if not kept or p > kept[-1] * (1 + rel) + 1e-9:
            kept.append(float(p))
    return np.array(kept)


def cuts_for_budgets(form: Formulation, budgets, backend_name: str, options: SolveOptions,
                     workers: int = 1, share: tuple[int, int] = (0, 1), prices=None,
                     reach: float = 0.0, free: bool = True, parts_of: Formulation | None = None) -> CarbonCuts | None:
    """The rows for a model solved at each of `budgets` (t CO2e; None: no budget): one price per distinct LP
    dual of the carbon row at those budgets, and 0. Each part is solved within `options.mip_rel_gap`, by the
    backend `backend_name`, in `workers` threads where that backend allows it. `share` (i, n): only every n-th
    of those prices from the i-th (0 among share 0), for n processes to make them apart (`joined`). `prices`:
    the LP duals, when the caller has them already (lp_prices). `reach` > 0: also `reach` times the highest of
    them (a sweep: the parts' plans at that price reach under its tightest budgets, whatif/neighbourhood.py).
    `free` False: no rows at price 0 and no free plan (a budget the LP shows binding, solved once); `parts_of`:
    as part_cuts takes it."""
    from fleetopt.backends.capabilities import capabilities, solver_for
    from fleetopt.pipeline.decompose import Backend, _run

    if carbon_coefficients(form) is None:
        return None
    given = [float(b) for b in budgets if b is not None]
    if prices is None:
        prices = lp_prices(form, given, options.threads) if given else np.zeros(1)
    high = [reach * float(np.max(prices))] if reach > 0 and len(prices) and np.max(prices) > 0 else []
    prices = np.unique(np.concatenate([[0.0] if free else [], prices, high]))[share[0]::share[1]]
    parallel = workers if capabilities(backend_name).parallel else 1
    backend = Backend(solver_for(backend_name), name=backend_name, workers=max(parallel, 1))
    return part_cuts(form, prices, _run, backend, options, time.monotonic() + options.time_limit_s,
                     free=free and share[0] == 0, parts_of=parts_of)
