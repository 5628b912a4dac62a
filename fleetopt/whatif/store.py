"""The results file of a sweep: one row per scenario keyed by `scenario_id`, written the moment it finishes.

CSV and JSON lines: each row is appended as one whole line in one write, then flushed and fsynced, so a
killed process leaves at most a torn last line, which the next run cuts off. Parquet cannot be appended to:
a JSON-lines journal beside it (`NAME.parquet.journal.jsonl`) takes each row the same way and the Parquet
file is rewritten from the journal atomically. A re-run reads the file back, skips every scenario already in
it, and never writes an id twice. One sweep at a time may write a file (an exclusive lock while it runs).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from fleetopt.errors import bad_argument

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet",
           ".pq": "parquet"}
KEY = "scenario_id"
PARQUET_REWRITE_S = 1.0  # at most one Parquet rewrite a second while rows stream in; the journal has them all

# column types: "str" text (never null), "text" text or null, "num" int/float or null, "bool"
Columns = dict[str, str]


def results_format(path: str | Path, argument: str = "results") -> str:
    """csv, jsonl or parquet by the file's suffix; bad input names `argument` (the CLI names its option)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise bad_argument(argument, f"{path}: unknown results format '{suffix or '(none)'}'; use .csv, .parquet "
                           "or .jsonl")
    return FORMATS[suffix]


def _from_text(text: str, kind: str) -> Any:
    if kind == "str":
        return text
    if text == "":
        return None
    if kind == "num":
        try:
            return int(text)
        except ValueError:
            return float(text)
    if kind == "bool":
        return text == "True"
    return text


def _normalize(value: Any, kind: str) -> Any:
    """One value as every format reads it back (so CSV, Parquet and JSON lines give equal rows)."""
    if hasattr(value, "item"):  # a numpy scalar, as pandas gives them back
        value = value.item()
    if kind == "str":
        return "" if value is None else str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "num":
        return _from_text(value, kind) if isinstance(value, str) else value
    if kind == "bool":
        return bool(value)
    return str(value)


def normalize_row(row: dict, columns: Columns) -> dict:
    """A row with exactly the columns, each value as the results file reads it back."""
    return {c: _normalize(row.get(c), t) for c, t in columns.items()}


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class ResultStore:
    """Append-only rows by scenario id in a CSV, JSON-lines or Parquet file. Use as a context manager."""

    def __init__(self, path: str | Path, columns: Columns):
        self.path = Path(path)
        self.format = results_format(self.path)
        self.columns = dict(columns)
        self.rows: dict[str, dict] = {}
        self._fd: int | None = None
        self._last_parquet = 0.0
        self._parquet_stale = False

    @property
    def journal(self) -> Path:
        return self.path.with_name(self.path.name + ".journal.jsonl") if self.format == "parquet" else self.path

    # -------------------------------------------------------------- open, read back, repair

    def __enter__(self) -> ResultStore:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> dict[str, dict]:
        """Lock the file, read back what earlier runs saved (cutting a torn last line) and return it by id."""
        import fcntl

        target = self.journal
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise bad_argument("results", f"{self.path}: another sweep is writing this file now; wait for it or "
                               "give another file") from None
        self._fd = fd
        self._cut_torn_tail()
        if self.format == "csv":
            self._read_csv()
        else:
            self._read_jsonl()
            if self.format == "parquet" and not self.rows and self.path.exists():
                self._seed_journal_from_parquet()
        return dict(self.rows)

    def _cut_torn_tail(self) -> None:
        """A process killed inside a write leaves a last line without its newline: drop that fragment."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.journal, "rb") as handle:
            data = handle.read()
        if data.endswith(b"\n"):
            return
        os.ftruncate(self._fd, data.rfind(b"\n") + 1)
        os.fsync(self._fd)

    def _read_csv(self) -> None:
        with open(self.path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                self._write(self._csv_line(list(self.columns)))
                return
            if header != list(self.columns):
                self._mismatch(header)
            for values in reader:
                if len(values) != len(header):
                    continue  # not a whole row
                row = {c: _from_text(v, self.columns[c]) for c, v in zip(header, values)}
                self.rows.setdefault(row[KEY], row)

    def _read_jsonl(self) -> None:
        with open(self.journal, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue  # not a whole row
                if set(raw) != set(self.columns):
                    self._mismatch(list(raw))
                row = {c: _normalize(raw[c], t) for c, t in self.columns.items()}
                self.rows.setdefault(row[KEY], row)

    def _seed_journal_from_parquet(self) -> None:
        import pandas as pd

        frame = pd.read_parquet(self.path)
        if list(frame.columns) != list(self.columns):
            self._mismatch(list(frame.columns))
        for raw in frame.to_dict("records"):
            row = {c: _normalize(raw[c], t) for c, t in self.columns.items()}
            if row[KEY] not in self.rows:
                self.rows[row[KEY]] = row
                self._write(json.dumps(row, allow_nan=False) + "\n")

    def _mismatch(self, found: list[str]) -> None:
        raise bad_argument("results", f"{self.path}: holds the results of a different sweep (columns "
                           f"{', '.join(found[:6])}...); give another file for this one")

    # -------------------------------------------------------------- append

    def _csv_line(self, values: list) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        return buf.getvalue()

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        written = os.write(self._fd, data)
        while written < len(data):  # a short write (rare): finish it before the fsync
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)

    def append(self, row: dict) -> bool:
        """Save one scenario's row now; False (nothing written) when its id is already saved."""
        key = row[KEY]
        if key in self.rows:
            return False
        row = normalize_row(row, self.columns)
        if self.format == "csv":
            self._write(self._csv_line([_to_text(row[c]).replace("\n", " ") for c in self.columns]))
        else:
            self._write(json.dumps(row, allow_nan=False) + "\n")
        self.rows[key] = row
        if self.format == "parquet":
            self._parquet_stale = True
            if time.monotonic() - self._last_parquet >= PARQUET_REWRITE_S:
                self.flush_parquet()
        return True

    def flush_parquet(self) -> None:
        """Rewrite the Parquet file from every saved row, atomically."""
        if self.format != "parquet" or not self._parquet_stale:
            return
        from fleetopt.io.output import write_bytes_atomic

        buf = io.BytesIO()
        frame_of(list(self.rows.values()), self.columns).to_parquet(buf, index=False)
        write_bytes_atomic(self.path, buf.getvalue())
        self._last_parquet = time.monotonic()
        self._parquet_stale = False

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.flush_parquet()
        finally:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


class MemoryStore(ResultStore):
    """The same interface with nothing on disk (a sweep without a results file)."""

    def __init__(self, columns: Columns):
        self.path = Path("(memory)")
        self.format = "memory"
        self.columns = dict(columns)
        self.rows = {}

    def open(self) -> dict[str, dict]:
        return dict(self.rows)

    def append(self, row: dict) -> bool:
        if row[KEY] in self.rows:
            return False
        self.rows[row[KEY]] = normalize_row(row, self.columns)
        return True

    def close(self) -> None:
        pass


def frame_of(rows: list[dict], columns: Columns):
    """Rows as a pandas DataFrame with one dtype per column kind (so every format reads back alike)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(columns))
    for name, kind in columns.items():
        if kind == "num":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        elif kind == "bool":
            frame[name] = frame[name].astype("boolean")
        else:
            frame[name] = frame[name].astype("object")
    return frame
