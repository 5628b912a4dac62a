"""A service's replica cost bounded by its flow program, solved as a covering program with flow cuts (one row).

cover_bound.py bounds a service's replica cost by the covering program min { c n : sum_o a_o(S) n_o >= D(S) },
a_o(S) the most requests/s a replica of o carries to a population of S. That is the flow program with every
option's rates raised to its largest, so a replica counts fully toward every set it reaches: on x10's chat-5 it
gives 621,014 against a plan replica cost of 626,832. The flow program (integer replicas, flows f_ou >= 0 with
sum_u f_ou / r_ou <= n_o and sum_o f_ou >= D_u) gives 626,414, but HiGHS takes 1-8 CPU s on it (its flows hide
the knapsack rows its cuts work on). Here it is solved as a covering program that learns the flows' rows:

1. For any weights w >= 0 over the populations, every plan meets sum_o g_o(w) n_o >= sum_u w_u D_u with
   g_o(w) = max_u w_u r_ou: sum_u w_u D_u <= sum_u w_u sum_o f_ou <= sum_o g_o(w) sum_u f_ou / r_ou
   <= sum_o g_o(w) n_o. With w the indicator of a set S it is the covering row of S.
2. The flow program is the covering program with every such row: for fixed n the flows exist iff every row
   holds (Farkas' lemma). A point n whose flows fall short gives the row that cuts it off: w = the duals of the
   demand rows of the LP that minimises the shortfall (sum_o f_ou + s_u >= D_u, capacities n).
3. Rows are added at the covering LP's optimum until it has its flows (LP_ROUNDS), then at the covering integer
   program's optimum (INTEGER_ROUNDS), each a node-limited HiGHS run (NODES, so the bound is the same on every
   run; a program a limit stops ends the rounds, and states nothing). Every program solved is a relaxation of
   the flow program, so each one's optimum is a valid bound on every plan's replica cost; the row states the
   best, times 1 - 1e-9, with the demands shrunk as cover_bound.py shrinks them.
4. The rows' coefficients grow with every option's rates, so an option that another costs no more than and
   carries at least as much to every population is dropped, as cover_bound.covering_options drops it.
On x10's chat parts one LP round reaches the flow program's optimum (chat-5 626,414; chat-4 811,843, its plan's
replica cost), and the row takes chat-5's root bound from 629,832 to 635,201 (optimum 635,723) and chat-4's to
its optimum (benchmarks/RESULTS.md).
Source: Farkas' lemma / Benders 1962 ("Partitioning procedures for solving mixed-variables programming
problems", Numer. Math. 4) feasibility cuts on the flow rows; the covering relaxation of cover_bound.py.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from fleetopt.formulation.cover_bound import covering_options, solve_covering
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_bound import ServiceKnapsack, with_replica_cost_rows
from fleetopt.formulation.replica_cover import population_sets, set_capacity

NODES = 10_000       # node limit of each covering integer program (a limit, not a clock: the row is the same on
                     # every run; x10's chat-5 needs 7,670 nodes)
SECONDS = 10.0       # and a wall limit on all of them together, past which a machine's load must not keep it running
LP_ROUNDS = 10       # flow cuts at the covering LP's optimum
INTEGER_ROUNDS = 3   # flow cuts at the covering integer program's optimum
SHORT = 1e-6         # shortfall, relative to the demand, under which a point has its flows


def flow_bound(sk: ServiceKnapsack, nodes: int = NODES, seconds: float = SECONDS) -> float | None:
    """A lower bound on sum_o cost_o n_o over every plan that routes sk's demand: the best optimum of the covering
    programs with flow cuts (module docstring); None when there is none (a population no option reaches, or no
    program proven within its node limit: x10's chat-small-10 stops at 83,981 of its 85,284, and with that row
    its part took 7.6 CPU s to 1e-5 against 2.7 without, so a partial bound is not worth stating)."""
    from scipy.optimize import linprog   # ~0.2 s to import: parts that need it

    ends = time.monotonic() + seconds
    pops = np.flatnonzero(sk.demand > 0)
    if len(pops) == 0:
        return None
    rate = np.array([set_capacity(sk, [u]) for u in pops]).T   # [option, population] requests/s per replica
    if (rate.max(axis=0, initial=0.0) <= 0).any():
        return None
    keep = covering_options(sk.cost, rate)
    cost, rate, demand = sk.cost[keep], rate[keep], sk.demand[pops]
    weights = [np.isin(pops, s).astype(float) for s in population_sets(sk)]

    def rows() -> tuple[np.ndarray, np.ndarray]:
        w = np.array(weights)
        return (w[:, None, :] * rate[None, :, :]).max(axis=2), (w @ demand) * (1 - 1e-9) - 1e-6

    best = None
    for _ in range(LP_ROUNDS):
        a, b = rows()
        lp = linprog(cost, A_ub=-a, b_ub=-b, bounds=(0, None), method="highs")
        if lp.status != 0:
            return None
        cut = _flow_cut(lp.x, rate, demand)
        if cut is None:
            break
        weights.append(cut)
    for _ in range(INTEGER_ROUNDS + 1):
        left = ends - time.monotonic()
        if left <= 0:
            break
        bound, res = solve_covering(cost, *rows(), nodes, left)
        if bound is None or res.status != 0 or res.x is None:
            break      # a program its node limit stopped: its weaker bound is not stated (see flow_bound)
        best = bound if best is None else max(best, bound)
        cut = _flow_cut(np.round(res.x), rate, demand)
        if cut is None:
            break
        weights.append(cut)
    return best


def _flow_cut(n: np.ndarray, rate: np.ndarray, demand: np.ndarray) -> np.ndarray | None:
    """Weights w (largest 1) of a row n falls short of, from the LP min sum_u s_u s.t. sum_o f_ou + s_u >= D_u,
    sum_u f_ou / r_ou <= n_o (its demand rows' duals); None when n has its flows."""
    from scipy.optimize import linprog

    opt, pop = np.nonzero(rate > 0)
    k, p, r = rate.shape[0], rate.shape[1], len(opt)
    # columns: flows (one per route), then the shortfall of each population
    demand_rows = sp.csr_matrix((np.ones(r + p), (np.r_[pop, np.arange(p)], np.arange(r + p))), shape=(p, r + p))
    capacity_rows = sp.csr_matrix((1.0 / rate[opt, pop], (opt, np.arange(r))), shape=(k, r + p))
    res = linprog(np.r_[np.zeros(r), np.ones(p)], A_ub=sp.vstack([-demand_rows, capacity_rows]),
                  b_ub=np.r_[-demand, n], bounds=(0, None), method="highs")
    if res.status != 0 or res.fun <= SHORT * demand.sum():
        return None
    w = np.maximum(-res.ineqlin.marginals[:p], 0.0)
    return w / w.max() if w.max() > 0 else None


def with_flow_bounds(form: Formulation, services: set[str] | None = None, knapsacks=None) -> Formulation:
    """A copy of `form` with a replica_flow_bound row per service (of `services`, else all) whose flow bound
    lies above the LP's floor; `knapsacks`: `form_knapsacks(form)` when the caller has it. Appended after every
    other row, no column added, so a solution of the copy reads back on `form`."""
    return with_replica_cost_rows(form, "replica_flow_bound", flow_bound,
                                  "a service's replica cost is at least its flow program's bound", services,
                                  knapsacks)
