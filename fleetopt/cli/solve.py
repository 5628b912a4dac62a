"""`fleetopt solve [INSTANCE]`: plan the fleet, print it, write the plan JSON and the report."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetopt.cli.common import fail_input as _fail_input, instance_path as _instance_path
from fleetopt.cli.common import backend_name, number_check, output_or_stream, output_path, printed
from fleetopt.cli.common import print_warnings as _print_warnings
from fleetopt.errors import INFEASIBLE, InputError


def executor_name(value: str | None) -> str | None:
    """Option callback: where solving in parts may run (pipeline/decompose.py EXECUTORS)."""
    from fleetopt.pipeline.decompose import EXECUTORS

    if value is not None and value not in EXECUTORS:
        raise typer.BadParameter(f"'{value}'; expected one of {', '.join(EXECUTORS)}")
    return value


def solve(instance: Path | None = typer.Argument(None, help="instance file; default: the shipped global-fleet"),
          backend: str | None = typer.Option(None, help="highs | pyomo | ortools", callback=backend_name),
          time_limit: float | None = typer.Option(None, "--time-limit", help="seconds",
                                                  callback=number_check(0, 1e9, open_low=True,
                                                                        expected="seconds > 0 and < 1e9")),
          gap: float | None = typer.Option(None, "--gap", help="relative MIP gap",
                                           callback=number_check(0, 1, expected="a fraction in [0, 1), 0.01 = 1%")),
          threads: int | None = typer.Option(None, help="solver threads (0 = automatic: parts on every core, "
                                                        "one HiGHS thread each)",
                                             callback=number_check(0, expected="0 (automatic) or more")),
          decompose: bool | None = typer.Option(None, "--decompose/--no-decompose",
                                                help="solve independent jobs and services apart (default: on)"),
          executor: str | None = typer.Option(None, help="where the parts run: threads | dask (default: threads)",
                                              callback=executor_name),
          scheduler: str | None = typer.Option(None, help="a Dask scheduler's address (implies --executor dask; "
                                               "default: a LocalCluster of --threads worker processes)"),
          output: Path | None = typer.Option(None, "-o", "--output", help="write the plan as JSON",
                                             callback=output_or_stream),
          report: Path | None = typer.Option(None, "--report", help="write a Markdown report (and its plot)",
                                             callback=output_path),
          plot: Path | None = typer.Option(None, "--plot", help="write the schedule plot (PNG): GPUs in use per "
                                           "region and time slice over the carbon intensity", callback=output_path),
          models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use",
                                                  exists=True, file_okay=False),
          from_plan: Path | None = typer.Option(None, "--from", help="re-plan from this deployed plan (a plan "
                                                "JSON; overrides the instance's `current:`)"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="no summary table")):
    """Plan the fleet described by INSTANCE and print the plan."""
    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.cli.explain import echo_change, echo_infeasibility
    from fleetopt.explain.explainer import explain as explain_plan
    from fleetopt.io.load import load_instance
    from fleetopt.io.output import write_text_atomic
    from fleetopt.plan.terminal import print_plan

    try:
        inst = load_instance(_instance_path(instance), trusted_dirs=models_dir, current=from_plan)
        _print_warnings(inst)
        name, options = options_for(inst, backend=backend, time_limit_s=time_limit, mip_rel_gap=gap, threads=threads,
                                    decompose=decompose, executor=executor, scheduler=scheduler)
        problem = build_problem(inst)
        plan, result = solve_problem(problem, name, options)
    except InputError as err:
        _fail_input(err)
    # the explanation travels in the plan JSON; infeasible plans get the IIS and the relaxation lines
    plan.explanation = explain_plan(problem, plan, result.x if result is not None else None, options)
    def show() -> None:
        if not quiet:
            print_plan(plan)
            echo_change(plan)
        if plan.status == INFEASIBLE:
            echo_infeasibility(plan.explanation)
    # a reader that leaves early (`| head`) costs the printout only: the files asked for are still written
    shown = printed(show)
    written = []
    try:
        if report is not None:
            from fleetopt.explain.report import write_report
            written += write_report(report, plan, plan.explanation, inst)
        if output is not None:
            write_text_atomic(output, plan.model_dump_json(indent=2), stream_ok=True)
            written.append(output)
        if plot is not None and plan.has_plan:
            from fleetopt.plan.plots import plot_schedule
            plot_schedule(plan, inst, plot)
            written.append(plot)
    except InputError as err:  # the folder vanished or filled up while solving
        _fail_input(err)
    if not quiet and shown:
        printed(lambda: [typer.echo(f"wrote {path}") for path in written])
    raise typer.Exit(plan.exit_code)

