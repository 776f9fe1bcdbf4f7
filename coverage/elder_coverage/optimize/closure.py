r"""The "close every failing centre unless needed" model, with beds and coverage together.

Closing a centre is only possible if two things still hold: today's covered elders stay
covered up to the target, and the closed centre's residents fit into spare beds of the
centres that stay open (within a road distance). Deciding the two separately can keep a
centre for coverage that was not needed for beds, or close one whose residents then have
nowhere to go, so both are in one mixed-integer programme, solved with HiGHS.

Variables: ``y_j ∈ {0, 1}`` failing centre ``j`` is kept (passing centres always are);
``z_g ∈ [0, 1]`` demand group ``g`` (cells served today only by failing centres, grouped by
which failing centres serve them, :func:`closure_groups`) stays covered; ``x_jk ≥ 0``
residents moved from failing ``j`` to receiver ``k`` within reach (``d_jk`` km):

.. math::

    \min\; & B \sum_j y_j + \sum_{j,k} d_{jk} x_{jk} \\
    \text{s.t.}\; & z_g \le \sum_{j \in g} y_j \quad \forall g, \qquad
                     \sum_g w_g z_g \ge \text{need}, \\
    & \sum_k x_{jk} = R_j (1 - y_j) \quad \forall j, \\
    & \sum_j x_{jk} \le S_k \;(k \text{ passing}), \qquad
      \sum_j x_{jk} \le S_k y_k \;(k \text{ failing}),

with ``B`` larger than any transport cost, i.e. fewest centres kept first, then least
resident-kilometres (``w_g`` elders, ``R_j`` residents, ``S_k`` spare beds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .common import merge_identical_rows
from .highs import solve_milp
from .result import relative_gap


def closure_groups(serves: sp.csr_array, weights: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
    """Demand groups of the closure model: rows served by the same failing centres.

    Parameters
    ----------
    serves : scipy.sparse.csr_array
        (n_rows × n_failing) a stored entry where a failing centre serves the row; rows
        that no failing centre serves must already be left out.
    weights : ndarray
        Elders of each row (persons).

    Returns
    -------
    groups : scipy.sparse.csr_array
        (n_groups × n_failing) 1 where a failing centre serves the group; groups in order
        of their first row.
    group_weight : ndarray
        Elders of each group (persons).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> serves = sp.csr_array(np.array([[1, 0], [0, 1], [1, 0]]))
    >>> groups, w = closure_groups(serves, np.array([2.0, 5.0, 3.0]))
    >>> groups.toarray().tolist(), w.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [5.0, 5.0])
    """
    pattern = sp.csr_array(serves, dtype=float, copy=True)
    pattern.data[:] = 1.0
    groups, row_group = merge_identical_rows(pattern)
    groups.data[:] = 1.0  # a duplicate stored pair was summed; membership is what counts
    weight = np.bincount(row_group, weights=np.asarray(weights, float),
                         minlength=groups.shape[0])
    return groups, weight


@dataclass(frozen=True)
class ClosureSolution:
    """Kept failing centres, resident flows and solver facts."""

    keep: np.ndarray  # bool per failing centre
    flows: np.ndarray  # (n_failing × n_receivers) persons
    status: str
    objective: float
    gap: float
    seconds: float
    message: str


def solve_closure(
    groups: sp.csr_array,
    group_weight: np.ndarray,
    need: float,
    residents: np.ndarray,
    spare: np.ndarray,
    receiver_failing: np.ndarray,
    dist_km: np.ndarray,
    *,
    time_limit: float | None = 60.0,
) -> ClosureSolution:
    """Solve the closure model (formulation in the module docstring).

    Parameters
    ----------
    groups : scipy.sparse.csr_array
        (n_groups × n_failing) 1 where a failing centre serves the group.
    group_weight : ndarray
        Elders of each group (persons).
    need : float
        Elders of the groups that must stay covered (persons); ≤ 0 for no constraint.
    residents : ndarray
        Residents of each failing centre (persons).
    spare : ndarray
        Spare beds of each receiver (persons).
    receiver_failing : ndarray of int
        For each receiver, the failing-centre index it is (−1 for a passing centre).
    dist_km : ndarray
        (n_failing × n_receivers) road km; inf where a move is not allowed.
    time_limit : float, optional
        Seconds.

    Returns
    -------
    ClosureSolution
        ``status`` "optimal", "time_limit" (best found, with gap) or "infeasible" (with the
        reason in ``message``).

    Examples
    --------
    One failing centre (2 residents) is the only one serving a group of 5 elders; a passing
    centre 4 km away has 3 spare beds. With no coverage target it closes and its residents
    move (2 × 4 = 8 resident-km); if the 5 elders must stay covered, it is kept.

    >>> import numpy as np, scipy.sparse as sp
    >>> args = (sp.csr_array(np.ones((1, 1))), np.array([5.0]))
    >>> beds = (np.array([2]), np.array([0, 3]), np.array([0, -1]), np.array([[np.inf, 4.0]]))
    >>> sol = solve_closure(*args, 0.0, *beds)
    >>> sol.status, sol.keep.tolist(), sol.flows.tolist(), float(sol.objective)
    ('optimal', [False], [[0, 2]], 8.0)
    >>> solve_closure(*args, 5.0, *beds).keep.tolist()
    [True]
    """
    t0 = time.perf_counter()
    n_f = len(residents)
    n_g = groups.shape[0]
    n_r = len(spare)
    # A failing centre cannot receive its own residents.
    allowed = np.isfinite(dist_km)
    for k, j in enumerate(receiver_failing):
        if j >= 0:
            allowed[j, k] = False
    fr, to = np.nonzero(allowed)
    n_x = fr.size
    big = float(np.sum(residents) * (np.max(dist_km[allowed]) if n_x else 0.0) + 1.0)
    # Columns: y (n_f), z (n_g), x (n_x).
    cost = np.concatenate([np.full(n_f, big), np.zeros(n_g), dist_km[fr, to]])
    lower = np.zeros(n_f + n_g + n_x)
    upper = np.concatenate([np.ones(n_f + n_g), np.full(n_x, np.inf)])
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0
    g_coo = sp.coo_array(groups)
    # z_g - Σ_{j∈g} y_j ≤ 0
    rows += [np.arange(n_g), r + g_coo.row]
    cols += [n_f + np.arange(n_g), g_coo.col]
    vals += [np.ones(n_g), -np.ones(g_coo.nnz)]
    lo += [np.full(n_g, -np.inf)]
    hi += [np.zeros(n_g)]
    r += n_g
    if need > 0 and n_g:
        rows.append(np.full(n_g, r))
        cols.append(n_f + np.arange(n_g))
        vals.append(np.asarray(group_weight, float))
        lo.append(np.array([need]))
        hi.append(np.array([np.inf]))
        r += 1
    # Σ_k x_jk + R_j y_j = R_j
    rows += [r + fr, r + np.arange(n_f)]
    cols += [n_f + n_g + np.arange(n_x), np.arange(n_f)]
    vals += [np.ones(n_x), np.asarray(residents, float)]
    lo.append(np.asarray(residents, float))
    hi.append(np.asarray(residents, float))
    r += n_f
    # Σ_j x_jk - S_k y_k(if failing) ≤ S_k (passing) / 0 (failing)
    rf = np.asarray(receiver_failing)
    fail_recv = np.flatnonzero(rf >= 0)
    rows += [r + to, r + fail_recv]
    cols += [n_f + n_g + np.arange(n_x), rf[fail_recv]]
    vals += [np.ones(n_x), -np.asarray(spare, float)[fail_recv]]
    lo.append(np.full(n_r, -np.inf))
    hi.append(np.where(rf >= 0, 0.0, np.asarray(spare, float)))
    r += n_r
    a = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(r, n_f + n_g + n_x))
    integer = np.concatenate([np.ones(n_f, np.int32), np.zeros(n_g + n_x, np.int32)])
    # HiGHS's own default tolerances: the plan is judged in whole residents and centres.
    out = solve_milp(cost, lower, upper, integer, a, np.concatenate(lo), np.concatenate(hi),
                     time_limit=time_limit, mip_rel_gap=1e-4, mip_abs_gap=1e-6)
    seconds = time.perf_counter() - t0
    if out.status == "infeasible":
        return ClosureSolution(np.ones(n_f, bool), np.zeros((n_f, n_r)), "infeasible",
                               float("nan"), float("nan"), seconds,
                               "no set of closures keeps the coverage target and fits every "
                               "moved resident into spare beds within reach, even closing none")
    if out.x is None:
        return ClosureSolution(np.ones(n_f, bool), np.zeros((n_f, n_r)), "no_solution",
                               float("nan"), float("nan"), seconds,
                               f"HiGHS found no solution ({out.highs_status})")
    keep = out.x[:n_f] > 0.5
    flows = np.zeros((n_f, n_r))
    flows[fr, to] = out.x[n_f + n_g:]
    gap = relative_gap(out.objective, out.bound)
    label = out.status if out.status in ("optimal", "time_limit") else out.highs_status
    # An unknown gap stays NaN (as in every optimiser result): 0.0 would claim a proof.
    return ClosureSolution(keep, np.round(flows).astype(int), label, out.objective, gap,
                           seconds, out.highs_status)
