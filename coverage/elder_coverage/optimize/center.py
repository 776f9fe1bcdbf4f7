"""p-center: open ``p`` sites so that the worst travel cost of any elder is least.

"No elder more than T minutes from a centre" is how planners state fairness; the p-center
gives the smallest such T that ``p`` sites can achieve, proven optimal.

Method (Minieka 1970; Daskin 2013, section 5.3): the optimal radius is one of the distinct
costs in the matrix. A radius ``r`` is achievable exactly when the fewest sites covering every
demand row within ``r`` (a set cover, :func:`~elder_coverage.optimize.set_cover`, with the same
site rules) number at most ``p``. The search keeps a proven lower radius (every row needs its
nearest allowed site, and every radius shown infeasible) and an achieved upper radius (a
farthest-first start, then each feasible cover's own worst cost, which is often well below the
radius tried), and bisects the distinct costs between them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from elder_coverage._validate import (
    POSITIVE,
    count,
    optional_number,
)

from .common import Clock, CostMatrix, GroupMinimum, SiteSet
from .covering import set_cover
from .reach import Reach, as_reach
from .result import OptimizeResult, infeasible, no_solution, relative_gap
from .sites import SiteRules, select_cheapest, site_rules

MODEL = "p_center"


def p_center(
    cost: CostMatrix,
    p: int,
    *,
    weights: npt.ArrayLike | None = None,
    fixed: SiteSet | None = None,
    forbidden: SiteSet | None = None,
    groups: npt.ArrayLike | None = None,
    min_per_group: GroupMinimum | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> OptimizeResult:
    r"""Choose ``p`` sites minimising the largest cost from a demand row to its nearest one.

    Formulation (unweighted p-center, as spopt's ``PCenter``)::

        minimise    W
        subject to  Σ_j x_ij = 1                 every demand row i with weight > 0
                    x_ij ≤ y_j                   only to open sites
                    Σ_j c_ij x_ij ≤ W            the worst cost
                    Σ_j y_j = p,   y_j ∈ {0, 1}  (fixed / forbidden / group rules on y)

    solved exactly by bisection over the distinct costs with one set cover per step.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost (minutes or metres). Dense NaN/+inf and absent sparse entries are
        unreachable pairs.
    p : int
        Number of open sites, fixed ones included (keyword-only).
    weights : array_like, optional
        Demand per row (persons). Only whether a row has weight > 0 matters: rows with no
        elders do not count towards the worst cost. Default 1 (every row counts).
    fixed, forbidden, groups, min_per_group
        Site rules, as in :func:`~elder_coverage.optimize.p_median`.
    time_limit : float, optional
        Seconds for the whole search. On expiry the best radius so far is returned with
        status ``"time_limit"`` and the proven lower radius as ``bound``.
    seed, threads, verbose
        HiGHS options of the set-cover steps.

    Returns
    -------
    OptimizeResult
        ``objective``: the worst cost (cost unit, e.g. minutes) from a counted row to its
        nearest open site; ``bound``: a proven lower bound on it; ``assignment``: nearest open
        site per row; ``details["set_cover_solves"]``. Rows no allowed site reaches are in
        ``unreachable_demand``; if ``p`` sites cannot reach every other counted row, the result
        is ``"infeasible"``.

    Notes
    -----
    With ``x_j`` = 1 when site ``j`` opens and ``y_ij`` = 1 when row ``i`` is served by ``j``:

    .. math::

        \min r \quad \text{s.t.} \quad \sum_j y_{ij} = 1, \quad y_{ij} \le x_j, \quad
        \sum_j c_{ij} y_{ij} \le r \;\forall i \text{ counted}, \quad \sum_j x_j = p,

    solved as a search over the candidate radii ``r ∈ {c_ij}`` with one set cover each (see
    the module docstring). Rows of weight 0 are not counted.

    Examples
    --------
    >>> import numpy as np
    >>> from elder_coverage.optimize import p_center
    >>> cost = np.array([[1.0, 9.0, 4.0], [2.0, 8.0, 3.0], [9.0, 1.0, 5.0], [8.0, 2.0, 6.0]])
    >>> res = p_center(cost, p=2)
    >>> res.status, res.objective, res.sites.tolist()
    ('optimal', 2.0, [0, 1])
    >>> p_center(cost, p=1).objective   # site 2 alone: worst row is 6 away
    6.0
    """
    clock = Clock(optional_number("time_limit", time_limit, POSITIVE, unit="seconds"))
    reach = as_reach(cost, weights)
    p = count("p", p)
    rules = site_rules(reach.n_sites, fixed, forbidden, groups, min_per_group)
    allowed = reach.only_sites(rules.allowed)
    reachable = allowed.reached()
    unreachable = np.flatnonzero(~reachable)
    total_w = float(reach.weights.sum())
    problem = rules.problems(p)
    if problem:
        return infeasible(MODEL, reach.n_demand, problem, clock.elapsed, unreachable,
                          total_weight=total_w)
    note = (f"{unreachable.size} demand rows reach no allowed site and are left out; "
            if unreachable.size else "")
    active = reachable & (reach.weights > 0)
    if not active.any():
        mask = select_cheapest(np.zeros(reach.n_sites), p, rules.fixed, rules.allowed,
                               rules.group, rules.deficits())
        return _finish(reach, allowed, active, mask, 0.0, "optimal", clock,
                       unreachable=unreachable,
                       message=note + "no weighted demand: any site set meeting the rules is "
                       "optimal", details={})
    # The radius search only needs whether a row counts: weight 1 for counted rows.
    counted = Reach(reach.n_demand, reach.n_sites, reach.indptr, reach.indices, reach.cost,
                    active.astype(float))
    rows_of = allowed.row_of_entry
    radii = np.unique(allowed.cost[active[rows_of]])
    # Every counted row needs some open site: its nearest allowed one bounds the radius.
    lo = int(np.searchsorted(radii, allowed.cost[allowed.indptr[:-1][active]].max()))
    best = _farthest_first(allowed, active, rules, p)
    best_r = _radius(allowed, active, best)
    hi = int(np.searchsorted(radii, best_r)) if np.isfinite(best_r) else radii.size - 1
    known = np.isfinite(best_r)
    details = {"start_radius": float(best_r), "set_cover_solves": 0}
    stopped = ""
    rule_args = {"fixed": rules.fixed, "forbidden": rules.forbidden,
                 "groups": None if rules.group is None else rules.group,
                 "min_per_group": _group_minimums(rules)}
    while lo < hi or not known:
        mid = hi if not known else (lo + hi) // 2
        left = clock.left()
        if left is not None and left <= 0.011:
            stopped = "time limit during the radius search"
            break
        res = set_cover(counted, float(radii[mid]), time_limit=left, seed=seed,
                        threads=threads, verbose=verbose, **rule_args)
        details["set_cover_solves"] += 1
        if res.feasible and res.sites.size <= p:
            mask = np.zeros(reach.n_sites, bool)
            mask[res.sites] = True
            best, best_r, known = mask, _radius(allowed, active, mask), True
            hi = int(np.searchsorted(radii, best_r))
        elif res.status == "infeasible" or res.bound > p:
            if not known:
                return infeasible(MODEL, reach.n_demand, note + (
                    f"no choice of p={p} sites (with the fixed, forbidden and group rules) "
                    "reaches every demand row that some allowed site reaches; raise p or allow "
                    "more sites"), clock.elapsed, unreachable, total_weight=total_w)
            lo = mid + 1
        else:
            stopped = f"set cover at radius {radii[mid]:g} undecided: {res.message}"
            break
    bound = float(radii[min(lo, radii.size - 1)])
    if not known:
        return no_solution(MODEL, "set-cover-bisection", reach.n_demand, bound,
                           note + stopped, seconds=clock.elapsed, unreachable=unreachable,
                           total_weight=total_w, details=details)
    best = _pad(best, rules, p)
    status = "optimal" if lo >= hi and not stopped else "time_limit"
    message = note + (f"radius search over {radii.size} distinct costs: "
                      f"{details['set_cover_solves']} set covers solved by HiGHS"
                      if status == "optimal" else stopped)
    return _finish(reach, allowed, active, best, min(bound, best_r), status, clock,
                   unreachable=unreachable, message=message, details=details)


def _group_minimums(rules: SiteRules):
    if not rules.has_group_minimums:
        return None
    return {g: int(k) for g, k in enumerate(rules.group_min) if k > 0}


def _radius(allowed: Reach, active: np.ndarray, mask: np.ndarray) -> float:
    """Worst cost from a counted row to its nearest open site (inf if one is not reached)."""
    _, dist = allowed.nearest(mask)
    return float(dist[active].max())


def _farthest_first(allowed: Reach, active: np.ndarray, rules: SiteRules,
                    p: int) -> np.ndarray:
    """Start: open the nearest free site of the currently worst-served row, p times.

    The metric 2-approximation of Gonzalez (1985) with sites; it only gives the search its
    first upper radius. Group minimums are left to the set covers.
    """
    mask = rules.fixed.copy()
    if rules.has_group_minimums:
        return np.zeros_like(mask)
    free = rules.candidates.copy()
    rows_of = allowed.row_of_entry
    while mask.sum() < p:
        _, dist = allowed.nearest(mask)
        dist = np.where(active, dist, -1.0)
        worst = int(np.argmax(dist))
        ent = np.arange(allowed.indptr[worst], allowed.indptr[worst + 1])
        ent = ent[free[allowed.indices[ent]]]
        if not ent.size:
            # The worst row has no free site left: open any free site reaching a counted row.
            ent = np.flatnonzero(free[allowed.indices] & active[rows_of])
            if not ent.size:
                break
        j = int(allowed.indices[ent[0]])
        mask[j], free[j] = True, False
    return mask


def _pad(mask: np.ndarray, rules: SiteRules, p: int) -> np.ndarray:
    """Open more allowed sites (lowest index first) until exactly ``p`` are open.

    Extra sites cannot make the worst cost larger; a cover with fewer sites than ``p``
    leaves them free.
    """
    if mask.sum() >= p:
        return mask
    return select_cheapest(np.zeros(mask.size), p, mask, rules.allowed, None, None)


def _finish(reach: Reach, allowed: Reach, active: np.ndarray, mask: np.ndarray,
            bound: float, status: str, clock: Clock, *, unreachable: np.ndarray, message: str,
            details: dict) -> OptimizeResult:
    site, dist = allowed.nearest(mask)
    objective = float(dist[active].max()) if active.any() else 0.0
    return OptimizeResult(
        objective=objective, sites=np.flatnonzero(mask), assignment=site,
        gap=relative_gap(objective, bound), status=status, seconds=clock.elapsed,
        bound=float(bound), unreachable_demand=unreachable, message=message, model=MODEL,
        method="set-cover-bisection", total_weight=float(reach.weights.sum()),
        details=details)
