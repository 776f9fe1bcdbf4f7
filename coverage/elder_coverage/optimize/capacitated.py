"""Capacitated maximal covering: the most elders served within reach and within capacity.

A day-care centre with 40 places does not serve the 300 elders who live within 15 minutes
of it; the plain maximal covering model counts them all. Here covered elders are assigned to
an open site within the limit and no site takes more than its capacity (asked by spopt's users
in pysal/spopt#222 and #415; the model of Current & Storbeck 1988 / Pirkul & Schilling 1991).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from elder_coverage._validate import (
    POSITIVE,
    Interval,
    count,
    number,
    optional_number,
    vector,
)

from .common import Clock, CostMatrix, GroupMinimum, SiteSet, is_integral
from .covering import _check_rules, _group_block, _patterns, _setup
from .highs import INF, RowBlocks, solve_milp
from .result import OptimizeResult, infeasible, no_solution, relative_gap, settle_bound

MODEL = "capacitated_max_coverage"


def capacitated_max_coverage(
    cost: CostMatrix,
    p: int,
    limit: float,
    *,
    capacity: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    fixed: SiteSet | None = None,
    forbidden: SiteSet | None = None,
    groups: npt.ArrayLike | None = None,
    min_per_group: GroupMinimum | None = None,
    split: bool = True,
    time_limit: float | None = None,
    mip_gap: float = 1e-6,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> OptimizeResult:
    r"""Open ``p`` sites and assign demand within ``limit`` and capacity, serving the most.

    Formulation::

        maximise    Σ_i Σ_j w_i z_ij                      (persons served)
        subject to  Σ_j z_ij ≤ 1                          every demand row i
                    Σ_i w_i z_ij ≤ capacity_j · x_j       every site j (finite capacity)
                    z_ij ≤ x_j,   z_ij = 0 if c_ij > limit
                    Σ_j x_j = p,  x_j ∈ {0, 1}            (fixed / forbidden / groups)

    ``z_ij`` is a share in [0, 1] (``split=True``: the elders of one cell may go to several
    centres) or 0/1 (``split=False``: a cell goes to one centre, which must hold all of it).

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost (minutes or metres); NaN/inf or absent entries are unreachable.
    p : int
        Number of open sites, fixed ones included.
    limit : float
        A row may be assigned to a site with cost ≤ ``limit``.
    capacity : array_like
        Places per site (persons, same unit as ``weights``); +inf for no limit; a scalar
        applies to every site.
    weights : array_like, optional
        Demand per row (persons), default 1.
    fixed, forbidden, groups, min_per_group
        Site rules, as in :func:`~elder_coverage.optimize.p_median`.
    split : bool
        Allow a row's demand to be split over several sites (default True).
    time_limit, mip_gap, seed, threads, verbose
        As in :func:`~elder_coverage.optimize.max_coverage`.

    Returns
    -------
    OptimizeResult
        ``objective`` = ``covered_weight`` = persons assigned (≤ the plain covering optimum);
        ``covered``: rows fully assigned; ``assignment``: the site taking the largest share
        (-1 if none); ``details["shares"]`` (sparse rows × sites) and
        ``details["within_limit_weight"]`` (weight within reach of an open site, served or not).

    Notes
    -----
    With ``x_j`` = 1 when site ``j`` opens and ``y_ij`` the share of row ``i`` assigned to
    ``j ∈ N_i = {j : c_ij ≤ limit}`` (Pirkul & Schilling 1991):

    .. math::

        \max \sum_i \sum_{j \in N_i} w_i y_{ij} \quad \text{s.t.} \quad
        \sum_{j \in N_i} y_{ij} \le 1, \quad y_{ij} \le x_j, \quad
        \sum_i w_i y_{ij} \le \text{cap}_j x_j, \quad \sum_j x_j = p,

    with ``y_ij ∈ {0, 1}`` when ``split=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from elder_coverage.optimize import capacitated_max_coverage
    >>> cost = np.array([[1.0, 5.0], [2.0, 9.0], [9.0, 1.0]])
    >>> res = capacitated_max_coverage(cost, p=1, limit=3.0, capacity=[4, 10],
    ...                                weights=[3, 3, 5])
    >>> res.sites.tolist(), res.objective   # site 0 is nearer 6 elders but holds only 4
    ([1], 5.0)
    """
    clock = Clock(optional_number("time_limit", time_limit, POSITIVE, unit="seconds"))
    reach, rules, within, reachable, unreachable, _ = _setup(
        cost, limit, weights, fixed, forbidden, groups, min_per_group)
    p = count("p", p)
    gap_tol = number("mip_gap", mip_gap, Interval(0, 1, closed="left"))
    cap = vector("capacity", capacity, reach.n_sites, allow_inf=True)
    w = reach.weights
    total_w = float(w.sum())
    note = _check_rules(MODEL, p, reach, rules, unreachable, clock)
    if isinstance(note, OptimizeResult):
        return note
    # Columns: candidate sites, then fixed sites (open, but their capacity is shared too),
    # then one share per (pattern, site) pair.
    cand = np.flatnonzero(rules.candidates)
    sites = np.concatenate([cand, np.flatnonzero(rules.fixed)])
    m = sites.size
    col_map = np.full(reach.n_sites, -1, np.int64)
    col_map[sites] = np.arange(m)
    rows = np.flatnonzero(reachable & (w > 0))
    if rows.size:
        # With split shares, rows with the same sites pool: any split of the pool is a split
        # of each row. A single assignment must keep every row whole.
        inc, pattern = _patterns(within, rows, col_map, m, merge=split)
        W: np.ndarray = np.bincount(pattern, weights=w[rows], minlength=inc.shape[0])
    else:
        inc, pattern, W = sp.csr_array((0, m)), np.zeros(0, np.int64), np.zeros(0)
    n_pat = inc.shape[0]
    pc = inc.tocoo()
    prow, psite = pc.row.astype(np.int64), pc.col.astype(np.int64)
    P = prow.size
    zcol = m + np.arange(P)
    blocks = RowBlocks()
    blocks.add(n_pat, prow, zcol, 1.0, -INF, 1.0)
    capk = cap[sites]
    fin = np.flatnonzero(np.isfinite(capk))
    fi = np.full(m, -1, np.int64)
    fi[fin] = np.arange(fin.size)
    sel = fi[psite] >= 0
    blocks.add(fin.size, np.concatenate([fi[psite[sel]], np.arange(fin.size)]),
               np.concatenate([zcol[sel], fin]),
               np.concatenate([W[prow[sel]], -capk[fin]]), -INF, 0.0)
    blocks.add(P, np.concatenate([np.arange(P)] * 2), np.concatenate([zcol, psite]),
               np.concatenate([np.ones(P), -np.ones(P)]), -INF, 0.0)
    k_free = p - int(rules.fixed.sum())
    blocks.add(1, np.zeros(cand.size, np.int64), np.arange(cand.size), 1.0, k_free, k_free)
    _group_block(blocks, rules, cand)
    n_col = m + P
    A, lo, hi = blocks.build(n_col)
    obj = np.concatenate([np.zeros(m), W[prow]])
    lower = np.concatenate([np.zeros(cand.size), np.ones(m - cand.size), np.zeros(P)])
    integer = np.concatenate([np.ones(m, np.int32), np.full(P, 0 if split else 1, np.int32)])
    integral = not split and is_integral(W)
    out = solve_milp(obj, lower, np.ones(n_col), integer, A, lo, hi, maximise=True,
                     time_limit=clock.left(), mip_rel_gap=gap_tol,
                     mip_abs_gap=0.999 if integral else 1e-9, seed=seed, threads=threads,
                     verbose=verbose)
    details = {"patterns": n_pat, "pairs": int(P), "nonzeros": int(A.nnz),
               "milp_seconds": out.seconds, "milp_nodes": out.nodes}
    if out.status == "infeasible":
        return infeasible(MODEL, reach.n_demand, note + "no choice of sites meets p and the "
                          "group minimums together", clock.elapsed, unreachable,
                          minimise=False, total_weight=total_w)
    if out.x is None:
        return no_solution(MODEL, "milp", reach.n_demand, out.bound,
                           note + f"no solution before the time limit ({out.message})",
                           seconds=clock.elapsed, unreachable=unreachable,
                           total_weight=total_w, details=details)
    x = np.clip(out.x, 0.0, 1.0)
    open_k = x[:m] > 0.5
    share = np.where(open_k[psite], x[m:], 0.0)
    if not split:
        share = np.round(share)
    # Each row takes its pattern's shares (the pairs of a pattern are contiguous in ``pc``).
    rep = np.bincount(prow, minlength=n_pat)[pattern]
    first_pair = (np.cumsum(np.bincount(prow, minlength=n_pat)) -
                  np.bincount(prow, minlength=n_pat))[pattern]
    pair = np.repeat(first_pair, rep) + (np.arange(int(rep.sum()))
                                         - np.repeat(np.cumsum(rep) - rep, rep))
    shares = sp.csr_array((share[pair], (np.repeat(rows, rep), sites[psite[pair]])),
                          shape=(reach.n_demand, reach.n_sites))
    shares.eliminate_zeros()
    served = np.asarray(shares.sum(axis=1)).ravel()
    objective = float((w * np.minimum(served, 1.0)).sum())
    mask = np.zeros(reach.n_sites, bool)
    mask[sites[open_k]] = True
    assignment = np.full(reach.n_demand, -1, np.int64)
    coo = shares.tocoo()
    order = np.lexsort((coo.col, -coo.data, coo.row))
    lead = np.ones(order.size, bool)
    lead[1:] = coo.row[order][1:] != coo.row[order][:-1]
    assignment[coo.row[order][lead]] = coo.col[order][lead]
    site_any, _ = within.nearest(mask)
    status = "optimal" if out.status == "optimal" else "time_limit"
    bound = settle_bound(out.bound if np.isfinite(out.bound) else objective, objective, status,
                         integral, minimise=False)
    details.update(shares=shares, within_limit_weight=float(w[site_any >= 0].sum()))
    return OptimizeResult(
        objective=objective, sites=np.flatnonzero(mask), assignment=assignment,
        gap=relative_gap(objective, bound), status=status, seconds=clock.elapsed, bound=bound,
        unreachable_demand=unreachable,
        message=note + ("capacitated maximal covering solved by HiGHS" if status == "optimal"
                        else f"stopped early: {out.message}"),
        model=MODEL, method="milp", covered=served >= 1.0 - 1e-9, covered_weight=objective,
        total_weight=total_w, details=details)

