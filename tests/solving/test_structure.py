"""The seams between layers: declared backend capabilities, the solver-neutral hook for your own constraints,
the cached constraint matrix and the one status and exit-code vocabulary."""

from __future__ import annotations

import typing

import numpy as np
import pytest
import scipy.sparse as sp

from fleetopt.api import build_problem, options_for, run_backend
from fleetopt.backends.capabilities import BACKENDS, UnknownBackend, capabilities, solver_for, with_capability
from fleetopt.backends.result import SolveOptions
from fleetopt.errors import EXIT_CODES, STATUSES, InputError
from fleetopt.formulation.model import Formulation
from fleetopt.io.load import load_instance
from fleetopt.io.schema import SolverOptions
from fleetopt.plan.model import Plan
from helpers import solve_and_verify
from helpers import TINY



# ------------------------------------------------------------------ backend capabilities

def test_the_schema_offers_exactly_the_declared_backends():
    assert set(typing.get_args(SolverOptions.model_fields["backend"].annotation)) == set(BACKENDS)


def test_capabilities_are_declared_not_guessed():
    assert capabilities("highs").budgets and capabilities("highs").parallel
    assert not capabilities("pyomo").budgets           # Pyomo's solvers may not take an absolute gap or node limit
    assert with_capability("iis") == with_capability("duals") == ["highs"]
    assert solver_for("highs").__module__ == "fleetopt.backends.highs"


def test_an_unknown_backend_is_one_clear_line_before_anything_is_built():
    inst = load_instance(TINY)
    with pytest.raises(InputError) as err:
        options_for(inst, backend="gurobi")
    assert str(err.value) == (f"{inst.source}: backend: unknown backend 'gurobi'; expected one of "
                              f"{', '.join(BACKENDS)}")
    with pytest.raises(UnknownBackend, match="expected one of highs, pyomo, ortools"):
        run_backend("cplex", Formulation(), SolveOptions())


def test_the_cli_turns_an_unknown_backend_into_exit_2(monkeypatch, capsys):
    from fleetopt.cli import main

    monkeypatch.setattr("sys.argv", ["fleetopt", "solve", str(TINY), "--backend", "gurobi", "-q"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --backend: 'gurobi'; expected one of highs, pyomo, ortools"


# ------------------------------------------------------------------ your own constraints, on any backend

def keep_training_out_of(region: str):
    """A user constraint: no training candidate of any job in `region` (a row per job, named for the user)."""
    def extra(form, problem):
        tc = problem.training
        cols = form.blocks["train_choice"].cols
        in_region = np.asarray(tc.region_names)[tc.region] == region
        jobs = [j for j in range(len(tc.job_names)) if np.any(in_region & (tc.job == j))]
        rows = np.concatenate([np.full(np.count_nonzero(in_region & (tc.job == j)), i) for i, j in enumerate(jobs)])
        columns = np.concatenate([cols[in_region & (tc.job == j)] for j in jobs])
        form.add_rows("no_training_in", [(tc.job_names[j], region) for j in jobs], rows, columns,
                      np.ones(len(columns)), upper=0.0, units="candidates", meaning=f"no training in {region}")
    return extra


@pytest.mark.parametrize("backend", ["highs", "pyomo", "ortools"])
def test_a_user_row_changes_the_plan_on_every_backend(backend):
    inst = load_instance(TINY)
    base = solve_and_verify(inst, backend=backend)
    assert base.status == "optimal", base.detail
    region = base.training["llm-8b-pretrain"].region
    moved = solve_and_verify(inst, backend=backend, extra_functionality=keep_training_out_of(region))
    assert moved.status == "optimal"
    assert moved.training["llm-8b-pretrain"].region != region
    assert moved.objective > base.objective                     # the base plan was the cheapest
    assert moved.provenance.model_size["families"]["no_training_in"] == 1
    assert "extra_functionality" in moved.provenance.timing_s


def test_the_hook_sees_the_problem_and_may_add_columns():
    seen = {}

    def extra(form, problem):
        seen["jobs"] = list(problem.training.job_names)
        slack = form.add_vars("user_slack", [("any",)], lb=0.0, ub=1.0, cost=1.0)
        form.add_rows("user_row", [("any",)], [0], slack.cols, [1.0], lower=0.5, meaning="at least half a unit")

    problem = build_problem(load_instance(TINY), extra)
    assert seen["jobs"] == ["llm-8b-pretrain"]
    assert problem.form.row_names()[-1] == "user_row[any]" and problem.form.col_names()[-1] == "user_slack[any]"
    assert problem.form.matrix().shape == (problem.form.n_rows, problem.form.n_cols)


# ------------------------------------------------------------------ the matrix, built once

def test_the_matrix_is_built_once_and_rebuilt_when_the_model_grows():
    form = Formulation()
    x = form.add_vars("x", [("a",), ("b",)])
    form.add_rows("first", [("r",)], [0, 0], x.cols, [1.0, 2.0], upper=3.0)
    a = form.matrix()
    assert form.matrix() is a                                    # cached
    with pytest.raises(ValueError):
        a.data[0] = 5.0                                          # read-only: no caller edits the cache
    form.add_rows("second", [("s",)], [0], [1], [4.0], upper=1.0)
    assert form.matrix().toarray().tolist() == [[1.0, 2.0], [0.0, 4.0]]
    y = form.add_vars("y", [("c",)])
    assert form.matrix().shape == (2, 3)
    form.add_rows("third", [("t",)], [0], y.cols, [7.0])
    assert form.matrix().toarray()[2].tolist() == [0.0, 0.0, 7.0]


def test_replacing_a_family_arrays_is_noticed():
    form = Formulation()
    x = form.add_vars("x", [("a",), ("b",)])
    fam = form.add_rows("r", [("r",)], [0, 0], x.cols, [1.0, 2.0])
    form.matrix()
    fam.rows, fam.cols, fam.vals = fam.rows[:1], fam.cols[:1], fam.vals[:1]   # as a test bans a candidate
    assert (form.matrix() != sp.csr_matrix([[1.0, 0.0]])).nnz == 0
    fam.vals[0] = 9.0                                            # edited in place: say so
    form.invalidate()
    assert form.matrix()[0, 0] == 9.0


# ------------------------------------------------------------------ one status vocabulary

def test_every_status_has_an_exit_code_and_the_plan_speaks_the_same_words():
    assert set(EXIT_CODES) == set(STATUSES)
    assert set(typing.get_args(Plan.model_fields["status"].annotation)) == set(STATUSES)
    assert [EXIT_CODES[s] for s in ("optimal", "feasible", "infeasible", "no_plan_in_time", "error")] == [0, 0, 3, 4, 1]
