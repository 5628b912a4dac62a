"""Numbers over time (format version 2): the profiles of an instance, from its YAML lists and its profiles CSV.

A profiled number (PROFILED) is a scalar, a list of one day's steps (a typical day, repeated over the horizon)
or a list of one value per horizon step; a column of the `profiles:` CSV overrides it. With `time:` the loader
lays every profile over the horizon, reduces the horizon to slices (io/slices.py) and sets the instance's
timeline; each profiled number's value becomes its horizon mean, which static consumers read. Without `time:`
the file plans as version 1: a list's value is its mean, and the CSV's columns give their horizon means.

Version 2 keys in a `fleetopt: 1` file are refused with one line asking for `fleetopt: 2`: a version 1 reader
of the same file would otherwise plan it without them. Version 1 took lists only for carbon_g_per_kwh.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from fleetopt.errors import InputError, Problem, closest
from fleetopt.io.plausibility import series_outside
from fleetopt.io.schema import HorizonMean, Instance
from fleetopt.io.slices import build_timeline
from fleetopt.io.yamlsafe import MAX_BYTES, KeyPath, dotted

# The numbers that may be profiles: (pattern of instance paths, must be > 0 rather than >= 0)
PROFILED: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("regions", "*", "carbon_g_per_kwh"), False),
    (("regions", "*", "energy_usd_per_kwh"), False),
    (("regions", "*", "power_cap_mw"), True),
    (("regions", "*", "gpus", "*", "usd_per_hour"), False),
    (("serving", "*", "demand_rps", "*"), False),
)
VERSION_1_LISTS = ("carbon_g_per_kwh",)
TIME_COLUMNS = ("hour", "datetime")


def version_2_problems(data: dict, file: str, lines: dict[KeyPath, int]) -> list[Problem]:
    """One line per version 2 key in a `fleetopt: 1` document."""
    if data.get("fleetopt") != 1:
        return []
    ask = "write 'fleetopt: 2' at the top"
    problems = [Problem(file, key, f"'{key}' is format version 2; {ask}", lines.get((key,)))
                for key in ("time", "profiles") if key in data]
    for (pattern, _) in PROFILED:
        if pattern[-1] in VERSION_1_LISTS:
            continue
        for path, value in _matches(data, pattern):
            if isinstance(value, list):
                problems.append(Problem(file, dotted(path), f"a profile (a list) is format version 2; {ask} "
                                        "(version 1 takes lists only for carbon_g_per_kwh)", lines.get(path)))
    return problems


def _matches(node: Any, pattern: tuple[str, ...], path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    if not pattern:
        yield path, node
        return
    if isinstance(node, dict):
        keys = list(node) if pattern[0] == "*" else [pattern[0]] if pattern[0] in node else []
        for key in keys:
            yield from _matches(node[key], pattern[1:], path + (key,))


def _dump(inst: Instance) -> dict:
    return inst.model_dump(mode="python", include={"regions", "serving"})


def profiled_paths(inst: Instance) -> dict[str, tuple[KeyPath, bool]]:
    """Every instance path a profile may set: dotted path -> (key path, positive)."""
    data = _dump(inst)
    for region in data["regions"].values():
        region.setdefault("power_cap_mw", None)  # a CSV may give an uncapped region a cap over time
    return {dotted(path): (path, positive) for pattern, positive in PROFILED
            for path, _ in _matches(data, pattern)}


def _set(inst: Instance, path: KeyPath, value: float) -> None:
    """Set the number at `path` (models by attribute, mappings by key)."""
    node: Any = inst
    for part in path[:-1]:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    if isinstance(node, dict):
        node[path[-1]] = value
    else:
        setattr(node, path[-1], value)


def _get(inst: Instance, path: KeyPath) -> Any:
    node: Any = inst
    for part in path:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


# ------------------------------------------------------------------ YAML lists


def yaml_series(inst: Instance, paths: dict[str, tuple[KeyPath, bool]], steps: int, per_day: int,
                step_hours: float, file: str, lines: dict[KeyPath, int]) -> dict[str, np.ndarray]:
    """[T] series of every number written as a list: a day's steps repeated, or one value per step."""
    out, problems = {}, []
    for name, (path, _) in paths.items():
        value = _get(inst, path)
        if not (isinstance(value, HorizonMean) and isinstance(value.written, tuple)):
            continue  # a number, not a list
        written = np.array(value.written)
        if len(written) == steps:
            out[name] = written
        elif len(written) == per_day:
            out[name] = np.resize(written, steps)
        else:
            problems.append(Problem(file, name, f"a profile of {len(written)} values; expected {per_day} (a day in "
                                    f"steps of {step_hours:g} h) or {steps} (the horizon in steps of "
                                    f"{step_hours:g} h)", lines.get(path)))
    if problems:
        raise InputError(problems)
    return out


# ------------------------------------------------------------------ the profiles CSV


def profiles_file(inst: Instance, file: Path, trusted_dirs: Iterable[Path], lines: dict[KeyPath, int]) -> Path:
    """The CSV `profiles:` names, relative to the instance file, inside its folder (or a trusted one)."""
    base = file.resolve().parent
    target = (base / inst.profiles).resolve()
    where = lines.get(("profiles",))
    if not any(target.is_relative_to(d.resolve()) for d in [base, *trusted_dirs]):
        raise InputError([Problem(str(file), "profiles", f"'{inst.profiles}' leaves the instance's folder; "
                                  "give its folder with --models-dir", where)])
    if not target.is_file():
        raise InputError([Problem(str(file), "profiles", f"no file '{inst.profiles}' next to the instance "
                                  f"(looked for {target})", where)])
    return target


class _Csv:
    """One profiles CSV: every problem names the file, its line, the column's name and number, and the instance
    whose profiles it holds."""

    def __init__(self, path: Path, shown: str, owner: str):
        self.name, self.owner = shown, owner
        raw = path.read_bytes()
        if len(raw) > MAX_BYTES:
            self.fail(None, "(top level)", f"the file is larger than {MAX_BYTES // 2**20} MB")
        try:
            self.text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[:err.start].count(b"\n") + 1
            self.fail(line, "(top level)", "the file is not UTF-8 text")
        self.digest = hashlib.sha256(raw).hexdigest()

    def fail(self, line: int | None, key: str, message: str, column: int | None = None):
        where = f"column {column}; " if column is not None else ""
        raise InputError([Problem(self.name, key, f"{message} ({where}the profiles of {self.owner})", line)])

    def rows(self) -> list[tuple[int, list[str]]]:
        """(line, cells) of every row after leading `#` comment lines, blank lines left out."""
        out = []
        for number, row in enumerate(csv.reader(io.StringIO(self.text, newline="")), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if not out and row[0].lstrip().startswith("#"):
                continue
            out.append((number, [cell.strip() for cell in row]))
        return out


def _number(sheet: _Csv, line: int, key: str, column: int, text: str, positive: bool) -> float:
    if text == "":
        sheet.fail(line, key, "missing value", column)
    try:
        value = float(text)
    except ValueError:
        sheet.fail(line, key, f"expected a number, got {text[:40]!r}", column)
    if not math.isfinite(value):
        sheet.fail(line, key, f"expected a finite number, got {text!r}", column)
    if value < 0 or (positive and value == 0):
        sheet.fail(line, key, f"expected a number {'>' if positive else '>='} 0, got {text}", column)
    return value


def _hours(sheet: _Csv, kind: str, rows: list[tuple[int, list[str]]]) -> np.ndarray:
    """Each row's time in hours from the first row: `hour` as written, `datetime` (UTC) from the first row."""
    out, start = [], None
    for line, cells in rows:
        text = cells[0]
        if kind == "hour":
            try:
                out.append(float(text))
            except ValueError:
                sheet.fail(line, kind, f"expected an hour (a number), got {text[:40]!r}", 1)
            if not math.isfinite(out[-1]):
                sheet.fail(line, kind, f"expected a finite hour, got {text!r}", 1)
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            sheet.fail(line, kind, f"expected an ISO 8601 time such as 2024-06-01T00:00Z, got {text[:40]!r}", 1)
        offset = moment.utcoffset()
        if offset is not None and offset != timedelta(0):
            sheet.fail(line, kind, f"expected a UTC time (Z or +00:00), got {text}", 1)
        moment = moment.replace(tzinfo=timezone.utc)
        start = start or moment
        out.append((moment - start).total_seconds() / 3600.0)
    return np.array(out)


def _rows_per_step(sheet: _Csv, kind: str, rows: list[tuple[int, list[str]]], hours: np.ndarray,
                   step_hours: float) -> int:
    """How many rows make one step: the rows run at step_hours or a whole fraction of it, from hour 0."""
    if kind == "hour" and hours[0] != 0:
        sheet.fail(rows[0][0], kind, f"expected hour 0 (the horizon's start), got {rows[0][1][0]}", 1)
    row_hours = hours[1] - hours[0] if len(hours) > 1 else step_hours
    per_step = step_hours / row_hours if row_hours > 0 else 0.0
    if per_step < 1 - 1e-9 or abs(per_step - round(per_step)) > 1e-6:
        sheet.fail(rows[1][0], kind, f"rows {row_hours:g} h apart; expected step_hours ({step_hours:g} h) or a "
                   "whole fraction of it (finer rows are averaged over each step)", 1)
    row_hours = step_hours / round(per_step)
    wrong = np.flatnonzero(np.abs(hours - np.arange(len(hours)) * row_hours) > 1e-6)
    if len(wrong):
        line, cells = rows[wrong[0]]
        sheet.fail(line, kind, f"expected {_when(kind, rows[0][1][0], wrong[0] * row_hours)} (rows run "
                   f"{row_hours:g} h apart from the first), got {cells[0]}", 1)
    return int(round(per_step))


def _when(kind: str, first: str, hours: float) -> str:
    if kind == "hour":
        return f"hour {hours:g}"
    start = datetime.fromisoformat(first).replace(tzinfo=timezone.utc)
    return (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%MZ")


def read_profiles_csv(path: Path, paths: dict[str, tuple[KeyPath, bool]], steps: int, per_day: int,
                      step_hours: float, shown: str | None = None, owner: str = "the instance",
                      ) -> tuple[dict[str, np.ndarray], str]:
    """([T] series per column, the file's SHA-256): rows cover a day (repeated) or the horizon, at step_hours
    or a whole fraction of it (averaged over each step). `shown` is the file's name in messages, `owner` the
    instance file whose profiles it holds."""
    sheet = _Csv(path, shown or str(path), owner)
    rows = sheet.rows()
    if not rows:
        sheet.fail(None, "(top level)", "no header row: expected 'hour' or 'datetime', then instance paths")
    header_line, header = rows[0]
    body = rows[1:]
    if header[0] not in TIME_COLUMNS:
        sheet.fail(header_line, header[0] or "(empty)", "the first column must be 'hour' (0-based) or "
                   "'datetime' (ISO 8601, UTC)", 1)
    if len(header) < 2:
        sheet.fail(header_line, header[0], "no columns after the time column", 1)
    for column, name in enumerate(header[1:], start=2):
        if name not in paths:
            guess = closest(name, paths)
            hint = f"; did you mean '{guess}'?" if guess else \
                " (a profile sets regions.R.carbon_g_per_kwh, energy_usd_per_kwh, power_cap_mw, " \
                "gpus.A.usd_per_hour or serving.S.demand_rps.P)"
            sheet.fail(header_line, name or "(empty)", f"not a number of this instance that a profile sets{hint}",
                       column)
        if header.index(name) != column - 1:
            sheet.fail(header_line, name, f"a second column for the same path (the first is column "
                       f"{header.index(name) + 1})", column)
    if not body:
        sheet.fail(header_line, header[0], f"no rows; expected {steps} (the horizon in steps of {step_hours:g} h) "
                   f"or {per_day} (a day)")
    for line, cells in body:
        if len(cells) != len(header):
            sheet.fail(line, header[0], f"expected {len(header)} values (one per column of the header), "
                       f"got {len(cells)}")
    per_step = _rows_per_step(sheet, header[0], body, _hours(sheet, header[0], body), step_hours)
    if len(body) not in (per_day * per_step, steps * per_step):
        expected = f"{steps * per_step} rows (the horizon) or {per_day * per_step} (a day) " \
            f"{step_hours / per_step:g} h apart"
        if len(body) > steps * per_step:
            sheet.fail(body[steps * per_step][0], header[0], f"a row past the horizon's end; expected {expected}")
        sheet.fail(body[-1][0], header[0], f"the file ends after {len(body)} rows; expected {expected}")
    series = {}
    for column, name in enumerate(header[1:], start=2):
        positive = paths[name][1]
        values = np.array([_number(sheet, line, name, column, cells[column - 1], positive) for line, cells in body])
        values = values.reshape(-1, per_step).mean(axis=1)  # finer rows: each step's mean
        series[name] = values if len(values) == steps else np.resize(values, steps)
    return series, sheet.digest


# ------------------------------------------------------------------ the loader's step


def overridden(series: dict[str, np.ndarray], overrides: dict[str, float | None]) -> dict[str, np.ndarray]:
    """The CSV's columns after what-if settings: a column under a path set to a value is dropped (the value
    stands for every step), one under a scaled path is scaled; the rest are as read."""
    out = {}
    for column, values in series.items():
        wrote = [w for w in overrides if column == w or column.startswith(w + ".")]
        if not wrote:
            out[column] = values
        elif overrides[wrote[-1]] is not None:
            out[column] = values * overrides[wrote[-1]]
    return out


def apply_time(inst: Instance, file: Path, lines: dict[KeyPath, int], trusted_dirs: Iterable[Path] = (),
               overrides: dict[str, float | None] | None = None) -> str | None:
    """Lay the instance's profiles over its horizon: set its timeline (with `time:`) and the horizon mean of
    every profiled number; `overrides` (path -> scale factor, or None for a value) are what-if settings, which
    win over the CSV. Returns the profiles CSV's SHA-256 (for the instance's digest) or None."""
    if inst.time is None and inst.profiles is None:
        return None
    step = inst.time.step_hours if inst.time is not None else 1.0
    name = str(file)
    steps_float = inst.horizon_hours / step
    if abs(steps_float - round(steps_float)) > 1e-9:
        key = "time.step_hours" if inst.time is not None else "horizon_hours"
        raise InputError([Problem(name, key, f"the horizon ({inst.horizon_hours:g} h) must be a whole number of "
                                  f"steps of {step:g} h", lines.get(tuple(key.split("."))))])
    steps, per_day = int(round(steps_float)), int(round(24.0 / step))
    paths = profiled_paths(inst)
    series = yaml_series(inst, paths, steps, per_day, step, name, lines) if inst.time is not None else {}
    digest = None
    if inst.profiles is not None:
        shown = str(file.parent / inst.profiles)
        csv_series, digest = read_profiles_csv(profiles_file(inst, file, trusted_dirs, lines), paths, steps,
                                               per_day, step, shown=shown, owner=file.name)
        warnings, absurd = series_outside(csv_series, shown)
        if absurd:
            raise InputError(absurd)
        inst._profile_warnings = warnings
        series.update(overridden(csv_series, overrides or {}))  # the CSV overrides the file's numbers
    for path_name, values in series.items():
        path = paths[path_name][0]
        written = _get(inst, path)
        _set(inst, path, HorizonMean(float(values.mean()),
                                     written.written if isinstance(written, HorizonMean) else written))
    if inst.time is not None:
        inst._timeline = build_timeline(inst.horizon_hours, step, series, inst.time.representative_days,
                                        inst.time.merge_tolerance)
    return digest
