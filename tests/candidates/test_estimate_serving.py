"""estimate_serving and the planner's serving options are one law with two callers: the same replica gives the
same prefill, saturation rate and p99 capacity; bad arguments are InputErrors naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.candidates.estimate_serving import estimate_serving
from fleetopt.candidates.serving import PRECISIONS
from fleetopt.errors import InputError
from fleetopt.physics import serving


def test_estimate_gives_the_candidates_capacity_for_the_same_replica(fleet, sc):
    llm = [i for i in range(len(sc.route_option))
           if fleet.models[fleet.serving[sc.service_names[sc.service[sc.route_option[i]]]].model].kind
           == "transformer"]
    assert len(llm) > 10
    for i in llm[:: max(len(llm) // 12, 1)]:
        o = sc.route_option[i]
        svc = fleet.serving[sc.service_names[sc.service[o]]]
        est = estimate_serving(svc.model, sc.accel_names[sc.accel[o]], int(sc.tp[o]), str(PRECISIONS[sc.precision[o]]),
                               svc.prompt_tokens, svc.output_tokens, max_batch=int(sc.batch[o]),
                               slo_p99_ms=svc.slo_p99_ms - float(sc.route_rtt_ms[i]))
        assert est["slots"] == sc.batch[o]
        assert est["prefill_s"] + serving.REQUEST_OVERHEAD_S == pytest.approx(sc.prefill_s[o], rel=1e-6)
        assert est["saturation_rps"] == pytest.approx(sc.service_rate_rps[o], rel=1e-6)
        assert est["rps"] == pytest.approx(sc.route_capacity_rps[i], rel=1e-6)
        assert est["p99_latency_s"] == pytest.approx((svc.slo_p99_ms - sc.route_rtt_ms[i]) / 1e3, rel=1e-3)


def test_more_clients_more_throughput_until_the_slots_fill():
    rows = [estimate_serving("llama3-8b", "h100-sxm5-80gb", 1, "fp8", 1000, 1000, concurrency=c)
            for c in (1, 16, 64, 256, 1024)]
    tokens = np.array([r["output_tokens_per_s"] for r in rows])
    itl = np.array([r["itl_s"] for r in rows])
    assert np.all(np.diff(tokens) > -1e-6) and np.all(np.diff(itl) >= -1e-9)
    # past the 256 slots only the wait for a slot grows: TTFT by ~768 request times / 256 slots
    assert rows[-1]["ttft_s"] > 2.5 * rows[-2]["latency_s"]
    assert rows[-1]["output_tokens_per_s"] == pytest.approx(rows[-2]["output_tokens_per_s"], rel=0.02)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(tp=3), "tp"),
    (dict(tp=1, precision="bf16", prompt_tokens=100_000), "tp"),        # 70B bf16 does not fit one GPU
    (dict(precision="int4"), "precision"),
    (dict(prompt_tokens=0), "prompt_tokens"),
    (dict(concurrency=None), "concurrency"),
    (dict(slo_p99_ms=100.0), "concurrency"),                             # both given
    (dict(concurrency=None, slo_p99_ms=-1.0), "slo_p99_ms"),
    (dict(max_batch=0), "max_batch"),
])
def test_bad_arguments_name_the_argument(kwargs, argument):
    args = dict(tp=8, precision="bf16", prompt_tokens=2304, output_tokens=512, concurrency=4)
    args.update(kwargs)
    with pytest.raises(InputError) as caught:
        estimate_serving("llama3-70b", "h100-sxm5-80gb", args.pop("tp"), args.pop("precision"),
                         args.pop("prompt_tokens"), args.pop("output_tokens"), **args)
    assert caught.value.problems[0].key == argument


def test_unknown_accelerator_and_a_non_transformer_model():
    with pytest.raises(InputError) as caught:
        estimate_serving("llama3-70b", "h100", 8, "bf16", 100, 100, concurrency=1)
    assert caught.value.problems[0].key == "accelerator"
    with pytest.raises(InputError) as caught:
        estimate_serving("dlrm-multi-tb", "h100-sxm5-80gb", 1, "bf16", 100, 100, concurrency=1)
    assert caught.value.problems[0].key == "model"
