"""The bad-input corpus: every file in tests/data/bad_inputs/ holds one mistake people make in an instance file.

`fleetopt validate` must answer each with exit code 2 and one `error: FILE[:LINE]: KEY: message` line per
problem, naming the key the mistake is in (never a traceback). A YAML case names that key in its first line,
`# expect: KEY`, and may add `# expect-message: PHRASE` (a phrase the message must hold); the JSON cases have
both in expectations.yaml. Most cases run in-process through the typer app (fast); a handful, including the
ones that would hang a broken loader, run the real command as a subprocess with a timeout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fleetopt.cli import app
from helpers import DATA, MINIMAL_VALID, REPO, error_keys  # noqa: F401

CORPUS = DATA / "bad_inputs"
GOOD_INSTANCE = REPO / "instances" / "global-fleet.yaml"
JSON_EXPECTATIONS = CORPUS / "expectations.yaml"
SUBPROCESS_CASES = {"tabs_instead_of_spaces.yaml", "negative_power_cap.yaml", "unknown_model.yaml",
                    "bad_model_card_kind.yaml", "alias_bomb.yaml", "recursive_alias.yaml",
                    "deep_nesting.json", "duplicate_json_key.json"}

def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir()
                  if p.is_file() and p.suffix in (".yaml", ".json") and p != JSON_EXPECTATIONS)


def expectation(path: Path) -> tuple[str, str | None]:
    """The key an error line must name and a phrase its message must hold (or None)."""
    if path.suffix == ".json":
        entry = yaml.safe_load(JSON_EXPECTATIONS.read_text())[path.name]
        return entry["expect"], entry.get("message")
    comments = []
    for raw in path.read_bytes().split(b"\n"):  # bytes: one case is deliberately not UTF-8
        if not raw.startswith(b"#"):
            break
        comments.append(raw.decode("ascii").strip())
    assert comments and comments[0].startswith("# expect: "), f"{path.name}: line 1 must be '# expect: KEY'"
    marker = "# expect-message: "
    phrase = next((c.removeprefix(marker) for c in comments if c.startswith(marker)), None)
    return comments[0].removeprefix("# expect: "), phrase


def key_named(expected: str, keys: list[str]) -> bool:
    """An expectation ending in '...' names a runaway path by its start (the message shortens it so)."""
    if expected.endswith("..."):
        return any(k.startswith(expected.removesuffix("...")) for k in keys)
    return expected in keys


def check_bad_input_answer(path: Path, exit_code: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr, stderr
    assert exit_code == 2, f"exit code {exit_code}; stderr: {stderr}"
    assert stdout == "", f"bad input printed to stdout: {stdout!r}"
    assert stderr.strip(), "no error message"
    keys = error_keys(stderr)
    expected, phrase = expectation(path)
    assert key_named(expected, keys), f"no error names key {expected!r}; stderr:\n{stderr}"
    if phrase is not None:
        assert phrase in stderr, f"the message does not say {phrase!r}:\n{stderr}"
    assert path.name in stderr, f"the file name {path.name} is not in:\n{stderr}"


def run_in_process(path: Path):
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def run_subprocess(path: Path):
    done = subprocess.run([sys.executable, "-m", "fleetopt.cli", "validate", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, done.stdout, done.stderr


IN_PROCESS_CASES = [p for p in corpus_files() if p.name not in SUBPROCESS_CASES]


@pytest.mark.parametrize("path", IN_PROCESS_CASES, ids=lambda p: p.name)
def test_bad_input_is_named_in_one_line(path: Path):
    check_bad_input_answer(path, *run_in_process(path))


@pytest.mark.parametrize("name", sorted(SUBPROCESS_CASES))
def test_bad_input_through_the_real_command(name: str):
    path = CORPUS / name
    check_bad_input_answer(path, *run_subprocess(path))


def test_corpus_is_large_and_every_case_has_an_expectation():
    files = corpus_files()
    assert len(files) >= 25
    assert sum(p.suffix == ".json" for p in files) >= 3
    for path in files:
        assert expectation(path)[0]
    listed = set(yaml.safe_load(JSON_EXPECTATIONS.read_text()))
    assert listed == {p.name for p in files if p.suffix == ".json"}, "expectations.yaml lists other files"
    assert SUBPROCESS_CASES <= {p.name for p in files}


def test_the_good_instance_validates_through_the_real_command():
    code, stdout, stderr = run_subprocess(GOOD_INSTANCE)
    assert code == 0, stderr
    assert "valid" in stdout and stderr == ""


def test_the_instance_the_corpus_was_cut_from_is_valid(tmp_path: Path):
    path = tmp_path / "minimal.yaml"
    path.write_text(MINIMAL_VALID)
    code, _, stderr = run_in_process(path)
    assert code == 0, stderr


def test_a_missing_file_is_bad_input(tmp_path: Path):
    path = tmp_path / "no_such_instance.yaml"
    check_missing = run_in_process(path)
    assert check_missing[0] == 2
    assert error_keys(check_missing[2]) == ["(top level)"]
    assert path.name in check_missing[2]
