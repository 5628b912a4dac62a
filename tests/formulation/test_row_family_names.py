"""A row family's name is its identity in `families`: adding a second family of the same name is refused (it
would replace the first in the dict while the first's rows stayed counted, and every backend reading the families
would read rows past the bounds); pipeline/part_rows.with_part_rows picks a free name where the model carries
such rows already (a carbon-bound model priced after solve._automatic_cuts gave it the parts' rows)."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.formulation.model import Formulation


def test_a_family_name_is_taken_once():
    form = Formulation()
    x = form.add_vars("x", [(0,), (1,)], ub=1.0, cost=1.0)
    form.add_rows("cap", [(0,)], [0, 0], x.cols, [1.0, 1.0], upper=1.0)
    with pytest.raises(ValueError, match="'cap' is already in the model"):
        form.add_rows("cap", [(0,)], [0], x.cols[:1], [1.0], lower=0.5)
    assert form.n_rows == 1 and sum(f.size for f in form.families.values()) == 1
    lower, upper = form.row_bounds()
    assert form.matrix().shape[0] == len(lower) == len(upper) == 1
    np.testing.assert_array_equal(upper, [1.0])


def test_a_free_name_is_the_base_or_the_first_number_not_taken():
    form = Formulation()
    x = form.add_vars("x", [(0,), (1,)], ub=1.0, cost=1.0)
    assert form.free_family_name("cap") == "cap"
    form.add_rows("cap", [(0,)], [0, 0], x.cols, [1.0, 1.0], upper=1.0)
    assert form.free_family_name("cap") == "cap1"
    form.add_rows("cap1", [(0,)], [0], x.cols[:1], [1.0], upper=1.0)
    assert form.free_family_name("cap") == "cap2"
