"""`fleetopt export`: the formulation as an MPS file, so any other solver can take the same model."""

from __future__ import annotations

from pathlib import Path

import typer


def export(instance: Path = typer.Argument(..., help="instance file (YAML or JSON)"),
           mps: Path = typer.Option(..., "--mps", help="write the MILP here (free MPS, rows named family[key])"),
           models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use",
                                                  exists=True, file_okay=False)):
    """Write the instance's MILP as an MPS file with the user's names on rows and columns."""
    from fleetopt.api import build_problem
    from fleetopt.backends.mps import write_mps
    from fleetopt.cli.common import fail_input as _fail_input
    from fleetopt.errors import InputError
    from fleetopt.io.load import load_instance
    from fleetopt.io.output import check_output_path

    try:
        check_output_path(mps, "--mps")
        problem = build_problem(load_instance(instance, trusted_dirs=models_dir))
    except InputError as err:
        _fail_input(err)
    try:
        write_mps(problem.form, mps)
    except InputError as err:
        _fail_input(err)
    size = problem.form.summary()
    typer.echo(f"{mps}: {size['columns']:,} columns, {size['rows']:,} rows, {size['nonzeros']:,} nonzeros")
