"""The flow program's bound (formulation/flow_bound.py): on random small services of four populations (near-twin
options, few replicas) it is the brute-force optimum of the replica cost (every replica vector, cheapest first,
checked by an LP of its flows), never above it, never under the covering program's; where an option's rates differ
between populations it beats the covering bound; a part a first round leaves open gets the row, and solving in
parts with it keeps the brute-force optimum."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.formulation.cover_bound import covering_bound
from fleetopt.formulation.flow_bound import flow_bound, with_flow_bounds
from fleetopt.formulation.replica_bound import form_knapsacks, lp_floor
from fleetopt.formulation.split import Part, relaxed
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import _open_part_rows

from solving.test_parts_rows_up_front import EXACT, brute_force, parts_at_brute_force, random_service, services


def shared_replica() -> tuple:
    """Option 0 carries 10 req/s to population 0 or 5 to each other, option 1 only 5 to the others: demands
    6, 0.8, 0.8, 0.8. One replica of option 0 covers every set (10 >= 8.4), but its flows need 0.6 + 3 x 0.16 =
    1.08 replicas: the covering program buys 100, the flows 160."""
    rps = np.array([[10.0, 5.0, 5.0, 5.0], [0.0, 5.0, 5.0, 5.0]])
    return "s", [6.0, 0.8, 0.8, 0.8], [100.0, 60.0], rps


def test_the_flows_beat_the_covering_program_where_rates_differ():
    spec = shared_replica()
    sk = form_knapsacks(services([spec]))[0][2]
    assert covering_bound(sk) == pytest.approx(100.0, rel=1e-6)
    assert flow_bound(sk) == pytest.approx(160.0, rel=1e-6) == pytest.approx(brute_force([spec]), rel=1e-9)
    assert lp_floor(sk) < 100.0


@pytest.mark.parametrize("seed", range(8))
def test_the_bound_is_the_brute_force_optimum_and_never_under_the_covering_one(seed):
    rng = np.random.default_rng(400 + seed)
    spec = random_service(rng, "four", 4)
    sk = form_knapsacks(services([spec]))[0][2]
    expected = brute_force([spec])
    bound = flow_bound(sk)
    assert bound <= expected * (1 + 1e-9)
    assert bound == pytest.approx(expected, rel=1e-6)   # small programs: proven within the node limit
    assert bound >= covering_bound(sk) * (1 - 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_the_row_cuts_off_no_plan(seed):
    spec = random_service(np.random.default_rng(500 + seed), "four", 4)
    form = services([spec])
    expected = brute_force([spec])
    bounded = with_flow_bounds(form)
    assert bounded.n_cols == form.n_cols and "replica_flow_bound" not in form.families
    solved = highs.solve(bounded, EXACT)
    assert solved.status == "optimal" and solved.objective == pytest.approx(expected, rel=1e-9)
    assert highs.solve(relaxed(bounded), EXACT).objective <= expected * (1 + 1e-9)


def test_an_open_part_gets_the_flow_row_and_its_lp_rises():
    form = services([shared_replica()])
    part = Part(form, np.arange(form.n_cols), np.arange(form.n_rows))
    rows = _open_part_rows(part).form
    assert rows.families["replica_flow_bound"].lower[0] == pytest.approx(160.0, rel=1e-6)
    assert highs.solve(relaxed(rows), EXACT).objective == pytest.approx(160.0, rel=1e-6)
    assert highs.solve(relaxed(form), EXACT).objective < 160.0 - 1.0


@pytest.mark.parametrize("seed", range(4))
def test_parts_left_open_keep_the_brute_force_optimum_with_the_row(seed, monkeypatch):
    """A first round of one node leaves four-population parts open; the next runs with their flow rows."""
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    rng = np.random.default_rng(600 + seed)
    parts_at_brute_force([random_service(rng, "four", 4), random_service(rng, "other", 4), shared_replica()])


def test_the_next_round_makes_open_parts_flow_rows_in_its_thread():
    """_open_rows_in_time: a four-population part the first round left open (it ran with its rows up front) runs
    next with its flow row, made by the round's prepare; a part taken apart by slice is left as it is."""
    form = services([shared_replica()])
    part = Part(form, np.arange(form.n_cols), np.arange(form.n_rows))
    first = decompose._with_rows_up_front(part)
    prepare = decompose._open_rows_in_time([0, 1], {1}, [part, part], [first, first], float("inf"), frozenset())
    assert "replica_flow_bound" in prepare(0, first).form.families
    assert prepare(1, first) is first
