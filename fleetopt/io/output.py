"""Outputs are written whole or not at all: to a temporary file beside the target, then renamed.

A stream that exists already (a character device such as /dev/null or /dev/stdout, a named pipe) is written in
place, in one write of data made whole beforehand, where the caller allows it (`stream_ok`: the plan JSON of
`solve -o` and `verify -o`, for pipelines); renaming a file over it would replace the device.

The file gets the mode any other tool would give it (0666 less the umask; an existing file keeps its mode), and
a missing folder is an error, not something to create: `-o /nonexistent/x.json` is a typo more often than not.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from fleetopt.errors import InputError


class OutputError(InputError):
    """An output path that cannot be written: one line naming the path and why. The CLI exits 2."""

    def __init__(self, path: str | Path, reason: str, option: str | None = None):
        super().__init__([f"{option + ' ' if option else ''}{path}: {reason}"])


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_stream(target: Path) -> bool:
    """Whether `target` exists and is neither a regular file nor a folder (a device, a named pipe, a socket)."""
    return target.exists() and not target.is_file() and not target.is_dir()


def check_output_path(path: str | Path, option: str | None = None, stream_ok: bool = False) -> Path:
    """Raise OutputError unless `path` names a file that can be written in an existing folder (or, `stream_ok`,
    an existing stream: module docstring).

    Called before a long solve, so that a typo in `-o` costs nothing; the write itself checks again. `option`
    (e.g. '--mps') starts the message when given.
    """
    target = Path(path)
    if option:
        try:
            return check_output_path(path, stream_ok=stream_ok)
        except OutputError as err:
            raise OutputError(path, str(err.problems[0]).split(": ", 1)[1], option) from None
    if stream_ok and is_stream(target):
        return target
    if target.is_dir():
        raise OutputError(path, "is a folder; expected a file name")
    folder = target.parent
    if not folder.exists():
        raise OutputError(path, f"the folder '{folder}' does not exist; create it first")
    if not folder.is_dir():
        raise OutputError(path, f"'{folder}' is not a folder")
    if target.exists() and not target.is_file():
        raise OutputError(path, "exists and is not a regular file")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise OutputError(path, f"cannot write in '{folder}' ({err.strerror or err})") from None
    os.close(fd)
    os.unlink(probe)
    return target


def output_mode(target: Path) -> int:
    """The mode the written file gets: an existing file's own, else 0666 less the umask."""
    return stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o666 & ~_umask()


def write_bytes_atomic(path: str | Path, data: bytes, stream_ok: bool = False) -> None:
    """Replace `path` with `data` only once all of it is on disk; a crash leaves the old file intact. `stream_ok`:
    an existing stream takes `data` in place (module docstring)."""
    target = check_output_path(path, stream_ok=stream_ok)
    if stream_ok and is_stream(target):
        try:
            with open(target, "wb") as handle:
                handle.write(data)
        except BrokenPipeError:   # the stream's reader took what it wanted and left (`-o /dev/stdout | head`)
            return
        except OSError as err:
            raise OutputError(path, f"cannot write ({err.strerror or err})") from None
        return
    mode = output_mode(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise OutputError(path, f"cannot write in '{target.parent}' ({err.strerror or err})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(path, f"cannot write ({err.strerror or err})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str, stream_ok: bool = False) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), stream_ok)
