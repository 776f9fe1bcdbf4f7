"""p-median heuristics on a dense weighted cost matrix, and the Lagrangian lower bound.

* :func:`greedy_add` — open the site that lowers the total cost most, ``p`` times.
* :func:`interchange` — vertex substitution (Teitz & Bart 1968) with the swap evaluation of
  Whitaker (1983) / Resende & Werneck (2007): every (close r, open u) pair is priced at once
  from each row's nearest and second-nearest open site, and the best swap is made until none
  improves.
* :func:`lagrangian_bound` — subgradient optimisation of the Lagrangian relaxation of the
  assignment constraints (Beasley 1993). Its value is a valid lower bound; with an upper
  bound it also proves sites closed or open (reduced-cost fixing), which shrinks the MILP.

All functions work on ``C`` (rows × sites, already multiplied by the demand weight) plus
``base``: the cost of leaving a row unserved (a virtual site that is always open; a large
number when every row must be served).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .sites import select_cheapest


@dataclass(frozen=True)
class Choice:
    """Site rules in the heuristics' column numbering."""

    p: int
    fixed: np.ndarray  # bool per column
    group: np.ndarray | None
    group_min: np.ndarray | None

    def deficit(self, chosen: np.ndarray) -> np.ndarray | None:
        if self.group is None or self.group_min is None:
            return None
        counts = np.bincount(self.group[chosen], minlength=self.group_min.size)
        return np.maximum(self.group_min - counts, 0)


def total_cost(C: np.ndarray, base: np.ndarray, chosen: np.ndarray) -> float:
    """Sum over rows of the cheapest of the chosen columns and ``base``."""
    if not chosen.any():
        return float(base.sum())
    return float(np.minimum(C[:, chosen].min(axis=1), base).sum())


def greedy_add(C: np.ndarray, base: np.ndarray, rules: Choice) -> np.ndarray:
    """Greedy construction: fixed sites, then repeatedly the site with the largest saving.

    When the remaining picks are all needed to meet group minimums, only sites of groups
    still short are considered, so the result always satisfies the rules.
    """
    chosen = rules.fixed.copy()
    d1 = base.copy()
    if chosen.any():
        d1 = np.minimum(d1, C[:, chosen].min(axis=1))
    while chosen.sum() < rules.p:
        usable = ~chosen
        deficit = rules.deficit(chosen)
        left = rules.p - int(chosen.sum())
        if deficit is not None and deficit.sum() >= left:
            usable &= deficit[rules.group] > 0
        cols = np.flatnonzero(usable)
        saving = np.maximum(d1[:, None] - C[:, cols], 0.0).sum(axis=0)
        # Among equal savings, the lower column index wins (argmax takes the first).
        j = cols[int(np.argmax(saving))]
        chosen[j] = True
        d1 = np.minimum(d1, C[:, j])
    return chosen


def _two_nearest(C: np.ndarray, base: np.ndarray, cols: np.ndarray):
    """Per row: nearest chosen column (-1 for the base), its cost, and the second cost."""
    CS = C[:, cols]
    n = C.shape[0]
    if cols.size >= 2:
        part = np.argpartition(CS, 1, axis=1)[:, :2]
        a = CS[np.arange(n), part[:, 0]]
        b = CS[np.arange(n), part[:, 1]]
        swap = b < a
        first = np.where(swap, part[:, 1], part[:, 0])
        d1 = np.minimum(a, b)
        d2 = np.maximum(a, b)
    else:
        first = np.zeros(n, np.int64)
        d1 = CS[:, 0].copy()
        d2 = np.full(n, np.inf)
    near = cols[first]
    below = base < d1
    d2 = np.where(below, d1, np.minimum(d2, base))
    d1 = np.where(below, base, d1)
    near = np.where(below, -1, near)
    return near, d1, d2


def interchange(C: np.ndarray, base: np.ndarray, chosen: np.ndarray, rules: Choice,
                deadline: float = np.inf, max_swaps: int = 100_000) -> tuple[np.ndarray, int]:
    """Best-improvement vertex substitution until no swap lowers the cost.

    Returns the improved selection and the number of swaps made.
    """
    chosen = chosen.copy()
    n, m = C.shape
    swaps = 0
    while swaps < max_swaps and time.perf_counter() < deadline:
        cols = np.flatnonzero(chosen)
        near, d1, d2 = _two_nearest(C, base, cols)
        # Saving from opening u while keeping every chosen site.
        gain = np.maximum(d1[:, None] - C, 0.0).sum(axis=0)
        served = near >= 0
        slot = np.searchsorted(cols, near[served])
        loss = np.bincount(slot, weights=(d2 - d1)[served], minlength=cols.size)
        extra_rows = np.maximum(d2[served, None] - np.maximum(C[served], d1[served, None]), 0.0)
        onehot = sp.csr_array((np.ones(slot.size), (slot, np.arange(slot.size))),
                              shape=(cols.size, slot.size))
        extra = onehot @ extra_rows  # (chosen × all columns)
        delta = loss[:, None] - gain[None, :] - extra
        valid = np.broadcast_to(~chosen, delta.shape).copy()
        valid[rules.fixed[cols], :] = False
        if rules.group is not None and rules.group_min is not None:
            counts = np.bincount(rules.group[chosen], minlength=rules.group_min.size)
            tight = counts[rules.group[cols]] <= rules.group_min[rules.group[cols]]
            if tight.any():
                same = rules.group[cols][:, None] == rules.group[None, :]
                valid &= ~tight[:, None] | same
        delta = np.where(valid, delta, np.inf)
        k = int(np.argmin(delta))
        r, u = divmod(k, m)
        scale = max(1.0, float(d1.sum()))
        if not delta[r, u] < -1e-10 * scale:
            break
        chosen[cols[r]] = False
        chosen[u] = True
        swaps += 1
    return chosen, swaps


@dataclass(frozen=True)
class LagrangianBound:
    """Best Lagrangian lower bound found, and the best solution met on the way."""

    bound: float
    multipliers: np.ndarray
    site_score: np.ndarray  # rho_j at the best multipliers
    iterations: int
    upper: float  # cost of the best solution seen (the start one or a relaxed one)
    best: np.ndarray  # that solution (bool per column)
    relaxed: np.ndarray  # the sites the relaxation picks at the best multipliers


@dataclass(frozen=True)
class SortedPairs:
    """Reachable (row, column) pairs with weighted cost, each row sorted by cost (CSR)."""

    indptr: np.ndarray
    cols: np.ndarray
    wcost: np.ndarray
    n_cols: int

    def below(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entries with ``wcost < lam[row]``: their positions and rows.

        Rows are sorted, so these are prefixes, found by a bisection over all rows at once
        (O(n log m)) instead of touching every pair.
        """
        lo = self.indptr[:-1].copy()
        hi = self.indptr[1:].copy()
        while True:
            open_ = lo < hi
            if not open_.any():
                break
            mid = (lo + hi) // 2
            go = open_ & (self.wcost[np.minimum(mid, self.wcost.size - 1)] < lam)
            lo = np.where(go, mid + 1, lo)
            hi = np.where(open_ & ~go, mid, hi)
        lengths = lo - self.indptr[:-1]
        total = int(lengths.sum())
        rows = np.repeat(np.arange(lengths.size), lengths)
        pos = np.repeat(self.indptr[:-1] - (np.cumsum(lengths) - lengths), lengths)
        return pos + np.arange(total), rows


def _relaxed(pairs: SortedPairs, base, lam, rules, usable, deficit):
    pos, rows = pairs.below(lam)
    rho = np.bincount(pairs.cols[pos], weights=pairs.wcost[pos] - lam[rows],
                      minlength=pairs.n_cols)
    chosen = select_cheapest(rho, rules.p, rules.fixed, usable, rules.group, deficit)
    value = float(lam.sum() + np.minimum(base - lam, 0.0).sum() + rho[chosen].sum())
    hits = np.bincount(rows, weights=chosen[pairs.cols[pos]], minlength=lam.size)
    return value, rho, chosen, hits


def lagrangian_bound(C: np.ndarray, pairs: SortedPairs, base: np.ndarray, rules: Choice,
                     upper: float, incumbent: np.ndarray, start: np.ndarray, *, tol: float,
                     scale: np.ndarray | None = None, deadline: float = np.inf,
                     max_iter: int = 3000, patience: int = 30, polish: int = 8,
                     ) -> LagrangianBound:
    """Subgradient optimisation of ``max_λ L(λ)`` for the p-median.

    ``L(λ) = Σ λ_i + Σ_i min(0, base_i − λ_i) + min_{y feasible} Σ_j ρ_j y_j`` with
    ``ρ_j = Σ_i min(0, C_ij − λ_i)`` — a lower bound for every λ. The step follows Held, Wolfe
    & Crowder (π (UB − L) / gᵀDg along Dg, π halved after ``patience`` iterations without
    progress); ``D = diag(scale)`` (the demand weights) lets heavy rows move in proportion.
    Only pairs with ``C_ij < λ_i`` contribute, and in cost-sorted rows they are prefixes, so
    an iteration costs about O(n log m) plus the contributing pairs.

    The relaxation's own site sets are solutions too: once the step has settled, up to
    ``polish`` distinct ones are improved by :func:`interchange`, which often finds a
    better upper bound than the greedy start.

    Parameters
    ----------
    C : numpy.ndarray
        Dense weighted costs (to price and polish the relaxation's site sets).
    pairs : SortedPairs
        The same costs as sorted sparse rows (unreachable pairs absent).
    upper : float
        Cost of ``incumbent``, a known solution (the heuristic's).
    start : numpy.ndarray
        Initial multipliers, e.g. each row's cost in the known solution.
    tol : float
        Absolute tolerance: stop once ``upper − L ≤ tol``.
    """
    usable = np.ones(pairs.n_cols, bool)
    deficit0 = rules.deficit(rules.fixed)
    lam = np.asarray(start, float).copy()
    d = np.ones(lam.size) if scale is None else np.asarray(scale, float)
    best = -np.inf
    best_lam = lam.copy()
    best_rho: np.ndarray | None = None
    best_chosen = incumbent
    best_set = incumbent.copy()
    step = 2.0
    stall = 0
    it = 0
    seen: set[bytes] = set()
    for it in range(1, max_iter + 1):
        value, rho, chosen, hits = _relaxed(pairs, base, lam, rules, usable, deficit0)
        if best_rho is None or value > best + 1e-12 * max(1.0, abs(best)):
            best, best_lam, best_rho, best_chosen = value, lam.copy(), rho, chosen
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                step /= 2.0
                stall = 0
        if it % 10 == 0 and step <= 0.5 and len(seen) < polish:
            key = chosen.tobytes()
            if key not in seen:
                seen.add(key)
                cand, _ = interchange(C, base, chosen, rules, deadline=deadline)
                cost = total_cost(C, base, cand)
                if cost < upper:
                    upper, best_set = cost, cand
        elif it % 5 == 0:
            cost = total_cost(C, base, chosen)
            if cost < upper:
                upper, best_set = cost, chosen.copy()
        if upper - best <= tol or step < 1e-5 or time.perf_counter() > deadline:
            break
        g = 1.0 - hits - (base < lam)
        norm = float(g @ (d * g))
        if norm == 0.0:  # the relaxed solution is feasible, hence optimal for the relaxation
            break
        lam = lam + step * (upper - value) / norm * (d * g)
    if best_rho is None:  # no iteration ran (max_iter = 0): no site prices either
        best_rho = np.zeros(pairs.n_cols)
    return LagrangianBound(best, best_lam, best_rho, it, upper, best_set, best_chosen)


def fix_sites(lag: LagrangianBound, base: np.ndarray, rules: Choice, upper: float,
              tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Reduced-cost tests: columns that can be closed / opened without losing a solution
    cheaper than ``upper − tol``.

    The tests use the relaxation without group minimums (a weaker, still valid bound), so
    they stay simple sorted-prefix formulas.
    """
    rho, lam = lag.site_score, lag.multipliers
    m = rho.size
    close = np.zeros(m, bool)
    opened = np.zeros(m, bool)
    if not np.isfinite(upper):
        return close, opened
    free = np.flatnonzero(~rules.fixed)
    k = rules.p - int(rules.fixed.sum())
    if k <= 0 or free.size <= k:
        return close, opened
    const = float(lam.sum() + np.minimum(base - lam, 0.0).sum() + rho[rules.fixed].sum())
    order = free[np.lexsort((free, rho[free]))]
    top = order[:k]
    rest = order[k:]
    low = const + rho[top].sum()  # relaxation without group minimums
    cut = upper - tol
    # Forcing an unselected column in pushes out the dearest selected one.
    close[rest] = low - rho[top[-1]] + rho[rest] > cut
    # Forcing a selected column out lets the cheapest unselected one in.
    opened[top] = low - rho[top] + rho[rest[0]] > cut
    return close, opened


def radius_limits(C: np.ndarray, base: np.ndarray, lag: LagrangianBound, rules: Choice,
                  keep: np.ndarray, upper: float, tol: float) -> np.ndarray:
    """Per row, a cost below which it must be served in any solution cheaper than
    ``upper − tol`` (+inf when nothing can be said).

    If every column with ``C_ij < t`` is closed, the Lagrangian bound becomes
    ``const + (sum of the k cheapest ρ among the other columns)``; once that exceeds the
    cut, some column cheaper than ``t`` must be open. ``t`` is found by bisection over the
    row's distinct costs, for all rows at once. Only columns in ``keep`` are considered
    (the others are closed already). Group minimums are ignored (a valid relaxation).
    """
    n = C.shape[0]
    rho, lam = lag.site_score, lag.multipliers
    limits = np.full(n, np.inf)
    k = rules.p - int(rules.fixed.sum())
    free = np.flatnonzero(keep & ~rules.fixed)
    if not np.isfinite(upper) or k <= 0 or free.size <= k:
        return limits
    const = float(lam.sum() + np.minimum(base - lam, 0.0).sum() + rho[rules.fixed].sum())
    cut = upper - tol
    order = free[np.lexsort((free, rho[free]))]
    Co = C[:, order]  # columns in rho order
    r = rho[order]
    levels = np.sort(Co, axis=1)
    lo = np.zeros(n, np.int64)  # limit candidates: levels[:, idx]; bound(t) monotone in t
    hi = np.full(n, order.size)  # hi == size means "no limit found"

    def bound_at(t):
        avail = Co >= t[:, None]
        rank = np.cumsum(avail, axis=1)
        take = avail & (rank <= k)
        enough = rank[:, -1] >= k
        val = const + (take * r[None, :]).sum(axis=1)
        return np.where(enough, val, np.inf)

    # bisection for the smallest level index whose threshold already beats the cut
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        t = levels[np.arange(n), np.minimum(mid, order.size - 1)]
        ok = bound_at(t) > cut
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)
    found = hi < order.size
    limits[found] = levels[np.flatnonzero(found), hi[found]]
    return limits
