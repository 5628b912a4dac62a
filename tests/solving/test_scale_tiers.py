"""The scale-tier generator (benchmarks/scale_tiers.py) makes valid instances in which every job and every
(service, population) pair still has candidates, so a benchmark solve of a tier is a real fleet plan."""

import sys
from pathlib import Path

import pytest
from helpers import BENCHMARKS

sys.path.insert(0, str(BENCHMARKS))

from scale_tiers import load_tier, make_tier, population_copies, region_copies  # noqa: E402

from fleetopt.api import build_problem  # noqa: E402
from fleetopt.io.load import load_document, load_instance  # noqa: E402
from fleetopt.paths import default_instance  # noqa: E402

BASE = load_instance(default_instance())


@pytest.mark.parametrize("factor", [2, 10])
def test_tier_counts(factor):
    inst = load_tier(factor, seed=0)
    assert len(inst.training) == factor * len(BASE.training)
    assert len(inst.serving) == factor * len(BASE.serving)
    assert len(inst.regions) == region_copies(factor) * len(BASE.regions)
    assert len(inst.populations) == population_copies(factor) * len(BASE.populations)


def test_tier_ten_has_three_times_the_regions():
    assert region_copies(10) == 3 and region_copies(100) == 10


def test_same_seed_same_document_other_seed_differs():
    assert make_tier(10, seed=3) == make_tier(10, seed=3)
    assert make_tier(10, seed=3) != make_tier(10, seed=4)


def test_region_copies_are_not_identical():
    regions = load_tier(10, seed=0).regions
    carbon = [regions[f"us-east{suffix}"].carbon_g_per_kwh for suffix in ("", "-2", "-3")]
    assert len(set(carbon)) == 3


def test_stock_grows_with_the_load():
    """Each accelerator's fleet-wide stock grows about factor-fold (within the +-15% jitter)."""
    inst = load_tier(10, seed=0)

    def stock(i, accel):
        return sum(r.gpus[accel].count for r in i.regions.values() if accel in r.gpus)

    for accel in ("h100-sxm5-80gb", "a100-sxm4-80gb", "l4"):
        assert 8.5 <= stock(inst, accel) / stock(BASE, accel) <= 11.5


def hardest_copies(doc: dict) -> dict:
    """The tier with, of each global-fleet job, only the copy needing the most tokens per deadline hour.
    Enumeration is per job, so if these keep candidates the easier copies do too (dataset transfers to
    any region take minutes on the scaled links); enumerating all 40 jobs of x10 takes ~1.5 s of CPU."""
    hardest: dict[str, tuple[float, str]] = {}
    for name, job in doc["training"].items():
        base = name if name in BASE.training else name.rsplit("-", 1)[0]
        ratio = float(job["tokens"]) / float(job["deadline_hours"])
        hardest[base] = max(hardest.get(base, (0.0, "")), (ratio, name))
    return dict(doc, training={name: doc["training"][name] for _, name in hardest.values()})


@pytest.mark.parametrize("factor", [2, 10])
def test_screening_finds_no_empty_job_or_unroutable_demand(factor):
    doc = hardest_copies(make_tier(factor, seed=0))
    assert len(doc["training"]) == len(BASE.training)
    problem = build_problem(load_document(doc, Path(f"x{factor}.yaml")))
    assert problem.screening_problems() == []
