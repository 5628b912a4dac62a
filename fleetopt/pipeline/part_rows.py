"""Parts that know replicas are whole: each part of a priced model with its services' whole-replica bound rows
(formulation/replica_bound.py) and rounded cover rows (formulation/replica_cover.py). They are valid rows on the
part's own columns (every whole-replica plan meets them), so the part's MILP optimum and its plans stay the same,
and its LP comes close to its MILP: scarce x10's whole LP is 29.02M plain, 29.94M with the bound rows, 30.11M
with the cover rows too, against a best plan of 30.24M (benchmarks/RESULTS.md). pipeline/lagrange.py bounds and
prices with them. Source: Gomory 1965 (the group relaxation) via replica_bound.py; Chvatal-Gomory rounding via
replica_cover.py.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from fleetopt.backends.highs import lp_values
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.cover_bound import with_cover_bounds
from fleetopt.formulation.flow_bound import with_flow_bounds
from fleetopt.formulation.model import Formulation
from fleetopt.formulation.replica_bound import form_knapsacks, with_form_replica_bounds
from fleetopt.formulation.replica_cover import with_cover_rows
from fleetopt.formulation.split import Part

LOG = logging.getLogger(__name__)


@dataclass
class Strong(Part):
    """A part with its services' whole-replica rows appended (`plain`: the part without them)."""
    plain: Part | None = None


def strengthened(parts: list[Part], form: Formulation, lp_x: np.ndarray | None, backend, options: SolveOptions,
                 ends: float) -> list[Part]:
    """The parts with their services' whole-replica bound rows (formulation/replica_bound.py) and rounded cover
    rows (replica_cover.py): valid rows on each part's own columns, so its plans and bounds stay the part's, and
    its LP comes close to its MILP (scarce x10's whole LP: 29.02M plain, 29.94M with the bound rows, 30.11M with
    the cover rows too, against the best plan's ~30.3M), which lifts both the part-LP rounds' bounds and the part
    MILPs'. Parts whose LP loses most by rounding up first, until `ends`; none on a model over time slices
    (replica_bound=False: none at all). `backend.workers` threads make them."""
    if form.time is not None or options.replica_bound is False or time.monotonic() >= ends:
        return parts
    cost, _, _, integer = form.col_arrays()
    order = np.arange(len(parts))
    if lp_x is not None:    # the parts whose LP loses most by rounding up first; none where it is whole
        loss = np.array([float(cost[q.cols] @ (np.where(integer[q.cols], np.ceil(lp_x[q.cols] - 1e-9),
                                                         lp_x[q.cols]) - lp_x[q.cols])) for q in parts])
        order = np.argsort(-loss, kind="stable")[:int((loss > 0).sum())]

    def one(i: int) -> Part:
        q = parts[i]
        if time.monotonic() >= ends:
            return q
        strong = part_with_rows(q).form
        return q if strong.n_rows == q.form.n_rows else Strong(strong, q.cols, q.rows, plain=q)

    workers = max(1, min(getattr(backend, "workers", 1), len(parts)))
    with ThreadPoolExecutor(workers) as pool:
        done = dict(zip(order, pool.map(one, order)))
    LOG.debug("whole-replica rows on %d of %d parts", sum(isinstance(q, Strong) for q in done.values()), len(parts))
    return [done.get(i, q) for i, q in enumerate(parts)]


def part_with_rows(part: Part, most_populations: int | None = None, programs_over: int | None = None,
                   flows_over: int | None = None, flow_services: set[str] | None = None) -> Part:
    """The part with the whole-replica bound rows (formulation/replica_bound.py) of its services of up to
    `most_populations` populations (None: all), the covering-program rows (formulation/cover_bound.py) of those
    of more than `programs_over` (None: none), the flow-program rows (formulation/flow_bound.py) of those of more
    than `flows_over` (None: none; of those only `flow_services` where given) and the rounded cover rows
    (replica_cover.py) of those of up to replica_cover.MOST_POPULATIONS, its services' knapsacks read once for
    all (the rows appended leave the demand and capacity rows they are read from as they were). What
    pipeline/decompose.py gives a fractional part up front and `strengthened` gives a priced one; valid rows, so
    the part's plans and bounds stay its own."""
    knapsacks = form_knapsacks(part.form)
    pops = {name: int((sk.demand > 0).sum()) for name, _, sk in knapsacks}
    bounded = {name for name, p in pops.items() if most_populations is None or p <= most_populations}
    form = with_form_replica_bounds(part.form, bounded, knapsacks) if bounded else part.form
    programs = {name for name, p in pops.items() if programs_over is not None and p > programs_over}
    form = with_cover_bounds(form, programs, knapsacks) if programs else form
    flows = {name for name, p in pops.items() if flows_over is not None and p > flows_over
             and (flow_services is None or name in flow_services)}
    form = with_flow_bounds(form, flows, knapsacks) if flows else form
    return Part(with_cover_rows(form, lp=lp_values, knapsacks=knapsacks), part.cols, part.rows)


def with_part_rows(form: Formulation, shared: np.ndarray, parts: list[Part]) -> tuple[Formulation, np.ndarray]:
    """The whole model with the strengthened parts' own rows appended (one family, `part_rows`), and the
    shared-row mask over its rows (the appended rows are not shared)."""
    rows, cols, vals, lower, upper, n = [], [], [], [], [], 0
    for q in parts:
        if not isinstance(q, Strong):
            continue
        for name, f in q.form.families.items():
            if name in q.plain.form.families:
                continue
            rows.append(f.rows + n)
            cols.append(q.cols[f.cols])
            vals.append(f.vals)
            lower.append(f.lower)
            upper.append(f.upper)
            n += f.size
    if not n:
        return form, shared
    out = form.copy()
    # a model may carry such rows already (solve._automatic_cuts gives them to a carbon-bound one before pricing)
    out.add_rows(form.free_family_name("part_rows"), [(k,) for k in range(n)], np.concatenate(rows),
                 np.concatenate(cols), np.concatenate(vals), lower=np.concatenate(lower), upper=np.concatenate(upper))
    return out, np.concatenate([shared, np.zeros(n, dtype=bool)])


def plain(part: Part) -> Part:
    """The part without its whole-replica rows."""
    return part.plain if isinstance(part, Strong) else part


def with_rows_of(reduced: Part, strong: Part) -> Part:
    """`reduced` (the plain part, costs and bounds changed) with `strong`'s whole-replica rows appended."""
    if not isinstance(strong, Strong):
        return reduced
    out = strong.form.copy()          # its rows (and their cached matrix), with the reduced part's columns
    out.blocks = dict(reduced.form.blocks)
    return Part(out, reduced.cols, reduced.rows)
