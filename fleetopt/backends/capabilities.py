"""Which backends exist and what each one honours, declared once (as linopy/solver_capabilities.py does), so
callers ask `capabilities(name).budgets` instead of guessing from the name.

    highs    fleetopt/backends/highs.py           the arrays handed to HiGHS in one passModel call
    pyomo    fleetopt/backends/pyomo_backend.py   a Pyomo model, any Pyomo solver (options.pyomo_solver)
    ortools  fleetopt/backends/ortools_backend.py a MathOpt model, HiGHS or SCIP (options.ortools_solver)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.formulation.model import Formulation

SolveOne = Callable[[Formulation, SolveOptions], SolveResult]


@dataclass(frozen=True)
class Capabilities:
    time_limit: bool     # honours SolveOptions.time_limit_s
    rel_gap: bool        # honours mip_rel_gap
    budgets: bool        # honours mip_abs_gap and node_limit (solving in parts shares a gap budget through them)
    threads: bool        # honours threads
    warm_start: bool     # hands SolveOptions.start to the solver
    duals: bool          # prices rows: LP duals and ranging
    iis: bool            # names an irreducible infeasible subsystem
    parallel: bool       # parts may be solved in threads at once (the solver releases the GIL, no Python model)


BACKENDS: dict[str, Capabilities] = {
    "highs": Capabilities(time_limit=True, rel_gap=True, budgets=True, threads=True, warm_start=True, duals=True,
                          iis=True, parallel=True),
    # time limit and gap: pyomo.contrib.solver always, legacy solvers where their option names are known; the
    # start is set on the variables but neither interface is asked to use it
    "pyomo": Capabilities(time_limit=True, rel_gap=True, budgets=False, threads=True, warm_start=False,
                          duals=False, iis=False, parallel=False),
    "ortools": Capabilities(time_limit=True, rel_gap=True, budgets=True, threads=True, warm_start=True,
                            duals=False, iis=False, parallel=False),
}
_MODULES = {"highs": "fleetopt.backends.highs", "pyomo": "fleetopt.backends.pyomo_backend",
            "ortools": "fleetopt.backends.ortools_backend"}


class UnknownBackend(ValueError):
    """A backend name that is not one of BACKENDS."""

    def __init__(self, name: str):
        super().__init__(f"unknown backend '{name}'; expected one of {', '.join(BACKENDS)}")


def capabilities(name: str) -> Capabilities:
    if name not in BACKENDS:
        raise UnknownBackend(name)
    return BACKENDS[name]


def solver_for(name: str) -> SolveOne:
    """The backend's `solve(form, options)`; its module (and solver package) is imported only now."""
    capabilities(name)
    return importlib.import_module(_MODULES[name]).solve


def with_capability(what: str) -> list[str]:
    """The backends that declare `what` (a Capabilities field), e.g. with_capability('iis') == ['highs']."""
    return [name for name, caps in BACKENDS.items() if getattr(caps, what)]
