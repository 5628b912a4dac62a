"""The model built for speed is the model built before: every candidate table column, variable block and row
family of global-fleet, its 24-slice version, the scarce x1 tier and the x10 tier digest as the code the
enumeration speed work started from did (tests/data/model_fingerprints.json, made by
`python tests/model_fingerprint.py` at main fd0c4f4).
A change that means to alter the model (a new law, a new row) regenerates that file and says so."""

import json
from pathlib import Path

import pytest
from model_fingerprint import TIERS, fingerprint, load

from fleetopt.pipeline.problem import build_problem

EXPECTED = json.loads((Path(__file__).resolve().parents[1] / "data" / "model_fingerprints.json").read_text())


@pytest.mark.parametrize("tier", TIERS)
def test_built_model_is_unchanged(tier):
    got, want = fingerprint(build_problem(load(tier))), EXPECTED[tier]
    differ = [f"{part}.{key}" for part in want for key in sorted(set(want[part]) | set(got[part]))
              if want[part].get(key) != got[part].get(key)]
    assert not differ, f"{tier}: differs in {', '.join(differ)}"
