"""The Python API: load, enumerate, formulate, solve, extract, in the order the data flows.

    problem = build_problem(inst)                 # candidates + formulation (no solver yet)
    plan, result = solve_problem(problem, name, opts)   # a backend, then the Plan in the user's names
    plan = solve_instance(inst)                   # both in one call
    plan = solve_instance(inst, extra_functionality=fn)  # fn(form, problem) adds your own rows, on any backend

The stages live in fleetopt.pipeline (so explain and what-if use them without importing this entry point);
this module gathers them for users, next to the CLI.
"""

from __future__ import annotations

from fleetopt.backends.capabilities import BACKENDS, Capabilities, capabilities
from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.pipeline.problem import ExtraFunctionality, Problem, build_problem
from fleetopt.pipeline.solve import fleetopt_version, options_for, run_backend, solve_instance, solve_problem

__all__ = ["BACKENDS", "Capabilities", "ExtraFunctionality", "Problem", "SolveOptions", "SolveResult",
           "build_problem", "capabilities", "fleetopt_version", "options_for", "run_backend", "solve_instance",
           "solve_problem"]
