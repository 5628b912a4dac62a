"""Bad option values on the command line: one `error: --option: what was expected` line each, exit 2.

The library raises errors naming its Python arguments (errors.bad_argument); a command prints them under the
option that sets the argument.
"""

from __future__ import annotations

from collections.abc import Mapping

import typer

from fleetopt.errors import ARGUMENT, InputError, Problem

EXIT_BAD_INPUT = 2


def option_name(argument: str, renames: Mapping[str, str] = {}) -> str:
    """The option of a Python argument: `global_batch` -> `--global-batch`, unless renamed."""
    return renames.get(argument) or "--" + argument.replace("_", "-")


def problem_line(problem: Problem, renames: Mapping[str, str] = {}) -> str:
    if problem.file == ARGUMENT:
        return f"error: {option_name(problem.key, renames)}: {problem.message}"
    return f"error: {problem}"


def fail_input(err: InputError, renames: Mapping[str, str] = {}) -> None:
    """Print each problem on one line, options under their own names, and exit 2."""
    for problem in err.problems:
        typer.echo(problem_line(problem, renames), err=True)
    raise typer.Exit(EXIT_BAD_INPUT)
