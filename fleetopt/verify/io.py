"""Reading a plan file as untrusted input: bounded, safe parsing, then the Plan schema; InputError on anything
else (the CLI exits 2)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from fleetopt.errors import InputError, Problem
from fleetopt.io.errors_pydantic import problems_from
from fleetopt.io.yamlsafe import read_document
from fleetopt.plan import Plan


def read_plan(path: str | Path) -> Plan:
    file = Path(path)
    data, lines = read_document(file)
    if not isinstance(data, dict):
        raise InputError([Problem(str(file), "", "expected a plan: a JSON object as `fleetopt solve -o` writes")])
    try:
        return Plan.model_validate(data)
    except ValidationError as err:
        raise InputError(problems_from(err, Plan, data, str(file), lines)) from None
