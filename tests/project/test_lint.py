"""The code passes the project's lint rules (pyproject.toml [tool.ruff]), the notebooks' cells too (ruff reads
.ipynb files since 0.6)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO



def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed; it is in the dev extra")
    proc = subprocess.run([ruff, "check", "fleetopt", "tests", "benchmarks", "notebooks"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
