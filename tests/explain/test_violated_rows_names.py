"""explain/runner_up.violated_rows names each violated row as Formulation.row_names() does, naming only those
rows (it is called once per training job, and naming every row of x10 each time took 0.5 s)."""

from __future__ import annotations

import numpy as np

from fleetopt.api import build_problem
from fleetopt.explain.runner_up import violated_rows
from fleetopt.io.load import load_instance
from fleetopt.paths import default_instance


def test_violated_rows_are_named_as_the_formulation_names_them():
    problem = build_problem(load_instance(default_instance()))
    form = problem.form
    x = np.zeros(form.n_cols)        # nothing deployed: every demand and job-choice row is short
    activity, (lower, _) = form.matrix() @ x, form.row_bounds()
    names = form.row_names()
    short = [names[i] for i in np.flatnonzero(activity < lower - 1e-6 * np.maximum(1.0, np.abs(lower)))]
    out = violated_rows(problem, x)
    assert short and [line.split(" (")[0] for line in out] == short
