"""Problem: an instance with its candidate tables and formulation, everything a backend, explain or verify needs,
and build_problem, which makes one (no solver yet)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetopt.candidates.monitoring import MonitoringTable, monitoring_requirements
from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.candidates.training import enumerate_training
from fleetopt.formulation.families import build
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance


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


# Your own constraints, on every backend (as PyPSA's `extra_functionality`): called with the built formulation
# and the problem, it adds named rows (and columns) through Formulation.add_rows / add_vars, finding columns by
# block and key (form.blocks["train_choice"], problem.training.region ...).
ExtraFunctionality = Callable[[Formulation, Problem], None]


def build_problem(inst: Instance, extra_functionality: ExtraFunctionality | None = None) -> Problem:
    """Candidates and formulation for `inst`, then `extra_functionality(form, problem)` if given."""
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    tc = enumerate_training(inst)
    sc = enumerate_serving(inst)
    mon = monitoring_requirements(inst, sc)
    timing["candidates"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    form = build(inst, tc, sc, mon)
    timing["build"] = time.perf_counter() - t0
    problem = Problem(inst, tc, sc, mon, form, timing)
    if extra_functionality is not None:
        t0 = time.perf_counter()
        extra_functionality(form, problem)
        timing["extra_functionality"] = time.perf_counter() - t0
    return problem
