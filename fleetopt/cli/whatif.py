"""`fleetopt whatif` (sweeps) and `fleetopt pareto` (cost against carbon). Heavy imports wait inside."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetopt.cli.common import printed
from fleetopt.errors import EXIT_INFEASIBLE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK

OPTION_OF = {"mip_rel_gap": "--gap", "time_limit_s": "--time-limit"}  # the library's arguments -> options


def _fail_input(err, results_option: str = "--output") -> None:
    from fleetopt.cli.common import fail_input

    fail_input(err, {**OPTION_OF, "results": results_option})


def _interrupted(results: Path | None, done: int | None = None) -> None:
    where = f" in {results}" if results else ""
    typer.echo(f"interrupted: every finished scenario is saved{where}; run the same command again to finish "
               "the rest", err=True)
    raise typer.Exit(EXIT_INTERRUPTED)


def _print_rows(frame, factors, title: str, results, max_rows: int = 60) -> None:
    from rich.console import Console

    from fleetopt.whatif.api import factor_column
    from fleetopt.whatif.tables import sweep_table

    console = Console()
    console.print(sweep_table(frame, factors, [factor_column(f.path) for f in factors], title, console.width,
                              max_rows))
    more = f"{len(frame) - max_rows} more rows and " if len(frame) > max_rows else ""
    typer.echo(f"{more}the decisions that changed: {results}")


def _solve_settings(backend, time_limit, gap, threads, seed):
    from fleetopt.whatif.run import SolveSettings

    return SolveSettings(backend=backend, time_limit_s=time_limit, mip_rel_gap=gap,
                         threads=1 if threads is None else threads, seed=seed)


def whatif(instance: Path = typer.Argument(..., help="instance file (YAML or JSON)"),
           set_: list[str] = typer.Option(..., "--set", help="PATH=VALUES: a comma list (20,40), a range "
                                          "FROM:TO:COUNT, a factor on the base value (x2, xFROM:TO:COUNT); repeat "
                                          "for more factors"),
           mode: str = typer.Option("grid", help="grid (every combination) | one-at-a-time (oat)"),
           output: Path | None = typer.Option(None, "-o", "--output", help="results file: .csv, .parquet or "
                                              ".jsonl (default: whatif-INSTANCE-HASH.csv); re-run to resume"),
           executor: str = typer.Option("local", help="local (process pool) | dask | sequential"),
           workers: int | None = typer.Option(None, help="parallel solves (default: the CPUs available)"),
           scheduler: str | None = typer.Option(None, help="--executor dask: an existing scheduler's address "
                                                "(default: start a LocalCluster)"),
           warm: bool = typer.Option(True, "--warm-start/--no-warm-start",
                                     help="start each solve from the nearest solved scenario's plan"),
           backend: str | None = typer.Option(None, help="highs | pyomo | ortools"),
           time_limit: float | None = typer.Option(None, "--time-limit", help="seconds per scenario"),
           gap: float | None = typer.Option(None, "--gap", help="relative MIP gap"),
           threads: int | None = typer.Option(None, help="solver threads per scenario (default 1)"),
           seed: int | None = typer.Option(None, help="solver random seed"),
           heatmap: Path | None = typer.Option(None, "--heatmap", help="write the binding-families heat map (PNG)"),
           models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use"),
           quiet: bool = typer.Option(False, "--quiet", "-q", help="no table at the end")):
    """Solve the base plan and every scenario of a sweep; one row per scenario, saved as each finishes."""
    from fleetopt.errors import InputError
    from fleetopt.whatif.api import default_results_name, resolve_mode, run_factors
    from fleetopt.whatif.scenario import read_base
    from fleetopt.whatif.spec import factors_from
    from fleetopt.whatif.store import frame_of

    try:
        base = read_base(instance, models_dir)
        factors = factors_from(set_)
        mode = resolve_mode(mode)
        results = output if output is not None else default_results_name(base, factors, mode)
        solve = _solve_settings(backend, time_limit, gap, threads, seed)
        run, columns = run_factors(base, factors, mode=mode, results=results, executor=executor, workers=workers,
                                   scheduler=scheduler, warm_start=warm, solve=solve, progress=True)
    except InputError as err:
        _fail_input(err)
    except KeyboardInterrupt:
        _interrupted(output)
    frame = frame_of(run.rows, columns)
    if not quiet:   # the heat map asked for is drawn even if stdout's reader has left
        printed(lambda: _print_rows(frame, factors, f"what-if: {base.file.name}, {len(frame)} scenarios ({mode})",
                                    results))
    typer.echo(f"{run.solved} solved now, {run.reused} already in {results}", err=True)
    if heatmap is not None:
        from fleetopt.whatif.plots import plot_binding_heatmap

        plot_binding_heatmap(frame, heatmap)
        typer.echo(f"heat map: {heatmap}", err=True)
    failed = frame[frame["status"] == "error"]
    if len(failed):
        typer.echo(f"error: {len(failed)} scenarios failed (not saved; a re-run retries them): "
                   f"{failed.iloc[0]['scenario']}: {failed.iloc[0]['detail']}", err=True)
        raise typer.Exit(EXIT_INTERNAL)
    raise typer.Exit(EXIT_OK)


def pareto(instance: Path = typer.Argument(..., help="instance file (YAML or JSON)"),
           points: int = typer.Option(9, "--points", help="carbon budgets between the two ends (2 to 1000)"),
           output: Path | None = typer.Option(None, "-o", "--output", help="write the front (.csv, .parquet or "
                                              ".jsonl)"),
           plot: Path | None = typer.Option(None, "--plot", help="write the front as a PNG"),
           results: Path | None = typer.Option(None, "--results", help="every solve, saved as it finishes "
                                               "(default: pareto-INSTANCE-runs.csv); re-run to resume"),
           executor: str = typer.Option("local", help="local (process pool) | dask | sequential"),
           workers: int | None = typer.Option(None, help="parallel solves (default: the CPUs available)"),
           scheduler: str | None = typer.Option(None, help="--executor dask: an existing scheduler's address"),
           warm: bool = typer.Option(True, "--warm-start/--no-warm-start"),
           backend: str | None = typer.Option(None, help="highs | pyomo | ortools"),
           time_limit: float | None = typer.Option(None, "--time-limit", help="seconds per solve"),
           gap: float | None = typer.Option(None, "--gap", help="relative MIP gap"),
           threads: int | None = typer.Option(None, help="solver threads per solve (default 1)"),
           seed: int | None = typer.Option(None, help="solver random seed"),
           models_dir: list[Path] = typer.Option([], "--models-dir", help="a folder model-card paths may use")):
    """Trace cost against carbon (epsilon-constraint method), mark the knee, optionally plot the front."""
    from fleetopt.errors import InputError
    from fleetopt.whatif.pareto import pareto_front
    from fleetopt.whatif.scenario import read_base
    from fleetopt.whatif.store import results_format

    try:
        if output is not None:
            results_format(output, "output")  # a wrong suffix fails now, not after the solves
        base = read_base(instance, models_dir)
        runs_file = results if results is not None else Path(f"pareto-{base.file.stem}-runs.csv")
        solve = _solve_settings(backend, time_limit, gap, threads, seed)
        found = pareto_front(base, points, results=runs_file, executor=executor, workers=workers,
                             scheduler=scheduler, warm_start=warm, solve=solve, progress=True)
    except InputError as err:
        _fail_input(err, "--results")
    except KeyboardInterrupt:
        _interrupted(results)
    front = found.front
    if not len(front):
        first = found.runs.iloc[0]
        typer.echo(f"no plan at any carbon budget: {first['status']}: {first['detail']}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    # the files asked for are written even if stdout's reader has left
    printed(lambda: (_print_front(front, base.file.name),
                     typer.echo(f"every solve, with the decisions that changed: {runs_file}")))
    if output is not None:
        _write_frame(front.drop(columns=["decisions"]), output)
        typer.echo(f"front: {output}", err=True)
    if plot is not None:
        from fleetopt.whatif.plots import plot_pareto

        plot_pareto(front, plot, runs=found.runs, title=f"Cost against carbon: {base.file.stem}")
        typer.echo(f"plot: {plot}", err=True)
    raise typer.Exit(EXIT_OK)


def _print_front(front, name: str) -> None:
    from rich.console import Console

    from fleetopt.whatif.tables import front_table

    console = Console()
    console.print(front_table(front, f"Pareto front: {name} (cost against carbon)", console.width))


def _write_frame(frame, path: Path) -> None:
    import io

    from fleetopt.io.output import write_bytes_atomic, write_text_atomic
    from fleetopt.whatif.store import results_format

    kind = results_format(path)
    if kind == "csv":
        write_text_atomic(path, frame.to_csv(index=False))
    elif kind == "jsonl":
        write_text_atomic(path, frame.to_json(orient="records", lines=True))
    else:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_bytes_atomic(path, buf.getvalue())
