"""A re-plan explained against the deployed fleet: what the change cap is worth (its price in the pricing LP)
and what the change cost and cap keep from happening: the cheapest plan, solved again with the same candidates
but no change cost and no cap, "changes N GPUs more and saves $X"."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.families import objective_weights
from fleetopt.formulation.model import Formulation
from fleetopt.io.numbers import money, num, whole
from fleetopt.pipeline.problem import Problem
from fleetopt.pipeline.solve import run_backend
from fleetopt.plan import Plan
from fleetopt.plan.change import changed_gpus
from fleetopt.plan.explanation import BindingConstraint, ChangeExplanation


def without_change_limits(form: Formulation) -> Formulation:
    """A copy of `form` in which changing costs nothing and any number of GPUs may change (the move charges of
    jobs that ship a checkpoint stay: they are the physics of moving, not a policy)."""
    out = copy.copy(form)
    out.blocks, out.families = dict(form.blocks), dict(form.families)
    out.blocks["changed"] = replace(form.blocks["changed"], cost=np.zeros(form.blocks["changed"].size))
    if "change_cap" in form.families:
        cap = form.families["change_cap"]
        out.families["change_cap"] = replace(cap, upper=np.full(cap.size, np.inf))
    return out


def change_headline(plan: Plan) -> str:
    """One line: the GPUs that change against the deployed plan, what that costs, the jobs that move."""
    c = plan.change
    return (f"change against {c.current}: {whole(c.changed_gpus)} GPUs change assignment at "
            f"{money(c.change_usd_per_gpu)} each; {len(c.moves)} jobs move or change layout "
            f"({money(sum(m.cost_usd for m in c.moves.values()))} of transfer and restart); change cost "
            f"{money(c.cost_usd)}")


def explain_change(problem: Problem, plan: Plan, x: np.ndarray | None, binding: list[BindingConstraint],
                   options: SolveOptions) -> ChangeExplanation | None:
    if plan.change is None or x is None or "changed" not in problem.form.blocks:
        return None
    inst, c = problem.inst, plan.change
    w_usd, _, objective = objective_weights(inst)
    out = ChangeExplanation(changed_gpus=c.changed_gpus, cap=c.max_changed_gpus)

    def amount(v: float) -> str:
        return f"{num(v)} t CO2e" if objective == "carbon_t" else money(v)

    for b in binding:
        if b.family == "change_cap":
            out.cap_price = b.shadow_price
            worth = amount(-b.shadow_price)
            out.lines.append(f"the change cap of {whole(c.max_changed_gpus)} GPUs binds: one GPU more allowed to "
                             f"change is worth {worth}" + (" at the margin (what the cap holds back moves in whole "
                                                          "jobs or replicas: see the cheapest plan)"
                                                          if worth in ("$0", "0 t CO2e") else ""))
    if c.change_usd_per_gpu == 0 and c.max_changed_gpus is None:   # nothing to lift: the plan is the cheapest
        out.cheapest_changed_gpus, out.cheapest_saves = c.changed_gpus, 0.0
        out.lines.append("no change cost and no cap: the plan is the cheapest one")
        return out
    # threads 0: the pool HiGHS already made (the pricing LPs may have made it at its default size) serves
    result = run_backend("highs", without_change_limits(problem.form), replace(options, start=None, threads=0))
    if result.x is None or result.objective is None or plan.objective is None:
        out.lines.append(f"the plan without the change cost and cap did not solve ({result.status})")
        return out
    out.cheapest_changed_gpus = changed_gpus(inst, problem.training, problem.serving, problem.form, result.x)
    mine = plan.objective - w_usd * c.change_usd_per_gpu * c.changed_gpus
    out.cheapest_saves = float(mine - result.objective)
    more = out.cheapest_changed_gpus - c.changed_gpus
    if out.cheapest_saves > 1e-6 * max(1.0, abs(mine)) and more > 0:
        out.lines.append(f"the cheapest plan (no change cost, no cap) changes {whole(more)} GPUs more and saves "
                         f"{amount(out.cheapest_saves)}")
    else:
        out.lines.append("the cheapest plan (no change cost, no cap) saves nothing more: the change cost and cap "
                         "keep nothing from moving")
    return out
