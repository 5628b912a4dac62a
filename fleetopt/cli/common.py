"""What every command shares: bad input as `error:` lines and exit 2, warnings, the default instance.

Exit codes are fleetopt.errors' table: 0 a plan, 2 bad input, 3 infeasible, 4 no plan in time, 1 internal error.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import typer

from fleetopt.errors import ARGUMENT, EXIT_BAD_INPUT, InputError, Problem


def printed(show) -> bool:
    """Run `show()`, which prints; False when stdout's reader has left (`fleetopt solve ... | head`): stdout then
    points at /dev/null, so the command still writes the files it was asked for and exits as it would have, and
    Python's flush at exit has nothing to complain about."""
    try:
        show()
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        stdout_to_devnull()
        return False
    except SystemExit as leaving:   # rich and click end the process with exit 1 on a closed pipe
        if not closed_pipe(leaving):
            raise
        stdout_to_devnull()
        return False


def closed_pipe(leaving: SystemExit) -> bool:
    """Whether this exit is rich's or click's answer to stdout's reader having left."""
    return isinstance(leaving.__context__, BrokenPipeError)


def stdout_to_devnull() -> None:
    """Point the process's stdout at /dev/null (its reader has left)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def option_name(argument: str, renames: Mapping[str, str] = {}) -> str:
    """The option of a Python argument: `global_batch` -> `--global-batch`, unless renamed."""
    return renames.get(argument) or "--" + argument.replace("_", "-")


def problem_line(problem: Problem, renames: Mapping[str, str] = {}) -> str:
    """`error: FILE[:LINE]: KEY: message`, or `error: --option: message` for a bad argument (errors.ARGUMENT)."""
    if getattr(problem, "file", None) == ARGUMENT:   # an OutputError carries plain lines
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


def output_path(value: Path | None) -> Path | None:
    """Option callback: a file that can be written in an existing folder, checked before any solving."""
    return _checked_output(value, stream_ok=False)


def _checked_output(value: Path | None, stream_ok: bool) -> Path | None:
    from fleetopt.io.output import OutputError, check_output_path

    if value is not None:
        try:
            check_output_path(value, stream_ok=stream_ok)
        except OutputError as err:
            raise typer.BadParameter(str(err.problems[0])) from None
    return value


def output_or_stream(value: Path | None) -> Path | None:
    """Option callback of an output written in one piece (the plan JSON): a file, or an existing stream such as
    /dev/stdout (io/output.py), checked before any solving. (Typer reads a callback's parameters: one only.)"""
    return _checked_output(value, stream_ok=True)


def backend_name(value: str | None) -> str | None:
    """Option callback: one of the backends fleetopt has (their capabilities, not the solvers, are imported)."""
    from fleetopt.backends.capabilities import BACKENDS

    if value is not None and value not in BACKENDS:
        raise typer.BadParameter(f"'{value}'; expected one of {', '.join(BACKENDS)}")
    return value


def number_check(low: float, high: float = math.inf, *, open_low: bool = False, expected: str):
    """Option callback: a finite number in [low, high) (or (low, high) when `open_low`), else a usage error."""

    def check(value: float | None) -> float | None:
        if value is None:
            return value
        if not (math.isfinite(value) and (value > low if open_low else value >= low) and value < high):
            raise typer.BadParameter(f"{value:g}; expected {expected}")
        return value

    return check
