"""`fleetopt` leaves without the interpreter's last cyclic collections walking every object it made
(fleetopt.cli.main freezes them once all output is written): ~0.1 s of a global-fleet solve's exit."""

from __future__ import annotations

import gc
import sys

import pytest

from fleetopt.cli import main


@pytest.mark.parametrize("argv, code", [(["schema"], 0), (["solve", "--gap", "-1"], 2)])
def test_main_freezes_what_it_made_on_every_way_out(argv, code, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["fleetopt", *argv])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as leaving:
            main()
        assert leaving.value.code == code
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
