"""A lower bound on a service's replica cost that knows replicas are whole (the group relaxation of its knapsacks).

The LP relaxation of a service routes every population to its best $ per capacity option fractionally; the plan
buys whole replicas, and among ~50 near-twin options (capacities differing in the third digit) branch and bound
proves the rounding loss only slowly. This bound computes it directly, per service, from the option table.

1. Split replicas are few. For fixed replica counts take a vertex of the flow polytope (P demand rows, one
   capacity row per option): its positive flows number at most P + (options at full capacity), so
   sum_o (populations served by o - 1) <= P. Filling each option's replicas one population after another, at
   most P replicas in all serve two or more populations; every other replica is dedicated to one population.
2. Dedicated replicas of population u: the cost of covering x requests/s with whole replicas is at least
   K_u(x) = rho_u x + min_s [W_u(s) + rho_u ((s - x) mod k_u)], where rho_u = c*/k_u is the best cost per
   capacity (option o*, capacity k_u per replica), r_o = c_o - rho_u k_o >= 0 each other option's excess, and
   W_u(s) the least sum of r_o n_o over multisets of other options whose capacity is s modulo k_u (the rest is
   filled with o*, whose last replica overshoots x by (s - x) mod k_u). W_u is a shortest path on the cycle of
   residues, computed on a grid of M cells (capacities rounded up; the rounding is charged back, see
   _population_curve).
3. Split replicas: at most P replicas of options that reach two or more populations, each paid in full, each
   giving at most its largest route capacity. Their reach sets ("types") are one (they feed only that type's
   populations), two (each feeds only its own type's: populations both reach take from both), or three and more
   (then there are three replicas at least, and their capacity is let go to any population).
The bound is the least over these cases of [split replicas' cost + sum_u K_u(D_u - capacity they give u)], on a
grid whose cells are charged to the bound's disadvantage. Dropped, so the bound stays a relaxation: replica upper
bounds (stock) and every row other than demand and replica capacity (monitoring, stock, power, carbon).
Source: Gomory 1965 (the group relaxation of an integer program); the vertex count is the standard basic-solution
argument for transportation polytopes (Dantzig 1963, ch. 14).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from fleetopt.formulation.model import Formulation

RESIDUE_CELLS = 1 << 14     # grid of the residues modulo the best option's capacity, per population
SPLIT_SPAN = 1536           # grid cells of the split-replica layer (P replicas' capacity), whatever P
BLOCK = 128                 # entries per array operation of the min-plus kernels (fastest of 16-256 measured)
RUNS_MAX = 256              # min-plus run by run up to this many runs (global-fleet's 43 kernels of 1,537
                            # entries: 21-28 ms against 86 ms in blocks; 35 ms at 64 runs, 46 ms always by runs)


@dataclass
class ServiceKnapsack:
    """One service: options' objective cost, routes (option, population index, requests/s per replica), demand."""

    cost: np.ndarray           # per option, objective coefficient of one replica (>= 0)
    route_option: np.ndarray
    route_population: np.ndarray
    route_rps: np.ndarray      # requests/s one replica carries on the route (capacity / (1 + headroom))
    demand: np.ndarray         # per population (index into it), requests/s


def lower_bound(sk: ServiceKnapsack) -> float:
    """A lower bound on sum_o cost_o n_o over every plan that routes the demand (see the module docstring)."""
    pops = np.flatnonzero(sk.demand > 0)
    if len(pops) == 0:
        return 0.0
    curves = [_population_curve(sk, u) for u in pops]
    if any(c is None for c in curves):
        return 0.0  # a population without a route: infeasible, nothing to bound
    alone = np.array([c.at(sk.demand[u]) for c, u in zip(curves, pops)])
    best = float(alone.sum())
    if len(pops) < 2:
        return best
    per_option = np.zeros(len(sk.cost))
    np.maximum.at(per_option, sk.route_option, sk.route_rps)
    # reach[o]: the populations option o routes, as a bit set over `pops`
    slot = np.full(len(sk.demand), -1)
    slot[pops] = np.arange(len(pops))
    reach = np.zeros(len(sk.cost), dtype=np.int64)
    np.bitwise_or.at(reach, sk.route_option, 1 << slot[sk.route_population])
    shared = np.flatnonzero(np.array([bin(int(b)).count("1") >= 2 for b in reach]))
    if len(shared) == 0:
        return best
    k_max = len(pops)
    cells_per_replica = SPLIT_SPAN // k_max
    cell = per_option[shared].max() / cells_per_replica
    span = k_max * cells_per_replica
    relieved = [c.relieved(sk.demand[u], cell, span) for c, u in zip(curves, pops)]
    total = float(alone.sum())

    @cache
    def pooled(bits: int) -> np.ndarray:
        """Per y: the least dedicated cost of the populations in `bits` when they receive y cells in all."""
        out = np.zeros(span + 1)
        for i in range(len(pops)):
            if bits >> i & 1:
                out = _min_plus(out, relieved[i] - alone[i], span + 1)
        return np.minimum.accumulate(out)          # receiving less than the capacity is allowed

    def fold(bits_of_options: np.ndarray) -> list[np.ndarray]:
        """[k-1]: the least cost of k replicas of the given options with at least y cells (k = 1..k_max)."""
        cells = np.minimum(np.ceil(per_option[bits_of_options] / cell - 1e-9).astype(np.int64), span)
        one = np.full(span + 1, np.inf)
        for k_cells, cost in zip(cells, sk.cost[bits_of_options]):
            one[:k_cells + 1] = np.minimum(one[:k_cells + 1], cost)
        out, split = [], np.r_[0.0, np.full(span, np.inf)]
        for _ in range(k_max):
            split = _min_plus_cover(split, one, span)
            out.append(split)
        return out

    # Split replicas S (at most k_max). Their reach sets ("types") number 1, 2 or more; the cheap cases first,
    # and once the bound is down to what the LP knows, the rest cannot help
    types = sorted({int(b) for b in reach[shared]})
    if len(types) >= 3 and k_max >= 3:             # three types or more: three replicas at least, feeding anyone
        gain = pooled((1 << len(pops)) - 1)
        for split in fold(shared)[2:]:
            best = min(best, total + float(np.min(split + gain)))
    if best <= lp_floor(sk):
        return best
    folds = {t: fold(shared[reach[shared] == t]) for t in types}

    @cache
    def leftover(t: int, k: int, own: int) -> np.ndarray:
        return _leftover(folds[t][k - 1], pooled(own))

    for t in types:                                # one type: its replicas feed only its populations
        gain = pooled(t)
        for split in folds[t]:
            best = min(best, total + float(np.min(split + gain)))
    for i, a in enumerate(types):                  # two types a, b: a feeds only a's, b only b's
        for b in types[i + 1:]:
            both = pooled(a & b)
            for k_a in range(1, k_max):
                for k_b in range(1, k_max - k_a + 1):
                    # no cheaper than the replicas alone with the most any capacity could save: skip if no better
                    if total + folds[a][k_a - 1][0] + folds[b][k_b - 1][0] + pooled(a | b)[-1] >= best:
                        continue
                    left_a = leftover(a, k_a, a & ~b)
                    left_b = leftover(b, k_b, b & ~a)
                    together = _min_plus(left_a, left_b, span + 1)
                    best = min(best, total + float(np.min(together + both)))
    return best


def _leftover(split: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """l -> min over x of split(x + l) + gain(x): replicas of at least x + l cells, x of them to their own
    populations, l cells left for populations another type also reaches. In blocks of BLOCK values of x (one
    n x BLOCK window each; blocks whose gain is all +inf add nothing to a minimum), not one n x n window."""
    n = len(split)
    out = np.full(n, np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(np.r_[split, np.full(BLOCK - 1, np.inf)], BLOCK)
    for x0 in range(0, n, BLOCK):
        block = gain[x0:x0 + BLOCK]
        if (block == np.inf).all():
            continue
        # windows[x0 + l, k] = split[x0 + k + l]
        np.minimum(out[:n - x0], np.min(windows[x0:n, :len(block)] + block, axis=1), out=out[:n - x0])
    return out


@dataclass
class _Curve:
    """K_u(x) >= rate x + floor_of(x): rate = best cost per capacity, waste[s] on the residue grid."""

    rate: float
    period: float              # capacity of one replica of the best option
    waste: np.ndarray          # V(s): least waste when the demand's residue is in cell s (overshoot charged)

    def at(self, x: float) -> float:
        return self.rate * x + self.window_min(x, x)

    def window_min(self, lo: float, hi: float) -> float:
        """The least waste over demands whose residue lies in [lo, hi] (modulo the period)."""
        m = len(self.waste)
        a = int(np.floor(lo / self.period * m)) % m
        b = int(np.ceil(hi / self.period * m))
        n = b - int(np.floor(lo / self.period * m)) + 1
        if n >= m:
            return float(self.waste.min())
        idx = (a + np.arange(n)) % m
        return float(self.waste[idx].min())

    def relieved(self, demand: float, cell: float, span: int) -> np.ndarray:
        """Per y in 0..span: a lower bound on K_u(demand - a) over a in [y cell, (y + 1) cell] (a <= demand)."""
        y = np.arange(span + 1)
        hi_x = np.maximum(demand - y * cell, 0.0)
        lo_x = np.maximum(demand - (y + 1) * cell, 0.0)
        m = len(self.waste)
        # the cell's residues: a window of the waste curve (a sliding minimum via the sparse-table trick)
        width = int(np.ceil(cell / self.period * m)) + 2
        sliding = _sliding_min_cyclic(self.waste, min(width, m))
        start = np.floor(lo_x / self.period * m).astype(np.int64) % m
        out = self.rate * lo_x + (sliding[start] if width < m else self.waste.min())
        out[hi_x <= 0] = 0.0
        return out


def _population_curve(sk: ServiceKnapsack, u: int) -> _Curve | None:
    on = sk.route_population == u
    opts, rps = sk.route_option[on], sk.route_rps[on]
    keep = rps > 0
    opts, rps = opts[keep], rps[keep]
    if len(opts) == 0:
        return None
    cost = sk.cost[opts]
    ratio = cost / rps
    star = int(np.argmin(ratio))
    rate, period = float(ratio[star]), float(rps[star])
    excess = np.maximum(cost - rate * rps, 0.0)
    others = np.arange(len(opts)) != star
    residue_cells, step_cost = _residues(rps[others], period, excess[others])
    m = RESIDUE_CELLS
    delta_value = rate * period / m          # what one grid cell of capacity is worth at the best rate
    # a multiset whose excess reaches a whole best replica is never worth it: any demand is met with best
    # replicas alone within one replica's overshoot
    useful = (step_cost < rate * period) & (residue_cells > 0)
    cells, excess_of = residue_cells[useful], step_cost[useful]
    if len(cells) and excess_of.min() <= delta_value:
        return _Curve(rate, period, np.zeros(m))   # a cell outweighs an option: the grid cannot charge it
    w = _cycle_paths(cells, excess_of, m)
    # Rounding: capacities were rounded up to the grid, so a multiset of L options may reach a residue up to
    # L cells below the one recorded, and L <= sum r / r_min. Its overshoot is at least the grid's minus
    # (sum r / r_min + 1) cells: charge that back (positive r_min keeps each cell worth less than an option).
    r_min = float(excess_of.min()) if len(excess_of) else np.inf
    shrink = 1.0 - delta_value / r_min if np.isfinite(r_min) else 1.0
    w_charged = np.where(np.isfinite(w), w * shrink, np.inf)
    # V(x) = min_s [W(s) + rate ((s - x) mod period)]: a reverse running minimum around the cycle
    s = np.arange(m)
    twice = np.concatenate([w_charged + delta_value * s, w_charged + delta_value * (s + m)])
    run = np.minimum.accumulate(twice[::-1])[::-1]
    waste = run[:m] - delta_value * s - delta_value   # one more cell: the demand's own rounding
    return _Curve(rate, period, np.maximum(waste, 0.0))


def _residues(rps, period, excess) -> tuple[np.ndarray, np.ndarray]:
    """Each option's capacity modulo the period, rounded up to the residue grid, with its excess cost."""
    cells = np.ceil(np.mod(rps, period) / period * RESIDUE_CELLS - 1e-12).astype(np.int64) % RESIDUE_CELLS
    return cells, excess


def _cycle_paths(cells: np.ndarray, cost: np.ndarray, m: int) -> np.ndarray:
    """Least cost from residue 0 to each residue of the m-cycle, steps of cells[i] costing cost[i] (> 0), never
    above it (see below). Source: Böcker and Lipták 2007, "A fast and simple algorithm for the money changing
    problem", Algorithmica 48, the round-robin residue table: the steps commute, so each step length is closed
    once, around each of its gcd(step, m) cycles twice, in one running minimum (no graph, no scipy.csgraph)."""
    out = np.full(m, np.inf)
    out[0] = 0.0
    if len(cells) == 0:
        return out
    order = np.lexsort((cost, cells))
    first = np.r_[True, np.diff(cells[order]) != 0]   # of steps of equal length the cheapest
    cells, cost = cells[order][first], cost[order][first]
    for step, price in zip(cells.tolist(), cost.tolist()):
        cycles = math.gcd(step, m)
        length = m // cycles
        at = (np.arange(cycles)[:, None] + np.arange(length)[None, :] * step) % m   # each cycle in step order
        around = out[at]
        # out[at[j]] = min over t <= j + length of around[t mod length] + (j + length - t) price
        paid = np.arange(2 * length) * price
        best = np.minimum.accumulate(np.concatenate([around, around], axis=1) - paid, axis=1)
        out[at] = best[:, length:] + paid[length:]
    # the running minimum subtracts and adds back up to 2m steps' cost: a rounding of up to a few ulps of that
    # per step length, taken off so the costs stay a lower bound (~1e-4 USD on 16,384 cells of $1e5 steps)
    slack = 16 * len(cells) * np.finfo(float).eps * 2 * m * float(cost.max())
    out = np.maximum(out - slack, 0.0)
    out[0] = 0.0
    return out


def _sliding_min_cyclic(a: np.ndarray, width: int) -> np.ndarray:
    """out[i] = min(a[i], ..., a[i + width - 1]) on the cycle."""
    ext = np.concatenate([a, a[:width]])
    out = ext[:len(a)].copy()
    span = 1
    cur = ext.copy()
    while span * 2 <= width:
        cur = np.minimum(cur[:-span], cur[span:])
        span *= 2
    # cover [i, i + width) with two windows of length span
    out = np.minimum(cur[:len(a)], cur[width - span:width - span + len(a)])
    return out


def _min_plus(a: np.ndarray, b: np.ndarray, size: int | None = None) -> np.ndarray:
    """c[y] = min_{i + j = y} a[i] + b[j] for y < size (default: every y < len(a) + len(b) - 1). An operand of
    few runs of equal values (RUNS_MAX at most) is taken run by run (`_min_plus_by_runs`); else in blocks of
    BLOCK entries of the shorter operand (one window of b each; blocks all +inf add nothing to a minimum), so
    a prefix of the result costs its own share and no len(a) x len(b) window is built."""
    n = len(a) + len(b) - 1 if size is None else min(size, len(a) + len(b) - 1)
    runs_a, runs_b = _runs(a), _runs(b)
    if min(len(runs_a[0]), len(runs_b[0])) <= RUNS_MAX:
        if len(runs_a[0]) <= len(runs_b[0]):
            return _min_plus_by_runs(runs_a, b, n)
        return _min_plus_by_runs(runs_b, a, n)
    if len(a) > len(b):
        a, b = b, a
    out = np.full(max(n, 0), np.inf)
    padded = np.concatenate([np.full(BLOCK - 1, np.inf), b, np.full(BLOCK - 1, np.inf)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, BLOCK)[:, ::-1]   # windows[t, k] = b[t - k]
    for i0 in range(0, max(min(len(a), n), 0), BLOCK):
        block = a[i0:i0 + BLOCK]
        if (block == np.inf).all():
            continue
        m = min(len(b) + len(block) - 1, n - i0)
        np.minimum(out[i0:i0 + m], np.min(windows[:m, :len(block)] + block, axis=1), out=out[i0:i0 + m])
    return out


def _runs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The maximal runs of equal finite entries of v: (first index, one past the last, value) of each."""
    finite = np.isfinite(v)
    change = np.r_[True, (v[1:] != v[:-1]) | (finite[1:] != finite[:-1])]
    first = np.flatnonzero(change)
    end = np.r_[first[1:], len(v)]
    keep = finite[first]
    return first[keep], end[keep], v[first[keep]]


def _min_plus_by_runs(runs, b: np.ndarray, n: int) -> np.ndarray:
    """_min_plus of an operand given by its runs (`_runs`) and b, first n entries: a run of value v on [lo, hi)
    adds v to the least b over each window of hi - lo entries, read off a table of minima over power-of-two
    spans (each window two overlapping spans). Rounded addition is monotone, so v + min b is the least v + b[j]:
    the same numbers as the blocks give."""
    lo, hi, value = runs
    out = np.full(max(n, 0), np.inf)
    if not len(lo) or n <= 0:
        return out
    width = hi - lo
    pad = int(width.max()) - 1
    spans = [np.concatenate([np.full(pad, np.inf), b, np.full(pad, np.inf)])]   # spans[k][t]: min of 2^k from t
    while (2 << (len(spans) - 1)) <= pad + 1:
        half = 1 << (len(spans) - 1)
        spans.append(np.minimum(spans[-1][:-half], spans[-1][half:]))
    for first, end, v, w in zip(lo.tolist(), hi.tolist(), value.tolist(), width.tolist()):
        stop = min(end + len(b) - 1, n)   # y in [first, stop): b's entries y - end + 1 .. y - first
        if stop <= first:
            continue
        k = w.bit_length() - 1
        table, at, count = spans[k], first - end + 1 + pad, stop - first
        least = np.minimum(table[at:at + count], table[at + w - (1 << k):at + w - (1 << k) + count])
        np.minimum(out[first:stop], least + v, out=out[first:stop])
    return out


def _min_plus_cover(a: np.ndarray, b: np.ndarray, span: int) -> np.ndarray:
    """c[y] = min over i + j >= y of a(>= i) + b(>= j), both nonincreasing 'at least' curves, capped at span."""
    head = _min_plus(a, b, span)
    # the cap: min over i + j >= span of a[i] + b[j] = min_i a[i] + min_{j >= span - i} b[j] (rounded addition
    # is monotone, so the minimum can be taken before the sum: the same number as over every pair)
    i = np.arange(len(a))
    first_j = np.maximum(span - i, 0)
    reach = first_j < len(b)
    if reach.any():
        suffix_min = np.minimum.accumulate(b[::-1])[::-1]
        tail = float(np.min(a[reach] + suffix_min[first_j[reach]]))
    else:
        tail = np.inf
    capped = np.concatenate([head, [tail]])
    return np.minimum.accumulate(capped[::-1])[::-1]


def service_knapsacks(sc, replica_cost: np.ndarray) -> list[ServiceKnapsack]:
    """One ServiceKnapsack per service of a ServingCandidates table; replica_cost = each option's objective
    coefficient (replicas block, option order)."""
    route_service = sc.service[sc.route_option]
    rps = sc.route_capacity_rps / (1.0 + sc.headroom[route_service])
    demand = np.zeros((len(sc.service_names), len(sc.population_names)))
    demand[sc.demand_service, sc.demand_population] = sc.demand_rps
    out = []
    for s in range(len(sc.service_names)):
        opts = np.flatnonzero(sc.service == s)
        local = np.full(len(sc), -1)
        local[opts] = np.arange(len(opts))
        on = route_service == s
        out.append(ServiceKnapsack(replica_cost[opts], local[sc.route_option[on]], sc.route_population[on],
                                   rps[on], demand[s]))
    return out


def lp_floor(sk: ServiceKnapsack) -> float:
    """sum_u D_u x (best cost per capacity of u): the bound the LP relaxation already knows."""
    ratio = sk.cost[sk.route_option] / np.maximum(sk.route_rps, 1e-300)
    best = np.full(len(sk.demand), np.inf)
    np.minimum.at(best, sk.route_population, ratio)
    on = sk.demand > 0
    return float(np.sum(sk.demand[on] * best[on]))


def with_replica_bounds(form: Formulation, sc) -> Formulation:
    """A copy of `form` with one row per service whose whole-replica bound beats its LP:
    replica_bound[service]: sum_o c_o n_o >= bound (c_o the replica's objective coefficient).

    The rows never cut off a plan (each is a relaxation's optimum), so the optimum is the same; they are
    appended after every other row and add no column, so a solution of the copy reads back on `form`.
    """
    out = form.copy()
    n = form.blocks.get("replicas")
    if n is None or n.size == 0 or (n.cost < 0).any():
        return out   # nothing to bound, or a negative weight (the bound assumes replicas cost)
    if form.time is not None:
        return out   # over time slices replicas are per (option, slice): the per-option bound does not apply
    keys, rows, cols, vals, lower = [], [], [], [], []
    for s, sk in enumerate(service_knapsacks(sc, n.cost)):
        bound = lower_bound(sk)
        if not bound > lp_floor(sk) * (1 + 1e-9):
            continue
        opts = np.flatnonzero(sc.service == s)
        rows.append(np.full(len(opts), len(keys)))
        cols.append(n.cols[opts])
        vals.append(n.cost[opts])
        lower.append(bound * (1 - 1e-9))    # float safety: the row stays a relaxation's bound
        keys.append((sc.service_names[s],))
    if keys:
        out.add_rows("replica_bound", keys, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
                     lower=np.array(lower), units=form.objective_name,
                     meaning="a service's replica cost is at least its whole-replica bound")
    return out


def form_knapsacks(form: Formulation) -> list[tuple[str, np.ndarray, ServiceKnapsack]]:
    """Per service of a formulation (the whole model or one part of it): its name, its replica columns and its
    knapsack, read from the rows alone: `demand` rows (sum of flows >= their lower bound) and `replica_capacity`
    rows (sum of flow / rps <= replicas, one row per option, -1 on its replica column); an option whose replicas
    are fixed at zero (formulation/dominated.py) has no route. Parts carry no option table, so this is how
    pipeline/decompose.py bounds the parts that stay open. Empty when the rows are not of that shape (then
    nothing is bounded: the bound must stay a relaxation)."""
    n, f = form.blocks.get("replicas"), form.blocks.get("flow")
    cap, dem = form.families.get("replica_capacity"), form.families.get("demand")
    if n is None or f is None or cap is None or dem is None or n.size == 0 or (n.cost < 0).any():
        return []
    is_rep = (cap.cols >= n.start) & (cap.cols < n.start + n.size)
    is_flow = (cap.cols >= f.start) & (cap.cols < f.start + f.size)
    option_of_row = np.full(cap.size, -1)
    option_of_row[cap.rows[is_rep]] = cap.cols[is_rep] - n.start
    if not (is_rep | is_flow).all() or is_rep.sum() != cap.size or (option_of_row < 0).any() \
            or not np.allclose(cap.vals[is_rep], -1.0) or (cap.vals[is_flow] <= 0).any():
        return []
    flow = cap.cols[is_flow] - f.start
    if len(np.unique(flow)) != len(flow):
        return []
    route_option = np.full(f.size, -1)
    route_rps = np.zeros(f.size)
    route_option[flow] = option_of_row[cap.rows[is_flow]]
    route_rps[flow] = 1.0 / cap.vals[is_flow]
    d_flow = (dem.cols >= f.start) & (dem.cols < f.start + f.size)
    if not d_flow.all() or not np.allclose(dem.vals, 1.0):
        return []
    route_row = np.full(f.size, -1)
    route_row[dem.cols - f.start] = dem.rows
    service_of_option = np.array([k[0] for k in n.keys], dtype=object)
    service_of_row = np.array([k[0] for k in dem.keys], dtype=object)
    demand = np.where(np.isfinite(dem.lower), np.maximum(dem.lower, 0.0), 0.0)
    out = []
    for s in dict.fromkeys(service_of_option):
        opts = np.flatnonzero(service_of_option == s)
        rows = np.flatnonzero(service_of_row == s)
        local_opt = np.full(n.size, -1)
        local_opt[opts] = np.arange(len(opts))
        local_row = np.full(dem.size, -1)
        local_row[rows] = np.arange(len(rows))
        on = (route_option >= 0) & (route_row >= 0)
        on[on] &= (local_opt[route_option[on]] >= 0) & (local_row[route_row[on]] >= 0)
        on[on] &= n.ub[route_option[on]] > 0    # an option fixed at zero (formulation/dominated.py) routes nothing
        out.append((str(s), n.cols[opts],
                    ServiceKnapsack(n.cost[opts], local_opt[route_option[on]], local_row[route_row[on]],
                                    route_rps[on], demand[rows])))
    return out


def with_form_replica_bounds(form: Formulation, services: set[str] | None = None,
                             knapsacks: list[tuple[str, np.ndarray, ServiceKnapsack]] | None = None) -> Formulation:
    """A copy of `form` with the replica_bound rows of `with_replica_bounds`, read from the formulation alone
    (`form_knapsacks`): for a part of the model as for the whole; `services` limits which are bounded;
    `knapsacks`: `form_knapsacks(form)` when the caller has it already."""
    return with_replica_cost_rows(form, "replica_bound", lower_bound,
                                  "a service's replica cost is at least its whole-replica bound", services, knapsacks)


def with_replica_cost_rows(form: Formulation, family: str, bound_of, meaning: str, services: set[str] | None = None,
                           knapsacks: list[tuple[str, np.ndarray, ServiceKnapsack]] | None = None) -> Formulation:
    """A copy of `form` with one row `family[service]`: sum_o c_o n_o >= bound_of(knapsack), per service (of
    `services`, else all, with demand) whose bound (None: none) lies above the LP's floor (`lp_floor`). Appended
    after every other row, no column added, so a solution of the copy reads back on `form`."""
    out = form.copy()
    n = form.blocks.get("replicas")
    keys, rows, cols, vals, lower = [], [], [], [], []
    for name, rep_cols, sk in (form_knapsacks(form) if knapsacks is None else knapsacks):
        if (services is not None and name not in services) or not (sk.demand > 0).any():
            continue
        bound = bound_of(sk)
        if bound is None or not bound > lp_floor(sk) * (1 + 1e-9):
            continue
        rows.append(np.full(len(rep_cols), len(keys)))
        cols.append(rep_cols)
        vals.append(n.cost[rep_cols - n.start])
        lower.append(bound * (1 - 1e-9))    # float safety: the row stays a relaxation's bound
        keys.append((name,))
    if keys:
        out.add_rows(family, keys, np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
                     lower=np.array(lower), units=form.objective_name, meaning=meaning)
    return out
