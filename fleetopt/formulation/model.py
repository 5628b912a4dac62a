"""A solver-neutral MILP: named variable blocks and named constraint families, kept as arrays.

Every column belongs to a block (`train_choice`, `replicas`, `flow`, ...) and every row to a family
(`power_cap`, `demand`, ...) with a key in the user's names, so a row prints as `power_cap[us-east]`.
Backends translate `matrix()` and the bound vectors; they never see Python objects per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

INF = np.inf


def key_name(name: str, key) -> str:
    """A row's or column's name in the user's words: 'power_cap[eu-west]', family or block name then its key."""
    return f"{name}[{','.join(map(str, key))}]"


def _full(value, n: int) -> np.ndarray:
    """A scalar or array as a float vector of length n (a private copy)."""
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


ROW_TOL = 1e-6   # relative slack within which a plan meets a row (solvers' feasibility tolerance scale)


def row_tolerance(lower: np.ndarray, upper: np.ndarray, rel: float) -> np.ndarray:
    """Per row, the slack within which an activity meets its bounds: `rel` x the larger finite bound's magnitude,
    at least `rel` (solvers' tolerances are relative)."""
    return rel * np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(upper), upper, 0.0)),
                                            np.abs(np.where(np.isfinite(lower), lower, 0.0))))


def rows_violated(activity: np.ndarray, lower: np.ndarray, upper: np.ndarray, rel: float) -> np.ndarray:
    """Rows whose activity lies past a bound by more than row_tolerance."""
    tol = row_tolerance(lower, upper, rel)
    return (activity > upper + tol) | (activity < lower - tol)


@dataclass
class VarBlock:
    name: str
    keys: list[tuple]
    start: int
    lb: np.ndarray
    ub: np.ndarray
    cost: np.ndarray
    integer: bool

    @property
    def size(self) -> int:
        return len(self.keys)

    @property
    def cols(self) -> np.ndarray:
        return np.arange(self.start, self.start + self.size)


@dataclass
class RowFamily:
    name: str
    keys: list[tuple]
    start: int
    rows: np.ndarray      # local row index of each nonzero
    cols: np.ndarray      # global column index of each nonzero
    vals: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    units: str            # what the row measures, e.g. "MW"
    meaning: str          # one line, for reports
    shared: bool = False  # a fleet resource many decisions draw on (power, stock, carbon): the rows that join
                          # otherwise independent jobs and services, so a solve may add them lazily

    @property
    def size(self) -> int:
        return len(self.keys)


@dataclass
class Formulation:
    blocks: dict[str, VarBlock] = field(default_factory=dict)
    families: dict[str, RowFamily] = field(default_factory=dict)
    objective_name: str = "cost_usd"
    n_cols: int = 0
    n_rows: int = 0
    time: object | None = None   # formulation/families.TimeLayout over S > 1 time slices; None on a static model
    objective_offset: float = 0.0  # what the plan pays whatever it decides (reserved commitments), objective units
    _matrix: tuple | None = field(default=None, init=False, repr=False, compare=False)  # (fingerprint, CSR)

    def copy(self) -> Formulation:
        """The same model in a new object: its blocks and families in new dicts, so what is added to or replaced in
        the copy leaves this one as it was; time layout, objective offset and the cached matrix carried over (the
        cache is keyed on the families themselves, so the copy rebuilds it once it has rows of its own)."""
        out = replace(self, blocks=dict(self.blocks), families=dict(self.families))
        out._matrix = self._matrix
        return out

    def add_vars(self, name: str, keys: list[tuple], *, lb=0.0, ub=INF, cost=0.0, integer=False) -> VarBlock:
        n = len(keys)
        block = VarBlock(name, list(keys), self.n_cols, _full(lb, n), _full(ub, n), _full(cost, n), integer)
        self.blocks[name] = block
        self.n_cols += n
        self.invalidate()
        return block

    def free_family_name(self, base: str) -> str:
        """`base`, or `base` with the first number that makes it a name no family of the model has yet (a model
        may carry such rows already: add_rows refuses a name taken)."""
        return next(n for n in (f"{base}{k or ''}" for k in range(len(self.families) + 1)) if n not in self.families)

    def add_rows(self, name: str, keys: list[tuple], rows, cols, vals, *, lower=-INF, upper=INF,
                 units: str = "", meaning: str = "", shared: bool = False) -> RowFamily:
        """Add a family: nonzeros (rows local to the family, global cols) and bounds per row. A name already
        taken is refused: the new family would replace the old one in `families` while its rows stayed counted."""
        if name in self.families:
            raise ValueError(f"row family {name!r} is already in the model")
        n = len(keys)
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        vals = np.asarray(vals, dtype=float)
        keep = vals != 0.0
        fam = RowFamily(name, list(keys), self.n_rows, rows[keep], cols[keep], vals[keep],
                        _full(lower, n), _full(upper, n), units, meaning, shared)
        self.families[name] = fam
        self.n_rows += n
        self.invalidate()
        return fam

    # ------------------------------------------------------------ arrays for backends

    def col_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cost, lb, ub, is_integer) over all columns, in block order."""
        blocks = list(self.blocks.values())
        if not blocks:
            return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, bool)
        integer = np.concatenate([np.full(b.size, b.integer) for b in blocks])
        cost, lb, ub = (np.concatenate([getattr(b, a) for b in blocks]) for a in ("cost", "lb", "ub"))
        return cost, lb, ub, integer

    def invalidate(self) -> None:
        """Forget the cached matrix: add_vars and add_rows call it; call it after editing a family's arrays in
        place (replacing a family or its rows/cols/vals arrays is noticed without it)."""
        self._matrix = None

    def _fingerprint(self) -> tuple:
        """What the matrix is built from: the model's shape, each family's start, and the families and their
        arrays themselves (held, so no id is reused while a cached matrix refers to them; compared by identity)."""
        fams = list(self.families.values())
        return (self.n_rows, self.n_cols, tuple(f.start for f in fams),
                tuple(obj for f in fams for obj in (f, f.rows, f.cols, f.vals)))

    def matrix(self) -> sp.csr_matrix:
        """The constraint matrix, built once and kept until a block or family is added (decompose, explain and
        the backends ask for it many times). Read-only: its arrays refuse writes, so no caller edits the cache."""
        key = self._fingerprint()
        built = None if self._matrix is None else self._matrix[0]
        if built is not None and built[:3] == key[:3] and len(built[3]) == len(key[3]) \
                and all(u is v for u, v in zip(built[3], key[3])):
            return self._matrix[1]
        fams = list(self.families.values())
        if fams:
            rows = np.concatenate([f.rows + f.start for f in fams])
            cols = np.concatenate([f.cols for f in fams])
            vals = np.concatenate([f.vals for f in fams])
            a = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols))
            a.sum_duplicates()
        else:
            a = sp.csr_matrix((0, self.n_cols))
        for arr in (a.data, a.indices, a.indptr):
            arr.flags.writeable = False
        self._matrix = (key, a)
        return a

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        fams = list(self.families.values())
        if not fams:
            return np.zeros(0), np.zeros(0)
        return np.concatenate([f.lower for f in fams]), np.concatenate([f.upper for f in fams])

    def row_activity(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's activity A x, and whether any of its terms is in use: a row whose every column is zero
        (an option with no replicas, a region nothing is routed to) holds trivially and is never tight."""
        a = self.matrix()
        return a @ x, (abs(a) @ (np.abs(x) > 1e-9).astype(float)) > 0

    def row_names(self) -> list[str]:
        return [key_name(f.name, k) for f in self.families.values() for k in f.keys]

    def col_names(self) -> list[str]:
        return [key_name(b.name, k) for b in self.blocks.values() for k in b.keys]

    def family_of_row(self, row: int) -> tuple[RowFamily, int]:
        for f in self.families.values():
            if f.start <= row < f.start + f.size:
                return f, row - f.start
        raise IndexError(row)

    def summary(self) -> dict:
        return {"columns": self.n_cols, "rows": self.n_rows, "nonzeros": int(self.matrix().nnz),
                "blocks": {b.name: b.size for b in self.blocks.values()},
                "families": {f.name: f.size for f in self.families.values()}}
