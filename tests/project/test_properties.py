"""Property-based tests (hypothesis), bounded so the file runs in well under a minute.

1. Random valid small instances: solve with each backend, every plan passes fleetopt.verify, and the three backends
   agree on the status and (within their gaps) on the objective.
2. Random mutations of valid instances that make them wrong (wrong types, missing keys, negative and zero values,
   NaN and infinity, unknown references, shares that do not sum to 1, duplicate names, empty sections): `validate`
   exits 2 with one `error: FILE[:LINE]: KEY: message` line per problem, never a traceback, never a hang.
3. Any chain of mutations, huge numbers included: `validate` exits 0 or 2; what it accepts, `solve` plans or
   rejects without a traceback, and a plan it makes passes verify.
"""

from __future__ import annotations

import copy
import json
import math
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fleetopt.api import solve_instance
from fleetopt.cli import app
from fleetopt.io.load import load_document, load_instance
from fleetopt.io.plausibility import RANGES
from fleetopt.verify import verify_plan
from helpers import MINIMAL_VALID, error_keys
from helpers import solve_and_verify
from helpers import FIXTURE

BOUNDED = settings(deadline=None, max_examples=10, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HANG_SECONDS = 30
ACCELERATORS = ("h100-sxm5-80gb", "a100-sxm4-80gb", "l4")


@contextmanager
def no_hang(seconds: int = HANG_SECONDS):
    """Fail (instead of hanging the suite) when the body runs longer than `seconds`."""
    def expired(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- 1. valid instances: solve, verify, agree


@st.composite
def small_instances(draw) -> dict:
    n_regions = draw(st.integers(1, 3))
    regions = {}
    for r in range(n_regions):
        stocked = draw(st.lists(st.sampled_from(ACCELERATORS), min_size=1, max_size=2, unique=True))
        region = {
            "jurisdiction": draw(st.sampled_from(["US", "EU"])),
            "pue": draw(st.floats(1.0, 1.5)),
            "carbon_g_per_kwh": draw(st.floats(20, 800)),
            "storage_gb_s": draw(st.sampled_from([20.0, 200.0, 2000.0])),
            "gpus": {a: {"count": draw(st.sampled_from([0, 16, 64, 256, 256])), "usd_per_hour": draw(st.floats(0.5, 6)),
                         "includes_energy": draw(st.booleans())} for a in stocked},
            "energy_usd_per_kwh": draw(st.floats(0, 0.3)),
        }
        if draw(st.booleans()):
            region["power_cap_mw"] = draw(st.floats(0.05, 5))
        regions[f"r{r}"] = region
    names = list(regions)
    links = [{"a": "r0", "b": b, "rtt_ms": draw(st.floats(5, 100)), "gb_s": draw(st.floats(0.01, 100))}
             for b in names[1:] if draw(st.booleans())]
    jurisdictions = sorted({r["jurisdiction"] for r in regions.values()})
    populations = {}
    for u in range(draw(st.integers(1, 2))):
        reach = draw(st.lists(st.sampled_from(names), min_size=1, max_size=n_regions, unique=True))
        pop = {"rtt_ms": {r: draw(st.floats(5, 200)) for r in reach}}
        if draw(st.booleans()):
            pop["allowed_jurisdictions"] = [draw(st.sampled_from(jurisdictions))]
        if draw(st.booleans()):
            share = draw(st.floats(0.05, 0.95))
            pop["groups"] = {"a": share, "b": 1.0 - share}
        populations[f"u{u}"] = pop
    doc = {"fleetopt": 1, "name": "random", "horizon_hours": draw(st.sampled_from([168.0, 720.0])),
           "objective": draw(st.sampled_from(["cost", "carbon"])), "regions": regions, "links": links,
           "populations": populations, "training": {}, "serving": {}}
    if draw(st.booleans()):
        job = {"model": draw(st.sampled_from(["megatron-1.7b", "llama3-8b"])),
               "tokens": draw(st.floats(1e9, 2e10)), "seq_len": 2048, "global_batch_tokens": 1.0e6,
               "deadline_hours": draw(st.floats(100, 2000))}
        if draw(st.booleans()):
            job["dataset_region"], job["dataset_tb"] = "r0", draw(st.floats(0, 20))
        doc["training"]["job"] = job
    for s in range(draw(st.integers(0 if doc["training"] else 1, 2))):
        svc = {"model": draw(st.sampled_from(["llama3-8b", "megatron-1.7b", "mobilenet-v2"])),
               "demand_rps": {u: draw(st.floats(0.5, 60)) for u in populations},  # all-zero: see report
               "slo_p99_ms": draw(st.floats(500, 10000)), "headroom": draw(st.floats(0, 0.5)),
               "allow_fp8": draw(st.booleans())}
        if draw(st.booleans()):
            svc["monitoring"] = {"min_detectable_gap": draw(st.floats(0.02, 0.2)), "pipeline_usd_per_hour": 1.0}
        doc["serving"][f"s{s}"] = svc
    if draw(st.booleans()):
        doc["policy"] = {"carbon_budget_t": draw(st.floats(1, 1000))}
    return doc


@settings(BOUNDED, max_examples=30)
@given(small_instances())
def test_random_instances_solve_verify_and_the_backends_agree(doc):
    inst = load_document(doc, Path("random.yaml"))
    with no_hang(60):
        plans = {b: solve_instance(inst, backend=b, mip_rel_gap=1e-6, time_limit_s=20) for b in
                 ("highs", "pyomo", "ortools")}
    for name, plan in plans.items():
        if plan.has_plan:
            report = verify_plan(inst, plan)
            assert report.holds, (name, report.lines())
    statuses = {name: plan.status for name, plan in plans.items()}
    event(f"status {plans['highs'].status}")
    assert len(set(statuses.values())) == 1, statuses
    ref = plans["highs"]
    if ref.objective is not None:
        for name, plan in plans.items():
            tolerance = (ref.gap + plan.gap + 1e-6) * abs(ref.objective) + 1e-6
            assert math.isclose(plan.objective, ref.objective, abs_tol=tolerance), (name, plan.objective)


# ---------------------------------------------------------------- 2. wrong instances: exit 2, one line each

BASES = {"minimal": yaml.safe_load(MINIMAL_VALID), "fixture": yaml.safe_load(FIXTURE)}
REQUIRED = {"fleetopt", "name", "regions", "jurisdiction", "carbon_g_per_kwh", "count", "model", "demand_rps",
            "slo_p99_ms", "tokens", "global_batch_tokens", "deadline_hours", "gb_s", "min_detectable_gap"}
POSITIVE = {"power_cap_mw", "slo_p99_ms", "tokens", "global_batch_tokens", "deadline_hours", "horizon_hours",
            "storage_gb_s", "gb_s", "seq_len", "min_detectable_gap", "window_hours"}
NON_NEGATIVE = {"count", "usd_per_hour", "dataset_tb", "headroom", "carbon_budget_t", "pipeline_usd_per_hour"}


def leaves(node, path=()):
    """(path, value) of every scalar and container in a document, depth first."""
    yield path, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        yield from leaves(child, path + (key,))


def numbers(doc) -> list[tuple]:
    return [p for p, v in leaves(doc) if p and isinstance(v, int | float) and not isinstance(v, bool)]


def get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


def put(doc, path, value):
    get(doc, path[:-1])[path[-1]] = value


def field_of(path) -> str:
    """The schema field a path ends in: the last string key that is not a user's name."""
    if len(path) >= 2 and path[-2] in ("rtt_ms", "demand_rps", "groups"):
        return path[-2]
    return str(path[-1])


@st.composite
def wrong_documents(draw) -> tuple[str, dict, tuple | None]:
    """(kind of mistake, a document holding it, the path of a key to duplicate or None)."""
    doc = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    kind = draw(st.sampled_from(["wrong_type", "missing_key", "negative", "zero", "nan_inf", "unknown_reference",
                                 "shares", "duplicate", "empty_section"]))
    duplicate = None
    if kind == "wrong_type":
        path = draw(st.sampled_from(numbers(doc)))
        lists_ok = "carbon_g_per_kwh" in path  # an hourly profile is a list of numbers
        put(doc, path, draw(st.sampled_from(["lots", {"value": 1}, "12 MW"] + ([] if lists_ok else [[1, 2]]))))
    elif kind == "missing_key":
        paths = [p for p, _ in leaves(doc) if p and p[-1] in REQUIRED and not (p[0] == "accelerators")]
        path = draw(st.sampled_from(paths))
        del get(doc, path[:-1])[path[-1]]
    elif kind in ("negative", "zero"):
        fields = POSITIVE if kind == "zero" else POSITIVE | NON_NEGATIVE | {"rtt_ms", "demand_rps"}
        path = draw(st.sampled_from([p for p in numbers(doc) if field_of(p) in fields]))
        put(doc, path, 0 if kind == "zero" else -draw(st.sampled_from([1e-9, 1.0, 5e3, 1e300])))
    elif kind == "nan_inf":
        path = draw(st.sampled_from(numbers(doc)))
        put(doc, path, draw(st.sampled_from([math.nan, math.inf, -math.inf])))
    elif kind == "unknown_reference":
        region = next(iter(doc["regions"]))
        service = next(iter(doc["serving"]))
        edit = draw(st.sampled_from(["model", "rtt_region", "accelerator", "population", "link", "jurisdiction"]))
        if edit == "model":
            doc["serving"][service]["model"] = "llama-99b"
        elif edit == "rtt_region":
            next(iter(doc["populations"].values()))["rtt_ms"]["atlantis"] = 10
        elif edit == "accelerator":
            doc["regions"][region]["gpus"]["quantum-9000"] = {"count": 8, "usd_per_hour": 1.0}
        elif edit == "population":
            doc["serving"][service]["demand_rps"]["martians"] = 5
        elif edit == "link":
            doc["links"] = doc.get("links", []) + [{"a": region, "b": "atlantis", "rtt_ms": 5, "gb_s": 10}]
        else:
            next(iter(doc["populations"].values()))["allowed_jurisdictions"] = ["MARS"]
    elif kind == "shares":
        a = draw(st.floats(0.0, 1.0))
        b = draw(st.floats(0.0, 1.0).filter(lambda b: abs(a + b - 1.0) > 1e-3))
        next(iter(doc["populations"].values()))["groups"] = {"a": a, "b": b}
    elif kind == "duplicate":
        duplicate = draw(st.sampled_from([p for p, v in leaves(doc) if isinstance(v, dict) and v]))
    else:
        choice = draw(st.sampled_from(["regions", "no_work", "region", "service", "name"]))
        if choice == "regions":
            doc["regions"] = {}
        elif choice == "no_work":
            doc["serving"], doc["training"] = {}, {}
        elif choice == "region":
            doc["regions"][next(iter(doc["regions"]))] = {}
        elif choice == "service":
            doc["serving"][next(iter(doc["serving"]))] = {}
        else:
            doc["name"] = ""
    return kind, doc, duplicate


def to_json_with_duplicate(node, duplicate, path=()) -> str:
    """JSON text of `node` in which the mapping at `duplicate` names its first key twice."""
    if isinstance(node, dict):
        items = [f"{json.dumps(str(k))}: {to_json_with_duplicate(v, duplicate, path + (k,))}" for k, v in node.items()]
        if path == duplicate:
            items.append(items[0])
        return "{" + ", ".join(items) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(to_json_with_duplicate(v, duplicate, path + (i,)) for i, v in enumerate(node)) + "]"
    return json.dumps(node)


def write(folder: Path, doc: dict, duplicate, as_json: bool) -> Path:
    if duplicate is not None or as_json:
        path = folder / "mutated.json"
        path.write_text(to_json_with_duplicate(doc, duplicate))
    else:
        path = folder / "mutated.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(*args: str):
    with no_hang():
        result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def check_rejected(path: Path, result) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    keys = error_keys(result.stderr)  # each line is `error: WHERE: KEY: message`
    assert keys and all(path.name in line for line in result.stderr.splitlines())


@settings(BOUNDED, max_examples=120)
@given(wrong_documents(), st.booleans())
def test_a_wrong_instance_is_bad_input_in_one_line_per_problem(case, as_json):
    kind, doc, duplicate = case
    event(kind)
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), doc, duplicate, as_json)
        check_rejected(path, run("validate", str(path)))


# ---------------------------------------------------------------- 3. any mutation: no traceback, ever

HUGE = [1e15, 1e30, 1e300, 10**40]
PLAUSIBLE_FIELDS = {pattern[-1] for pattern, *_ in RANGES}


@st.composite
def mutated_documents(draw) -> tuple[dict, tuple | None]:
    doc = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    duplicate = None
    for _ in range(draw(st.integers(1, 2))):
        paths = numbers(doc)
        move = draw(st.sampled_from(["huge", "huge", "tiny", "scale", "scale", "scale", "wrong", "drop", "duplicate"]))
        if move == "duplicate":
            duplicate = draw(st.sampled_from([p for p, v in leaves(doc) if isinstance(v, dict) and v]))
        elif move == "drop":
            path = draw(st.sampled_from([p for p, _ in leaves(doc) if p and isinstance(p[-1], str)]))
            del get(doc, path[:-1])[path[-1]]
        elif paths:
            path = draw(st.sampled_from(paths))
            value = get(doc, path)
            put(doc, path, {"huge": draw(st.sampled_from(HUGE)), "tiny": draw(st.sampled_from([1e-300, 1e-12, 0])),
                            "scale": value * draw(st.sampled_from([-1, 1e-3, 0.5, 2, 10, 1000])),
                            "wrong": draw(st.sampled_from([None, True, "x", math.nan]))}[move])
    return doc, duplicate


def nothing_to_plan(doc: dict) -> bool:
    """No training job and no positive demand: an empty MILP, which two backends report as an error (see
    test_an_instance_with_nothing_to_plan_is_not_an_error)."""
    training, serving = doc.get("training"), doc.get("serving")
    demands = [v for s in (serving.values() if isinstance(serving, dict) else []) if isinstance(s, dict)
               for v in (s.get("demand_rps") or {}).values()]
    return not training and not any(isinstance(v, int | float) and v > 0 for v in demands)


@settings(BOUNDED, max_examples=80)
@given(mutated_documents(), st.booleans())
def test_any_mutation_is_refused_cleanly_or_planned_and_verified(case, as_json):
    doc, duplicate = case
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), doc, duplicate, as_json)
        checked = run("validate", str(path))
        event(f"validate exit {checked.exit_code}")
        if checked.exit_code != 0:
            check_rejected(path, checked)
            return
        assert all(line.startswith("warning: ") for line in checked.stderr.splitlines())
        if nothing_to_plan(doc):
            return
        plan = Path(folder) / "plan.json"
        solved = run("solve", "-q", "--time-limit", "10", str(path), "-o", str(plan))
        event(f"solve exit {solved.exit_code}")
        assert solved.exit_code in (0, 2, 3, 4), solved.output
        if solved.exit_code == 2:
            check_rejected(path, solved)
        elif solved.exit_code == 0:
            verified = run("verify", str(path), str(plan))
            assert verified.exit_code == 0, verified.output


def test_an_instance_with_nothing_to_plan_is_not_an_error():
    doc = yaml.safe_load(MINIMAL_VALID)
    doc["serving"]["chat"]["demand_rps"]["us-users"] = 0
    inst = load_document(doc, Path("nothing.yaml"))
    assert {solve_instance(inst, backend=b).status for b in ("highs", "pyomo", "ortools")} == {"optimal"}


# ---------------------------------------------------------------- 4. any edit of a plan: verify answers, never crashes

PLAN_NUMBERS = [0, -1, 1e-300, 1e300, 10**30, math.nan, math.inf, -math.inf, 3]
PLAN_NAMES = ["home", "eu", "atlantis", "h100-sxm5-80gb", "l4", "edge-device", "us-users", "tp3-fp8-b7", "none",
              "full", ""]


@st.composite
def edited_plans(draw, plan: dict) -> dict:
    plan = copy.deepcopy(plan)
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(st.sampled_from([(p, v) for p, v in leaves(plan) if p and p[0] != "provenance"]))
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            new = draw(st.sampled_from(PLAN_NUMBERS + [value * 2, -value]))
        elif isinstance(value, str):
            new = draw(st.sampled_from(PLAN_NAMES))
        else:
            new = draw(st.sampled_from([[], {}, None]))
        if draw(st.integers(0, 5)) == 0:
            del get(plan, path[:-1])[path[-1]]
        else:
            put(plan, path, new)
    return plan


@pytest.fixture(scope="module")
def fixture_plan(tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("properties") / "fixture.yaml"
    path.write_text(FIXTURE)
    return path, json.loads(solve_and_verify(load_instance(path)).model_dump_json())


@settings(BOUNDED, max_examples=60, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_edit_of_a_plan_is_verified_without_a_crash(fixture_plan, data):
    path, plan = fixture_plan
    edited = data.draw(edited_plans(plan))
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "plan.json"
        file.write_text(json.dumps(edited))
        result = run("verify", str(path), str(file))
    event(f"verify exit {result.exit_code}")
    assert result.exit_code in (0, 2, 3), result.output
    if result.exit_code == 2:
        assert all(line.startswith("error: ") for line in result.stderr.splitlines())
