"""OR-Tools MathOpt: the formulation's arrays written into a ModelProto in one pass, solved by HiGHS or SCIP.

Variables and rows carry the formulation's names (`train_choice[j0,3]`, `power_cap[us-east]`), so MathOpt's
messages and exported models read like fleetopt's reports. `options.ortools_solver` picks the MathOpt
SolverType by name: "highs" (default) or "gscip" (any other SolverType name is passed through).
"""

from __future__ import annotations

import datetime

import numpy as np

from fleetopt.errors import ERROR, FEASIBLE, INFEASIBLE, NO_PLAN_IN_TIME, OPTIMAL, UNBOUNDED
from fleetopt.backends.result import SolveOptions, SolveResult, relative_gap
from fleetopt.formulation.model import Formulation


def build_model_proto(form: Formulation):
    """The formulation as a MathOpt ModelProto: variable and row ids are the column and row indices."""
    from ortools.math_opt import model_pb2

    cost, lb, ub, integer = form.col_arrays()
    a = form.matrix().tocoo()          # from canonical CSR: sorted by row, then column, as MathOpt requires
    lower, upper = form.row_bounds()
    proto = model_pb2.ModelProto(name=form.objective_name)
    proto.variables.ids.extend(range(form.n_cols))
    proto.variables.lower_bounds.extend(lb.tolist())
    proto.variables.upper_bounds.extend(ub.tolist())
    proto.variables.integers.extend(integer.tolist())
    proto.variables.names.extend(form.col_names())
    nonzero = np.flatnonzero(cost)
    proto.objective.maximize = False
    proto.objective.linear_coefficients.ids.extend(nonzero.tolist())
    proto.objective.linear_coefficients.values.extend(cost[nonzero].tolist())
    proto.linear_constraints.ids.extend(range(form.n_rows))
    proto.linear_constraints.lower_bounds.extend(lower.tolist())
    proto.linear_constraints.upper_bounds.extend(upper.tolist())
    proto.linear_constraints.names.extend(form.row_names())
    proto.linear_constraint_matrix.row_ids.extend(a.row.tolist())
    proto.linear_constraint_matrix.column_ids.extend(a.col.tolist())
    proto.linear_constraint_matrix.coefficients.extend(a.data.tolist())
    return proto


def solver_type(name: str):
    from ortools.math_opt.python import mathopt

    try:
        return mathopt.SolverType[name.upper()]
    except KeyError:
        known = ", ".join(t.name.lower() for t in mathopt.SolverType)
        raise ValueError(f"unknown OR-Tools solver '{name}'; MathOpt knows {known}") from None


def solve_parameters(options: SolveOptions, kind_of):
    from ortools.math_opt.python import mathopt

    params = mathopt.SolveParameters(time_limit=datetime.timedelta(seconds=float(options.time_limit_s)),
                                     relative_gap_tolerance=float(options.mip_rel_gap),
                                     random_seed=int(options.seed), enable_output=bool(options.verbose))
    if options.mip_abs_gap > 0:
        params.absolute_gap_tolerance = float(options.mip_abs_gap)
    if options.node_limit > 0:
        params.node_limit = int(options.node_limit)
    if options.threads and kind_of == mathopt.SolverType.HIGHS:
        # MathOpt refuses the generic `threads` for HiGHS (a process-wide option there); HiGHS's own takes it
        params.highs.int_options["threads"] = int(options.threads)
    elif options.threads:
        params.threads = int(options.threads)
    return params


def _within_bounds(form: Formulation, start) -> bool:
    """Whether a start lies within the column bounds: MathOpt's HiGHS fails the whole solve on a hint outside
    them (e.g. a neighbour's plan using an option this model fixed at zero), where HiGHS itself ignores it."""
    _, lb, ub, _ = form.col_arrays()
    x = np.asarray(start, dtype=float)
    return bool(np.all(x >= lb - 1e-9) and np.all(x <= ub + 1e-9))


def solve(form: Formulation, options: SolveOptions) -> SolveResult:
    import ortools
    from ortools.math_opt.python import mathopt

    kind_of = solver_type(options.ortools_solver)
    model = mathopt.Model.from_model_proto(build_model_proto(form))
    columns = [model.get_variable(j) for j in range(form.n_cols)]
    model_params = None
    if options.start is not None and _within_bounds(form, options.start):
        hint = mathopt.SolutionHint(variable_values=dict(zip(columns, np.asarray(options.start, float).tolist())))
        model_params = mathopt.ModelSolveParameters(solution_hints=[hint])
    version = ortools.__version__
    params = solve_parameters(options, kind_of)
    note = ""
    try:
        result = mathopt.solve(model, kind_of, params=params, model_params=model_params)
    except Exception as exc:  # noqa: BLE001 - a refused parameter surfaces as AttributeError in ortools 9.15
        if "threads" not in params.highs.int_options:
            return SolveResult(status=ERROR, x=None, objective=None, bound=None, gap=None,
                               solver=f"ortools:{kind_of.name.lower()}", solver_version=version,
                               detail=f"{type(exc).__name__}: {exc}")
        # HiGHS sizes its thread pool at the first solve in the process and refuses another size later
        del params.highs.int_options["threads"]
        note = "; threads ignored: HiGHS's thread pool was already started in this process"
        result = mathopt.solve(model, kind_of, params=params, model_params=model_params)
    termination = result.termination
    has_solution = result.has_primal_feasible_solution()
    kind = _status(termination, has_solution, mathopt)
    x = objective = gap = None
    bound = float(result.best_objective_bound())
    if has_solution:
        x = np.array(result.variable_values(columns), dtype=float)
        objective = float(result.objective_value())
        if kind == OPTIMAL and not any(b.integer and b.size for b in form.blocks.values()):
            bound = objective
        gap = relative_gap(objective, bound)
    detail = termination.reason.name + (f" ({termination.limit.name})" if termination.limit else "")
    if termination.detail:
        detail += f": {termination.detail}"
    detail += note
    return SolveResult(status=kind, x=x, objective=objective, bound=bound, gap=gap,
                       solver=f"ortools:{kind_of.name.lower()}", solver_version=version, detail=detail)


def _status(termination, has_solution: bool, mathopt) -> str:
    """MathOpt's termination as fleetopt's status, with the HiGHS backend's meaning of each."""
    reason, limit = termination.reason, termination.limit
    tr, lim = mathopt.TerminationReason, mathopt.Limit
    if reason == tr.OPTIMAL:
        return OPTIMAL
    if reason in (tr.INFEASIBLE, tr.INFEASIBLE_OR_UNBOUNDED):
        return INFEASIBLE
    if reason == tr.UNBOUNDED:
        return UNBOUNDED
    if reason in (tr.FEASIBLE, tr.NO_SOLUTION_FOUND) and limit in (lim.TIME, lim.ITERATION, lim.NODE,
                                                                    lim.SOLUTION, lim.INTERRUPTED):
        return FEASIBLE if has_solution else NO_PLAN_IN_TIME
    return ERROR
