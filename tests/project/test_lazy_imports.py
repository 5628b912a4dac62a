"""`fleetopt solve` on the default HiGHS path imports neither the other backends' modelling layers (Pyomo,
OR-Tools), Dask, matplotlib, rich, scipy.optimize nor the report module (needed only on other paths: other
backends, --executor dask, --plot, --report; the cover rows' separation LP goes through HiGHS,
backends/highs.lp_values): each waits inside the function that needs it. Nor scipy.sparse.csgraph and the
scipy.linalg it drags in (~0.06 s): the parts are labelled by formulation/split.py and the whole-replica bound's
residue paths (replica_bound._cycle_paths) need no graph library, though that bound runs on the tiny fleet.
Checked in a fresh process (the suite itself has imported everything); the plan it writes holds under
fleetopt.verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import REPO, TINY

from fleetopt.io.load import load_instance
from fleetopt.plan import Plan
from fleetopt.verify import verify_plan

NOT_ON_THE_DEFAULT_PATH = ("pyomo", "ortools", "dask", "distributed", "matplotlib", "rich", "scipy.optimize",
                           "scipy.sparse.csgraph", "scipy.linalg", "fleetopt.explain.report")

CHILD = """
import json, sys
from fleetopt.cli import main
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_solve_on_the_default_path_imports_only_what_it_uses(tmp_path):
    out = tmp_path / "plan.json"
    done = subprocess.run([sys.executable, "-c", CHILD, "solve", str(TINY), "-q", "-o", str(out)], cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child["code"] == 0, done.stderr
    loaded = [m for m in child["modules"] if any(m == name or m.startswith(name + ".")
                                                 for name in NOT_ON_THE_DEFAULT_PATH)]
    assert loaded == []
    assert "highspy" in child["modules"]   # the check sees the solver's imports
    plan = Plan.model_validate_json(out.read_text(encoding="utf-8"))
    assert verify_plan(load_instance(TINY), plan).holds
