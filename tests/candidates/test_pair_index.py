"""tables.pair_index is the dictionary lookup it replaces: the last of repeated pairs, -1 where absent."""

import numpy as np
import pytest

from fleetopt.candidates.tables import pair_index


@pytest.mark.parametrize("seed", range(20))
def test_pair_index_is_a_dict_lookup(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(0, 40)), int(rng.integers(0, 60))
    ka, kb = rng.integers(0, 5, n), rng.integers(0, 7, n)     # repeats on purpose
    a, b = rng.integers(0, 6, m), rng.integers(0, 8, m)
    table = {(int(x), int(y)): i for i, (x, y) in enumerate(zip(ka, kb))}
    want = [table.get((int(x), int(y)), -1) for x, y in zip(a, b)]
    assert pair_index(ka, kb, a, b).tolist() == want
