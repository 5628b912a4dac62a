"""The user's names of candidate options: what rows, columns and plans call them."""

from __future__ import annotations

from fleetopt.candidates.tables import SPOT, ServingCandidates


def option_key(sc: ServingCandidates, o: int) -> tuple:
    """(service, region, accelerator, config) of serving option `o`; config reads tpN-bf16|fp8-bB, with -spot
    on a spot twin."""
    precision = "fp8" if sc.precision[o] else "bf16"
    return (sc.service_names[sc.service[o]], sc.region_names[sc.region[o]], sc.accel_names[sc.accel[o]],
            f"tp{sc.tp[o]}-{precision}-b{sc.batch[o]}" + ("-spot" if sc.procurement[o] == SPOT else ""))


def option_keys(sc: ServingCandidates) -> list[tuple]:
    """option_key of every option, in order (one pass over plain lists: the formulation names every option)."""
    services, regions, accels = sc.service_names, sc.region_names, sc.accel_names
    return [(services[s], regions[r], accels[a], f"tp{tp}-{'fp8' if p else 'bf16'}-b{b}" + ("-spot" if c == SPOT
                                                                                          else ""))
            for s, r, a, tp, p, b, c in zip(sc.service.tolist(), sc.region.tolist(), sc.accel.tolist(),
                                            sc.tp.tolist(), sc.precision.tolist(), sc.batch.tolist(),
                                            sc.procurement.tolist())]
