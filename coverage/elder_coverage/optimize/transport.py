"""The transportation problem that places the residents of closed centres.

Each closed centre ``i`` has ``R_i`` residents to move, each receiver ``k`` has ``S_k``
spare beds, and ``d_ik`` is the road distance of a move (absent or beyond the limit: not
allowed). The residents go where the total distance is least:

.. math::

    \\min \\sum_{i,k} d_{ik} x_{ik} \\quad\\text{s.t.}\\quad
    \\sum_k x_{ik} = R_i \\;\\forall i, \\qquad
    \\sum_i x_{ik} \\le S_k \\;\\forall k, \\qquad x_{ik} \\ge 0.

The constraint matrix is totally unimodular, so with whole residents and beds the LP
optimum is integral: no integer variables are needed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from elder_coverage._errors import InfeasiblePlanError

__all__ = ["assign_residents"]


def assign_residents(residents: np.ndarray, spare: np.ndarray, dist_m: np.ndarray, *,
                     max_distance_m: float | None = None) -> np.ndarray:
    """Move residents of closed centres to receivers at least total road distance.

    Solves the transportation problem of the module docstring with HiGHS (through
    :func:`scipy.optimize.linprog`): every resident is placed, no receiver takes more than
    its spare beds, pairs beyond ``max_distance_m`` or with no road are not used.

    Parameters
    ----------
    residents : ndarray of int, shape (n_closed,)
        Residents of each closed centre (persons).
    spare : ndarray of int, shape (n_receivers,)
        Spare beds of each receiving centre (persons).
    dist_m : ndarray, shape (n_closed, n_receivers)
        Road distance (m); ``inf`` or NaN where there is no road.
    max_distance_m : float, optional
        Residents are not moved farther than this (m).

    Returns
    -------
    ndarray of int, shape (n_closed, n_receivers)
        Persons moved.

    Raises
    ------
    InfeasiblePlanError
        Not enough spare beds within reach, with the numbers.

    Examples
    --------
    Three residents, two receivers 1 km and 4 km away with two beds each: two go to the
    near one, one to the far one (2 × 1 km + 1 × 4 km = 6 resident-km).

    >>> import numpy as np
    >>> assign_residents(np.array([3]), np.array([2, 2]), np.array([[1000.0, 4000.0]]))
    array([[2, 1]])
    """
    residents = np.asarray(residents)
    spare = np.asarray(spare)
    dist_m = np.asarray(dist_m, float)
    n, m = dist_m.shape
    usable = np.isfinite(dist_m)
    if max_distance_m is not None:
        usable &= dist_m <= max_distance_m
    need, have = int(residents.sum()), int(spare.sum())
    if need == 0:
        return np.zeros((n, m), dtype=int)
    reachable_spare = np.where(usable, spare[None, :], 0).sum(axis=1)
    short = np.flatnonzero(reachable_spare < residents)
    if need > have or short.size:
        detail = "" if not short.size else (
            f"; closed centre rows {short.tolist()} have {reachable_spare[short].tolist()} "
            f"spare beds within reach for {residents[short].tolist()} residents")
        raise InfeasiblePlanError(
            f"capacities too small: {need} residents to move, {have} spare beds in the "
            f"receiving centres{detail}")
    rows, cols = np.nonzero(usable)
    cost = dist_m[rows, cols] / 1000.0
    pair = np.arange(rows.size)
    a_eq = sp.csr_array((np.ones(rows.size), (rows, pair)), shape=(n, rows.size))
    a_ub = sp.csr_array((np.ones(rows.size), (cols, pair)), shape=(m, rows.size))
    res = linprog(cost, A_ub=a_ub, b_ub=spare, A_eq=a_eq, b_eq=residents, bounds=(0, None),
                  method="highs")
    if res.status != 0:
        raise InfeasiblePlanError(f"no assignment of residents found: {res.message}")
    flows = np.zeros((n, m))
    flows[rows, cols] = res.x
    return np.round(flows).astype(int)
