"""Formulation.copy (formulation/model.py): the copy every row-adding helper starts from (split.relaxed,
replica_bound, replica_cover, dominated, slices_apart, carbon_cuts, decompose). What is added to the copy stays
out of the original; the time layout and the objective offset stay with the model (before, eight of them dropped
both); the cached matrix is reused until the copy has rows of its own."""

from __future__ import annotations

import numpy as np

from fleetopt.formulation.model import Formulation
from fleetopt.formulation.split import relaxed


def small() -> Formulation:
    form = Formulation()
    x = form.add_vars("x", [(0,), (1,)], ub=3.0, cost=[1.0, 2.0], integer=True)
    form.add_rows("need", [("a",)], [0, 0], x.cols, [1.0, 1.0], lower=2.0)
    form.time = object()
    form.objective_offset = 7.5
    return form


def test_a_copy_keeps_the_model_and_leaves_the_original_as_it_was():
    form = small()
    before = form.matrix()
    out = form.copy()
    assert out.time is form.time and out.objective_offset == 7.5
    assert out.matrix() is before                     # same rows: the cache is shared
    out.add_rows("cap", [("b",)], [0], [1], [1.0], upper=1.0)
    out.add_vars("y", [(0,)], ub=1.0)
    assert list(form.families) == ["need"] and list(form.blocks) == ["x"]
    assert form.n_rows == 1 and form.n_cols == 2 and form.matrix() is before
    assert out.matrix().shape == (2, 3)
    assert np.array_equal(out.matrix().toarray()[:1, :2], before.toarray())


def test_the_relaxation_keeps_time_and_offset():
    form = small()
    lp = relaxed(form)
    assert lp.time is form.time and lp.objective_offset == 7.5
    assert not lp.col_arrays()[3].any() and form.col_arrays()[3].all()


def test_a_family_replaced_in_a_copy_is_seen_by_its_matrix():
    from dataclasses import replace

    form = small()
    form.matrix()
    out = form.copy()
    need = out.families["need"]
    out.families["need"] = replace(need, vals=np.array([3.0, 4.0]))
    assert out.matrix().toarray().tolist() == [[3.0, 4.0]]
    assert form.matrix().toarray().tolist() == [[1.0, 1.0]]
    del form   # the original's families may go: the cache holds what it was built from, not their ids
    out.families["need"] = replace(need, vals=np.array([5.0, 6.0]))
    assert out.matrix().toarray().tolist() == [[5.0, 6.0]]
