"""`fleetopt.sweep(...)`: a what-if sweep from Python, one DataFrame row per scenario (the base plan first).

    df = fleetopt.sweep("instances/global-fleet.yaml", {"policy.carbon_budget_t": "150:300:4"},
                        results="budget.csv")
    df[["scenario", "status", "cost_usd", "carbon_t", "displaced_cost_usd", "binding", "changed"]]
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fleetopt.errors import InputError, Problem, bad_argument
from fleetopt.whatif.executors import check_executor
from fleetopt.whatif.run import Job, SolveSettings, SweepRun, plan_jobs, run_sweep
from fleetopt.whatif.scenario import Base, base_from_instance, check_settings, read_base
from fleetopt.whatif.spec import GRID, MODES, ONE_AT_A_TIME, Factor, factors_from, scenarios
from fleetopt.whatif.store import KEY, Columns, MemoryStore, ResultStore, frame_of

RESULT_COLUMNS: Columns = {
    "status": "str", "objective": "num", "cost_usd": "num", "carbon_t": "num", "gap": "num",
    "displaced_cost_usd": "num", "displaced_carbon_t": "num", "energy_mwh": "num", "gpus": "num",
    "binding": "str", "changed": "str", "decisions": "str", "detail": "str", "warm_start": "bool", "solve_s": "num",
}
PROGRESS_WIDTH = 80
MODE_ALIASES = {"grid": GRID, "oat": ONE_AT_A_TIME, "one-at-a-time": ONE_AT_A_TIME, "one_at_a_time": ONE_AT_A_TIME}


def factor_column(path: str) -> str:
    """A factor's column is its path, unless that is already a result column's name (e.g. `objective`)."""
    return f"set:{path}" if path in RESULT_COLUMNS or path in (KEY, "scenario") else path


def columns_for(factors: Sequence[Factor]) -> Columns:
    cols: Columns = {KEY: "str", "scenario": "str"}
    for f in factors:
        cols[factor_column(f.path)] = "num" if f.numeric else "text"
    return cols | RESULT_COLUMNS


def factor_values(job: Job) -> dict[str, Any]:
    return {factor_column(s.path): s.shown for s in job.settings}


def as_base(instance, models_dir: Sequence[str | Path] = ()) -> Base:
    if isinstance(instance, Base):
        return instance
    if hasattr(instance, "regions"):  # an Instance already loaded
        return base_from_instance(instance)
    return read_base(instance, models_dir)


def resolve_mode(mode: str) -> str:
    found = MODE_ALIASES.get(str(mode).lower())
    if found is None:
        raise bad_argument("mode", f"unknown mode {mode!r}; expected {' | '.join(MODES)} (or oat)")
    return found


def check_factors(base: Base, factors: Sequence[Factor]) -> None:
    """Every value of every factor, alone on the base, must validate: bad input stops the sweep before it
    starts (combinations a grid makes are checked when they run)."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for f in factors:
        for s in f.settings:
            for p in check_settings(base, (s,)):
                if (f.path, p.message) not in seen:  # a wrong path: once, not once per value
                    seen.add((f.path, p.message))
                    problems.append(p)
    if problems:
        raise InputError(problems)


def default_results_name(base: Base, factors: Sequence[Factor], mode: str) -> Path:
    spec = "|".join(f"{f.path}={[str(s) for s in f.settings]}" for f in factors) + mode
    return Path(f"whatif-{base.file.stem}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}.csv")


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool = True, title: str = "what-if"):
    """Progress on stderr: a rich bar on a terminal, else one line per finished scenario (`what-if: scenario
    3/17 done (12 s): policy.carbon_budget_t=228.6: optimal`), so piped output shows life. Yields the sweep's
    on_row callback."""
    import sys
    import time

    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    console = Console(stderr=True)
    terminal = console.is_terminal
    bar = Progress(TextColumn("[bold]{task.fields[title]}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"),
                   console=console, disable=not (enabled and terminal))
    started = time.monotonic()
    if enabled and not terminal:
        print(f"{title}: {total} scenarios, a line as each finishes", file=sys.stderr, flush=True)
    with bar:
        task = bar.add_task("", total=total, title=title)

        def on_row(row: dict, done: int, _total: int) -> None:
            bar.update(task, completed=done, description=f"{row.get('scenario', '')[:48]}: {row.get('status')}")
            if enabled and not terminal:
                head = f"{title}: scenario {done}/{total} done ({time.monotonic() - started:.0f} s): "
                tail = f": {row.get('status')}"
                name = str(row.get("scenario", ""))
                room = max(8, PROGRESS_WIDTH - len(head) - len(tail))
                name = name if len(name) <= room else name[:room - 3] + "..."
                print(head + name + tail, file=sys.stderr, flush=True)

        yield on_row


def run_factors(base: Base, factors: Sequence[Factor], *, mode: str = GRID, results: str | Path | None = None,
                executor: str = "local", workers: int | None = None, scheduler: str | None = None,
                warm_start: bool = True, solve: SolveSettings = SolveSettings(),
                progress: bool = False) -> tuple[SweepRun, Columns]:
    """The sweep behind both `fleetopt whatif` and `fleetopt.sweep`."""
    mode = resolve_mode(mode)
    check_executor(executor, workers)
    check_factors(base, factors)
    jobs = plan_jobs(base, scenarios(factors, mode), solve)
    columns = columns_for(factors)
    store = ResultStore(results, columns) if results is not None else MemoryStore(columns)
    with progress_bar(len(jobs), progress) as on_row:
        run = run_sweep(base, jobs, store, factors=factors, solve=solve, executor=executor, workers=workers,
                        scheduler=scheduler, warm_start=warm_start, on_row=on_row, extra=factor_values)
    return run, columns


def sweep(instance, settings: Mapping[str, Any] | Sequence[str], *, mode: str = GRID,
          results: str | Path | None = None, executor: str = "local", workers: int | None = None,
          scheduler: str | None = None, warm_start: bool = True, backend: str | None = None,
          time_limit_s: float | None = None, mip_rel_gap: float | None = None, threads: int | None = 1,
          seed: int | None = None, progress: bool = False, models_dir: Sequence[str | Path] = ()):
    """Solve the base instance and every scenario of a what-if sweep; a pandas DataFrame, one row per
    scenario (the base first): its settings, status, objective, cost, carbon, gap, the displaced cost and
    carbon against the base plan, the binding constraint families and the key decisions that changed.

    instance: a path or a loaded Instance. settings: {path: values} (a VALUES string such as "100:400:4" or
    "x1,x2", or a list of values) or ["PATH=VALUES", ...]. mode: "grid" or "one-at-a-time". results: a .csv,
    .parquet or .jsonl file written as each scenario finishes; a re-run resumes it. executor: "local" (process
    pool), "dask" (a LocalCluster, or `scheduler` = an address) or "sequential". From a script without
    `if __name__ == "__main__":` local workers are forked rather than spawned (spawned ones would run the
    script again), or, once a solve has run in this process, the scenarios are solved here one at a time; a
    one-line note on stderr says which (pipeline/start_method.py). Bad arguments raise InputError naming them."""
    base = as_base(instance, models_dir)
    factors = factors_from(settings)
    solve = SolveSettings(backend=backend, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, threads=threads,
                          seed=seed)
    run, columns = run_factors(base, factors, mode=mode, results=results, executor=executor, workers=workers,
                               scheduler=scheduler, warm_start=warm_start, solve=solve, progress=progress)
    frame = frame_of(run.rows, columns)
    frame.attrs.update(results=str(results) if results is not None else None, solved=run.solved,
                       reused=run.reused)
    return frame
