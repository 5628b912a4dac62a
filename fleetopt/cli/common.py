"""What every command shares: bad input as `error:` lines and exit 2, warnings, the default instance.

Exit codes are fleetopt.errors' table: 0 a plan, 2 bad input, 3 infeasible, 4 no plan in time, 1 internal error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import typer

from fleetopt.errors import ARGUMENT, EXIT_BAD_INPUT, InputError, Problem


def option_name(argument: str, renames: Mapping[str, str] = {}) -> str:
    """The option of a Python argument: `global_batch` -> `--global-batch`, unless renamed."""
    return renames.get(argument) or "--" + argument.replace("_", "-")


def problem_line(problem: Problem, renames: Mapping[str, str] = {}) -> str:
    """`error: FILE[:LINE]: KEY: message`, or `error: --option: message` for a bad argument (errors.ARGUMENT)."""
    if problem.file == ARGUMENT:
        return f"error: {option_name(problem.key, renames)}: {problem.message}"
    return f"error: {problem}"


def fail_input(err: InputError, renames: Mapping[str, str] = {}) -> None:
    """One line per problem on stderr, options under their own names, then exit 2 (never a traceback)."""
    for problem in err.problems:
        typer.echo(problem_line(problem, renames), err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def print_warnings(inst) -> None:
    """Implausible values (io/plausibility.py), one `warning: FILE[:LINE]: KEY: message` line each."""
    from fleetopt.io.plausibility import warnings_of

    for problem in warnings_of(inst):
        typer.echo(f"warning: {problem}", err=True)


def instance_path(instance: Path | None) -> Path:
    from fleetopt.paths import default_instance

    return instance if instance is not None else default_instance()
