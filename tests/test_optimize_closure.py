"""The closure MILP against enumeration of every keep/close choice."""

import itertools

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from elder_coverage._errors import InfeasiblePlanError
from elder_coverage.optimize import assign_residents, solve_closure


def _brute(groups, w, need, residents, spare, recv_fail, dist):
    n_f = len(residents)
    best = None
    for keep in itertools.product([False, True], repeat=n_f):
        keep = np.array(keep)
        served = (groups.toarray()[:, keep].sum(axis=1) > 0) if n_f else np.zeros(0, bool)
        if need > 0 and w[served].sum() < need - 1e-9:
            continue
        closed = np.flatnonzero(~keep)
        recv = np.array([k for k, j in enumerate(recv_fail) if j < 0 or keep[j]], int)
        d = dist[np.ix_(closed, recv)]
        try:
            flows = assign_residents(residents[closed], spare[recv], d)
        except InfeasiblePlanError:
            continue
        cost = (keep.sum(), float((flows * d).sum()))
        if best is None or cost < best:
            best = cost
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(0, 3), st.integers(1, 5), st.data())
def test_closure_matches_enumeration(n_f, n_p, n_g, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    groups = sp.csr_array((rng.random((n_g, n_f)) < 0.5).astype(float))
    w = rng.integers(1, 50, n_g).astype(float)
    need = float(data.draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))) * w.sum()
    residents = rng.integers(0, 6, n_f)
    spare = rng.integers(0, 8, n_f + n_p)
    recv_fail = np.concatenate([np.arange(n_f), np.full(n_p, -1)])
    dist = rng.integers(1, 30, (n_f, n_f + n_p)).astype(float)
    best = _brute(groups, w, need, residents, spare, recv_fail, dist)
    sol = solve_closure(groups, w, need, residents, spare, recv_fail, dist, time_limit=30)
    if best is None:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal"
    assert sol.keep.sum() == best[0]
    closed = np.flatnonzero(~sol.keep)
    assert (sol.flows.sum(axis=1)[closed] == residents[closed]).all()
    assert (sol.flows[sol.keep] == 0).all()
    for k, j in enumerate(recv_fail):
        cap = spare[k] if j < 0 or sol.keep[j] else 0
        assert sol.flows[:, k].sum() <= cap
    assert abs(float((sol.flows * dist).sum()) - best[1]) < 1e-6


def test_unknown_gap_is_nan_not_zero(monkeypatch):
    """A time-limited solve with no finite bound has an unknown gap (NaN, as elsewhere)."""
    import elder_coverage.optimize.closure as cm
    from elder_coverage.optimize.highs import MilpOutcome

    def stopped(cost, lower, upper, integer, a, lo, hi, **kw):
        x = np.zeros(cost.size)
        x[0] = 1.0  # keep the one failing centre
        return MilpOutcome("time_limit", x, float(cost[0]), float("-inf"), 0.1,
                           "HiGHS stopped", 0, "Time limit reached")

    monkeypatch.setattr(cm, "solve_milp", stopped)
    groups = sp.csr_array(np.ones((1, 1)))
    sol = solve_closure(groups, np.array([5.0]), 5.0, np.array([2]), np.array([0, 3]),
                        np.array([0, -1]), np.array([[np.inf, 4.0]]), time_limit=1)
    assert sol.status == "time_limit"
    assert np.isnan(sol.gap)
