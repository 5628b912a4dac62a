"""formulation/stray.py: flows within the solver's tolerance on options without replicas are snapped to zero and
their demand rows met again (x100's plan once routed 2.25e-6 req/s through an option with no replica, and
fleetopt verify named it); a plan without such flows comes back unchanged."""

from __future__ import annotations

import numpy as np

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.stray import without_stray_flows
from fleetopt.io.load import load_instance
from fleetopt.pipeline.problem import build_problem
from helpers import TINY


def solved():
    form = build_problem(load_instance(TINY)).form
    return form, highs.solve(form, SolveOptions(mip_rel_gap=1e-6, time_limit_s=60)).x


def test_a_clean_plan_comes_back_as_it_is():
    form, x = solved()
    x = np.where(np.abs(x) < 1e-9, 0.0, x)
    assert without_stray_flows(form, x) is x


def test_a_stray_flow_is_snapped_and_its_demand_met_again():
    form, x = solved()
    x = np.where(np.abs(x) < 1e-9, 0.0, x)
    n, f, cap, dem = form.blocks["replicas"], form.blocks["flow"], form.families["replica_capacity"], \
        form.families["demand"]
    # a flow column whose option has no replica, and a used flow of the same demand row to take 2e-6 from
    rep_of_row = {int(r): int(c) for r, c in zip(cap.rows, cap.cols) if n.start <= c < n.start + n.size}
    idle = [int(c) for r, c in zip(cap.rows, cap.cols) if f.start <= c < f.start + f.size
            and np.round(x[rep_of_row[int(r)]]) == 0]
    row_of = {int(c): int(r) for r, c in zip(dem.rows, dem.cols)}
    pick = next(c for c in idle if any(x[k] > 1e-3 for k in dem.cols[dem.rows == row_of[c]]))
    donor = next(int(k) for k in dem.cols[dem.rows == row_of[pick]] if x[k] > 1e-3)
    dirty = x.copy()
    dirty[pick], dirty[donor] = 2.25e-6, x[donor] - 2.25e-6
    clean = without_stray_flows(form, dirty)
    assert clean[pick] == 0.0
    row = dem.cols[dem.rows == row_of[pick]]
    assert abs(clean[row].sum() - dem.lower[row_of[pick]]) <= 1e-12 * dem.lower[row_of[pick]]
    others = np.setdiff1d(np.arange(form.n_cols), row)
    assert np.array_equal(clean[others], dirty[others])
