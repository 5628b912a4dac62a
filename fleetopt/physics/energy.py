"""Fleet power, peak arithmetic rate, energy and carbon.

All functions take scalars or numpy arrays (broadcast together) and return float64 arrays/scalars.
"""

import numpy as np


def fleet_power_w(n_gpus, tdp_w, pue=1.0):
    """Facility power of a fleet at TDP: GPUs x TDP x PUE, in watts.

    Source: chapter, Napkin Math 1.3 (25,000 x 700 W = 17.5 MW); x PUE (The Green Grid PUE definition).
    """
    return np.asarray(n_gpus, dtype=float) * np.asarray(tdp_w, dtype=float) * np.asarray(pue, dtype=float)


def fleet_peak_flops(n_gpus, peak_tflops):
    """Aggregate peak arithmetic rate in FLOP/s: GPUs x peak TFLOP/s x 1e12.

    Source: chapter, Napkin Math 1.3 (25,000 H100 x 989 TFLOP/s ~ 2.47e19 FLOP/s).
    """
    return np.asarray(n_gpus, dtype=float) * np.asarray(peak_tflops, dtype=float) * 1e12


def synaptic_ops_per_s(synapses, firing_rate_hz):
    """Brain operation rate for the Fermi comparison: synapses x average firing rate.

    Source: chapter, Napkin Math 1.3 (1e14 synapses x 1 Hz = 1.0e14 synaptic ops/s).
    """
    return np.asarray(synapses, dtype=float) * np.asarray(firing_rate_hz, dtype=float)


def energy_kwh(power_w, hours):
    """Energy in kWh of an average draw `power_w` held for `hours`.

    Source: definition (kWh = average W x h / 1000).
    """
    return np.asarray(power_w, dtype=float) * np.asarray(hours, dtype=float) / 1e3


def operational_carbon_t(energy_kwh, g_per_kwh):
    """Operational emissions in tonnes CO2e: energy x grid intensity.

    Source: GHG Protocol Scope 2 (location-based); intensities: GoogleCloudPlatform/region-carbon-info 2024.
    """
    return np.asarray(energy_kwh, dtype=float) * np.asarray(g_per_kwh, dtype=float) / 1e6


def embodied_carbon_t(n_gpus, embodied_kgco2e, hours, lifetime_hours):
    """Embodied emissions in tonnes CO2e charged to `hours` of use, amortized linearly over the lifetime.

    Source: chapter footnote 6 (lifecycle assessment, embodied carbon); linear amortization over the life.
    """
    share = np.asarray(hours, dtype=float) / np.asarray(lifetime_hours, dtype=float)
    return np.asarray(n_gpus, dtype=float) * np.asarray(embodied_kgco2e, dtype=float) * share / 1e3
