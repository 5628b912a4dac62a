"""Serving options and routes: residency, SLO reachability, fan-out, fp8, sizes, per-replica economics."""

import math

import numpy as np
import pytest

from fleetopt.candidates.serving import enumerate_serving, pareto_front, transformer_configs
from fleetopt.io.load import load_model_card
from fleetopt.io.schema import EdgeDevices, Population, Region, RegionGpus

EU_REGIONS = {"eu-west", "eu-north"}


def with_serving(inst, **services):
    return inst.model_copy(update={"serving": services})


def with_service_change(inst, name, **changes):
    return with_serving(inst, **{name: inst.serving[name].model_copy(update=changes)})


def with_card(inst, name):
    return inst.model_copy(update={"models": {**inst.models, name: load_model_card(name)}})


def at(sc, region, accel):
    return (sc.region == sc.region_names.index(region)) & (sc.accel == sc.accel_names.index(accel))


def options_of(sc, service):
    return np.flatnonzero(sc.service == sc.service_names.index(service))


def routes_of(sc, service, population=None):
    mask = sc.service[sc.route_option] == sc.service_names.index(service)
    if population is not None:
        mask &= sc.route_population == sc.population_names.index(population)
    return np.flatnonzero(mask)


def test_every_service_has_options_and_every_demand_pair_is_routed_or_explained(fleet, sc):
    unroutable = {(s, u) for s, u, _ in sc.unroutable}
    for sname, svc in fleet.serving.items():
        assert len(options_of(sc, sname)) > 0, sname
        for pname, rps in svc.demand_rps.items():
            if rps > 0:
                assert len(routes_of(sc, sname, pname)) > 0 or (sname, pname) in unroutable, (sname, pname)
    assert all(reason for _, _, reason in sc.unroutable)
    assert np.all(sc.route_capacity_rps > 0)


def test_array_lengths_are_consistent(fleet, sc):
    n = len(sc)
    for name in ("service", "region", "accel", "tp", "precision", "batch", "gpus_per_replica",
                 "power_mw_per_replica", "energy_kwh_per_replica", "carbon_t_per_replica",
                 "cost_usd_per_replica", "service_rate_rps", "prefill_s", "decode_s"):
        assert getattr(sc, name).shape == (n,), name
    n_routes = sc.route_option.shape[0]
    for name in ("route_population", "route_capacity_rps", "route_rtt_ms"):
        assert getattr(sc, name).shape == (n_routes,), name
    assert sc.route_option.max() < n
    pairs = sum(1 for svc in fleet.serving.values() for rps in svc.demand_rps.values() if rps > 0)
    assert sc.demand_service.shape == sc.demand_population.shape == sc.demand_rps.shape == (pairs,)
    assert sc.headroom.shape == (len(sc.service_names),)
    for arr in (sc.power_mw_per_replica, sc.cost_usd_per_replica, sc.service_rate_rps, sc.prefill_s):
        assert np.all(np.isfinite(arr)) and np.all(arr > 0)


def test_option_keys_are_unique(sc):
    keys = set(zip(sc.service, sc.region, sc.accel, sc.tp, sc.precision, sc.batch))
    assert len(keys) == len(sc)


def test_eu_residency_routes_only_to_eu_regions(sc):
    for sname in sc.service_names:
        routes = routes_of(sc, sname, "eu-users")
        regions = {sc.region_names[r] for r in sc.region[sc.route_option[routes]]}
        assert regions <= EU_REGIONS, (sname, regions)
    # assistant-eu serves only eu-users, so every one of its routes stays in the EU.
    assert len(routes_of(sc, "assistant-eu")) > 0


def test_routes_respect_the_slo_budget(fleet, sc):
    latency_ms = sc.route_rtt_ms + (sc.prefill_s + sc.decode_s)[sc.route_option] * 1e3
    slo_ms = np.array([fleet.serving[s].slo_p99_ms for s in sc.service_names])
    assert np.all(latency_ms < slo_ms[sc.service[sc.route_option]])
    rtt = [fleet.populations[sc.population_names[u]].rtt_ms[sc.region_names[sc.region[o]]]
           for o, u in zip(sc.route_option, sc.route_population)]
    np.testing.assert_array_equal(sc.route_rtt_ms, rtt)


def test_population_beyond_the_slo_is_unroutable_by_name(fleet):
    # 7.99 s of RTT leaves a 70B model nothing of chat's 8 s SLO.
    far = Population(rtt_ms={"us-east": 7990})
    chat = fleet.serving["chat"].model_copy(update={"demand_rps": {"us-users": 10, "far-users": 5}})
    inst = fleet.model_copy(update={"populations": {**fleet.populations, "far-users": far},
                                    "serving": {"chat": chat}})
    sc = enumerate_serving(inst)
    reasons = {(s, u): why for s, u, why in sc.unroutable}
    assert set(reasons) == {("chat", "far-users")}
    assert "SLO of 8000 ms" in reasons[("chat", "far-users")]
    assert "us-east" in reasons[("chat", "far-users")]
    assert len(routes_of(sc, "chat", "far-users")) == 0
    assert len(routes_of(sc, "chat", "us-users")) > 0


def test_slo_no_config_can_meet_is_explained(fleet):
    # 70B decode of 256 tokens takes over 2 s even at tp 8 on H100 (HBM bound), so 500 ms is out of reach.
    sc = enumerate_serving(with_service_change(fleet, "chat", slo_p99_ms=500))
    assert len(sc) == 0 and len(sc.route_option) == 0
    assert {u for _, u, _ in sc.unroutable} == set(fleet.serving["chat"].demand_rps)
    assert all("SLO of 500 ms" in why for _, _, why in sc.unroutable)


def test_residency_with_no_allowed_region_produces_no_routes(fleet):
    boxed = Population(rtt_ms={"us-east": 20, "us-west": 30}, allowed_jurisdictions=["JP"])
    chat = fleet.serving["chat"].model_copy(update={"demand_rps": {"boxed-users": 10}})
    inst = fleet.model_copy(update={"populations": {**fleet.populations, "boxed-users": boxed},
                                    "serving": {"chat": chat}})
    assert len(enumerate_serving(inst, prune=False)) > 0
    sc = enumerate_serving(inst)
    assert len(sc) == 0  # an option no population can reach is not offered
    assert len(sc.route_option) == 0
    [(service, population, why)] = sc.unroutable
    assert (service, population) == ("chat", "boxed-users")
    assert "allowed jurisdictions (JP)" in why


def test_model_that_fits_no_accelerator_is_explained(fleet):
    # Llama 3 405B: 810 GB of bf16 weights (Dubey et al. 2024) against 8 x 24 GB of L4 HBM in a node.
    inst = with_card(fleet, "llama3-405b")
    sc = enumerate_serving(with_service_change(inst, "chat", model="llama3-405b",
                                               allowed_accelerators=["l4"]))
    assert len(sc) == 0
    assert all("no accelerator fits the model 'llama3-405b'" in why for _, _, why in sc.unroutable)
    assert len(sc.unroutable) == 4


def test_llama3_70b_bf16_needs_two_gpus_fp8_fits_on_one(fleet):
    # 70.6e9 parameters (Dubey et al. 2024): 141 GB in bf16 exceeds one 80 GB H100, 70.6 GB in fp8 does not.
    card, h100 = fleet.models["llama3-70b"], fleet.accelerators["h100-sxm5-80gb"]
    bf16_only = transformer_configs(card, fleet.serving["chat"], h100)
    assert bf16_only["tp"].min() == 2 and set(bf16_only["precision"]) == {0}
    with_fp8 = transformer_configs(card, fleet.serving["code-assist"], h100)
    assert set(with_fp8["precision"][with_fp8["tp"] == 1]) == {1}


def test_fp8_options_appear_only_when_allowed(fleet, sc):
    fp8 = sc.precision == 1
    allowed = np.array([fleet.serving[s].allow_fp8 for s in sc.service_names])[sc.service]
    assert fp8.any()
    assert not (fp8 & ~allowed).any()
    # Never on an accelerator without an FP8 peak (A100).
    assert not (fp8 & (sc.accel == sc.accel_names.index("a100-sxm4-80gb"))).any()
    # Turning fp8 on for chat brings fp8 options.
    chat_fp8 = enumerate_serving(with_service_change(fleet, "chat", allow_fp8=True))
    assert (chat_fp8.precision == 1).any()


def test_capacity_falls_as_fanout_rises(fleet):
    capacities, tails = [], []
    for fanout in (2, 4, 8, 16, 32):
        sc = enumerate_serving(with_service_change(fleet, "recommend", fanout=fanout), prune=False)
        routes = routes_of(sc, "recommend", "us-users")
        o = sc.route_option[routes]
        pick = routes[(sc.region_names.index("us-east") == sc.region[o])
                      & (sc.accel[o] == sc.accel_names.index("h100-sxm5-80gb")) & (sc.batch[o] == 1)]
        assert len(pick) == 1
        r, o = pick[0], sc.route_option[pick[0]]
        capacities.append(sc.route_capacity_rps[r])
        # Capacity lost to the p99 tail, per shard and per second of budget: -ln(1 - 0.99^(1/F)).
        budget_s = (150 - sc.route_rtt_ms[r]) / 1e3 - sc.prefill_s[o] - sc.decode_s[o]
        shards = sc.gpus_per_replica[o]
        tails.append((sc.service_rate_rps[o] - sc.route_capacity_rps[r]) * fanout / shards * budget_s)
    assert np.all(np.diff(capacities) < 0)
    # Each shard must meet 0.99^(1/F) (Dean & Barroso 2013): F=16 -> 0.999372, tail factor 7.373
    # against ln 100 = 4.605 for one server.
    expected = [-math.log(1 - 0.99 ** (1 / f)) for f in (2, 4, 8, 16, 32)]
    np.testing.assert_allclose(tails, expected, rtol=1e-6)
    assert tails[3] == pytest.approx(7.373, abs=1e-3)


def test_dlrm_service_gets_shard_group_options(sc):
    rec = options_of(sc, "recommend")
    assert len(rec) > 0
    assert len(routes_of(sc, "recommend", "us-users")) > 0
    assert len(routes_of(sc, "recommend", "apac-users")) > 0
    # 4,000 GB of tables over 90% of 80 GB (H100, A100): ceil(4000 / 72) = 56;
    # over 90% of 24 GB (L4): ceil(4000 / 21.6) = 186.
    by_accel = {sc.accel_names[a]: set(sc.gpus_per_replica[rec][sc.accel[rec] == a])
                for a in set(sc.accel[rec])}
    assert by_accel["h100-sxm5-80gb"] == {56}
    assert by_accel["a100-sxm4-80gb"] == {56}
    assert by_accel["l4"] == {186}


def test_cnn_service_serves_on_one_gpu(fleet):
    inst = with_card(fleet, "mobilenet-v2")
    sc = enumerate_serving(with_service_change(inst, "chat", model="mobilenet-v2", slo_p99_ms=200))
    assert len(sc) > 0 and set(sc.gpus_per_replica) == {1}
    # Compute bound at batch 256 on an H100: 0.6 GFLOP per image (Sandler et al. 2018) at half of 989 TFLOP/s.
    h100 = (sc.accel == sc.accel_names.index("h100-sxm5-80gb")) & (sc.batch == 256) & (sc.precision == 0)
    assert sc.service_rate_rps[h100] == pytest.approx(989e12 * 0.5 / 0.6e9, rel=1e-6)


def test_per_replica_power_energy_carbon_cost(fleet):
    # An 8 x H100 replica in us-east: 8 x 700 W x PUE 1.1 = 6.16 kW; 720 h -> 4,435.2 kWh;
    # 323.05 g/kWh -> 1.43280 t, embodied 8 x 1.5 t x 720/35,000 = 0.24686 t; 8 x $4.25 x 720 = $24,480.
    # Unpruned: under continuous batching a tp 4 replica dominates tp 8 for every service in us-east.
    sc = enumerate_serving(fleet, prune=False)
    o = np.flatnonzero(at(sc, "us-east", "h100-sxm5-80gb") & (sc.gpus_per_replica == 8))[0]
    assert sc.power_mw_per_replica[o] == pytest.approx(6.16e-3)
    assert sc.energy_kwh_per_replica[o] == pytest.approx(4435.2)
    assert sc.carbon_t_per_replica[o] == pytest.approx(1.432801 + 0.246857, rel=1e-5)
    assert sc.cost_usd_per_replica[o] == pytest.approx(24_480.0)


def test_energy_is_charged_when_the_gpu_price_excludes_it(fleet):
    east = fleet.regions["us-east"]
    gpus = {**east.gpus, "h100-sxm5-80gb": RegionGpus(count=6144, usd_per_hour=4.25, includes_energy=False)}
    region = east.model_copy(update={"gpus": gpus, "energy_usd_per_kwh": 0.10})
    policy = fleet.policy.model_copy(update={"include_embodied": False})
    inst = fleet.model_copy(update={"regions": {**fleet.regions, "us-east": region}, "policy": policy})
    sc = enumerate_serving(inst, prune=False)
    o = np.flatnonzero(at(sc, "us-east", "h100-sxm5-80gb") & (sc.gpus_per_replica == 8))[0]
    assert sc.cost_usd_per_replica[o] == pytest.approx(24_480.0 + 443.52)
    assert sc.carbon_t_per_replica[o] == pytest.approx(1.432801, rel=1e-5)


def test_headroom_stays_out_of_route_capacity(fleet, sc):
    loose = enumerate_serving(with_service_change(fleet, "chat", headroom=1.0))
    a, b = routes_of(sc, "chat"), routes_of(loose, "chat")
    np.testing.assert_allclose(sc.route_capacity_rps[a], loose.route_capacity_rps[b])
    assert loose.headroom[loose.service_names.index("chat")] == 1.0


def test_edge_regions_and_empty_stock_are_skipped(fleet):
    edge = Region(kind="edge", jurisdiction="US", carbon_g_per_kwh=300,
                  gpus={"h100-sxm5-80gb": RegionGpus(count=64, usd_per_hour=1.0)},
                  devices=EdgeDevices(count=1000, tflops=1, watts=5, uplink_mbps=10))
    west = fleet.regions["us-west"].model_copy(update={"gpus": {
        "h100-sxm5-80gb": RegionGpus(count=0, usd_per_hour=4.6), "l4": fleet.regions["us-west"].gpus["l4"]}})
    inst = fleet.model_copy(update={"regions": {**fleet.regions, "phones": edge, "us-west": west}})
    sc = enumerate_serving(inst)
    assert sc.region_names.index("phones") not in set(sc.region)
    assert not at(sc, "us-west", "h100-sxm5-80gb").any()


def test_no_option_is_dominated_within_its_group(sc):
    latency = sc.prefill_s + sc.decode_s
    per_gpu = sc.service_rate_rps / sc.gpus_per_replica
    for key in set(zip(sc.service, sc.region, sc.accel)):
        group = (sc.service == key[0]) & (sc.region == key[1]) & (sc.accel == key[2])
        assert pareto_front(sc.gpus_per_replica[group], per_gpu[group], latency[group]).all()


def test_pareto_front_drops_a_config_more_gpus_per_throughput_and_slower():
    # (GPUs, rate per GPU, latency): the third is beaten by the second on all three; of exact twins (the
    # second and fourth) the first is kept.
    keep = pareto_front([1, 2, 4, 2], [1.0, 3.0, 2.0, 3.0], [5.0, 2.0, 3.0, 2.0])
    assert keep.tolist() == [True, True, False, False]


@pytest.mark.slow
def test_dominance_pruning_keeps_the_optimum(fleet):
    """Pruned options never change the best plan: the serving-only MILP has the same optimum either way."""
    from fleetopt.backends import highs
    from fleetopt.backends.result import SolveOptions
    from fleetopt.candidates.training import enumerate_training
    from fleetopt.formulation.families import build

    # assistant-eu: under continuous batching its options differ in routes, so pruning bites there
    inst = fleet.model_copy(update={"training": {}, "serving": {k: fleet.serving[k] for k in ("assistant-eu",
                                                                                          "summarize")}})
    tc = enumerate_training(inst)
    full, pruned = enumerate_serving(inst, prune=False), enumerate_serving(inst)
    assert len(pruned) < len(full)
    objectives = [highs.solve(build(inst, tc, sc), SolveOptions(mip_rel_gap=0.0)).objective for sc in (full, pruned)]
    assert objectives[0] == pytest.approx(objectives[1], rel=1e-9)
