"""What-if settings on numbers the profiles CSV sets: a value replaces the profile, a factor scales it
(before, the CSV silently won and the setting changed nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.whatif.scenario import instance_for, read_base
from fleetopt.whatif.spec import Setting

from helpers import REPO

HOURLY = REPO / "instances" / "global-fleet-hourly.yaml"
PATH = "regions.us-central.carbon_g_per_kwh"   # a column of global-fleet-hourly.csv


@pytest.fixture(scope="module")
def base():
    return read_base(HOURLY)


@pytest.fixture(scope="module")
def profiled(base):
    inst = instance_for(base, [])
    series = inst.timeline.value(PATH, np.nan)
    assert np.ptp(series) > 0   # the CSV does profile it: the tests below would be vacuous otherwise
    return inst, series


def test_a_value_replaces_the_profile(base, profiled):
    inst = instance_for(base, [Setting(PATH, 100.0)])
    assert inst.regions["us-central"].carbon_g_per_kwh == pytest.approx(100.0)
    assert np.allclose(inst.timeline.value(PATH, inst.regions["us-central"].carbon_g_per_kwh), 100.0)


def test_a_factor_scales_the_profile(base, profiled):
    before, series = profiled
    inst = instance_for(base, [Setting(PATH, 0.5, scale=True)])
    assert inst.regions["us-central"].carbon_g_per_kwh == pytest.approx(0.5 * before.regions["us-central"]
                                                                        .carbon_g_per_kwh)
    assert inst.timeline.value(PATH, np.nan) == pytest.approx(0.5 * series)


def test_a_wildcard_reaches_the_csv_columns(base, profiled):
    inst = instance_for(base, [Setting("regions.*.carbon_g_per_kwh", 0.0)])
    assert all(r.carbon_g_per_kwh == 0 for r in inst.regions.values())
    assert np.allclose(inst.timeline.value(PATH, inst.regions["us-central"].carbon_g_per_kwh), 0.0)


def test_other_columns_keep_their_profile(base, profiled):
    # per slice they may differ: the representative days are chosen over every profiled series
    plain, _ = profiled
    inst = instance_for(base, [Setting(PATH, 100.0)])
    assert inst.regions["us-east"].carbon_g_per_kwh == plain.regions["us-east"].carbon_g_per_kwh != 100.0
    assert "regions.us-east.carbon_g_per_kwh" in inst.timeline.values
