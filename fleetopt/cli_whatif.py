"""`fleetopt whatif` and `fleetopt pareto` (being written)."""

from pathlib import Path

import typer


def whatif(instance: Path = typer.Argument(..., help="instance file")):
    """(being written)"""
    typer.echo("not available yet", err=True)
    raise typer.Exit(1)


def pareto(instance: Path = typer.Argument(..., help="instance file")):
    """(being written)"""
    typer.echo("not available yet", err=True)
    raise typer.Exit(1)
