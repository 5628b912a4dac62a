"""The fleet as deployed: a plan fleetopt wrote, read as `current:` (or `fleetopt solve --from`) and checked
against the instance before anything is built.

Only the decisions matter here (where each job and replica group runs, on how many GPUs); the rest of the plan
is ignored. Bad input (an unreadable file, a plan of another instance, a job, service, region or accelerator
the instance does not have) is one line naming the plan file and the key, exit 2.

Progress: with `policy.as_of_hour: H` the current plan has run H hours, so each of its jobs has done
min(1, H / its wall hours) of its tokens (wall hours count failures, checkpoints and staging, so this is the
share of the run's clock, not of its steps). The re-plan trains only the rest: the job's tokens are scaled by
the share left, and a job that is done leaves the instance. Deadlines and the horizon in the file count from
the re-plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetopt.errors import InputError, Problem, did_you_mean
from fleetopt.io.yamlsafe import dotted, read_document

EDGE_DEVICE = "edge-device"   # the accelerator name of federated clients (candidates/federated.py)
WITH_PLAN = ("optimal", "feasible")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Job(_Loose):
    region: str
    accelerator: str
    gpus: int = Field(ge=0)
    tp: int = Field(ge=1)
    pp: int = Field(ge=1)
    dp: int = Field(ge=1)
    sync_group: int = Field(ge=1)
    wall_hours: float = Field(gt=0, allow_inf_nan=False)


class _Group(_Loose):
    region: str
    accelerator: str
    config: str
    replicas: int = Field(ge=0)
    gpus: int = Field(ge=0)


class _Service(_Loose):
    replicas: list[_Group]


class _Provenance(_Loose):
    instance: str


class _Plan(_Loose):
    status: str
    training: dict[str, _Job] = Field(default_factory=dict)
    serving: dict[str, _Service] = Field(default_factory=dict)
    provenance: _Provenance


@dataclass(frozen=True)
class CurrentJob:
    """Where a job of the deployed plan runs, and the share of its tokens already trained."""

    region: str
    accelerator: str
    gpus: int
    tp: int
    pp: int
    dp: int
    sync_group: int
    wall_hours: float
    done_fraction: float


@dataclass(frozen=True)
class CurrentGroup:
    """A replica group of the deployed plan."""

    region: str
    accelerator: str
    config: str
    replicas: int
    gpus: int


@dataclass
class CurrentFleet:
    """The deployed plan's decisions, in the instance's names."""

    file: str
    instance: str
    training: dict[str, CurrentJob] = field(default_factory=dict)
    serving: dict[str, list[CurrentGroup]] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)   # jobs done by policy.as_of_hour (left the instance)

    def gpus(self) -> dict[tuple[str, str, str], int]:
        """GPUs per (workload, region, accelerator); workload is `training.JOB` or `serving.SERVICE`."""
        out: dict[tuple[str, str, str], int] = {}
        for name, job in self.training.items():
            key = (f"training.{name}", job.region, job.accelerator)
            out[key] = out.get(key, 0) + job.gpus
        for name, groups in self.serving.items():
            for g in groups:
                key = (f"serving.{name}", g.region, g.accelerator)
                out[key] = out.get(key, 0) + g.gpus
        return out


def _inside(path: Path, folders: Iterable[Path]) -> bool:
    return any(path.is_relative_to(f.resolve()) for f in folders)


def current_path(inst, instance_file: Path, given: Path | None, trusted_dirs: Iterable[Path] = ()) -> Path | None:
    """The deployed plan's file: `given` (--from) if any, else `current:` relative to the instance file."""
    if given is not None:
        return Path(given)
    if inst.current is None:
        return None
    base = instance_file.resolve().parent
    if not _inside((base / inst.current).resolve(), [base, *trusted_dirs]):
        raise InputError([Problem(str(instance_file), "current", f"plan path '{inst.current}' leaves the "
                                  "instance's folder; give its folder with --models-dir")])
    return instance_file.parent / inst.current


def _fail(inst, file: Path, key: str, message: str, lines: dict, path: tuple = ()) -> InputError:
    """One line naming the plan file and key, and the instance that names the plan."""
    used_by = f" (the deployed plan {inst.source} re-plans from)" if inst.source else ""
    return InputError([Problem(str(file), key, message + used_by, lines.get(path) if path else None)])


def read_current(inst, file: Path, shown: str) -> CurrentFleet:
    """Read and check the deployed plan `file` against `inst` (InputError: one line naming file and key)."""
    if not file.is_file():
        raise InputError([Problem(inst.source, "current", f"no plan file '{shown}'")])
    data, lines = read_document(file)
    if not isinstance(data, dict):
        raise _fail(inst, file, "", "expected a plan: a JSON object as `fleetopt solve -o` writes", lines)
    try:
        plan = _Plan.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = tuple(first["loc"])
        raise _fail(inst, file, dotted(where) or "(top level)", f"{first['msg'].lower()} (not a plan fleetopt wrote)",
                    lines, where) from None
    if plan.provenance.instance != inst.name:
        raise _fail(inst, file, "provenance.instance", f"the plan is for instance '{plan.provenance.instance}', not "
                    f"'{inst.name}'", lines, ("provenance", "instance"))
    if plan.status not in WITH_PLAN:
        raise _fail(inst, file, "status", f"the plan's status is '{plan.status}': it holds no fleet to start from",
                    lines, ("status",))
    return CurrentFleet(str(file), plan.provenance.instance, _jobs(inst, file, plan, lines),
                        _services(inst, file, plan, lines))


def _known(inst, file, lines, where: tuple, region: str, accelerator: str) -> None:
    if region not in inst.regions:
        raise _fail(inst, file, dotted(where + ("region",)), f"unknown region '{region}'"
                    + did_you_mean(region, inst.regions), lines, where + ("region",))
    if accelerator not in inst.regions[region].gpus and accelerator != EDGE_DEVICE:
        raise _fail(inst, file, dotted(where + ("accelerator",)), f"no accelerator '{accelerator}' in region "
                    f"'{region}'" + did_you_mean(accelerator, inst.regions[region].gpus), lines,
                    where + ("accelerator",))


def _jobs(inst, file, plan: _Plan, lines) -> dict[str, CurrentJob]:
    out = {}
    for name, job in plan.training.items():
        where = ("training", name)
        if name not in inst.training:
            raise _fail(inst, file, dotted(where), f"unknown job '{name}'" + did_you_mean(name, inst.training), lines,
                        where)
        _known(inst, file, lines, where, job.region, job.accelerator)
        done = min(1.0, inst.policy.as_of_hour / job.wall_hours)
        out[name] = CurrentJob(job.region, job.accelerator, job.gpus, job.tp, job.pp, job.dp, job.sync_group,
                               job.wall_hours, done)
    return out


def _services(inst, file, plan: _Plan, lines) -> dict[str, list[CurrentGroup]]:
    out = {}
    for name, svc in plan.serving.items():
        where = ("serving", name)
        if name not in inst.serving:
            raise _fail(inst, file, dotted(where), f"unknown service '{name}'" + did_you_mean(name, inst.serving),
                        lines, where)
        for i, g in enumerate(svc.replicas):
            _known(inst, file, lines, where + ("replicas", i), g.region, g.accelerator)
        out[name] = [CurrentGroup(g.region, g.accelerator, g.config, g.replicas, g.gpus) for g in svc.replicas]
    return out


def attach_current(inst, instance_file: Path, given: Path | None = None, trusted_dirs: Iterable[Path] = ()) -> None:
    """Read the deployed plan (`current:` or `given`), keep it on the instance, and take its jobs' progress
    (policy.as_of_hour) off their tokens; a job already done leaves the instance."""
    path = current_path(inst, instance_file, given, trusted_dirs)
    if path is None:
        return
    if inst.time is not None:  # the change rows count GPUs per workload, not per slice (README, design notes)
        raise InputError([Problem(str(instance_file), "time", "re-planning from a deployed plan (current: or --from) "
                                  "over time slices is not supported yet; drop `time:` or plan afresh")])
    fleet = read_current(inst, path, str(given) if given is not None else str(inst.current))
    for name, job in list(fleet.training.items()):
        if job.done_fraction >= 1.0:   # done: neither in the re-plan nor in what it changes
            fleet.finished.append(name)
            del inst.training[name], fleet.training[name]
        elif job.done_fraction > 0.0:
            inst.training[name].tokens *= 1.0 - job.done_fraction
    if not inst.training and not inst.serving:
        raise InputError([Problem(str(path), "training", f"every job of the plan is done by policy.as_of_hour "
                                  f"{inst.policy.as_of_hour:g} and the instance has no service: nothing to plan")])
    inst._current = fleet
