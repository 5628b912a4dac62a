"""The Timeline: weights sum to the horizon, window arithmetic, the static one-slice case."""

import numpy as np

from fleetopt.io.timeline import Timeline


def typical_day(days: int) -> Timeline:
    steps = np.arange(24 * days)
    return Timeline(step_hours=1.0, weights=np.full(24, float(days)), start_hour=np.arange(24.0),
                    day=np.zeros(24, dtype=np.int64), members=tuple(steps[steps % 24 == h] for h in range(24)))


def test_static_is_one_slice_of_the_horizon():
    t = Timeline.static(720.0)
    assert len(t) == 1 and t.is_static and t.horizon_hours == 720.0
    assert t.hours_in_window(0.0, 720.0).tolist() == [720.0]
    assert t.hours_in_window(100.0, 350.0).tolist() == [250.0]
    assert t.value("regions.a.carbon_g_per_kwh", 300.0).tolist() == [300.0]


def test_typical_day_window_counts_each_hour_once_per_day_inside_it():
    t = typical_day(30)
    assert t.horizon_hours == 720.0
    # a window of days 2..11 (hours 48..288) holds 10 occurrences of every hour of the day
    assert np.allclose(t.hours_in_window(48.0, 288.0), 10.0)
    # half an hour at the window's edge counts half
    w = t.hours_in_window(0.5, 3.0)
    assert np.allclose(w[:4], [0.5, 1.0, 1.0, 0.0]) and w.sum() == 2.5


def test_a_version_1_instance_has_the_static_timeline():
    from fleetopt.io.load import load_instance
    from helpers import TINY
    inst = load_instance(TINY)
    assert inst.timeline.is_static and inst.timeline.horizon_hours == inst.horizon_hours
