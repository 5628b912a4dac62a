"""pytest finds tests/ through this file: its folder goes on sys.path (pytest's default "prepend" import mode),
so every test, in whichever layer's folder, imports the shared helpers as `from helpers import ...`.

Folders follow the package's layers: inputs (io), physics, candidates, formulation, solving (backends and the
pipeline), explain, verify, whatif, cli, project (import layers, lint, whole-tool properties); tests/data holds
the bad-input corpus and small instances. Slow tests are marked `slow`: `pytest -m "not slow"` is the quick run.
"""
