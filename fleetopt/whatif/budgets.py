"""A sweep over the carbon budget alone: what its scenarios share, so each solves less.

The scenarios differ only in the carbon budget row's bound, and the cost is non-increasing in the budget: a plan
solved at a tighter budget meets every looser one (a feasible warm start, and an answer when it is within the
gap of this budget's bound); a bound proven at a looser budget holds at every tighter one; so a plan optimal at
budget B with carbon c is optimal at every budget in [c, B]. Every scenario is still proven against a bound
valid for its own budget (pipeline/carbon_cuts.free_answer). Per-part Lagrangian rows are made once, in shares
of their prices on every worker (carbon_cuts.joined), before any scenario, each part proven to a hundredth of the
scenarios' gap; each binding budget's MILP then asks HiGHS for more primal heuristics (worker.py: its root bound is
the rows' Lagrangian one, up to 1e-3 short on global-fleet, and the tree that closes it is cut by an early plan),
and starts from a first plan found in the range its neighbours' plans span (neighbourhood.py; `nearby`), which
answers the budget with no MILP of the whole model when it is within the gap of the rows' bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fleetopt.errors import INFEASIBLE, WITH_PLAN
from fleetopt.pipeline.carbon_cuts import Known
from fleetopt.whatif.scenario import Base
from fleetopt.whatif.spec import Factor
from fleetopt.whatif.worker import Outcome, WarmStart

CARBON_BUDGET = "policy.carbon_budget_t"
CARBON_TOL = 1e-6   # relative: a plan's carbon within this of a budget meets it (the worker checks every row)


def budget_sweep(base: Base, factors: Sequence[Factor], jobs: Sequence) -> tuple | None:
    """The carbon budgets (t CO2e; None: no budget) of a sweep that changes nothing else, else None. Its
    scenarios share one set of per-part Lagrangian rows (pipeline/carbon_cuts.py), made before them."""
    if not factors or any(f.path != CARBON_BUDGET for f in factors):
        return None
    given = (base.document.get("policy") or {}).get("carbon_budget_t")
    budgets = []
    for job in jobs:
        value = given
        for s in job.settings:
            if s.value is None or (s.scale and given is None):
                value = None
            else:
                value = given * s.value if s.scale else s.value
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None   # not a number: the scenario reports its bad input itself
        budgets.append(value)
    return tuple(budgets)


def looser(a: float | None, b: float | None) -> bool:
    """Budget a is at least as loose as b (None: no budget, the loosest)."""
    return a is None or (b is not None and a >= b)


@dataclass
class Solved:
    label: str
    budget: float | None
    objective: float
    carbon: float | None     # t CO2e in the carbon row (None: the model had none)
    bound: float | None
    start: WarmStart


class Ledger:
    """The plans and bounds a budget sweep has so far, and what each next scenario gets from them."""

    def __init__(self, jobs: Sequence, budgets: Sequence[float | None]):
        self.budget = {job.scenario_id: b for job, b in zip(jobs, budgets)}
        self.solved: list[Solved] = []
        self.infeasible: list[tuple[float, str]] = []   # (budget, label) proven infeasible

    def record(self, job, outcome: Outcome, start: WarmStart | None) -> None:
        row = outcome.row
        budget = self.budget.get(job.scenario_id)
        if row.get("status") == INFEASIBLE and budget is not None:
            self.infeasible.append((budget, job.label))
        if row.get("status") in WITH_PLAN and start is not None and outcome.x is not None:
            self.solved.append(Solved(job.label, self.budget.get(job.scenario_id), float(row["objective"]),
                                      outcome.carbon_row, outcome.bound, start))

    def order(self, pending: list, free_carbon: float, base_job) -> list:
        """The base first (every row is measured against it), then budgets the free plans meet (answered with
        no MILP), then the binding ones from the loosest down: a plan solved at B with carbon c then answers
        every budget in [c, B], and an infeasible budget every tighter one."""
        head = [job for job in pending if job is base_job]
        rest = [job for job in pending if job is not base_job]

        def key(job):
            b = self.budget.get(job.scenario_id)
            loose = b is None or b >= free_carbon * (1 - CARBON_TOL)
            return (0, 0.0) if loose else (1, -b)

        return head + sorted(rest, key=key)

    def infeasible_row(self, job) -> dict | None:
        """The row of a budget tighter than one proven infeasible (its plans are a subset): infeasible too."""
        b = self.budget.get(job.scenario_id)
        looser_ones = [(budget, name) for budget, name in self.infeasible if b is not None and budget >= b]
        if not looser_ones:
            return None
        name = min(looser_ones)[1]
        return {"status": INFEASIBLE, "detail": f"no plan: {name} is infeasible and this budget is tighter",
                "solve_s": 0.0}

    def known(self, job) -> tuple[Known | None, WarmStart | None]:
        """The cheapest plan solved so far that meets this budget, and the best bound proven at a looser one."""
        b = self.budget.get(job.scenario_id)
        meets = [s for s in self.solved if s.carbon is not None and
                 (b is None or s.carbon <= b + CARBON_TOL * max(1.0, abs(b)))]
        bounds = [s for s in self.solved if s.bound is not None and math.isfinite(s.bound) and looser(s.budget, b)]
        if not meets and not bounds:
            return None, None
        plan = min(meets, key=lambda s: s.objective) if meets else None
        proof = max(bounds, key=lambda s: s.bound) if bounds else None
        known = Known(x=plan.start.x if plan else None, source=plan.label if plan else "",
                      bound=proof.bound if proof else -math.inf, bound_source=proof.label if proof else "")
        return known, plan.start if plan else None

    def nearby(self, job) -> tuple[WarmStart, ...]:
        """The plans solved at the nearest looser and the nearest tighter budget (a binding budget's first plan
        is sought in the range they span: whatif/neighbourhood.py)."""
        b = self.budget.get(job.scenario_id)
        if b is None:
            return ()
        sides = ([s for s in self.solved if s.budget is not None and s.budget > b],
                 [s for s in self.solved if s.budget is not None and s.budget < b])
        # without names: a worker uses a plan only on the same columns (the names map a start across others)
        return tuple(replace(min(side, key=lambda s: abs(s.budget - b)).start, names=[]) for side in sides if side)
