"""Spot twins: every training layout on spot stock gets a twin whose goodput carries the preemption rate, and
every serving option one whose route capacities carry the replicas lost until replaced; an instance without
reserved or spot blocks has none."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.tables import SPOT
from fleetopt.candidates.training import enumerate_training
from fleetopt.io.load import load_instance
from fleetopt.physics.reliability import replicas_down_fraction
from helpers import TINY
from helpers import spot_jobs, text_instance

SPOT_SERVING = """\
fleetopt: 2
name: spot-serving
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    gpus:
      h100-sxm5-80gb:
        count: 64
        usd_per_hour: 4.25
        spot: {count: 64, usd_per_hour: 1.6, preemptions_per_gpu_hour: 0.05, replacement_min: 12}
populations:
  us-users:
    rtt_ms: {us-east: 20}
serving:
  chat:
    model: llama3-8b
    demand_rps: {us-users: 100}
    slo_p99_ms: 3000
"""


def test_no_class_blocks_no_twins():
    inst = load_instance(TINY)
    assert not (enumerate_training(inst).procurement == SPOT).any()
    assert not (enumerate_serving(inst).procurement == SPOT).any()


def test_a_spot_layout_loses_goodput_and_wall_hours_to_preemption():
    tc = enumerate_training(spot_jobs())
    spot = tc.procurement == SPOT
    assert spot.any() and (~spot).any()
    fields = ("job", "gpus", "tp", "pp", "dp", "micro_batch", "recompute", "interleave", "sync_group")
    on_demand = {tuple(int(getattr(tc, f)[c]) for f in fields): c for c in np.flatnonzero(~spot)}
    pairs = [(on_demand[k], c) for c in np.flatnonzero(spot)
             if (k := tuple(int(getattr(tc, f)[c]) for f in fields)) in on_demand]
    assert pairs, "no layout kept in both classes"
    for od, sp in pairs:
        assert tc.goodput[sp] < tc.goodput[od]
        assert tc.checkpoint_interval_s[sp] <= tc.checkpoint_interval_s[od]
        # a cheaper GPU-hour (1.6 vs 4.25) for longer
        assert tc.cost_usd[sp] / tc.wall_hours[sp] < tc.cost_usd[od] / tc.wall_hours[od]


def test_a_spot_replica_carries_less_by_the_share_down():
    sc = enumerate_serving(text_instance(SPOT_SERVING), prune=False)
    spot = np.flatnonzero(sc.procurement == SPOT)
    assert len(spot) == (sc.procurement != SPOT).sum()   # one twin per option
    key = np.stack([sc.tp, sc.precision, sc.batch], axis=1)
    for o in spot:
        twin = next(i for i in np.flatnonzero(sc.procurement != SPOT) if (key[i] == key[o]).all())
        up = 1 - replicas_down_fraction(0.05, sc.gpus_per_replica[o], 12 / 60)
        caps = sc.route_capacity_rps[sc.route_option == o]
        assert caps == pytest.approx(sc.route_capacity_rps[sc.route_option == twin] * up)
        assert sc.cost_usd_per_replica[o] == pytest.approx(sc.cost_usd_per_replica[twin] * 1.6 / 4.25)
