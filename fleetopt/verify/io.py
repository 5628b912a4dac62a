"""Reading the plan to check: the one plan reader (fleetopt.plan.read), here so verify's imports stay within
what it may use."""

from fleetopt.plan.read import read_plan

__all__ = ["read_plan"]
