"""The Markdown report of a plan and its explanation, with a PNG of the fleet-law breakdown per training job.

Both files are written whole or not at all (fleetopt.io.output). The report follows the chapter's closing
diagnostic and ends with the governance evidence.
"""

from __future__ import annotations

import io
from pathlib import Path

from fleetopt.errors import InputError
from fleetopt.explain.infeasible import relaxation_markdown
from fleetopt.io.numbers import money, num, pct, whole
from fleetopt.plan.explanation import Explanation
from fleetopt.io.output import write_bytes_atomic, write_text_atomic
from fleetopt.plan import Plan
from fleetopt.plan.diff import diff_plans
from fleetopt.plan.read import read_plan
from fleetopt.plan.terminal import evaluator_gpus, gpu_note, headline, megawatts, price_text

COLORS = {"ideal": "#4c72b0", "compute": "#55a868", "communication": "#c44e52", "coordination": "#8172b2"}


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def breakdown_png(explanation: Explanation) -> bytes | None:
    """Stacked bars per job: the ideal step and the time each C3 term adds, as shares of the step."""
    if not explanation.jobs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = explanation.jobs
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.6 * len(jobs)), layout="constrained")
    for row, job in enumerate(jobs):
        t = job.terms
        parts = [("ideal", t.ideal_s), ("compute", t.compute_s), ("communication", t.communication_s),
                 ("coordination", t.coordination_s)]
        total = sum(max(v, 0.0) for _, v in parts) or 1.0
        left = 0.0
        for name, value in parts:
            share = max(value, 0.0) / total
            ax.barh(row, share, left=left, color=COLORS[name], label=name if row == 0 else None)
            left += share
        ax.text(1.01, row, f"{job.step_time_s:.3g} s/step, binds: {t.binding}", va="center", fontsize=8)
    ax.set_yticks(range(len(jobs)), [j.job for j in jobs])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the step (ideal = model FLOPs / (GPUs x peak))")
    ax.set_title("Fleet-law breakdown per training job")
    fig.legend(loc="outside lower center", ncol=4, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt(v: float | None, sig: int = 4, scale: float = 1.0) -> str:
    return num(v, sig, scale)


def plan_section(plan: Plan, inst=None) -> list[str]:
    """What the plan is, readable without the JSON: where each job runs and how, the replicas of each service and
    where each population is served, each region's GPUs and power against its stock and cap, and the totals."""
    out = []
    if plan.training:
        out.append("## Training jobs: where and how\n")
        out.append(table(["job", "region", "accelerator", "GPUs", "TPxPPxDP", "sync group", "micro-batch",
                          "recompute", "checkpoint min", "MFU", "wall h", "cost", "t CO2e", "binds"],
                         [[name, d.region, d.accelerator, whole(d.gpus), f"{d.tp}x{d.pp}x{d.dp}", d.sync_group,
                           d.micro_batch, d.recompute, num(d.checkpoint_interval_min, 2), pct(d.mfu, 0),
                           whole(d.wall_hours), money(d.cost_usd), num(d.carbon_t, 3), d.binding_term]
                          for name, d in plan.training.items()]))
    if plan.serving:
        out.append("## Serving: replicas and routing\n")
        out.append(table(["service", "region", "accelerator", "config", "replicas", "GPUs each", "GPUs", "cost",
                          "t CO2e"],
                         [[name, g.region, g.accelerator, g.config, g.replicas, g.gpus // max(g.replicas, 1),
                           whole(g.gpus), money(g.cost_usd), num(g.carbon_t, 3)]
                          for name, s in plan.serving.items() for g in s.replicas]))
        routes = {}
        for name, s in plan.serving.items():
            for r in s.routing:
                key = (name, r.population, r.region)
                routes[key] = routes.get(key, 0.0) + r.rps
        out.append(table(["service", "population", "served in", "requests/s"],
                         [[*key, num(rps, 3)] for key, rps in routes.items()]))
        monitoring = [[name, m.region, m.accelerator, num(m.evaluator_gpus, 2), len(m.groups),
                       money(m.pipeline_cost_usd + m.evaluator_cost_usd)]
                      for name, s in plan.serving.items() for m in s.monitoring]
        if monitoring:
            out.append(table(["service", "monitored in", "evaluator accelerator", "evaluator GPUs", "groups",
                              "cost"], monitoring))
    if plan.totals:
        tot = plan.totals
        stock = {r: {a: g.count for a, g in reg.gpus.items()} for r, reg in inst.regions.items()} if inst else {}
        evaluators = evaluator_gpus(plan)
        rows = []
        for region, use in tot.regions.items():
            cap = use.power_cap_mw
            for i, (accel, n) in enumerate(use.gpus.items()):
                have = stock.get(region, {}).get(accel)
                evals = evaluators[region].get(accel, 0.0)
                rows.append([region, accel, whole(n - evals), num(evals, 2) if evals else "-",
                             whole(have) if have is not None else "-", pct(n / have) if have else "-",
                             megawatts(use.power_mw) if i == 0 else "", (num(cap, 3) if cap else "none")
                             if i == 0 else "", (pct(use.power_mw / cap) if cap else "-") if i == 0 else ""])
        out.append("## Regions: use against stock and power caps\n")
        out.append(table(["region", "accelerator", "GPUs (training, replicas)", "evaluator GPUs", "stock",
                          "of stock", "power MW", "cap MW", "of cap"], rows))
        budget = inst.policy.carbon_budget_t if inst else None
        out.append("## Totals\n")
        out.append(f"- cost: {money(tot.cost_usd)} over the horizon"
                   + (f" of {num(inst.horizon_hours)} h" if inst else ""))
        out.append(f"- carbon: {num(tot.carbon_t, 4)} t CO2e"
                   + (f" of a {num(budget, 4)} t budget ({pct(tot.carbon_t / budget)})" if budget else ""))
        out.append(f"- energy: {num(tot.energy_mwh, 3)} MWh")
        note = gpu_note(plan)
        out.append(f"- GPUs: {whole(tot.gpus)}" + (f": {note}" if note else ""))
        out.append("")
    return out


def change_section(plan: Plan, e: Explanation) -> list[str]:
    """A re-plan's change against the deployed plan, first: what moves, starts and stops (plan/diff.py), what
    changing costs, and what the cheapest plan would change (explain/change.py)."""
    c = plan.change
    out = [f"## Change against the deployed plan ({c.current})\n"]
    try:
        diff = diff_plans(read_plan(c.current, decisions=True), plan, "deployed", "this plan")
    except InputError as err:
        out.append(f"The deployed plan cannot be read any more ({err.problems[0]}); its decisions are in the "
                   "plan JSON's `change`.\n")
    else:
        if diff.changes:
            out.append(table(["workload", "action", "was", "now", "GPUs", "cost", "t CO2e"],
                             [[f"{d.kind} {d.name}", d.action, d.old or "-", d.new or "-", f"{d.gpus:+,}",
                               money(d.cost_usd), num(d.carbon_t, 3)] for d in diff.changes]))
        else:
            out.append("No job or replica group changes.\n")
    if c.moves:
        out.append(table(["job", "from", "to", "checkpoint GB", "transfer + restart h", "egress", "cost"],
                         [[j, f"{m.from_region}/{m.from_accelerator}", f"{m.to_region}/{m.to_accelerator}",
                           num(m.checkpoint_gb), num(m.hours, 3), money(m.egress_usd), money(m.cost_usd)]
                          for j, m in c.moves.items()]))
    out.append(f"- GPUs whose assignment changes: {whole(c.changed_gpus)}"
               + (f" of at most {whole(c.max_changed_gpus)}" if c.max_changed_gpus is not None else ""))
    out.append(f"- change cost: {money(c.cost_usd)} ({money(c.change_usd_per_gpu)} per changed GPU, plus moves)")
    if c.finished:
        out.append(f"- done by policy.as_of_hour, so not planned: {', '.join(c.finished)}")
    out += [f"- {line}" for line in (e.change.lines if e.change else [])]
    out.append("")
    return out


def time_section(t) -> list[str]:
    """Plans over time slices: when jobs run, how replicas follow demand, which slices bind at what price."""
    out = ["## Time slices\n", f"{len(t.labels)} slices standing for {whole(sum(t.weights))} horizon hours.\n"]
    if t.jobs:
        out.append(table(["job", "pausable", "window h", "hours run", "t CO2e", "as early as possible t",
                          "avoided t"],
                         [[j.job, "yes" if j.pausable else "no", f"{whole(j.window[0])}-{whole(j.window[1])}",
                           _fmt(j.hours_run), _fmt(j.carbon_t), _fmt(j.carbon_asap_t), _fmt(j.carbon_avoided_t)]
                          for j in t.jobs]))
        out.append(table(["job", *t.labels], [[j.job, *[_fmt(h, 3) for h in j.hours_by_slice]] for j in t.jobs]))
    if t.services:
        out.append(table(["service", "peak replicas", "trough", *t.labels],
                         [[s.service, s.peak, s.trough, *s.replicas_by_slice] for s in t.services]))
    if t.binding_slices:
        out.append(table(["slice", "hours", "binding rows (price)"],
                         [[b.slice, _fmt(b.hours), "; ".join(f"{r} ({_fmt(p)})" for r, p in zip(b.rows, b.prices))]
                          for b in t.binding_slices]))
    return out


def render_markdown(plan: Plan, e: Explanation, plot_name: str | None, inst=None) -> str:
    prov = plan.provenance
    out = [f"# fleetopt report: {prov.instance}\n", headline(plan).split(": ", 1)[1].capitalize()
           + (f"; first binding C3 term of the fleet: **{e.first_binding_term}**" if e.first_binding_term else "")
           + "\n"]
    if not plan.has_plan and plan.detail:
        out.append(f"Why: {plan.detail}\n")
    if plan.has_plan and plan.change is not None:
        out += change_section(plan, e)
    if plan.has_plan:
        out += plan_section(plan, inst)
    if e.diagnostic:
        out.append("## Diagnostic\n")
        out.append(table(["subject", "symptom", "metric", "C3 term", "fleet-stack layer", "displaced cost",
                          "governance evidence"],
                         [[d.subject, d.symptom, d.metric, d.c3_term, d.layer, d.displaced_cost,
                           d.governance_evidence] for d in e.diagnostic]))
    if e.binding:
        out.append("## Binding constraints\n")
        out.append(table(["constraint", "layer", "activity", "limit", "price", "price per", "price holds for limit in"],
                         [[b.name, b.layer, _fmt(b.activity, 4, b.limit), _fmt(b.limit),
                           *(price_text(b.shadow_price, b.price_in_words).split(" per ", 1) + [""])[:2],
                           f"[{_fmt(b.range_low)}, {_fmt(b.range_high)}]" if b.range_low is not None
                           or b.range_high is not None else "degenerate (price is one of the one-sided slopes)"]
                          for b in e.binding]))
        out.append(e.price_note + "\n")
    if e.jobs:
        out.append("## Training jobs\n")
        out.append(table(["job", "step s", "compute s", "comm s", "bubble s", "overlap s", "sync s", "ideal s",
                          "binds", "goodput", "lost to checkpoints", "lost to failures"],
                         [[j.job, _fmt(j.step_time_s), _fmt(j.compute_s), _fmt(j.comm_s), _fmt(j.bubble_s),
                           _fmt(j.overlap_s), _fmt(j.sync_s), _fmt(j.terms.ideal_s), j.terms.binding,
                           pct(j.goodput, 2), pct(j.checkpoint_loss, 2), pct(j.failure_loss, 2)] for j in e.jobs]))
        out.append(table(["job", "time over ideal: compute s", "communication s", "coordination s"],
                         [[j.job, _fmt(j.terms.compute_s), _fmt(j.terms.communication_s), _fmt(j.terms.coordination_s)]
                          for j in e.jobs]))
        out.append(table(["job", "runner-up", "cost difference", "why not"],
                         [[j.job, j.runner_up.description, money(j.runner_up.cost_difference)
                           if plan.objective_name != "carbon_t" else f"{num(j.runner_up.cost_difference)} t CO2e",
                           j.runner_up.reason]
                          for j in e.jobs if j.runner_up]))
        if plot_name:
            out.append(f"![fleet-law breakdown per job]({plot_name})\n")
    for s in e.services:
        out.append(f"## Service {s.service} (binds: {s.terms.binding})\n")
        out.append(table(["population", "region", "rps", "SLO ms", "RTT ms", "nearest RTT ms", "prefill ms",
                          "decode ms", "collectives ms", "p99 queueing ms", "slack ms", "binds"],
                         [[r.population, r.region, _fmt(r.rps, 3), _fmt(r.slo_ms), _fmt(r.rtt_ms, 3),
                           _fmt(r.nearest_rtt_ms, 3), _fmt(r.prefill_ms, 3), _fmt(r.decode_ms, 3),
                           _fmt(r.all_to_all_ms, 3), _fmt(r.queueing_ms, 3), _fmt(r.slack_ms, 3),
                           r.terms.binding] for r in s.routes]))
        out += [f"- {line}" for line in s.deciding]
        out.append("")
    if e.time:
        out += time_section(e.time)
    if e.infeasibility:
        inf = e.infeasibility
        out.append("## Why there is no plan\n")
        out += [f"- {r}" for r in inf.reasons]
        out.append(f"\nConflicting families: {', '.join(inf.families)} ({inf.method}).\n")
        out.append(table(["constraint", "family", "bound"], [[m.name, m.family, m.bound] for m in inf.iis]))
        out += relaxation_markdown(inf)
        out.append("")
    g = e.governance
    if g:
        out.append("## Governance evidence\n")
        options = ", ".join(f"{k} {v}" for k, v in g.options.items())
        out.append(f"- input sha256: `{g.input_sha256}`\n- solver: {g.solver} {g.solver_version}; {options}\n")
        if g.margins:
            out.append(table(["family", "tightest row", "activity", "limit", "margin", "relative margin", "units"],
                             [[m.family, m.tightest, _fmt(m.activity, 4, m.limit), _fmt(m.limit),
                               _fmt(m.margin, 4, m.limit), pct(m.relative_margin, 2), m.units]
                              for m in g.margins]))
        if g.monitoring:
            out.append(table(["service", "region", "population", "group", "samples/window", "requests/window",
                              "sampling rate", "evaluator GPUs (needed)"],
                             [[c.service, c.region, c.population, c.group, whole(c.samples_per_window),
                               whole(c.requests_per_window), pct(c.sampling_rate, 3),
                               f"{num(c.evaluator_gpus, 3)} ({num(c.evaluator_gpus_needed, 3)})"]
                              for c in g.monitoring]))
        else:
            out.append("No fairness monitoring is configured in this instance.\n")
    return "\n".join(out)


def write_report(path: str | Path, plan: Plan, explanation: Explanation, inst=None) -> list[Path]:
    """Write the Markdown report (and its PNG beside it); returns the files written. With the instance, regions
    show their GPU stock and the totals the carbon budget."""
    path = Path(path)
    png = breakdown_png(explanation)
    plot = path.with_name(path.stem + "-breakdown.png") if png else None
    written = []
    if png:
        write_bytes_atomic(plot, png)
        written.append(plot)
    text = render_markdown(plan, explanation, plot.name if plot else None, inst)
    if plan.has_plan and inst is not None and getattr(plan, "timeline", None) is not None:  # a plan over time
        from fleetopt.plan.plots import plot_schedule
        schedule = path.with_name(path.stem + "-schedule.png")
        plot_schedule(plan, inst, schedule)
        written.append(schedule)
        text += f"\n## Schedule over time\n\n![GPUs in use per region and time slice]({schedule.name})\n"
        from fleetopt.io.slices import reduction_line
        line = reduction_line(inst.timeline, {r: u.power_mw_by_slice for r, u in plan.totals.regions.items()
                                              if getattr(u, "power_mw_by_slice", None) is not None})
        text += f"\n{line}\n" if line else ""
    write_text_atomic(path, text)
    return [path] + written
