"""`fleetopt estimate`: the single-job estimator and search, through the CLI (in-process) and the API.

Reference: Narayanan et al. 2021, Table 1 (data/calibration/megatron_table1.csv, copied with its source): every row
is a configuration that ran on 80 GB A100s, at a measured hardware TFLOP/s per GPU (recompute counted).
"""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from fleetopt.cli import app
from fleetopt.candidates.estimate import estimate_training, search_grid, search_training, search_training_detail
from fleetopt.errors import ARGUMENT, InputError
from fleetopt.io.load import load_model_card
from helpers import REPO

REPO_ROOT = REPO   # the checkout
TABLE1 = REPO_ROOT / "data" / "calibration" / "megatron_table1.csv"
A100 = "a100-sxm4-80gb"
runner = CliRunner()


def _table1_rows() -> list[dict]:
    assert TABLE1.is_file(), f"reference table missing: {TABLE1}"
    with open(TABLE1) as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    return [{k: float(v) for k, v in row.items()} for row in rows]


def _card_name(params_b: float) -> str:
    return "megatron-1t" if params_b >= 1000 else f"megatron-{params_b:g}b"


def _megatron_interleave(layers: int, pp: int) -> int:
    """As benchmarks/calibration_megatron.py: fewest chunks (2, else 3) that split a stage evenly."""
    if pp == 1:
        return 1
    per_stage = layers // pp
    return 2 if per_stage % 2 == 0 else 3 if per_stage % 3 == 0 else 1


def _run(*args: str):
    return runner.invoke(app, ["estimate", *args])


def _megatron_args(row: dict) -> list[str]:
    layers, tp, pp = int(row["layers"]), int(row["tp"]), int(row["pp"])
    return ["--model", _card_name(row["params_b"]), "--accelerator", A100, "--gpus", str(int(row["gpus"])),
            "--tp", str(tp), "--pp", str(pp), "--global-batch", str(int(row["global_batch"])),
            "--seq-len", "2048", "--recompute", "full", "--interleave", str(_megatron_interleave(layers, pp))]


ROWS = _table1_rows()


@pytest.mark.parametrize("row", ROWS, ids=[_card_name(r["params_b"]) for r in ROWS])
def test_megatron_table1_rows_through_the_cli(row):
    card = load_model_card(_card_name(row["params_b"]))
    assert (card.layers, card.hidden, card.heads) == (row["layers"], row["hidden"], row["heads"])
    result = _run(*_megatron_args(row), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    measured = row["tflops_per_gpu"]
    assert out["hardware_tflops_per_gpu"] == pytest.approx(measured, rel=0.10)
    # The run happened on 80 GB parts, so the layout fits.
    assert out["fits"] is True and out["memory_gb_per_gpu"] <= 80
    # MFU basis excludes the recompute pass: with full recompute it is ~3/4 of the hardware rate (4 passes vs 3).
    assert out["model_tflops_per_gpu"] / out["hardware_tflops_per_gpu"] == pytest.approx(0.75, abs=0.02)
    assert out["mfu"] == pytest.approx(out["model_tflops_per_gpu"] / 312.0, rel=1e-9)
    assert (out["tp"], out["pp"], out["dp"]) == (row["tp"], row["pp"], row["gpus"] / (row["tp"] * row["pp"]))
    assert set(out["breakdown"]) >= {"compute_s", "comm_s", "sync_s", "overlap_s", "bubble_s"}
    assert out["binding_term"] in ("compute", "communication", "coordination")
    assert out["recompute"] == "full" and out["gpus"] == row["gpus"] and out["micro_batch"] == 1


def test_layout_that_cannot_fit_says_what_it_needs():
    args = ["--model", "gpt3-175b", "--accelerator", A100, "--gpus", "8", "--tp", "8", "--pp", "1"]
    as_json = _run(*args, "--json")
    assert as_json.exit_code == 0, as_json.output
    out = json.loads(as_json.output)
    assert out["fits"] is False
    # 175e9 parameters x 16 bytes (mixed-precision Adam, Rajbhandari et al. 2020) over 8 GPUs: >= 350 GB each.
    assert out["memory_gb_per_gpu"] >= 175e9 * 16 / 8 / 1e9
    text = _run(*args)
    assert text.exit_code == 0
    first = text.output.splitlines()[0]
    assert first.startswith("does not fit: needs ") and "GB per GPU, the accelerator has 80 GB" in first
    assert f"{out['memory_gb_per_gpu']:.1f}" in first


def test_search_returns_fitting_exact_layouts_and_beats_megatrons_choice():
    row = next(r for r in ROWS if r["params_b"] == 39.1)  # 512 GPUs, tp 8 x pp 2 in the paper
    gpus = int(row["gpus"])
    result = _run("--model", "megatron-39.1b", "--accelerator", A100, "--gpus", str(gpus), "--search",
                  "--global-batch", str(int(row["global_batch"])), "--top", "1000", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert len(found) > 1
    assert all(c["fits"] and c["memory_gb_per_gpu"] <= 80 for c in found)
    assert all(c["tp"] * c["pp"] * c["dp"] == gpus for c in found)
    times = [c["step_time_s"] for c in found]
    assert times == sorted(times)
    chosen = json.loads(_run(*_megatron_args(row), "--json").output)
    assert times[0] <= chosen["step_time_s"]
    # Megatron's own layout is among the candidates the search ranked.
    assert any((c["tp"], c["pp"], c["micro_batch"], c["recompute"], c["interleave"]) == (8, 2, 1, "full", 2)
               for c in found)


def test_search_of_the_530b_model_on_5120_gpus_finds_layouts():
    found = search_training("megatron-529.6b", A100, 5120, global_batch=2560, seq_len=2048, top=5)
    assert found, "Calculon's 530B / 5120 A100 case has feasible layouts"
    # Stages may be uneven (the first and last one layer lighter), so pp need not divide the 105 layers.
    assert all(c["fits"] and c["tp"] * c["pp"] * c["dp"] == 5120 and c["pp"] <= 105 for c in found)
    # Per-GPU rate in the range Megatron measured for this model (163 TFLOP/s at 2520 GPUs), not above it.
    assert 0.5 * 163 < found[0]["hardware_tflops_per_gpu"] < 1.1 * 163


def test_search_fixes_the_options_it_is_given():
    found = search_training("megatron-1.7b", A100, 32, global_batch=512, recompute="selective", micro_batch=2,
                            top=100)
    assert found and {c["recompute"] for c in found} == {"selective"} and {c["micro_batch"] for c in found} == {2}


def test_search_grid_expresses_megatrons_exact_gpu_counts():
    card = load_model_card("megatron-529.6b")
    grid = search_grid(card, 2520, 2520, 8)
    assert np.all(grid["tp"] * grid["pp"] * grid["dp"] == 2520)
    assert np.any((grid["tp"] == 8) & (grid["pp"] == 35) & (grid["dp"] == 9) & (grid["interleave"] == 3))


def test_search_with_nothing_that_fits_says_so():
    result = _run("--model", "llama3-405b", "--accelerator", "l4", "--gpus", "16", "--search")
    assert result.exit_code == 0
    assert result.output.startswith("no layout of 16 GPUs fits: the least any needs is ")
    as_json = _run("--model", "llama3-405b", "--accelerator", "l4", "--gpus", "16", "--search", "--json")
    assert json.loads(as_json.output) == []


def test_text_output_is_a_panel_with_the_breakdown():
    row = ROWS[-2]
    result = _run(*_megatron_args(row))
    assert result.exit_code == 0, result.output
    for word in ("step time", "hardware TFLOP/s per GPU", "MFU", "bubble", "binding term"):
        assert word in result.output


def test_model_card_from_a_file(tmp_path):
    card = tmp_path / "tiny.yaml"
    card.write_text("kind: transformer\nlayers: 4\nhidden: 512\nffn_hidden: 2048\nheads: 8\nvocab: 32000\n")
    result = _run("--model", str(card), "--accelerator", "h100-sxm5-80gb", "--gpus", "8", "--tp", "2",
                  "--pp", "2", "--global-batch", "64", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["dp"] == 2


def test_default_global_batch_is_one_sequence_per_gpu():
    out = estimate_training("megatron-529.6b", A100, 2520, 8, 35, interleave=3)
    assert out["global_batch"] == 2520 and out["num_microbatches"] == 280


@pytest.mark.parametrize("args, option", [
    (["--model", "lama3-70b", "--gpus", "8", "--tp", "8", "--pp", "1"], "--model"),
    (["--model", "llama3-70b", "--accelerator", "a100", "--gpus", "8", "--tp", "8", "--pp", "1"], "--accelerator"),
    (["--model", "llama3-70b", "--gpus", "12", "--tp", "8", "--pp", "1"], "--gpus"),
    (["--model", "llama3-70b", "--gpus", "4", "--tp", "8", "--pp", "1"], "--tp"),
    (["--model", "llama3-70b", "--gpus", "8", "--tp", "8", "--search"], "--tp"),
    (["--model", "llama3-70b", "--gpus", "8", "--pp", "2", "--search"], "--pp"),
    (["--model", "llama3-70b", "--gpus", "8"], "--tp"),
    (["--model", "llama3-70b", "--gpus", "16", "--tp", "8", "--pp", "2", "--recompute", "some"], "--recompute"),
    (["--model", "llama3-70b", "--gpus", "1024", "--tp", "8", "--pp", "128"], "--pp"),
    (["--model", "llama3-70b", "--gpus", "1024", "--tp", "8", "--pp", "4", "--cp", "3"], "--cp"),
    (["--model", "llama3-70b", "--gpus", "16", "--tp", "8", "--pp", "1", "--global-batch", "3"],
     "--global-batch"),
    (["--model", "llama3-70b", "--gpus", "16", "--tp", "8", "--pp", "1", "--interleave", "2"], "--interleave"),
    (["--model", "llama3-70b", "--gpus", "32", "--tp", "8", "--pp", "1", "--sync-group", "3"], "--sync-group"),
    (["--model", "llama3-70b", "--gpus", "0", "--tp", "1", "--pp", "1"], "--gpus"),
    (["--model", "dlrm-multi-tb", "--gpus", "8", "--tp", "8", "--pp", "1"], "--model"),
    (["--model", "llama3-70b", "--gpus", "99999999999999999999", "--tp", "8", "--pp", "4"], "--gpus"),
    (["--model", "llama3-70b", "--gpus", "99999999999999999999", "--search"], "--gpus"),
    (["--model", "llama3-70b", "--gpus", "64", "--search", "--top", "0"], "--top"),
    (["--model", "llama3-70b", "--gpus", "64", "--search", "--seq-len", "-1"], "--seq-len"),
    (["--model", "llama3-70b", "--gpus", "64", "--search", "--nic-gb-s", "inf"], "--nic-gb-s"),
    (["--model", "llama3-70b", "--gpus", "64", "--search", "--pod-gpus", "0"], "--pod-gpus"),
    (["--model", "llama3-70b", "--gpus", "64", "--search", "--oversubscription", "0.5"], "--oversubscription"),
    (["--model", "llama3-70b", "--gpus", "64", "--search", "--micro-batch", "-2"], "--micro-batch"),
])
def test_bad_input_exits_2_with_one_line(args, option):
    if "--accelerator" not in args:
        args = [*args, "--accelerator", A100]
    result = _run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}:"), result.output
    assert "Traceback" not in result.output


def test_unknown_model_suggests_the_closest_name():
    result = _run("--model", "lama3-70b", "--accelerator", A100, "--gpus", "8", "--tp", "8", "--pp", "1")
    assert "did you mean 'llama3-70b'" in result.output


def test_api_raises_input_error_naming_the_argument_not_the_option():
    for call in (lambda: estimate_training("llama3-70b", A100, 12, 8, 1),
                 lambda: estimate_training("llama3-70b", A100, 10**20, 8, 4),
                 lambda: search_training("llama3-70b", A100, 64, top=0)):
        with pytest.raises(InputError) as err:
            call()
        problem = err.value.problems[0]
        assert problem.file == ARGUMENT and problem.key in ("gpus", "top"), problem
        assert "--" not in problem.message, problem


def test_search_prints_as_many_rows_as_it_says_fit():
    """`--top 20` with fewer layouts fitting prints them all and says so; a smaller --top says how many of
    how many it shows (the count is of distinct layouts, as ranked)."""
    # Selective recompute, micro-batch 1, no interleaving: a search with fewer than 20 layouts that fit.
    args = ["--model", "megatron-529.6b", "--accelerator", A100, "--gpus", "5120", "--search", "--global-batch",
            "2560", "--recompute", "selective", "--micro-batch", "1", "--interleave", "1"]
    found = search_training_detail("megatron-529.6b", A100, 5120, global_batch=2560, top=20,
                                   recompute="selective", micro_batch=1, interleave=1)
    fit = found["fitting"]
    assert 2 < fit < 20 and len(found["best"]) == fit
    for top, shown in ((20, fit), (2, 2)):
        result = _run(*args, "--top", str(top))
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        title = f"all {fit} of {fit} layouts" if shown == fit else f"the {shown} fastest of {fit} layouts"
        assert lines[0].startswith(title), lines[0]
        rows = [line for line in lines[2:] if line.split() and line.split()[0].isdigit()]
        assert len(rows) == shown


def test_estimate_is_listed_in_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "estimate" in result.output
    assert "one per GPU" in runner.invoke(app, ["estimate", "--help"]).output
