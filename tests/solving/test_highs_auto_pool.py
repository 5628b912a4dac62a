"""HiGHS's pool when the threads are left automatic: one thread (backends/highs.AUTO_POOL), since fleetopt runs
parts and races in threads of its own; a count asked for sizes it as asked. One process per case: the pool is
made once per process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REPO, TINY

SCRIPT = """
import sys
import fleetopt
from fleetopt.api import build_problem, options_for, solve_problem
from fleetopt.backends import highs
inst = fleetopt.load_instance({tiny!r})
backend, options = options_for(inst, threads=int(sys.argv[1]))
plan, _ = solve_problem(build_problem(inst), backend, options)
print(plan.status, highs._POOL_THREADS)
"""


@pytest.mark.parametrize("threads, pool", [(0, 1), (2, 2)])
def test_the_pool_is_one_thread_unless_asked(threads, pool):
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(tiny=str(TINY)), str(threads)], capture_output=True,
                         text=True, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == f"optimal {pool}"
