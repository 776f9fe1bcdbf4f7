"""The radius (covering) formulation of the p-median.

After García, Labbé & Marín (2011), "Solving large p-median problems with a radius
formulation", INFORMS J. Computing 23(4), and Elloumi (2010). Each demand row sorts its
reachable sites by cost into distinct levels ``D_0 < D_1 < … < D_{G-1}``; ``z_g`` (0–1,
continuous) says "no open site strictly closer than ``D_g``". The row costs
``w·(D_0 + Σ_g (D_g − D_{g−1}) z_g)`` and one chain constraint per level links it to the
sites: ``Σ_{j at level g} y_j + z_{g+1} − z_g ≥ 0`` (``z_0 ≡ 1``). That uses one nonzero per
reachable pair instead of a variable per pair, and levels can be cut:

* after the level of the nearest fixed (always open) site;
* once the sites up to a level number ``K − p + 1`` of the ``K`` candidates (one of them must
  be open);
* at a per-row "tail" cost: a tail variable pays it instead of the farther levels. With the
  unserved-demand penalty this is exact; with the cost of the first level left out it is a
  relaxation (the truncated model of García et al.), whose optimum is a lower bound and is
  optimal for the full model when no row ends on its tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .highs import INF, RowBlocks


@dataclass
class RadiusModel:
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    matrix: sp.csr_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    offset: float
    n_sites: int
    z_row: np.ndarray  # demand row of each z column
    z_level: np.ndarray  # level g of each z column (g = G for a tail)
    entry_row: np.ndarray  # demand row, level and site of each site nonzero
    entry_level: np.ndarray
    entry_site: np.ndarray
    z_tail: np.ndarray  # bool per z column: the row's tail

    def start(self, open_sites: np.ndarray) -> np.ndarray:
        """Full primal vector for the open sites (bool per site): y and the implied z."""
        n = max(int(self.z_row.max(initial=-1)), int(self.entry_row.max(initial=-1))) + 1
        first_open = np.full(n, np.iinfo(np.int64).max)
        hit = open_sites[self.entry_site]
        np.minimum.at(first_open, self.entry_row[hit], self.entry_level[hit])
        z = (self.z_level <= first_open[self.z_row]).astype(float)
        return np.concatenate([open_sites.astype(float), z])


def radius_model(indptr: np.ndarray, cols: np.ndarray, cost: np.ndarray, w: np.ndarray, p: int,
                 fixed: np.ndarray, *, group: np.ndarray | None, group_min: np.ndarray | None,
                 penalty: np.ndarray | float | None,
                 row_limit: np.ndarray | None = None) -> RadiusModel:
    """Build the radius MILP for rows given in sorted CSR form over ``K = fixed.size`` sites.

    Parameters
    ----------
    indptr, cols, cost
        Reachable pairs per row, sorted by cost within each row; ``cols`` in 0..K-1.
    w : numpy.ndarray
        Row weights (> 0).
    p : int
        Number of open sites among the K (fixed ones included).
    fixed : numpy.ndarray of bool
        Sites that are open for sure.
    group, group_min
        Group per site and minimum open sites per group (or None).
    penalty : numpy.ndarray, float or None
        Per row (or for all rows), the tail cost per unit weight: the row costs at most this
        much. ``inf``/None means the row must be served by a site.
    row_limit : numpy.ndarray, optional
        Per row, a weighted cost (``w × cost``) below which the row is known to be served in
        every solution worth finding; levels at or above it are cut.
    """
    n = indptr.size - 1
    K = fixed.size
    counts = np.diff(indptr)
    row = np.repeat(np.arange(n, dtype=np.int64), counts)
    pos = np.arange(cols.size, dtype=np.int64) - indptr[row]
    new = np.ones(cols.size, bool)
    new[1:] = (row[1:] != row[:-1]) | (cost[1:] != cost[:-1])
    cum = np.cumsum(new)
    level = cum - cum[indptr[row]]  # 0 at the first entry of every row

    big = np.iinfo(np.int64).max
    last = np.full(n, big, np.int64)
    # Cut after the level holding a fixed site.
    fx = np.flatnonzero(fixed[cols])
    if fx.size:
        np.minimum.at(last, row[fx], level[fx])
    # Cut at the first level whose sites, with all closer ones, number K - p + 1.
    enough = np.flatnonzero(pos + 1 >= K - p + 1)
    # Any entry with that count lies in a level whose sites and all closer ones reach it.
    if enough.size:
        np.minimum.at(last, row[enough], level[enough])
    if row_limit is not None:
        over = np.flatnonzero(w[row] * cost >= row_limit[row])
        if over.size:
            np.minimum.at(last, row[over], level[over] - 1)
    keep = level <= last[row]
    tail = np.zeros(n, bool)
    const_unserved = 0.0
    pen = np.full(n, np.inf) if penalty is None else np.broadcast_to(
        np.asarray(penalty, float), (n,))
    if np.isfinite(pen).any():
        keep &= cost < pen[row]
        has = np.bincount(row[keep], minlength=n) > 0
        # Rows cut by the penalty (not by a fixed or counted level) pay it as a tail.
        cut_by_rule = np.zeros(n, bool)
        cut_by_rule[row[keep & (level == last[row])]] = True
        tail = has & ~cut_by_rule
        tail &= np.isfinite(pen)
        gone = ~has & np.isfinite(pen)
        const_unserved = float((w[gone] * pen[gone]).sum())

    r, c, d, lv = row[keep], cols[keep], cost[keep], level[keep]
    n_lev = np.zeros(n, np.int64)
    np.maximum.at(n_lev, r, lv + 1)
    G = n_lev
    rowoff = np.zeros(n + 1, np.int64)
    np.cumsum(G, out=rowoff[1:])
    n_con = int(rowoff[-1])
    # Level values: the cost at the first entry of each kept level.
    first = np.ones(r.size, bool)
    first[1:] = (r[1:] != r[:-1]) | (lv[1:] != lv[:-1])
    D = d[first]  # in (row, level) order, one per constraint row
    D_row = r[first]
    D_lev = lv[first]

    n_z_row = G - 1 + tail
    zoff = np.zeros(n + 1, np.int64)
    np.cumsum(n_z_row, out=zoff[1:])
    n_z = int(zoff[-1])
    n_col = K + n_z

    blocks = RowBlocks()
    # Chain rows: site entries.
    y_rows = rowoff[r] + lv
    y_r, y_c, y_v = y_rows, c, np.ones(r.size)
    # z_{row,g}, g = 1..G-1 (and g = G for a tail): +1 in constraint g-1, -1 in constraint g.
    zr = np.repeat(np.arange(n, dtype=np.int64), n_z_row)
    zg = np.arange(n_z, dtype=np.int64) - zoff[zr] + 1
    zcol = K + zoff[zr] + zg - 1
    plus_r = rowoff[zr] + zg - 1
    minus = zg < G[zr]
    minus_r = rowoff[zr[minus]] + zg[minus]
    row_lo = np.zeros(n_con)
    row_lo[rowoff[:-1][G > 0]] = 1.0
    blocks.add(n_con,
               np.concatenate([y_r, plus_r, minus_r]),
               np.concatenate([y_c, zcol, zcol[minus]]),
               np.concatenate([y_v, np.ones(zcol.size), -np.ones(int(minus.sum()))]),
               row_lo, INF)
    # Cost of each z: the step to the next level, or to the penalty for a tail.
    lev_index = rowoff[zr] + zg  # constraint index of level g in row zr
    is_tail = zg >= G[zr]
    upper_val = np.where(is_tail, np.where(np.isfinite(pen[zr]), pen[zr], 0.0),
                         D[np.minimum(lev_index, n_con - 1)])
    lower_val = D[rowoff[zr] + zg - 1]
    zcost = w[zr] * (upper_val - lower_val)
    offset = float((w[D_row[D_lev == 0]] * D[D_lev == 0]).sum()) + const_unserved

    blocks.add(1, np.zeros(K, np.int64), np.arange(K), 1.0, p, p)
    if group is not None and group_min is not None and group_min.any():
        gs = np.flatnonzero(group_min > 0)
        gi = np.full(group_min.size, -1, np.int64)
        gi[gs] = np.arange(gs.size)
        sel = np.flatnonzero(gi[group] >= 0)
        blocks.add(gs.size, gi[group[sel]], sel, 1.0, group_min[gs], INF)
    A, lo, hi = blocks.build(n_col)
    cost_vec = np.concatenate([np.zeros(K), zcost])
    lower = np.concatenate([fixed.astype(float), np.zeros(n_z)])
    upper = np.ones(n_col)
    integer = np.concatenate([np.ones(K, np.int32), np.zeros(n_z, np.int32)])
    return RadiusModel(cost_vec, lower, upper, integer, A, lo, hi, offset, K, zr, zg, r, lv, c,
                       is_tail)
