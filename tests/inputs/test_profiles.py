"""Profiles (format version 2): YAML lists and the profiles CSV laid over the horizon, the slices they reduce to,
the errors they give (one line naming file, line and column) and the reduction's error."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import yaml

from fleetopt.errors import InputError
from fleetopt.io.load import load_document, load_instance
from fleetopt.io.schema import HorizonMean, TrainingJob
from fleetopt.io.slices import build_timeline, carbon_on_full_series
from helpers import REPO, TINY

HOURLY = REPO / "instances" / "global-fleet-hourly.yaml"


def tiny(**changes) -> dict:
    """tiny-fleet as a version 2 document with `changes` (dotted paths) set."""
    doc = yaml.safe_load(TINY.read_text())
    doc["fleetopt"] = 2
    for path, value in changes.items():
        *head, last = path.split(".")
        node = doc
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return doc


def load(doc: dict, folder, csv_text: str | None = None):
    file = folder / "fleet.yaml"
    if csv_text is not None:
        (folder / "profiles.csv").write_text(csv_text)
        doc = {**doc, "profiles": "profiles.csv"}
    file.write_text(yaml.safe_dump(doc))
    return load_instance(file)


def one_error(doc: dict, folder, csv_text: str | None = None) -> str:
    with pytest.raises(InputError) as err:
        load(doc, folder, csv_text)
    assert len(err.value.problems) == 1, str(err.value)
    return str(err.value.problems[0])


def day_curve(low: float, high: float, clean_from: int = 0, clean_to: int = 6) -> list[float]:
    return [low if clean_from <= h < clean_to else high for h in range(24)]


# ------------------------------------------------------------------ slices


def test_weights_sum_to_the_horizon_for_every_reduction(tmp_path):
    rng = np.random.default_rng(1)
    hours = np.arange(720)
    carbon = 300 + 120 * np.sin(2 * np.pi * hours / 24) + 40 * rng.standard_normal(720)
    for days, tolerance in [(0, None), (1, None), (4, None), (4, 0.1), (30, None), (40, 0.5)]:
        t = build_timeline(720, 1, {"regions.a.carbon_g_per_kwh": carbon}, days, tolerance)
        assert t.weights.sum() == pytest.approx(720)
        assert sorted(np.concatenate(t.members).tolist()) == list(range(720)), "each step in exactly one slice"
    partial = build_timeline(700, 1, {"regions.a.carbon_g_per_kwh": carbon[:700]}, 3)
    assert partial.weights.sum() == pytest.approx(700) and len(partial) == 72


def test_every_day_keeps_the_series_exactly():
    carbon = np.arange(48.0)
    t = build_timeline(48, 1, {"regions.a.carbon_g_per_kwh": carbon}, 0)
    assert len(t) == 48 and np.array_equal(t.values["regions.a.carbon_g_per_kwh"], carbon)
    assert np.array_equal(t.day, np.repeat([0, 1], 24))
    assert carbon_on_full_series(t, {"a": np.linspace(1, 2, 48)}).absolute == pytest.approx(0.0)


def test_clustering_is_deterministic_and_finds_the_two_kinds_of_day():
    rng = np.random.default_rng(7)
    sunny, windy = np.array(day_curve(50, 400, 9, 17)), np.array(day_curve(80, 300, 0, 8))
    pattern = rng.permutation([0] * 10 + [1] * 20)
    carbon = np.concatenate([(sunny if k == 0 else windy) + rng.normal(0, 3, 24) for k in pattern])
    runs = [build_timeline(720, 1, {"regions.a.carbon_g_per_kwh": carbon}, 2) for _ in range(3)]
    for t in runs[1:]:
        assert np.array_equal(t.weights, runs[0].weights)
        assert all(np.array_equal(a, b) for a, b in zip(t.members, runs[0].members))
    t = runs[0]
    day_weights = sorted(t.weights[t.day == d].sum() / 24 for d in (0, 1))
    assert day_weights == [10, 20], "ten sunny days and twenty windy ones"


def test_merging_flat_hours_makes_blocks_with_their_mean():
    carbon = np.array([100.0] * 6 + [300.0] * 12 + [101.0] * 6)
    t = build_timeline(24, 1, {"regions.a.carbon_g_per_kwh": carbon}, 0, merge_tolerance=0.05)
    assert len(t) == 3 and t.weights.tolist() == [6, 12, 6]
    assert t.values["regions.a.carbon_g_per_kwh"].tolist() == [100, 300, 101]
    assert t.start_hour.tolist() == [0, 6, 18]


def test_the_reduction_error_is_the_carbon_the_medoids_miss():
    # two days: the medoid is one of them, so the other day's carbon is counted at the medoid's values
    carbon = np.concatenate([np.full(24, 100.0), np.full(24, 120.0)])
    t = build_timeline(48, 1, {"regions.a.carbon_g_per_kwh": carbon}, 1)
    err = carbon_on_full_series(t, {"a": np.full(len(t), 2.0)})  # 2 MW all the time
    full = 2 * 1e3 * (24 * 100 + 24 * 120) / 1e6
    assert err.on_full_series == pytest.approx(full)
    medoid = t.values["regions.a.carbon_g_per_kwh"][0]
    assert err.on_slices == pytest.approx(2 * 1e3 * 48 * medoid / 1e6)
    assert abs(err.relative) == pytest.approx(abs(48 * medoid - 5280) / 5280)


# ------------------------------------------------------------------ the loader


def test_constant_profiles_give_the_static_values(tmp_path):
    static = load_instance(TINY)
    doc = tiny(time={"step_hours": 1, "representative_days": 4})
    doc["regions"]["us-east"]["carbon_g_per_kwh"] = [323.05] * 24
    doc["serving"]["chat-small"]["demand_rps"]["us-users"] = [200] * 720
    inst = load(doc, tmp_path)
    t = inst.timeline
    assert t.weights.sum() == pytest.approx(720)
    assert np.allclose(t.value("regions.us-east.carbon_g_per_kwh", 0.0), 323.05)
    assert np.allclose(t.value("serving.chat-small.demand_rps.us-users", 0.0), 200)
    assert inst.regions["us-east"].mean_carbon_g_per_kwh == pytest.approx(323.05)
    assert inst.serving["chat-small"].demand_rps["us-users"] == pytest.approx(200)
    for r in static.regions:
        assert inst.regions[r].mean_carbon_g_per_kwh == pytest.approx(static.regions[r].mean_carbon_g_per_kwh)


def test_a_typical_day_repeats_and_the_static_value_is_its_mean(tmp_path):
    curve = day_curve(50, 400)
    inst = load(tiny(time={"step_hours": 1}, **{"regions.us-west.carbon_g_per_kwh": curve}), tmp_path)
    t = inst.timeline
    assert len(t) == 720 and np.array_equal(t.values["regions.us-west.carbon_g_per_kwh"], np.tile(curve, 30))
    assert isinstance(inst.regions["us-west"].carbon_g_per_kwh, HorizonMean)
    assert inst.regions["us-west"].mean_carbon_g_per_kwh == pytest.approx(np.mean(curve))
    # the dump gives the file's list back, so what-if sweeps re-load the same profile
    dumped = inst.model_dump(mode="json")
    assert dumped["regions"]["us-west"]["carbon_g_per_kwh"] == curve
    assert pickle.loads(pickle.dumps(inst)).regions["us-west"].carbon_g_per_kwh.written == tuple(curve)
    assert copy.deepcopy(inst).regions["us-west"].mean_carbon_g_per_kwh == pytest.approx(np.mean(curve))


def test_without_time_a_version_1_list_is_averaged_as_before(tmp_path):
    doc = yaml.safe_load(TINY.read_text())
    doc["regions"]["us-west"]["carbon_g_per_kwh"] = [60, 80, 100]  # any length, as version 1 allowed
    inst = load(doc, tmp_path)
    assert inst.timeline.is_static and inst.regions["us-west"].mean_carbon_g_per_kwh == pytest.approx(80)


def test_the_csv_overrides_the_file_and_sets_the_horizon_mean(tmp_path):
    rows = "\n".join(f"{h},{100 + h},{3 if h < 12 else 2}" for h in range(24))
    text = ("# a comment line: where the numbers come from\n"
            "hour,regions.us-west.carbon_g_per_kwh,regions.us-east.power_cap_mw\n" + rows + "\n")
    inst = load(tiny(time={"step_hours": 1, "representative_days": 1},
                     **{"regions.us-west.carbon_g_per_kwh": [1] * 24}), tmp_path, text)
    t = inst.timeline
    assert len(t) == 24 and t.weights.tolist() == [30.0] * 24
    assert t.values["regions.us-west.carbon_g_per_kwh"].tolist() == [100 + h for h in range(24)]
    assert inst.regions["us-west"].mean_carbon_g_per_kwh == pytest.approx(111.5)
    assert inst.regions["us-east"].power_cap_mw == pytest.approx(2.5)
    assert inst.model_dump()["regions"]["us-east"]["power_cap_mw"] == 3  # the file's value, for re-loading


def test_a_datetime_column_in_utc(tmp_path):
    rows = "\n".join(f"2024-06-01T{h:02d}:00:00Z,{100 + h}" for h in range(24))
    inst = load(tiny(time={"step_hours": 1}), tmp_path, "datetime,regions.us-west.carbon_g_per_kwh\n" + rows)
    assert inst.timeline.values["regions.us-west.carbon_g_per_kwh"][:3].tolist() == [100, 101, 102]


def test_the_csv_is_part_of_the_digest(tmp_path):
    header = "hour,regions.us-west.carbon_g_per_kwh\n"
    a = load(tiny(time={}), tmp_path, header + "\n".join(f"{h},100" for h in range(24))).digest
    b = load(tiny(time={}), tmp_path, header + "\n".join(f"{h},101" for h in range(24))).digest
    assert a != b


def test_the_whatif_loader_rebuilds_the_timeline(tmp_path):
    from fleetopt.whatif.scenario import base_from_instance, read_base
    curve = day_curve(50, 400)
    inst = load(tiny(time={"representative_days": 2}, **{"regions.us-west.carbon_g_per_kwh": curve}), tmp_path)
    base = read_base(tmp_path / "fleet.yaml")
    again = load_document(copy.deepcopy(base.document), base.file, base.lines)
    assert np.array_equal(again.timeline.weights, inst.timeline.weights)
    dumped = base_from_instance(inst)
    from_dump = load_document(dumped.document, dumped.file)
    assert np.array_equal(from_dump.timeline.values["regions.us-west.carbon_g_per_kwh"],
                          inst.timeline.values["regions.us-west.carbon_g_per_kwh"])


# ------------------------------------------------------------------ bad profiles: one line each


@pytest.mark.parametrize("text, key, phrase", [
    ("hour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"{h},100" for h in range(23)),
     "hour", "the file ends after 23 rows"),
    ("hour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"{h},{'nan' if h == 5 else 100}" for h in range(24)),
     "regions.us-west.carbon_g_per_kwh", "finite number"),
    ("hour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"{h},{-4 if h == 7 else 100}" for h in range(24)),
     "regions.us-west.carbon_g_per_kwh", "expected a number >= 0, got -4 (column 2; "),
    ("hour,regions.us-wset.carbon_g_per_kwh\n" + "\n".join(f"{h},100" for h in range(24)),
     "regions.us-wset.carbon_g_per_kwh", "did you mean 'regions.us-west.carbon_g_per_kwh'"),
    ("hour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"{h if h != 3 else 4},100" for h in range(24)),
     "hour", "expected hour 3"),
    ("hour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"{h},100" + (",7" if h == 2 else "")
                                                           for h in range(24)),
     "hour", "expected 2 values"),
    ("hour,regions.us-east.power_cap_mw\n" + "\n".join(f"{h},{0 if h == 1 else 3}" for h in range(24)),
     "regions.us-east.power_cap_mw", "expected a number > 0"),
    ("hours,regions.us-west.carbon_g_per_kwh\n0,1\n", "hours", "first column must be 'hour'"),
    ("datetime,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"2024-06-01T{h:02d}:00:00+02:00,100"
                                                               for h in range(24)),
     "datetime", "expected a UTC time"),
])
def test_a_bad_csv_is_one_line_naming_file_line_and_column(tmp_path, text, key, phrase):
    line = one_error(tiny(time={}), tmp_path, text)
    assert "profiles.csv:" in line and f": {key}: " in line and phrase in line, line


def test_the_bad_csv_line_is_the_row_with_the_mistake(tmp_path):
    text = "# source\nhour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(
        f"{h},{-4 if h == 7 else 100}" for h in range(24))
    assert one_error(tiny(time={}), tmp_path, text).startswith(f"{tmp_path / 'profiles.csv'}:10: ")


def test_a_profile_of_the_wrong_length_names_the_lengths_it_takes(tmp_path):
    line = one_error(tiny(time={"step_hours": 2}, **{"regions.us-west.carbon_g_per_kwh": [100] * 24}), tmp_path)
    assert "regions.us-west.carbon_g_per_kwh: a profile of 24 values; expected 12 (a day in steps of 2 h) or 360" \
        in line


def test_a_missing_profiles_file_names_the_key(tmp_path):
    line = one_error(tiny(time={}, profiles="nowhere.csv"), tmp_path)
    assert ": profiles: no file 'nowhere.csv'" in line


def test_version_2_keys_in_a_version_1_file_ask_for_version_2(tmp_path):
    doc = tiny(time={})
    doc["fleetopt"] = 1
    assert "'time' is format version 2; write 'fleetopt: 2'" in one_error(doc, tmp_path)
    doc = tiny(**{"serving.chat-small.demand_rps.us-users": [200] * 24})
    doc["fleetopt"] = 1
    assert "serving.chat-small.demand_rps.us-users: a profile (a list) is format version 2" in one_error(doc, tmp_path)


def test_a_step_that_does_not_divide_a_day_is_refused(tmp_path):
    assert "time.step_hours: expected a step that divides 24 hours" in one_error(tiny(time={"step_hours": 5}),
                                                                                 tmp_path)


# ------------------------------------------------------------------ the shipped hourly instance

needs_windows = pytest.mark.skipif("pausable" not in TrainingJob.model_fields,
                                   reason="the training window keys come with the formulation over time")


@needs_windows
def test_the_hourly_instance_loads_with_a_representative_day():
    inst = load_instance(HOURLY)
    t = inst.timeline
    assert len(t) == 24 and t.weights.sum() == pytest.approx(inst.horizon_hours) and np.all(t.weights == 30)
    profiled = {p.split(".")[1] for p in t.series if p.endswith("carbon_g_per_kwh")}
    assert profiled == {"us-east", "us-central", "us-west", "asia-northeast", "asia-southeast"}
    for region in profiled:  # the static value is the month's mean
        path = f"regions.{region}.carbon_g_per_kwh"
        assert inst.regions[region].mean_carbon_g_per_kwh == pytest.approx(t.series[path].mean())
    assert inst.regions["eu-north"].mean_carbon_g_per_kwh == 39.32  # no column: the annual average stays
    # Tokyo's solar noon (03:00 UTC) is cleaner than its evening
    tokyo = t.values["regions.asia-northeast.carbon_g_per_kwh"]
    assert tokyo[:6].min() < 0.8 * tokyo[10:20].min()
    assert inst.serving["chat"].demand_rps["us-users"] == pytest.approx(120)


def test_the_hourly_csv_cites_its_sources_and_covers_june_2022():
    text = HOURLY.with_suffix(".csv").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("EIA" in line for line in header) and any("Electricity Maps" in line for line in header)
    assert any("github.com/HewlettPackard/dc-rl" in line for line in header)
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rows[0].startswith("datetime,") and len(rows) == 721
    assert rows[1].startswith("2022-06-01T00:00Z") and rows[-1].startswith("2022-06-30T23:00Z")


def test_init_copies_the_profiles_beside_the_copy(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fleetopt.cli import app
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["init", "mine.yaml", "--instance", "global-fleet-hourly"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "global-fleet-hourly.csv").read_bytes() == HOURLY.with_suffix(".csv").read_bytes()
    assert "its profiles" in res.output


def test_implausible_csv_values_are_warned_and_absurd_ones_refused(tmp_path):
    from fleetopt.io.plausibility import warnings_of
    header = "hour,regions.us-west.carbon_g_per_kwh\n"
    inst = load(tiny(time={}), tmp_path, header + "\n".join(f"{h},{2000 if h == 3 else 100}" for h in range(24)))
    (warning,) = warnings_of(inst)
    assert warning.key == "regions.us-west.carbon_g_per_kwh" and "2,000 g/kWh is outside the plausible range" \
        in warning.message and warning.file.endswith("profiles.csv")
    line = one_error(tiny(time={}), tmp_path, header + "\n".join(f"{h},{5e10 if h == 3 else 100}" for h in range(24)))
    assert "far beyond the plausible range 0 to 1,200 g/kWh" in line


def test_finer_rows_are_averaged_over_each_step(tmp_path):
    half_hours = "\n".join(f"{h / 2:g},{100 + h}" for h in range(48))  # a day in half hours
    inst = load(tiny(time={"step_hours": 1}), tmp_path, "hour,regions.us-west.carbon_g_per_kwh\n" + half_hours)
    assert inst.timeline.values["regions.us-west.carbon_g_per_kwh"][:3].tolist() == [100.5, 102.5, 104.5]
    hourly = "\n".join(f"2022-06-01T{h:02d}:00Z,{100 + h}" for h in range(24))
    inst = load(tiny(time={"step_hours": 4, "representative_days": 1}), tmp_path,
                "datetime,regions.us-west.carbon_g_per_kwh\n" + hourly)
    assert len(inst.timeline) == 6 and inst.timeline.weights.tolist() == [120.0] * 6
    assert inst.timeline.values["regions.us-west.carbon_g_per_kwh"].tolist() == [101.5, 105.5, 109.5, 113.5,
                                                                                  117.5, 121.5]


def test_rows_coarser_than_the_step_are_refused(tmp_path):
    text = "hour,regions.us-west.carbon_g_per_kwh\n" + "\n".join(f"{2 * h},100" for h in range(12))
    assert "rows 2 h apart; expected step_hours (1 h) or a whole fraction of it" in one_error(
        tiny(time={}), tmp_path, text)


def test_the_reduction_line_says_both_totals():
    from fleetopt.io.slices import reduction_line
    carbon = np.concatenate([np.full(24, 100.0), np.full(24, 120.0)])
    t = build_timeline(48, 1, {"regions.a.carbon_g_per_kwh": carbon}, 1)
    line = reduction_line(t, {"a": np.full(len(t), 2.0)})
    assert line.startswith("Operational carbon on the 24 slices: ") and "over all 48 steps" in line
    assert reduction_line(build_timeline(48, 1, {"serving.s.demand_rps.u": carbon}, 1), {}) is None


def test_a_horizon_that_is_not_whole_steps_is_refused(tmp_path):
    line = one_error(tiny(time={"step_hours": 8}, horizon_hours=700), tmp_path)
    assert "time.step_hours: the horizon (700 h) must be a whole number of steps of 8 h" in line


def test_profiles_without_time_give_their_horizon_means_to_a_static_plan(tmp_path):
    header = "hour,regions.us-west.carbon_g_per_kwh,regions.eu-north.power_cap_mw\n"
    inst = load(tiny(), tmp_path, header + "\n".join(f"{h},{50 if h < 6 else 100},{1 + h % 2}" for h in range(24)))
    assert inst.timeline.is_static
    assert inst.regions["us-west"].mean_carbon_g_per_kwh == pytest.approx(87.5)
    assert inst.regions["eu-north"].power_cap_mw == pytest.approx(1.5)
