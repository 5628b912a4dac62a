"""What a verification finds: violations (family, key, amount, units, message) and how many rows it checked.

A row holds when its activity exceeds its limit by no more than ABS_TOL + REL_TOL x |limit|: solvers keep
rows within about 1e-7 of their bounds, and a plan's numbers survive a JSON round trip exactly.

Family names, layers and meanings are the declared facts (fleetopt/facts.py, which imports nothing of the
formulation): a violation reads as the same family[key] the formulation, explain and the README name.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

from fleetopt.facts import FAMILIES, facts

REL_TOL = 1e-6      # feasibility tolerance relative to the limit
ABS_TOL = 1e-6      # and absolute, in the row's units
REPORT_RTOL = 1e-6  # a figure the plan states must match the recomputed one this closely


def exceeds(activity: float, limit: float) -> bool:
    """True when activity <= limit fails beyond the tolerance (NaN activity always fails)."""
    if math.isnan(activity):
        return True
    return activity - limit > ABS_TOL + REL_TOL * abs(limit)


def differs(stated: float, recomputed: float) -> bool:
    """True when a stated figure is not the recomputed one (relative, with a tiny absolute floor)."""
    if not (math.isfinite(stated) and math.isfinite(recomputed)):
        return not (stated == recomputed or (math.isnan(stated) and math.isnan(recomputed)))
    return abs(stated - recomputed) > 1e-9 + REPORT_RTOL * max(abs(stated), abs(recomputed))


@dataclass(frozen=True)
class Violation:
    """One constraint row that the plan breaks, or one figure it states wrongly."""

    family: str
    key: tuple[str, ...]
    amount: float   # how far past the limit (or how far off the stated figure), in `units`
    units: str
    message: str

    @property
    def name(self) -> str:
        return f"{self.family}[{','.join(self.key)}]"

    @property
    def layer(self) -> str:
        """The fleet-stack layer of the family (its declared facts)."""
        return facts(self.family).layer

    @property
    def meaning(self) -> str:
        return facts(self.family).meaning

    def __str__(self) -> str:
        return f"{self.name}: {self.message} (off by {self.amount:.6g} {self.units})"


@dataclass
class Report:
    """All violations of a plan against an instance, and the rows checked per family."""

    violations: list[Violation] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.violations

    def check(self, family: str, n: int = 1) -> None:
        if family not in FAMILIES:   # every family verify checks is declared, so reports name it the same way
            raise KeyError(f"verify checks family '{family}', which fleetopt/facts.py does not declare")
        self.checked[family] += n

    def add(self, family: str, key, amount: float, units: str, message: str) -> None:
        facts(family)   # a declared family (KeyError otherwise)
        self.violations.append(Violation(family, tuple(str(k) for k in key), float(amount), units, message))

    def upper(self, family: str, key, activity: float, limit: float, units: str, what: str) -> None:
        """Check activity <= limit as one row of `family`."""
        self.check(family)
        if exceeds(activity, limit):
            self.add(family, key, activity - limit, units, f"{what}: {activity:.6g} {units} exceeds {limit:.6g}")

    def stated(self, key, label: str, stated: float, recomputed: float, units: str) -> None:
        """Check that a figure the plan states is the one the physics gives (family 'reported')."""
        self.check("reported")
        if differs(float(stated), float(recomputed)):
            self.add("reported", key, abs(float(stated) - float(recomputed)), units,
                     f"{label}: the plan states {float(stated):.6g}, the physics gives {float(recomputed):.6g}")

    def by_family(self) -> Counter:
        return Counter(v.family for v in self.violations)

    def lines(self) -> list[str]:
        return [f"violation: {v}" for v in self.violations]

    def summary(self, plan_name: str) -> str:
        rows = sum(self.checked.values())
        if self.holds:
            return f"{plan_name}: holds: {rows} checks in {len(self.checked)} families, no violation"
        counts = ", ".join(f"{f} {n} ({facts(f).layer})" for f, n in sorted(self.by_family().items()))
        return f"{plan_name}: does not hold: {len(self.violations)} violations ({counts}) in {rows} checks"

    def to_dict(self) -> dict:
        return {"holds": self.holds, "checked": dict(self.checked), "notes": list(self.notes),
                "violations": [asdict(v) | {"key": list(v.key), "layer": v.layer} for v in self.violations]}
