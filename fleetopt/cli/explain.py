"""`fleetopt explain INSTANCE PLAN [-o report.md]`: re-build the problem, fix the plan's decisions, explain."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetopt.cli.common import fail_input, printed
from fleetopt.errors import EXIT_BAD_INPUT, EXIT_INFEASIBLE, INFEASIBLE


def _echo(lines: list[str]) -> None:
    """Print `lines` wrapped to 80 columns, a wrapped line indented under its start."""
    from fleetopt.plan.terminal import fit

    for line in fit(lines):
        typer.echo(line)


def echo_explanation(e) -> None:
    """The explanation's headline lines on stdout (the report has the tables)."""
    from fleetopt.io.numbers import num, pct
    from fleetopt.plan.terminal import price_text

    lines = [f"first binding C3 term: {e.first_binding_term}"] if e.first_binding_term else []
    for b in e.binding:
        line = f"binding {b.name}: {num(b.activity, 4, b.limit)} of {num(b.limit)} {b.units}"
        if num(b.shadow_price or 0.0) != "0":
            line += f", price {price_text(b.shadow_price, b.price_in_words)}"
        lines.append(line)
    for j in e.jobs:
        t = j.terms
        lines.append(f"job {j.job}: {t.binding} binds (over ideal {num(t.ideal_s, 3)} s: compute "
                     f"{num(t.compute_s, 3)} s, communication {num(t.communication_s, 3)} s, coordination "
                     f"{num(t.coordination_s, 3)} s); goodput {pct(j.goodput)}")
        if j.runner_up:
            lines.append(f"  runner-up {j.runner_up.description}: {j.runner_up.reason}")
    for s in e.services:
        lines.append(f"service {s.service}: {s.terms.binding} binds")
        lines += [f"  {line}" for line in s.deciding]
    _echo(lines)
    echo_infeasibility(e)


def echo_change(plan) -> None:
    """A re-plan's change against the deployed plan, and what the change cost and cap keep from happening."""
    from fleetopt.explain.change import change_headline

    if plan.change is not None and plan.has_plan:
        e = plan.explanation
        _echo([change_headline(plan)] + [f"  {line}" for line in (e.change.lines if e and e.change else [])])


def echo_infeasibility(e) -> None:
    from fleetopt.explain.infeasible import infeasibility_lines

    if e.infeasibility is not None:
        _echo(infeasibility_lines(e.infeasibility))


def explain(instance: Path = typer.Argument(..., help="instance file"),
            plan: Path = typer.Argument(..., help="plan JSON written by `fleetopt solve -o`"),
            output: Path | None = typer.Option(None, "-o", "--output", help="write the Markdown report here"),
            models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use",
                                                  exists=True, file_okay=False),
            from_plan: Path | None = typer.Option(None, "--from", help="the deployed plan the plan was re-planned "
                                                  "from (overrides the instance's `current:`)")):
    """Explain PLAN against INSTANCE: binding constraints and prices, C3 terms, runner-ups, infeasibility."""
    from pydantic import ValidationError

    from fleetopt.api import build_problem, options_for
    from fleetopt.errors import InputError
    from fleetopt.explain.decisions import PlanMismatch, plan_to_x
    from fleetopt.explain.explainer import explain as explain_plan
    from fleetopt.explain.report import write_report
    from fleetopt.io.load import load_instance
    from fleetopt.io.output import check_output_path
    from fleetopt.plan.model import Plan

    try:
        if output is not None:
            check_output_path(output, "-o")
        inst = load_instance(instance, trusted_dirs=models_dir, current=from_plan)
    except InputError as err:
        fail_input(err)
    try:
        the_plan = Plan.model_validate_json(plan.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as err:
        typer.echo(f"error: {plan}: not a plan JSON ({str(err).splitlines()[0]})", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if the_plan.provenance.input_sha256 and the_plan.provenance.input_sha256 != inst.digest:
        typer.echo(f"warning: {plan} was solved from a different input (sha256 differs from {instance})", err=True)
    problem = build_problem(inst)
    _, options = options_for(inst)
    try:
        x = plan_to_x(problem, the_plan) if the_plan.has_plan else None
    except PlanMismatch as err:
        typer.echo(f"error: {plan}: {err}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    e = explain_plan(problem, the_plan, x, options)
    the_plan.explanation = e
    shown = printed(lambda: (echo_explanation(e), echo_change(the_plan)))   # the report is written either way
    if output is not None:
        try:
            written = write_report(output, the_plan, e, inst)
        except InputError as err:
            fail_input(err)
        if shown:
            printed(lambda: [typer.echo(f"wrote {path}") for path in written])
    raise typer.Exit(EXIT_INFEASIBLE if the_plan.status == INFEASIBLE else 0)
