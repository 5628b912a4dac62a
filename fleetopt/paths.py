"""Where the shipped model cards, instances and catalogs live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(kind: str) -> Path:
    """models/ or instances/: inside the wheel (fleetopt/_shipped/...) or at the top of a checkout."""
    inside = _PACKAGE / "_shipped" / kind
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / kind


def catalog_file(name: str) -> Path:
    return _PACKAGE / "catalog" / name


def default_instance() -> Path:
    return shipped_dir("instances") / "global-fleet.yaml"
