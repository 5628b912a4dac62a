"""The family registry (fleetopt/facts.py) is the one place family facts live: every family the formulation
builds is declared with a layer, units and meaning; the README's formulation table is generated from it; explain
prices rows in its words; verify checks every formulation family and names only declared ones; every declared
setting is a real instance path."""

from __future__ import annotations


import pytest

from fleetopt.api import build_problem
from fleetopt.explain.binding import layer_of, price_in_words
from fleetopt.explain.infeasible import setting_value
from fleetopt.facts import FAMILIES, facts, markdown_table, of_stage
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir
from fleetopt.verify import verify_plan
from helpers import solve_and_verify
from helpers import REPO, TINY



@pytest.fixture(scope="module")
def global_fleet():
    return build_problem(load_instance(shipped_dir("instances") / "global-fleet.yaml"))


# built only when the horizon is cut into time slices (formulation/time.py; tests/solving/test_time_slices.py)
TIME_FAMILIES = {"run_window", "run_steady", "run_resume", "coverage"}


def test_every_family_built_on_global_fleet_is_declared(global_fleet):
    form = global_fleet.form
    built = set(form.families)
    replan_only = {"changed_gpus", "change_cap", "move_deadline"}   # built only from a deployed plan (`current`)
    classes_only = {"spot_stock", "reserved_stock", "reserved_use"}  # built only with reserved or spot stock
    assert built == {f.name for f in of_stage("formulation")} - TIME_FAMILIES - replan_only - classes_only
    for name, fam in form.families.items():
        f = facts(name)
        assert f.layer and f.meaning and f.units and f.row
        assert (fam.units, fam.meaning, fam.shared) == (f.units, f.meaning, f.shared)   # taken from the facts
        for key in fam.keys[:3]:
            assert len(key) == len(f.key), (name, key, f.key)


def test_readme_table_is_the_registry():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "regenerate the README table: fleetopt.facts.markdown_table()"
    for f in of_stage("formulation"):
        assert f"| {f.layer} |" in readme


def test_prices_and_layers_speak_the_declared_words(global_fleet):
    for name, fam in global_fleet.form.families.items():
        key = [str(k) for k in fam.keys[0]] if fam.keys else list(facts(name).key)
        words = price_in_words("cost_usd", name, key)
        assert words.startswith("$ per extra ") and words.endswith(" over the horizon")
        assert "{" not in words and layer_of(name) == facts(name).layer
    assert price_in_words("cost_usd", "power_cap", ["us-east"]) == \
        "$ per extra MW of power cap in us-east over the horizon"


def test_every_relaxable_row_has_its_setting_in_the_instance(global_fleet):
    inst, form = global_fleet.inst, global_fleet.form
    relaxable = [f for f in FAMILIES.values() if f.setting is not None]
    assert {f.name for f in relaxable} >= {"carbon_budget", "power_cap", "deadline", "inventory", "slo"}
    for f in relaxable:
        if f.stage != "formulation" or f.name not in form.families:
            continue
        fam = form.families[f.name]
        for i, key in enumerate(fam.keys):
            assert setting_value(inst, f.name, key) == pytest.approx(fam.upper[i]), f.row_name(key)
    assert setting_value(inst, "slo", ["chat"]) == inst.serving["chat"].slo_p99_ms


@pytest.mark.parametrize("path", [TINY, shipped_dir("instances") / "archetype-b.yaml"], ids=["tiny", "archetype-b"])
def test_verify_checks_every_formulation_family_it_builds(path):
    """tiny-fleet builds the resource families (links, storage, carbon), archetype-b the monitoring ones."""
    inst = load_instance(path)
    plan = solve_and_verify(inst)
    report = verify_plan(inst, plan)
    built = {n for n, fam in build_problem(inst).form.families.items() if fam.size}
    assert built <= set(report.checked), sorted(built - set(report.checked))
    assert set(report.checked) <= set(FAMILIES)
    if path != TINY:
        assert {"monitoring_samples", "monitoring_coverage"} <= built


def test_an_undeclared_family_is_refused():
    from fleetopt.verify.report import Report

    with pytest.raises(KeyError, match="does not declare"):
        Report().check("no_such_family")
    with pytest.raises(KeyError, match="no facts declared"):
        facts("no_such_family")
