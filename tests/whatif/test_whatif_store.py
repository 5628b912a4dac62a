"""The results file: rows by scenario id, read back alike from CSV, JSON lines and Parquet, torn last lines cut,
no id written twice, one writer at a time."""

from __future__ import annotations

import pytest

from fleetopt.errors import InputError
from fleetopt.whatif.store import ResultStore, frame_of

COLUMNS = {"scenario_id": "str", "scenario": "str", "policy.carbon_budget_t": "num", "factor": "text",
           "status": "str", "cost_usd": "num", "binding": "str", "warm_start": "bool"}
ROWS = [
    {"scenario_id": "a1", "scenario": "base", "policy.carbon_budget_t": None, "factor": None, "status": "optimal",
     "cost_usd": 151571.83059056348, "binding": "carbon_budget;power_cap", "warm_start": False},
    {"scenario_id": "b2", "scenario": "budget=3, x2", "policy.carbon_budget_t": 3, "factor": "x2",
     "status": "infeasible", "cost_usd": None, "binding": "", "warm_start": True},
    {"scenario_id": "c3", "scenario": 'quote " and, comma', "policy.carbon_budget_t": 2.5, "factor": "x0.5",
     "status": "optimal", "cost_usd": 1e-3, "binding": "demand", "warm_start": True},
]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_rows_read_back_equal(tmp_path, suffix):
    path = tmp_path / f"results{suffix}"
    with ResultStore(path, COLUMNS) as store:
        for row in ROWS:
            assert store.append(row)
        assert not store.append(ROWS[0])  # an id is written once
    with ResultStore(path, COLUMNS) as again:
        back = again.rows
    assert list(back) == ["a1", "b2", "c3"]
    assert [back[r["scenario_id"]] for r in ROWS] == ROWS
    if suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        assert list(frame["scenario_id"]) == ["a1", "b2", "c3"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_torn_last_line_is_cut_and_the_row_written_again_once(tmp_path, suffix):
    path = tmp_path / f"results{suffix}"
    with ResultStore(path, COLUMNS) as store:
        store.append(ROWS[0])
        store.append(ROWS[1])
    journal = store.journal
    whole = journal.read_bytes()
    journal.write_bytes(whole + whole.splitlines(keepends=True)[-1][:17])  # a kill inside the third write
    with ResultStore(path, COLUMNS) as store:
        assert list(store.rows) == ["a1", "b2"]
        store.append(ROWS[2])
    with ResultStore(path, COLUMNS) as store:
        assert list(store.rows) == ["a1", "b2", "c3"]
    assert journal.read_bytes().count(b"c3") == 1


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "results.csv"
    with ResultStore(path, COLUMNS):
        with pytest.raises(InputError, match="another sweep is writing"):
            ResultStore(path, COLUMNS).open()


def test_a_different_sweep_in_the_same_file_is_refused(tmp_path):
    path = tmp_path / "results.csv"
    with ResultStore(path, COLUMNS) as store:
        store.append(ROWS[0])
    other = dict(COLUMNS, **{"regions.us-east.power_cap_mw": "num"})
    with pytest.raises(InputError, match="different sweep"):
        ResultStore(path, other).open()


def test_unknown_format(tmp_path):
    with pytest.raises(InputError, match="unknown results format"):
        ResultStore(tmp_path / "results.xlsx", COLUMNS)


def test_frame_types():
    frame = frame_of(ROWS, COLUMNS)
    assert str(frame["cost_usd"].dtype) == "float64" and str(frame["policy.carbon_budget_t"].dtype) == "float64"
    assert frame["binding"].tolist() == ["carbon_budget;power_cap", "", "demand"]
