"""decompose._run starts a round's parts largest first, or in the caller's order with `in_order` (the priced
rounds: lagrange._worth_first puts first what a round the clock cuts must have done)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import Part
from fleetopt.pipeline.decompose import Backend, _run


def part(units: int) -> Part:
    """A covering MILP of `units` integer columns and one row: larger parts have more integer columns."""
    form = Formulation()
    x = form.add_vars("units", [(j,) for j in range(units)], lb=0, ub=3, cost=np.linspace(1, 2, units),
                      integer=True)
    form.add_rows("need", [(0,)], np.zeros(units, dtype=int), x.cols, np.ones(units), lower=2.0)
    return Part(form, np.arange(units), np.arange(1))


@pytest.mark.parametrize("in_order", [True, False])
def test_parts_start_in_the_order_asked(in_order):
    sizes = [1, 6, 2, 5, 3, 4]          # list order differs from largest first
    parts = [part(n) for n in sizes]
    started, lock = [], threading.Lock()

    def recording(form, options):
        with lock:
            started.append(form.n_cols)
        return highs.solve(form, options)

    results = _run(Backend(recording, workers=2), parts, [SolveOptions(threads=1)] * len(parts), 1e18,
                   in_order=in_order)
    assert all(r.x is not None for r in results)
    expected = sizes if in_order else sorted(sizes, reverse=True)
    # two workers take the queue in turn: a part starts at most one place from where the order puts it
    assert all(abs(started.index(n) - expected.index(n)) <= 1 for n in sizes)
    assert [r.objective for r in results] == pytest.approx([2.0] * len(parts))
