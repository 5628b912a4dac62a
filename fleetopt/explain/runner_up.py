"""The runner-up of each training job: the cheapest candidate with another layout (region, accelerator,
TP x PP x DP or sync group), what it would change in the objective, and
the rows a direct swap (everything else kept) would violate, i.e. what kept the solver from it."""

from __future__ import annotations

import numpy as np

from fleetopt.formulation.change import set_changed
from fleetopt.formulation.families import set_reserved
from fleetopt.formulation.families import objective_weights
from fleetopt.formulation.model import key_name
from fleetopt.io.numbers import money, num, whole
from fleetopt.pipeline.problem import Problem
from fleetopt.plan.explanation import RunnerUp
from fleetopt.plan.extract import RECOMPUTE

SWAP_RTOL = 1e-6


def describe_candidate(problem: Problem, c: int) -> str:
    tc = problem.training
    return (f"{tc.region_names[tc.region[c]]}/{tc.accel_names[tc.accel[c]]} {tc.gpus[c]:,} GPUs "
            f"TPxPPxDP {tc.tp[c]}x{tc.pp[c]}x{tc.dp[c]}, sync group {tc.sync_group[c]}, micro-batch "
            f"{tc.micro_batch[c]}, {RECOMPUTE[int(tc.recompute[c])]} recompute, checkpoint every "
            f"{num(tc.checkpoint_interval_s[c] / 60, 2)} min, {whole(tc.wall_hours[c])} h")


def violated_rows(problem: Problem, x: np.ndarray) -> list[str]:
    """Rows of the formulation that `x` violates, as 'name (activity vs limit units)'."""
    form = problem.form
    activity = form.matrix() @ x
    lower, upper = form.row_bounds()
    tol = SWAP_RTOL * np.maximum(1.0, np.maximum(np.abs(np.nan_to_num(upper, posinf=0)),
                                                  np.abs(np.nan_to_num(lower, neginf=0))))
    out = []
    for i in np.flatnonzero((activity > upper + tol) | (activity < lower - tol)):
        fam, k = form.family_of_row(int(i))   # not form.row_names(): x10's 40 jobs named every row 40 times, 0.5 s
        limit = upper[i] if activity[i] > upper[i] else lower[i]
        name = key_name(fam.name, fam.keys[k])
        out.append(f"{name} ({num(activity[i])} vs limit {num(limit)} {fam.units})")
    return out


def _whole_charges(problem: Problem) -> np.ndarray:
    """Per candidate over slices: the objective of running it around the clock (its static charges at the
    horizon's mean intensity and price), so candidates compare on what they cost, not only what they pay once."""
    w_usd, w_t, _ = objective_weights(problem.inst)
    return w_usd * problem.training.cost_usd + w_t * problem.training.carbon_t


def _swap_schedule(problem: Problem, x: np.ndarray, chosen: int, alt: int) -> None:
    """The alternative runs the chosen layout's schedule, scaled to its own hours (within its window)."""
    form = problem.form
    tt, S = form.time.training, form.time.slices.n
    run = form.blocks["train_run"].cols.reshape(-1, S)
    scale = tt.required_hours[alt] / max(tt.required_hours[chosen], 1e-12)
    share = x[run[chosen]] * scale
    if np.any(share > tt.window[alt] + 1e-12):  # more hours than the chosen slices hold: around the clock
        share, scale = tt.window[alt] * tt.required_hours[alt] / (tt.window[alt] @ form.time.slices.weights), 0.0
    x[run[alt]], x[run[chosen]] = share, 0.0
    resume = form.blocks.get("train_resume")
    if resume is not None and resume.size:
        index = {k[:2]: i // S for i, k in enumerate(resume.keys) if i % S == 0}
        key = (problem.training.job_names[problem.training.job[chosen]],)
        rows = {c: index.get(key + (int(c),)) for c in (chosen, alt)}
        cols = resume.cols.reshape(-1, S)
        if rows[chosen] is not None and rows[alt] is not None:
            x[cols[rows[alt]]], x[cols[rows[chosen]]] = x[cols[rows[chosen]]] * scale, 0.0


def runner_up(problem: Problem, x: np.ndarray, chosen: int) -> RunnerUp | None:
    tc, form = problem.training, problem.form
    block = form.blocks["train_choice"]
    cost = block.cost
    if form.time is not None:  # over slices the choice holds only one-off charges: compare whole charges
        cost = _whole_charges(problem)
    mine = np.flatnonzero(tc.job == tc.job[chosen])
    # another layout, not a twin that differs only in micro-batch, recomputation or checkpoint cadence
    layout = np.stack([tc.region, tc.accel, tc.tp, tc.pp, tc.dp, tc.sync_group, tc.procurement])
    others = mine[(layout[:, mine] != layout[:, [chosen]]).any(axis=0)]
    if not len(others):
        return None
    alt = int(others[np.argmin(cost[others])])
    swapped = x.copy()
    swapped[block.cols[chosen]], swapped[block.cols[alt]] = 0.0, 1.0
    set_changed(form, problem.inst, tc, problem.serving, swapped)   # a re-plan counts the swap's changed GPUs
    if form.time is not None:
        _swap_schedule(problem, swapped, chosen, alt)
    set_reserved(form, swapped)   # reserved GPUs in use follow what the swap holds on-demand
    blocked = violated_rows(problem, swapped)
    diff = float(cost[alt] - cost[chosen])
    def amount(v: float) -> str:
        return f"{num(v)} t CO2e" if form.objective_name == "carbon_t" else money(v)

    if diff < 0 and blocked:
        reason = f"cheaper by {amount(-diff)}, but swapping it in violates {', '.join(blocked)}"
    elif diff < 0:
        reason = (f"cheaper by {amount(-diff)} and a direct swap violates nothing: the plan is within its "
                  "MIP gap of it, or the swap frees resources the solver used elsewhere")
    elif diff == 0:
        reason = "ties with the plan on the objective: either layout serves at this price"
    else:
        better = "emits" if form.objective_name == "carbon_t" else "costs"
        reason = f"every other layout {better} more: this one by {amount(diff)}"
        if blocked:
            reason += f", and swapping it in would also violate {', '.join(blocked)}"
    return RunnerUp(description=describe_candidate(problem, alt), cost_difference=diff, blocked_by=blocked,
                    reason=reason)
