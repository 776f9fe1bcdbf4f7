"""Covering models: maximal covering (MCLP) and set covering (LSCP), solved by HiGHS.

A demand row is covered when an open site is within ``limit`` (same unit as the cost). Rows
with the same set of candidate sites are merged (their weights add up) and rows already
covered by a fixed site leave the model, so the MILP only carries real choices.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from elder_coverage._errors import SettingsError
from elder_coverage._validate import (
    NON_NEGATIVE,
    POSITIVE,
    SHARE,
    Interval,
    count,
    number,
    optional_number,
    vector,
)

from .common import (
    Clock,
    CostMatrix,
    GroupMinimum,
    SiteSet,
    is_integral,
    merge_identical_rows,
)
from .highs import INF, RowBlocks, solve_milp
from .reach import Reach, as_reach, check_limit
from .result import OptimizeResult, infeasible, no_solution, relative_gap, settle_bound
from .sites import SiteRules, select_cheapest, site_rules

#: HiGHS options for a maximal-covering MILP that starts from the vertex-substitution
#: solution. Rows were already merged into patterns (our presolve), and with a good
#: incumbent HiGHS's sub-MIP heuristics mostly cost time: on 10,000 × 500 planar instances
#: (p = 50, 72-81 % covered) the solve went from 2.5-16.9 s to 1.0-5.4 s.
WITH_START_OPTIONS = {"presolve": "off", "mip_heuristic_effort": 0.0,
                      "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                      "mip_heuristic_run_root_reduced_cost": False}


def _patterns(reach: Reach, rows: np.ndarray, col_map: np.ndarray, n_cand: int,
              merge: bool = True):
    """Merge rows with identical candidate sets.

    Returns the incidence matrix (patterns × candidate columns, CSR with sorted indices)
    and the pattern of every given row. ``merge=False`` keeps one pattern per row.
    """
    indptr, cols, _ = reach.take(rows, col_map)
    inc = sp.csr_array((np.ones(cols.size), cols, indptr), shape=(rows.size, n_cand))
    inc.sum_duplicates()
    inc.sort_indices()
    if not merge:
        return inc, np.arange(rows.size)
    return merge_identical_rows(inc)


def _setup(cost, limit, weights, fixed, forbidden, groups, min_per_group):
    reach = as_reach(cost, weights)
    lim = check_limit(limit)
    rules = site_rules(reach.n_sites, fixed, forbidden, groups, min_per_group)
    within = reach.within(lim).only_sites(rules.allowed)
    reachable = within.reached()
    unreachable = np.flatnonzero(~reachable)
    fixed_cov = np.zeros(reach.n_demand, bool)
    if rules.fixed.any():
        fixed_cov[within.row_of_entry[rules.fixed[within.indices]]] = True
    return reach, rules, within, reachable, unreachable, fixed_cov


def _check_rules(model: str, p: int, reach: Reach, rules: SiteRules, unreachable: np.ndarray,
                 clock: Clock) -> OptimizeResult | str:
    """The infeasible result when no site set meets the rules with ``p`` open, else the note
    on rows no allowed site covers (maximising models with a fixed ``p``)."""
    problem = rules.problems(p)
    if problem:
        return infeasible(model, reach.n_demand, problem, clock.elapsed, unreachable,
                          minimise=False, total_weight=float(reach.weights.sum()))
    return (f"{unreachable.size} demand rows have no allowed site within the limit; "
            if unreachable.size else "")


def _finish(model: str, reach: Reach, within: Reach, sites_mask: np.ndarray, objective: float,
            status: str, bound: float, clock: Clock, *, unreachable: np.ndarray, message: str,
            details: dict) -> OptimizeResult:
    site, _ = within.nearest(sites_mask)
    covered = site >= 0
    w = reach.weights
    gap = relative_gap(objective, bound)
    return OptimizeResult(
        objective=float(objective), sites=np.flatnonzero(sites_mask), assignment=site, gap=gap,
        status=status, seconds=clock.elapsed, bound=float(bound),
        unreachable_demand=unreachable, message=message, model=model, method="milp",
        covered=covered, covered_weight=float(w[covered].sum()), total_weight=float(w.sum()),
        details=details)


def _group_block(blocks: RowBlocks, rules: SiteRules, cand: np.ndarray) -> None:
    """Per-group minimums over the candidate columns (fixed sites already counted)."""
    if rules.group is None or not rules.has_group_minimums:
        return
    deficit = rules.deficits()
    gs = np.flatnonzero(deficit > 0)
    if not gs.size:
        return
    gi = np.full(deficit.size, -1, np.int64)
    gi[gs] = np.arange(gs.size)
    g = rules.group[cand]
    sel = np.flatnonzero(gi[g] >= 0)
    blocks.add(gs.size, gi[g[sel]], sel, 1.0, deficit[gs], INF)


def _greedy_cover(inc: sp.csr_array, W: np.ndarray, need: float, k_max: int | None,
                  cost: np.ndarray, budget: float, forced: np.ndarray) -> np.ndarray:
    """Greedy start: add the candidate with the best newly-covered weight per cost."""
    n_pat, n_cand = inc.shape
    chosen = forced.copy()
    covered = np.zeros(n_pat, bool)
    if chosen.any():
        covered = (inc[:, np.flatnonzero(chosen)].sum(axis=1) > 0)
    csc = inc.tocsc()
    spent = float(cost[chosen].sum())
    got = float(W[covered].sum())
    while n_cand and got < need and (k_max is None or chosen.sum() < k_max):
        gain = csc.T @ np.where(covered, 0.0, W)
        ratio = np.where(chosen | (spent + cost > budget + 1e-9), -np.inf,
                         gain / np.maximum(cost, 1e-12))
        j = int(np.argmax(ratio))
        if not np.isfinite(ratio[j]) or gain[j] <= 0:
            break
        chosen[j] = True
        spent += float(cost[j])
        covered[csc[:, [j]].indices] = True
        got = float(W[covered].sum())
    return chosen


def max_coverage(
    cost: CostMatrix,
    p: int | None,
    limit: float,
    *,
    weights: npt.ArrayLike | None = None,
    fixed: SiteSet | None = None,
    forbidden: SiteSet | None = None,
    groups: npt.ArrayLike | None = None,
    min_per_group: GroupMinimum | None = None,
    budget: float | None = None,
    site_cost: npt.ArrayLike | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-6,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> OptimizeResult:
    r"""Maximal covering: open ``p`` sites (or sites within a budget) covering the most weight.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost (minutes or metres); NaN/inf or absent entries are unreachable.
    p : int or None
        Number of open sites, fixed ones included. May be None when ``budget`` is given.
    limit : float
        A row is covered by an open site with cost ≤ ``limit`` (inf: any reachable pair).
    weights : array_like, optional
        Demand per row (persons), default 1.
    fixed, forbidden, groups, min_per_group
        Site rules, as in :func:`p_median`.
    time_limit : float, optional
        Seconds; on expiry the best solution so far is returned (status ``"time_limit"``).
    budget : float, optional
        Maximum total ``site_cost`` of the open sites (fixed ones included): "the most
        elders covered within a budget". Combined with ``p`` both apply (at most ``p`` then
        means exactly ``p``).
    site_cost : array_like, optional
        Cost of opening each site (yuan, or any unit of ``budget``); default 1 per site.
    mip_gap, seed, threads, verbose
        HiGHS options, as in :func:`p_median`.

    Returns
    -------
    OptimizeResult
        ``objective`` = covered weight (persons), fixed sites' coverage included; ``bound``
        an upper bound on it.

    Notes
    -----
    With ``x_j`` = 1 when site ``j`` opens, ``z_i`` = 1 when row ``i`` is covered and
    ``N_i = {j : c_ij ≤ limit}`` (Church & ReVelle 1974):

    .. math::

        \max \sum_i w_i z_i \quad \text{s.t.} \quad z_i \le \sum_{j \in N_i} x_j \;\forall i,
        \quad \sum_j x_j = p \;\Big(\text{or} \sum_j s_j x_j \le \text{budget}\Big),
        \quad x_j, z_i \in \{0, 1\},

    plus the fixed, forbidden and per-group rules.

    Examples
    --------
    Three villages on a road at km 0, 3 and 7 with 10, 20 and 30 elders; every village is
    also a candidate site (costs in km):

    >>> import numpy as np
    >>> cost = np.array([[0.0, 3.0, 7.0], [3.0, 0.0, 4.0], [7.0, 4.0, 0.0]])
    >>> w = np.array([10.0, 20.0, 30.0])
    >>> res = max_coverage(cost, 1, 4.0, weights=w)   # site 1 reaches all three within 4 km
    >>> res.sites.tolist(), float(res.objective)
    ([1], 60.0)
    """
    clock = Clock(optional_number("time_limit", time_limit, POSITIVE, unit="seconds"))
    reach, rules, within, reachable, unreachable, fixed_cov = _setup(
        cost, limit, weights, fixed, forbidden, groups, min_per_group)
    gap_tol = number("mip_gap", mip_gap, Interval(0, 1, closed="left"))
    if p is None and budget is None:
        raise SettingsError("max_coverage needs p (number of sites) or budget (with site_cost)")
    p = None if p is None else count("p", p)
    budget_v = None if budget is None else number("budget", budget, NON_NEGATIVE)
    if site_cost is not None and budget is None:
        raise SettingsError("site_cost is only used with budget")
    sc = np.ones(reach.n_sites) if site_cost is None else vector("site_cost", site_cost,
                                                                 reach.n_sites)
    total_w = float(reach.weights.sum())
    problem = rules.problems(p)
    if not problem and budget_v is not None:
        k_min = max(rules.minimum_sites(), p or 0)
        cheapest = select_cheapest(sc, k_min, rules.fixed, rules.allowed, rules.group,
                                   rules.deficits() if rules.group is not None else None)
        need_cost = float(sc[cheapest].sum())
        if need_cost > budget_v * (1 + 1e-12) + 1e-12:
            problem = (f"budget {budget_v:g} is too small: the fixed sites, group minimums"
                       + (f" and p={p}" if p else "") + f" cost at least {need_cost:g}")
    if problem:
        return infeasible("max_coverage", reach.n_demand, problem, clock.elapsed, unreachable,
                          minimise=False, total_weight=total_w)
    cand = np.flatnonzero(rules.candidates)
    col_map = np.full(reach.n_sites, -1, np.int64)
    col_map[cand] = np.arange(cand.size)
    w = reach.weights
    fixed_w = float(w[fixed_cov].sum())
    rows = np.flatnonzero(reachable & ~fixed_cov & (w > 0))
    note = (f"{unreachable.size} demand rows have no allowed site within the limit; "
            if unreachable.size else "")
    n_fixed = int(rules.fixed.sum())
    k_free = None if p is None else p - n_fixed
    if rows.size and cand.size:
        inc, pattern = _patterns(within, rows, col_map, cand.size)
        W: np.ndarray = np.bincount(pattern, weights=w[rows], minlength=inc.shape[0])
    else:
        inc = sp.csr_array((0, cand.size))
        W = np.zeros(0)
    n_pat = inc.shape[0]
    n_col = cand.size + n_pat
    blocks = RowBlocks()
    # u_k ≤ Σ_{j covers k} y_j
    ic = inc.tocoo()
    blocks.add(n_pat, np.concatenate([np.arange(n_pat), ic.row]),
               np.concatenate([cand.size + np.arange(n_pat), ic.col]),
               np.concatenate([np.ones(n_pat), -np.ones(ic.nnz)]), -INF, 0.0)
    if k_free is not None:
        blocks.add(1, np.zeros(cand.size, np.int64), np.arange(cand.size), 1.0, k_free, k_free)
    fixed_cost = float(sc[rules.fixed].sum())
    if budget_v is not None:
        blocks.add(1, np.zeros(cand.size, np.int64), np.arange(cand.size), sc[cand], -INF,
                   budget_v - fixed_cost + 1e-9 * max(1.0, budget_v))
    _group_block(blocks, rules, cand)
    A, lo, hi = blocks.build(n_col)
    obj = np.concatenate([np.zeros(cand.size), W])
    lower = np.zeros(n_col)
    upper = np.ones(n_col)
    integer = np.concatenate([np.ones(cand.size, np.int32), np.zeros(n_pat, np.int32)])
    # Greedy start, completed to exactly p (and group minimums) when needed.
    start_y = _greedy_cover(inc, W, np.inf, k_free, sc[cand],
                            np.inf if budget_v is None else budget_v - fixed_cost,
                            np.zeros(cand.size, bool))
    start = None
    swapped = (budget_v is None and not rules.has_group_minimums and k_free is not None
               and int(start_y.sum()) == k_free)
    lp_note: dict = {}
    if swapped and k_free is not None:  # (swapped implies k_free; said again for mypy)
        start_y, _ = _swap_improve(inc, W, start_y, deadline=clock.share(0.2))
        if n_pat and _covered(inc, W, start_y) >= HIGH_COVERAGE * float(W.sum()):
            start_y, lp_note = _lp_start(inc, W, start_y, k_free, clock)
    if _start_ok(start_y, rules, cand, k_free, sc, budget_v, fixed_cost):
        covered_start = (inc @ start_y.astype(float)) > 0 if n_pat else np.zeros(0, bool)
        start = np.concatenate([start_y.astype(float), covered_start.astype(float)])
    integral = is_integral(W)
    out = solve_milp(obj, lower, upper, integer, A, lo, hi, maximise=True, offset=fixed_w,
                     time_limit=clock.left(), mip_rel_gap=gap_tol,
                     mip_abs_gap=0.999 if integral else 1e-9, start=start, seed=seed,
                     threads=threads, verbose=verbose,
                     options=WITH_START_OPTIONS if swapped and start is not None else None)
    details = {"patterns": n_pat, "candidates": int(cand.size), "nonzeros": int(A.nnz),
               "milp_seconds": out.seconds, "milp_nodes": out.nodes, **lp_note}
    if out.status == "infeasible":
        return infeasible("max_coverage", reach.n_demand, note + "no choice of sites meets "
                          "p, the budget and the group minimums together", clock.elapsed,
                          unreachable, minimise=False, total_weight=total_w)
    if out.x is None:
        return no_solution("max_coverage", "milp", reach.n_demand, out.bound,
                           note + f"no solution before the time limit ({out.message})",
                           seconds=clock.elapsed, unreachable=unreachable,
                           total_weight=total_w, details=details)
    y = out.x[: cand.size] > 0.5
    if p is None:
        y = _prune(inc, y, rules, cand)
    mask = rules.fixed.copy()
    mask[cand[y]] = True
    site, _ = within.nearest(mask)
    objective = float(w[site >= 0].sum())
    status = "optimal" if out.status == "optimal" else "time_limit"
    bound = settle_bound(out.bound if np.isfinite(out.bound) else objective, objective,
                         status, integral, minimise=False)
    return _finish("max_coverage", reach, within, mask, objective, status, bound, clock,
                   unreachable=unreachable,
                   message=note + ("maximal covering solved by HiGHS" if status == "optimal"
                                   else f"stopped early: {out.message}"),
                   details=details)


#: Share of the coverable weight the greedy + swap start covers above which the maximal
#: covering start is also taken from the LP relaxation. At high coverage the 1-swap local
#: optimum is poor and HiGHS's root takes long to better it: on the 10,000 × 500, p = 50,
#: 4 km instance (95 % covered) the greedy + swap start covered 114,950 elders and HiGHS
#: had not improved it after 300 s; LP rounding + swap gave 116,044 (LP bound 116,627) for
#: one interior-point LP. Below the threshold the LP would only add time.
HIGH_COVERAGE = 0.9


def _covered(inc: sp.csr_array, W: np.ndarray, y: np.ndarray) -> float:
    return float(W[(inc @ y.astype(float)) > 0].sum())


def _lp_start(inc: sp.csr_array, W: np.ndarray, start: np.ndarray, k: int,
              clock: Clock) -> tuple[np.ndarray, dict]:
    """Round the LP relaxation (the ``k`` largest site values) and improve it by swaps.

    Returns the better of that and ``start``, with the LP figures for ``details``.
    """
    n_pat, n_cand = inc.shape
    ic = inc.tocoo()
    blocks = RowBlocks()
    blocks.add(n_pat, np.concatenate([np.arange(n_pat), ic.row]),
               np.concatenate([n_cand + np.arange(n_pat), ic.col]),
               np.concatenate([np.ones(n_pat), -np.ones(ic.nnz)]), -INF, 0.0)
    blocks.add(1, np.zeros(n_cand, np.int64), np.arange(n_cand), 1.0, k, k)
    A, lo, hi = blocks.build(n_cand + n_pat)
    # Interior point without crossover: only the site values are needed, not a basis.
    lp = solve_milp(np.concatenate([np.zeros(n_cand), W]), np.zeros(n_cand + n_pat),
                    np.ones(n_cand + n_pat), np.zeros(n_cand + n_pat, np.int32), A, lo, hi,
                    maximise=True, time_limit=clock.left(),
                    options={"solver": "ipm", "run_crossover": "off"})
    if lp.x is None:
        return start, {"lp_start": "no LP solution"}
    order = np.argsort(-lp.x[:n_cand], kind="stable")
    y = np.zeros(n_cand, bool)
    y[order[:k]] = True
    y, _ = _swap_improve(inc, W, y, deadline=clock.share(0.2))
    got, had = _covered(inc, W, y), _covered(inc, W, start)
    note = {"lp_bound": lp.objective, "lp_start_covered": got, "swap_start_covered": had}
    return (y, note) if got > had else (start, note)


def _swap_improve(inc: sp.csr_array, W: np.ndarray, chosen: np.ndarray,
                  deadline: float = np.inf, max_swaps: int = 1000) -> tuple[np.ndarray, int]:
    """Best-improvement vertex substitution (Teitz & Bart) on a maximal-covering start.

    A better first incumbent lets HiGHS fix columns by reduced cost at the root instead of
    searching for the solution with sub-MIPs. Every pair (add ``j``, drop ``i``) is priced at
    once: gain of ``j`` on uncovered patterns, minus what only ``i`` covers, plus what only
    ``i`` covers that ``j`` covers too.
    """
    y = chosen.copy()
    if not inc.shape[0] or not y.any() or y.all():
        return y, 0
    csc = inc.tocsc()
    hits = inc @ y.astype(float)
    swaps = 0
    tol = 1e-9 * max(1.0, float(W.sum()))
    while swaps < max_swaps and time.perf_counter() < deadline:
        gain = csc.T @ np.where(hits == 0, W, 0.0)
        single = np.flatnonzero(hits == 1)
        inside = np.flatnonzero(y)
        loss = csc.T @ np.where(hits == 1, W, 0.0)
        sub = inc[single]
        both = (sub.T @ sp.diags_array(W[single]) @ sub[:, inside]).toarray()
        delta = gain[:, None] - loss[inside][None, :] + both
        delta[y] = -np.inf
        j, k = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[j, k] > tol:
            break
        i = inside[k]
        y[j], y[i] = True, False
        hits += csc[:, [j]].toarray().ravel() - csc[:, [i]].toarray().ravel()
        swaps += 1
    return y, swaps


def _start_ok(y, rules, cand, k_free, sc, budget, fixed_cost) -> bool:
    if k_free is not None and int(y.sum()) != k_free:
        return False
    if budget is not None and float(sc[cand][y].sum()) + fixed_cost > budget * (1 + 1e-12):
        return False
    if rules.has_group_minimums:
        mask = rules.fixed.copy()
        mask[cand[y]] = True
        counts = np.bincount(rules.group[mask], minlength=rules.group_min.size)
        return bool((counts >= rules.group_min).all())
    return True


def _prune(inc: sp.csr_array, y: np.ndarray, rules: SiteRules, cand: np.ndarray) -> np.ndarray:
    """Drop chosen sites that cover nothing the others do not (budget-only runs)."""
    y = y.copy()
    if not inc.shape[0]:
        hits = np.zeros(0)
    else:
        hits = inc @ y.astype(float)
    csc = inc.tocsc()
    for j in np.flatnonzero(y)[::-1]:
        col = csc[:, [j]].indices
        if np.all(hits[col] >= 2):
            if rules.has_group_minimums and rules.group is not None:
                g = rules.group[cand[j]]
                mask = rules.fixed.copy()
                mask[cand[y]] = True
                if np.sum(mask & (rules.group == g)) <= rules.group_min[g]:
                    continue
            y[j] = False
            hits[col] -= 1
    return y


def set_cover(
    cost: CostMatrix,
    limit: float,
    *,
    weights: npt.ArrayLike | None = None,
    fixed: SiteSet | None = None,
    forbidden: SiteSet | None = None,
    groups: npt.ArrayLike | None = None,
    min_per_group: GroupMinimum | None = None,
    coverage_target: float | None = None,
    site_cost: npt.ArrayLike | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-6,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> OptimizeResult:
    r"""Set covering: the fewest sites (or least ``site_cost``) covering the demand.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost; NaN/inf or absent entries are unreachable.
    limit : float
        Coverage limit in the cost's unit (inf: any reachable pair covers).
    weights : array_like, optional
        Demand per row (persons), default 1. Rows with weight 0 need no cover.
    fixed, forbidden, groups, min_per_group
        Site rules, as in :func:`p_median`.
    time_limit : float, optional
        Seconds; on expiry the best cover so far is returned (status ``"time_limit"``).
    coverage_target : float, optional
        Share (0–1) of the total weight (all rows, unreachable ones included) that must be
        covered: "the fewest sites to reach a coverage target". Without it, every row with
        weight > 0 that some allowed site reaches within ``limit`` is covered.
    site_cost : array_like, optional
        Opening cost per site; the objective becomes the total cost instead of the count.
    mip_gap, seed, threads, verbose
        HiGHS options, as in :func:`p_median`.

    Returns
    -------
    OptimizeResult
        ``objective`` = number of open sites (or their total ``site_cost``), fixed sites
        included. Rows no allowed site reaches within ``limit`` are in
        ``unreachable_demand`` (they do not make the model infeasible). A target that no
        choice reaches gives status ``"infeasible"`` with the largest reachable share.

    Notes
    -----
    With ``x_j`` = 1 when site ``j`` opens and ``N_i = {j : c_ij ≤ limit}`` (Toregas et al.
    1971):

    .. math::

        \min \sum_j s_j x_j \quad \text{s.t.} \quad \sum_{j \in N_i} x_j \ge 1
        \;\forall i \text{ reachable}, \quad x_j \in \{0, 1\},

    ``s_j = 1`` unless ``site_cost`` is given. With ``coverage_target`` the rows get
    ``z_i ≤ Σ_{j∈N_i} x_j`` and ``Σ_i w_i z_i ≥ target · Σ_i w_i`` instead.

    Examples
    --------
    Three villages on a road at km 0, 3 and 7 with 10, 20 and 30 elders; every village is
    also a candidate site (costs in km):

    >>> import numpy as np
    >>> cost = np.array([[0.0, 3.0, 7.0], [3.0, 0.0, 4.0], [7.0, 4.0, 0.0]])
    >>> w = np.array([10.0, 20.0, 30.0])
    >>> res = set_cover(cost, 3.0)     # village 2 needs its own site, 0 and 1 share one
    >>> float(res.objective), 2 in res.sites
    (2.0, True)
    >>> set_cover(cost, 4.0).sites.tolist()
    [1]
    """
    clock = Clock(optional_number("time_limit", time_limit, POSITIVE, unit="seconds"))
    reach, rules, within, reachable, unreachable, fixed_cov = _setup(
        cost, limit, weights, fixed, forbidden, groups, min_per_group)
    gap_tol = number("mip_gap", mip_gap, Interval(0, 1, closed="left"))
    sc = np.ones(reach.n_sites) if site_cost is None else vector("site_cost", site_cost,
                                                                 reach.n_sites)
    w = reach.weights
    total_w = float(w.sum())
    target = (None if coverage_target is None
              else number("coverage_target", coverage_target, SHARE))
    problem = rules.problems(None)
    if problem:
        return infeasible("set_cover", reach.n_demand, problem, clock.elapsed, unreachable,
                          total_weight=total_w)
    note = (f"{unreachable.size} demand rows have no allowed site within the limit and are "
            "reported, not covered; " if unreachable.size else "")
    reach_w = float(w[reachable].sum())
    need = None
    if target is not None:
        need = target * total_w
        if need > reach_w + 1e-9 * max(total_w, 1.0):
            share = reach_w / total_w if total_w > 0 else 0.0
            return infeasible("set_cover", reach.n_demand, note + (
                f"coverage_target {target:.4g} cannot be met: at most {share:.4%} of the total "
                f"weight ({reach_w:g} of {total_w:g}) is within the limit of an allowed site"),
                clock.elapsed, unreachable, total_weight=total_w)
    cand = np.flatnonzero(rules.candidates)
    col_map = np.full(reach.n_sites, -1, np.int64)
    col_map[cand] = np.arange(cand.size)
    rows = np.flatnonzero(reachable & ~fixed_cov & (w > 0))
    if rows.size:
        inc, pattern = _patterns(within, rows, col_map, cand.size)
        W: np.ndarray = np.bincount(pattern, weights=w[rows], minlength=inc.shape[0])
    else:
        inc = sp.csr_array((0, cand.size))
        W = np.zeros(0)
    n_pat = inc.shape[0]
    blocks = RowBlocks()
    ic = inc.tocoo()
    fixed_w = float(w[fixed_cov].sum())
    col_lo, col_hi = np.zeros(cand.size), np.ones(cand.size)
    forced = np.zeros(cand.size, bool)
    if need is None:
        inc, W, forced, dropped, reduced = _reduce_cover(
            inc, W, sc[cand], columns=not rules.has_group_minimums)
        col_lo[forced], col_hi[dropped] = 1.0, 0.0
        n_pat = inc.shape[0]
        ic = inc.tocoo()
        n_col = cand.size
        blocks.add(n_pat, ic.row, ic.col, 1.0, 1.0, INF)
        obj = sc[cand].copy()
        integer = np.ones(n_col, np.int32)
    else:
        n_col = cand.size + n_pat
        blocks.add(n_pat, np.concatenate([np.arange(n_pat), ic.row]),
                   np.concatenate([cand.size + np.arange(n_pat), ic.col]),
                   np.concatenate([np.ones(n_pat), -np.ones(ic.nnz)]), -INF, 0.0)
        rest = need - fixed_w - 1e-9 * max(total_w, 1.0)
        blocks.add(1, np.zeros(n_pat, np.int64), cand.size + np.arange(n_pat), W,
                   max(rest, -INF), INF)
        obj = np.concatenate([sc[cand], np.zeros(n_pat)])
        integer = np.concatenate([np.ones(cand.size, np.int32), np.zeros(n_pat, np.int32)])
    _group_block(blocks, rules, cand)
    A, lo, hi = blocks.build(n_col)
    goal = float(W.sum()) if need is None else need - fixed_w
    start_y = _greedy_cover(inc, W if need is not None else np.ones(n_pat), goal - 1e-9 *
                            max(total_w, 1.0) if need is not None else float(n_pat), None,
                            sc[cand], np.inf, forced)
    start_y = _fill_groups(start_y, rules, cand, sc)
    cov = (inc @ start_y.astype(float)) > 0 if n_pat else np.zeros(0, bool)
    start = start_y.astype(float) if need is None else np.concatenate(
        [start_y.astype(float), cov.astype(float)])
    fixed_obj = float(sc[rules.fixed].sum())
    integral = is_integral(sc[cand])
    lower = np.concatenate([col_lo, np.zeros(n_col - cand.size)])
    upper = np.concatenate([col_hi, np.ones(n_col - cand.size)])
    out = solve_milp(obj, lower, upper, integer, A, lo, hi,
                     offset=fixed_obj, time_limit=clock.left(), mip_rel_gap=gap_tol,
                     mip_abs_gap=0.999 if integral else 1e-9, start=start, seed=seed,
                     threads=threads, verbose=verbose)
    details = {"patterns": n_pat, "candidates": int(cand.size), "nonzeros": int(A.nnz),
               "milp_seconds": out.seconds, "milp_nodes": out.nodes}
    if need is None:
        details.update(reduced)
    if out.status == "infeasible":
        return infeasible("set_cover", reach.n_demand, note + "no choice of sites meets the "
                          "cover, target and group rules together", clock.elapsed, unreachable,
                          total_weight=total_w)
    if out.x is None:
        return no_solution("set_cover", "milp", reach.n_demand, out.bound,
                           note + f"no cover before the time limit ({out.message})",
                           seconds=clock.elapsed, unreachable=unreachable,
                           total_weight=total_w, details=details)
    y = out.x[: cand.size] > 0.5
    mask = rules.fixed.copy()
    mask[cand[y]] = True
    objective = float(sc[mask].sum())
    status = "optimal" if out.status == "optimal" else "time_limit"
    bound = settle_bound(out.bound if np.isfinite(out.bound) else objective, objective,
                         status, integral)
    what = ("every reachable row with weight > 0" if need is None
            else f"{target:.4g} of the total weight")
    message = note + (f"set cover of {what} solved by HiGHS" if status == "optimal"
                      else f"stopped early: {out.message}")
    if not (reachable & (w > 0)).any():
        # "Optimal with no sites" would read as "nothing needs building" when in fact no
        # allowed site can serve anybody within the limit.
        status = "nothing_to_cover"
        message = (note + "nothing to cover: no demand row with weight > 0 is within the "
                   "limit of an allowed site; only the sites the rules require are open")
    return _finish("set_cover", reach, within, mask, objective, status, bound, clock,
                   unreachable=unreachable, message=message, details=details)


def _reduce_cover(inc: sp.csr_array, W: np.ndarray, cost: np.ndarray, *, columns: bool):
    """Classic set-cover reductions (Toregas & ReVelle 1973; Beasley 1987), repeated to a
    fixed point: a pattern with one candidate makes it essential (open, its patterns are
    covered); a pattern whose candidates include all of another's is implied by it (dropped);
    a candidate whose patterns another no dearer candidate also covers is dominated (closed;
    only with ``columns``, i.e. no group minimums that could need it).

    Containment is read off the overlap counts ``inc @ inc.T`` (and ``inc.T @ inc``): set
    ``a`` lies in set ``b`` when their overlap equals the size of ``a``. Identical sets keep
    the lower index. Returns the reduced incidence (dropped columns zeroed), its pattern
    weights, the essential and dominated candidate masks and counts for ``details``.
    """
    n_cand = inc.shape[1]
    forced = np.zeros(n_cand, bool)
    dropped = np.zeros(n_cand, bool)
    counts = {"essential_sites": 0, "dominated_sites": 0, "implied_patterns": 0}
    inc = sp.csr_array(inc, dtype=np.float64)
    while inc.shape[0]:
        size = np.diff(inc.indptr)
        single = np.flatnonzero(size == 1)
        if single.size:
            ess = np.unique(inc.indices[inc.indptr[single]])
            forced[ess] = True
            counts["essential_sites"] += ess.size
            hit = (inc @ forced.astype(float)) > 0
            inc, W = inc[~hit], W[~hit]
            continue
        keep = ~_contains_another(inc, size)
        changed = not keep.all()
        counts["implied_patterns"] += int((~keep).sum())
        inc, W = inc[keep], W[keep]
        if columns and inc.shape[0]:
            csc = inc.T.tocsr()
            dom = _contains_another(csc, np.diff(csc.indptr), cost=cost, reverse=True)
            dom &= ~dropped & ~forced
            if dom.any():
                dropped |= dom
                counts["dominated_sites"] += int(dom.sum())
                inc = inc @ sp.diags_array((~dom).astype(float))
                inc.eliminate_zeros()
                changed = True
        if not changed:
            break
    inc = sp.csr_array(inc)
    inc.sort_indices()
    return inc, W, forced, dropped, counts


def _contains_another(sets: sp.csr_array, size: np.ndarray, cost: np.ndarray | None = None,
                      reverse: bool = False) -> np.ndarray:
    """Per row ``a``: is there another row ``b`` with set(b) ⊆ set(a) (``reverse``: ⊇,
    with ``cost[b] ≤ cost[a]``)? Empty rows are never reported; identical sets keep the
    lower index."""
    overlap = (sets @ sets.T).tocoo()
    a, b, k = overlap.row, overlap.col, overlap.data
    inner = size[a] if reverse else size[b]  # the set that must lie inside the other
    ok = (a != b) & (np.abs(k - inner) < 0.5) & (size[a] > 0)
    same = size[a] == size[b]
    ok &= ~same | (b < a)
    if cost is not None:
        ok &= cost[b] <= cost[a]
        # With identical sets the dearer one goes; at equal cost the later index goes.
        ok &= ~same | (cost[b] < cost[a]) | (b < a)
    out = np.zeros(sets.shape[0], bool)
    out[a[ok]] = True
    return out


def _fill_groups(y: np.ndarray, rules: SiteRules, cand: np.ndarray, sc: np.ndarray):
    """Add the cheapest candidates of groups still below their minimum."""
    if not rules.has_group_minimums or rules.group is None:
        return y
    mask = rules.fixed.copy()
    mask[cand[y]] = True
    counts = np.bincount(rules.group[mask], minlength=rules.group_min.size)
    deficit = np.maximum(rules.group_min - counts, 0)
    extra = select_cheapest(sc, int(mask.sum() + deficit.sum()), mask, rules.allowed,
                            rules.group, deficit)
    out = y.copy()
    out[np.flatnonzero(extra[cand])] = True
    return out
