"""The walkthroughs in notebooks/ are executed, so they never rot. Each notebook's `parameters` cell is
swapped for small settings (the tiny instance, the sequential executor, results in a temporary folder) so the
whole set runs in seconds; the code cells after it run exactly as a planner would run them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, TINY

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = REPO / "notebooks"


def small_parameters(tmp: Path) -> dict[str, str]:
    return {
        "01-plan-the-global-fleet.ipynb": f'INSTANCE = r"{TINY}"\nGAP = 0.0',
        "02-carbon-sweep-and-pareto.ipynb": (f'INSTANCE = r"{TINY}"\nBUDGETS = "3:9:3"\nPOINTS = 4\nGAP = 0.0\n'
                                             f'EXECUTOR = "sequential"\nRESULTS = r"{tmp / "sweep.csv"}"\n'
                                             f'PARETO_RESULTS = r"{tmp / "pareto.csv"}"'),
        "03-diagnose-infeasible.ipynb": None,  # the shipped infeasible instance is already small
        "04-temporal-shifting.ipynb": f'INSTANCE = r"{TINY.with_name("tiny-fleet-hourly.yaml")}"\nGAP = 0.0\n'
                                      'OBJECTIVE = "carbon"\nTIME_LIMIT = 60',
    }


def test_there_are_at_least_three_walkthroughs():
    assert len(list(NOTEBOOKS.glob("*.ipynb"))) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs(name, tmp_path):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    params = small_parameters(tmp_path).get(name)
    tagged = [c for c in book.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "each notebook has one cell tagged `parameters`"
    if params is not None:
        tagged[0].source = params
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    if name != "03-diagnose-infeasible.ipynb":
        assert images, "the plots render"
