"""A sweep of the carbon budget alone asks HiGHS for more primal heuristics on its scenarios
(whatif/worker.SWEEP_HEURISTIC_EFFORT): the option reaches the solver, only in such a sweep, and every budget's
answer is still an independent solve's within the gap."""

from __future__ import annotations

import pytest

import fleetopt
import fleetopt.pipeline.solve as pipeline_solve
from fleetopt.backends.highs import new_highs
from fleetopt.backends.result import SolveOptions
from fleetopt.paths import default_instance
from fleetopt.whatif.worker import SWEEP_HEURISTIC_EFFORT
from helpers import TINY, solve_and_verify


def test_the_effort_reaches_highs_and_none_leaves_its_default():
    assert new_highs(SolveOptions(heuristic_effort=0.3)).getOptionValue("mip_heuristic_effort")[1] == 0.3
    default = new_highs(SolveOptions()).getOptionValue("mip_heuristic_effort")[1]
    assert default == pytest.approx(0.05) and default != SWEEP_HEURISTIC_EFFORT


def efforts_of(monkeypatch, settings) -> list:
    """The heuristic effort every backend run of a sequential sweep of tiny-fleet was handed."""
    seen = []
    run = pipeline_solve.run_backend

    def spy(name, form, options):
        seen.append(options.heuristic_effort)
        return run(name, form, options)

    monkeypatch.setattr(pipeline_solve, "run_backend", spy)
    fleetopt.sweep(TINY, settings, executor="sequential")
    return seen


def test_only_a_budget_only_sweep_asks_for_it(monkeypatch):
    budget = efforts_of(monkeypatch, {"policy.carbon_budget_t": "2,4"})
    assert budget and set(budget) == {SWEEP_HEURISTIC_EFFORT}
    other = efforts_of(monkeypatch, {"regions.us-east.power_cap_mw": "2,4"})
    assert other and set(other) == {None}


@pytest.mark.slow
def test_global_fleet_budgets_match_independent_solves():
    """Three binding budgets of global-fleet (the hard ones of benchmarks/RESULTS.md's sweep): each swept
    objective within the gap of an independent, verified solve."""
    inst = fleetopt.load_instance(default_instance())
    swept = fleetopt.sweep(inst, {"policy.carbon_budget_t": "185,215,250"}, executor="sequential")
    gap = inst.solver.mip_rel_gap
    for _, row in swept.iloc[1:].iterrows():
        budget = float(row["policy.carbon_budget_t"])
        alone = solve_and_verify(inst.model_copy(update={"policy": inst.policy.model_copy(
            update={"carbon_budget_t": budget})}))
        assert row["status"] == alone.status == "optimal"
        assert row["carbon_t"] <= budget * (1 + 1e-6)
        assert abs(row["objective"] - alone.objective) <= 2 * gap * max(row["objective"], alone.objective)


def test_the_rows_parts_are_proven_to_a_hundredth_of_the_gap(monkeypatch):
    """make_cuts hands cuts_for_budgets the scenarios' gap / ROWS_GAP_FACTOR, and the rows it makes hold: each
    row's bound is at least the one made at the scenarios' own gap less that gap (both bound the same minimum)."""
    import fleetopt.pipeline.carbon_cuts as carbon_cuts
    from fleetopt.whatif.scenario import read_base
    from fleetopt.whatif.worker import ROWS_GAP_FACTOR, CutTask, SolveSettings, make_cuts

    gaps = []
    made = carbon_cuts.cuts_for_budgets

    def spy(form, budgets, backend, options, **kw):
        gaps.append(options.mip_rel_gap)
        return made(form, budgets, backend, options, **kw)

    monkeypatch.setattr(carbon_cuts, "cuts_for_budgets", spy)
    base = read_base(TINY)
    tight = make_cuts(CutTask(base, SolveSettings(mip_rel_gap=1e-4), (2.0, 4.0), (0, 1)))
    loose = make_cuts(CutTask(base, SolveSettings(mip_rel_gap=1e-4 * ROWS_GAP_FACTOR), (2.0, 4.0), (0, 1)))
    assert gaps == [pytest.approx(1e-4 / ROWS_GAP_FACTOR), pytest.approx(1e-4)]
    assert tight is not None and loose is not None and (tight.prices == loose.prices).all()
    assert (tight.lower >= loose.lower - 1e-4 * abs(loose.lower) - 1e-6).all()
