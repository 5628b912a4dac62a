"""Training candidates: pruning is exact, the enumeration respects the instance, stats explain empty jobs, and
the shared step-time tables give exactly the table of the plain per-job enumeration (tests/training_reference.py).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fleetopt.candidates.training import enumerate_training, grouped_pareto_mask, pareto_mask
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir
from fleetopt.physics.training_memory import usable_memory_gb
from helpers import BENCHMARKS

sys.path.insert(0, str(BENCHMARKS))

import training_reference  # noqa: E402  (tests/training_reference.py: the old enumeration, an oracle)
from scale_tiers import load_tier  # noqa: E402


def brute_pareto(points: np.ndarray) -> np.ndarray:
    n = len(points)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(points <= points[i], axis=1)
        lt = np.any(points < points[i], axis=1)
        if np.any(le & lt):
            keep[i] = False
    return keep


@pytest.mark.parametrize("seed", range(20))
def test_pareto_mask_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    pts = np.stack([rng.integers(1, 6, n).astype(float), rng.integers(1, 20, n).astype(float),
                    rng.integers(1, 20, n).astype(float)], axis=1)
    got = pareto_mask(pts[:, 0], pts[:, 1], pts[:, 2])
    want = brute_pareto(pts)
    # duplicates: exactly one of each set of identical non-dominated points survives
    kept = {tuple(p) for p in pts[got]}
    assert kept == {tuple(p) for p in pts[want]}
    assert got.sum() == len(kept)


@pytest.mark.parametrize("seed", range(10))
def test_grouped_pareto_mask_is_pareto_mask_per_group(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    group = rng.integers(0, 6, n) * 7
    gpus, hours, storage = (rng.integers(1, k, n).astype(float) for k in (5, 15, 15))
    want = np.zeros(n, dtype=bool)
    for g in np.unique(group):
        sel = np.flatnonzero(group == g)
        want[sel] = pareto_mask(gpus[sel], hours[sel], storage[sel])
    assert np.array_equal(grouped_pareto_mask(group, gpus, hours, storage), want)


def assert_same_table(got, want):
    assert got.stats == want.stats
    for name in got.__dataclass_fields__:
        a, b = getattr(got, name), getattr(want, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        else:
            assert a == b, name


def test_shared_step_tables_give_the_reference_table_on_global_fleet():
    inst = load_instance(shipped_dir("instances") / "global-fleet.yaml")
    assert_same_table(enumerate_training(inst), training_reference.enumerate_training(inst))


@pytest.mark.slow
def test_shared_step_tables_give_the_reference_table_on_the_x10_tier():
    inst = load_tier(10, seed=0)
    assert_same_table(enumerate_training(inst), training_reference.enumerate_training(inst))


@pytest.fixture(scope="module")
def global_fleet():
    inst = load_instance(shipped_dir("instances") / "global-fleet.yaml")
    return inst, enumerate_training(inst)


def test_every_job_has_candidates_within_its_rules(global_fleet):
    inst, tc = global_fleet
    for j, name in enumerate(tc.job_names):
        job = inst.training[name]
        rows = tc.job == j
        assert rows.any(), name
        assert np.all(tc.wall_hours[rows] <= job.deadline_hours)
        assert np.all(tc.gpus[rows] == tc.tp[rows] * tc.pp[rows] * tc.dp[rows])
        regions = {tc.region_names[r] for r in tc.region[rows]}
        if job.allowed_regions:
            assert regions <= set(job.allowed_regions)
        for r, a in zip(tc.region[rows], tc.accel[rows]):
            stock = inst.regions[tc.region_names[r]].gpus[tc.accel_names[a]].count
            assert stock > 0
        st = tc.stats[name]
        assert st["enumerated"] >= st["fit"] >= st["meet_deadline"] >= st["kept"] == rows.sum()


def test_memory_and_sync_groups(global_fleet):
    inst, tc = global_fleet
    assert np.all(tc.memory_gb <= usable_memory_gb(80) + 1e-9)  # 80 GiB x 0.9
    assert np.all(tc.dp % tc.sync_group == 0)
    assert np.all((tc.goodput > 0) & (tc.goodput <= 1))


def test_impossible_deadline_is_explained():
    inst = load_instance(shipped_dir("instances") / "global-fleet.yaml")
    job = inst.training["llm-70b-pretrain"].model_copy(update={"deadline_hours": 1.0})
    inst = inst.model_copy(update={"training": {"llm-70b-pretrain": job}})
    tc = enumerate_training(inst)
    assert len(tc) == 0
    assert "deadline of 1 h" in tc.stats["llm-70b-pretrain"]["why"]


def test_dropping_storage_where_it_cannot_bind_keeps_the_optimum(monkeypatch):
    """The 2D reduction (storage left out where it cannot bind) gives the same optimum as the full 3D front."""
    from fleetopt.api import build_problem, options_for, solve_problem
    from fleetopt.candidates import training

    inst = load_instance(shipped_dir("instances") / "global-fleet.yaml")
    inst = inst.model_copy(update={"serving": {}})
    backend, options = options_for(inst, mip_rel_gap=0.0)
    reduced = build_problem(inst)
    monkeypatch.setattr(training, "storage_may_bind", lambda inst, names, jobs: np.ones(len(names), dtype=bool))
    full = build_problem(inst)
    assert len(full.training) > len(reduced.training)
    objectives = [solve_problem(p, backend, options)[0].objective for p in (reduced, full)]
    assert objectives[0] == pytest.approx(objectives[1], rel=1e-9)
