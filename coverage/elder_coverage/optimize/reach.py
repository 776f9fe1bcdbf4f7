"""Sparse demand × site reach: which sites can serve which demand rows, and at what cost.

Every model starts here. Unreachable pairs (NaN or +inf in a dense matrix, absent entries of a
sparse one) are dropped at this point, so they never reach a solver as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from elder_coverage._errors import DataError
from elder_coverage._validate import NON_NEGATIVE, number, vector


@dataclass(frozen=True, eq=False)
class Reach:
    """Reachable (demand, site) pairs in CSR layout, each row sorted by cost then site.

    Attributes
    ----------
    n_demand, n_sites : int
        Shape of the original cost matrix.
    indptr : numpy.ndarray of int64
        Row pointer (length ``n_demand + 1``).
    indices : numpy.ndarray of int64
        Site of each stored pair.
    cost : numpy.ndarray of float64
        Cost of each stored pair (finite, ≥ 0).
    weights : numpy.ndarray of float64
        Demand weight per row (persons), ≥ 0.
    """

    n_demand: int
    n_sites: int
    indptr: np.ndarray
    indices: np.ndarray
    cost: np.ndarray
    weights: np.ndarray

    @property
    def row_of_entry(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_demand, dtype=np.int64), np.diff(self.indptr))

    def select(self, keep: np.ndarray) -> Reach:
        """Keep the entries where ``keep`` is true (the row order stays sorted)."""
        counts = np.bincount(self.row_of_entry[keep], minlength=self.n_demand)
        indptr = np.zeros(self.n_demand + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        return Reach(self.n_demand, self.n_sites, indptr, self.indices[keep], self.cost[keep],
                     self.weights)

    def within(self, limit: float) -> Reach:
        """Pairs with cost ≤ ``limit``."""
        if limit == np.inf:
            return self
        return self.select(self.cost <= limit)

    def only_sites(self, site_mask: np.ndarray) -> Reach:
        """Pairs whose site is in ``site_mask`` (boolean per site)."""
        return self.select(site_mask[self.indices])

    def take(self, rows: np.ndarray, col_map: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
        """The entries of ``rows`` at the sites ``col_map`` numbers, each row in cost order.

        Parameters
        ----------
        rows : numpy.ndarray of int
            Demand rows, in the order wanted.
        col_map : numpy.ndarray of int
            Per site, its new column ``0..k-1``, or -1 to drop the site.

        Returns
        -------
        indptr, cols, cost : numpy.ndarray
            CSR layout of the ``len(rows) × k`` sub-matrix; a stored zero cost stays stored.
        """
        sites = np.flatnonzero(col_map >= 0)
        sites = sites[np.argsort(col_map[sites])]
        # scipy's row and column selection keep each row's stored order (here: by cost), so
        # no re-sort is needed; the CSR is not canonical on purpose (indices follow cost).
        full = sp.csr_array((self.cost, self.indices, self.indptr),
                            shape=(self.n_demand, self.n_sites))
        sub = full[np.asarray(rows)][:, sites]
        return (sub.indptr.astype(np.int64, copy=False), sub.indices.astype(np.int64, copy=False),
                sub.data)

    def reached(self) -> np.ndarray:
        """Boolean per row: at least one stored pair."""
        return np.diff(self.indptr) > 0

    def nearest(self, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest open site and its cost per row (-1 and +inf when no open site reaches)."""
        site = np.full(self.n_demand, -1, np.int64)
        cost = np.full(self.n_demand, np.inf)
        hit = np.flatnonzero(open_mask[self.indices])
        if hit.size:
            rows = self.row_of_entry[hit]
            # Rows are sorted by cost, so the first open entry of a row is its nearest.
            first = np.ones(hit.size, bool)
            first[1:] = rows[1:] != rows[:-1]
            site[rows[first]] = self.indices[hit[first]]
            cost[rows[first]] = self.cost[hit[first]]
        return site, cost



def _check_weights(weights, n_demand: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_demand)
    return vector("weights", weights, n_demand, per="demand row")


def as_reach(cost, weights=None) -> Reach:
    """Validate a cost matrix and turn it into a :class:`Reach`.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost (minutes, metres, …) from each demand row to each site. Dense: NaN or
        +inf marks an unreachable pair. Sparse: an absent entry is unreachable, a stored zero
        is a cost of zero; stored NaN/+inf are unreachable too.
    weights : array_like, optional
        Demand per row (persons), default 1.

    Raises
    ------
    DataError
        Wrong shape, non-numeric or negative costs.
    SettingsError
        Bad weights.
    """
    if isinstance(cost, Reach):
        # Already validated (a model that solves many sub-problems on one matrix, e.g. the
        # p-center's radius search): only the weights may change.
        if weights is None:
            return cost
        return Reach(cost.n_demand, cost.n_sites, cost.indptr, cost.indices, cost.cost,
                     _check_weights(weights, cost.n_demand))
    if sp.issparse(cost):
        if cost.ndim != 2:
            raise DataError(f"cost must be 2-D (demand × sites); got {cost.ndim}-D")
        coo = sp.coo_array(cost)
        n, m = coo.shape
        rows = np.asarray(coo.row, np.int64)
        cols = np.asarray(coo.col, np.int64)
        try:
            vals = np.asarray(coo.data, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"cost has non-numeric entries ({coo.dtype})") from exc
        finite = np.isfinite(vals) | np.isnan(vals) | (vals == np.inf)
        if not finite.all():  # only -inf lands here
            k = np.flatnonzero(~finite)[0]
            raise DataError(f"cost[{rows[k]}, {cols[k]}] = {vals[k]}: costs must be ≥ 0")
        keep = np.isfinite(vals)
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        if coo.has_canonical_format is False and rows.size:
            # Duplicate stored pairs would be summed by scipy; a cost matrix should not have any.
            key = rows * m + cols
            if np.unique(key).size != key.size:
                raise DataError("cost has duplicate stored entries for the same (demand, site)")
    else:
        try:
            dense = np.asarray(cost, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"cost must be a numeric array: {exc}") from exc
        if dense.ndim != 2:
            raise DataError(f"cost must be 2-D (demand × sites); got shape {dense.shape}")
        n, m = dense.shape
        neg_inf = np.isneginf(dense)
        if neg_inf.any():
            r, c = np.argwhere(neg_inf)[0]
            raise DataError(f"cost[{r}, {c}] = -inf: costs must be ≥ 0")
        # A stable sort of each row (unreachable pairs as +inf, so last) orders the pairs
        # by cost, ties by site, several times faster than a lexsort of all pairs.
        keep = np.isfinite(dense)
        filled = np.where(keep, dense, np.inf)
        order = np.argsort(filled, axis=1, kind="stable")
        counts = keep.sum(axis=1)
        first = np.arange(m)[None, :] < counts[:, None]
        rows = np.repeat(np.arange(n, dtype=np.int64), counts)
        cols = order[first].astype(np.int64)
        vals = np.take_along_axis(filled, order, axis=1)[first]
        del filled, order, first
    if m == 0:
        raise DataError("cost has no site columns")
    neg = np.flatnonzero(vals < 0)
    if neg.size:
        k = neg[0]
        raise DataError(f"cost[{rows[k]}, {cols[k]}] = {vals[k]}: costs must be ≥ 0 "
                        f"({neg.size} negative entries)")
    w = _check_weights(weights, n)
    if sp.issparse(cost):
        order = np.lexsort((cols, vals, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Reach(n, m, indptr, cols, vals, w)


def check_limit(limit) -> float:
    """Validate a coverage limit (same unit as the cost; +inf: every reachable pair)."""
    return number("limit", limit, NON_NEGATIVE, allow_inf=True, unit="cost units")
