"""Test helpers shared across files. Every solve in the suite goes through solve_and_verify, so each plan the
tests see has also passed the independent verifier (fleetopt.verify)."""

from __future__ import annotations

from fleetopt.api import solve_instance
from fleetopt.io.schema import Instance
from fleetopt.plan import Plan
from fleetopt.verify import verify_plan


def solve_and_verify(inst: Instance, **opts) -> Plan:
    """solve_instance(inst, **opts), then fail the test unless a plan it returns holds under fleetopt.verify."""
    return assert_verified(inst, solve_instance(inst, **opts))


def assert_verified(inst: Instance, plan: Plan) -> Plan:
    """Fail the test unless `plan` (when it is a plan) holds under the independent verifier."""
    if plan.has_plan:
        report = verify_plan(inst, plan)
        assert report.holds, "\n".join([report.summary(inst.name), *report.lines()])
    return plan
