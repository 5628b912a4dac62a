"""fleetopt: an optimization-based ML fleet configuration solver.

    inst = fleetopt.load_instance("instances/global-fleet.yaml")
    plan = fleetopt.solve(inst)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the heavy imports wait until first use, so `fleetopt --help` starts fast
    from fleetopt.io.schema import Instance
    from fleetopt.plan import Plan

__all__ = ["load_instance", "solve", "estimate_training", "sweep", "InputError"]

from fleetopt.errors import InputError


def load_instance(path, trusted_dirs=()) -> "Instance":
    """Read, validate and resolve an instance file (YAML or JSON); InputError on bad input."""
    from fleetopt.io.load import load_instance as _load

    return _load(path, trusted_dirs)


def solve(instance, **options) -> "Plan":
    """Plan the fleet of an Instance (or a path to one). Options: backend, time_limit_s, mip_rel_gap, threads,
    seed, decompose (those left out come from the instance's `solver:` block) and extra_functionality, a
    function (form, problem) that adds your own constraints (fleetopt.pipeline.problem)."""
    from fleetopt.api import solve_instance

    if not hasattr(instance, "regions"):
        instance = load_instance(instance)
    return solve_instance(instance, **options)


def estimate_training(*args, **kwargs):
    """One training configuration's step time, MFU, memory and fleet-law breakdown (fleetopt.candidates.estimate)."""
    from fleetopt.candidates.estimate import estimate_training as _estimate

    return _estimate(*args, **kwargs)


def sweep(instance, settings, **options):
    """A what-if sweep: the base plan and one row per scenario as a pandas DataFrame (see fleetopt.whatif.api).
    settings: {path: values} or ["PATH=VALUES", ...]; options: mode, results, executor, workers, ..."""
    from fleetopt.whatif.api import sweep as _sweep

    return _sweep(instance, settings, **options)
