"""Check a plan without trusting the code that made it.

Every constraint family of the formulation is recomputed from the instance, the physics and the plan's
decisions alone (this package never imports fleetopt.formulation, fleetopt.candidates or fleetopt.plan.extract).
The families are the ones fleetopt/facts.py declares (stage "formulation", plus the screening rules memory and
route and the verifier's own config, route_needs_replica and reported); tests/formulation/test_family_facts.py checks
that a verification of global-fleet checks every formulation family built there and names only declared ones.
"reported": every figure the plan states (times, MW, t, USD, totals, objective) matches the physics.

Modules: training.py, serving.py, monitoring.py, resources.py (the checks), slices.py (plans over time slices:
windows, resumes, coverage, demand and capacity per slice), procurement.py (reserved and spot stock, the
reserved figures of the totals), network.py (dataset paths),
report.py (violations and tolerances), io.py (reading a plan file).
"""

from __future__ import annotations

from fleetopt.io.schema import Instance
from fleetopt.plan import Plan
from fleetopt.verify.change import verify_change
from fleetopt.verify.monitoring import verify_monitoring
from fleetopt.verify.procurement import verify_reserved
from fleetopt.verify.report import Report, Violation
from fleetopt.verify.resources import verify_resources, verify_totals
from fleetopt.verify.serving import verify_serving
from fleetopt.verify.slices import SliceView, verify_serving_over_slices
from fleetopt.verify.training import verify_training

__all__ = ["Report", "Violation", "verify_plan"]


def verify_plan(inst: Instance, plan: Plan) -> Report:
    """Every violation of `plan` against `inst`; `report.holds` when there is none."""
    report = Report()
    if plan.provenance.input_sha256 and inst.digest and plan.provenance.input_sha256 != inst.digest:
        report.notes.append("the plan was made for a different input (its input_sha256 differs)")
    if not plan.has_plan:
        report.notes.append(f"the plan's status is '{plan.status}': it holds no decisions to rely on")
    draws = verify_training(inst, plan, report)
    if inst.timeline.is_static:
        serving_draws, routed = verify_serving(inst, plan, report)
    else:  # every slice of a plan over time (routed: each route's quietest slice, what samples rest on)
        serving_draws, routed = verify_serving_over_slices(inst, plan, SliceView(inst), report)
    draws += serving_draws
    draws += verify_monitoring(inst, plan, routed, report)
    change = verify_change(inst, plan, report)   # against the deployed plan, when re-planning from one
    verify_resources(inst, draws, report, move_carbon_t=change[1])
    reserved = verify_reserved(inst, plan, draws, report)   # reserved stock: commitment less the rental saved
    verify_totals(inst, plan, draws, report, change, reserved)
    return report
