"""`fleetopt verify INSTANCE PLAN`: recompute every constraint of the instance from the physics and the plan's
decisions, independently of the formulation, and print each violation on one line.

Exit codes: 0 the plan holds, 3 it does not, 2 bad input (either file unreadable or invalid).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fleetopt.errors import EXIT_BAD_INPUT, EXIT_INFEASIBLE as EXIT_VIOLATED, EXIT_OK as EXIT_HOLDS


def verify(instance: Path = typer.Argument(..., help="instance file (YAML or JSON)"),
           plan: Path = typer.Argument(..., help="plan JSON, as written by `fleetopt solve -o`"),
           models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use",
                                                  exists=True, file_okay=False),
           output: Path | None = typer.Option(None, "-o", "--output", help="also write the report as JSON"),
           from_plan: Path | None = typer.Option(None, "--from", help="the deployed plan PLAN was re-planned from "
                                                 "(overrides the instance's `current:`)"),
           quiet: bool = typer.Option(False, "--quiet", "-q", help="only the summary line")):
    """Check PLAN against INSTANCE from the physics; one line per violation (family[key], amount, units)."""
    from fleetopt.errors import InputError
    from fleetopt.io.load import load_instance
    from fleetopt.io.output import check_output_path, write_text_atomic
    from fleetopt.verify import verify_plan
    from fleetopt.verify.io import read_plan

    try:
        if output is not None:
            check_output_path(output, "-o", stream_ok=True)
        inst = load_instance(instance, trusted_dirs=models_dir, current=from_plan)
        decisions = read_plan(plan)
    except InputError as err:   # not cli.common.fail_input: importing the cli package would pull in the pipeline
        for problem in err.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    report = verify_plan(inst, decisions)
    for note in report.notes:
        typer.echo(f"note: {plan}: {note}", err=True)
    if not quiet:
        for line in report.lines():
            typer.echo(line)
    typer.echo(report.summary(str(plan)))
    if output is not None:
        try:
            write_text_atomic(output, json.dumps(report.to_dict(), indent=2), stream_ok=True)
        except InputError as err:
            typer.echo(f"error: {err.problems[0]}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    raise typer.Exit(EXIT_HOLDS if report.holds else EXIT_VIOLATED)
