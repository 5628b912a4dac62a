"""`fleetopt init [PATH]`: copy a shipped instance into the current folder, to edit and plan."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetopt.cli.common import fail_input as _fail_input
from fleetopt.errors import EXIT_BAD_INPUT, InputError


def init(path: Path | None = typer.Argument(None, help="where to write the copy; default: ./NAME.yaml"),
         name: str = typer.Option("global-fleet", "--instance", help="a shipped instance, e.g. archetype-a or "
                                  "infeasible/inventory-shortfall"),
         force: bool = typer.Option(False, "--force", help="overwrite PATH if it exists")):
    """Copy a shipped instance (default: the reference global-fleet) into the current folder, to edit and plan."""
    from fleetopt.errors import did_you_mean
    from fleetopt.io.output import check_output_path, write_bytes_atomic, write_text_atomic
    from fleetopt.paths import shipped_dir

    root = shipped_dir("instances")
    known = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))
    if name.removesuffix(".yaml") not in known:
        typer.echo(f"error: --instance: unknown shipped instance '{name}'{did_you_mean(name, known)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    source = root / f"{name.removesuffix('.yaml')}.yaml"
    target = path if path is not None else Path(source.name)
    try:
        check_output_path(target)
        if target.exists() and not force:
            typer.echo(f"error: {target}: exists; pass --force to overwrite it", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        profiles = _profiles_copy(source, target, force)  # checked before anything is written
        write_text_atomic(target, source.read_text(encoding="utf-8"))
        if profiles is not None:
            write_bytes_atomic(profiles[0], profiles[1])
    except InputError as err:
        _fail_input(err)
    also = f" (and its profiles {profiles[0]})" if profiles else ""
    typer.echo(f"{target}: a copy of the shipped {source.stem}{also}; plan it with `fleetopt solve {target}`")


def _profiles_copy(source: Path, target: Path, force: bool) -> tuple[Path, bytes] | None:
    """(where, bytes) of the profiles CSV a shipped instance names (`profiles:`, relative to it), to copy beside
    the copy; another file of that name is kept unless --force."""
    from fleetopt.io.yamlsafe import read_document

    data, _ = read_document(source)
    name = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(name, str):
        return None
    copy, content = target.parent / name, (source.parent / name).read_bytes()
    if copy.exists() and not force and copy.read_bytes() != content:
        typer.echo(f"error: {copy}: exists (the instance's profiles); pass --force to overwrite it", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    return copy, content
