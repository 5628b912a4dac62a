"""Errors that carry the user's names (the file, the key path and what was expected), the statuses a solve ends
in and the exit code of each. The bottom layer: every other module may import it; it imports none of them."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


# What a solve ends in, and the exit code each status gives. The one vocabulary for backends, plans, the CLI
# and the what-if store (as linopy/constants.py keeps SolverStatus and TerminationCondition in one place).
OPTIMAL, FEASIBLE, INFEASIBLE, UNBOUNDED, NO_PLAN_IN_TIME, ERROR = (
    "optimal", "feasible", "infeasible", "unbounded", "no_plan_in_time", "error")
STATUSES = (OPTIMAL, FEASIBLE, INFEASIBLE, UNBOUNDED, NO_PLAN_IN_TIME, ERROR)
WITH_PLAN = (OPTIMAL, FEASIBLE)   # a plan to act on: optimal, or feasible within the gap at a time limit
Status = Literal[STATUSES]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE: stdout's reader left mid-print (commands that write files finish them first)
EXIT_CODES = {OPTIMAL: EXIT_OK, FEASIBLE: EXIT_OK, INFEASIBLE: EXIT_INFEASIBLE, UNBOUNDED: EXIT_INTERNAL,
              NO_PLAN_IN_TIME: EXIT_NO_PLAN, ERROR: EXIT_INTERNAL}


@dataclass(frozen=True)
class Problem:
    """One problem in one input file, printed as a single line."""

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = self.key or "(top level)"
        return f"{where}: {key}: {self.message}"


class InputError(Exception):
    """Bad input: one or more problems, each naming file and key. The CLI exits 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


ARGUMENT = "argument"  # Problem.file of a bad Python argument; the CLI names its option instead


def bad_argument(name: str, message: str) -> InputError:
    """A bad value of the Python argument `name` (`argument: gpus: must be ...`); a command prints it under
    its option's name (`--gpus: must be ...`)."""
    return InputError([Problem(ARGUMENT, name, message)])


def check_whole(name: str, value, low: int, high: int | None = None) -> None:
    """`value` must be a whole number in [low, high] (bool refused)."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or value < low or (high is not None and value > high):
        span = f"from {low:,} to {high:,}" if high is not None else f">= {low:,}"
        raise bad_argument(name, f"expected a whole number {span}, got {value!r}")


def check_number(name: str, value, low: float, high: float | None = None, *, low_open: bool = False) -> None:
    """`value` must be a finite number above low (at least low unless low_open) and at most high."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < low or (low_open and value == low) or (high is not None and value > high):
        span = (f"> {low:g}" if low_open else f">= {low:g}") if high is None else \
            f"{'above' if low_open else 'from'} {low:g} to {high:g}"
        raise bad_argument(name, f"expected a finite number {span}, got {value!r}")


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name a typo most likely meant, or None."""
    known = list(known)
    folded = {k.lower(): k for k in known}
    if str(name).lower() in folded:
        return folded[str(name).lower()]
    found = difflib.get_close_matches(str(name).lower(), list(folded), n=1, cutoff=0.6)
    return folded[found[0]] if found else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    guess = closest(name, known)
    if guess:
        return f"; did you mean '{guess}'?"
    if known and len(known) <= 8:
        return f"; known: {', '.join(known)}"
    return ""

