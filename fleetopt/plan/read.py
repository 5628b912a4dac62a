"""Reading a plan file as untrusted input: bounded, safe parsing, then the Plan schema; InputError (one line
naming the file) on anything else, so the CLI exits 2."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from fleetopt.errors import InputError, Problem
from fleetopt.io.errors_pydantic import problems_from
from fleetopt.io.yamlsafe import read_document
from fleetopt.plan.model import Plan


def read_plan(path: str | Path, *, decisions: bool = False) -> Plan:
    """The plan in `path`; with `decisions`, one whose status says it holds decisions (diff needs them)."""
    file = Path(path)
    if not file.is_file():
        raise InputError([Problem(str(file), "", "no such plan file")])
    data, lines = read_document(file)
    if not isinstance(data, dict):
        raise InputError([Problem(str(file), "", "expected a plan: a JSON object as `fleetopt solve -o` writes")])
    try:
        plan = Plan.model_validate(data)
    except ValidationError as err:
        raise InputError(problems_from(err, Plan, data, str(file), lines)[:1]) from None
    if decisions and not plan.has_plan:
        raise InputError([Problem(str(file), "status", f"the plan's status is '{plan.status}': it holds no "
                                  "decisions to compare")])
    return plan
