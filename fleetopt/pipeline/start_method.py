"""How to start pool workers without running the user's script again.

A spawned worker imports the main script anew (as `__mp_main__`) before it runs anything; a script that
calls `fleetopt.sweep(...)` outside `if __name__ == "__main__":` would start the sweep again in every worker
(Python's "bootstrapping phase" RuntimeError, then a BrokenProcessPool). Spawning stays the default, since
forking a process whose solver keeps a thread pool (HiGHS builds one per process) can deadlock the child; for
an unguarded script the workers are forked while no solver library is loaded here, and the scenarios are
solved in this process, one at a time, once one is. Solving in parts on a LocalCluster it would start
(pipeline/solve.py) falls back to threads for such a script.
Source: Python docs, multiprocessing "Safe importing of main module" (spawn and forkserver re-import it).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

SPAWN, FORK, IN_PROCESS = "spawn", "fork", "in-process"


@dataclass(frozen=True)
class StartMethod:
    """`spawn`, `fork` or `in-process`, and the one-line note to print when it is not `spawn`."""

    method: str
    note: str = ""


def _is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (either side of the ==)."""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)):
        return False
    sides = [node.test.left, node.test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    texts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and texts == ["__main__"]


def guarded(source: str, line: int) -> bool:
    """True when line `line` of the module `source` runs only under `if __name__ == "__main__":`, i.e. not
    when a worker imports the module again."""
    body = ast.parse(source).body
    while body:
        here = next((s for s in body if s.lineno <= line <= (s.end_lineno or s.lineno)), None)
        if here is None:
            return False
        if _is_main_guard(here) and any(s.lineno <= line <= (s.end_lineno or s.lineno) for s in here.body):
            return True
        body = [child for field in ("body", "orelse", "finalbody", "handlers") for child in getattr(here, field, [])
                if isinstance(child, ast.stmt | ast.excepthandler)]
    return False


def unguarded_main_line() -> tuple[str, int] | None:
    """(script, line) of the main script's top-level statement running now when a worker importing the
    script again would run it too; None when that is safe (guarded, or no script: a REPL, -c, a notebook)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None
    frame, line = sys._getframe(1), None
    while frame is not None:  # the outermost frame of the main module's own top-level code
        if frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return None
    try:
        source = Path(path).read_text(encoding="utf-8")
        return None if guarded(source, line) else (path, line)
    except (OSError, SyntaxError, ValueError):  # a script we cannot read would be re-imported all the same
        return path, line


SOLVER_MODULES = ("highspy", "ortools", "pyomo")  # native thread pools a forked child would inherit broken


def _solver_loaded() -> bool:
    return any(name in sys.modules for name in SOLVER_MODULES)


def choose_start_method() -> StartMethod:
    """`spawn` unless the main script is unguarded (see the module docstring)."""
    where = unguarded_main_line()
    if where is None:
        return StartMethod(SPAWN)
    script = f"{Path(where[0]).name}:{where[1]} calls the sweep outside `if __name__ == \"__main__\":`"
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods() and not _solver_loaded():
        return StartMethod(FORK, f"note: {script}; forking the workers (spawned ones would rerun the script)")
    return StartMethod(IN_PROCESS, f"note: {script} after a solve; solving here one at a time (guard the call "
                                   "to solve in parallel)")
