"""`fleetopt.sweep` from a script without `if __name__ == "__main__":` (as the README writes it): spawned
workers would run the script again, so the pool forks them, or solves in-process after a solve, with a note."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetopt.pipeline.start_method import guarded
from helpers import REPO, TINY

SWEEP = f'df = fleetopt.sweep({str(TINY)!r}, {{"policy.carbon_budget_t": [3, 9]}}, workers=2)'
SHOW = 'print("ROWS", len(df), ",".join(df["status"]))'


def test_guarded_finds_the_main_guard():
    source = textwrap.dedent("""\
        import fleetopt
        x = 1
        if __name__ == "__main__":
            try:
                run()
            finally:
                pass
        else:
            other()
        if "__main__" == __name__:
            run()
        """)
    assert not guarded(source, 2)
    assert guarded(source, 5) and guarded(source, 7)
    assert not guarded(source, 9)  # the else branch runs on re-import
    assert guarded(source, 11)


def run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(body)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


def rows_of(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "bootstrapping" not in done.stderr
    return re.search(r"^ROWS .*$", done.stdout, re.M).group(0)


@pytest.mark.slow
def test_unguarded_script_forks_its_workers(tmp_path):
    done = run_script(tmp_path, f"import fleetopt\n{SWEEP}\n{SHOW}\n")
    assert rows_of(done) == "ROWS 3 optimal,optimal,optimal"
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "script.py:2" in notes[0] and "forking" in notes[0]


@pytest.mark.slow
def test_unguarded_script_after_a_solve_solves_in_process(tmp_path):
    done = run_script(tmp_path, f"import fleetopt\nfleetopt.solve(fleetopt.load_instance({str(TINY)!r}))\n"
                                f"{SWEEP}\n{SHOW}\n")
    assert rows_of(done) == "ROWS 3 optimal,optimal,optimal"
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "script.py:3" in notes[0] and "one at a time" in notes[0]


@pytest.mark.slow
def test_guarded_script_spawns_without_a_note(tmp_path):
    body = f"import fleetopt\n\nif __name__ == '__main__':\n    {SWEEP}\n    {SHOW}\n"
    done = run_script(tmp_path, body)
    assert rows_of(done) == "ROWS 3 optimal,optimal,optimal"
    assert "note:" not in done.stderr


@pytest.mark.slow
def test_the_readme_python_snippet_runs_as_a_script(tmp_path):
    """The README's Python block, saved as a script, with its sweep made small (the tiny instance)."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"Python:\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert "fleetopt.sweep(" in block and "__main__" not in block
    lines = [SWEEP if line.startswith("df = fleetopt.sweep(") else line for line in block.splitlines()]
    body = "\n".join(lines)
    # the README's Tour starts with `fleetopt init my-fleet.yaml`: the same copy of the shipped instance
    (tmp_path / "my-fleet.yaml").write_text((REPO / "instances" / "global-fleet.yaml").read_text())
    done = run_script(tmp_path, body + "\n" + SHOW + "\n")
    assert rows_of(done) == "ROWS 3 optimal,optimal,optimal"
