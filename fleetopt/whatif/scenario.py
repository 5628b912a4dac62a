"""A scenario: the base instance document with some paths set. Applying it, validating it, and its key."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetopt.errors import InputError, Problem, did_you_mean
from fleetopt.io.yamlsafe import dotted
from fleetopt.whatif.spec import Setting, set_problem, split_path

BASE_LABEL = "base"


@dataclass(frozen=True)
class Base:
    """The instance a sweep starts from: its parsed document, the file (model-card paths resolve from its
    folder) and the line of each key, for messages."""

    document: dict
    file: Path
    lines: dict = field(default_factory=dict, compare=False)
    trusted_dirs: tuple[Path, ...] = ()

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.document, sort_keys=True, default=str).encode()).hexdigest()


def read_base(path: str | Path, trusted_dirs: Sequence[str | Path] = ()) -> Base:
    """Parse an instance file (InputError on a bad file) and check it validates, before any scenario runs."""
    from fleetopt.io.load import load_document
    from fleetopt.io.yamlsafe import read_document

    file = Path(path)
    data, lines = read_document(file)
    base = Base(data, file, lines, tuple(Path(d) for d in trusted_dirs))
    load_document(copy.deepcopy(data), file, lines, base.trusted_dirs)
    return base


def base_from_instance(inst) -> Base:
    """A Base from an Instance already loaded (its models and accelerators are inline, so it stands alone).
    Top-level keys left unset (None) are left out: `time: null` in a version 1 document reads as a version 2 key."""
    document = {k: v for k, v in inst.model_dump(mode="json").items() if v is not None}
    file = Path(inst.source) if inst.source else Path(f"{inst.name}.yaml")
    return Base(document, file)


def label(settings: Sequence[Setting]) -> str:
    return ", ".join(str(s) for s in settings) if settings else BASE_LABEL


def scenario_id(base_digest: str, settings: Sequence[Setting], solve_key: dict) -> str:
    """The scenario's key in the results file: the base document, the settings (in any order) and the
    options that change the answer. Re-running the same sweep finds the same keys."""
    sets = sorted([s.path, s.value, s.scale] for s in settings)
    text = json.dumps({"base": base_digest, "set": sets, "solve": solve_key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ applying settings


def _targets(node: Any, parts: list, option: str, walked: tuple = ()) -> list[tuple[Any, Any, tuple]]:
    """Every (container, key, concrete path) the path names; `*` fans out. Missing mappings on the way are
    created (the schema then names any typo); a missing list item or a scalar on the way is an error."""
    key, rest = parts[0], parts[1:]
    if key == "*":
        if isinstance(node, dict):
            keys = list(node)
        elif isinstance(node, list):
            keys = list(range(len(node)))
        else:
            raise set_problem(option, f"'{dotted(walked) or '(top level)'}' holds a value, not keys for '*'")
        if not keys:
            raise set_problem(option, f"'{dotted(walked)}' is empty: '*' matches nothing")
    else:
        keys = [key]
    out = []
    for k in keys:
        here = (*walked, k)
        if isinstance(node, list):
            if not isinstance(k, int) or not 0 <= k < len(node):
                raise set_problem(option, f"'{dotted(walked)}' is a list of {len(node)} items; "
                                  f"use an index from 0 to {len(node) - 1}")
        elif isinstance(node, dict):
            k = str(k) if isinstance(k, int) else k
            if not rest:
                out.append((node, k, (*walked, k)))
                continue
            if k not in node or node[k] is None:
                if node and isinstance(next(iter(node.values())), dict) and walked:
                    # a named entry (a region, a service...) that does not exist: say which exist
                    raise set_problem(option, f"no '{k}' under '{dotted(walked)}'" + did_you_mean(k, list(node)))
                node[k] = {}
        else:
            raise set_problem(option, f"'{dotted(walked) or '(top level)'}' holds a value, not keys")
        if not rest:
            out.append((node, k, here))
        else:
            out += _targets(node[k], rest, option, here)
    return out


def _scaled(value: Any, factor: float) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        out = value * factor  # a whole result stays whole; x0.5 of 1025 GPUs is refused by the schema
        return int(out) if isinstance(value, int) and float(out).is_integer() else float(out)
    if isinstance(value, dict):
        return {k: _scaled(v, factor) for k, v in value.items()}
    if isinstance(value, list):
        return [_scaled(v, factor) for v in value]
    return value  # text and nulls are left as they are


def _numbers_under(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, dict):
        return any(_numbers_under(v) for v in value.values())
    if isinstance(value, list):
        return any(_numbers_under(v) for v in value)
    return False


def apply(document: dict, settings: Sequence[Setting]) -> tuple[dict, dict[str, Setting]]:
    """A copy of `document` with the settings applied, and which setting wrote each concrete path."""
    doc = copy.deepcopy(document)
    wrote: dict[str, Setting] = {}
    for s in settings:
        option = str(s)
        for container, key, path in _targets(doc, split_path(s.path, option), option):
            where = dotted(path)
            if s.scale:
                current = container[key] if isinstance(container, list) else container.get(key)
                if not _numbers_under(current):
                    raise set_problem(option, f"'{where}' holds no number to scale" if current is not None
                                      else f"'{where}' is not set, so there is nothing to scale; give a value")
                container[key] = _scaled(current, s.value)
            elif s.value is None and isinstance(container, dict):
                container.pop(key, None)  # null: back to the schema's default (e.g. no carbon budget)
            else:
                container[key] = copy.deepcopy(s.value)
            wrote[where] = s
    return doc, wrote


def _blame(problem: Problem, wrote: dict[str, Setting]) -> Problem:
    """A validation problem under a path a --set option wrote is that option's problem."""
    key = problem.key
    for where, s in wrote.items():
        inside = key == where or key.startswith((where + ".", where + "["))
        around = bool(key) and where.startswith((key + ".", key + "["))  # e.g. a misspelt section the option made
        if inside or around:
            return Problem("--set", str(s), f"{problem.key}: {problem.message}")
    return problem


def instance_for(base: Base, settings: Sequence[Setting]):
    """The validated Instance of a scenario; InputError with each problem blamed on its --set option."""
    from fleetopt.io.load import load_document

    doc, wrote = apply(base.document, settings)
    overrides = {where: (s.value if s.scale else None) for where, s in wrote.items()}  # they beat the CSV
    try:
        return load_document(doc, base.file, {} if settings else base.lines, base.trusted_dirs,
                             profile_overrides=overrides)
    except InputError as err:
        raise InputError([_blame(p, wrote) for p in err.problems]) from None


def check_settings(base: Base, settings: Sequence[Setting]) -> list[Problem]:
    """The problems of one scenario (empty when it validates), for checking a sweep before it starts."""
    try:
        instance_for(base, settings)
    except InputError as err:
        return err.problems
    return []


def base_value(base: Base, setting: Setting) -> float | None:
    """The base's number at the setting's path (for distances between scenarios), or None."""
    if setting.scale:
        return 1.0
    node: Any = base.document
    for part in split_path(setting.path):
        if isinstance(node, dict) and not isinstance(part, int) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def document_key(base: Base, settings: Sequence[Setting]) -> str | None:
    """Scenarios with one key load the very same instance: the document with their settings applied (and, where
    a profiles CSV is read, the paths they wrote, which win over it). None when the settings do not apply."""
    try:
        doc, wrote = apply(base.document, settings)
    except InputError:
        return None
    over = sorted((where, s.value if s.scale else None) for where, s in wrote.items()) if doc.get("profiles") else []
    return hashlib.sha256(json.dumps(_as_floats([doc, over]), sort_keys=True, default=str).encode()).hexdigest()


def _as_floats(value: Any) -> Any:
    """Every whole number as a float: 230 and 230.0 load as one instance."""
    if isinstance(value, dict):
        return {k: _as_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_floats(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
