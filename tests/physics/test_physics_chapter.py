"""The chapter's general laws reproduce the chapter's own figures, each quoted with its source in
data/reference/chapter_figures.md (the chapter, Dubey et al. 2024, Young 1974, Daly 2006)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetopt.physics.accounting import additive_residual, residual_gain
from fleetopt.physics.collectives import (
    all_to_all_time,
    communication_energy_j,
    effective_inter_bandwidth,
    hierarchical_allreduce_time,
    ring_allgather_time,
    ring_allreduce_time,
    ring_allreduce_traffic_factor,
    ring_reduce_scatter_time,
)
from fleetopt.physics.energy import (
    embodied_carbon_t,
    energy_kwh,
    fleet_peak_flops,
    fleet_power_w,
    operational_carbon_t,
    synaptic_ops_per_s,
)
from fleetopt.physics.reliability import (
    checkpoint_write_time_s,
    daly_interval,
    goodput,
    group_mtbf_hours,
    interruption_interval_hours,
    per_gpu_mtbf_from_interruptions,
    young_interval,
)
from fleetopt.physics.tails import (
    expected_max_slowdown,
    fanout_tail_probability,
    per_shard_quantile,
    straggler_throughput_factor,
)

MINUTE = 60.0
HOUR = 3600.0
GB = 1e9


# --- Chapter figures ---------------------------------------------------------------------------------------------

def test_ring_allreduce_matches_chapter_formula_and_coefficient_tends_to_two():
    # Chapter footnote 3: T = 2(N-1)alpha + 2(N-1)/N * M/beta; coefficient -> 2.
    # N = 4, M = 1 GB, alpha = 10 us, beta = 50 GB/s: 6 * 10 us + 1.5 * 0.02 s = 0.03006 s (by hand).
    assert ring_allreduce_time(4, 1 * GB, 10e-6, 50 * GB) == pytest.approx(0.03006, rel=1e-9)
    assert ring_allreduce_traffic_factor(1024) == pytest.approx(2 * 1023 / 1024)
    assert ring_allreduce_traffic_factor(1e9) == pytest.approx(2.0, abs=1e-8)


def test_fanout_of_100_servers_each_slow_1_percent_hits_a_slow_one_63_4_percent():
    assert fanout_tail_probability(0.01, 100) == pytest.approx(0.634, abs=5e-4)


def test_one_worker_at_80_percent_speed_cuts_synchronous_throughput_by_20_percent():
    speeds = np.ones(8000)
    speeds[17] = 0.8
    assert 1.0 - straggler_throughput_factor(speeds) == pytest.approx(0.20, abs=1e-12)


def test_llama3_interruptions_every_3_1_hours():
    # Dubey et al. 2024: 419 unexpected interruptions in 54 days on 16,384 GPUs.
    assert interruption_interval_hours(54, 419) == pytest.approx(3.1, abs=0.05)


def test_llama3_implied_per_gpu_mtbf_and_group_mtbf():
    per_gpu = per_gpu_mtbf_from_interruptions(16_384, 54, 419)
    assert per_gpu == pytest.approx(50_700, rel=1e-3)
    assert group_mtbf_hours(50_700, 16_384) == pytest.approx(3.1, abs=0.05)


def test_fermi_estimate_every_number():
    # Chapter Napkin Math 1.3: 25,000 H100 at 989 TFLOP/s and 700 W; brain 1e14 synapses at ~1 Hz.
    machine_flops = fleet_peak_flops(25_000, 989)
    assert machine_flops == pytest.approx(2.47e19, abs=0.005e19)  # chapter rounds to 3 figures
    assert fleet_power_w(25_000, 700) == pytest.approx(17.5e6, rel=1e-12)
    brain_ops = synaptic_ops_per_s(1e14, 1.0)
    assert brain_ops == pytest.approx(1.0e14, rel=1e-12)
    assert machine_flops / brain_ops == pytest.approx(247_250, rel=1e-9)


def test_fleet_stack_accounting_multiplicative_10x_vs_additive_93_5x():
    assert residual_gain(100, 4.0, 2.5) == pytest.approx(10.0)
    assert additive_residual(100, 4.0, 2.5) == pytest.approx(93.5)


def test_optical_io_halves_communication_energy():
    bits = 8 * 6.3e9  # any traffic volume: the ratio is what the chapter states
    assert communication_energy_j(bits, 10) / communication_energy_j(bits, 5) == pytest.approx(2.0)
    assert communication_energy_j(1e12, 10) == pytest.approx(10.0)  # 1 Tbit at 10 pJ/bit = 10 J


# --- Published checkpoint-interval examples (Daly 2006, R = 10 min, delta = 5 min) --------------------------------

@pytest.mark.parametrize(
    ("mtbf_min", "published_min", "rounding_min"),
    [(24 * 60, 117, 0.5), (6 * 60, 57, 0.5), (15, 9.1, 0.05)],  # published to the nearest unit shown
)
def test_daly_examples(mtbf_min, published_min, rounding_min):
    tau = daly_interval(5 * MINUTE, mtbf_min * MINUTE)
    assert tau / MINUTE == pytest.approx(published_min, abs=rounding_min)


def test_young_is_the_leading_term_of_daly():
    # sqrt(2 * 5 * 1440) = 120 min exactly; Daly adds < 2% and subtracts delta.
    assert young_interval(5 * MINUTE, 24 * HOUR) / MINUTE == pytest.approx(120.0)


def test_daly_caps_at_mtbf_when_checkpoint_costs_two_mtbf_or_more():
    assert daly_interval(2 * HOUR, 1 * HOUR) == pytest.approx(1 * HOUR)
    assert daly_interval(np.array([5.0, 300.0]), 100.0)[1] == pytest.approx(100.0)


def test_llama3_goodput_consistent_with_over_90_percent_effective_training_time():
    # 405B params x 14 B (bf16 weights + fp32 master and Adam moments) ~ 5.7 TB, ~350 MB per GPU
    # (inside the published 1 MB - 4 GB), written at the published sustained 2 TB/s; restart 10 min as in Daly.
    delta = checkpoint_write_time_s(405e9 * 14, 2e12)
    mtbf = group_mtbf_hours(per_gpu_mtbf_from_interruptions(16_384, 54, 419), 16_384) * HOUR
    tau = daly_interval(delta, mtbf)
    assert goodput(delta, tau, 10 * MINUTE, mtbf) > 0.90


def test_goodput_is_clipped_at_zero():
    assert goodput(10.0, 20.0, 1e6, 100.0) == 0.0


# --- Other laws against published or hand-derived values --------------------------------------------------------

def test_llama3_oversubscribed_bandwidth_beyond_a_pod():
    # 400 Gb/s RoCE = 50 GB/s per GPU; pods of 3,072 at full bisection, 1:7 above.
    bw = effective_inter_bandwidth(np.array([3_072, 3_073, 16_384]), 50 * GB, 3_072, 7.0)
    np.testing.assert_allclose(bw, [50 * GB, 50 * GB / 7, 50 * GB / 7])


def test_per_shard_quantile_for_fanout():
    # A 100-way fan-out at p99 needs each shard at ~p99.99 (0.99^(1/100) = 0.9998995).
    assert per_shard_quantile(0.99, 100) == pytest.approx(0.9998995, abs=1e-7)
    assert per_shard_quantile(0.99, 1) == pytest.approx(0.99)


def test_expected_max_bounds_exact_normal_order_statistics():
    # Exact E[max of n iid N(0,1)] (tables of normal order statistics): 1.5388, 2.5076, 3.2414.
    n = np.array([10, 100, 1000])
    exact = 1.0 + 0.1 * np.array([1.5388, 2.5076, 3.2414])
    approx = expected_max_slowdown(n, 0.1)
    assert np.all(approx >= exact)
    assert np.all(approx - exact < 0.1 * 0.7)  # the gap never exceeds 0.7 sigma over this range
    assert expected_max_slowdown(1, 0.3) == 1.0


def test_carbon_of_the_fermi_cluster_for_one_hour_in_iowa():
    # 17.5 MW for 1 h = 17,500 kWh; at 412.72 g/kWh (us-central1, 2024) = 7.2226 t.
    kwh = energy_kwh(fleet_power_w(25_000, 700), 1.0)
    assert kwh == pytest.approx(17_500)
    assert operational_carbon_t(kwh, 412.72) == pytest.approx(7.2226, rel=1e-6)
    # 1,500 kgCO2e per GPU over 35,000 h (the catalog's h100-sxm5-80gb assumption): 25,000 GPUs for 1 h = 1.0714 t.
    assert embodied_carbon_t(25_000, 1_500, 1.0, 35_000) == pytest.approx(1.0714, rel=1e-4)


def test_collective_halves_sum_to_allreduce_and_all_to_all_formula():
    args = (8, 2 * GB, 5e-6, 100 * GB)
    whole = ring_allreduce_time(*args)
    assert ring_reduce_scatter_time(*args) + ring_allgather_time(*args) == pytest.approx(whole)
    assert all_to_all_time(8, 1 * GB, 5e-6, 100 * GB) == pytest.approx(7 * 5e-6 + 7 / 8 * 0.01)


# --- Properties ----------------------------------------------------------------------------------------------------

def test_one_worker_communicates_nothing():
    for fn in (ring_allreduce_time, ring_allgather_time, ring_reduce_scatter_time, all_to_all_time):
        assert fn(1, 1 * GB, 1e-5, 1 * GB) == 0.0
    assert hierarchical_allreduce_time(1, 8, 1 * GB, 1e-5, 450 * GB, 50 * GB) == 0.0
    assert fanout_tail_probability(0.01, 0) == 0.0


@settings(max_examples=50, deadline=None)
@given(gpus_per_node=st.sampled_from([2, 4, 8]), nodes=st.integers(1, 512))
def test_hierarchical_equals_flat_ring_bandwidth_term_when_links_are_equal(gpus_per_node, nodes):
    # With one bandwidth everywhere and no latency, the two-level scheme moves exactly the flat ring's bytes.
    n = gpus_per_node * nodes
    hier = hierarchical_allreduce_time(n, gpus_per_node, 1 * GB, 0.0, 10 * GB, 10 * GB)
    assert hier == pytest.approx(ring_allreduce_time(n, 1 * GB, 0.0, 10 * GB), rel=1e-12)


def test_hierarchical_reduces_to_flat_ring_inside_a_node_and_beats_it_across_slow_links():
    within = hierarchical_allreduce_time(np.array([2, 8]), 8, 1 * GB, 1e-5, 450 * GB, 50 * GB)
    np.testing.assert_allclose(within, ring_allreduce_time(np.array([2, 8]), 1 * GB, 1e-5, 450 * GB))
    flat_on_nic = ring_allreduce_time(1024, 1 * GB, 1e-5, 50 * GB)
    assert hierarchical_allreduce_time(1024, 8, 1 * GB, 1e-5, 450 * GB, 50 * GB) < flat_on_nic


def test_vectorized_inputs_give_the_same_values_as_scalars():
    n = np.array([1, 2, 8, 64, 1024])
    msg = np.array([1e6, 1e8, 1e9, 4e9, 1e10])
    cases = [
        (ring_allreduce_time, (n, msg, 1e-5, 50 * GB)),
        (hierarchical_allreduce_time, (n, 8, msg, 1e-5, 450 * GB, 50 * GB)),
        (effective_inter_bandwidth, (n, 50 * GB, 16, 7.0)),
        (all_to_all_time, (n, msg, 1e-5, 50 * GB)),
        (fanout_tail_probability, (0.01, n)),
        (expected_max_slowdown, (n, 0.05)),
        (group_mtbf_hours, (50_700, n)),
        (daly_interval, (msg / 1e8, n * 10.0)),
        (fleet_power_w, (n, 700, 1.1)),
    ]
    for fn, args in cases:
        vector = fn(*args)
        assert isinstance(vector, np.ndarray) and vector.shape == n.shape, fn.__name__
        for i in range(n.size):
            scalar_args = [a[i] if isinstance(a, np.ndarray) else a for a in args]
            assert vector[i] == pytest.approx(float(fn(*scalar_args)), rel=1e-12), fn.__name__


def test_straggler_factor_is_vectorized_along_last_axis():
    speeds = np.array([[1.0, 1.0, 0.8], [1.0, 0.5, 1.0]])
    np.testing.assert_allclose(straggler_throughput_factor(speeds), [0.8, 0.5])


def test_tails_and_stragglers_grow_with_scale():
    n = np.array([1, 10, 100, 1000, 10000])
    assert np.all(np.diff(fanout_tail_probability(0.01, n)) > 0)
    assert np.all(np.diff(expected_max_slowdown(n, 0.05)) > 0)
    assert np.all(np.diff(ring_allreduce_traffic_factor(n)) >= 0)
    assert np.all(ring_allreduce_traffic_factor(n) < 2.0)
