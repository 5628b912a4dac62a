"""The Markdown report of a plan and its explanation, with a PNG of the fleet-law breakdown per training job.

Both files are written whole or not at all (fleetopt.io.output). The report follows the chapter's closing
diagnostic and ends with the governance evidence.
"""

from __future__ import annotations

import io
from pathlib import Path

from fleetopt.explain.infeasible import relaxation_markdown
from fleetopt.plan.explanation import Explanation
from fleetopt.io.output import write_bytes_atomic, write_text_atomic
from fleetopt.plan import Plan

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


def _fmt(v: float | None, spec: str = ",.4g") -> str:
    return "-" if v is None else format(v, spec)


def render_markdown(plan: Plan, e: Explanation, plot_name: str | None) -> str:
    prov = plan.provenance
    out = [f"# fleetopt report: {prov.instance}\n",
           f"Status **{plan.status}**" + (f", {plan.objective_name} = {plan.objective:,.2f}" if plan.objective
                                            is not None else "") + (f", gap {plan.gap:.2e}" if plan.gap else "")
           + (f"; first binding C3 term of the fleet: **{e.first_binding_term}**" if e.first_binding_term else "")
           + "\n"]
    if e.diagnostic:
        out.append("## Diagnostic\n")
        out.append(table(["subject", "symptom", "metric", "C3 term", "fleet-stack layer", "displaced cost",
                          "governance evidence"],
                         [[d.subject, d.symptom, d.metric, d.c3_term, d.layer, d.displaced_cost,
                           d.governance_evidence] for d in e.diagnostic]))
    if e.binding:
        out.append("## Binding constraints\n")
        out.append(table(["constraint", "layer", "activity", "limit", "price", "units", "price holds for limit in"],
                         [[b.name, b.layer, _fmt(b.activity), _fmt(b.limit), _fmt(b.shadow_price), b.price_in_words,
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
                           f"{j.goodput:.2%}", f"{j.checkpoint_loss:.2%}", f"{j.failure_loss:.2%}"] for j in e.jobs]))
        out.append(table(["job", "time over ideal: compute s", "communication s", "coordination s"],
                         [[j.job, _fmt(j.terms.compute_s), _fmt(j.terms.communication_s), _fmt(j.terms.coordination_s)]
                          for j in e.jobs]))
        out.append(table(["job", "runner-up", "cost difference", "why not"],
                         [[j.job, j.runner_up.description, _fmt(j.runner_up.cost_difference), j.runner_up.reason]
                          for j in e.jobs if j.runner_up]))
        if plot_name:
            out.append(f"![fleet-law breakdown per job]({plot_name})\n")
    for s in e.services:
        out.append(f"## Service {s.service} (binds: {s.terms.binding})\n")
        out.append(table(["population", "region", "rps", "SLO ms", "RTT ms", "nearest RTT ms", "prefill ms",
                          "decode ms", "collectives ms", "p99 queueing ms", "slack ms", "binds"],
                         [[r.population, r.region, _fmt(r.rps, ",.1f"), _fmt(r.slo_ms, ",.0f"), _fmt(r.rtt_ms, ",.1f"),
                           _fmt(r.nearest_rtt_ms, ",.1f"), _fmt(r.prefill_ms, ",.3g"), _fmt(r.decode_ms, ",.3g"),
                           _fmt(r.all_to_all_ms, ",.3g"), _fmt(r.queueing_ms, ",.3g"), _fmt(r.slack_ms, ",.3g"),
                           r.terms.binding] for r in s.routes]))
        out += [f"- {line}" for line in s.deciding]
        out.append("")
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
        out.append(f"- input sha256: `{g.input_sha256}`\n- solver: {g.solver} {g.solver_version}, options "
                   f"{g.options}\n")
        if g.margins:
            out.append(table(["family", "tightest row", "activity", "limit", "margin", "relative margin", "units"],
                             [[m.family, m.tightest, _fmt(m.activity), _fmt(m.limit), _fmt(m.margin),
                               "-" if m.relative_margin is None else f"{m.relative_margin:.2%}", m.units]
                              for m in g.margins]))
        if g.monitoring:
            out.append(table(["service", "region", "population", "group", "samples/window", "requests/window",
                              "sampling rate", "evaluator GPUs (needed)"],
                             [[c.service, c.region, c.population, c.group, c.samples_per_window,
                               _fmt(c.requests_per_window, ",.0f"), f"{c.sampling_rate:.3%}",
                               f"{c.evaluator_gpus:g} ({c.evaluator_gpus_needed:.2f})"] for c in g.monitoring]))
        else:
            out.append("No fairness monitoring is configured in this instance.\n")
    return "\n".join(out)


def write_report(path: str | Path, plan: Plan, explanation: Explanation) -> list[Path]:
    """Write the Markdown report (and its PNG beside it); returns the files written."""
    path = Path(path)
    png = breakdown_png(explanation)
    plot = path.with_name(path.stem + "-breakdown.png") if png else None
    written = []
    if png:
        write_bytes_atomic(plot, png)
        written.append(plot)
    write_text_atomic(path, render_markdown(plan, explanation, plot.name if plot else None))
    return [path] + written
