"""Safe outputs and safe inputs.

Outputs (fleetopt/io/output.py, used by solve -o, verify -o, explain and what-if stores) are written to a temporary
file beside the target and renamed: a crash at any point, including a real process killed mid-write, leaves the
previous file whole. Inputs are parsed without object construction, with bounded size and nesting, and model-card
paths cannot leave the instance's folder unless that folder is given on the command line.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.io import output
from fleetopt.io.output import OutputError, write_bytes_atomic, write_text_atomic
from fleetopt.io.yamlsafe import MAX_BYTES
from helpers import MINIMAL_VALID
from helpers import REPO

OLD = "the previous, complete plan\n" * 100
NEW = "the new plan " * 50_000


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(OLD)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_complete_write_replaces_the_file(target):
    write_text_atomic(target, NEW)
    assert target.read_text() == NEW
    assert leftovers(target.parent) == []


def test_a_missing_folder_is_an_error_not_created(tmp_path):
    path = tmp_path / "deep" / "er" / "report.json"
    with pytest.raises(OutputError, match="does not exist"):
        write_bytes_atomic(path, b"{}")
    assert not (tmp_path / "deep").exists()


def test_a_new_file_follows_the_umask_and_an_old_one_keeps_its_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "new.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640
    kept = tmp_path / "kept.json"
    kept.write_text(OLD)
    kept.chmod(0o604)
    write_text_atomic(kept, NEW)
    assert kept.stat().st_mode & 0o777 == 0o604 and kept.read_text() == NEW


def test_a_crash_at_the_rename_leaves_the_old_file(target, monkeypatch):
    def crash(src, dst):
        raise OSError(errno.EIO, "injected crash at rename")

    monkeypatch.setattr(output.os, "replace", crash)
    with pytest.raises(OutputError, match="injected"):
        write_text_atomic(target, NEW)
    assert target.read_text() == OLD
    assert leftovers(target.parent) == []


class _HalfThenFail:
    """A file handle that writes half of what it is given, then fails as a full disk does."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def __getattr__(self, name):
        return getattr(self.handle, name)


def test_a_full_disk_mid_write_leaves_the_old_file(target, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(output.os, "fdopen", lambda fd, mode: _HalfThenFail(real_fdopen(fd, mode)))
    with pytest.raises(OutputError, match="No space left"):
        write_text_atomic(target, NEW)
    assert target.read_text() == OLD
    assert leftovers(target.parent) == []


def test_a_failed_fsync_leaves_the_old_file(target, monkeypatch):
    def fail(fd):
        raise OSError(errno.EIO, "injected fsync failure")

    monkeypatch.setattr(output.os, "fsync", fail)
    with pytest.raises(OutputError, match="fsync"):
        write_text_atomic(target, NEW)
    assert target.read_text() == OLD
    assert leftovers(target.parent) == []


def test_an_interrupt_mid_write_leaves_the_old_file(target, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, NEW)
    assert target.read_text() == OLD
    assert leftovers(target.parent) == []


# The child writes half of the new contents into the temporary file, says so, and waits to be killed.
KILLED_CHILD = textwrap.dedent("""
    import os, sys, time
    from fleetopt.io import output

    real_fdopen = os.fdopen

    class Stuck:
        def __init__(self, handle):
            self.handle = handle
        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            os.fsync(self.handle.fileno())
            print("half written", flush=True)
            time.sleep(60)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self.handle.close()
        def __getattr__(self, name):
            return getattr(self.handle, name)

    output.os.fdopen = lambda fd, mode: Stuck(real_fdopen(fd, mode))
    output.write_text_atomic(sys.argv[1], sys.argv[2])
""")


def test_a_process_killed_mid_write_leaves_the_old_file(target):
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(target), NEW[:20_000]],
                             stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout.readline().strip() == "half written"  # deterministic: the kill lands mid-write
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert target.read_text() == OLD
    # the half-written temporary is all that is left of the new contents; it never took the plan's name
    stale = leftovers(target.parent)
    assert len(stale) == 1 and stale[0].startswith(".plan.json.")
    assert (target.parent / stale[0]).read_text() == NEW[:10_000]


def test_solve_writes_a_complete_plan_over_an_old_one(tmp_path):
    instance = tmp_path / "tiny.yaml"
    instance.write_text(MINIMAL_VALID)
    plan = tmp_path / "plan.json"
    plan.write_text(OLD)
    result = CliRunner().invoke(app, ["solve", "-q", str(instance), "-o", str(plan)])
    assert result.exit_code == 0, result.output
    assert json.loads(plan.read_text())["status"] == "optimal"
    assert leftovers(tmp_path) == []
    verified = CliRunner().invoke(app, ["verify", str(instance), str(plan)])
    assert verified.exit_code == 0, verified.output


def test_a_plan_goes_whole_into_a_named_pipe_and_dev_null_stays_a_device(tmp_path):
    """solve -o and verify -o take an existing stream (a pipeline's fifo, /dev/stdout, /dev/null) and write it in
    place; a rename over it would replace the device."""
    import threading

    instance = tmp_path / "tiny.yaml"
    instance.write_text(MINIMAL_VALID)
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = CliRunner().invoke(app, ["solve", "-q", str(instance), "-o", str(fifo)])
    assert result.exit_code == 0, result.output   # else nothing opens the pipe: the daemon reader is left
    reader.join(timeout=60)
    assert received and json.loads(received[0])["status"] == "optimal"
    assert fifo.exists() and not fifo.is_file() and leftovers(tmp_path) == []
    write_text_atomic(os.devnull, "{}", stream_ok=True)
    assert Path(os.devnull).is_char_device()


def test_a_stream_whose_reader_left_takes_no_error():
    """`-o /dev/stdout | head`: the reader took what it wanted; the write ends quietly, not as bad output."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        write_text_atomic(f"/dev/fd/{write_end}", "x" * 200_000, stream_ok=True)
    finally:
        os.close(write_end)


def test_a_stream_is_refused_where_sibling_files_would_follow(tmp_path):
    """--report and --plot write files beside their path: a device there is refused before solving."""
    result = CliRunner().invoke(app, ["solve", "-q", str(REPO / "instances" / "global-fleet.yaml"),
                                      "--report", os.devnull])
    assert result.exit_code == 2 and "not a regular file" in result.output
    with pytest.raises(OutputError, match="not a regular file"):
        write_text_atomic(os.devnull, "{}")


# ---------------------------------------------------------------- inputs


def run_validate(path: Path, *extra: str):
    result = CliRunner().invoke(app, ["validate", str(path), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: no 16 MiB written
        handle.truncate(MAX_BYTES + 1)
    result = run_validate(path)
    assert result.exit_code == 2
    assert f"the limit is {MAX_BYTES}" in result.stderr


def test_a_plan_over_the_size_limit_is_refused(tmp_path):
    instance = tmp_path / "tiny.yaml"
    instance.write_text(MINIMAL_VALID)
    plan = tmp_path / "plan.json"
    with plan.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    result = CliRunner().invoke(app, ["verify", str(instance), str(plan)])
    assert result.exit_code == 2 and "the limit is" in result.stderr


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/new:os.system",
                                 "!!python/name:os.system", "!!python/module:os"])
def test_python_tags_are_refused_and_never_run(tmp_path, tag):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(MINIMAL_VALID.replace("name: tiny", f'name: {tag} ["touch {marker}"]'))
    result = run_validate(path)
    assert result.exit_code == 2
    assert "is not allowed" in result.stderr
    assert not marker.exists()


def test_a_tagged_mapping_is_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(MINIMAL_VALID.replace("policy:", "") + "policy: !!python/object:fleetopt.io.schema.Policy {}\n")
    assert run_validate(path).exit_code == 2


def test_nesting_just_past_the_limit_is_refused(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"fleetopt": 1, "name": ' + "[" * 40 + "1" + "]" * 40 + "}")
    result = run_validate(path)
    assert result.exit_code == 2 and "nesting deeper than" in result.stderr


def _card_instance(folder: Path, ref: str) -> Path:
    path = folder / "instance.yaml"
    path.write_text(MINIMAL_VALID.replace("model: llama3-8b", f"model: {ref}"))
    return path


def test_an_absolute_card_path_outside_the_folder_is_refused(tmp_path):
    card = REPO / "models" / "llama3-8b.yaml"
    folder = tmp_path / "inst"
    folder.mkdir()
    result = run_validate(_card_instance(folder, str(card)))
    assert result.exit_code == 2 and "--models-dir" in result.stderr


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "card.yaml").symlink_to(REPO / "models" / "llama3-8b.yaml")
    result = run_validate(_card_instance(folder, "card.yaml"))
    assert result.exit_code == 2 and "leaves the instance's folder" in result.stderr


def test_a_card_outside_is_read_when_its_folder_is_given_on_the_command_line(tmp_path):
    folder = tmp_path / "inst"
    folder.mkdir()
    path = _card_instance(folder, os.path.relpath(REPO / "models" / "llama3-8b.yaml", folder))
    assert run_validate(path).exit_code == 2
    assert run_validate(path, "--models-dir", str(REPO / "models")).exit_code == 0


def test_a_card_inside_the_folder_is_read(tmp_path):
    folder = tmp_path / "inst"
    (folder / "cards").mkdir(parents=True)
    (folder / "cards" / "mine.yaml").write_text((REPO / "models" / "llama3-8b.yaml").read_text())
    assert run_validate(_card_instance(folder, "cards/mine.yaml")).exit_code == 0


def test_a_json_documents_lines_are_scanned_only_when_a_problem_needs_them(tmp_path, monkeypatch):
    from fleetopt.io import yamlsafe

    path = tmp_path / "doc.json"
    text = '{\n  "fleetopt": 1,\n  "regions": {\n    "a": {"pue": 1.1},\n    "b": [1, 2]\n  }\n}\n'
    path.write_text(text, encoding="utf-8")
    scans = []
    real = yamlsafe._json_scan
    monkeypatch.setattr(yamlsafe, "_json_scan", lambda t: scans.append(1) or real(t))
    data, lines = yamlsafe.read_document(path)
    assert data["regions"]["a"]["pue"] == 1.1 and bool(lines) and scans == []
    assert lines.get(("regions", "b")) == 5 and lines[("regions", "a", "pue")] == 4 and scans == [1]
    assert dict(lines) == real(text)[0] and scans == [1]     # scanned once, the same lines as the scan
