"""Scale tiers of the shipped global-fleet instance, generated on the fly (large files are not committed).

    make_tier(10, seed=0)  ->  an instance document (a dict, as `read_document` returns) with
        ~sqrt(factor) copies of every region    (10 -> 3x the regions, 100 -> 10x), prices, carbon and stock jittered
        factor x the training jobs              (tokens and deadlines varied)
        factor x the serving services           (demands, prompt/output lengths and SLOs varied)
        a few x the populations                 (10 -> 3x, 100 -> 5x), each preferring one copy of a region
The load grows factor-fold while the regions grow ~sqrt(factor)-fold, so each region's GPU stock, power cap,
storage and link bandwidth grow by factor / copies, and the carbon budget by factor: every job keeps feasible
candidates and the fleet stays about as loaded as global-fleet. Same (factor, seed), same document.

Run `python benchmarks/scale_tiers.py 10 out.yaml` to write one tier to a file for inspection.
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import numpy as np

from fleetopt.io.load import load_document
from fleetopt.io.schema import Instance
from fleetopt.io.yamlsafe import read_document
from fleetopt.paths import default_instance


def region_copies(factor: int) -> int:
    """Copies of each region: ~sqrt(factor), and at least two once the load grows at all."""
    if factor <= 1:
        return 1
    return max(2, round(math.sqrt(factor)))


def population_copies(factor: int) -> int:
    """Copies of each population: a few (2 -> 2, 10 -> 3, 100 -> 5)."""
    return 1 + round(2 * math.log10(factor)) if factor > 1 else 1


def copy_name(name: str, k: int) -> str:
    """Copy 0 keeps the base name, so global-fleet's references stay valid in the tier."""
    return name if k == 0 else f"{name}-{k + 1}"


def make_tier(factor: int, seed: int = 0) -> dict:
    """An instance document: global-fleet with `factor` x its jobs and services, on more regions."""
    if factor < 1 or int(factor) != factor:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    factor = int(factor)
    rng = np.random.default_rng(seed)
    base, _ = read_document(default_instance())
    doc = copy.deepcopy(base)
    k_regions, k_pops = region_copies(factor), population_copies(factor)
    capacity_scale = factor / k_regions
    doc["name"] = f"global-fleet-x{factor}"

    doc["regions"] = _regions(base["regions"], k_regions, capacity_scale, rng)
    doc["links"] = _links(base["links"], base["regions"], k_regions, capacity_scale, rng)
    doc["populations"] = _populations(base["populations"], k_regions, k_pops, rng)
    doc["training"] = _training(base["training"], k_regions, factor, doc["horizon_hours"], rng)
    doc["serving"] = _serving(base["serving"], k_pops, factor, rng)
    policy = doc.setdefault("policy", {})
    if policy.get("carbon_budget_t") is not None:
        policy["carbon_budget_t"] = round(policy["carbon_budget_t"] * factor, 1)
    return doc


def load_tier(factor: int, seed: int = 0) -> Instance:
    """make_tier, validated as an instance (as if read from instances/scale/x{factor}.yaml)."""
    return load_document(make_tier(factor, seed), Path(f"instances/scale/x{factor}-seed{seed}.yaml"))


# ---------------------------------------------------------------- sections


def _regions(regions: dict, k_regions: int, scale: float, rng) -> dict:
    out = {}
    for k in range(k_regions):
        for name, reg in regions.items():
            new = copy.deepcopy(reg)
            if k > 0:  # copy 0 keeps global-fleet's figures, scaled; the others differ from it
                new["carbon_g_per_kwh"] = round(reg["carbon_g_per_kwh"] * rng.uniform(0.6, 1.4), 2)
            if "power_cap_mw" in reg:
                new["power_cap_mw"] = round(reg["power_cap_mw"] * scale * rng.uniform(0.9, 1.1), 2)
            new["storage_gb_s"] = round(reg.get("storage_gb_s", 1000.0) * scale, 1)
            for gpus in new["gpus"].values():
                gpus["count"] = int(round(gpus["count"] * scale * rng.uniform(0.85, 1.15)))
                if k > 0:
                    gpus["usd_per_hour"] = round(gpus["usd_per_hour"] * rng.uniform(0.9, 1.1), 2)
            out[copy_name(name, k)] = new
    return out


def _links(links: list, regions: dict, k_regions: int, scale: float, rng) -> list:
    """Each copy repeats global-fleet's links; every region's copies hang off copy 0 by a short metro link."""
    out = []
    for k in range(k_regions):
        for link in links:
            new = dict(link, a=copy_name(link["a"], k), b=copy_name(link["b"], k))
            new["rtt_ms"] = round(link["rtt_ms"] * rng.uniform(0.9, 1.1), 1)
            new["gb_s"] = round(link["gb_s"] * scale, 1)
            out.append(new)
    for name in regions:
        for k in range(1, k_regions):
            out.append({"a": name, "b": copy_name(name, k), "rtt_ms": round(float(rng.uniform(5, 20)), 1),
                        "gb_s": round(100 * scale, 1), "egress_usd_per_gb": 0.01})
    return out


def _populations(pops: dict, k_regions: int, k_pops: int, rng) -> dict:
    """Copy p of a population is near copy (p mod k_regions) of each region and farther from the others."""
    out = {}
    for p in range(k_pops):
        for name, pop in pops.items():
            new = copy.deepcopy(pop)
            rtt = {}
            for region, ms in pop["rtt_ms"].items():
                for k in range(k_regions):
                    near = k == p % k_regions
                    value = ms * rng.uniform(0.85, 1.0) if near else ms + rng.uniform(5, 40)
                    rtt[copy_name(region, k)] = round(float(value), 1)
            new["rtt_ms"] = rtt
            out[copy_name(name, p)] = new
    return out


def _training(jobs: dict, k_regions: int, factor: int, horizon_hours: float, rng) -> dict:
    out = {}
    for i in range(factor):
        for name, job in jobs.items():
            new = copy.deepcopy(job)
            new["tokens"] = float(f"{float(job['tokens']) * rng.uniform(0.5, 1.2):.4g}")
            deadline = float(job["deadline_hours"]) * rng.uniform(0.9, 1.1)
            new["deadline_hours"] = round(min(float(horizon_hours), deadline), 1)
            if "dataset_region" in job:
                new["dataset_region"] = copy_name(job["dataset_region"], int(rng.integers(k_regions)))
                new["dataset_tb"] = round(float(job.get("dataset_tb", 0.0)) * rng.uniform(0.5, 1.5), 2)
            if "allowed_regions" in job:
                new["allowed_regions"] = [copy_name(r, k) for k in range(k_regions) for r in job["allowed_regions"]]
            out[copy_name(name, i)] = new
    return out


def _serving(services: dict, k_pops: int, factor: int, rng) -> dict:
    """Copy i of a service serves copy (i mod k_pops) of its populations, so total demand grows factor-fold."""
    out = {}
    for i in range(factor):
        p = i % k_pops
        for name, svc in services.items():
            new = copy.deepcopy(svc)
            new["demand_rps"] = {copy_name(u, p): round(float(float(d) * rng.uniform(0.6, 1.4)), 1)
                                 for u, d in svc["demand_rps"].items()}
            if "prompt_tokens" in svc:
                new["prompt_tokens"] = int(svc["prompt_tokens"] * rng.choice([0.5, 1.0, 1.0, 1.5]))
            if "output_tokens" in svc:
                new["output_tokens"] = int(svc["output_tokens"] * rng.choice([0.5, 1.0, 1.0, 2.0]))
            # never tighter than global-fleet's: every population stays routable
            new["slo_p99_ms"] = round(float(svc["slo_p99_ms"]) * rng.uniform(1.0, 1.3), 1)
            out[copy_name(name, i)] = new
    return out


def main(argv: list[str], make=None) -> None:
    """`python benchmarks/scale_tiers.py [FACTOR [OUT.yaml [SEED]]]`: a tier's YAML (`make`: another generator)."""
    import yaml

    usage = f"usage: python {Path(argv[0]).name} [FACTOR [OUT.yaml [SEED]]]  (FACTOR, SEED: whole numbers)"
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(usage)
        sys.exit(0)
    try:
        if len(argv) > 4:
            raise ValueError
        factor = int(argv[1]) if len(argv) > 1 else 10
        seed = int(argv[3]) if len(argv) > 3 else 0
    except ValueError:
        print(f"{usage}\nerror: expected FACTOR, OUT.yaml and SEED at most, FACTOR and SEED whole numbers; got "
              f"{' '.join(argv[1:])}", file=sys.stderr)
        sys.exit(2)
    text = yaml.safe_dump((make or make_tier)(factor, seed), sort_keys=False, width=120)
    if len(argv) > 2:
        Path(argv[2]).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
