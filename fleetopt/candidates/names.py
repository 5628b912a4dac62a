"""The user's names of candidate options: what rows, columns and plans call them."""

from __future__ import annotations

from fleetopt.candidates.tables import SPOT, ServingCandidates


def option_key(sc: ServingCandidates, o: int) -> tuple:
    """(service, region, accelerator, config) of serving option `o`; config reads tpN-bf16|fp8-bB, with -spot
    on a spot twin."""
    precision = "fp8" if sc.precision[o] else "bf16"
    return (sc.service_names[sc.service[o]], sc.region_names[sc.region[o]], sc.accel_names[sc.accel[o]],
            f"tp{sc.tp[o]}-{precision}-b{sc.batch[o]}" + ("-spot" if sc.procurement[o] == SPOT else ""))
