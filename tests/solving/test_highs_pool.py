"""HiGHS makes one thread pool per process: a pricing LP run first (explain's binding prices, the infeasibility
diagnosis) and a later solve that asks for one thread must share it, not fail as 'Not Set'."""

import subprocess
import sys

from helpers import REPO, TINY

SCRIPT = f"""
import fleetopt
from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.backends.highs import quiet_highs, to_lp
import highspy

inst = fleetopt.load_instance({str(TINY)!r})
problem = build_problem(inst)
h = quiet_highs()                      # an LP at HiGHS's default pool, as explain/binding.py runs one
lp = to_lp(problem.form, highspy)
lp.integrality_ = []
h.passModel(lp)
h.run()
backend, options = options_for(inst, threads=1)
plan, result = solve_problem(problem, backend, options)
print(plan.status)
"""


def test_an_lp_before_a_one_thread_solve_shares_the_pool():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "optimal"
