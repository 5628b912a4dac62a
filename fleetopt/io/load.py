"""Load an instance file: parse safely, merge the built-in catalogs, validate, check references."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from fleetopt.errors import InputError, Problem, bad_argument, did_you_mean
from fleetopt.io.current import attach_current
from fleetopt.io.errors_pydantic import problems_from
from fleetopt.io.plausibility import check_plausibility, refuse_absurd
from fleetopt.io.profiles import apply_time, version_2_problems
from fleetopt.io.references import check_references
from fleetopt.io.schema import CnnCard, DlrmCard, Instance, ModelCard, TransformerCard
from fleetopt.io.yamlsafe import dotted, read_document
from fleetopt.paths import catalog_file, shipped_dir

AnyCard = TransformerCard | DlrmCard | CnnCard

CARD_SUFFIXES = (".yaml", ".yml", ".json")


@lru_cache(maxsize=1)
def accelerator_catalog() -> dict[str, dict]:
    data, _ = read_document(catalog_file("accelerators.yaml"))
    return data


def shipped_models() -> list[str]:
    return sorted(p.stem for p in shipped_dir("models").glob("*.yaml"))


def _merge_accelerators(data: dict) -> None:
    user = data.get("accelerators")
    if user is not None and not isinstance(user, dict):
        return  # pydantic reports the type
    merged = {name: dict(spec) for name, spec in accelerator_catalog().items()}
    for name, spec in (user or {}).items():
        base = merged.get(name, {})
        merged[name] = {**base, **spec} if isinstance(spec, dict) else spec
    data["accelerators"] = merged


def _referenced_models(data: dict) -> Iterable[tuple[tuple[str, str, str], str]]:
    for section in ("training", "serving"):
        entries = data.get(section)
        if isinstance(entries, dict):
            for name, entry in entries.items():
                if isinstance(entry, dict) and isinstance(entry.get("model"), str):
                    yield (section, name, "model"), entry["model"]


def _inside(path: Path, folders: Iterable[Path]) -> bool:
    return any(path.is_relative_to(f.resolve()) for f in folders)


def _merge_models(data: dict, file: Path, trusted_dirs: Iterable[Path], lines: dict) -> list[Problem]:
    """Add each referenced model card that is not inline: a shipped card by name, or a card file by path."""
    models = data.get("models")
    if models is None:
        models = data["models"] = {}
    if not isinstance(models, dict):
        return []
    problems: list[Problem] = []
    base = file.resolve().parent
    tried: set[str] = set()
    for where, ref in _referenced_models(data):
        key = dotted(where)
        if ref in models or ref in tried:
            continue
        tried.add(ref)
        if ref.endswith(CARD_SUFFIXES):
            card_path = (base / ref).resolve()
            if not _inside(card_path, [base, *trusted_dirs]):
                problems.append(Problem(str(file), key, f"model card path '{ref}' leaves the instance's folder; "
                                        "give its folder with --models-dir", lines.get(where)))
                continue
        else:
            card_path = shipped_dir("models") / f"{ref}.yaml"
            if not card_path.is_file():
                continue  # the reference check names it with a suggestion
        try:
            models[ref] = _read_card(card_path).model_dump()
        except InputError as err:  # the card's own lines, saying which instance key led there
            used_by = f" (the card {key} names in {file})"
            problems += [replace(p, message=p.message + used_by) for p in err.problems]
    return problems


def load_document(data: Any, file: Path, lines: dict | None = None,
                  trusted_dirs: Iterable[Path] = (), current: Path | None = None,
                  profile_overrides: dict[str, float | None] | None = None) -> Instance:
    """Validate already-parsed data as an instance (used by the loader and by what-if sweeps); `current`, a
    deployed plan's file, overrides the instance's `current:` (io/current.py); `profile_overrides` are the
    paths a what-if setting wrote, which win over the profiles CSV (io/profiles.apply_time)."""
    name = str(file)
    lines = lines or {}
    if not isinstance(data, dict):
        raise InputError([Problem(name, "", "expected a mapping of keys to values starting with 'fleetopt: 1'")])
    if "fleetopt" not in data:
        raise InputError([Problem(name, "fleetopt", "missing format version; add 'fleetopt: 1' at the top")])
    if data["fleetopt"] not in (1, 2) or isinstance(data["fleetopt"], bool):
        raise InputError([Problem(name, "fleetopt", f"format version {data['fleetopt']!r} is not supported; "
                                  "expected 1 or 2", lines.get(("fleetopt",)))])
    data = json.loads(json.dumps(data, default=str))  # a private copy: the merge must not touch the caller's
    problems = version_2_problems(data, name, lines) + _merge_models(data, file, trusted_dirs, lines)
    _merge_accelerators(data)
    try:
        instance = Instance.model_validate(data)
    except ValidationError as err:
        raise InputError(problems + problems_from(err, Instance, data, name, lines)) from None
    if not problems:  # a card that failed to load would also show up as an unknown model
        problems = check_references(instance, name, lines, known_models=shipped_models())
    if problems:
        raise InputError(problems)
    # the timeline, from `time:` and profiles
    profiles_digest = apply_time(instance, file, lines, trusted_dirs, profile_overrides)
    if profiles_digest is not None:  # the CSV is part of the input
        data = {**data, "profiles": [data["profiles"], profiles_digest]}
    instance._source = name
    instance._digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    refuse_absurd(instance, name, lines)  # a 1e30-hour horizon: bad input, not a solver failure
    attach_current(instance, file, current, trusted_dirs)  # the fleet as deployed, checked against the instance
    instance._warnings = check_plausibility(instance, name, lines)  # implausible values: warned, not refused
    return instance


def load_instance(path: str | Path, trusted_dirs: Iterable[Path] = (), current: str | Path | None = None) -> Instance:
    """Read, validate and resolve an instance file (`current`: a deployed plan's file, as `--from`). Raises
    InputError (exit code 2) on any bad input."""
    file = Path(path)
    data, lines = read_document(file)
    return load_document(data, file, lines, [Path(d) for d in trusted_dirs],
                         Path(current) if current is not None else None)


_CARD = TypeAdapter(ModelCard)


def _read_card(path: Path) -> AnyCard:
    data, lines = read_document(path)
    try:
        return _CARD.validate_python(data)
    except ValidationError as err:
        root = {"dlrm": DlrmCard, "cnn": CnnCard}.get(data.get("kind") if isinstance(data, dict) else None,
                                                        TransformerCard)
        raise InputError(problems_from(err, root, data, str(path), lines)) from None


def load_model_card(ref: str) -> AnyCard:
    """A shipped card by name or a card file by path (for `fleetopt estimate --model`)."""
    path = Path(ref) if ref.endswith(CARD_SUFFIXES) else shipped_dir("models") / f"{ref}.yaml"
    if not path.is_file():
        raise bad_argument("model", f"unknown model '{ref}'" + did_you_mean(ref, shipped_models()))
    return _read_card(path)
