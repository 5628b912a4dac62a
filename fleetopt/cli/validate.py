"""`fleetopt validate INSTANCE` (one line per problem) and `fleetopt schema` (the instance format for editors)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fleetopt.cli.common import fail_input as _fail_input, print_warnings as _print_warnings
from fleetopt.errors import InputError


def validate(instance: Path = typer.Argument(..., help="instance file (YAML or JSON)"),
             models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use",
                                                  exists=True, file_okay=False)):
    """Check an instance file; print one line per problem (exit 2) or a short summary."""
    from fleetopt.io.load import load_instance

    try:
        inst = load_instance(instance, trusted_dirs=models_dir)
    except InputError as err:
        _fail_input(err)
    _print_warnings(inst)
    gpus = sum(g.count for r in inst.regions.values() for g in r.gpus.values())
    typer.echo(f"{instance}: valid: {len(inst.regions)} regions, {gpus:,} GPUs, {len(inst.training)} training jobs, "
               f"{len(inst.serving)} serving services, {len(inst.populations)} populations")


def schema():
    """Print the JSON Schema of the instance format (for editors)."""
    from fleetopt.io.schema import Instance

    typer.echo(json.dumps(Instance.model_json_schema(), indent=2))
