"""Argument checks and small helpers shared by the models."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

#: A demand × site cost matrix: dense array_like (NaN/+inf unreachable) or scipy.sparse
#: (absent entries unreachable, a stored zero is a cost of zero).
CostMatrix: TypeAlias = npt.ArrayLike | sp.sparray | sp.spmatrix
#: Site indices or a boolean mask over the sites.
SiteSet: TypeAlias = npt.ArrayLike
#: Minimum open sites per group: one count for every group, or label → count.
GroupMinimum: TypeAlias = int | Mapping[Any, int]

#: Dense heuristic matrices above this many entries are refused (8 bytes each).
DENSE_LIMIT = 80_000_000


def is_integral(*arrays: npt.ArrayLike) -> bool:
    """True when every value is a whole number (so objective gaps below 1 prove optimality)."""
    for a in arrays:
        a = np.asarray(a, float)
        if a.size and not np.all(np.abs(a - np.round(a)) <= 1e-9 * np.maximum(1.0, np.abs(a))):
            return False
    return True


class Clock:
    """Wall-clock budget shared by the phases of one solve."""

    def __init__(self, time_limit: float | None) -> None:
        self.t0 = time.perf_counter()
        self.limit = time_limit

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def deadline(self) -> float:
        return np.inf if self.limit is None else self.t0 + self.limit

    def left(self) -> float | None:
        if self.limit is None:
            return None
        return max(self.limit - self.elapsed, 0.01)

    def share(self, fraction: float) -> float:
        """Deadline for a phase allowed ``fraction`` of what is left."""
        if self.limit is None:
            return np.inf
        return time.perf_counter() + fraction * (self.left() or 0.0)


def merge_identical_rows(inc: sp.csr_array | sp.csr_matrix) -> tuple[sp.csr_array, np.ndarray]:
    """Merge the rows of an incidence matrix that have the same set of stored columns.

    Demand rows that the same sites reach are interchangeable in every covering model, so
    the models carry one row per distinct set (a "pattern") with the rows' weights added.

    Parameters
    ----------
    inc : scipy.sparse.csr_array
        (n_rows × n_columns) incidence; the set of a row is its stored columns (explicit
        zeros count as members). Duplicate stored pairs are summed.

    Returns
    -------
    merged : scipy.sparse.csr_array
        (n_patterns × n_columns), sorted indices, one row per distinct set, in order of the
        set's first row.
    pattern : numpy.ndarray of int64
        Pattern of each input row.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> merged, pattern = merge_identical_rows(sp.csr_array(np.array([[1, 1], [0, 1], [1, 1]])))
    >>> merged.toarray().tolist(), pattern.tolist()
    ([[1, 1], [0, 1]], [0, 1, 0])
    """
    inc = sp.csr_array(inc, copy=True)
    inc.sum_duplicates()
    inc.sort_indices()
    n = inc.shape[0]
    key_of: dict[bytes, int] = {}
    pattern = np.empty(n, np.int64)
    ip, ix = inc.indptr, inc.indices
    for i in range(n):
        pattern[i] = key_of.setdefault(ix[ip[i]:ip[i + 1]].tobytes(), len(key_of))
    first = np.full(len(key_of), -1, np.int64)
    first[pattern[::-1]] = np.arange(n)[::-1]
    merged = sp.csr_array(inc[first])
    merged.sort_indices()
    return merged, pattern
