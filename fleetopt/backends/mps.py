"""Write the formulation as an MPS file (through HiGHS's writer), rows and columns named in the user's terms."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fleetopt.formulation.model import Formulation
from fleetopt.io.output import OutputError, check_output_path, output_mode


def write_mps(form: Formulation, path: str | Path) -> None:
    """Free-format MPS at `path`, written to a temporary file first so a failure leaves no half file."""
    import highspy

    from fleetopt.backends.highs import quiet_highs, to_lp

    lp = to_lp(form, highspy)
    lp.col_names_ = form.col_names()
    lp.row_names_ = form.row_names()
    h = quiet_highs()
    h.passModel(lp)
    target = check_output_path(path)
    mode = output_mode(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mps", dir=target.parent)
    os.close(fd)
    try:
        status = h.writeModel(tmp)
        if status == highspy.HighsStatus.kError:
            raise OutputError(target, "HiGHS could not write the MPS file")
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
