"""Flows a solver leaves on options without replicas, snapped to zero.

A MILP solver holds rows to its feasibility tolerance (HiGHS: 1e-6, scaled), so a part's plan may route 2e-6
requests/s through an option it buys no replica of: replica_capacity holds within that tolerance, but the plan
then states traffic where nothing runs, and fleetopt verify (route_needs_replica, absolute tolerance 1e-6) names
it (x100 after the fifth session: 2.25e-6 req/s on one of 656k columns). Such flows are set to zero and the rest
of each demand row they sat in is scaled to meet its demand again (a relative change of that order, well within
every capacity row's tolerance). Nothing else moves; a plan without stray flows is returned as it is.
"""

from __future__ import annotations

import numpy as np

from fleetopt.formulation.dominated import capacity_rates
from fleetopt.formulation.model import Formulation


def without_stray_flows(form: Formulation, x: np.ndarray) -> np.ndarray:
    """`x` with every flow on an option whose replicas round to zero set to zero, its demand rows met again; `x`
    as it is when the capacity rows are not of the shape formulation/dominated.capacity_rates reads."""
    cap, dem = form.families.get("replica_capacity"), form.families.get("demand")
    n, f = form.blocks.get("replicas"), form.blocks.get("flow")
    if cap is None or dem is None or n is None or f is None:
        return x
    rates = capacity_rates(form, n, f, cap)
    if rates is None:
        return x
    route_option = rates[0]
    flow = f.start + np.flatnonzero(route_option >= 0)
    replica = n.start + route_option[route_option >= 0]
    stray = (x[flow] > 0) & (np.round(x[replica]) == 0)
    if not stray.any():
        return x
    out = x.copy()
    out[flow[stray]] = 0.0
    # each demand row that lost a stray flow: its other flows scaled to meet the demand again
    in_row = np.isin(dem.cols, flow[stray])
    for r in np.unique(dem.rows[in_row]):
        cols = dem.cols[dem.rows == r]
        carried = float(out[cols].sum())
        if carried > 0:
            out[cols] *= dem.lower[r] / carried
    return out
