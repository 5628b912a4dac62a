"""Laws written once in fleetopt/physics and used by candidates, verify and explain: the horizon charges of held
GPUs (physics/economics.py) and the DLRM shard step (physics/serving.py), each against a published figure or a
hand calculation."""

import numpy as np
import pytest

from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.serving import dlrm_fanout, dlrm_shard_step_s, shards_touched


def test_horizon_charges_of_the_chapter_fleet():
    """Napkin Math 1.3: 25,000 H100 at 700 W = 17.5 MW. A day of it at PUE 1: 420 MWh; at 400 g/kWh 168 t;
    at $2/GPU-hour $1.2 M, plus $42,000 of energy at $0.10/kWh when the price excludes energy."""
    kw = dict(tdp_w=700.0, pue=1.0, carbon_g_per_kwh=400.0, usd_per_gpu_hour=2.0, energy_usd_per_kwh=0.10)
    out = horizon_charges(25_000, 24.0, price_includes_energy=True, **kw)
    assert out["power_w"] == pytest.approx(17.5e6)
    assert out["energy_kwh"] == pytest.approx(420_000.0)
    assert out["carbon_t"] == pytest.approx(168.0)
    assert out["cost_usd"] == pytest.approx(1.2e6)
    excluded = horizon_charges(25_000, 24.0, price_includes_energy=False, other_usd=500.0, **kw)
    assert excluded["cost_usd"] == pytest.approx(1.2e6 + 42_000.0 + 500.0)


def test_horizon_charges_embodied_share_and_broadcast():
    """Embodied carbon is amortized over the lifetime: 8 GPUs x 1,500 kg x 1,000 h / 40,000 h = 0.3 t; PUE 1.2
    raises power and energy (8 x 700 x 1.2 = 6.72 kW, 6,720 kWh over 1,000 h, 2.016 t at 300 g/kWh)."""
    out = horizon_charges(np.array([8, 16]), np.array([1000.0, 500.0]), tdp_w=700.0, pue=1.2,
                          carbon_g_per_kwh=300.0, usd_per_gpu_hour=np.array([3.0, 2.0]), energy_usd_per_kwh=0.1,
                          price_includes_energy=np.array([True, False]), include_embodied=True,
                          embodied_kgco2e=1500.0, lifetime_hours=40_000.0)
    assert out["power_w"] == pytest.approx([6720.0, 13440.0])
    assert out["energy_kwh"] == pytest.approx([6720.0, 6720.0])
    assert out["carbon_t"] == pytest.approx([2.016 + 0.3, 2.016 + 0.3])
    assert out["cost_usd"] == pytest.approx([8 * 1000 * 3.0, 16 * 500 * 2.0 + 672.0])


def test_dlrm_fanout_is_the_requested_one_capped_at_the_shards_else_the_shards_touched():
    assert dlrm_fanout(100, 64, 26) == 64
    assert dlrm_fanout(32, 64, 26) == 32
    # 10 shards, 10 random lookups: 10 (1 - 0.9^10) = 6.513 shards touched (occupancy)
    assert dlrm_fanout(10, 1, 10) == pytest.approx(10 * (1 - 0.9 ** 10))
    assert dlrm_fanout(10, 1, 10) == pytest.approx(shards_touched(10, 10))


def test_dlrm_shard_step_by_hand():
    """100 items x 26 lookups x 128 dims x 4 B = 1,331,200 B a request; 1/8 per shard visit = 166,400 B at
    50 GB/s = 3.328 us; 100 x 0.1 GFLOP / 8 = 1.25 GFLOP at 1,000 TFLOP/s x 0.5 = 2.5 us; 4 visits a step
    plus 10 us of network latency: 10 + 4 x 5.828 = 33.312 us, of which the all-to-all is 10 + 13.312 us."""
    out = dlrm_shard_step_s(4, 100, 26, 128, 0.1, 8, nic_gb_s=50.0, net_latency_us=10.0, peak_tflops=1000.0,
                            bytes_per_value=4, flops_efficiency=0.5)
    assert out["step_s"] == pytest.approx(33.312e-6)
    assert out["all_to_all_s"] == pytest.approx(23.312e-6)
    assert out["compute_s"] == pytest.approx(10e-6)
    assert out["step_s"] == pytest.approx(out["all_to_all_s"] + out["compute_s"])
