"""explain: the pricing LPs (binding.binding_constraints) run in a thread of their own beside the jobs' and services'
explanations, and a service's routes on one option share that option's physics (c3.route_latencies); the
prices are those of binding_constraints called alone."""

from __future__ import annotations

import threading

from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.explain import c3, explainer
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir


def solved():
    inst = load_instance(shipped_dir("instances") / "global-fleet.yaml")
    problem = build_problem(inst)
    backend, options = options_for(inst)
    plan, result = solve_problem(problem, backend, options)
    return problem, plan, result.x, options


def test_prices_in_a_thread_and_one_physics_per_option(monkeypatch):
    problem, plan, x, options = solved()
    pricing_in: list[int] = []
    binding = explainer.binding_constraints

    def spy_binding(form, x):
        pricing_in.append(threading.get_ident())
        return binding(form, x)
    physics_of: list[int] = []
    physics = c3._service_physics

    def spy_physics(problem, o):
        physics_of.append(o)
        return physics(problem, o)
    monkeypatch.setattr(explainer, "binding_constraints", spy_binding)
    monkeypatch.setattr(c3, "_service_physics", spy_physics)
    out = explainer.explain(problem, plan, x, options)
    assert pricing_in and pricing_in[0] != threading.get_ident()
    # each option's physics once per service explained (a route's option belongs to one service)
    assert physics_of and len(physics_of) == len(set(physics_of))
    routes = sum(len(s.routes) for s in out.services)
    assert routes > len(physics_of)   # some option serves more than one route
    # the prices are those binding_constraints gives when called alone
    assert (out.binding, out.price_note) == binding(problem.form, x)
