"""The plan in words and small tables: the terminal summary of `fleetopt solve`, and the same facts for the
Markdown report, so both print one number the same way (fleetopt.io.numbers). Lines fit 80 columns.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict

import typer

from fleetopt.io.numbers import clean, money, num, pct, whole
from fleetopt.plan.model import Binding, Plan

OBJECTIVES = {"cost_usd": "cost", "carbon_t": "carbon", "weighted_usd": "weighted cost"}


def price_text(price: float | None, words: str) -> str:
    """A shadow price with its meaning: '-$27,853 per extra replica ...' (words starting '$ per'), else
    '-1.2 t CO2e per ...'."""
    if words.startswith("$ "):
        return f"{money(price)} {words[2:]}"
    return f"{num(price)} {words}"


def megawatts(mw: float) -> str:
    """Power in a table: three decimals (0.939), a phone fleet's few watts in significant digits."""
    return f"{mw:.3f}" if abs(mw) >= 1e-3 or clean(mw) == 0 else num(mw, 2)


def objective_text(plan: Plan) -> str:
    """'cost $3,965,850' / 'carbon 289.4 t CO2e' / 'weighted cost $4,012,000'."""
    if plan.objective is None:
        return ""
    name = OBJECTIVES.get(plan.objective_name, plan.objective_name)
    value = f"{num(plan.objective)} t CO2e" if plan.objective_name == "carbon_t" else money(plan.objective)
    return f"{name} {value}"


def headline(plan: Plan) -> str:
    """'global-fleet: optimal plan, cost $3,965,850 (within 0.01% of the best bound)'."""
    text = f"{plan.provenance.instance}: {plan.status.replace('_', ' ')}"
    if plan.has_plan:
        text += " plan"
    if plan.objective is not None and plan.has_plan:
        text += f", {objective_text(plan)}"
        if plan.gap is not None:
            text += " (gap 0)" if clean(plan.gap) == 0 else f" (within {pct(plan.gap, 2)} of the best bound)"
    return text


def training_lines(plan: Plan) -> list[str]:
    """Three lines per job: where, how it runs, what it costs and what binds."""
    out = []
    for name, d in plan.training.items():
        out.append(f"  {name}: {d.region}, {whole(d.gpus)} x {d.accelerator}")
        out.append(f"    TPxPPxDP {d.tp}x{d.pp}x{d.dp}, sync group {d.sync_group}, checkpoint every "
                   f"{num(d.checkpoint_interval_min, 2)} min, MFU {pct(d.mfu, 0)}")
        out.append(f"    {whole(d.wall_hours)} h, {money(d.cost_usd)}, {num(d.carbon_t, 3)} t CO2e; "
                   f"{d.binding_term} binds")
        if d.hours_by_slice is not None:
            used = sum(1 for h in d.hours_by_slice if h > 0)
            out.append(f"    runs {whole(sum(d.hours_by_slice))} h in {used} of {len(d.hours_by_slice)} time slices")
    return out


def _replicas(n: int) -> str:
    return f"{n} replica" + ("" if n == 1 else "s")


def serving_lines(plan: Plan) -> list[str]:
    """Per service: its totals, each replica group (count, GPUs each) and where each population is served."""
    out = []
    for name, s in plan.serving.items():
        out.append(f"  {name}: {whole(s.gpus)} GPUs, {money(s.cost_usd)}, {num(s.carbon_t, 3)} t CO2e")
        for g in s.replicas:
            each = g.gpus // max(g.replicas, 1)
            out.append(f"    {_replicas(g.replicas)} of {each} GPU{'s' if each != 1 else ''} ({g.config}) on "
                       f"{g.accelerator} in {g.region}"
                       + ("" if g.replicas_by_slice is None else f" at peak, {min(g.replicas_by_slice)} least"))
        routes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for r in s.routing:
            routes[r.population][r.region] += r.rps
        for population, where in routes.items():
            out.append(f"    {population} -> " + ", ".join(f"{region} {num(rps, 3)}" for region, rps in where.items())
                       + " req/s")
        for m in s.monitoring:
            out.append(f"    monitored in {m.region}: {len(m.groups)} groups, {num(m.evaluator_gpus, 2)} evaluator GPU "
                       f"({m.accelerator})")
    return out


def evaluator_gpus(plan: Plan) -> dict[str, dict[str, float]]:
    """Evaluator GPUs (billed by the hour, so fractional) per region and accelerator."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in plan.serving.values():
        for m in s.monitoring:
            out[m.region][m.accelerator] += m.evaluator_gpus
    return out


def region_rows(plan: Plan) -> list[list[str]]:
    """One row per region and accelerator: [region, accelerator, GPUs for training and replicas, evaluator GPUs,
    power MW, cap MW, share of the cap]; the power columns on the region's first row only."""
    evaluators = evaluator_gpus(plan)
    rows = []
    for region, use in plan.totals.regions.items():
        cap = use.power_cap_mw
        power = [megawatts(use.power_mw), num(cap, 3) if cap is not None else "-",
                 pct(use.power_mw / cap) if cap else "-"]
        for i, (accel, n) in enumerate(use.gpus.items()):
            evals = evaluators[region].get(accel, 0.0)
            rows.append([region if i == 0 else "", accel, whole(n - evals), num(evals, 2) if evals else "",
                         *(power if i == 0 else ["", "", ""])])
    return rows


def gpu_note(plan: Plan) -> str | None:
    """How the GPU total counts the fractional fairness evaluators, or None when there are none."""
    evaluators = [m.evaluator_gpus for s in plan.serving.values() for m in s.monitoring]
    if not evaluators:
        return None
    rounded = sum(math.ceil(e - 1e-9) for e in evaluators)
    return (f"{whole(plan.totals.gpus - rounded)} for training and replicas + {rounded} for fairness evaluators "
            f"({num(sum(evaluators), 2)} GPU of work in {len(evaluators)} pipeline{'s' if len(evaluators) > 1 else ''}"
            ", billed by the hour, each rounded up to whole GPUs)")


def totals_lines(plan: Plan) -> list[str]:
    """The fleet's totals; the GPU count says how the fractional evaluators were counted."""
    tot = plan.totals
    lines = [f"Total: {money(tot.cost_usd)}, {num(tot.carbon_t, 4)} t CO2e, {num(tot.energy_mwh, 3)} MWh, "
             f"{whole(tot.gpus)} GPUs"]
    note = gpu_note(plan)
    if note:
        lines += textwrap.wrap("GPUs: " + note, 78, initial_indent="  ", subsequent_indent="  ")
    if tot.reserved_usd:   # reserved stock: in the total whether used or not
        lines += textwrap.wrap(f"Reserved: {money(tot.reserved_usd)} committed, replacing "
                               f"{money(tot.reserved_saving_usd or 0.0)} of on-demand rental", 78,
                               initial_indent="  ", subsequent_indent="  ")
    classes = [f"{r} {a}: " + ", ".join(f"{whole(n)} {c}" for c, n in use.items() if n)
               for r, u in tot.regions.items() for a, use in (u.gpus_by_class or {}).items() if any(use.values())]
    if classes:
        lines += textwrap.wrap("GPUs by class: " + "; ".join(classes), 78, initial_indent="  ",
                               subsequent_indent="  ")
    return lines


def binding_groups(binding: list[Binding], width: int = 78) -> list[str]:
    """Per binding family: one line with its rows' count and meaning, then the rows' keys (a single row with its
    activity and limit)."""
    by_family: dict[str, list[Binding]] = defaultdict(list)
    for b in binding:
        by_family[b.family].append(b)
    out = []
    for family, rows in by_family.items():
        if len(rows) == 1:
            b = rows[0]
            out.append(f"  {b.name}: {num(b.activity, 4, b.limit)} of {num(b.limit, 4)} {b.units}")
            continue
        out += textwrap.wrap(f"{family}, {len(rows)} rows: {rows[0].meaning}", width, initial_indent="  ",
                             subsequent_indent="    ")
        line = "   "
        for b in rows:
            key = " [" + ",".join(b.key) + "]"
            if len(line) + len(key) > width:
                out.append(line)
                line = "   "
            line += key
        out.append(line)
    return out


def region_table_lines(rows: list[list[str]]) -> list[str]:
    header = ["region", "accelerator", "GPUs", "evaluators", "MW", "cap MW", "of cap"]
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = "  " + "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*row).rstrip() for row in [header] + rows]


def fit(lines: list[str], width: int = 80) -> list[str]:
    """Wrap what a long name pushed past `width`, keeping the line's indent."""
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, width, subsequent_indent=indent + "  ") if len(line) > width else [line]
    return out


def plan_lines(plan: Plan) -> list[str]:
    return fit(_plan_lines(plan))


def _plan_lines(plan: Plan) -> list[str]:
    lines = [headline(plan)]
    if not plan.has_plan:
        explained = plan.explanation is not None and plan.explanation.infeasibility is not None
        if plan.detail and not explained and plan.detail.lower() != plan.status:
            lines.append(f"why: {plan.detail}")
        return lines
    if plan.training:
        lines += ["", "Training jobs"] + training_lines(plan)
    if plan.serving:
        lines += ["", "Serving services"] + serving_lines(plan)
    if plan.totals:
        lines += ["", "Regions: GPUs in use (evaluators billed by the hour) and power against the cap"]
        lines += region_table_lines(region_rows(plan))
        lines += [""] + totals_lines(plan)
    if plan.binding:
        lines += ["", "Binding constraints (fleetopt explain says why and what each is worth)"]
        lines += binding_groups(plan.binding)
    return lines


def print_plan(plan: Plan) -> None:
    for line in plan_lines(plan):
        typer.echo(line)
