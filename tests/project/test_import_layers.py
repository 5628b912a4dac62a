"""The package follows its data flow: no module imports a later layer, and no import cycle exists.

The layers, first to last (README "How it works" draws the same picture). A unit is a subpackage or a top-level
module of fleetopt; a unit may import only units of earlier layers (and itself). Units of one layer (explain and
verify) are siblings and do not import each other. Imports are read from the source with `ast`, module-level and
function-level alike, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path
from helpers import REPO

PACKAGE = REPO / "fleetopt"

LAYERS: list[tuple[str, ...]] = [
    ("errors", "paths", "facts"),  # the shared vocabulary: input errors, statuses, exit codes; file paths; family facts
    ("io",),                  # instance files -> a validated Instance
    ("physics",),             # the laws, pure numpy
    ("candidates",),          # every option of every job and service as arrays; the single-job estimator
    ("formulation",),         # the solver-neutral MILP
    ("backends",),            # HiGHS, Pyomo, OR-Tools, MPS export; declared capabilities
    ("plan",),                # Plan and Explanation data models, extraction, the terminal summary
    ("pipeline",),            # build_problem, solving (in parts), solve_problem
    ("explain", "verify"),    # why the plan is what it is; the plan re-checked from the physics
    ("whatif",),              # sweeps and Pareto fronts over the pipeline
    ("api",),                 # the Python entry point: build_problem, solve_problem, solve_instance
    ("__init__", "cli"),      # fleetopt.load_instance/solve/estimate_training/sweep; the command line
    ("__main__",),            # python -m fleetopt
]
RANK = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """fleetopt.plan.extract -> plan; fleetopt (the package's __init__) -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: fleetopt modules it imports}, every import statement anywhere in the module's source."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:   # relative: from the module's own package, up level - 1
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[:len(package) - (node.level - 1)]
                    base = ".".join(package + ([base] if base else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            else:
                continue
            for name in names:
                while name and name not in known and "." in name:   # fleetopt.plan.Plan -> fleetopt.plan
                    name = name.rsplit(".", 1)[0]
                if name in known and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def back_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a unit in the same or a later layer, one line each; units missing from LAYERS too."""
    out = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = unit_of(module), unit_of(target)
            if a == b:
                continue
            if a not in RANK or b not in RANK:
                out.append(f"{module} -> {target}: unit '{a if a not in RANK else b}' has no layer in LAYERS")
            elif RANK[b] >= RANK[a]:
                out.append(f"{module} -> {target}: {a} may not import {b} (a later layer or a sibling)")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        out.setdefault(unit_of(module), set()).update(unit_of(t) for t in targets if unit_of(t) != unit_of(module))
    return out


def test_the_walk_reads_lazy_and_relative_imports():
    graph = import_graph()
    assert "fleetopt.api" in graph["fleetopt.cli.solve"]            # imported inside solve(), not at the top
    assert "fleetopt.formulation.model" in graph["fleetopt.backends.highs"]
    assert "fleetopt.plan.model" in graph["fleetopt.plan"]           # a package's __init__ is a module too


def test_every_unit_has_a_layer():
    units = {unit_of(m) for m in import_graph()}
    assert sorted(units - set(RANK)) == []
    assert sorted(set(RANK) - units) == []   # no stale name in LAYERS


def test_no_import_runs_back_up_the_data_flow():
    assert back_arrows(import_graph()) == []


def test_no_import_cycle_between_units_or_modules():
    graph = import_graph()
    assert cycles(unit_graph(graph)) == []
    assert cycles(graph) == []


def test_the_checks_catch_a_back_arrow_and_a_cycle():
    """The checks can fail: plan importing explain (what plan.py did) and the old cli <-> cli_export cycle."""
    graph = {"fleetopt.plan.model": {"fleetopt.explain.model"}, "fleetopt.explain.model": set(),
             "fleetopt.cli_a": {"fleetopt.cli_b"}, "fleetopt.cli_b": {"fleetopt.cli_a"}}
    assert back_arrows({"fleetopt.plan.model": {"fleetopt.explain.model"}}) == [
        "fleetopt.plan.model -> fleetopt.explain.model: plan may not import explain (a later layer or a sibling)"]
    assert cycles(graph) == [["fleetopt.cli_a", "fleetopt.cli_b"]]
    assert cycles(unit_graph(graph)) == [["cli_a", "cli_b"]]
