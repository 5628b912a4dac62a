"""Small version 2 instances with reserved and spot stock, shared by the procurement tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from fleetopt.io.load import load_document
from fleetopt.io.schema import Instance

SPOT_JOBS = """\
fleetopt: 2
name: spot-jobs
horizon_hours: 720
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    storage_gb_s: 2000
    gpus:
      h100-sxm5-80gb:
        count: 2048
        usd_per_hour: 4.25
        spot: {count: 2048, usd_per_hour: SPOT_PRICE, preemptions_per_gpu_hour: 0.02}
training:
  small:          # 8B: a 112 GB checkpoint written in 0.06 s, a group of a few GPUs
    model: llama3-8b
    tokens: 2.0e10
    seq_len: 4096
    global_batch_tokens: 1.0e6
    deadline_hours: 300
  huge:           # 70B on a deadline that takes hundreds of GPUs in one fate-sharing group
    model: llama3-70b
    tokens: 3.0e11
    seq_len: 4096
    global_batch_tokens: 4.0e6
    deadline_hours: 200
"""

RESERVED_SERVING = """\
fleetopt: 2
name: reserved-serving
horizon_hours: 720
regions:
  us-east:
    jurisdiction: US
    carbon_g_per_kwh: 300
    gpus:
      h100-sxm5-80gb:
        count: 64
        usd_per_hour: 4.25
        reserved: {count: RESERVED, usd_per_hour: 2.9}
populations:
  us-users:
    rtt_ms: {us-east: 20}
serving:
  chat:
    model: llama3-8b
    demand_rps: {us-users: DEMAND}
    slo_p99_ms: 3000
"""


def load_text(text: str, **values) -> Instance:
    for key, value in values.items():
        text = text.replace(key.upper(), str(value))
    return load_document(yaml.safe_load(text), Path(f"{values and 'x' or 'instance'}.yaml"))


def spot_jobs(spot_price: float = 1.6) -> Instance:
    return load_text(SPOT_JOBS, spot_price=spot_price)


def reserved_serving(reserved: int, demand: float, with_block: bool = True) -> Instance:
    text = RESERVED_SERVING if with_block else RESERVED_SERVING.replace(
        "        reserved: {count: RESERVED, usd_per_hour: 2.9}\n", "")
    return load_text(text, reserved=reserved, demand=demand)
