"""Which solved scenario is nearest to the next one, so its plan can warm-start the next solve."""

from __future__ import annotations

from collections.abc import Sequence

from fleetopt.whatif.scenario import Base, base_value
from fleetopt.whatif.spec import Factor, Setting


class Nearness:
    """Distance between scenarios in the space of the sweep's factors: each numeric factor scaled by its
    range, any other factor 0 when equal and 1 when not; a factor a scenario leaves alone is at the base."""

    def __init__(self, base: Base, factors: Sequence[Factor]):
        self.base_values = {f.path: base_value(base, f.settings[0]) if f.settings else None for f in factors}
        self.scaled = {f.path: any(s.scale for s in f.settings) for f in factors}
        self.spans = {}
        for f in factors:
            nums = [s.value for s in f.settings if isinstance(s.value, int | float) and not isinstance(s.value, bool)]
            if self.base_values[f.path] is not None:
                nums.append(self.base_values[f.path])
            self.spans[f.path] = (max(nums) - min(nums)) if len(nums) > 1 and max(nums) > min(nums) else 1.0

    def point(self, settings: Sequence[Setting]) -> dict:
        out = dict(self.base_values)
        for s in settings:
            out[s.path] = s.value
        return out

    def distance(self, a: dict, b: dict) -> float:
        total = 0.0
        for path, span in self.spans.items():
            u, v = a.get(path), b.get(path)
            numeric = all(isinstance(w, int | float) and not isinstance(w, bool) for w in (u, v))
            total += abs(u - v) / span if numeric else float(u != v)
        return total
