"""What one decision draws from its region: GPUs, MW, t CO2e, USD, MWh, storage and link bandwidth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Draw:
    what: str                   # the decision, for messages: "training job 'x'"
    region: str
    accelerator: str
    gpus: float
    mw: float
    carbon_t: float
    cost_usd: float
    energy_mwh: float
    stocked: bool = True        # False for edge devices: not GPU stock (their limit is checked per job)
    storage_gb_s: float = 0.0
    link_gb_s: dict[int, float] = field(default_factory=dict)  # link index -> GB/s of dataset staging
    service: str | None = None  # the serving service this draw belongs to
    counted_gpus: float | None = None  # GPUs as the plan counts them, when not `gpus` (evaluators: rounded up)
    gpus_by_slice: np.ndarray | None = None  # plans over time: GPUs in use per slice (None: `gpus` in every one)
    mw_by_slice: np.ndarray | None = None
    spot: bool = False                  # drawn from the spot stock (else on-demand, reserved first)
    gpu_hours: np.ndarray | None = None  # GPU-hours billed per slice, when not GPUs in use x the slice's hours

    @property
    def gpus_counted(self) -> float:
        return self.gpus if self.counted_gpus is None else self.counted_gpus
