"""The last open part after a first round runs without a node limit (pipeline/decompose._node_limit): rounds'
node limits only share the gap budget among open parts, and each round starts its tree anew. Parts solved so keep
the brute-force optimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.pipeline import decompose
from fleetopt.pipeline.decompose import FIRST_NODE_LIMIT, NODE_GROWTH, Backend, _node_limit, solve_by_parts

from solving.test_parts_rows_up_front import EXACT, brute_force, random_service, services


def test_only_the_last_open_part_after_the_first_round_runs_without_a_limit():
    later = FIRST_NODE_LIMIT * NODE_GROWTH
    assert _node_limit(later, False, 1) == 0 and _node_limit(later, True, 1) == 0
    assert _node_limit(later, False, 2) == later
    assert _node_limit(FIRST_NODE_LIMIT, False, 1) == FIRST_NODE_LIMIT   # a first round keeps its limit
    assert _node_limit(FIRST_NODE_LIMIT, True, 3) == 1                   # parts taken apart by slice: the root


@pytest.mark.parametrize("seed", range(4))
def test_a_last_part_run_to_its_allowance_keeps_the_optimum(seed, monkeypatch):
    monkeypatch.setattr(decompose, "FIRST_NODE_LIMIT", 1)
    rng = np.random.default_rng(400 + seed)
    spec = [random_service(rng, "a", 3), random_service(rng, "b", 1)]
    limits = []
    backend = Backend(lambda f, o: limits.append(o.node_limit) or highs.solve(f, o), workers=2)
    parted = solve_by_parts(services(spec), backend, replace(EXACT, replica_bound=None))
    expected = brute_force(spec)
    assert parted.status == "optimal" and parted.objective == pytest.approx(expected, rel=1e-9)
    assert parted.bound <= expected * (1 + 1e-9)
    assert set(limits) <= {0, 1, NODE_GROWTH}   # LPs apart (0), first round (1), a later one with one open part
