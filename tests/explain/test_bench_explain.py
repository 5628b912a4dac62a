"""benchmarks/bench_explain.py runs end to end on global-fleet: every stage of the explanation and verify is timed
and written to its JSON, and the plan it explains holds (a smoke test: the numbers themselves live in
benchmarks/RESULTS.md, never in a test)."""

from __future__ import annotations

import json
import sys

from helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_explain  # noqa: E402


def test_bench_explain_times_every_stage_on_global_fleet(tmp_path, capsys):
    out = tmp_path / "explain.json"
    assert bench_explain.main(["--tier", "gf", "--time-limit", "60", "--json", str(out)]) == 0
    done = json.loads(out.read_text(encoding="utf-8"))
    stages = [s["stage"] for s in done["stages"]]
    assert stages[0] == "structure LP: build" and stages[-1] == "verify_plan"
    assert "explain (as the CLI runs it)" in stages and done["holds"] is True
    assert all(s["wall_s"] >= 0 and s["cpu_s"] >= 0 for s in done["stages"])
    assert "verify: holds" in capsys.readouterr().out
