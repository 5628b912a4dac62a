"""Every bad command-line option of solve, export, explain, verify, validate and init ends in exit 2 with one line
on stderr that names the option (or the file) and what was expected: never a traceback, never a long solve first.

The CLI runs as a user runs it (`python -m fleetopt`, a separate process), so usage errors go through `main()`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fleetopt

SOURCE_ROOT = Path(fleetopt.__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    return subprocess.run([sys.executable, "-m", "fleetopt", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def instance() -> str:
    from fleetopt.paths import default_instance

    return str(default_instance())


# (arguments, words the one line must contain); {folder} is a temporary folder, {instance} the shipped instance
BAD = [
    (["solve", "--backend", "cplex"], ["--backend", "cplex", "highs, pyomo, ortools"]),
    (["solve", "--gap", "-1"], ["--gap", "-1", "[0, 1)"]),
    (["solve", "--gap", "inf"], ["--gap", "inf"]),
    (["solve", "--time-limit", "-3"], ["--time-limit", "-3", "seconds > 0"]),
    (["solve", "--time-limit", "nan"], ["--time-limit", "nan"]),
    (["solve", "--time-limit", "1e12"], ["--time-limit", "< 1e9"]),
    (["solve", "--threads", "-5"], ["--threads", "-5", "or more"]),
    (["solve", "--threads", "many"], ["--threads"]),
    (["solve", "--no-such-option"], ["--no-such-option"]),
    (["solve", "-o", "{folder}"], ["--output", "is a folder"]),
    (["solve", "--report", "{folder}"], ["--report", "is a folder"]),
    (["solve", "-o", "{folder}/missing/plan.json"], ["--output", "does not exist"]),
    (["solve", "-o", "/proc/version"], ["--output", "/proc"]),
    (["solve", "{folder}/nope.yaml"], ["nope.yaml", "cannot read"]),
    (["solve", "--models-dir", "{folder}/missing"], ["--models-dir", "does not exist"]),
    (["verify", "{instance}", "plan.json", "--models-dir", "{instance}"], ["--models-dir"]),
    (["export", "{instance}", "--mps", "{folder}"], ["--mps", "is a folder"]),
    (["export", "{instance}", "--mps", "{folder}/missing/model.mps"], ["--mps", "does not exist"]),
    (["export", "{instance}"], ["--mps"]),
    (["explain", "{instance}", "plan.json", "-o", "{folder}"], ["-o", "is a folder"]),
    (["explain", "{instance}", "{folder}/nope.json"], ["nope.json"]),
    (["explain", "{instance}", "{instance}"], ["not a plan JSON"]),
    (["verify", "{instance}", "plan.json", "-o", "{folder}/missing/v.json"], ["-o", "does not exist"]),
    (["verify", "{instance}", "{folder}/nope.json"], ["nope.json"]),
    (["validate", "{folder}/nope.yaml"], ["nope.yaml"]),
    (["validate"], ["instance"]),
    (["init", "{folder}/copy.yaml", "--instance", "archetype-z"], ["--instance", "archetype-c"]),
    (["init", "{folder}/missing/copy.yaml"], ["does not exist"]),
    (["no-such-command"], ["no-such-command"]),
]


@pytest.mark.parametrize("args,words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_option_is_one_line_and_exit_2(args, words, tmp_path, instance):
    args = [a.format(folder=tmp_path, instance=instance) for a in args]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert len(lines[0].replace(str(tmp_path), "DIR").replace(instance, "FILE")) <= 100, lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "missing").exists()  # no folder is created on the way to failing


def test_init_refuses_to_overwrite_without_force(tmp_path, instance):
    first = run_cli("init", "mine.yaml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "mine.yaml").write_text("edited\n")
    again = run_cli("init", "mine.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert (tmp_path / "mine.yaml").read_text() == "edited\n"
    forced = run_cli("init", "mine.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert (tmp_path / "mine.yaml").read_text() == Path(instance).read_text()


def test_bare_fleetopt_prints_the_help_once(tmp_path):
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2
    assert (result.stdout + result.stderr).count("Usage: fleetopt") == 1
    assert "Traceback" not in result.stderr
