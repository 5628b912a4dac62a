"""What holding GPUs for some hours charges: facility power, energy, carbon and cost, as one law.

Training candidates, serving replicas and fairness evaluators are all charged by it (fleetopt/candidates), and
the verifier re-derives their plans' figures with it (fleetopt/verify). Arguments broadcast as numpy arrays.
"""

import numpy as np

from fleetopt.physics.energy import embodied_carbon_t, energy_kwh, fleet_power_w, operational_carbon_t


def horizon_charges(gpus, hours, *, tdp_w, pue, carbon_g_per_kwh, usd_per_gpu_hour, energy_usd_per_kwh,
                    price_includes_energy, include_embodied=False, embodied_kgco2e=0.0, lifetime_hours=np.inf,
                    other_usd=0.0):
    """Power (W, at TDP), energy (kWh), carbon (t CO2e) and cost (USD) of `gpus` accelerators held `hours`.

    power = GPUs x TDP x PUE; energy = power x hours; carbon = energy x grid intensity (+ GPUs x embodied x
    hours / lifetime when the policy counts embodied carbon); cost = GPUs x hours x price + other charges
    (dataset egress) + energy x energy price when the GPU price excludes energy. Returns a dict of arrays.
    Source: README design note "Within-horizon accounting"; the laws of physics/energy.py (Napkin Math 1.3).
    """
    power_w = fleet_power_w(gpus, tdp_w, pue)
    kwh = energy_kwh(power_w, hours)
    carbon = operational_carbon_t(kwh, carbon_g_per_kwh)
    if include_embodied:
        carbon = carbon + embodied_carbon_t(gpus, embodied_kgco2e, hours, lifetime_hours)
    cost = np.asarray(gpus, dtype=float) * hours * usd_per_gpu_hour + other_usd
    cost = np.where(price_includes_energy, cost, cost + kwh * np.asarray(energy_usd_per_kwh, dtype=float))
    return {"power_w": power_w, "energy_kwh": kwh, "carbon_t": carbon, "cost_usd": cost}
