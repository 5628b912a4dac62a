"""The `fleetopt` command: thin wrappers that parse options, call the API and print.

Exit codes (README, "Exit codes"): 0 a plan, 2 bad input, 3 infeasible, 4 no plan in time, 1 internal error.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import typer

# each command's heavy imports are inside its function, so `fleetopt --help` stays fast
from fleetopt.cli_estimate import estimate
from fleetopt.cli_explain import explain
from fleetopt.cli_export import export
from fleetopt.cli_verify import verify
from fleetopt.cli_whatif import pareto, whatif
from fleetopt.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Plan an ML fleet: training parallelism, serving placement, power, carbon, monitoring.")

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_PLAN = 0, 1, 2, 3, 4
BACKENDS = ("highs", "pyomo", "ortools")  # fleetopt.api.BACKENDS, without importing the solvers


def _fail_input(err: InputError) -> None:
    for problem in err.problems:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def output_path(value: Path | None) -> Path | None:
    """Option callback: a file that can be written in an existing folder, checked before any solving."""
    from fleetopt.io.output import OutputError, check_output_path

    if value is not None:
        try:
            check_output_path(value)
        except OutputError as err:
            raise typer.BadParameter(str(err.problems[0])) from None
    return value


def backend_name(value: str | None) -> str | None:
    """Option callback: one of the backends fleetopt has."""
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


def _print_warnings(inst) -> None:
    """Implausible values (io/plausibility.py), one `warning: FILE[:LINE]: KEY: message` line each."""
    from fleetopt.io.plausibility import warnings_of

    for problem in warnings_of(inst):
        typer.echo(f"warning: {problem}", err=True)


def _instance_path(instance: Path | None) -> Path:
    from fleetopt.paths import default_instance

    return instance if instance is not None else default_instance()


@app.command()
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


@app.command()
def init(path: Path | None = typer.Argument(None, help="where to write the copy; default: ./NAME.yaml"),
         name: str = typer.Option("global-fleet", "--instance", help="a shipped instance, e.g. archetype-a or "
                                  "infeasible/inventory-shortfall"),
         force: bool = typer.Option(False, "--force", help="overwrite PATH if it exists")):
    """Copy a shipped instance (default: the reference global-fleet) into the current folder, to edit and plan."""
    from fleetopt.errors import did_you_mean
    from fleetopt.io.output import check_output_path, write_text_atomic
    from fleetopt.paths import shipped_dir

    root = shipped_dir("instances")
    known = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))
    if name.removesuffix(".yaml") not in known:
        typer.echo(f"error: --instance: unknown shipped instance '{name}'{did_you_mean(name, known)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    source = root / f"{name.removesuffix('.yaml')}.yaml"
    target = path if path is not None else Path(source.name)
    try:
        check_output_path(target)
        if target.exists() and not force:
            typer.echo(f"error: {target}: exists; pass --force to overwrite it", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        write_text_atomic(target, source.read_text(encoding="utf-8"))
    except InputError as err:
        _fail_input(err)
    typer.echo(f"{target}: a copy of the shipped {source.stem}; plan it with `fleetopt solve {target}`")


@app.command()
def schema():
    """Print the JSON Schema of the instance format (for editors)."""
    from fleetopt.io.schema import Instance

    typer.echo(json.dumps(Instance.model_json_schema(), indent=2))


@app.command()
def solve(instance: Path | None = typer.Argument(None, help="instance file; default: the shipped global-fleet"),
          backend: str | None = typer.Option(None, help="highs | pyomo | ortools", callback=backend_name),
          time_limit: float | None = typer.Option(None, "--time-limit", help="seconds",
                                                  callback=number_check(0, open_low=True, expected="seconds > 0")),
          gap: float | None = typer.Option(None, "--gap", help="relative MIP gap",
                                           callback=number_check(0, 1, expected="a fraction in [0, 1), 0.01 = 1%")),
          threads: int | None = typer.Option(None, help="solver threads (0 = solver default)",
                                             callback=number_check(0, expected="0 (solver default) or more")),
          decompose: bool | None = typer.Option(None, "--decompose/--no-decompose",
                                                help="solve independent jobs and services apart (default: on)"),
          output: Path | None = typer.Option(None, "-o", "--output", help="write the plan as JSON",
                                             callback=output_path),
          report: Path | None = typer.Option(None, "--report", help="write a Markdown report (and its plot)",
                                             callback=output_path),
          models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use",
                                                  exists=True, file_okay=False),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="no summary table")):
    """Plan the fleet described by INSTANCE and print the plan."""
    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.cli_explain import echo_infeasibility
    from fleetopt.explain.explainer import explain as explain_plan
    from fleetopt.explain.report import write_report
    from fleetopt.io.load import load_instance
    from fleetopt.io.output import write_text_atomic
    from fleetopt.report import print_plan

    try:
        inst = load_instance(_instance_path(instance), trusted_dirs=models_dir)
        _print_warnings(inst)
        name, options = options_for(inst, backend=backend, time_limit_s=time_limit, mip_rel_gap=gap, threads=threads,
                                    decompose=decompose)
        problem = build_problem(inst)
        plan, result = solve_problem(problem, name, options)
    except InputError as err:
        _fail_input(err)
    # the explanation travels in the plan JSON; infeasible plans get the IIS and the relaxation lines
    plan.explanation = explain_plan(problem, plan, result.x if result is not None else None, options)
    if not quiet:
        print_plan(plan)
    if plan.status == "infeasible":
        echo_infeasibility(plan.explanation)
    written = []
    try:
        if report is not None:
            written += write_report(report, plan, plan.explanation, inst)
        if output is not None:
            write_text_atomic(output, plan.model_dump_json(indent=2))
            written.append(output)
    except InputError as err:  # the folder vanished or filled up while solving
        _fail_input(err)
    if not quiet:
        for path in written:
            typer.echo(f"wrote {path}")
    raise typer.Exit(plan.exit_code)


app.command()(estimate)
app.command()(explain)
app.command()(whatif)
app.command()(pareto)
app.command()(verify)
app.command()(export)


def main() -> None:
    # typer raises click's exceptions, from its own copy of click in recent versions
    click = sys.modules[typer.BadParameter.__module__]
    try:
        code = app(standalone_mode=False, prog_name="fleetopt")
    except click.NoArgsIsHelpError as err:  # bare `fleetopt`: the help
        typer.echo(err.ctx.get_help() if err.ctx else str(err), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as err:  # a bad option or argument: one line, exit 2
        param = getattr(err, "param", None)
        if isinstance(err, click.BadParameter) and param is not None and not isinstance(err, click.MissingParameter):
            name = max(param.opts, key=len) if getattr(param, "opts", None) else param.name
            print(f"error: {name}: {err.message}", file=sys.stderr)
        else:
            print(f"error: {err.format_message()}", file=sys.stderr)
        sys.exit(err.exit_code)
    except getattr(click, "Abort", typer.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except InputError as err:  # raised outside a command's own handling
        for problem in err.problems:
            print(f"error: {problem}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
