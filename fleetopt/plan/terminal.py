"""The terminal summary of a plan (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fleetopt.errors import WITH_PLAN
from fleetopt.plan.model import Plan


def _money(x: float) -> str:
    return f"${x:,.0f}"


def print_plan(plan: Plan, console: Console | None = None) -> None:
    # a pipe or a file gets the full table instead of columns cut to 80 characters
    console = console or Console(width=None if Console().is_terminal else 160)
    prov = plan.provenance
    head = f"[bold]{prov.instance}[/bold]: {plan.status}"
    if plan.objective is not None:
        head += f", {plan.objective_name} = {plan.objective:,.2f}"
    if plan.gap is not None and plan.status in WITH_PLAN:
        head += f" (gap {plan.gap:.2e})"
    console.print(head)
    if not plan.has_plan:
        # an infeasible plan's diagnosis prints its own why lines, in the rows' names, not a solver status
        if plan.detail and not (plan.explanation and plan.explanation.infeasibility):
            console.print(f"[red]why:[/red] {plan.detail}")
        return
    if plan.training:
        t = Table(title="Training jobs", title_justify="left")
        for col in ("job", "region", "accelerator", "GPUs", "TPxPPxDP", "sync group", "ckpt min", "MFU",
                    "wall h", "binds", "cost", "tCO2e"):
            t.add_column(col, justify="right" if col not in ("job", "region", "accelerator", "binds") else "left")
        for name, d in plan.training.items():
            t.add_row(name, d.region, d.accelerator, f"{d.gpus:,}", f"{d.tp}x{d.pp}x{d.dp}", str(d.sync_group),
                      f"{d.checkpoint_interval_min:.0f}", f"{d.mfu:.0%}", f"{d.wall_hours:,.0f}",
                      d.binding_term, _money(d.cost_usd), f"{d.carbon_t:,.1f}")
        console.print(t)
    if plan.serving:
        t = Table(title="Serving services", title_justify="left")
        for col in ("service", "replicas (region/accelerator/config x n)", "routing (population -> region rps)",
                    "GPUs", "cost", "tCO2e"):
            t.add_column(col, justify="right" if col in ("GPUs", "cost", "tCO2e") else "left")
        for name, s in plan.serving.items():
            reps = "\n".join(f"{g.region}/{g.accelerator}/{g.config} x{g.replicas}" for g in s.replicas)
            routes = "\n".join(f"{r.population} -> {r.region} {r.rps:,.0f}" for r in s.routing)
            t.add_row(name, reps, routes, f"{s.gpus:,}", _money(s.cost_usd), f"{s.carbon_t:,.1f}")
        console.print(t)
    if plan.totals:
        tot = plan.totals
        t = Table(title="Regions", title_justify="left")
        for col in ("region", "GPUs in use", "power MW", "cap MW"):
            t.add_column(col, justify="left" if col == "region" else "right")
        for r, u in tot.regions.items():
            gpus = ", ".join(f"{a} {n:,.0f}" for a, n in u.gpus.items())
            cap = f"{u.power_cap_mw:g}" if u.power_cap_mw is not None else "-"
            t.add_row(r, gpus, f"{u.power_mw:.2f}", cap)
        console.print(t)
        console.print(f"Total: {_money(tot.cost_usd)}, {tot.carbon_t:,.1f} t CO2e, {tot.energy_mwh:,.0f} MWh, "
                      f"{tot.gpus:,} GPUs")
    if plan.binding:
        console.print("Binding constraints: " + ", ".join(b.name for b in plan.binding))
