"""The Python API: load, enumerate, formulate, solve, extract. Each stage is timed for the plan's provenance.

    problem = build_problem(inst)                 # candidates + formulation (no solver yet)
    plan, result = solve_problem(problem, opts)   # a backend, then the Plan in the user's names
    plan = solve_instance(inst)                   # both in one call
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.candidates.monitoring import MonitoringTable, monitoring_requirements
from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.candidates.training import enumerate_training
from fleetopt.decompose import Backend, default_workers, solve_by_parts
from fleetopt.extract import binding_rows, monitoring_decisions, serving_decisions, totals, training_decisions
from fleetopt.formulation.families import build
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance
from fleetopt.plan import Plan, Provenance

BACKENDS = ("highs", "pyomo", "ortools")


def fleetopt_version() -> str:
    try:
        return metadata.version("fleetopt")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass
class Problem:
    """An instance with its candidate tables and formulation: everything a backend, explain or verify needs."""

    inst: Instance
    training: TrainingCandidates
    serving: ServingCandidates
    monitoring: MonitoringTable
    form: Formulation
    timing: dict[str, float] = field(default_factory=dict)

    def screening_problems(self) -> list[str]:
        """Reasons no plan can exist that are known before any solve: jobs left with no candidate (memory,
        deadline, inventory) and populations with no route (residency, SLO)."""
        reasons = [f"training job '{j}': {v.get('why', 'no feasible candidate')}"
                   for j, v in self.training.stats.items() if v.get("kept", 0) == 0]
        reasons += [f"service '{s}', population '{u}': {why}" for s, u, why in self.serving.unroutable]
        return reasons


def options_for(inst: Instance, *, backend: str | None = None, time_limit_s: float | None = None,
                mip_rel_gap: float | None = None, threads: int | None = None, seed: int | None = None,
                decompose: bool | None = None, verbose: bool = False) -> tuple[str, SolveOptions]:
    """The backend name and options: what the caller gave, else the instance's `solver:` block."""
    cfg = inst.solver

    def pick(given, default):
        return default if given is None else given

    return pick(backend, cfg.backend), SolveOptions(
        time_limit_s=pick(time_limit_s, cfg.time_limit_s), mip_rel_gap=pick(mip_rel_gap, cfg.mip_rel_gap),
        threads=pick(threads, cfg.threads), seed=pick(seed, cfg.seed), decompose=pick(decompose, cfg.decompose),
        verbose=verbose)


def build_problem(inst: Instance) -> Problem:
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    tc = enumerate_training(inst)
    sc = enumerate_serving(inst)
    mon = monitoring_requirements(inst, sc)
    timing["candidates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    form = build(inst, tc, sc, mon)
    timing["build"] = time.perf_counter() - t0
    return Problem(inst, tc, sc, mon, form, timing)


def run_backend(name: str, form: Formulation, options: SolveOptions) -> SolveResult:
    if form.n_cols == 0:  # nothing to decide (no job, no demand): the empty plan is optimal, whatever the backend
        return SolveResult(status="optimal", x=np.zeros(0), objective=0.0, bound=0.0, gap=0.0, solver=name,
                           solver_version="", detail="nothing to decide")
    if name == "highs":
        from fleetopt.backends import highs as backend
    elif name == "pyomo":
        from fleetopt.backends import pyomo_backend as backend
    elif name == "ortools":
        from fleetopt.backends import ortools_backend as backend
    else:
        raise ValueError(f"unknown backend '{name}'; expected one of {', '.join(BACKENDS)}")
    if not options.decompose:
        return backend.solve(form, options)
    # HiGHS releases the GIL while it solves, so parts run in threads; Pyomo and MathOpt models are built in
    # Python and are not known to be thread-safe. Pyomo's solvers may not take an absolute gap or node limit.
    parts = Backend(backend.solve, budgets=name != "pyomo",
                    workers=default_workers(options.threads) if name == "highs" else 1)
    return solve_by_parts(form, parts, options)


def solve_problem(problem: Problem, backend: str, options: SolveOptions) -> tuple[Plan, SolveResult | None]:
    """Solve a built problem and read the answer back in the user's names. The result is None when
    screening already shows that no plan exists (nothing was handed to a solver)."""
    inst, tc, sc, form = problem.inst, problem.training, problem.serving, problem.form
    timing = dict(problem.timing)
    provenance = Provenance(
        instance=inst.name, instance_file=inst.source, input_sha256=inst.digest, fleetopt_version=fleetopt_version(),
        solver=backend, solver_version="",
        options={"time_limit_s": options.time_limit_s, "mip_rel_gap": options.mip_rel_gap,
                 "threads": options.threads, "seed": options.seed, "decompose": options.decompose},
        model_size=form.summary(), timing_s=timing)
    stats = {j: dict(v) for j, v in tc.stats.items()}
    unroutable = [{"service": s, "population": u, "reason": why} for s, u, why in sc.unroutable]
    screened = problem.screening_problems()
    if screened:
        return Plan(status="infeasible", detail="; ".join(screened), objective_name=form.objective_name,
                    objective=None, bound=None, gap=None, unroutable=unroutable, candidates=stats,
                    provenance=provenance), None
    t0 = time.perf_counter()
    result = run_backend(backend, form, options)
    timing["solve"] = time.perf_counter() - t0
    provenance.solver_version = result.solver_version
    provenance.decomposition = result.decomposition
    plan = Plan(status=result.status, detail=result.detail, objective_name=form.objective_name,
                objective=result.objective, bound=result.bound, gap=result.gap, candidates=stats,
                provenance=provenance)
    if result.x is not None:
        t0 = time.perf_counter()
        plan.training = training_decisions(tc, result.x, form)
        plan.serving = serving_decisions(sc, result.x, form)
        monitoring_decisions(sc, problem.monitoring, result.x, form, plan.serving)
        plan.totals = totals(inst, plan.training, plan.serving)
        plan.binding = binding_rows(form, result.x)
        timing["extract"] = time.perf_counter() - t0
    plan.provenance.timing_s = timing
    return plan, result


def solve_instance(inst: Instance, *, backend: str | None = None, time_limit_s: float | None = None,
                   mip_rel_gap: float | None = None, threads: int | None = None, seed: int | None = None,
                   decompose: bool | None = None, verbose: bool = False) -> Plan:
    """Plan the fleet of `inst`. Options left as None come from the instance's `solver:` block."""
    name, options = options_for(inst, backend=backend, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                                threads=threads, seed=seed, decompose=decompose, verbose=verbose)
    plan, _ = solve_problem(build_problem(inst), name, options)
    return plan
