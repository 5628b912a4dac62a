"""The training fronts of candidates/training.py: one pass over rows sorted by (level, hours, storage, index)
keeps exactly what pareto_mask keeps, and the presorted order's fallback (a full sort, taken when rounding breaks
the presorted order; no shipped tier needs it) gives the same table."""

from __future__ import annotations

import numpy as np
import pytest

import fleetopt.candidates.training as training
from fleetopt.candidates.training import _sorted, _sorted_fronts, enumerate_training, pareto_mask
from fleetopt.io.load import load_instance
from fleetopt.paths import default_instance


@pytest.mark.parametrize("seed", range(30))
def test_sorted_fronts_keep_what_pareto_mask_keeps(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    level = rng.integers(0, 6, n)
    hours = rng.integers(1, 25, n).astype(float)      # few values: ties within and across levels
    storage = rng.integers(1, 25, n).astype(float)
    order = np.lexsort((np.arange(n), storage, hours, level))
    assert _sorted(level[order], hours[order], storage[order], order)
    keep, plain = _sorted_fronts(level[order], hours[order], storage[order])
    got = np.sort(order[keep])
    want = np.flatnonzero(pareto_mask(level, hours, storage))
    assert np.array_equal(got, want)
    # without storage, among the survivors (in index order, as the second pruning sees them)
    back = np.argsort(order[keep])
    want_plain = pareto_mask(level[got], hours[got], np.zeros(len(got)))
    assert np.array_equal(plain[back], want_plain)


def test_sorted_spots_rows_out_of_order():
    level, hours, storage = np.array([0, 0, 1]), np.array([1.0, 1.0, 0.5]), np.array([2.0, 1.0, 1.0])
    assert not _sorted(level, hours, storage, np.arange(3))               # equal hours, storage falling
    assert not _sorted(np.array([0, 0]), np.array([1.0, 1.0]), np.array([1.0, 1.0]), np.array([1, 0]))
    assert _sorted(np.array([0, 1]), np.array([2.0, 1.0]), np.array([1.0, 2.0]), np.array([5, 0]))


def test_fallback_sort_gives_the_same_table(monkeypatch):
    inst = load_instance(default_instance())
    want = enumerate_training(inst)
    monkeypatch.setattr(training, "_sorted", lambda *args: False)
    got = enumerate_training(inst)
    assert got.stats == want.stats
    for name in got.__dataclass_fields__:
        a, b = getattr(got, name), getattr(want, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), name


@pytest.mark.parametrize("tight_every", [1, 2, 3])
def test_storage_tight_in_some_regions_gives_the_reference_table(monkeypatch, tight_every):
    """No shipped tier has a region where storage may bind; forced in every 1st, 2nd or 3rd region, the fronts
    (pruned once per front, with and without storage) still give the plain enumeration's table."""
    import training_reference  # tests/training_reference.py: the enumeration before shared tables, an oracle

    def some(inst, names, jobs):
        return np.arange(len(names)) % tight_every == 0

    monkeypatch.setattr(training, "storage_may_bind", some)
    monkeypatch.setattr(training_reference, "storage_may_bind", some)
    inst = load_instance(default_instance())
    got, want = enumerate_training(inst), training_reference.enumerate_training(inst)
    assert got.stats == want.stats
    for name in got.__dataclass_fields__:
        a, b = getattr(got, name), getattr(want, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), name
