"""Spot preemption as failure physics: one more independent interruption process (its rate adds to the GPUs'
failure rate), and replicas down by Little's law."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.physics.reliability import group_mtbf_hours, mtbf_with_preemptions_hours, replicas_down_fraction


def test_preemptions_add_their_rate_to_the_failure_rate():
    # Llama 3's per-GPU MTBF of ~50,700 h; one preemption per 500 GPU-hours
    per_gpu = mtbf_with_preemptions_hours(50_700.0, 0.002)
    assert 1 / per_gpu == pytest.approx(1 / 50_700 + 0.002)
    assert mtbf_with_preemptions_hours(50_700.0, 0.0) == pytest.approx(50_700.0)
    # a group of 16,384 GPUs: ~3.1 h between failures alone, ~1.8 min with the preemptions
    assert group_mtbf_hours(50_700.0, 16_384) == pytest.approx(3.09, abs=0.01)
    assert group_mtbf_hours(per_gpu, 16_384) * 60 == pytest.approx(60 / (16_384 * (1 / 50_700 + 0.002)))
    # bigger groups lose more: the rate scales with the group's GPUs
    sizes = np.array([8, 64, 512])
    assert np.all(np.diff(group_mtbf_hours(per_gpu, sizes)) < 0)


def test_replicas_down_follow_littles_law():
    # 8-GPU replicas, 0.002 preemptions per GPU-hour, 15 minutes to replace: 0.016 x 0.25 = 0.4% down
    assert replicas_down_fraction(0.002, 8, 0.25) == pytest.approx(0.004)
    assert replicas_down_fraction(0.0, 8, 0.25) == 0.0
    assert replicas_down_fraction(1.0, 8, 1.0) == 1.0   # clipped: every replica down
