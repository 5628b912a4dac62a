"""The horizon as weighted time slices: what a version 2 instance's `time:` and `profiles` become.

A slice stands for a set of the horizon's steps (one hour of a representative day stands for that hour on every
day its cluster holds); its weight is the horizon hours it stands for, so weights sum to the horizon and a total
over the horizon is a weighted sum over slices (as PyPSA's snapshot weightings). A static (version 1) instance is
one slice that stands for the whole horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Timeline:
    """Slices of the horizon: weights, the steps each stands for, and the per-slice value of each profiled path."""

    step_hours: float
    weights: np.ndarray                 # [S] horizon hours each slice stands for; sums to the horizon
    start_hour: np.ndarray              # [S] hour of the horizon where the slice first occurs (hour of day: % 24)
    day: np.ndarray                     # [S] representative day (cluster) the slice belongs to
    members: tuple[np.ndarray, ...]     # per slice: indices of the horizon's steps it stands for
    values: dict[str, np.ndarray] = field(default_factory=dict)  # instance path -> [S] value per slice
    series: dict[str, np.ndarray] = field(default_factory=dict)  # instance path -> [T] value per horizon step

    def __len__(self) -> int:
        return len(self.weights)

    @property
    def horizon_hours(self) -> float:
        return float(self.weights.sum())

    @property
    def is_static(self) -> bool:
        return len(self.weights) == 1

    def value(self, path: str, default: float) -> np.ndarray:
        """[S] values of an instance path (e.g. regions.eu-north.carbon_g_per_kwh); `default` where not profiled."""
        v = self.values.get(path)
        return np.full(len(self), float(default)) if v is None else np.asarray(v, dtype=float)

    @property
    def steps(self) -> int:
        """T: the horizon's steps the slices stand for."""
        return int(sum(len(m) for m in self.members))

    def slice_of_step(self) -> np.ndarray:
        """[T] the slice each horizon step belongs to."""
        out = np.empty(self.steps, dtype=np.int64)
        for s, steps in enumerate(self.members):
            out[steps] = s
        return out

    def hours_in_window(self, start_hour: float, end_hour: float) -> np.ndarray:
        """[S] horizon hours inside [start_hour, end_hour) that each slice stands for."""
        out = np.zeros(len(self))
        for s, steps in enumerate(self.members):
            lo = steps * self.step_hours
            overlap = np.clip(np.minimum(lo + self.step_hours, end_hour) - np.maximum(lo, start_hour), 0.0, None)
            out[s] = overlap.sum()
        return out

    @classmethod
    def static(cls, horizon_hours: float) -> Timeline:
        """One slice for the whole horizon: the version 1 model."""
        return cls(step_hours=float(horizon_hours), weights=np.array([float(horizon_hours)]),
                   start_hour=np.zeros(1), day=np.zeros(1, dtype=np.int64),
                   members=(np.zeros(1, dtype=np.int64),))
