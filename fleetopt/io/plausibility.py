"""Values that validate but are almost surely a mistake (a power cap of 40,000,000 MW, a 0.001 W GPU): warned
about with the key and the plausible range, never silently planned with. Warnings do not stop a solve.

Ranges are generous bounds on today's hardware and fleets, for catching unit slips (W for kW, MW for W, ms
for s), not for judging designs:
- power caps up to 5,000 MW (the largest announced AI campuses are a few GW); PUE 1.0-2.5 (Uptime Institute
  2023 survey average 1.58); grid intensity 0-1,200 g/kWh (coal is ~1,000).
- accelerators: 5-5,000 W TDP (L4 72 W, H100 700 W, GB200 superchip 2,700 W), 1-20,000 dense TFLOP/s,
  1-1,000 GB HBM at 10-50,000 GB/s (H100 3,350 GB/s), per-GPU MTBF 1,000-10,000,000 h (Llama 3: ~50,700 h).
- up to 1,000,000 GPUs of a kind in a region (the largest clusters hold ~100,000), 0-100 USD per GPU-hour.
- times: horizons and deadlines up to ten years (87,600 h), SLOs up to an hour, RTTs up to 1,000 ms.

A value more than ABSURD_FACTOR times past the top of its range (a 1e30-hour horizon) is refused as bad input
instead: no unit slip explains it, and numbers that size break the solver's arithmetic (costs past 1e20 are
infinite to HiGHS) rather than giving a plan.
"""

from __future__ import annotations

import math
from typing import Any

from fleetopt.errors import InputError, Problem
from fleetopt.io.schema import Instance
from fleetopt.io.yamlsafe import KeyPath, dotted

# (key path with * for any name or list index, lowest plausible, highest plausible, units, what it is)
RANGES: list[tuple[tuple[str, ...], float, float, str]] = [
    (("horizon_hours",), 1, 87_600, "h"),
    (("regions", "*", "power_cap_mw"), 0.01, 5_000, "MW"),
    (("regions", "*", "power_cap_mw", "*"), 0.01, 5_000, "MW"),
    (("regions", "*", "pue"), 1.0, 2.5, ""),
    (("regions", "*", "carbon_g_per_kwh"), 0, 1_200, "g/kWh"),
    (("regions", "*", "carbon_g_per_kwh", "*"), 0, 1_200, "g/kWh"),
    (("regions", "*", "energy_usd_per_kwh"), 0, 1, "USD/kWh"),
    (("regions", "*", "energy_usd_per_kwh", "*"), 0, 1, "USD/kWh"),
    (("regions", "*", "storage_gb_s"), 0.1, 100_000, "GB/s"),
    (("regions", "*", "nic_gb_s"), 1, 400, "GB/s"),
    (("regions", "*", "net_latency_us"), 0.1, 1_000, "us"),
    (("regions", "*", "pod_gpus"), 8, 1_000_000, "GPUs"),
    (("regions", "*", "oversubscription"), 1, 32, ""),
    (("regions", "*", "gpus", "*", "count"), 0, 1_000_000, "GPUs"),
    (("regions", "*", "gpus", "*", "usd_per_hour"), 0, 100, "USD/GPU-hour"),
    (("regions", "*", "gpus", "*", "usd_per_hour", "*"), 0, 100, "USD/GPU-hour"),
    (("regions", "*", "devices", "count"), 1, 1e10, "devices"),
    (("regions", "*", "devices", "tflops"), 0.001, 100, "TFLOP/s"),
    (("regions", "*", "devices", "watts"), 0.05, 500, "W"),
    (("regions", "*", "devices", "uplink_mbps"), 0.01, 100_000, "Mb/s"),
    (("regions", "*", "devices", "memory_gb"), 0.1, 64, "GB"),
    (("regions", "*", "devices", "usd_per_device_hour"), 0, 1, "USD/device-hour"),
    (("accelerators", "*", "peak_tflops"), 1, 20_000, "TFLOP/s"),
    (("accelerators", "*", "fp8_tflops"), 1, 40_000, "TFLOP/s"),
    (("accelerators", "*", "hbm_gb"), 1, 1_000, "GB"),
    (("accelerators", "*", "hbm_gb_s"), 10, 50_000, "GB/s"),
    (("accelerators", "*", "tdp_w"), 5, 5_000, "W"),
    (("accelerators", "*", "gpus_per_node"), 1, 576, "GPUs"),
    (("accelerators", "*", "nvlink_gb_s"), 0, 10_000, "GB/s"),
    (("accelerators", "*", "pcie_gb_s"), 1, 256, "GB/s"),
    (("accelerators", "*", "mtbf_hours"), 1_000, 10_000_000, "h"),
    (("accelerators", "*", "embodied_kgco2e"), 0, 20_000, "kg CO2e"),
    (("accelerators", "*", "lifetime_hours"), 1_000, 200_000, "h"),
    (("accelerators", "*", "usd_per_hour"), 0, 100, "USD/GPU-hour"),
    (("links", "*", "rtt_ms"), 0, 1_000, "ms"),
    (("links", "*", "gb_s"), 0.001, 100_000, "GB/s"),
    (("links", "*", "egress_usd_per_gb"), 0, 1, "USD/GB"),
    (("populations", "*", "rtt_ms", "*"), 0, 1_000, "ms"),
    (("training", "*", "tokens"), 1e3, 1e15, "tokens"),
    (("training", "*", "seq_len"), 16, 1_048_576, "tokens"),
    (("training", "*", "global_batch_tokens"), 1, 1e9, "tokens"),
    (("training", "*", "deadline_hours"), 0.1, 87_600, "h"),
    (("training", "*", "dataset_tb"), 0, 1_000_000, "TB"),
    (("training", "*", "checkpoint_restart_min"), 0, 10_000, "min"),
    (("serving", "*", "demand_rps", "*"), 0, 1e8, "requests/s"),
    (("serving", "*", "demand_rps", "*", "*"), 0, 1e8, "requests/s"),
    (("serving", "*", "prompt_tokens"), 1, 10_000_000, "tokens"),
    (("serving", "*", "output_tokens"), 1, 1_000_000, "tokens"),
    (("serving", "*", "slo_p99_ms"), 1, 3_600_000, "ms"),
    (("serving", "*", "fanout"), 1, 100_000, "shards"),
    (("serving", "*", "items_per_request"), 1, 1_000_000, "items"),
    (("serving", "*", "monitoring", "window_hours"), 0.1, 8_760, "h"),
    (("serving", "*", "monitoring", "evaluator_gpu_s_per_sample"), 0, 3_600, "GPU-s"),
    (("serving", "*", "monitoring", "pipeline_usd_per_hour"), 0, 10_000, "USD/h"),
    (("models", "*", "params_b"), 0.0001, 100_000, "billion parameters"),
    (("models", "*", "embedding_tables_gb"), 0.001, 1_000_000, "GB"),
    (("policy", "carbon_budget_t"), 0, 1e9, "t CO2e"),
    (("policy", "carbon_price_usd_per_t"), 0, 10_000, "USD/t"),
    (("policy", "dataset_staging_hours"), 0.1, 8_760, "h"),
]


def _matches(node: Any, pattern: tuple[str, ...], path: KeyPath = ()):
    """(key path, value) of every value in `node` at `pattern` (* = any key or list index)."""
    if not pattern:
        yield path, node
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else ([head] if head in node else [])
        for k in keys:
            yield from _matches(node[k], rest, path + (k,))
    elif isinstance(node, list) and head == "*":
        for i, item in enumerate(node):
            yield from _matches(item, rest, path + (i,))


def _number(value: float) -> str:
    """40,000,000 rather than 4e+07: the digits are what a unit slip shows in."""
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


ABSURD_FACTOR = 1e6


def _outside(inst: Instance) -> list[tuple[KeyPath, float, float, float, str]]:
    """(path, value, low, high, units) of every value outside its plausible range."""
    data = inst.model_dump()
    found = []
    for pattern, low, high, units in RANGES:
        for path, value in _matches(data, pattern):
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                continue
            if not low <= value <= high:
                found.append((path, value, low, high, f" {units}" if units else ""))
    return found


def check_plausibility(inst: Instance, file: str = "", lines: dict[KeyPath, int] | None = None) -> list[Problem]:
    """One warning per value outside its plausible range, naming its key and the range (and those of the
    profiles CSV, io/profiles.py)."""
    lines = lines or {}
    return [Problem(file or inst.source, dotted(path), f"{_number(value)}{unit} is outside the plausible range "
                    f"{_number(low)} to {_number(high)}{unit}; check the units (planning goes on with it)",
                    lines.get(path))
            for path, value, low, high, unit in _outside(inst)] + list(getattr(inst, "_profile_warnings", None) or [])


def refuse_absurd(inst: Instance, file: str = "", lines: dict[KeyPath, int] | None = None) -> None:
    """Raise InputError (exit 2) naming every value more than ABSURD_FACTOR past the top of its range."""
    lines = lines or {}
    absurd = [Problem(file or inst.source, dotted(path), f"{_number(value)}{unit} is far beyond the plausible "
                      f"range {_number(low)} to {_number(high)}{unit}; no plan can be computed with it",
                      lines.get(path))
              for path, value, low, high, unit in _outside(inst) if value > high * ABSURD_FACTOR]
    if absurd:
        raise InputError(absurd)


def warnings_of(inst: Instance) -> list[Problem]:
    """The plausibility warnings the loader attached to an instance (none for one built another way)."""
    return list(getattr(inst, "_warnings", None) or [])


def series_outside(series: dict[str, Any], where: str) -> tuple[list[Problem], list[Problem]]:
    """(warnings, absurd) for values over time (a profiles CSV's columns, by dotted instance path): the lowest
    and highest value of each checked against its path's plausible range."""
    warnings, absurd = [], []
    for name, values in series.items():
        parts = tuple(name.split("."))
        for pattern, low, high, units in RANGES:
            if len(pattern) == len(parts) and all(p in ("*", q) for p, q in zip(pattern, parts)):
                unit = f" {units}" if units else ""
                worst = max(values) if max(values) > high else min(values)
                if worst > high * ABSURD_FACTOR:
                    absurd.append(Problem(where, name, f"{_number(worst)}{unit} is far beyond the plausible range "
                                          f"{_number(low)} to {_number(high)}{unit}; no plan can be computed with it"))
                elif not low <= worst <= high:
                    warnings.append(Problem(where, name, f"{_number(worst)}{unit} is outside the plausible range "
                                            f"{_number(low)} to {_number(high)}{unit}; check the units (planning "
                                            "goes on with it)"))
                break
    return warnings, absurd
