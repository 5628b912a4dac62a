"""The solve pipeline, below the API: candidates -> formulation -> (parts) -> backend -> plan.

    problem.py    Problem (an instance with its candidate tables and formulation) and build_problem
    solve.py      options_for, run_backend, solve_problem, solve_instance
    decompose.py  solving in parts: jobs and services no binding shared row joins are solved apart

Explain and what-if import it from here; fleetopt.api re-exports it for users.
"""
