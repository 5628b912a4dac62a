"""`fleetopt diff OLD NEW [--json]`: what moves, starts and stops between two plans (plan/diff.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fleetopt.cli.common import fail_input


def diff(old: Path = typer.Argument(..., help="the plan as deployed (JSON written by `fleetopt solve -o`)"),
         new: Path = typer.Argument(..., help="the plan to compare with it"),
         as_json: bool = typer.Option(False, "--json", help="the diff as JSON, for pipelines")):
    """Per job and service what moves, starts, stops or changes from OLD to NEW, with GPUs, cost and carbon
    deltas and the GPUs whose assignment changes."""
    from fleetopt.errors import InputError
    from fleetopt.plan.diff import diff_lines, diff_plans
    from fleetopt.plan.read import read_plan
    from fleetopt.plan.terminal import fit

    try:
        a, b = read_plan(old, decisions=True), read_plan(new, decisions=True)
    except InputError as err:
        fail_input(err)
    result = diff_plans(a, b, str(old), str(new))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    for line in fit(diff_lines(result)):
        typer.echo(line)
