"""Our models and spopt (PySAL) on identical random planar instances: same objectives.

Each instance is a set of demand points with whole-number weights and candidate sites in a
20 km square; the cost is the Euclidean distance in metres rounded to whole metres, handed to
both as the same dense matrix (ours also as a sparse matrix of the pairs within reach, which
must not change the answer). spopt builds a PuLP model solved by CBC; ours goes to HiGHS.
"""

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from spopt.locate import LSCP, MCLP, PMedian

from elder_coverage.optimize import max_coverage, p_median, set_cover

SEEDS = [11, 23, 37]


def _instance(seed: int, n: int = 70, m: int = 16):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 20_000, (n, 2))
    sites = rng.uniform(0, 20_000, (m, 2))
    cost = np.rint(np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)))
    weights = rng.integers(1, 60, n).astype(float)
    return cost, weights


def _cbc():
    return pulp.PULP_CBC_CMD(msg=False)


def _sparse_within(cost: np.ndarray, limit: float) -> sp.csr_array:
    keep = cost <= limit
    r, c = np.nonzero(keep)
    return sp.csr_array((cost[r, c], (r, c)), shape=cost.shape)


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_same_number_of_sites(seed):
    cost, _ = _instance(seed)
    limit = 6_000.0
    coverable = (cost <= limit).any(axis=1)
    c = cost[coverable]
    theirs = LSCP.from_cost_matrix(c, limit).solve(_cbc())
    expected = round(pulp.value(theirs.problem.objective))
    ours = set_cover(c, limit)
    assert ours.status == "optimal"
    assert ours.objective == expected == len(ours.sites)
    # Every coverable row is within the limit of a chosen site.
    assert (c[:, ours.sites] <= limit).any(axis=1).all()
    assert set_cover(_sparse_within(c, limit), limit).objective == expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [2, 4])
def test_mclp_same_covered_weight(seed, p):
    cost, w = _instance(seed)
    limit = 5_000.0
    theirs = MCLP.from_cost_matrix(cost, w, limit, p_facilities=p).solve(_cbc())
    expected = pulp.value(theirs.problem.objective)
    ours = max_coverage(cost, p, limit, weights=w)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(expected, rel=1e-9)
    assert w[(cost[:, ours.sites] <= limit).any(axis=1)].sum() == pytest.approx(expected)
    sparse = max_coverage(_sparse_within(cost, limit), p, limit, weights=w)
    assert sparse.objective == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [3, 5])
def test_p_median_same_weighted_distance(seed, p):
    cost, w = _instance(seed)
    theirs = PMedian.from_cost_matrix(cost, w, p_facilities=p).solve(_cbc())
    expected = pulp.value(theirs.problem.objective)
    ours = p_median(cost, p, weights=w)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(expected, rel=1e-9)
    assert (w * cost[:, ours.sites].min(axis=1)).sum() == pytest.approx(expected)
    # The heuristic alone never claims less than the optimum, and its bound never more.
    heur = p_median(cost, p, weights=w, method="heuristic")
    assert heur.bound <= expected + 1e-6 <= heur.objective + 2e-6
