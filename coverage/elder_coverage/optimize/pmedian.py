"""p-median: open ``p`` sites so that the demand-weighted travel cost is least.

Uncapacitated (every row goes to its nearest open site), solved exactly in three steps:

1. greedy construction and vertex substitution give a good solution (upper bound);
2. the Lagrangian relaxation gives a lower bound and proves many sites closed (or open):
   no solution using them can beat the upper bound;
3. the radius formulation (:mod:`.radius`) over the remaining sites is solved by HiGHS,
   starting from the heuristic solution.

``method="heuristic"`` stops after step 2 and reports the Lagrangian bound; ``"auto"`` does
the same only when the radius model would exceed ``max_model_nonzeros``.

Capacitated (``capacity=``) uses the assignment formulation over reachable pairs, with
single (``split=False``) or split assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from elder_coverage._errors import SettingsError
from elder_coverage._validate import (
    NON_NEGATIVE,
    POSITIVE,
    Interval,
    count,
    number,
    one_of,
    optional_number,
    vector,
)

from .common import (
    DENSE_LIMIT,
    Clock,
    CostMatrix,
    GroupMinimum,
    SiteSet,
    is_integral,
)
from .heuristics import (
    Choice,
    LagrangianBound,
    SortedPairs,
    fix_sites,
    greedy_add,
    interchange,
    lagrangian_bound,
    radius_limits,
    total_cost,
)
from .highs import INF, RowBlocks, solve_milp
from .radius import radius_model
from .reach import Reach, as_reach
from .result import OptimizeResult, infeasible, no_solution, relative_gap, settle_bound
from .sites import SiteRules, select_cheapest, site_rules

METHODS = ("auto", "exact", "heuristic")
#: Radius models with more nonzeros than this are truncated per row and widened in rounds.
TRUNCATE_ABOVE = 50_000
#: HiGHS options for a MILP whose only job is to prove that no better solution exists.
PROOF_OPTIONS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_rins": False,
                 "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
                 "mip_heuristic_run_feasibility_jump": False}
MODEL = "p_median"


def p_median(
    cost: CostMatrix,
    p: int,
    *,
    weights: npt.ArrayLike | None = None,
    capacity: npt.ArrayLike | None = None,
    fixed: SiteSet | None = None,
    forbidden: SiteSet | None = None,
    groups: npt.ArrayLike | None = None,
    min_per_group: GroupMinimum | None = None,
    split: bool = False,
    method: Literal["auto", "exact", "heuristic"] = "auto",
    unassigned_penalty: float | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-6,
    max_model_nonzeros: int = 40_000_000,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> OptimizeResult:
    r"""Choose ``p`` sites minimising the demand-weighted cost to the nearest open site.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_demand, n_sites)
        Travel cost (minutes or metres). Dense NaN/+inf and absent sparse entries are
        unreachable pairs.
    p : int
        Number of open sites, fixed sites included.
    weights : array_like, optional
        Demand per row (persons); default 1.
    capacity : array_like, optional
        Capacity per site in the weight's unit (persons); +inf for no limit. Switches to the
        capacitated model.
    fixed, forbidden : array_like of int or bool, optional
        Sites that must open / may not open. Everything else is a candidate.
    time_limit : float, optional
        Seconds for the whole solve. When it runs out, the best solution so far is returned
        with status ``"time_limit"``, its lower bound and gap.
    groups, min_per_group
        Group label per site and the minimum number of open sites per group (int for every
        group with an allowed site, or a mapping label → count).
    split : bool
        Capacitated only: let a row's demand be split over several sites. Its
        ``assignment`` is then the site taking the largest share; the shares are in
        ``details["shares"]`` (sparse, rows × sites).
    method : {"auto", "exact", "heuristic"}
        ``"exact"``: prove optimality (within ``mip_gap``). ``"heuristic"``: greedy + vertex
        substitution with a Lagrangian lower bound, no MILP. ``"auto"``: exact unless the
        radius model would have more than ``max_model_nonzeros`` nonzeros.
    unassigned_penalty : float, optional
        Cost per unit of weight of leaving a row unserved (same unit as ``cost``). By
        default every row some allowed site reaches must be served; if ``p`` sites cannot
        reach them all the result is infeasible.
    mip_gap : float
        Relative optimality tolerance. With whole-number weighted costs, a gap below one
        unit also proves optimality.
    seed, threads, verbose
        HiGHS random seed, thread count and log switch (defaults are deterministic).

    Returns
    -------
    OptimizeResult
        ``objective`` is Σ weight × cost over the rows some allowed site reaches (plus the
        penalty for unserved rows); rows no allowed site reaches are in
        ``unreachable_demand``.

    Raises
    ------
    DataError
        A malformed cost matrix or weights (shape, negative or non-numeric costs).
    SettingsError
        An option out of range (``p``, ``time_limit``, bad site indices, unknown method …).

    Notes
    -----
    With ``x_j`` = 1 when site ``j`` opens, ``y_ij`` the share of row ``i`` served by ``j``,
    ``w_i`` the weights and ``c_ij`` the costs (ReVelle & Swain 1970):

    .. math::

        \min \sum_i \sum_j w_i c_{ij} y_{ij} \quad \text{s.t.} \quad
        \sum_j y_{ij} = 1 \;\forall i, \quad y_{ij} \le x_j, \quad
        \sum_j x_j = p, \quad x_j \in \{0, 1\}, \; y_{ij} \ge 0,

    plus ``x_j = 1`` for fixed and ``x_j = 0`` for forbidden sites and
    ``Σ_{j∈g} x_j ≥ min_g`` per group. With ``capacity``: ``Σ_i w_i y_ij ≤ cap_j x_j``
    (and ``y_ij ∈ {0, 1}`` unless ``split``). The exact method solves the equivalent radius
    formulation (García, Labbé & Marín 2011).

    Examples
    --------
    Three villages on a road at km 0, 3 and 7 with 10, 20 and 30 elders; every village is
    also a candidate site (costs in km):

    >>> import numpy as np
    >>> cost = np.array([[0.0, 3.0, 7.0], [3.0, 0.0, 4.0], [7.0, 4.0, 0.0]])
    >>> w = np.array([10.0, 20.0, 30.0])
    >>> res = p_median(cost, 1, weights=w)   # site 1: 10 × 3 + 30 × 4 = 150
    >>> res.sites.tolist(), float(res.objective), res.status
    ([1], 150.0, 'optimal')
    >>> p_median(cost, 2, weights=w).sites.tolist()   # {1, 2}: only 10 × 3 = 30 left
    [1, 2]
    """
    clock = Clock(optional_number("time_limit", time_limit, POSITIVE, unit="seconds"))
    reach = as_reach(cost, weights)
    p = count("p", p)
    one_of("method", method, METHODS)
    solver = _SolverOptions(number("mip_gap", mip_gap, Interval(0, 1, closed="left")), seed,
                            threads, verbose)
    penalty = (None if unassigned_penalty is None
               else number("unassigned_penalty", unassigned_penalty, NON_NEGATIVE))
    rules = site_rules(reach.n_sites, fixed, forbidden, groups, min_per_group)
    if capacity is not None:
        cap = vector("capacity", capacity, reach.n_sites, allow_inf=True)
        if method == "heuristic":
            raise SettingsError("method='heuristic' is for the uncapacitated p-median; "
                                "the capacitated model is always solved as a MILP")
        return _capacitated(reach, rules, p, cap, bool(split), penalty, clock, solver)
    if split:
        raise SettingsError("split=True needs capacity (without capacities rows go to the "
                            "nearest open site anyway)")
    return _uncapacitated(reach, rules, p, penalty, method, clock, max_model_nonzeros, solver)


# ---------------------------------------------------------------------------- helpers


def _finish(problem: _Problem, chosen_sites: np.ndarray, status: str, bound: float,
            message: str, method: str, details: dict) -> OptimizeResult:
    """Evaluate a site set on the true costs and package it (``message`` follows the note)."""
    reach, allowed_reach, penalty = problem.reach, problem.allowed_reach, problem.penalty
    open_mask = np.zeros(reach.n_sites, bool)
    open_mask[chosen_sites] = True
    site, dist = allowed_reach.nearest(open_mask)
    reachable = allowed_reach.reached()
    w = reach.weights
    if penalty is not None:
        unserved = reachable & (dist > penalty)
        site = np.where(unserved, -1, site)
        row_cost = np.where(unserved, penalty, dist)
    else:
        row_cost = dist
    # Zero-weight rows cost nothing even when no open site reaches them (0 × inf is NaN).
    counted = reachable & (w > 0)
    objective = float((w[counted] * row_cost[counted]).sum())
    bound = settle_bound(bound, objective, status, problem.integral)
    gap = relative_gap(objective, bound)
    return OptimizeResult(
        objective=objective, sites=np.flatnonzero(open_mask), assignment=site, gap=gap,
        status=status, seconds=problem.clock.elapsed, bound=bound,
        unreachable_demand=problem.unreachable, message=problem.note + message, model=MODEL,
        method=method, total_weight=float(w.sum()), details=details)


def _dense_costs(sub_indptr, sub_cols, sub_cost, w, n_cols, penalty):
    """Weighted dense cost matrix, with a prohibitive value for unreachable pairs.

    Without a penalty, the 'unserved' value exceeds the cost of any solution that serves
    every row, so the heuristics only leave a row unserved when they cannot help it.
    """
    n = sub_indptr.size - 1
    if n * n_cols > DENSE_LIMIT:
        raise SettingsError(
            f"the p-median heuristic needs a dense {n} × {n_cols} matrix "
            f"({n * n_cols:,} entries > {DENSE_LIMIT:,}); aggregate the demand rows "
            "(elder_coverage.optimize.aggregate_demand, or p_median_aggregated for "
            "straight-line costs, which also bounds the error) or reduce the candidate sites")
    rows = np.repeat(np.arange(n), np.diff(sub_indptr))
    wc = w[rows] * sub_cost
    worst = float(w.sum() * (sub_cost.max() if sub_cost.size else 0.0))
    big = 2.0 * worst + 1.0
    if penalty is not None:
        big = max(big, 2.0 * float((w * penalty).sum()) + 1.0)
    C = np.full((n, n_cols), big)
    C[rows, sub_cols] = wc
    base = np.full(n, big) if penalty is None else w * penalty
    return C, base, big


def _trivial(problem: _Problem, message: str) -> OptimizeResult:
    """No demand to serve: any site set meeting the rules is optimal."""
    rules = problem.rules
    chosen = select_cheapest(np.zeros(problem.reach.n_sites), problem.p, rules.fixed,
                             rules.allowed, rules.group,
                             rules.deficits() if rules.group is not None else None)
    return _finish(problem, np.flatnonzero(chosen), "optimal", 0.0, message, "trivial", {})


# ------------------------------------------------------------------ uncapacitated


def _prepare(reach: Reach, rules: SiteRules, p: int, penalty: float | None,
             clock: Clock) -> OptimizeResult | tuple[_Problem, np.ndarray]:
    """What both p-median models start from, or the result when there is nothing to solve.

    Returns the problem (reach restricted to allowed sites, the rows no allowed site
    reaches, the note about them; ``integral`` still False) and the rows to serve (reachable
    with weight > 0); or an infeasible / trivial :class:`OptimizeResult`.
    """
    allowed_reach = reach.only_sites(rules.allowed)
    reachable = allowed_reach.reached()
    unreachable = np.flatnonzero(~reachable)
    why = rules.problems(p)
    if why:
        return infeasible(MODEL, reach.n_demand, why, clock.elapsed, unreachable,
                          total_weight=float(reach.weights.sum()))
    active = np.flatnonzero(reachable & (reach.weights > 0))
    note = (f"{unreachable.size} demand rows reach no allowed site and are left out; "
            if unreachable.size else "")
    problem = _Problem(reach, allowed_reach, rules, p, penalty, clock, unreachable, note,
                       integral=False)
    if active.size == 0:
        return _trivial(problem, "no weighted demand to serve")
    return problem, active


def _uncapacitated(reach: Reach, rules: SiteRules, p: int, penalty: float | None, method: str,
                   clock: Clock, max_nnz: int, solver: _SolverOptions) -> OptimizeResult:
    gap_tol = solver.gap_tol
    ready = _prepare(reach, rules, p, penalty, clock)
    if isinstance(ready, OptimizeResult):
        return ready
    problem, active = ready
    allowed_reach, unreachable, note = problem.allowed_reach, problem.unreachable, problem.note
    cols = np.flatnonzero(rules.allowed)
    col_map = np.full(reach.n_sites, -1, np.int64)
    col_map[cols] = np.arange(cols.size)
    indptr, sub_cols, sub_cost = allowed_reach.take(active, col_map)
    w = reach.weights[active]
    integral = is_integral(w[np.repeat(np.arange(active.size), np.diff(indptr))] * sub_cost,
                           [] if penalty is None else w * penalty)
    problem = replace(problem, integral=integral)
    choice = Choice(p, rules.fixed[cols], None if rules.group is None else rules.group[cols],
                    None if rules.group is None else rules.group_min)

    # 1. Heuristic upper bound.
    C, base, big = _dense_costs(indptr, sub_cols, sub_cost, w, cols.size, penalty)
    chosen = greedy_add(C, base, choice)
    chosen, swaps = interchange(C, base, chosen, choice, deadline=clock.share(0.3))
    row_cost = np.minimum(C[:, chosen].min(axis=1), base)
    serves_all = bool((row_cost < big).all())
    upper = float(row_cost.sum()) if serves_all else np.inf
    abs_tol = 0.999 if integral else max(gap_tol * abs(upper) if np.isfinite(upper) else 0.0,
                                         1e-9)

    # 2. Lagrangian lower bound, a better solution if the relaxation finds one, site fixing.
    details = {"heuristic_objective": upper, "swaps": swaps,
               "heuristic_seconds": round(clock.elapsed, 3)}
    lower = -np.inf
    close = np.zeros(cols.size, bool)
    must = np.zeros(cols.size, bool)
    row_limit = None
    lag = None
    if serves_all:
        pairs = SortedPairs(indptr, sub_cols,
                            w[np.repeat(np.arange(active.size), np.diff(indptr))] * sub_cost,
                            cols.size)
        lag = lagrangian_bound(C, pairs, base, choice, upper, chosen, row_cost, tol=abs_tol,
                               scale=w, deadline=clock.share(0.5))
        lower = lag.bound
        # Local search from the relaxation's own site set often closes the last gap.
        for begin in (lag.best, lag.relaxed):
            if upper - lower <= abs_tol or np.array_equal(begin, chosen):
                continue
            cand, more = interchange(C, base, begin, choice, deadline=clock.share(0.3))
            swaps += more
            cost = total_cost(C, base, cand)
            if cost < upper:
                chosen, upper = cand, cost
        close, must = fix_sites(lag, base, choice, upper, abs_tol)
        details.update(lagrangian_bound=lower, lagrangian_iterations=lag.iterations,
                       lagrangian_upper=lag.upper, sites_fixed_closed=int(close.sum()),
                       sites_fixed_open=int(must.sum()))
        if upper - lower > abs_tol:
            details["lagrangian_seconds"] = round(clock.elapsed, 3)
            row_limit = radius_limits(C, base, lag, choice, ~close, upper, abs_tol)
            details["rows_with_radius_limit"] = int(np.isfinite(row_limit).sum())
    del C
    heur_sites = cols[chosen]
    proven = serves_all and upper - lower <= abs_tol
    if proven:
        return _finish(problem, heur_sites, "optimal", max(lower, upper - abs_tol),
                       "heuristic solution proven optimal by the Lagrangian bound",
                       "heuristic+lagrangian", details)

    keep = ~close
    nnz_est = _radius_size(sub_cols, keep)
    details["radius_nonzeros_estimate"] = nnz_est
    if method == "heuristic" or (method == "auto" and nnz_est > max_nnz):
        why = ("method='heuristic'" if method == "heuristic" else
               f"radius model too large ({nnz_est:,} > {max_nnz:,} nonzeros)")
        status = "feasible" if serves_all else "infeasible"
        if not serves_all:
            return infeasible(MODEL, reach.n_demand, note + "the heuristic could not serve "
                              f"every reachable row with p={p} sites ({why})", clock.elapsed,
                              unreachable, total_weight=float(reach.weights.sum()))
        return _finish(problem, heur_sites, status, lower, "greedy + vertex substitution; "
                       f"bound from Lagrangian relaxation ({why})", "heuristic+lagrangian",
                       details)

    # 3. Radius MILP over the sites the Lagrangian test could not close.
    kept = np.flatnonzero(keep)
    kmap = np.full(cols.size, -1, np.int64)
    kmap[kept] = np.arange(kept.size)
    k_indptr, k_cols, k_cost = Reach(active.size, cols.size, indptr, sub_cols, sub_cost,
                                     w).take(np.arange(active.size), kmap)
    fixed_k = (choice.fixed | must)[kept]
    group_k = None if choice.group is None else choice.group[kept]
    uncovered = (np.diff(k_indptr) == 0) if penalty is None else np.zeros(active.size, bool)
    reduced_infeasible = bool(uncovered.any()) or kept.size < p
    if (not reduced_infeasible and group_k is not None and choice.group_min is not None
            and choice.group_min.any()):
        per = np.bincount(group_k, minlength=choice.group_min.size)
        reduced_infeasible = bool((per < choice.group_min).any())
    if reduced_infeasible and serves_all:
        # Every solution outside the reduced site set costs at least upper - abs_tol.
        return _finish(problem, heur_sites, "optimal", upper - abs_tol, "heuristic solution "
                       "proven optimal (no better solution survives the Lagrangian site "
                       "tests)", "heuristic+lagrangian", details)
    if row_limit is not None:
        # A row must be served below its limit: when that leaves no site, no better
        # solution exists.
        first_cost = np.where(np.diff(k_indptr) > 0,
                              w * k_cost[np.minimum(k_indptr[:-1], max(k_cost.size - 1, 0))]
                              if k_cost.size else np.inf, np.inf)
        if penalty is None and np.any(first_cost >= row_limit) and serves_all:
            return _finish(problem, heur_sites, "optimal", upper - abs_tol, "heuristic "
                           "solution proven optimal by the Lagrangian radius tests",
                           "heuristic+lagrangian", details)
    details["preprocess_seconds"] = round(clock.elapsed, 3)
    rows = _Rows(cols, indptr, sub_cols, sub_cost, w)
    kept_sites = _KeptSites(keep, kept, k_indptr, k_cols, k_cost, fixed_k, group_k, choice)
    known = _Incumbent(chosen, upper, serves_all, abs_tol, lower, lag, row_limit, close, must)
    return _radius_rounds(problem, solver, rows, kept_sites, known, details)


@dataclass(frozen=True)
class _Problem:
    """The request as the p-median phases see it (validated, rows left out, rule notes)."""

    reach: Reach
    allowed_reach: Reach
    rules: SiteRules
    p: int
    penalty: float | None
    clock: Clock
    unreachable: np.ndarray
    note: str
    integral: bool


@dataclass(frozen=True)
class _SolverOptions:
    """HiGHS settings passed through from :func:`p_median`."""

    gap_tol: float
    seed: int
    threads: int
    verbose: bool


@dataclass(frozen=True)
class _Rows:
    """Served rows × allowed-site columns as sorted sparse rows (``cols``: site of a column)."""

    cols: np.ndarray
    indptr: np.ndarray
    sub_cols: np.ndarray
    sub_cost: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class _KeptSites:
    """The columns the Lagrangian tests could not close, renumbered for the radius MILP."""

    keep: np.ndarray  # bool per allowed column
    kept: np.ndarray  # allowed column of each MILP site
    indptr: np.ndarray
    cols: np.ndarray
    cost: np.ndarray
    fixed: np.ndarray
    group: np.ndarray | None
    choice: Choice


@dataclass(frozen=True)
class _Incumbent:
    """Best known solution and what the Lagrangian phase proved about the optimum."""

    chosen: np.ndarray
    upper: float
    serves_all: bool
    abs_tol: float
    lower: float
    lag: LagrangianBound | None
    row_limit: np.ndarray | None
    close: np.ndarray
    must: np.ndarray


def _widen_by_lp(problem: _Problem, km: _KeptSites, k_wc: np.ndarray, w: np.ndarray,
                 row_limit: np.ndarray | None, thr: np.ndarray,
                 max_rounds: int = 30) -> tuple[np.ndarray, float, int]:
    """Widen truncated rows until the LP relaxation no longer uses any truncation tail.

    LPs of the truncated model are far smaller than the full one; when no tail carries LP
    weight, the truncated LP equals the full LP, so the MILP rounds start from rows that
    are (nearly always) wide enough. Returns the thresholds, the last LP value (a valid lower
    bound) and the number of LPs solved.
    """
    k_indptr, k_cols, k_cost = km.indptr, km.cols, km.cost
    p, penalty, clock = problem.p, problem.penalty, problem.clock
    bound = -np.inf
    counts = np.diff(k_indptr)
    for rnd in range(1, max_rounds + 1):
        first = _first_above(k_indptr, k_wc, thr)
        trunc = np.where(first >= 0, k_cost[np.maximum(first, 0)], np.inf)
        pen_row = trunc if penalty is None else np.minimum(trunc, penalty)
        model = radius_model(k_indptr, k_cols, k_cost, w, p, km.fixed, group=km.group,
                             group_min=km.choice.group_min, penalty=pen_row,
                             row_limit=row_limit)
        out = solve_milp(model.cost, model.lower, model.upper,
                         np.zeros(model.cost.size, np.int32), model.matrix, model.row_lower,
                         model.row_upper, offset=model.offset, time_limit=clock.left(),
                         options={"solver": "ipm", "run_crossover": "off"})
        if out.status != "optimal" or out.x is None:
            return thr, bound, rnd
        bound = out.objective
        z = out.x[model.n_sites:]
        used = np.zeros(w.size, bool)
        used[model.z_row[model.z_tail & (z > 1e-4)]] = True
        used &= np.isfinite(trunc)
        if penalty is not None:
            used &= trunc < penalty  # a row resting on the real penalty is not truncated
        if not used.any():
            return thr, bound, rnd
        # Double the number of modelled entries of the rows leaning on their tail.
        start = k_indptr[:-1][used]
        have = np.where(first[used] >= 0, first[used] - start, counts[used])
        nxt = np.minimum(start + 2 * have + 1, k_indptr[1:][used] - 1)
        thr[used] = k_wc[nxt]
        at_end = nxt >= k_indptr[1:][used] - 1
        thr[np.flatnonzero(used)[at_end]] = np.inf
    return thr, bound, max_rounds


def _first_above(indptr, wc, thr):
    """Per row, the position of the first entry with weighted cost > thr (-1 if none)."""
    n = indptr.size - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    above = np.flatnonzero(wc > thr[row])
    first = np.full(n, -1, np.int64)
    if above.size:
        r = row[above]
        lead = np.ones(above.size, bool)
        lead[1:] = r[1:] != r[:-1]
        first[r[lead]] = above[lead]
    return first


def _radius_rounds(problem: _Problem, solver: _SolverOptions, rows: _Rows, km: _KeptSites,
                   known: _Incumbent, details: dict) -> OptimizeResult:
    """Solve truncated radius models, widening the rows that end on their tail.

    Each row is modelled exactly up to a threshold (its Lagrangian multiplier or its cost in
    the best known solution, whichever is larger); beyond it a tail variable charges the
    cost of the first level left out. That model is a relaxation, so its optimum is a lower
    bound; its sites are a solution, so their true cost is an upper bound. When a row of
    the MILP solution sits on its tail, its threshold moves out to that solution's cost
    and the model is solved again (García, Labbé & Marín 2011, section 4).
    """
    reach, rules, p = problem.reach, problem.rules, problem.p
    penalty, clock, unreachable = problem.penalty, problem.clock, problem.unreachable
    note, integral = problem.note, problem.integral
    gap_tol, seed, threads, verbose = solver.gap_tol, solver.seed, solver.threads, solver.verbose
    cols, indptr, sub_cols, sub_cost, w = (rows.cols, rows.indptr, rows.sub_cols, rows.sub_cost,
                                           rows.w)
    keep, kept, k_indptr, k_cols, k_cost = km.keep, km.kept, km.indptr, km.cols, km.cost
    fixed_k, group_k, choice = km.fixed, km.group, km.choice
    chosen, upper, serves_all, abs_tol = (known.chosen, known.upper, known.serves_all,
                                          known.abs_tol)
    lower, lag, row_limit, close, must = (known.lower, known.lag, known.row_limit, known.close,
                                          known.must)
    n = w.size
    full_row = np.repeat(np.arange(n), np.diff(indptr))
    full_wc = w[full_row] * sub_cost
    pen_w = None if penalty is None else w * penalty

    def row_costs(open_cols: np.ndarray) -> np.ndarray:
        hit = np.flatnonzero(open_cols[sub_cols])
        out = np.full(n, np.inf)
        if hit.size:
            r = full_row[hit]
            lead = np.ones(hit.size, bool)
            lead[1:] = r[1:] != r[:-1]
            out[r[lead]] = full_wc[hit[lead]]
        return out if pen_w is None else np.minimum(out, pen_w)

    k_row = np.repeat(np.arange(n), np.diff(k_indptr))
    k_wc = w[k_row] * k_cost
    best = chosen.copy()
    best_cost = upper if serves_all else np.inf
    hard = serves_all and (close.any() or must.any() or row_limit is not None)
    cutoff = upper - 0.5 * abs_tol if hard else None
    cut_bound = upper - abs_tol if hard else np.inf  # what every excluded solution costs
    global_lb = lower
    if 3 * k_cost.size <= TRUNCATE_ABOVE:
        thr = np.full(n, np.inf)  # small enough to model every level at once
    else:
        thr = row_costs(best)
        if lag is not None:
            thr = np.maximum(thr, lag.multipliers)
        thr[~np.isfinite(thr)] = np.inf
        thr, lp_bound, lp_rounds = _widen_by_lp(problem, km, k_wc, w, row_limit, thr)
        details.update(lp_rounds=lp_rounds, lp_bound=lp_bound,
                       lp_seconds=round(clock.elapsed, 3))
        global_lb = max(global_lb, min(lp_bound, cut_bound))
    heur_sites = cols[chosen]
    rounds = 0
    status, message = "time_limit", ""
    while True:
        rounds += 1
        first = _first_above(k_indptr, k_wc, thr)
        trunc = np.where(first >= 0, k_cost[np.maximum(first, 0)], np.inf)
        pen_row = trunc if penalty is None else np.minimum(trunc, penalty)
        model = radius_model(k_indptr, k_cols, k_cost, w, p, fixed_k, group=group_k,
                             group_min=choice.group_min, penalty=pen_row,
                             row_limit=row_limit)
        details.update(radius_rows=int(model.matrix.shape[0]),
                       radius_cols=int(model.cost.size), radius_nonzeros=int(model.matrix.nnz),
                       sites_in_milp=int(kept.size), radius_rounds=rounds)
        start = None
        if not hard and np.isfinite(best_cost) and np.all(keep[best]):
            start = model.start(best[kept])
            if not np.all(start[: kept.size][fixed_k] == 1.0):
                start = None
        opts = {}
        if cutoff is not None:
            # The reduced model only holds solutions cheaper than the known one: tell HiGHS.
            opts["objective_bound"] = cutoff
            # HiGHS then only has to prove that nothing cheaper exists; its primal
            # heuristics (sub-MIPs) cannot help and take most of the time on small-p
            # instances (pmed6: 10 s → 3 s, pmed16: 46 s → 22 s).
            opts.update(PROOF_OPTIONS)
        out = solve_milp(model.cost, model.lower, model.upper, model.integer, model.matrix,
                         model.row_lower, model.row_upper, offset=model.offset,
                         time_limit=clock.left(), mip_rel_gap=gap_tol,
                         mip_abs_gap=0.999 if integral else 1e-9, start=start, seed=seed,
                         threads=threads, verbose=verbose, options=opts)
        details["milp_seconds"] = details.get("milp_seconds", 0.0) + out.seconds
        details["milp_nodes"] = details.get("milp_nodes", 0) + out.nodes
        beyond_cut = cutoff is not None and out.x is not None and out.objective >= cutoff
        if out.status == "infeasible" or (out.status == "optimal" and beyond_cut):
            if serves_all:
                global_lb = max(global_lb, cut_bound)
                status = "optimal"
                message = ("no solution cheaper than the heuristic one survives the "
                           "Lagrangian tests and the radius MILP")
                break
            return infeasible(MODEL, reach.n_demand, note + _why_uncoverable(p, rules),
                              clock.elapsed, unreachable,
                              total_weight=float(reach.weights.sum()))
        if out.x is None:
            message = f"time limit: the radius MILP found no solution ({out.message})"
            if np.isfinite(out.bound):
                global_lb = max(global_lb, min(out.bound, cut_bound))
            if not np.isfinite(best_cost):
                return infeasible(MODEL, reach.n_demand, note + "time limit reached before "
                                  "any solution serving every reachable row was found",
                                  clock.elapsed, unreachable,
                                  total_weight=float(reach.weights.sum()))
            break
        open_cols = np.zeros(cols.size, bool)
        open_cols[kept[out.x[: kept.size] > 0.5]] = True
        rc = row_costs(open_cols)
        cost_s = float(rc.sum())
        if cost_s < best_cost:
            best, best_cost = open_cols, cost_s
        round_lb = min(out.bound if np.isfinite(out.bound) else -np.inf, cut_bound)
        global_lb = max(global_lb, round_lb)
        if out.status != "optimal":
            message = f"radius MILP stopped early: {out.message}"
            break
        if best_cost - global_lb <= abs_tol:
            status = "optimal"
            message = ("radius formulation (García, Labbé & Marín 2011) solved by HiGHS"
                       + (f" in {rounds} rounds of widening" if rounds > 1 else ""))
            break
        on_tail = np.isfinite(trunc) & (rc >= w * trunc * (1 - 1e-12))
        if not on_tail.any():
            # Optimal for the truncated model with no row on its tail: exact for the rows.
            status = "optimal"
            message = "radius formulation solved by HiGHS"
            break
        thr[on_tail] = rc[on_tail]
        if (left := clock.left()) is not None and left <= 0.011:
            message = "time limit between radius rounds"
            break
    sites = cols[best] if np.isfinite(best_cost) else heur_sites
    return _finish(problem, sites, status, global_lb, message, "radius-milp", details)


def _radius_size(cols, keep) -> int:
    """Upper estimate of the radius model's nonzeros (three per reachable kept pair)."""
    return int(3 * keep[cols].sum())


def _why_uncoverable(p: int, rules: SiteRules) -> str:
    return (f"no choice of p={p} sites (with the fixed, forbidden and group rules) reaches "
            "every demand row that some allowed site reaches; raise p, allow more sites, or "
            "pass unassigned_penalty to let rows go unserved")


# -------------------------------------------------------------------- capacitated


def _capacitated(reach: Reach, rules: SiteRules, p: int, cap: np.ndarray, split: bool,
                 penalty: float | None, clock: Clock, solver: _SolverOptions) -> OptimizeResult:
    ready = _prepare(reach, rules, p, penalty, clock)
    if isinstance(ready, OptimizeResult):
        return ready
    problem, active = ready
    allowed_reach, unreachable, note = problem.allowed_reach, problem.unreachable, problem.note
    total_w = float(reach.weights.sum())
    w = reach.weights[active]
    demand = float(w.sum())
    if penalty is None:
        cand_caps = np.sort(cap[rules.candidates])[::-1]
        best_cap = float(cap[rules.fixed].sum() + cand_caps[: p - int(rules.fixed.sum())].sum())
        if best_cap < demand * (1 - 1e-12):
            return infeasible(MODEL, reach.n_demand, note + (
                f"capacities too small: the reachable demand totals {demand:g} but the "
                f"largest capacities {p} allowed sites can have sum to {best_cap:g}"),
                clock.elapsed, unreachable, total_weight=total_w)
        if not split:
            cap_row = np.zeros(reach.n_demand)
            np.maximum.at(cap_row, allowed_reach.row_of_entry, cap[allowed_reach.indices])
            over = active[w > cap_row[active] * (1 + 1e-12)]
            if over.size:
                i = over[0]
                return infeasible(MODEL, reach.n_demand, note + (
                    f"demand row {i} (weight {reach.weights[i]:g}) exceeds the capacity of "
                    f"every site that reaches it (largest {cap_row[i]:g}); single assignment "
                    f"is impossible ({over.size} such rows) — use split=True or more capacity"),
                    clock.elapsed, unreachable, total_weight=total_w)

    cols = np.flatnonzero(rules.allowed)
    col_map = np.full(reach.n_sites, -1, np.int64)
    col_map[cols] = np.arange(cols.size)
    indptr, pc, pd = allowed_reach.take(active, col_map)
    n, m, P = active.size, cols.size, pc.size
    prow = np.repeat(np.arange(n), np.diff(indptr))
    integral = is_integral(w[prow] * pd, [] if penalty is None else w * penalty)
    n_u = n if penalty is not None else 0
    n_col = m + P + n_u
    xcol = m + np.arange(P)
    blocks = RowBlocks()
    # Every row is served once (or pays the penalty).
    r_assign = [prow]
    c_assign = [xcol]
    if n_u:
        r_assign.append(np.arange(n))
        c_assign.append(m + P + np.arange(n))
    blocks.add(n, np.concatenate(r_assign), np.concatenate(c_assign), 1.0, 1.0, 1.0)
    # Capacity: Σ_i w_i x_ij ≤ cap_j y_j (sites with finite capacity).
    capk = cap[cols]
    fin = np.isfinite(capk)
    fi = np.full(m, -1, np.int64)
    fi[fin] = np.arange(int(fin.sum()))
    sel = fi[pc] >= 0
    blocks.add(int(fin.sum()),
               np.concatenate([fi[pc[sel]], np.arange(int(fin.sum()))]),
               np.concatenate([xcol[sel], np.flatnonzero(fin)]),
               np.concatenate([w[prow[sel]], -capk[fin]]), -INF, 0.0)
    # x_ij ≤ y_j: tightens the relaxation (and links sites without a capacity).
    blocks.add(P, np.concatenate([np.arange(P), np.arange(P)]), np.concatenate([xcol, pc]),
               np.concatenate([np.ones(P), -np.ones(P)]), -INF, 0.0)
    blocks.add(1, np.zeros(m, np.int64), np.arange(m), 1.0, p, p)
    kgroup = None if rules.group is None else rules.group[cols]
    if kgroup is not None and rules.group_min.any():
        gs = np.flatnonzero(rules.group_min > 0)
        gi = np.full(rules.group_min.size, -1, np.int64)
        gi[gs] = np.arange(gs.size)
        s = np.flatnonzero(gi[kgroup] >= 0)
        blocks.add(gs.size, gi[kgroup[s]], s, 1.0, rules.group_min[gs], INF)
    A, lo, hi = blocks.build(n_col)
    cost_vec = np.concatenate([np.zeros(m), w[prow] * pd,
                               w * penalty if n_u else np.zeros(0)])
    lower = np.concatenate([rules.fixed[cols].astype(float), np.zeros(P + n_u)])
    upper = np.ones(n_col)
    integer = np.concatenate([np.ones(m, np.int32),
                              np.full(P, 0 if split else 1, np.int32),
                              np.full(n_u, 0 if split else 1, np.int32)])
    out = solve_milp(cost_vec, lower, upper, integer, A, lo, hi, time_limit=clock.left(),
                     mip_rel_gap=solver.gap_tol, mip_abs_gap=0.999 if integral else 1e-9,
                     seed=solver.seed, threads=solver.threads, verbose=solver.verbose)
    details = {"milp_seconds": out.seconds, "milp_nodes": out.nodes, "pairs": P}
    if out.status == "infeasible":
        return infeasible(MODEL, reach.n_demand, note + (
            "no choice of sites serves every reachable row within the capacities "
            f"(p={p}, {'split' if split else 'single'} assignment, fixed/forbidden/group rules "
            "applied)"), clock.elapsed, unreachable, total_weight=total_w)
    if out.x is None:
        return no_solution(MODEL, "assignment-milp", reach.n_demand, out.bound,
                           note + "time limit reached before a feasible capacitated solution "
                           "was found", seconds=clock.elapsed, unreachable=unreachable,
                           total_weight=total_w, details=details)
    x = np.clip(out.x, 0.0, 1.0)
    y = x[:m] > 0.5
    share = x[m:m + P]
    if not split:
        share = np.round(share)
    share = np.where(y[pc], share, 0.0)
    shares = sp.csr_array((share, (active[prow], cols[pc])), shape=(reach.n_demand, reach.n_sites))
    shares.eliminate_zeros()
    details["shares"] = shares
    objective = float((w[prow] * pd * share).sum())
    if n_u:
        unserved = np.clip(1.0 - np.bincount(prow, weights=share, minlength=n), 0.0, 1.0)
        objective += float((w * penalty * unserved).sum())
    assignment = np.full(reach.n_demand, -1, np.int64)
    order = np.lexsort((pc, -share, prow))
    first = np.ones(order.size, bool)
    first[1:] = prow[order][1:] != prow[order][:-1]
    top = order[first]
    top = top[share[top] > 1e-9]
    assignment[active[prow[top]]] = cols[pc[top]]
    status = "optimal" if out.status == "optimal" else "time_limit"
    bound = settle_bound(out.bound, objective, status, integral)
    return OptimizeResult(
        objective=objective, sites=cols[y], assignment=assignment,
        gap=relative_gap(objective, bound), status=status, seconds=clock.elapsed, bound=bound,
        unreachable_demand=unreachable,
        message=note + ("capacitated assignment MILP solved by HiGHS" if status == "optimal"
                        else f"capacitated MILP stopped early: {out.message}"),
        model=MODEL, method="assignment-milp", total_weight=total_w, details=details)
