"""What changes from one plan to another: per job and service what moves, starts, stops or changes layout, the
GPUs whose assignment changes, and the GPUs, cost and carbon deltas (`fleetopt diff OLD NEW`).

Changed GPUs are counted as the re-plan counts them (formulation/change.py): per (workload, region,
accelerator), |new GPUs - old GPUs|, summed; a job moving 1,024 GPUs between regions changes 2,048.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from fleetopt.io.numbers import money, num, whole
from fleetopt.plan.model import Plan, TrainingDecision


@dataclass
class Change:
    """One job or replica group that differs between the plans."""

    kind: str          # "job" | "service"
    name: str
    action: str        # "moves" | "starts" | "stops" | "changes"
    old: str           # the old decision in words ("" when it starts)
    new: str           # the new one ("" when it stops)
    gpus: int          # new - old
    cost_usd: float
    carbon_t: float


@dataclass
class PlanDiff:
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)
    changed_gpus: int = 0
    gpus: int = 0
    cost_usd: float = 0.0
    carbon_t: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.changes and self.changed_gpus == 0

    def to_dict(self) -> dict:
        return asdict(self)


def _layout(d: TrainingDecision) -> str:
    return f"{d.region}/{d.accelerator} {whole(d.gpus)} GPUs {d.tp}x{d.pp}x{d.dp} sync {d.sync_group}"


def _layout_key(d: TrainingDecision) -> tuple:
    return (d.region, d.accelerator, d.gpus, d.tp, d.pp, d.dp, d.sync_group)


def held_gpus(plan: Plan) -> Counter:
    """GPUs per (workload, region, accelerator)."""
    held: Counter = Counter()
    for name, d in plan.training.items():
        held[(f"training.{name}", d.region, d.accelerator)] += d.gpus
    for name, s in plan.serving.items():
        for g in s.replicas:
            held[(f"serving.{name}", g.region, g.accelerator)] += g.gpus
    return held


def _jobs(old: Plan, new: Plan) -> list[Change]:
    out = []
    for name in list(old.training) + [j for j in new.training if j not in old.training]:
        a, b = old.training.get(name), new.training.get(name)
        if a is not None and b is not None and _layout_key(a) == _layout_key(b):
            continue
        action = "starts" if a is None else "stops" if b is None else "moves" if a.region != b.region else "changes"
        out.append(Change("job", name, action, _layout(a) if a else "", _layout(b) if b else "",
                          (b.gpus if b else 0) - (a.gpus if a else 0), (b.cost_usd if b else 0.0)
                          - (a.cost_usd if a else 0.0), (b.carbon_t if b else 0.0) - (a.carbon_t if a else 0.0)))
    return out


def _services(old: Plan, new: Plan) -> list[Change]:
    out = []
    for name in list(old.serving) + [s for s in new.serving if s not in old.serving]:
        groups = {}
        for side, plan in (0, old), (1, new):
            for g in plan.serving[name].replicas if name in plan.serving else []:
                groups.setdefault((g.region, g.accelerator, g.config), [None, None])[side] = g
        for (region, accel, config), (a, b) in groups.items():
            if a is not None and b is not None and a.replicas == b.replicas:
                continue
            action = "starts" if a is None else "stops" if b is None else "changes"
            where = f"{region}/{accel} {config}"
            out.append(Change("service", name, action, f"{where} x{a.replicas}" if a else "",
                              f"{where} x{b.replicas}" if b else "", (b.gpus if b else 0) - (a.gpus if a else 0),
                              (b.cost_usd if b else 0.0) - (a.cost_usd if a else 0.0),
                              (b.carbon_t if b else 0.0) - (a.carbon_t if a else 0.0)))
    return out


def diff_plans(old: Plan, new: Plan, old_name: str = "old", new_name: str = "new") -> PlanDiff:
    """What changes from `old` to `new`."""
    a, b = held_gpus(old), held_gpus(new)
    out = PlanDiff(old_name, new_name, _jobs(old, new) + _services(old, new),
                   changed_gpus=int(sum(abs(b.get(k, 0) - a.get(k, 0)) for k in set(a) | set(b))))
    if old.totals and new.totals:
        out.gpus = new.totals.gpus - old.totals.gpus
        out.cost_usd = new.totals.cost_usd - old.totals.cost_usd
        out.carbon_t = new.totals.carbon_t - old.totals.carbon_t
    return out


def _signed(text: str) -> str:
    """A delta with its sign: +128, -$5,960, 0."""
    return text if text.startswith("-") or text in ("0", "$0") else "+" + text


def diff_lines(diff: PlanDiff) -> list[str]:
    """The diff in words: a summary line, then per change a line and what it was and is (each within 80
    columns for the usual names; plan.terminal.fit wraps longer ones). The files are the caller's to name."""
    if diff.empty:
        return ["no change"]
    lines = [f"{whole(diff.changed_gpus)} GPUs change assignment",
             f"  GPUs {_signed(whole(diff.gpus))}, cost {_signed(money(diff.cost_usd))}, carbon "
             f"{_signed(num(diff.carbon_t, 3))} t CO2e over the horizon"]
    for c in diff.changes:
        lines.append(f"{c.kind} {c.name} {c.action} ({_signed(whole(c.gpus))} GPUs, {_signed(money(c.cost_usd))})")
        if c.kind == "service" and c.action == "changes":
            where, was = c.old.rsplit(" x", 1)
            lines.append(f"  {where}: {was} -> {c.new.rsplit(' x', 1)[1]} replicas")
            continue
        lines += [f"  was {c.old}"] if c.old else []
        lines += [f"  now {c.new}"] if c.new else []
    return lines
