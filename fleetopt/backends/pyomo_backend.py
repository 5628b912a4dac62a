"""Pyomo: the formulation translated into a ConcreteModel with one named component per block and family.

`build_model(form)` gives `model.train_choice[job, candidate]`, `model.replicas[...]`, `model.flow[...]`, one
indexed Constraint per family (`model.power_cap['us-east']`, `model.demand['chat', 'eu']`, ...) and
`model.objective`; indices are the formulation's keys as strings (one-part keys become plain strings, as Pyomo
flattens 1-tuples). A row with no variables stays in its family as Constraint.Feasible or Constraint.Infeasible.

Adding your own constraints: `solve(form, options, extend=f)` calls `f(model)` before solving, e.g.

    def at_most_two_regions_for_chat(model):
        model.my_cap = pyo.Constraint(expr=sum(model.replicas[k] for k in model.replicas if k[0] == "chat") <= 40)

or take `build_model(form)`, change it, and solve it yourself (`column_vars` maps it back to column order).
The default solver is HiGHS through pyomo.contrib.solver (`SolverFactory('highs')`); `options.pyomo_solver` names
any other Pyomo solver, new interface (pyomo.contrib.solver) first, else the legacy `pyo.SolverFactory`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from fleetopt.errors import ERROR, FEASIBLE, INFEASIBLE, NO_PLAN_IN_TIME, OPTIMAL, UNBOUNDED
from fleetopt.backends.highs import pool_threads
from fleetopt.backends.result import SolveOptions, SolveResult, relative_gap
from fleetopt.formulation.model import Formulation

# Seed option per new-interface solver (time limit, gap and threads are common config fields there).
_CONTRIB_SEED_OPTION = {"highs": "random_seed", "gurobi_direct": "Seed", "gurobi_persistent": "Seed",
                        "gurobi_direct_minlp": "Seed", "scip_direct": "randomization/randomseedshift",
                        "scip_persistent": "randomization/randomseedshift"}

# Legacy solvers take solver-specific option names: (time limit, relative gap, threads, seed); None = not mapped.
_LEGACY_OPTION_NAMES = {
    "appsi_highs": ("time_limit", "mip_rel_gap", "threads", "random_seed"),
    "glpk": ("tmlim", "mipgap", None, None),
    "cbc": ("sec", "ratioGap", "threads", "randomCbcSeed"),
    "appsi_cbc": ("sec", "ratioGap", "threads", "randomCbcSeed"),
    "gurobi": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "appsi_gurobi": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "gurobi_direct_v2": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "cplex": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "cplex_direct": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "cplex_persistent": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "appsi_cplex": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "scip": ("limits/time", "limits/gap", None, "randomization/randomseedshift"),
}


# ---------------------------------------------------------------- model


def _pyomo_keys(name: str, keys: list[tuple]) -> list[tuple]:
    index = [tuple(str(part) for part in key) for key in keys]
    if len(set(index)) != len(index):
        raise ValueError(f"'{name}' has repeated keys; Pyomo needs one key per variable or row")
    return index


def _domain(block, pyo):
    nonnegative = bool(np.all(block.lb >= 0))
    if block.integer:
        if nonnegative and np.all(block.ub <= 1):
            return pyo.Binary
        return pyo.NonNegativeIntegers if nonnegative else pyo.Integers
    return pyo.NonNegativeReals if nonnegative else pyo.Reals


def _bound(value: float):
    return float(value) if math.isfinite(value) else None


def _add_component(model, name: str, component) -> None:
    if model.component(name) is not None or hasattr(model, name):
        raise ValueError(f"'{name}' clashes with an existing Pyomo model attribute")
    model.add_component(name, component)


def build_model(form: Formulation):
    """The formulation as a pyo.ConcreteModel: a Var per block, a Constraint per family, `objective` (minimize)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression

    model = pyo.ConcreteModel(name=form.objective_name)
    columns: list = []
    for block in form.blocks.values():
        index = _pyomo_keys(block.name, block.keys)
        bounds = dict(zip(index, zip(map(_bound, block.lb.tolist()), map(_bound, block.ub.tolist()))))
        var = pyo.Var(index, domain=_domain(block, pyo), bounds=lambda m, *k, b=bounds: b[k], dense=True)
        _add_component(model, block.name, var)
        columns.extend(var.values())   # insertion order = the block's key order = column order

    a = form.matrix()
    indptr, indices, data = a.indptr.tolist(), a.indices.tolist(), a.data.tolist()
    lower, upper = form.row_bounds()
    for fam in form.families.values():
        con = pyo.Constraint(_pyomo_keys(fam.name, fam.keys))
        _add_component(model, fam.name, con)
        for local, key in enumerate(con.index_set()):
            row = fam.start + local
            begin, end = indptr[row], indptr[row + 1]
            lo, hi = float(lower[row]), float(upper[row])
            if begin == end:   # no variables: the row holds or fails on its bounds alone
                con[key] = pyo.Constraint.Feasible if lo <= 0.0 <= hi else pyo.Constraint.Infeasible
                continue
            expr = LinearExpression(linear_coefs=data[begin:end],
                                    linear_vars=[columns[j] for j in indices[begin:end]])
            con[key] = expr == lo if lo == hi else (_bound(lo), expr, _bound(hi))

    cost = form.col_arrays()[0]
    nonzero = np.flatnonzero(cost).tolist()
    model.objective = pyo.Objective(
        expr=LinearExpression(linear_coefs=cost[nonzero].tolist(), linear_vars=[columns[j] for j in nonzero]),
        sense=pyo.minimize)
    return model


def column_vars(model, form: Formulation) -> list:
    """The model's variables in the formulation's column order."""
    return [v for block in form.blocks.values() for v in model.component(block.name).values()]


# ---------------------------------------------------------------- solve


def solve(form: Formulation, options: SolveOptions,
          extend: Callable[[object], None] | None = None) -> SolveResult:
    """Build the Pyomo model, let `extend(model)` add components (user constraints, variables), and solve it."""
    model = build_model(form)
    if extend is not None:
        extend(model)
    return solve_model(model, form, options)


def solve_model(model, form: Formulation, options: SolveOptions) -> SolveResult:
    """Solve a model made by build_model (possibly changed since) with `options.pyomo_solver`."""
    from pyomo.contrib.solver.common.factory import SolverFactory as ContribFactory

    name = options.pyomo_solver
    cols = column_vars(model, form)
    if options.start is not None:
        for v, value in zip(cols, np.asarray(options.start, dtype=float).tolist()):
            v.set_value(value, skip_validation=True)
    if name in set(ContribFactory):
        kind, objective, bound, has_solution, version, detail = _solve_contrib(model, name, options)
    else:
        kind, objective, bound, has_solution, version, detail = _solve_legacy(model, name, options)
    x = _column_values(cols, form) if has_solution else None
    if bound is None and kind == OPTIMAL:
        bound = objective
    gap = relative_gap(objective, bound) if has_solution else None
    return SolveResult(status=kind, x=x, objective=objective, bound=bound, gap=gap,
                       solver=f"pyomo:{name}", solver_version=version, detail=detail)


def _column_values(cols: list, form: Formulation) -> np.ndarray:
    """Solution values in column order. Pyomo hands the solver only variables that appear somewhere, so a
    column in no row and with no cost comes back unset: any value within its bounds is optimal, take the one
    nearest zero."""
    _, lb, ub, _ = form.col_arrays()
    values = np.array([np.nan if v.value is None else v.value for v in cols], dtype=float)
    unset = np.isnan(values)
    values[unset] = np.clip(0.0, lb[unset], ub[unset])
    return values


def _solve_contrib(model, name: str, options: SolveOptions):
    from pyomo.contrib.solver.common.factory import SolverFactory
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition as TC

    solver = SolverFactory(name)
    if not solver.available():
        return ERROR, None, None, False, "", f"Pyomo solver '{name}' is not available: {solver.available()}"
    version = ".".join(map(str, solver.version() or ()))
    config = dict(load_solutions=False, raise_exception_on_nonoptimal_result=False, tee=bool(options.verbose),
                  time_limit=float(options.time_limit_s), rel_gap=float(options.mip_rel_gap))
    threads = pool_threads(options.threads) if name == "highs" else int(options.threads)
    if threads:   # Pyomo's HiGHS shares the process's HiGHS thread pool with the highs backend
        config["threads"] = threads
    if name in _CONTRIB_SEED_OPTION:
        config["solver_options"] = {_CONTRIB_SEED_OPTION[name]: int(options.seed)}
    results = solver.solve(model, **config)
    tc = results.termination_condition
    has_solution = results.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
    if tc == TC.convergenceCriteriaSatisfied and has_solution:
        kind = OPTIMAL
    elif tc in (TC.provenInfeasible, TC.locallyInfeasible, TC.infeasibleOrUnbounded):
        kind = INFEASIBLE
    elif tc == TC.unbounded:
        kind = UNBOUNDED
    elif tc in (TC.maxTimeLimit, TC.iterationLimit, TC.interrupted):
        kind = FEASIBLE if has_solution else NO_PLAN_IN_TIME
    else:
        kind = ERROR
    if has_solution:
        results.solution_loader.load_vars()
    objective = float(results.incumbent_objective) if has_solution else None
    bound = None if results.objective_bound is None else float(results.objective_bound)
    return kind, objective, bound, has_solution, version, str(tc.name)


def _solve_legacy(model, name: str, options: SolveOptions):
    import pyomo.environ as pyo
    from pyomo.opt import TerminationCondition as TC

    solver = pyo.SolverFactory(name)
    if solver is None or not solver.available(exception_flag=False):
        return ERROR, None, None, False, "", f"Pyomo solver '{name}' is not available"
    version = ".".join(map(str, solver.version() or ()))
    names = _LEGACY_OPTION_NAMES.get(name, (None, None, None, None))
    values = (float(options.time_limit_s), float(options.mip_rel_gap), int(options.threads) or None,
              int(options.seed))
    for option, value in zip(names, values):
        if option is not None and value is not None:
            solver.options[option] = value
    detail = "" if name in _LEGACY_OPTION_NAMES else "time limit, gap, threads and seed not mapped for this solver; "
    results = solver.solve(model, tee=bool(options.verbose), load_solutions=False)
    tc = results.solver.termination_condition
    has_solution = len(results.solution) > 0
    if tc in (TC.optimal, TC.globallyOptimal, TC.locallyOptimal) and has_solution:
        kind = OPTIMAL
    elif tc in (TC.infeasible, TC.infeasibleOrUnbounded):
        kind = INFEASIBLE
    elif tc == TC.unbounded:
        kind = UNBOUNDED
    elif tc in (TC.maxTimeLimit, TC.maxIterations, TC.maxEvaluations, TC.userInterrupt, TC.resourceInterrupt,
                TC.feasible, TC.intermediateNonInteger):
        kind = FEASIBLE if has_solution else NO_PLAN_IN_TIME
    else:
        kind = ERROR
    objective = bound = None
    if has_solution:
        model.solutions.load_from(results)
        objective = float(pyo.value(model.objective))
    lower = results.problem.lower_bound
    if lower is not None and math.isfinite(float(lower)):
        bound = float(lower)
    return kind, objective, bound, has_solution, version, detail + str(tc)
