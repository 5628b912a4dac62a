"""Explain over procurement classes: each class's stock is a priced row in its own words, and a fleet short of
spot GPUs is diagnosed with the spot count as the setting to raise."""

from __future__ import annotations

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.explain.binding import price_in_words
from fleetopt.explain.infeasible import explain_infeasible
from helpers import text_instance

SHORT_OF_SPOT = """\
fleetopt: 2
name: spot-short
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    gpus:
      h100-sxm5-80gb:
        count: 4
        usd_per_hour: 4.25
        reserved: {count: 4, usd_per_hour: 2.9}
        spot: {count: 8, usd_per_hour: 1.6, preemptions_per_gpu_hour: 0.002}
populations:
  us-users:
    rtt_ms: {us-east: 20}
serving:
  chat:
    model: llama3-8b
    demand_rps: {us-users: 1200}
    slo_p99_ms: 3000
"""


def test_each_class_stock_is_priced_in_its_own_words():
    key = ["us-east", "h100-sxm5-80gb"]
    assert price_in_words("cost_usd", "spot_stock", key) == \
        "$ per extra h100-sxm5-80gb spot GPU in us-east over the horizon"
    assert price_in_words("cost_usd", "reserved_stock", key) == \
        "$ per extra h100-sxm5-80gb reserved GPU in us-east over the horizon"


def test_a_fleet_short_of_spot_gpus_is_told_to_raise_the_spot_count():
    inst = text_instance(SHORT_OF_SPOT)
    problem = build_problem(inst)
    backend, options = options_for(inst)
    plan, _ = solve_problem(problem, backend, options)   # infeasible: no plan to verify
    assert plan.status == "infeasible"
    diagnosis = explain_infeasible(problem, options)
    lines = [r.line for r in diagnosis.relaxations + diagnosis.alternatives]
    settings = {r.setting for r in diagnosis.relaxations + diagnosis.alternatives}
    assert "regions.us-east.gpus.h100-sxm5-80gb.spot.count" in settings, lines
    assert any("spot count" in line for line in lines)
