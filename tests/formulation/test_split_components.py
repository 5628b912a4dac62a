"""formulation/split.py labels parts without scipy.sparse.csgraph: the same parts as csgraph's connected
components, numbered by each part's first column."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from fleetopt.formulation.split import _connected


def test_connected_matches_csgraph_on_random_graphs():
    rng = np.random.default_rng(5)
    for _ in range(60):
        n = int(rng.integers(1, 60))
        k = int(rng.integers(0, 2 * n))
        u, v = rng.integers(0, n, size=k), rng.integers(0, n, size=k)
        least = _connected(n, u, v)
        _, want = connected_components(sp.coo_matrix((np.ones(k), (u, v)), shape=(n, n)), directed=False)
        # the same partition, each node labelled with its component's least node
        first = {c: int(np.flatnonzero(want == c)[0]) for c in np.unique(want)}
        assert np.array_equal(least, np.array([first[c] for c in want]))


def test_connected_joins_a_long_path_given_in_the_worst_order():
    n = 1000
    order = np.r_[np.arange(0, n, 2), np.arange(1, n, 2)[::-1]]   # a path through every node, zigzagging
    assert np.array_equal(_connected(n, order[:-1], order[1:]), np.zeros(n, dtype=int))
