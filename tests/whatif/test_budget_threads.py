"""A budget sweep's worker makes its rows first; HiGHS sizes its thread pool once per process, at the first
request, so the rows must ask for the sweep's one thread per solve or every later solve in that worker runs on
HiGHS's default (backends/highs.pool_threads)."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO, TINY

CHECK = f"""
from fleetopt.backends import highs
from fleetopt.whatif.scenario import read_base
from fleetopt.whatif.worker import CutTask, SolveSettings, make_cuts
cuts = make_cuts(CutTask(read_base({str(TINY)!r}), SolveSettings(threads=1), (3.0, 5.0, 7.0), (0, 2)))
assert cuts is not None
print(highs._POOL_THREADS)
"""


def test_a_workers_rows_size_the_highs_pool_at_the_sweeps_threads():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": ""}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "1"
