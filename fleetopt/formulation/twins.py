"""Serving options that k whole replicas of a twin option always replace at no loss: fixed at zero replicas.

Why: near-twin options multiply branch and bound's tree without changing the optimum. On global-fleet, an
A100 tp8 replica costs, draws and emits exactly what two tp4 replicas do, and carries less (9.9 against 10
requests/s): the solver still branches on it. The summarize part, alone, took 1.4-6.4 CPU s over four seeds
with it, 0.6-1.0 s without (benchmarks/RESULTS.md, "global-fleet in seconds").

Option o is dominated by option o' (same service, region, accelerator and time slice) with an integer k when
moving every plan's n_o replicas to k n_o replicas of o', and o's flows to o''s, keeps every row and costs no
more. Checked on the model's own arrays, not on what the options mean:
  - capacity: k / a_(o',u) >= 1 / a_(o,u) for every population u that o serves (a: load per request/s in the
    replica_capacity rows), and o' serves each such u;
  - every other row: k A[i,o'] - A[i,o] and A[i,(o',u)] - A[i,(o,u)] move the row's activity only away from
    its finite bounds (0 on a two-sided row), and so do the objective coefficients;
  - the flows of o and o' to a population share one demand row whose bound is within o''s flow bound;
  - o''s replica bound never binds: it covers all the demand o' can reach, and fewer replicas of o' cost and
    draw no more (so a plan over the bound can drop replicas down to it).
Then every plan has a replacement at most as costly with n_o = 0: fixing it keeps the optimum (composite
dominance; Source: Gamrath, Koch, Martin, Miltenberger and Weninger 2015, "Progress in presolving for mixed
integer programming", Math. Prog. Comp. 7, section 5, dominated columns). An option whose dominator is itself
fixed is kept, so twins never fix each other.
"""

from __future__ import annotations

import numpy as np

from fleetopt.formulation.dominated import capacity_rates, fixed_at_zero
from fleetopt.formulation.model import Formulation

TOL = 1e-9          # relative tolerance of every comparison
MAX_OPTIONS = 100_000  # above this many replica columns the pairwise checks are skipped (x10: 6,082 in 0.12 s)


def with_dominated_fixed(form: Formulation) -> tuple[Formulation, int]:
    """A copy of `form` with the dominated options' replicas and flows bounded to 0 (no row or column added
    or removed: a solution reads back on `form`), and how many options were fixed."""
    fixed = np.flatnonzero(dominated_options(form))
    return (fixed_at_zero(form, fixed) if len(fixed) else form), len(fixed)


def dominated_options(form: Formulation) -> np.ndarray:
    """[replica columns] True where the option is dominated by a kept twin (module docstring)."""
    n = form.blocks.get("replicas")
    if n is None or "flow" not in form.blocks or "replica_capacity" not in form.families:
        return np.zeros(0 if n is None else n.size, dtype=bool)
    fixed = np.zeros(n.size, dtype=bool)
    if n.size > MAX_OPTIONS or not n.integer:
        return fixed
    ctx = _Context.build(form)
    if ctx is None:
        return fixed
    for group in _twin_groups(n.keys):
        for o in group:
            for d in group:
                if d != o and not fixed[d] and ctx.dominates(d, o):
                    fixed[o] = True
                    break
    return fixed


def _twin_groups(keys: list[tuple]) -> list[list[int]]:
    """Replica columns by (service, region, accelerator, time slice): key[:3] + key[4:] of (service, region,
    accelerator, config[, slice])."""
    groups: dict[tuple, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(tuple(k[:3]) + tuple(k[4:]), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


class _Context:
    """The arrays every pair test reads, built once; None (from `build`) unless the capacity rows have the shape
    dominated.capacity_rates reads (one replica column each, positive flow coefficients)."""

    @classmethod
    def build(cls, form: Formulation) -> _Context | None:
        n, f, cap = form.blocks["replicas"], form.blocks["flow"], form.families["replica_capacity"]
        rates = capacity_rates(form, n, f, cap)
        return None if rates is None else cls(form, *rates)

    def __init__(self, form: Formulation, route_option: np.ndarray, load: np.ndarray):
        n, f, cap = form.blocks["replicas"], form.blocks["flow"], form.families["replica_capacity"]
        self.n = n
        self.cost, self.lb, self.ub, self.integer = form.col_arrays()
        self.a = form.matrix().tocsc()
        self.lower, self.upper = form.row_bounds()
        routed = np.flatnonzero(route_option >= 0)
        self.flows = [{} for _ in range(n.size)]   # option -> {flow key past the option's: global column}
        for j in routed.tolist():
            self.flows[route_option[j]][tuple(f.keys[j][4:])] = f.start + j
        self.load = dict(zip((f.start + routed).tolist(), load[routed].tolist()))   # flow column -> 1/rps
        on_rep = (cap.cols >= n.start) & (cap.cols < n.start + n.size)
        self.own = dict(zip((cap.cols[on_rep] - n.start).tolist(), (cap.start + cap.rows[on_rep]).tolist()))
        dem = form.families.get("demand")
        self.demand_row = {}   # flow column -> (its demand row, coefficient)
        if dem is not None:
            for r, j, v in zip(dem.rows, dem.cols, dem.vals):
                self.demand_row[int(j)] = (dem.start + int(r), float(v))

    def column(self, j: int) -> dict[int, float]:
        s, e = self.a.indptr[j], self.a.indptr[j + 1]
        return dict(zip(self.a.indices[s:e].tolist(), self.a.data[s:e].tolist()))

    def moves_outward(self, diff: dict[int, float], skip: set[int]) -> bool:
        """Adding diff (per row) times a nonnegative amount keeps every row within its finite bounds."""
        for i, d in diff.items():
            if i in skip:
                continue
            tol = TOL * max(1.0, abs(d))
            up, lo = np.isfinite(self.upper[i]), np.isfinite(self.lower[i])
            if (up and d > tol) or (lo and d < -tol):
                return False
        return True

    def dominates(self, d: int, o: int) -> bool:
        """Whether k replicas of option d (local index) replace one of option o, for the smallest k that
        carries o's load (module docstring)."""
        n = self.n
        jd, jo = n.start + d, n.start + o
        if self.lb[jo] != 0.0 or d not in self.own or o not in self.own:
            return False
        fo, fd = self.flows[o], self.flows[d]
        if not fo or any(u not in fd for u in fo):
            return False
        ratio = max(self.load[fd[u]] / self.load[fo[u]] for u in fo)
        k = max(1, int(np.ceil(ratio - TOL)))
        if k * self.cost[jd] > self.cost[jo] + TOL * max(1.0, abs(self.cost[jo])):
            return False
        skip = {self.own[o], self.own[d]}
        cd, co = self.column(jd), self.column(jo)
        diff = {i: k * cd.get(i, 0.0) - co.get(i, 0.0) for i in set(cd) | set(co)}
        if not self.moves_outward(diff, skip):
            return False
        for u, jfo in fo.items():
            jfd = fd[u]
            if self.lb[jfo] != 0.0 or self.cost[jfd] > self.cost[jfo] + TOL * max(1.0, abs(self.cost[jfo])):
                return False
            row = self.demand_row.get(jfo)
            if row is None or self.demand_row.get(jfd) != row or row[1] != 1.0 or self.upper[row[0]] > self.ub[jfd]:
                return False
            cfd, cfo = self.column(jfd), self.column(jfo)
            diff = {i: cfd.get(i, 0.0) - cfo.get(i, 0.0) for i in set(cfd) | set(cfo)}
            if not self.moves_outward(diff, skip | {row[0]}):
                return False
        return self.trims(d)

    def trims(self, d: int) -> bool:
        """Option d's replica bound covers all the demand it can reach, and dropping replicas of it costs and
        draws no more: a plan over the bound (after o's replicas moved to it) can come back under it."""
        jd = self.n.start + d
        if self.cost[jd] < 0.0 or not self.integer[jd]:
            return False
        reach = 0.0
        for jf in self.flows[d].values():
            row = self.demand_row.get(jf)
            if row is None:
                return False
            reach += self.load[jf] * min(self.ub[jf], self.upper[row[0]])
        if self.ub[jd] < np.ceil(reach - 1e-9):
            return False
        down = {i: -v for i, v in self.column(jd).items()}
        return self.moves_outward(down, {self.own[d]})
