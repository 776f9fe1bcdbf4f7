"""backup_coverage against brute force over site subsets and a textbook BACOP2 MILP."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optimize_reference import (
    allowed_subsets,
    cover_cases,
    depth,
    planar_instance,
    random_instance,
)
from scipy.optimize import Bounds, LinearConstraint, milp

from elder_coverage.optimize import backup_coverage, coverage_depth, max_coverage
from elder_coverage.optimize.reach import as_reach


def score(cost, w, sites, limit, theta):
    d = [depth(cost, i, sites, limit) for i in range(cost.shape[0])]
    once = sum(w[i] for i in range(len(d)) if d[i] >= 1)
    twice = sum(w[i] for i in range(len(d)) if d[i] >= 2)
    return theta * once + (1 - theta) * twice, once, twice


def brute_backup(cost, w, p, limit, theta=0.0, fixed=(), forbidden=(), min_covered=None,
                 groups=None, min_per_group=None):
    best = -math.inf
    for s in allowed_subsets(cost.shape[1], p, fixed, forbidden, groups, min_per_group):
        value, once, _ = score(cost, w, s, limit, theta)
        if min_covered is not None and once < min_covered * w.sum() - 1e-9:
            continue
        best = max(best, value)
    return best


def textbook_bacop2(cost, w, p, limit, theta):
    """Hogan & ReVelle's BACOP2 with binary y (covered) and u (covered twice)."""
    n, m = cost.shape
    a = (cost <= limit).astype(float)  # NaN → False
    # Columns: x (m), y (n), u (n).
    A = np.zeros((2 * n + 1, m + 2 * n))
    A[:n, :m] = -a
    A[:n, m:m + n] = np.eye(n)
    A[:n, m + n:] = np.eye(n)
    A[n:2 * n, m + n:] = np.eye(n)
    A[n:2 * n, m:m + n] = -np.eye(n)
    A[-1, :m] = 1
    res = milp(-np.concatenate([np.zeros(m), theta * w, (1 - theta) * w]),
               constraints=LinearConstraint(A, np.r_[np.full(2 * n, -np.inf), p],
                                            np.r_[np.zeros(2 * n), p]),
               integrality=np.ones(m + 2 * n), bounds=Bounds(0, 1))
    assert res.success
    return -float(res.fun)


def check(res, cost, w, p, limit, theta, optimum, fixed=(), forbidden=()):
    assert res.status == "optimal", res.message
    sites = list(res.sites)
    assert len(sites) == p and set(fixed) <= set(sites) and not set(forbidden) & set(sites)
    value, once, twice = score(cost, w, sites, limit, theta)
    assert res.objective == pytest.approx(value)
    assert res.objective == pytest.approx(optimum)
    assert res.covered_weight == pytest.approx(once)
    assert res.details["covered_twice_weight"] == pytest.approx(twice)
    for i in range(cost.shape[0]):
        assert res.details["covered_twice"][i] == (depth(cost, i, sites, limit) >= 2)
        assert res.covered[i] == (depth(cost, i, sites, limit) >= 1)
    assert res.bound >= res.objective - 1e-9 and res.gap == pytest.approx(0.0, abs=1e-6)


def test_hand_computed_triangle():
    """Three villages, each between two of three sites; the heavy village gets the backup."""
    cost = np.array([[1.0, 2.0, 9.0], [1.0, 9.0, 2.0], [9.0, 1.0, 1.0]])
    res = backup_coverage(cost, p=2, limit=3.0, weights=[5, 1, 1])
    assert res.sites.tolist() == [0, 1]
    assert res.objective == 5.0 and res.covered_weight == 7.0
    assert res.details["covered_twice"].tolist() == [True, False, False]
    # Plain covering (θ = 1) is indifferent: every pair of sites covers all 7 elders.
    assert backup_coverage(cost, p=2, limit=3.0, weights=[5, 1, 1],
                           first_weight=1.0).objective == 7.0


def test_fixed_sites_count_towards_depth():
    cost = np.array([[1.0, 1.0, 9.0], [9.0, 1.0, 1.0]])
    res = backup_coverage(cost, p=2, limit=2.0, weights=[3, 4], fixed=[1])
    assert res.sites.tolist() == [1, 2] and res.objective == 4.0


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("theta", [0.0, 0.5, 1.0])
def test_matches_brute_force(seed, theta):
    cost, w = random_instance(seed, n=9, m=6, unreachable=0.2)
    for p, limit in ((2, 12.0), (3, 15.0)):
        res = backup_coverage(cost, p=p, limit=limit, weights=w, first_weight=theta)
        check(res, cost, w, p, limit, theta, brute_backup(cost, w, p, limit, theta))


@pytest.mark.parametrize("seed", range(4))
def test_min_covered_floor_matches_brute_force(seed):
    cost, w = random_instance(seed, n=8, m=6, unreachable=0.1)
    full = max_coverage(cost, 3, 14.0, weights=w).objective / w.sum()
    for share in (0.5 * full, full):
        opt = brute_backup(cost, w, 3, 14.0, min_covered=share)
        res = backup_coverage(cost, p=3, limit=14.0, weights=w, min_covered=share)
        check(res, cost, w, 3, 14.0, 0.0, opt)
        assert res.covered_weight >= share * w.sum() - 1e-9
    res = backup_coverage(cost, p=3, limit=14.0, weights=w, min_covered=min(1.0, full + 0.01))
    if full + 0.01 <= 1.0:
        assert res.status == "infeasible"


@settings(max_examples=40)
@given(cover_cases(), st.sampled_from([0.0, 0.3, 1.0]))
def test_property_equals_brute_force(case, theta):
    cost, w, p, fixed, forbidden, limit = case
    res = backup_coverage(cost, p=p, limit=limit, weights=w, fixed=fixed, forbidden=forbidden,
                          first_weight=theta)
    opt = brute_backup(cost, w, p, limit, theta, fixed, forbidden)
    check(res, cost, w, p, limit, theta, opt, fixed, forbidden)


@pytest.mark.parametrize("seed", range(3))
def test_matches_textbook_milp(seed):
    cost, w = planar_instance(seed, 40, 12)
    for theta in (0.0, 0.4):
        res = backup_coverage(cost, p=4, limit=350.0, weights=w, first_weight=theta)
        assert res.status == "optimal"
        assert res.objective == pytest.approx(textbook_bacop2(cost, w, 4, 350.0, theta))


def test_coverage_depth_counts_open_sites_within_limit():
    cost = np.array([[1.0, 2.0, np.nan], [5.0, 1.0, 1.0]])
    within = as_reach(cost).within(2.0)
    assert coverage_depth(within, np.array([True, True, True])).tolist() == [2, 2]
    assert coverage_depth(within, np.array([False, True, False])).tolist() == [1, 1]


@pytest.mark.parametrize("kwargs, match", [
    ({"first_weight": 1.5}, "first_weight"),
    ({"min_covered": -0.1}, "min_covered"),
    ({"p": -1}, "p must"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {"p": 1, "limit": 2.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        backup_coverage(np.ones((2, 3)), **args)


def test_time_limit_returns_a_consistent_answer():
    cost, w = planar_instance(9, 600, 80)
    res = backup_coverage(cost, p=8, limit=180.0, weights=w, time_limit=0.05)
    assert res.status in ("optimal", "time_limit")
    if res.sites.size:  # a solution: its figures are its own, the bound above them
        assert res.sites.size == 8
        assert res.objective == pytest.approx(
            score(cost, w, list(res.sites), 180.0, 0.0)[0])
        assert res.bound >= res.objective - 1e-9
    else:
        assert np.isnan(res.objective) and np.isnan(res.gap)
