"""Rounded cover rows: whole replicas cover each set of populations (Chvatal-Gomory cuts of the covering rows).

Where a service needs few replicas per population (x10's chat services: 1-15 replicas of ~10 or ~52 req/s), the
LP buys 7.01 replicas where 7 fall short by 0.13 req/s, and every population's rounding is lost at once; the
whole-replica bound row (replica_bound.py) helps little there, because with four populations its split-replica
layer lets shared replicas feed anyone. Cover rows state the rounding per set of populations instead:

1. For any set S of a service's populations, the replicas must carry S's demand: sum_o a_o(S) n_o >= D(S), with
   a_o(S) the most requests/s one replica of option o carries on a route to a population of S (each replica's
   flows obey sum_u f_ou / rps_ou <= n_o, so its flow to S is at most a_o(S) n_o).
2. Divided by any d > 0 and rounded (n integer, >= 0): sum_o ceil(a_o(S) / d) n_o >= ceil(D(S) / d). With d a
   replica's capacity over k (k = 1..MULTIPLES), the row counts replicas in units of 1/k of the largest: seven
   10.17 req/s replicas cannot carry 71.3 req/s, so the row asks for 7.5 (15 halves).
Which (S, d) rows are added is decided by separation: the part's LP relaxation is solved (by the caller's `lp`,
else scipy's HiGHS; decompose hands in backends/highs.lp_values), each
(service, S) gets its most violated row, and the LP is solved again, for a few rounds. The rows are valid for every
plan (no plan is cut off), so the part's optimum, plan and bounds are the same; they only raise the LP.
Source: Chvatal 1973 and Gomory 1958 (integer rounding of a valid inequality); Wolsey, Integer Programming
(1998), ch. 8 (Chvatal-Gomory cuts and their separation).
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable

import numpy as np
import scipy.sparse as sp

from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_bound import ServiceKnapsack, form_knapsacks

MULTIPLES = 3          # divisors: each option's capacity over 1..MULTIPLES
MAX_UNITS = 256        # rows asking for more units than this gain under 1/256 from rounding: not tried
ALL_SETS_UP_TO = 5     # populations of a service up to which every set is tried (else singletons, reach sets, all)
ROUNDS = 8             # LP solves of the separation
MIN_VIOLATION = 0.02   # in units (a unit is d req/s): what the LP must fall short by for a row to be added
MOST_POPULATIONS = 4   # services with more populations get none (their sets multiply). Four: on x10's chat and
                       # chat-small parts with their dominated options fixed (dominated.py) the rows cut HiGHS's CPU
                       # on 9 of 10 parts; without that reduction they had slowed the same parts (benchmarks/RESULTS.md)


def population_sets(sk: ServiceKnapsack) -> list[np.ndarray]:
    """The sets S whose covers are tried: every nonempty set of the populations with demand (up to
    ALL_SETS_UP_TO of them); beyond, each population alone, each option's reach set and all of them."""
    pops = np.flatnonzero(sk.demand > 0)
    if len(pops) <= ALL_SETS_UP_TO:
        return [np.array(s) for r in range(1, len(pops) + 1) for s in combinations(pops, r)]
    reach = {tuple(sorted(set(sk.route_population[(sk.route_option == o)]) & set(pops)))
             for o in np.unique(sk.route_option)}
    sets = {(int(u),) for u in pops} | {r for r in reach if r} | {tuple(pops)}
    return [np.array(s) for s in sorted(sets)]


def set_capacity(sk: ServiceKnapsack, pops: np.ndarray) -> np.ndarray:
    """a_o(S): per option, the most requests/s one replica carries on a route to a population of S (0: none)."""
    out = np.zeros(len(sk.cost))
    on = np.isin(sk.route_population, pops) & (sk.route_rps > 0)
    np.maximum.at(out, sk.route_option[on], sk.route_rps[on])
    return out


def rounded_rows(cap: np.ndarray, demand: float) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate rounding of sum_o cap_o n_o >= demand: ([rows, options] coefficients, [rows] right-hand
    sides). Float safety: coefficients round up what is a hair above an integer (they may only grow) and the
    right-hand side rounds down what is a hair above one (it may only shrink), so each row stays valid for plans
    within the solver's feasibility tolerance."""
    values = np.unique(cap[cap > 0])
    if len(values) == 0 or demand <= 0:
        return np.zeros((0, len(cap))), np.zeros(0)
    d = (values[:, None] / np.arange(1, MULTIPLES + 1)[None, :]).ravel()
    d = np.unique(d[demand / d <= MAX_UNITS])
    coef = np.ceil(cap[None, :] / d[:, None] - 1e-9)
    rhs = np.ceil(demand / d * (1 - 1e-9) - 1e-6)
    return coef, rhs


def _most_violated(coef: np.ndarray, rhs: np.ndarray, n: np.ndarray) -> int | None:
    """The row the replicas n fall shortest of, in units; None when none falls short by MIN_VIOLATION."""
    if len(rhs) == 0:
        return None
    short = rhs - coef @ n
    best = int(np.argmax(short))
    return best if short[best] > MIN_VIOLATION else None


def _lp_replicas(form: Formulation) -> np.ndarray | None:
    """The LP relaxation's column values (scipy's HiGHS); None if it has no optimum. The separation's LP when the
    caller hands in none (the formulation layer imports no backend)."""
    from scipy.optimize import linprog   # ~0.2 s to import: the default path hands in its own LP

    cost, lb, ub, _ = form.col_arrays()
    a = form.matrix()
    lower, upper = form.row_bounds()
    up, lo = np.isfinite(upper), np.isfinite(lower)
    a_ub = sp.vstack([a[up], -a[lo]]).tocsr()
    b_ub = np.r_[upper[up], -lower[lo]]
    res = linprog(cost, A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
                  bounds=np.c_[lb, np.where(np.isfinite(ub), ub, None)], method="highs")
    return res.x if res.status == 0 else None


def with_cover_rows(form: Formulation, services: set[str] | None = None,
                    lp: Callable[[Formulation], np.ndarray | None] | None = None,
                    knapsacks: list[tuple[str, np.ndarray, ServiceKnapsack]] | None = None) -> Formulation:
    """A copy of `form` with the replica_cover rows its LP violates (module docstring), for each service of
    `form_knapsacks` with up to MOST_POPULATIONS populations (`services` limits which; `lp` solves the separation's
    LP relaxations, returning column values or None; `knapsacks`: `form_knapsacks(form)` when the caller has it
    already). Appended after every other row, no column added, so a solution of the copy reads back on `form`; the
    same copy when nothing is violated or the rows are not of that shape."""
    knapsacks = [k for k in (form_knapsacks(form) if knapsacks is None else knapsacks)
                 if (services is None or k[0] in services) and 0 < (k[2].demand > 0).sum() <= MOST_POPULATIONS]
    candidates = []   # per (service, set): replica columns, coefficient rows, right-hand sides
    for name, rep_cols, sk in knapsacks:
        for pops in population_sets(sk):
            coef, rhs = rounded_rows(set_capacity(sk, pops), float(sk.demand[pops].sum()))
            if len(rhs):
                candidates.append((name, tuple(int(u) for u in pops), rep_cols, coef, rhs))
    out = form.copy()
    if not candidates:
        return out
    chosen: dict[tuple, set[int]] = {}
    current = form
    for _ in range(ROUNDS):
        x = (lp or _lp_replicas)(current)
        if x is None:
            break
        added = False
        for name, pops, rep_cols, coef, rhs in candidates:
            best = _most_violated(coef, rhs, x[rep_cols])
            if best is not None and best not in chosen.setdefault((name, pops), set()):
                chosen[(name, pops)].add(best)
                added = True
        if not added:
            break
        current = _add(form, candidates, chosen)
    return _add(form, candidates, chosen)


def _add(form: Formulation, candidates, chosen: dict[tuple, set[int]]) -> Formulation:
    out = form.copy()
    keys, rows, cols, vals, lower = [], [], [], [], []
    for name, pops, rep_cols, coef, rhs in candidates:
        for i in sorted(chosen.get((name, pops), ())):
            on = coef[i] > 0
            rows.append(np.full(int(on.sum()), len(keys)))
            cols.append(rep_cols[on])
            vals.append(coef[i][on])
            lower.append(rhs[i])
            keys.append((name, "+".join(map(str, pops)), f"{i}"))
    if keys:
        out.add_rows("replica_cover", keys, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
                     lower=np.array(lower), units="replica units",
                     meaning="whole replicas cover a set of a service's populations (rounded)")
    return out
