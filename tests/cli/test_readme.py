"""The README works as written: every Tour command and the Python snippet run, exactly as printed, from an empty
temporary folder, in order, each with exit code 0 (each of them produces a plan or a file).

The two install commands at the top are skipped (CI runs them: .ci/run). `fleetopt` on the command line is this
checkout's CLI (`python -m fleetopt` with this source tree first on the path), so the test checks the code under
test, installed or not. Commands that solve are slow (global-fleet takes ~15 s; the what-if sweep and the Pareto
front solve it many times).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import fleetopt
from helpers import REPO

SOURCE_ROOT = Path(fleetopt.__file__).resolve().parents[1]
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)
QUICK = ("init", "verify", "validate", "schema", "estimate")  # commands that do not solve


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text(encoding="utf-8")) if lang == language]


def tour_lines() -> list[str]:
    """The Tour's commands: the bash blocks other than the two install lines, one command a line."""
    lines = []
    for body in blocks("bash"):
        if "pip install" in body:
            continue
        lines += [line for line in body.splitlines() if line.strip() and not line.startswith("#")]
    return lines


TOUR = tour_lines()


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """An empty folder, a `fleetopt` on PATH that runs this checkout, and the lines run so far (in README order)."""
    folder = tmp_path_factory.mktemp("newcomer")
    bin_dir = tmp_path_factory.mktemp("bin")
    shim = bin_dir / "fleetopt"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fleetopt "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(SOURCE_ROOT), "MPLBACKEND": "Agg"}
    return {"folder": folder, "env": env, "done": {}}


def run_line(tour, index: int) -> subprocess.CompletedProcess:
    """Run Tour line `index`, after every line before it (a line may use what an earlier one wrote)."""
    for i in range(index + 1):
        if i not in tour["done"]:
            tour["done"][i] = subprocess.run(["bash", "-c", TOUR[i]], cwd=tour["folder"], env=tour["env"],
                                             capture_output=True, text=True, timeout=1800)
    return tour["done"][index]


def test_the_readme_has_a_tour_that_starts_from_an_empty_folder():
    assert TOUR and all(line.startswith("fleetopt ") for line in TOUR), TOUR
    assert TOUR[0].startswith("fleetopt init "), "the Tour starts by copying an instance into the folder"
    # every instance file a line names is the one the first line wrote
    written = TOUR[0].split()[2]
    for line in TOUR[1:]:
        for word in line.split():
            if word.endswith((".yaml", ".yml")):
                assert word == written, (word, line)


def _marks(line: str):
    # quick: a command that does not solve, on files no solving line before it writes
    quick = line.split()[1] in QUICK and "plan.json" not in line
    return () if quick else (pytest.mark.slow,)


@pytest.mark.parametrize("index", [pytest.param(i, marks=_marks(line), id=" ".join(line.split("#")[0].split()[:3]))
                                   for i, line in enumerate(TOUR)])
def test_a_tour_line_runs_as_written(tour, index):
    result = run_line(tour, index)
    assert result.returncode == 0, (TOUR[index], result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    # the files a line promises are there
    for option in ("-o", "--report", "--mps", "--plot"):
        words = TOUR[index].split("#")[0].split()
        if option in words and not words[words.index(option) + 1].startswith("/dev/"):   # a stream: its reader has it
            assert (tour["folder"] / words[words.index(option) + 1]).stat().st_size > 0
    if ">" in TOUR[index].split("#")[0]:
        assert (tour["folder"] / TOUR[index].split(">")[1].split()[0]).stat().st_size > 0


def _run_python(tour, snippet: str, name: str) -> subprocess.CompletedProcess:
    run_line(tour, 0)
    script = tour["folder"] / name
    script.write_text(snippet)
    return subprocess.run([sys.executable, str(script)], cwd=tour["folder"], env=tour["env"], capture_output=True,
                          text=True, timeout=1800)


@pytest.mark.slow
def test_the_python_snippet_runs_as_a_script(tour):
    """The README's first Python block, saved as a script and run in the Tour's folder (after `fleetopt init`)."""
    result = _run_python(tour, blocks("python")[0], "readme_snippet.py")
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    cost, tp, binding = result.stdout.split()[:3]
    assert float(cost) > 0 and int(tp) >= 1 and "[" in binding


@pytest.mark.slow
def test_every_other_python_block_runs_as_a_script(tour):
    """Every later Python block (the user-constraint hook) runs as written, on its own."""
    for i, snippet in enumerate(blocks("python")[1:], start=1):
        result = _run_python(tour, snippet, f"readme_block_{i}.py")
        assert result.returncode == 0, (i, result.stdout[-2000:], result.stderr[-3000:])
