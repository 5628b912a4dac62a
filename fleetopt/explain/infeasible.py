"""Why no plan exists, and the cheapest way to get one.

- Screening (no candidate meets a job's deadline, no route meets an SLO): read from the candidates
  (explain/screening.py).
- MILP: an irreducible infeasible subsystem (highspy getIis on the LP relaxation; a deletion filter over
  rows with MILP feasibility checks when the relaxation is feasible), and the cheapest relaxation: elastic
  slacks on the relaxable families (carbon budget, power caps, deadlines, inventory), weighted by 1 / limit so
  that the sum of relative raises is minimized, in one more MILP solve. Candidates for that solve are
  enumerated with deadlines and stock up to CANDIDATE_SPANS times larger, so that a raise can reach candidates the
  original limits pruned (the union over several spans: dominance pruning keeps, for each deadline, only the
candidates with the fewest GPUs that meet it); the rows keep the user's limits and only the slacks move them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from fleetopt.pipeline.problem import Problem
from fleetopt.backends.highs import quiet_highs, to_lp
from fleetopt.backends.result import SolveOptions
from fleetopt.candidates.monitoring import monitoring_requirements
from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.training import enumerate_training
from fleetopt.plan.explanation import IisMember, Infeasibility, Relaxation
from fleetopt.explain.screening import round_up, screening_infeasibility
from fleetopt.formulation.families import build
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance

RELAXABLE = ("carbon_budget", "power_cap", "deadline", "inventory")
CANDIDATE_SPANS = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
SLACK_TOL = 1e-7
BOUND_NAMES = {2: "lower", 3: "upper", 4: "both"}


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


def find_iis(form: Formulation, time_limit_s: float = 10.0) -> tuple[list[IisMember], str]:
    import highspy

    lp = to_lp(form, highspy)
    lp.integrality_ = []
    h = quiet_highs()
    h.setOptionValue("iis_strategy", 6)   # 2|4: a true IIS of the LP (correct from highspy 1.13)
    h.passModel(lp)
    h.run()
    names = form.row_names()
    if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        status, iis = h.getIis()
        if status == highspy.HighsStatus.kOk and iis.valid_ and len(iis.row_index_):
            members = [IisMember(name=names[i], family=form.family_of_row(i)[0].name,
                                 bound=BOUND_NAMES.get(int(b), "both"))
                       for i, b in zip(iis.row_index_, iis.row_bound_)]
            return members, "highspy getIis on the LP relaxation (iis_strategy 6)"
    rows = deletion_filter(form, time_limit_s)
    return ([IisMember(name=names[i], family=form.family_of_row(i)[0].name, bound="both") for i in rows],
            "deletion filter over rows with MILP feasibility checks (the LP relaxation is feasible)")


def residency_notes(inst: Instance, members: list[IisMember]) -> list[str]:
    """Rules that act through the missing routes: residency of the populations in the IIS's demand rows."""
    notes = []
    for m in members:
        if m.family == "demand":
            population = m.name[m.name.index("[") + 1:-1].split(",")[-1]
            pop = inst.populations.get(population)
            if pop is not None and pop.allowed_jurisdictions is not None:
                notes.append(f"residency: {population} may only be served in {', '.join(pop.allowed_jurisdictions)}")
    return notes


# ---------------------------------------------------------------- elastic relaxation


def widened(inst: Instance, span: float) -> Instance:
    """A copy with every deadline and every GPU stock `span` times larger."""
    wide = inst.model_copy(deep=True)
    for job in wide.training.values():
        job.deadline_hours *= span
    for region in wide.regions.values():
        for stock in region.gpus.values():
            stock.count = int(stock.count * span)
    return wide


def widened_problem(inst: Instance) -> Problem:
    """The problem of the widest instance, with the training candidates of every span in one table."""
    wide = widened(inst, CANDIDATE_SPANS[-1])
    tables = [enumerate_training(widened(inst, span)) for span in CANDIDATE_SPANS]
    tc = tables[-1]
    merged = {f: np.concatenate([getattr(t, f) for t in tables]) for f in tc.__dataclass_fields__
              if isinstance(getattr(tc, f), np.ndarray)}
    tc = replace(tc, **merged)
    sc = enumerate_serving(wide)
    mon = monitoring_requirements(wide, sc)
    return Problem(wide, tc, sc, mon, build(wide, tc, sc, mon))


def user_limit(inst: Instance, family: str, key: tuple) -> float:
    if family == "deadline":
        return inst.training[key[0]].deadline_hours
    if family == "inventory":
        return float(inst.regions[key[0]].gpus[key[1]].count)
    if family == "power_cap":
        return float(inst.regions[key[0]].power_cap_mw)
    return float(inst.policy.carbon_budget_t)


def relaxation_line(family: str, key: list[str], current: float, new: float) -> tuple[str, str, str]:
    """(instance setting, units, the 'raise X from A to B' line)."""
    if family == "power_cap":
        return (f"regions.{key[0]}.power_cap_mw", "MW",
                f"raise power_cap_mw of {key[0]} from {current:g} MW to {new:g} MW")
    if family == "inventory":
        return (f"regions.{key[0]}.gpus.{key[1]}.count", "GPUs",
                f"raise the {key[1]} count in {key[0]} from {current:,.0f} to {new:,.0f}")
    if family == "deadline":
        return (f"training.{key[0]}.deadline_hours", "h",
                f"raise deadline of {key[0]} from {current:g} h to {new:g} h")
    return "policy.carbon_budget_t", "t CO2e", f"raise carbon_budget_t from {current:g} t to {new:g} t"


def elastic_relaxation(inst: Instance, options: SolveOptions) -> list[Relaxation]:
    """The least sum of relative raises of relaxable limits that makes a plan exist (one MILP)."""
    import highspy

    problem = widened_problem(inst)
    if problem.screening_problems():
        return []
    form = problem.form
    lower, upper = (b.copy() for b in form.row_bounds())
    slack_rows, limits, labels = [], [], []
    for fam in form.families.values():
        if fam.name not in RELAXABLE:
            continue
        for i, key in enumerate(fam.keys):
            limit = user_limit(inst, fam.name, key)
            upper[fam.start + i] = limit
            slack_rows.append(fam.start + i)
            limits.append(limit)
            labels.append((fam.name, [str(k) for k in key]))
    if not slack_rows:
        return []
    k = len(slack_rows)
    a = sp.hstack([form.matrix(), sp.csr_matrix((-np.ones(k), (slack_rows, np.arange(k))),
                                                shape=(form.n_rows, k))]).tocsc()
    cost, lb, ub, integer = form.col_arrays()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = form.n_cols + k, form.n_rows
    lp.col_cost_ = np.concatenate([np.zeros(form.n_cols), 1.0 / np.maximum(np.abs(limits), 1e-6)])
    lp.col_lower_, lp.col_upper_ = np.concatenate([lb, np.zeros(k)]), np.concatenate([ub, np.full(k, np.inf)])
    lp.row_lower_, lp.row_upper_ = lower, upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr.astype(np.int32), a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in np.concatenate([integer, np.zeros(k, bool)])]
    h = quiet_highs()
    h.setOptionValue("time_limit", float(options.time_limit_s))
    h.passModel(lp)
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return []
    slack = np.asarray(h.getSolution().col_value, dtype=float)[form.n_cols:]
    out = []
    for s, limit, (family, key) in zip(slack, limits, labels):
        if s <= SLACK_TOL * max(1.0, abs(limit)):
            continue
        new = float(math.ceil(limit + s - 1e-9)) if family == "inventory" else round_up(limit + s)
        setting, units, line = relaxation_line(family, key, limit, new)
        out.append(Relaxation(family=family, key=key, setting=setting, current=limit, suggested=new, units=units,
                              line=line))
    return out


def apply_relaxations(inst: Instance, relaxations: list[Relaxation]) -> Instance:
    """A copy of `inst` with the suggested limits (residency suggestions are not applied)."""
    out = inst.model_copy(deep=True)
    for r in relaxations:
        if r.suggested is None:
            continue
        if r.family == "power_cap":
            out.regions[r.key[0]].power_cap_mw = r.suggested
        elif r.family == "inventory":
            out.regions[r.key[0]].gpus[r.key[1]].count = int(r.suggested)
        elif r.family == "deadline":
            out.training[r.key[0]].deadline_hours = r.suggested
        elif r.family == "slo":
            out.serving[r.key[0]].slo_p99_ms = r.suggested
        elif r.family == "carbon_budget":
            out.policy.carbon_budget_t = r.suggested
    return out


def explain_infeasible(problem: Problem, options: SolveOptions) -> Infeasibility:
    if problem.screening_problems():
        return screening_infeasibility(problem)
    members, method = find_iis(problem.form, min(options.time_limit_s, 10.0))
    return Infeasibility(source="milp", reasons=residency_notes(problem.inst, members),
                         iis=members, families=sorted({m.family for m in members}), method=method,
                         relaxations=elastic_relaxation(problem.inst, options))
