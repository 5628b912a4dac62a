"""Digests of a built problem: every candidate table column, every variable block and every row family (keys,
bounds, costs, nonzeros, units), so a change meant only for speed can be shown to build the same model.

`python tests/model_fingerprint.py` (with PYTHONPATH at a checkout) prints the digests of the instances in
TIERS as JSON; tests/data/model_fingerprints.json holds those of the code the speed work started from (main
fd0c4f4) and tests/formulation/test_model_identity.py compares against it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TIERS = ("gf", "hourly", "scarce-x1", "x10")


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.asarray(p)
            kind = "f8" if a.dtype.kind == "f" else "i8" if a.dtype.kind in "iu" else None
            a = np.ascontiguousarray(a.astype(kind)) if kind else a
            h.update(f"{a.dtype.kind}{a.shape}".encode())
            h.update(a.tobytes() if kind else repr(a.tolist()).encode())
        else:
            h.update(repr(p).encode())
        h.update(b"|")
    return h.hexdigest()[:16]


def _table(table) -> dict:
    return {k: _digest(v if isinstance(v, np.ndarray) else repr(v)) for k, v in vars(table).items()}


def fingerprint(problem) -> dict:
    """{component: {part: digest}} for the training, serving and monitoring tables and the formulation."""
    form = problem.form
    blocks = {name: _digest(b.keys, b.start, b.lb, b.ub, b.cost, b.integer) for name, b in form.blocks.items()}
    families = {name: _digest(f.keys, f.start, f.rows, f.cols, f.vals, f.lower, f.upper, f.units, f.meaning,
                              f.shared) for name, f in form.families.items()}
    return {"training": _table(problem.training), "serving": _table(problem.serving),
            "monitoring": _table(problem.monitoring), "blocks": blocks, "families": families,
            "order": {"blocks": _digest(list(form.blocks)), "families": _digest(list(form.families)),
                      "shape": _digest(form.n_rows, form.n_cols, form.objective_offset)}}


def load(tier: str):
    """global-fleet ("gf"), its 24-slice version ("hourly"), a scale tier ("x10") or a scarce tier ("scarce-x1"),
    seed 0."""
    if tier == "hourly":
        from fleetopt.io.load import load_instance

        return load_instance(HERE.parent / "instances" / "global-fleet-hourly.yaml")
    sys.path.insert(0, str(HERE.parent / "benchmarks"))
    from bench_solve import load as load_tier

    return load_tier(tier)


def main() -> None:
    from fleetopt.pipeline.problem import build_problem

    tiers = sys.argv[1].split(",") if len(sys.argv) > 1 else TIERS
    print(json.dumps({t: fingerprint(build_problem(load(t))) for t in tiers}, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
