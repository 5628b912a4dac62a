"""A service's replica cost bounded by its covering integer program, solved whole (one row per service).

replica_cover.py adds rounded rows of the covering constraints sum_o a_o(S) n_o >= D(S) (every set S of a
service's populations; a_o(S) the most requests/s one replica of option o carries on a route to a population of
S); with them the LP still buys fractions of replicas across near-twin options. Here the covering integer program
itself is solved and its optimum stated as one row:

  replica_cover_bound[service]:  sum_o c_o n_o >= Z_cov,  Z_cov = min { c n : sum_o a_o(S) n_o >= D(S) all S,
                                                                        n >= 0 integer }
1. Every plan's replicas meet the covering rows (replica_cover.py, step 1), so they are a solution of the
   covering program and cost at least Z_cov: the row cuts off no plan; the part's optimum and plans stay.
2. The covering program knows no region, monitoring row or stock bound, so options compare on (cost, a(S) for
   every S) alone: an option that another costs no more than and carries at least as much to every set is
   dropped (moving its replicas onto that one keeps every covering row, at no more cost; ties keep the lowest
   index), which leaves the program's optimum as it was. On x10's chat parts 34-52 of 73-91 options stay and
   scipy's HiGHS proves the program in 0.01-0.5 CPU s, where the unreduced one took 3.6-18.8 s.
3. The row's right-hand side is the program's proven dual bound (valid if its node limit stops it too), times
   1 - 1e-9; the program's right-hand sides are shrunk as replica_cover.rounded_rows shrinks its own, so a plan
   within a solver's feasibility tolerance still meets them.
On x10's chat-10 the row lifts the LP from 773,309 to 781,203 and the root bound to the optimum 781,693 (its
replica cost 772,877 is Z_cov exactly): the part closes at its root (benchmarks/RESULTS.md).
Source: the covering relaxation of the capacity rows (replica_cover.py; Wolsey, Integer Programming (1998),
ch. 8) and dominated columns (Gamrath et al. 2015, "Progress in presolving for mixed integer programming",
Math. Prog. Comp. 7, section 4).
"""

from __future__ import annotations

import numpy as np

from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_bound import ServiceKnapsack, with_replica_cost_rows
from fleetopt.formulation.replica_cover import population_sets, set_capacity

NODES = 20_000    # node limit of one service's covering program (its dual bound then is what the row states): a
                  # node limit, not a clock, so the row is the same on every run (x10's chat: proven in 1-400 nodes)
SECONDS = 30.0    # and a wall limit past which a machine's load must not keep it running


def covering_options(cost: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Indices of the options (rows of cap: [options, sets] capacities) that no other option dominates: another
    costs no more and carries at least as much to every set, and is strictly better somewhere or earlier; or m >= 2
    replicas of another cost no more and carry at least as much to every set (`_multiples_dominated`)."""
    live = np.flatnonzero(cap.max(axis=1, initial=0.0) > 0)
    c, a = cost[live], cap[live]
    k = np.arange(len(live))
    # [dominator, dominated]
    no_dearer = c[:, None] <= c[None, :]
    carries = (a[:, None, :] >= a[None, :, :]).all(axis=2)
    strictly = (c[:, None] < c[None, :]) | (a[:, None, :] > a[None, :, :]).any(axis=2) | (k[:, None] < k[None, :])
    dominated = no_dearer & carries & strictly
    np.fill_diagonal(dominated, False)
    return live[~dominated.any(axis=0) & ~_multiples_dominated(c, a)]


def _multiples_dominated(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Which options m >= 2 replicas of another option cost no more than and carry at least as much to every set:
    in the covering and flow programs (no upper bounds on replicas) each replica of such an option can become m of
    the other at no more cost, every row still met, so dropping it keeps the program's optimum. The option dropped
    costs at least twice its dominator, so no chain of dominations (these, or one for one) comes back to it, and
    one whose dominator is dropped too has that one's dominator's. x10's chat-small services: a model's 4x and 8x
    replicas (84 and 119.5 req/s at 4x and 8x the 1x one's cost) against two or four 2x ones (105 and 210); of
    chat-small-4's 51 options 29 stay (x10's twenty services of four populations: 730 of 1,061) and the
    twenty covering programs take 4.4-5.3 CPU s against 5.2-6.0, with the same bounds (benchmarks/RESULTS.md,
    branch x10m)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # [dominator, dominated]: the fewest replicas of the dominator that carry what one of the other does
        ratio = np.where(a[None, :, :] > 0, a[None, :, :] / a[:, None, :], 0.0).max(axis=2)
    m = np.ceil(ratio)
    dominated = (m >= 2) & np.isfinite(m) & (m * c[:, None] <= c[None, :]) & (c[:, None] > 0)
    np.fill_diagonal(dominated, False)
    return dominated.any(axis=0)


def covering_bound(sk: ServiceKnapsack, nodes: int = NODES, seconds: float = SECONDS) -> float | None:
    """A lower bound on sum_o cost_o n_o over every plan that routes sk's demand: the covering program's proven
    dual bound (module docstring); None when the program has no bound to give (a set no option reaches)."""
    sets = population_sets(sk)
    if not sets:
        return None
    cap = np.array([set_capacity(sk, s) for s in sets]).T
    demand = np.array([float(sk.demand[s].sum()) for s in sets])
    keep = covering_options(sk.cost, cap)
    if len(keep) == 0:
        return None
    bound, _ = solve_covering(sk.cost[keep], cap[keep].T, demand * (1 - 1e-9) - 1e-6, nodes, seconds)
    return bound


def solve_covering(cost: np.ndarray, a: np.ndarray, rhs: np.ndarray, nodes: int, seconds: float):
    """min cost n s.t. a n >= rhs, n >= 0 integer, by scipy's HiGHS within `nodes` nodes and `seconds`: (its
    proven dual bound, None when it proves none; scipy's result, whose status 0 says it is optimal)."""
    from scipy.optimize import Bounds, LinearConstraint, milp   # ~0.2 s to import: only parts that need it

    res = milp(cost, constraints=LinearConstraint(a, rhs, np.inf), integrality=np.ones(len(cost)),
               bounds=Bounds(0, np.inf), options={"node_limit": nodes, "time_limit": seconds, "mip_rel_gap": 0.0})
    bound = getattr(res, "mip_dual_bound", None)
    # 0 optimal, 1 time limit, 4 another limit (the node limit: HiGHS's status 16): each with a valid dual bound
    if res.status not in (0, 1, 4) or bound is None or not np.isfinite(bound):
        return None, res
    return float(bound), res


def with_cover_bounds(form: Formulation, services: set[str] | None = None,
                      knapsacks: list[tuple[str, np.ndarray, ServiceKnapsack]] | None = None) -> Formulation:
    """A copy of `form` with a replica_cover_bound row per service (of `services`, else all) whose covering
    program bounds its replica cost above the LP's floor (replica_bound.lp_floor); `knapsacks`:
    `form_knapsacks(form)` when the caller has it. Appended after every other row, no column added, so a
    solution of the copy reads back on `form`."""
    return with_replica_cost_rows(form, "replica_cover_bound", covering_bound,
                                  "a service's replica cost is at least its covering program's optimum", services,
                                  knapsacks)
