"""Turn pydantic's validation errors into one line each, in the user's key names."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from fleetopt.errors import Problem, did_you_mean
from fleetopt.io.yamlsafe import KeyPath, dotted


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
    return text if len(text) <= 40 else text[:37] + "..."


def _message(err: dict) -> str:
    kind, ctx, got = err["type"], err.get("ctx", {}), err.get("input")
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind == "missing":
        return "required key is missing"
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"expected a number {bounds[kind]} {limit:g}, got {_show(got)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {_show(got)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_show(got)}" + _whole_number_hint(got)
    if kind == "finite_number":
        return f"expected a finite number, got {_show(got)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_show(got)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys to values, got {_show(got)}"
    if kind == "list_type":
        return f"expected a list, got {_show(got)}"
    if kind in ("string_type",):
        hint = "; YAML reads yes/no/on/off/true/false unquoted as true or false: put the name in quotes" \
            if isinstance(got, bool) else ""
        return f"expected a name (text), got {_show(got)}{hint}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {_show(got)}"
    if kind == "string_pattern_mismatch":
        return f"expected a name of letters, digits, '-', '_' or '.', got {_show(got)}"
    if kind == "string_too_long":
        return f"names are at most {ctx.get('max_length')} characters"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "union_tag_invalid":
        return f"kind must be one of {ctx.get('expected_tags')}, got {_show(ctx.get('tag'))}"
    if kind == "union_tag_not_found":
        return "missing 'kind' (transformer, dlrm or cnn)"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _whole_number_hint(got: Any) -> str:
    """'2e3' is text to YAML 1.1 (its floats need a dot): say how to write the whole number."""
    try:
        value = float(got) if isinstance(got, str) else None
    except ValueError:
        return ""
    whole = value is not None and value.is_integer() and abs(value) < 1e18
    return f"; write it as {int(value)}" if whole else ""


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes (or containers) an annotation can hold."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def known_keys(root: type[BaseModel], path: KeyPath, data: Any) -> list[str]:
    """The keys allowed in the mapping at `path`, found by walking the schema along the data."""
    candidates: list[Any] = [root]
    node = data
    for part in path:
        following: list[Any] = []
        for c in candidates:
            if isinstance(c, type) and issubclass(c, BaseModel) and isinstance(part, str) and part in c.model_fields:
                following += _unwrap(c.model_fields[part].annotation)
            elif typing.get_origin(c) is dict:
                following += _unwrap(typing.get_args(c)[1])
            elif typing.get_origin(c) is list and isinstance(part, int):
                following += _unwrap(typing.get_args(c)[0])
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
        candidates = following
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) > 1 and isinstance(node, dict):  # discriminated cards: pick by kind
        kind = node.get("kind", "transformer")
        models = [m for m in models if getattr(m.model_fields.get("kind"), "default", None) == kind] or models
    return sorted({k for m in models for k in m.model_fields})


def _user_path(loc: tuple, data: Any, kind: str) -> KeyPath:
    """Drop pydantic's union tags from loc: keep the parts that exist in the data (and a missing key)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            out.append(part)
            node = node[part]
        elif last and kind == "missing":
            out.append(part)
    return tuple(out)


def problems_from(error: ValidationError, root: type[BaseModel], data: Any, file: str,
                  lines: dict[KeyPath, int]) -> list[Problem]:
    seen: dict[str, Problem] = {}
    paths: dict[str, tuple[KeyPath, str]] = {}
    for err in error.errors():
        path = _user_path(err["loc"], data, err["type"])
        if err["type"].startswith("union_tag"):
            path = path + ("kind",)
        if err["type"] == "extra_forbidden":
            message = "unknown key" + did_you_mean(str(path[-1]), known_keys(root, path[:-1], data))
        else:
            message = _message(err)
        key = dotted(path)
        line = lines.get(path) or lines.get(path[:-1])
        if key in seen:  # a union reports one error per member: keep the first, it names the simple form
            continue
        seen[key] = Problem(file, key, " ".join(message.split()), line)
        paths[key] = (path, err["type"])
    # A union member that fits the value's shape (a list) reports deeper errors; the shallower "expected a
    # number, got a list" from the member that does not fit only misleads.
    return [problem for key, problem in seen.items()
            if not (paths[key][1] in _SHAPE_ERRORS and any(
                len(other) > len(paths[key][0]) and other[:len(paths[key][0])] == paths[key][0]
                for other, _ in paths.values()))]


_SHAPE_ERRORS = {"float_type", "int_type", "string_type", "bool_type", "dict_type", "model_type",
                 "model_attributes_type", "list_type", "literal_error"}
