"""`fleetopt verify` (being written)."""

from pathlib import Path

import typer


def verify(instance: Path = typer.Argument(..., help="instance file"), plan: Path = typer.Argument(..., help="plan JSON")):
    """(being written)"""
    typer.echo("not available yet", err=True)
    raise typer.Exit(1)
