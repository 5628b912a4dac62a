"""benchmarks/bench_service_bounds.py runs end to end on global-fleet: every serving part is grouped by its
populations, its LP, floor and whole-replica bound summed, and the sampled parts' rows and MILPs reported (a smoke
test: the numbers themselves live in benchmarks/RESULTS.md, never in a test)."""

from __future__ import annotations

import json
import sys

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_service_bounds  # noqa: E402


def test_bench_service_bounds_groups_every_serving_part_of_global_fleet(tmp_path, capsys):
    out = tmp_path / "bounds.json"
    assert bench_service_bounds.main(["--tier", "gf", "--sample", "1", "--time-limit", "30",
                                      "--json", str(out)]) == 0
    groups = json.loads(out.read_text(encoding="utf-8"))["groups"]
    assert sum(g["parts"] for g in groups) == 6     # global-fleet's six services, each a part of its own
    for g in groups:
        # the LP pays at least each population's best rate; a sampled part's plan is no better than its LP
        assert g["lp"] >= g["floor"] * (1 - 1e-9)
        for s in g["sampled"]:
            assert s["lp"] * (1 - 1e-9) <= s["rows_lp"] <= s["plan"] * (1 + 1e-9)
            assert s["milp_bound"] <= s["plan"] * (1 + 1e-9)
    printed = capsys.readouterr().out
    assert "bound/floor" in printed and max(len(line) for line in printed.splitlines()) <= 80
