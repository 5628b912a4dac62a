"""What every command shares: bad input as `error:` lines and exit 2, warnings, the default instance.

Exit codes are fleetopt.errors' table: 0 a plan, 2 bad input, 3 infeasible, 4 no plan in time, 1 internal error.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fleetopt.errors import EXIT_BAD_INPUT, InputError


def fail_input(err: InputError) -> None:
    """One `error: FILE[:LINE]: KEY: message` line per problem on stderr, then exit 2 (never a traceback)."""
    for problem in err.problems:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def print_warnings(inst) -> None:
    """Implausible values (io/plausibility.py), one `warning: FILE[:LINE]: KEY: message` line each."""
    from fleetopt.io.plausibility import warnings_of

    for problem in warnings_of(inst):
        typer.echo(f"warning: {problem}", err=True)


def instance_path(instance: Path | None) -> Path:
    from fleetopt.paths import default_instance

    return instance if instance is not None else default_instance()
