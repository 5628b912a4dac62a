"""The rows of a part a first round leaves open (pipeline/decompose.py): its flow programs only for the services
whose covering program gave a row in that round, and made as its first round ends, in the thread that solved it,
when its gap is over the whole gap budget (`_rows_early`, `_run`'s `after`); the next round takes them as they
are, and solving in parts with them keeps the brute-force optimum."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveResult, relative_gap
from fleetopt.errors import FEASIBLE
from fleetopt.formulation.split import Part, relaxed
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import Backend, solve_by_parts

from formulation.test_flow_bound import shared_replica
from solving.test_parts_rows_up_front import EXACT, brute_force, random_service, services

INF = float("inf")


def open_part() -> tuple[Part, Part]:
    """A four-population part (its covering program gives a row) and the part its first round ran as."""
    form = services([shared_replica()])
    part = Part(form, np.arange(form.n_cols), np.arange(form.n_rows))
    first = decompose._with_rows_up_front(part)
    assert "replica_cover_bound" in first.form.families
    return part, first


def result(objective: float, bound: float) -> SolveResult:
    return SolveResult(status=FEASIBLE, x=None, objective=objective, bound=bound, gap=None, solver="highs",
                       solver_version="")


def test_a_flow_program_runs_only_where_the_covering_program_gave_a_row():
    part, first = open_part()
    # the same part as if its covering program had stayed under the LP's floor: no covering row
    uncovered = Part(part.form.copy(), part.cols, part.rows)
    prepare = decompose._open_rows_in_time([0, 1], set(), [part, part], [first, uncovered], INF, frozenset())
    assert "replica_flow_bound" in prepare(0, first).form.families
    rows = prepare(1, uncovered).form
    assert "replica_flow_bound" not in rows.families
    assert rows.n_rows > part.form.n_rows   # its other rows (the rounded covers) it still gets


def test_a_part_over_the_budget_gets_its_next_rows_as_its_first_round_ends():
    part, first = open_part()
    early: dict[int, Part] = {}
    after = decompose._rows_early([part, part], [part, part], set(), frozenset(), 10.0, INF, early)
    after(0, first, result(200.0, 100.0))   # gap 100 over the budget of 10: it runs again whatever is spare
    after(1, first, result(200.0, 195.0))   # gap 5: it may be accepted as it is
    assert set(early) == {0}
    assert "replica_flow_bound" in early[0].form.families
    prepare = decompose._open_rows_in_time([0, 1], set(), [part, part], [first, first], INF, frozenset(), early)
    assert prepare(0, first) is early[0]
    assert "replica_flow_bound" in prepare(1, first).form.families   # made by the round itself
    # over time slices, or a part whose first round had no rows, nothing is made early
    late: dict[int, Part] = {}
    decompose._rows_early([part], [part], set(), frozenset({"h0"}), 10.0, INF, late)(0, first, result(200, 100))
    decompose._rows_early([part], [part], set(), frozenset(), 10.0, INF, late)(0, part, result(200, 100))
    assert not late


def test_run_calls_after_in_the_thread_that_solved_each_part():
    forms = [services([random_service(np.random.default_rng(s), "s", 2)]) for s in range(4)]
    parts = [Part(f, np.arange(f.n_cols), np.arange(f.n_rows)) for f in forms]
    solved_in: dict[int, int] = {}
    after_in: dict[int, tuple[int, float]] = {}

    def solve(form, options):
        solved_in[id(form)] = threading.get_ident()
        return highs.solve(form, options)

    def after(k, part, r):
        after_in[k] = (threading.get_ident(), r.objective)
        assert solved_in[id(part.form)] == threading.get_ident()

    results = decompose._run(Backend(solve, workers=2), parts, [EXACT] * 4, INF, after=after)
    assert sorted(after_in) == [0, 1, 2, 3]
    assert [after_in[k][1] for k in range(4)] == [r.objective for r in results]


def weak_first_round(form, options):
    """HiGHS, but a first-round MILP (node limit 1) proves only its LP: it stays open, its bound still valid."""
    r = highs.solve(form, options)
    if options.node_limit != 1 or r.objective is None:
        return r
    lp = highs.solve(relaxed(form), options).objective
    return replace(r, status=FEASIBLE, bound=lp, gap=relative_gap(r.objective, lp)) if lp < r.objective else r


@pytest.mark.parametrize("seed", range(3))
def test_parts_whose_rows_come_early_keep_the_brute_force_optimum(seed, monkeypatch):
    """First rounds that leave every fractional part open and a gap budget of nothing (EXACT): the open
    four-population parts get their next rows in their first round's threads, the next round solves them as they
    are, and the parts' answers are the brute-force optimum."""
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    early_of: list[dict] = []
    original = decompose._rows_early

    def spy(*args):
        early_of.append(args[-1])
        return original(*args)
    monkeypatch.setattr(decompose, "_rows_early", spy)
    rng = np.random.default_rng(700 + seed)
    spec = [random_service(rng, "four", 4), random_service(rng, "other", 4), shared_replica()]
    seen = []
    backend = Backend(lambda f, o: seen.append(f) or weak_first_round(f, o), workers=2)
    parted = solve_by_parts(services(spec), backend, replace(EXACT, replica_bound=None))
    expected = brute_force(spec)
    assert parted.status == "optimal" and parted.objective == pytest.approx(expected, rel=1e-9)
    assert parted.bound <= expected * (1 + 1e-9)
    made = [p for early in early_of for p in early.values()]
    assert made and any("replica_flow_bound" in p.form.families for p in made)
    assert all(any(f is p.form for f in seen) for p in made)   # the next round solved them as they were
