"""The Python API: load, enumerate, formulate, solve, extract. Each stage is timed for the plan's provenance."""

from __future__ import annotations

import time
from importlib import metadata

from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.training import enumerate_training
from fleetopt.candidates.monitoring import monitoring_requirements
from fleetopt.extract import binding_rows, monitoring_decisions, serving_decisions, totals, training_decisions
from fleetopt.formulation.families import build
from fleetopt.io.schema import Instance
from fleetopt.plan import Plan, Provenance

BACKENDS = ("highs", "pyomo", "ortools")


def fleetopt_version() -> str:
    try:
        return metadata.version("fleetopt")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _run_backend(name: str, form, options: SolveOptions) -> SolveResult:
    if name == "highs":
        from fleetopt.backends import highs as backend
    elif name == "pyomo":
        from fleetopt.backends import pyomo_backend as backend
    elif name == "ortools":
        from fleetopt.backends import ortools_backend as backend
    else:
        raise ValueError(f"unknown backend '{name}'; expected one of {', '.join(BACKENDS)}")
    return backend.solve(form, options)


def solve_instance(inst: Instance, *, backend: str | None = None, time_limit_s: float | None = None,
                   mip_rel_gap: float | None = None, threads: int | None = None, seed: int | None = None,
                   verbose: bool = False) -> Plan:
    """Plan the fleet of `inst`. Options left as None come from the instance's `solver:` block."""
    cfg = inst.solver
    backend = backend or cfg.backend
    options = SolveOptions(time_limit_s=time_limit_s if time_limit_s is not None else cfg.time_limit_s,
                           mip_rel_gap=mip_rel_gap if mip_rel_gap is not None else cfg.mip_rel_gap,
                           threads=threads if threads is not None else cfg.threads,
                           seed=seed if seed is not None else cfg.seed, verbose=verbose)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    tc = enumerate_training(inst)
    sc = enumerate_serving(inst)
    mon = monitoring_requirements(inst, sc)
    timing["candidates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    form = build(inst, tc, sc, mon)
    timing["build"] = time.perf_counter() - t0
    stats = {j: dict(v) for j, v in tc.stats.items()}
    provenance = Provenance(
        instance=inst.name, instance_file=inst.source, input_sha256=inst.digest, fleetopt_version=fleetopt_version(),
        solver=backend, solver_version="", options={"time_limit_s": options.time_limit_s,
                                                    "mip_rel_gap": options.mip_rel_gap,
                                                    "threads": options.threads, "seed": options.seed},
        model_size=form.summary(), timing_s=timing)
    unroutable = [{"service": s, "population": u, "reason": why} for s, u, why in sc.unroutable]
    empty_jobs = [j for j, v in tc.stats.items() if v.get("kept", 0) == 0]
    if empty_jobs or unroutable:
        reasons = [f"training job '{j}': {tc.stats[j].get('why', 'no feasible candidate')}" for j in empty_jobs]
        reasons += [f"service '{u['service']}', population '{u['population']}': {u['reason']}" for u in unroutable]
        return Plan(status="infeasible", detail="; ".join(reasons), objective_name=form.objective_name,
                    objective=None, bound=None, gap=None, unroutable=unroutable, candidates=stats,
                    provenance=provenance)
    t0 = time.perf_counter()
    result = _run_backend(backend, form, options)
    timing["solve"] = time.perf_counter() - t0
    provenance.solver_version = result.solver_version
    plan = Plan(status=result.status, detail=result.detail, objective_name=form.objective_name,
                objective=result.objective, bound=result.bound, gap=result.gap, candidates=stats,
                provenance=provenance)
    if result.x is not None:
        t0 = time.perf_counter()
        plan.training = training_decisions(tc, result.x, form)
        plan.serving = serving_decisions(sc, result.x, form)
        monitoring_decisions(sc, mon, result.x, form, plan.serving)
        plan.totals = totals(inst, plan.training, plan.serving)
        plan.binding = binding_rows(form, result.x)
        timing["extract"] = time.perf_counter() - t0
    plan.provenance.timing_s = timing
    return plan
