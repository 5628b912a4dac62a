"""The array kernels of formulation/replica_bound.py give the very numbers of their definitions (not merely close:
the bound rows must not move), including +inf entries, prefixes and the cover's cap; the residue table never
above its definition and below it by no more than the rounding it takes off."""

import numpy as np

from fleetopt.formulation.replica_bound import BLOCK, RESIDUE_CELLS, _cycle_paths, _leftover, _min_plus, _min_plus_cover


def _with_infinities(rng, n: int) -> np.ndarray:
    a = rng.random(n) * 10
    a[rng.random(n) < 0.3] = np.inf
    return a


def _min_plus_loop(a, b):
    out = np.full(len(a) + len(b) - 1, np.inf)
    for i in range(len(a)):
        for j in range(len(b)):
            out[i + j] = min(out[i + j], a[i] + b[j])
    return out


def test_min_plus_is_the_double_loop_exactly_with_infinities_and_prefixes():
    rng = np.random.default_rng(1)
    for _ in range(40):
        a, b = _with_infinities(rng, int(rng.integers(1, 12))), _with_infinities(rng, int(rng.integers(1, 12)))
        want = _min_plus_loop(a, b)
        assert np.array_equal(_min_plus(a, b), want)
        size = int(rng.integers(1, len(want) + 3))
        assert np.array_equal(_min_plus(a, b, size), want[:size])


def test_min_plus_and_leftover_over_several_blocks():
    """Operands longer than a block, one of them with a whole block of +inf (skipped)."""
    rng = np.random.default_rng(6)
    for la, lb in ((2 * BLOCK + 5, 3 * BLOCK - 7), (BLOCK + 1, 2), (3 * BLOCK, 3 * BLOCK)):
        a, b = _with_infinities(rng, la), _with_infinities(rng, lb)
        a[BLOCK:2 * BLOCK] = np.inf
        want = np.full(la + lb - 1, np.inf)
        for i in np.flatnonzero(np.isfinite(a)):
            want[i:i + lb] = np.minimum(want[i:i + lb], a[i] + b)
        assert np.array_equal(_min_plus(a, b), want)
        assert np.array_equal(_min_plus(b, a, la), want[:la])
    n = 3 * BLOCK + 11
    split, gain = _with_infinities(rng, n), _with_infinities(rng, n)
    gain[:BLOCK] = np.inf
    want = np.array([np.min(split[ell:] + gain[:n - ell]) for ell in range(n)])
    assert np.array_equal(_leftover(split, gain), want)


def _steps(rng, n: int, runs: int) -> np.ndarray:
    """n entries in `runs` runs of equal values (some +inf), as the bound's curves often are."""
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(runs, n) - 1, replace=False)) if min(runs, n) > 1 else []
    values = np.round(rng.random(len(cuts) + 1) * 10, 1)
    values[rng.random(len(values)) < 0.2] = np.inf
    return np.repeat(values, np.diff(np.r_[0, cuts, n]).astype(int))


def test_min_plus_by_runs_and_by_blocks_are_the_same_numbers(monkeypatch):
    """Both paths of _min_plus (run by run, in blocks), each forced, on operands of few runs, many runs and
    +inf stretches longer than a block: the double loop's numbers exactly, prefixes included."""
    import fleetopt.formulation.replica_bound as replica_bound

    rng = np.random.default_rng(7)
    cases = [(_steps(rng, 2 * BLOCK + 9, 3), _with_infinities(rng, 3 * BLOCK)),
             (_steps(rng, 300, 40), _steps(rng, 150, 1)),
             (_with_infinities(rng, 2 * BLOCK), _with_infinities(rng, BLOCK + 3)),
             (np.zeros(40), np.r_[np.full(BLOCK + 1, np.inf), rng.random(20)])]
    for runs_max in (-1, 10 ** 9):
        monkeypatch.setattr(replica_bound, "RUNS_MAX", runs_max)
        for a, b in cases:
            want = _min_plus_loop(a, b)
            assert np.array_equal(_min_plus(a, b), want)
            assert np.array_equal(_min_plus(b, a, len(a)), want[:len(a)])


def test_min_plus_cover_is_its_definition_exactly():
    rng = np.random.default_rng(2)
    for _ in range(30):
        span = int(rng.integers(2, 10))
        a, b = _with_infinities(rng, span + 1), _with_infinities(rng, span + 1)
        want = np.full(span + 1, np.inf)
        for i in range(len(a)):
            for j in range(len(b)):
                for y in range(min(i + j, span) + 1):
                    want[y] = min(want[y], a[i] + b[j])
        assert np.array_equal(_min_plus_cover(a, b, span), want)


def test_leftover_is_its_definition_exactly():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 12))
        split, gain = _with_infinities(rng, n), _with_infinities(rng, n)
        want = np.array([min([split[x + ell] + gain[x] for x in range(n - ell)], default=np.inf)
                         for ell in range(n)])
        assert np.array_equal(_leftover(split, gain), want)


def test_cycle_paths_are_the_least_costs_on_the_cycle():
    """Against Bellman-Ford to its fixed point (rounded addition is monotone, so the fixed point is unique),
    duplicated step lengths included (the cheaper one counts): the same residues reached, never a cost above
    it (the bound stays a bound), and below it by no more than the rounding slack taken off."""
    rng = np.random.default_rng(4)
    for _ in range(40):
        m = int(rng.integers(3, 40))
        cells = rng.integers(1, m, size=int(rng.integers(1, 5)))
        cost = rng.random(len(cells)) * 10.0 ** rng.integers(0, 6) + 0.1
        want = np.full(m, np.inf)
        want[0] = 0.0
        for _ in range(m * len(cells)):
            for c, w in zip(cells, cost):
                want = np.minimum(want, np.roll(want, c) + w)
        got = _cycle_paths(cells, cost, m)
        reached = np.isfinite(want)
        assert np.array_equal(np.isfinite(got), reached)
        assert got[0] == 0.0
        assert (got[reached] <= want[reached]).all()
        assert np.allclose(got[reached], want[reached], rtol=0, atol=1e-9 * cost.max())


def test_cycle_paths_on_the_bounds_grid():
    """On the grid the bound uses (RESIDUE_CELLS cells), steps of 3 cells ($4) and 5 cells ($7): every residue
    is reached, and those below 60 at the least cost of 3a + 5b = r, known by enumeration (going once around the
    cycle costs thousands of steps)."""
    m = RESIDUE_CELLS
    got = _cycle_paths(np.array([3, 5]), np.array([4.0, 7.0]), m)
    want = np.full(m, np.inf)
    for a in range(0, 40):
        for b in range(0, 40):
            r = (3 * a + 5 * b) % m
            want[r] = min(want[r], 4.0 * a + 7.0 * b)
    small = np.isfinite(want) & (np.arange(m) < 60)
    assert (got[small] <= want[small]).all()
    assert np.allclose(got[small], want[small], rtol=0, atol=1e-6)
    assert np.isfinite(got).all()
