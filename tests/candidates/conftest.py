"""Fixtures the candidate tests share: global-fleet and its serving candidates, loaded once per module."""

import pytest

from fleetopt.candidates.serving import enumerate_serving
from fleetopt.io.load import load_instance
from fleetopt.paths import shipped_dir


@pytest.fixture(scope="module")
def fleet():
    return load_instance(shipped_dir("instances") / "global-fleet.yaml")


@pytest.fixture(scope="module")
def sc(fleet):
    return enumerate_serving(fleet)
