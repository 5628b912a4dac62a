"""A sweep's binding budget solves the model with the parts' own rows, as a single solve on the strong carbon path
does (pipeline/solve._strong_sweep, carbon_cuts.with_parts_rows(reuse=True)), made once per process; its first
plan reaches HiGHS with restarts off (whatif/worker.with_first_plan), and without RINS and RENS where it lies near
the rows' bound (worker.proving_only); and the answers stay the exact optima."""

from __future__ import annotations

import numpy as np
import pytest

import fleetopt
import fleetopt.pipeline.solve as solve_module
from fleetopt.pipeline import carbon_cuts
from fleetopt.whatif.scenario import read_base
from fleetopt.whatif.worker import CutTask, SolveSettings, make_cuts
from helpers import TINY, solve_and_verify


def at_budget(inst, budget: float):
    return inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})


@pytest.mark.parametrize("budget", [3.0, 8.0])
def test_a_budget_handed_the_rows_keeps_the_parts_rows_and_its_optimum(monkeypatch, budget):
    inst = at_budget(fleetopt.load_instance(TINY), budget)
    cuts = make_cuts(CutTask(read_base(TINY), SolveSettings(), (budget,), (0, 1)))
    assert cuts is not None and budget < cuts.free_carbon   # the budget binds: its MILP runs
    seen = []
    run = solve_module.run_backend
    monkeypatch.setattr(solve_module, "run_backend", lambda n, f, o: seen.append(f) or run(n, f, o))
    carbon_cuts._STRONG.clear()
    problem = solve_module.build_problem(inst)
    name, options = solve_module.options_for(inst, mip_rel_gap=0.0)
    plan, _ = solve_module.solve_problem(problem, name, options, carbon_cuts=cuts)
    assert seen and any(fam.startswith("part_rows") for fam in seen[-1].families)
    assert "carbon_cut" in seen[-1].families and len(carbon_cuts._STRONG) == 1
    kept = next(iter(carbon_cuts._STRONG.values()))
    plan2, _ = solve_module.solve_problem(solve_module.build_problem(inst), name, options, carbon_cuts=cuts)
    assert next(iter(carbon_cuts._STRONG.values())) is kept   # made once: the second budget takes them again
    exact = solve_and_verify(inst, mip_rel_gap=0.0)
    assert plan.objective == pytest.approx(exact.objective, rel=1e-7)
    assert plan2.objective == pytest.approx(exact.objective, rel=1e-7)


def test_without_the_rows_refused_a_budget_solves_the_plain_model(monkeypatch):
    inst = at_budget(fleetopt.load_instance(TINY), 3.0)
    cuts = make_cuts(CutTask(read_base(TINY), SolveSettings(), (3.0,), (0, 1)))
    seen = []
    run = solve_module.run_backend
    monkeypatch.setattr(solve_module, "run_backend", lambda n, f, o: seen.append(f) or run(n, f, o))
    name, options = solve_module.options_for(inst)
    options.replica_bound = False
    solve_module.solve_problem(solve_module.build_problem(inst), name, options, carbon_cuts=cuts)
    assert seen and not any(fam.startswith("part_rows") for fam in seen[-1].families)


def test_a_sweeps_first_plan_reaches_highs_with_restarts_off(monkeypatch):
    import fleetopt.backends.highs as highs

    starts = []
    solve = highs.solve
    monkeypatch.setattr(highs, "solve", lambda f, o: (starts.append(o.mip_restart) if o.start is not None
                                                      else None) or solve(f, o))
    swept = fleetopt.sweep(TINY, {"policy.carbon_budget_t": "3,8"}, executor="sequential")
    assert (swept["status"] == "optimal").all()
    assert starts and not any(starts)
    assert np.isfinite(swept["objective"].to_numpy()).all()


class _Rows:
    """A stand-in for carbon_cuts.CarbonCuts: the rows' bound is 100 at every budget."""

    def bound_at(self, budget: float) -> float:
        return 100.0


@pytest.mark.parametrize("start_cost, proves_only", [(100.0, True), (100.09, True), (100.2, False)])
def test_a_start_near_the_rows_bound_runs_without_the_plan_seeking_heuristics(start_cost, proves_only):
    from fleetopt.backends.result import SolveOptions
    from fleetopt.formulation.model import Formulation
    from fleetopt.whatif.worker import PROVE_ONLY_GAP, proving_only

    assert PROVE_ONLY_GAP == 1e-3
    form = Formulation()
    form.add_vars("x", [(0,)], cost=start_cost)
    given = SolveOptions(start=np.ones(1))
    got = proving_only(given, form, _Rows(), 5.0)
    assert got.improve_plans is (not proves_only) and given.improve_plans is True   # a copy, the caller's kept
    assert proving_only(SolveOptions(), form, _Rows(), 5.0).improve_plans is True     # no start: the search
    assert proving_only(given, form, _Rows(), None).improve_plans is True             # no budget


def test_a_sweeps_milps_prove_without_the_heuristics_only_from_a_start_near_the_bound(monkeypatch):
    import fleetopt.backends.highs as highs
    import fleetopt.whatif.worker as worker

    handed, rule = [], []
    solve, proving = highs.solve, worker.proving_only
    monkeypatch.setattr(highs, "solve", lambda f, o: (handed.append(o.improve_plans) if o.start is not None
                                                      else None) or solve(f, o))

    def watched(options, form, cuts, budget):
        out = proving(options, form, cuts, budget)
        rule.append(out.improve_plans)
        return out

    monkeypatch.setattr(worker, "proving_only", watched)
    swept = fleetopt.sweep(TINY, {"policy.carbon_budget_t": "2.5,3,5,8"}, executor="sequential", mip_rel_gap=0.0)
    assert False in rule and False in handed   # some budget's MILP only proved its start, and HiGHS was told
    for budget, objective in zip((2.5, 3, 5, 8), swept["objective"].to_numpy()[1:]):
        exact = solve_and_verify(at_budget(fleetopt.load_instance(TINY), budget), mip_rel_gap=0.0)
        assert objective == pytest.approx(exact.objective, rel=1e-7)
