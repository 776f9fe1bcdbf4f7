"""Backup coverage: maximise the elders covered twice (Hogan & ReVelle 1986).

A township whose only centre closes, or is full, is left without service; an area within
reach of two centres keeps it. This model chooses ``p`` sites so that the most weight is
covered at least twice, optionally trading that against first coverage (``first_weight``,
the θ of Hogan & ReVelle's BACOP2) or keeping a floor on first coverage (``min_covered``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from elder_coverage._validate import (
    POSITIVE,
    SHARE,
    Interval,
    count,
    number,
    optional_number,
)

from .common import Clock, CostMatrix, GroupMinimum, SiteSet, is_integral
from .covering import _check_rules, _group_block, _patterns, _setup
from .highs import INF, RowBlocks, solve_milp
from .reach import Reach
from .result import OptimizeResult, infeasible, no_solution, relative_gap, settle_bound

MODEL = "backup_coverage"


def coverage_depth(within: Reach, open_mask: np.ndarray) -> np.ndarray:
    """Number of open sites within the limit of each demand row (``within`` is pre-limited).

    Examples
    --------
    >>> import numpy as np
    >>> from elder_coverage.optimize.reach import as_reach
    >>> within = as_reach(np.array([[0.0, 3.0, 7.0], [3.0, 0.0, 4.0], [7.0, 4.0, 0.0]]))
    >>> coverage_depth(within.within(4.0), np.array([True, True, False])).tolist()
    [2, 2, 1]
    """
    hit = open_mask[within.indices]
    return np.bincount(within.row_of_entry[hit], minlength=within.n_demand)


def backup_coverage(
    cost: CostMatrix,
    p: int,
    limit: float,
    *,
    weights: npt.ArrayLike | None = None,
    fixed: SiteSet | None = None,
    forbidden: SiteSet | None = None,
    groups: npt.ArrayLike | None = None,
    min_per_group: GroupMinimum | None = None,
    first_weight: float = 0.0,
    min_covered: float | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-6,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> OptimizeResult:
    r"""Open ``p`` sites so that the most weight is covered twice (within ``limit`` of two).

    Formulation (BACOP2 of Hogan & ReVelle 1986, with ``θ = first_weight``)::

        maximise    θ Σ_i w_i y_i + (1 - θ) Σ_i w_i u_i
        subject to  y_i + u_i ≤ Σ_{j: c_ij ≤ limit} x_j     (u_i: covered a second time)
                    u_i ≤ y_i ≤ 1
                    Σ_j x_j = p,  x_j ∈ {0, 1}              (fixed / forbidden / groups)
                    Σ_i w_i y_i ≥ min_covered · Σ_i w_i     (optional)

    ``u`` must be whole (with ``θ < 1/2``, ``y = u = 1/2`` would otherwise pay on a row
    that one open site covers); ``y`` may be continuous: for whole ``x`` and ``u`` its best
    value is whole.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost (minutes or metres); NaN/inf or absent entries are unreachable.
    p : int
        Number of open sites, fixed ones included.
    limit : float
        A site covers a row when its cost is ≤ ``limit`` (same unit as ``cost``).
    weights : array_like, optional
        Demand per row (persons), default 1.
    fixed, forbidden, groups, min_per_group
        Site rules, as in :func:`~elder_coverage.optimize.p_median`.
    first_weight : float
        θ in [0, 1]: weight of first coverage in the objective. 0 (default) maximises the
        weight covered twice only; 1 is the plain maximal covering model.
    min_covered : float, optional
        Share (0-1) of the total weight (unreachable rows included) that must be covered at
        least once, e.g. 1.0 with a ``p`` large enough to cover everyone (Hogan & ReVelle's
        BACOP1).
    time_limit, mip_gap, seed, threads, verbose
        As in :func:`~elder_coverage.optimize.max_coverage`.

    Returns
    -------
    OptimizeResult
        ``objective`` = θ × (weight covered once) + (1 − θ) × (weight covered twice),
        persons; ``covered`` / ``covered_weight``: covered at least once;
        ``details["covered_twice"]`` (bool per row) and ``details["covered_twice_weight"]``.

    Notes
    -----
    With ``x_j`` = 1 when site ``j`` opens, ``y_i`` = 1 when row ``i`` is covered once, ``u_i``
    = 1 when it is covered twice and ``N_i = {j : c_ij ≤ limit}`` (Hogan & ReVelle 1986):

    .. math::

        \max \sum_i w_i (\theta y_i + (1 - \theta) u_i) \quad \text{s.t.} \quad
        y_i + u_i \le \sum_{j \in N_i} x_j, \quad u_i \le y_i, \quad \sum_j x_j = p,

    ``θ`` = ``first_weight``; with ``min_covered``: ``Σ_i w_i y_i ≥ min_covered · Σ_i w_i``.

    Examples
    --------
    Three villages on a road at km 0, 3 and 7 with 10, 20 and 30 elders; every village is
    also a candidate site (costs in km):

    >>> import numpy as np
    >>> cost = np.array([[0.0, 3.0, 7.0], [3.0, 0.0, 4.0], [7.0, 4.0, 0.0]])
    >>> w = np.array([10.0, 20.0, 30.0])
    >>> res = backup_coverage(cost, 2, 4.0, weights=w)  # {1, 2}: villages 1, 2 covered twice
    >>> res.sites.tolist(), float(res.objective)
    ([1, 2], 50.0)

    Only the first row is heavy, and sites 0 and 1 both reach it:

    >>> cost = np.array([[1.0, 2.0, 9.0], [1.0, 9.0, 2.0], [9.0, 1.0, 1.0]])
    >>> res = backup_coverage(cost, p=2, limit=3.0, weights=[5, 1, 1])
    >>> res.sites.tolist(), res.objective, res.covered_weight
    ([0, 1], 5.0, 7.0)
    """
    clock = Clock(optional_number("time_limit", time_limit, POSITIVE, unit="seconds"))
    reach, rules, within, reachable, unreachable, _ = _setup(
        cost, limit, weights, fixed, forbidden, groups, min_per_group)
    p = count("p", p)
    gap_tol = number("mip_gap", mip_gap, Interval(0, 1, closed="left"))
    theta = number("first_weight", first_weight, SHARE)
    if min_covered is not None:
        number("min_covered", min_covered, SHARE)
    w = reach.weights
    total_w = float(w.sum())
    note = _check_rules(MODEL, p, reach, rules, unreachable, clock)
    if isinstance(note, OptimizeResult):
        return note
    depth_fixed = np.minimum(coverage_depth(within, rules.fixed), 2)
    cand = np.flatnonzero(rules.candidates)
    col_map = np.full(reach.n_sites, -1, np.int64)
    col_map[cand] = np.arange(cand.size)
    # Rows already covered twice by fixed sites are settled; the others become patterns of
    # (candidate set, fixed depth 0 or 1).
    parts, depth_of, weight_of = [], [], []
    for d in (0, 1):
        rows = np.flatnonzero(reachable & (depth_fixed == d) & (w > 0))
        if rows.size:
            inc, pattern = _patterns(within, rows, col_map, cand.size)
            parts.append(inc)
            depth_of.append(np.full(inc.shape[0], d))
            weight_of.append(np.bincount(pattern, weights=w[rows], minlength=inc.shape[0]))
    inc = sp.vstack(parts, format="csr") if parts else sp.csr_array((0, cand.size))
    d0 = np.concatenate(depth_of) if parts else np.zeros(0, np.int64)
    W = np.concatenate(weight_of) if parts else np.zeros(0)
    n_pat = inc.shape[0]
    # Rows that fixed sites cover twice are settled (counted once and twice); rows they
    # cover once stay in the model with y fixed at 1.
    settled = float(w[depth_fixed >= 2].sum())
    # Columns: x (cand), y (patterns), u (patterns); y of a depth-1 pattern is fixed at 1.
    n_col = cand.size + 2 * n_pat
    ycol = cand.size + np.arange(n_pat)
    ucol = ycol + n_pat
    blocks = RowBlocks()
    ic = inc.tocoo()
    blocks.add(n_pat, np.concatenate([np.arange(n_pat), np.arange(n_pat), ic.row]),
               np.concatenate([ycol, ucol, ic.col]),
               np.concatenate([np.ones(2 * n_pat), -np.ones(ic.nnz)]), -INF, d0.astype(float))
    blocks.add(n_pat, np.concatenate([np.arange(n_pat)] * 2), np.concatenate([ucol, ycol]),
               np.concatenate([np.ones(n_pat), -np.ones(n_pat)]), -INF, 0.0)
    k_free = p - int(rules.fixed.sum())
    blocks.add(1, np.zeros(cand.size, np.int64), np.arange(cand.size), 1.0, k_free, k_free)
    if min_covered is not None:
        need = float(min_covered) * total_w - settled - 1e-9 * max(total_w, 1.0)
        blocks.add(1, np.zeros(n_pat, np.int64), ycol, W, need, INF)
    _group_block(blocks, rules, cand)
    A, lo, hi = blocks.build(n_col)
    obj = np.concatenate([np.zeros(cand.size), theta * W, (1.0 - theta) * W])
    lower = np.concatenate([np.zeros(cand.size), (d0 >= 1).astype(float), np.zeros(n_pat)])
    integer = np.concatenate([np.ones(cand.size, np.int32), np.zeros(n_pat, np.int32),
                              np.ones(n_pat, np.int32)])
    offset = settled
    integral = is_integral(obj, [offset])
    out = solve_milp(obj, lower, np.ones(n_col), integer, A, lo, hi, maximise=True,
                     offset=offset, time_limit=clock.left(), mip_rel_gap=gap_tol,
                     mip_abs_gap=0.999 if integral else 1e-9, seed=seed, threads=threads,
                     verbose=verbose)
    details = {"patterns": n_pat, "candidates": int(cand.size), "nonzeros": int(A.nnz),
               "milp_seconds": out.seconds, "milp_nodes": out.nodes}
    if out.status == "infeasible":
        return infeasible(MODEL, reach.n_demand, note + (
            f"no choice of p={p} sites covers {float(min_covered):.4g} of the weight with the "
            "fixed, forbidden and group rules" if min_covered is not None else
            "no choice of sites meets p and the group minimums together"),
            clock.elapsed, unreachable, minimise=False, total_weight=total_w)
    if out.x is None:
        return no_solution(MODEL, "milp", reach.n_demand, out.bound,
                           note + f"no solution before the time limit ({out.message})",
                           seconds=clock.elapsed, unreachable=unreachable,
                           total_weight=total_w, details=details)
    mask = rules.fixed.copy()
    mask[cand[out.x[: cand.size] > 0.5]] = True
    depth = coverage_depth(within, mask)
    once, twice = depth >= 1, depth >= 2
    objective = theta * float(w[once].sum()) + (1.0 - theta) * float(w[twice].sum())
    status = "optimal" if out.status == "optimal" else "time_limit"
    bound = settle_bound(out.bound if np.isfinite(out.bound) else objective, objective, status,
                         integral, minimise=False)
    site, _ = within.nearest(mask)
    details.update(covered_twice=twice, covered_twice_weight=float(w[twice].sum()))
    return OptimizeResult(
        objective=objective, sites=np.flatnonzero(mask), assignment=site,
        gap=relative_gap(objective, bound), status=status, seconds=clock.elapsed, bound=bound,
        unreachable_demand=unreachable,
        message=note + ("backup coverage (Hogan & ReVelle 1986) solved by HiGHS"
                        if status == "optimal" else f"stopped early: {out.message}"),
        model=MODEL, method="milp", covered=once, covered_weight=float(w[once].sum()),
        total_weight=total_w, details=details)
