"""Why no plan exists, and which changes make one exist: every claim checked by a re-solve.

- Screening (no candidate meets a job's deadline, no route meets an SLO): read from the candidates
  (explain/screening.py).
- MILP: an irreducible infeasible subsystem (highspy getIis on the LP relaxation; a deletion filter over
  rows with MILP feasibility checks when the relaxation is feasible), each row named family[key] with its
  limit and units.
- Relaxation: elastic slacks on the rows of every family whose facts declare a setting that loosens it
  (fleetopt/facts.py: carbon budget, power caps, storage, deadlines, inventory), weighted by 1 / limit so that
  the sum of relative raises is minimized, in one MILP: the cheapest set. Then each relaxable row of the IIS or
  of that set gets the same MILP with only its own slack: the least change of that setting alone, or proof
  that no change of it alone (within the candidate spans below) makes a plan exist.
- Verification: the set is applied to the instance and solved again ("all of these together"); each single
  change is applied alone and solved again ("any one of these"). Only what a re-solve confirms is advised.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from fleetopt.pipeline.problem import Problem, build_problem
from fleetopt.pipeline.solve import solve_problem
from fleetopt.backends.highs import quiet_highs, to_lp
from fleetopt.backends.result import SolveOptions
from fleetopt.candidates.training import enumerate_training
from fleetopt.plan.explanation import IisMember, Infeasibility, Relaxation
from fleetopt.explain.screening import number, relaxation, round_up, screening_diagnosis  # noqa: F401
from fleetopt.facts import FAMILIES, facts
from fleetopt.formulation.families import build
from fleetopt.formulation.model import Formulation, key_name
from fleetopt.formulation.time import slice_labels
from fleetopt.io.schema import Instance

CANDIDATE_SPANS = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
SLACK_TOL = 1e-7
BOUND_NAMES = {2: "lower", 3: "upper", 4: "both"}
STOCK_OUT_OF_REACH = 10**6  # replica bounds of the elastic model: no stock limits them (the rows do)
MAX_SINGLES = 8           # relaxable rows tried alone (each one more MILP and one re-solve)
WIDTH = 80                # terminal lines
IIS_ROWS_SHOWN = 4        # rows of one family the terminal lists; the plan JSON has them all


# ---------------------------------------------------------------- IIS


def _milp_infeasible(form: Formulation, lower, upper, time_limit_s: float) -> bool:
    import highspy

    lp = to_lp(form, highspy)
    lp.col_cost_ = np.zeros(form.n_cols)
    lp.row_lower_, lp.row_upper_ = lower, upper
    h = quiet_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(lp)
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kInfeasible


def deletion_filter(form: Formulation, time_limit_s: float = 10.0) -> list[int]:
    """Rows of an irreducible infeasible subsystem of the MILP: drop whole families, then single rows, keeping
    each drop that leaves the model infeasible (Chinneck & Dravnieks 1991, deletion filter)."""
    lower, upper = (b.copy() for b in form.row_bounds())
    active = np.ones(form.n_rows, dtype=bool)

    def still_infeasible(mask):
        return _milp_infeasible(form, np.where(mask, lower, -np.inf), np.where(mask, upper, np.inf), time_limit_s)

    for fam in form.families.values():
        trial = active.copy()
        trial[fam.start:fam.start + fam.size] = False
        if still_infeasible(trial):
            active = trial
    for i in np.flatnonzero(active):
        trial = active.copy()
        trial[i] = False
        if still_infeasible(trial):
            active = trial
    return [int(i) for i in np.flatnonzero(active)]


def find_iis(form: Formulation, time_limit_s: float = 10.0) -> tuple[list[int], list[str], str]:
    """(rows, bound of each row, method) of an irreducible infeasible subsystem."""
    import highspy

    lp = to_lp(form, highspy)
    lp.integrality_ = []
    h = quiet_highs()
    h.setOptionValue("iis_strategy", 6)   # 2|4: a true IIS of the LP (correct from highspy 1.13)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        status, iis = h.getIis()
        if status == highspy.HighsStatus.kOk and iis.valid_ and len(iis.row_index_):
            return ([int(i) for i in iis.row_index_], [BOUND_NAMES.get(int(b), "both") for b in iis.row_bound_],
                    "highspy getIis on the LP relaxation (iis_strategy 6)")
    rows = deletion_filter(form, time_limit_s)
    return (rows, ["both"] * len(rows),
            "deletion filter over rows with MILP feasibility checks (the LP relaxation is feasible)")


def row_with_limit(form: Formulation, row: int, bound: str = "both") -> str:
    """'power_cap[eu-west] <= 0.012 MW': a row in the user's names with its limit and units."""
    fam, i = form.family_of_row(row)
    name = key_name(fam.name, fam.keys[i])
    lo, hi = float(fam.lower[i]), float(fam.upper[i])
    if lo == hi:
        return f"{name} = {number(hi)} {fam.units}"
    if bound == "lower" or not np.isfinite(hi):
        return f"{name} >= {number(lo)} {fam.units}"
    return f"{name} <= {number(hi)} {fam.units}"


def residency_notes(inst: Instance, members: list[IisMember]) -> list[str]:
    """Rules that act through the missing routes: residency of the populations in the IIS's demand rows."""
    rows: dict[str, list[str]] = {}
    for m in members:
        if m.family == "demand":
            population = m.name[m.name.index("[") + 1:-1].split(",")[-1]
            pop = inst.populations.get(population)
            if pop is not None and pop.allowed_jurisdictions is not None:
                rows.setdefault(population, []).append(m.name)
    return [f"residency[{p}]: {p} may only be served in {', '.join(inst.populations[p].allowed_jurisdictions)}, "
            f"so {', '.join(names)} {'has' if len(names) == 1 else 'have'} only routes there"
            for p, names in rows.items()]


# ---------------------------------------------------------------- settings of the instance


def slice_index(inst: Instance, family: str, key) -> int | None:
    """The slice a per-slice row family[key] holds in (its key's last field), or None for a horizon-wide row."""
    label = facts(family).key_fields(key).get("slice")
    labels = slice_labels(inst.timeline) if label is not None else []
    return labels.index(label) if label in labels else None


def setting_value(inst: Instance, family: str, key) -> float | None:
    """The current value of the setting that loosens row family[key] (None when it has none, or no limit); a
    profiled number's value in the row's slice."""
    f = facts(family)
    k = slice_index(inst, family, key)
    series = inst.timeline.values.get(f.setting_path(key)) if k is not None else None
    if series is not None:
        return float(series[k])
    node = inst
    for part in f.setting_parts(key):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None
    return float(node)


def target(r: Relaxation) -> tuple[str, str | None]:
    """What a relaxation changes: its setting, and the slice when the row holds per slice."""
    return r.setting, facts(r.family).key_fields(r.key).get("slice")


def apply_relaxations(inst: Instance, relaxations: list[Relaxation]) -> Instance:
    """A copy of `inst` with each relaxation's setting at its suggested value. A profiled number (a per-slice
    value in the timeline) changes in the row's slice only: its static value would not reach the slices."""
    out = inst.model_copy(deep=True)
    profiled, changed = dict(out.timeline.values), False
    for r in relaxations:
        if r.suggested is None:
            continue
        f = facts(r.family)
        value = int(r.suggested) if f.setting.integer else r.suggested
        k = slice_index(inst, r.family, r.key)
        if r.setting in profiled and k is not None:
            profiled[r.setting] = profiled[r.setting].copy()
            profiled[r.setting][k], changed = value, True
            continue
        *parents, last = f.setting_parts(r.key)
        node = out
        for part in parents:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        if isinstance(node, dict):
            node[last] = value
        else:
            setattr(node, last, value)
        if r.setting in profiled:   # a horizon-wide row of a profiled number: the value holds in every slice
            profiled[r.setting], changed = np.full(len(profiled[r.setting]), float(value)), True
    if changed:
        out._timeline = replace(out.timeline, values=profiled)
    return out


def plan_exists(inst: Instance, options: SolveOptions) -> tuple[bool, str]:
    """Solve `inst` again from scratch: (a plan exists, the status). Only existence is asked, so the first plan
    found answers (a relative gap of 1)."""
    plan, _ = solve_problem(build_problem(inst), "highs", replace(options, mip_rel_gap=1.0, start=None))
    return plan.has_plan, plan.status


# ---------------------------------------------------------------- elastic relaxation


def widened(inst: Instance, span: float) -> Instance:
    """A copy with every deadline and every GPU stock `span` times larger."""
    wide = inst.model_copy(deep=True)
    for job in wide.training.values():
        job.deadline_hours *= span
    for region in wide.regions.values():
        for stock in region.gpus.values():
            stock.count = int(stock.count * span)
            for block in (stock.reserved, stock.spot):   # procurement classes: each its own count
                if block is not None:
                    block.count = int(block.count * span)
    return wide


def elastic_problem(problem: Problem) -> Problem:
    """The built problem with room for its limits to move. Serving options and monitoring do not depend on
    deadlines or stock counts (only on which stock exists), so they are the built problem's own. The training
    table was pruned at the user's deadlines and stock, so a raise could never reach the candidates it dropped:
    it is enumerated again at every span and merged (dominance pruning keeps, for each deadline, only the
    candidates with the fewest GPUs that meet it), and the formulation is built over it, with the replica
    bounds of the widest stock. The rows keep the user's limits (elastic_relaxation sets them); only slacks
    move them."""
    inst = problem.inst
    wide = widened(inst, CANDIDATE_SPANS[-1])
    tc = problem.training
    if inst.training:
        tables = [enumerate_training(widened(inst, span)) for span in CANDIDATE_SPANS]
        tc = tables[-1]
        merged = {f: np.concatenate([getattr(t, f) for t in tables]) for f in tc.__dataclass_fields__
                  if isinstance(getattr(tc, f), np.ndarray)}
        tc = replace(tc, **merged)
    # replicas are bounded by the stock as well as by the demand they can carry: the formulation is built with
    # the stock out of reach, so only the inventory rows (at the user's limits, plus slack) bound them
    unbounded = widened(inst, CANDIDATE_SPANS[-1])
    for region in unbounded.regions.values():
        for stock in region.gpus.values():
            stock.count = max(stock.count, 1) * STOCK_OUT_OF_REACH if stock.count > 0 else 0
            for block in (stock.reserved, stock.spot):
                if block is not None and block.count > 0:
                    block.count *= STOCK_OUT_OF_REACH
    return Problem(wide, tc, problem.serving, problem.monitoring,
                   build(unbounded, tc, problem.serving, problem.monitoring))


class Elastic:
    """The formulation with one slack column per relaxable row (upper limits at the user's values): solving it
    with some slacks allowed gives the least weighted raise of those limits that makes a plan exist."""

    def __init__(self, problem: Problem, inst: Instance):
        """`problem` is elastic_problem's (widened candidates); the limits are the user's, read from `inst`."""
        import highspy

        self.inst, form = inst, problem.form
        lower, upper = (b.copy() for b in form.row_bounds())
        self.rows, self.limits, self.labels = [], [], []
        for fam in form.families.values():
            if fam.name not in FAMILIES or not facts(fam.name).relaxable():
                continue
            for i, key in enumerate(fam.keys):
                limit = setting_value(self.inst, fam.name, key)
                if limit is None or not np.isfinite(limit):
                    continue
                upper[fam.start + i] = limit
                self.rows.append(fam.start + i)
                self.limits.append(limit)
                self.labels.append((fam.name, [str(k) for k in key]))
        k = len(self.rows)
        a = sp.hstack([form.matrix(), sp.csr_matrix((-np.ones(k), (self.rows, np.arange(k))),
                                                    shape=(form.n_rows, k))]).tocsc()
        _, lb, ub, integer = form.col_arrays()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = form.n_cols + k, form.n_rows
        lp.col_cost_ = np.concatenate([np.zeros(form.n_cols), 1.0 / np.maximum(np.abs(self.limits), 1e-6)])
        lp.col_lower_ = np.concatenate([lb, np.zeros(k)])
        lp.row_lower_, lp.row_upper_ = lower, upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr.astype(np.int32), a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in np.concatenate([integer, np.zeros(k, bool)])]
        self.lp, self.ub, self.n_cols = lp, ub, form.n_cols

    def index(self, name: str) -> int | None:
        for j, (family, key) in enumerate(self.labels):
            if facts(family).row_name(key) == name:
                return j
        return None

    def solve(self, allowed: list[int], time_limit_s: float) -> np.ndarray | None:
        """Slack per relaxable row with only the `allowed` slacks free; None when no plan exists even so."""
        k = len(self.rows)
        free = np.zeros(k, dtype=bool)
        free[allowed] = True
        self.lp.col_upper_ = np.concatenate([self.ub, np.where(free, np.inf, 0.0)])
        h = quiet_highs()
        h.setOptionValue("time_limit", float(time_limit_s))
        h.passModel(self.lp)
        h.run()
        if h.getInfo().primal_solution_status != 2:
            return None
        return np.asarray(h.getSolution().col_value, dtype=float)[self.n_cols:]

    def changes(self, slack: np.ndarray) -> list[Relaxation]:
        out = []
        for s, limit, (family, key) in zip(slack, self.limits, self.labels):
            if s > SLACK_TOL * max(1.0, abs(limit)):
                raised = limit + s if facts(family).setting.integer else round_up(limit + s)
                out.append(relaxation(family, key, limit, raised))
        return out


def least_alone(elastic: Elastic, tried: list[int], limit_s: float) -> tuple[list[str], list[Relaxation]]:
    """For each relaxable row in `tried`, the elastic MILP with only its slack: (why lines naming the least limit
    it alone needs, or that none suffices; the single changes found)."""
    why, singles = [], []
    for j in tried[:MAX_SINGLES]:
        family, key = elastic.labels[j]
        row = f"{facts(family).row_name(key)} <= {number(elastic.limits[j])} {facts(family).units}"
        alone = elastic.solve([j], limit_s)
        if alone is None:
            why.append(f"{row}: no raise of it alone (up to {CANDIDATE_SPANS[-1]:g}x for deadlines and stock) "
                       "makes a plan exist")
            continue
        least = float(f"{elastic.limits[j] + alone[j]:.4g}")
        why.append(f"{row}: with every other limit kept, a plan needs {number(least)} {facts(family).units}")
        singles += elastic.changes(alone)
    return why, singles


def _named(r: Relaxation) -> str:
    setting, label = target(r)
    return setting if label is None else f"{setting} in slice {label}"


def confirmed(inst: Instance, changes: list[Relaxation], options: SolveOptions, checks: list[str]) -> bool:
    """Whether `changes` applied together make a plan exist, by a re-solve (recorded in `checks`)."""
    ok, status = plan_exists(apply_relaxations(inst, changes), options)
    what = (f"{_named(changes[0])} = {number(changes[0].suggested)} alone" if len(changes) == 1
            else f"all of {', '.join(_named(r) for r in changes)}")
    checks.append(f"re-solved with {what}: {status}")
    return ok


def verified_relaxations(problem: Problem, iis_names: list[str], options: SolveOptions, base: list[Relaxation],
                         ) -> tuple[list[Relaxation], list[Relaxation], list[str], list[str]]:
    """(all of these together, any one of these alone, why lines, re-solve checks) for an infeasible MILP.
    `base` changes (from screening) are already applied to problem.inst and stay part of every claim."""
    inst = problem.inst
    elastic = Elastic(elastic_problem(problem), inst)
    limit_s = float(options.time_limit_s)
    slack = elastic.solve(list(range(len(elastic.rows))), limit_s) if elastic.rows else None
    if slack is None:
        return [], [], [], ["no raise of a relaxable limit makes a plan exist (elastic MILP: no solution)"]
    cheapest = elastic.changes(slack)
    # the relaxable rows of the IIS, then those the cheapest set moves: each alone, the least it needs
    tried = [j for j in (elastic.index(n) for n in iis_names) if j is not None]
    tried += [j for j, s in enumerate(slack) if s > SLACK_TOL * max(1.0, abs(elastic.limits[j])) and j not in tried]
    why, singles = least_alone(elastic, tried, limit_s)
    checks: list[str] = []
    moved = {target(r) for r in cheapest}
    together = [r for r in base if target(r) not in moved] + cheapest
    if not confirmed(inst, together, options, checks):
        together = []
    # with screening changes in `base`, no change alone can make a plan exist: there are no single changes
    alternatives = [] if base else [r for r in singles if confirmed(inst, [r], options, checks)]
    if len(together) > 1 and not base:
        # "all of these together" claims each is needed: one that suffices alone is a single change instead
        enough = [r for r in together if confirmed(inst, [r], options, checks)]
        if enough:
            alternatives, together = alternatives + enough, []
    if len(together) == 1 and not base:   # a set of one change is a single change
        alternatives, together = alternatives + together, []
    # one change per setting and slice (the smallest), the smallest relative raise first
    alternatives = list({target(r): r for r in sorted(alternatives, key=lambda r: -r.suggested)}.values())
    alternatives.sort(key=lambda r: r.suggested / max(abs(r.current), 1e-12))
    return together, alternatives, why, checks


def explain_infeasible(problem: Problem, options: SolveOptions) -> Infeasibility:
    """The diagnosis of a problem already built (api.build_problem) that has no plan."""
    if problem.screening_problems():
        return _screening(problem, options)
    rows, bounds, method = find_iis(problem.form, min(options.time_limit_s, 10.0))
    names = problem.form.row_names()
    members = [IisMember(name=names[i], family=problem.form.family_of_row(i)[0].name, bound=b)
               for i, b in zip(rows, bounds)]
    together, alternatives, why, checks = verified_relaxations(problem, [m.name for m in members], options, [])
    reasons = [conflict_line(problem.form, rows, bounds)] + residency_notes(problem.inst, members) + why
    return Infeasibility(source="milp", reasons=reasons, iis=members, families=sorted({m.family for m in members}),
                         method=method, relaxations=together, alternatives=alternatives, checks=checks)


def conflict_line(form: Formulation, rows: list[int], bounds: list[str]) -> str:
    """The IIS as one sentence: its rows with limits; rows of a family at a zero limit (structural rows such as
    replica_capacity) are counted rather than listed."""
    named, counted = [], {}
    for i, b in zip(rows, bounds):
        fam, k = form.family_of_row(i)
        if fam.lower[k] != fam.upper[k] and (fam.upper[k] == 0 or fam.lower[k] == 0):
            counted[fam.name] = counted.get(fam.name, 0) + 1
        else:
            named.append(row_with_limit(form, i, b))
    named += [f"{n} {fam} rows" if n > 1 else f"1 {fam} row" for fam, n in counted.items()]
    return "no plan meets all of " + "; ".join(named)


def _screening(problem: Problem, options: SolveOptions) -> Infeasibility:
    """Screening failures: their changes, checked together by a re-solve; when the re-solve still has no plan,
    the MILP of the repaired instance is diagnosed and its changes join them (all needed together)."""
    members, reasons, proposed = screening_diagnosis(problem)
    checks, together, alternatives = [], [], []
    blocked = [m for m in members if facts(m.family).setting is None] if members else []
    if proposed and not blocked:
        repaired = apply_relaxations(problem.inst, proposed)
        ok, status = plan_exists(repaired, options)
        checks.append(f"re-solved with all of {', '.join(_named(r) for r in proposed)}: {status}")
        if ok:
            together = proposed
            if len(proposed) == 1:
                alternatives, together = proposed, []
        else:
            rebuilt = build_problem(repaired)
            if not rebuilt.screening_problems():
                rows, _, _ = find_iis(rebuilt.form, min(options.time_limit_s, 10.0))
                names = rebuilt.form.row_names()
                # the repaired instance's own limits are the elastic rows' limits; the claim is base + extra
                extra, _, why, more = verified_relaxations(rebuilt, [names[i] for i in rows], options, proposed)
                reasons += why
                checks += more
                together = extra
    return Infeasibility(source="screening", reasons=reasons, iis=members,
                         families=sorted({m.family for m in members}), method="candidate screening",
                         relaxations=together, alternatives=alternatives, checks=checks)


# ---------------------------------------------------------------- text


def _wrapped(text: str, indent: str, more: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=more, break_on_hyphens=False,
                         break_long_words=False)


def together_lines(relaxations: list[Relaxation]) -> list[str]:
    """Changes needed together, a line each; the same raise of one setting in several slices is one line."""
    groups: dict[tuple, list[str]] = {}
    for r in relaxations:
        setting, label = target(r)
        if label is None:
            groups[(r.line,)] = []
        else:
            groups.setdefault((r.line.replace(f" in slice {label} ", " in slices {} ", 1), setting), []).append(label)
    return [key[0] if not labels else key[0].format(", ".join(labels)) if len(labels) > 1
            else key[0].replace(" in slices {} ", f" in slice {labels[0]} ") for key, labels in groups.items()]


def infeasibility_lines(inf: Infeasibility) -> list[str]:
    """The diagnosis for an 80-column terminal: the conflicting rows, why, and the verified changes, saying
    whether they are needed all together or any one of them suffices."""
    lines = _wrapped(f"infeasible: conflicting families {', '.join(inf.families)} ({inf.method})", "", "  ")
    shown: dict[str, int] = {}
    for m in inf.iis:
        shown[m.family] = shown.get(m.family, 0) + 1
        if shown[m.family] <= IIS_ROWS_SHOWN:
            lines += _wrapped(f"IIS: {m.name} ({m.bound})", "  ", "      ")
    for family, n in shown.items():
        if n > IIS_ROWS_SHOWN:
            more = n - IIS_ROWS_SHOWN
            lines.append(f"  IIS: ... and {more} more {family} row{'s' if more > 1 else ''} (all in the plan JSON)")
    for r in inf.reasons:
        lines += _wrapped(f"why: {r}", "  ", "       ")
    if inf.alternatives:
        lines.append("  any one of these makes a plan exist (each checked by a re-solve):")
        lines += [w for r in inf.alternatives for w in _wrapped(r.line, "    ", "      ")]
    if inf.relaxations:
        head = "or all of these together" if inf.alternatives else "all of these together"
        lines.append(f"  {head} make a plan exist (checked by a re-solve):")
        lines += [w for line in together_lines(inf.relaxations) for w in _wrapped(line, "    ", "      ")]
    if not inf.alternatives and not inf.relaxations:
        settable = [f.name for f in FAMILIES.values() if f.setting is not None]
        lines += _wrapped(f"no change of the relaxable limits ({', '.join(settable)}) was found that a re-solve "
                          "confirms", "  ", "    ")
    return lines


def relaxation_markdown(inf: Infeasibility) -> list[str]:
    """The verified changes for the Markdown report, with the same 'any one of' / 'all of' claims."""
    out = []
    if inf.alternatives:
        out += ["Any one of these makes a plan exist (each checked by a re-solve):\n"]
        out += [f"- {r.line}" for r in inf.alternatives] + [""]
    if inf.relaxations:
        out += [f"{'Or all' if inf.alternatives else 'All'} of these together make a plan exist (checked by a "
                "re-solve):\n"]
        out += [f"- {line}" for line in together_lines(inf.relaxations)] + [""]
    if not (inf.alternatives or inf.relaxations):
        out += ["No change of a relaxable limit was found that a re-solve confirms.\n"]
    if inf.checks:
        out += ["Re-solves behind these claims:\n"] + [f"- {c}" for c in inf.checks]
    return out
