"""The scarce-tier generator (benchmarks/scarce_tiers.py): stock and power cut to 70-90% of the unconstrained
demand, the instance still feasible, and the inventory and power rows binding in its plan (which verifies)."""

import sys
from pathlib import Path

import pytest
from helpers import BENCHMARKS, solve_and_verify

sys.path.insert(0, str(BENCHMARKS))

from scale_tiers import make_tier  # noqa: E402
from scarce_tiers import SCARCITY, make_scarce_tier, unconstrained_demand  # noqa: E402

from fleetopt.io.load import load_document, load_instance  # noqa: E402


@pytest.fixture(scope="module")
def scarce_x1():
    doc = make_scarce_tier(1, seed=0)
    return doc, load_document(doc, Path("x1-scarce.yaml"))


def test_caps_are_the_seeded_share_of_the_unconstrained_demand(scarce_x1):
    doc, _ = scarce_x1
    base = make_tier(1, seed=0)
    gpus, mw = unconstrained_demand(load_document(base, Path("x1.yaml")))
    assert gpus and mw
    for (region, accel), need in gpus.items():
        count, before = doc["regions"][region]["gpus"][accel]["count"], base["regions"][region]["gpus"][accel]["count"]
        assert count == before or SCARCITY[0] * need - 0.5 <= count <= SCARCITY[1] * need + 0.5
    for region, need in mw.items():
        cap = doc["regions"][region]["power_cap_mw"]
        assert cap <= base["regions"][region].get("power_cap_mw", float("inf"))
        assert cap == base["regions"][region].get("power_cap_mw") or \
            SCARCITY[0] * need - 1e-3 <= cap <= SCARCITY[1] * need + 1e-3
    # regions the estimate leaves empty keep the tier's figures, so demand has somewhere to go
    untouched = [r for r in base["regions"] if r not in mw]
    for region in untouched:
        assert doc["regions"][region] == base["regions"][region]


def test_same_seed_same_document(scarce_x1):
    doc, _ = scarce_x1
    assert make_scarce_tier(1, seed=0) == doc


def test_stock_and_power_bind_in_the_plan_and_it_verifies(scarce_x1):
    """At a 1% gap integer replicas rarely leave exactly zero slack: a row binds here when it is 97% full (stock:
    95% since continuous batching, the seed-0 plan filling eu-north's H100s to 96.4% and its power to 98.9%)."""
    _, inst = scarce_x1
    plan = solve_and_verify(inst, mip_rel_gap=1e-2)
    assert plan.has_plan
    use = plan.totals.regions
    full_stock = [(r, a) for r, u in use.items() for a, n in u.gpus.items()
                  if n >= 0.95 * inst.regions[r].gpus[a].count]
    full_power = [r for r, u in use.items() if u.power_cap_mw and u.power_mw >= 0.97 * u.power_cap_mw]
    assert full_stock and full_power, (full_stock, full_power)


def test_the_command_line_writes_a_valid_instance(tmp_path):
    """`python benchmarks/scarce_tiers.py 1 OUT.yaml`: plain YAML (no numpy scalars) that loads as an instance."""
    from scale_tiers import main

    out = tmp_path / "x1-scarce.yaml"
    main(["scarce_tiers.py", "1", str(out)], make_scarce_tier)
    assert load_instance(out).name == "global-fleet-x1-scarce"


@pytest.mark.parametrize("argv", [["x"], ["1", "out.yaml", "seven"], ["1", "a", "2", "extra"]])
def test_the_command_line_refuses_bad_arguments_in_one_line_exit_2(argv, tmp_path, capsys):
    from scale_tiers import main

    with pytest.raises(SystemExit) as leaving:
        main(["scarce_tiers.py", *[str(tmp_path / a) if a.endswith(".yaml") else a for a in argv]], make_scarce_tier)
    assert leaving.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage:") and err[1].startswith("error:") and len(err) == 2
    assert not list(tmp_path.iterdir())   # nothing written
