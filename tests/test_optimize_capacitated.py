"""capacitated_max_coverage against brute force (subsets × assignments, or a transport LP per
subset) and a textbook MILP."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optimize_reference import allowed_subsets, cover_cases, planar_instance, random_instance
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from elder_coverage.optimize import capacitated_max_coverage, max_coverage


def served_split(cost, w, sites, limit, cap):
    """Most weight assignable to the sites (shares): a transport LP solved by linprog."""
    pairs = [(i, j) for i in range(cost.shape[0]) for j in sites if cost[i, j] <= limit]
    if not pairs:
        return 0.0
    n_rows, n_sites = cost.shape
    a_ub, b_ub = [], []
    for i in range(n_rows):
        a_ub.append([1.0 if r == i else 0.0 for r, _ in pairs])
        b_ub.append(1.0)
    for j in sites:
        if math.isfinite(cap[j]):
            a_ub.append([w[r] if s == j else 0.0 for r, s in pairs])
            b_ub.append(cap[j])
    res = linprog([-w[r] for r, _ in pairs], A_ub=a_ub, b_ub=b_ub, bounds=(0, 1),
                  method="highs")
    assert res.status == 0
    return -float(res.fun)


def served_single(cost, w, sites, limit, cap):
    """Most weight with every row wholly at one site or unserved: every assignment tried."""
    options = [[None] + [j for j in sites if cost[i, j] <= limit] for i in range(cost.shape[0])]
    best = 0.0
    for choice in product(*options):
        load = {}
        for i, j in enumerate(choice):
            if j is not None:
                load[j] = load.get(j, 0.0) + w[i]
        if all(v <= cap[j] + 1e-9 for j, v in load.items()):
            best = max(best, sum(w[i] for i, j in enumerate(choice) if j is not None))
    return best


def brute(cost, w, p, limit, cap, split, fixed=(), forbidden=(), groups=None,
          min_per_group=None):
    serve = served_split if split else served_single
    return max((serve(cost, w, s, limit, cap) for s in allowed_subsets(
        cost.shape[1], p, fixed, forbidden, groups, min_per_group)), default=-math.inf)


def textbook(cost, w, p, limit, cap, split):
    """The assignment formulation over all n × m pairs, solved by scipy.optimize.milp."""
    n, m = cost.shape
    ok = (cost <= limit).ravel()
    # Columns: x (m), z (n*m row-major).
    rows, lo, hi = [], [], []
    for i in range(n):
        r = np.zeros(m + n * m)
        r[m + i * m:m + (i + 1) * m] = 1
        rows.append(r), lo.append(-np.inf), hi.append(1)
    for j in range(m):
        r = np.zeros(m + n * m)
        r[m + j + m * np.arange(n)] = w
        r[j] = -cap[j]
        rows.append(r), lo.append(-np.inf), hi.append(0)
        for i in range(n):
            r = np.zeros(m + n * m)
            r[m + i * m + j], r[j] = 1, -1
            rows.append(r), lo.append(-np.inf), hi.append(0)
    r = np.zeros(m + n * m)
    r[:m] = 1
    rows.append(r), lo.append(p), hi.append(p)
    obj = np.concatenate([np.zeros(m), -np.tile(w[:, None], (1, m)).ravel()])
    res = milp(obj, constraints=LinearConstraint(np.array(rows), lo, hi),
               integrality=np.concatenate([np.ones(m), np.full(n * m, 0 if split else 1)]),
               bounds=Bounds(0, np.concatenate([np.ones(m), ok.astype(float)])))
    assert res.success
    return -float(res.fun)


def check(res, cost, w, p, limit, cap, split, optimum, fixed=(), forbidden=()):
    assert res.status == "optimal", res.message
    sites = list(res.sites)
    assert len(sites) == p and set(fixed) <= set(sites) and not set(forbidden) & set(sites)
    assert res.objective == pytest.approx(optimum, abs=1e-6)
    shares = res.details["shares"].toarray()
    # Shares only on open sites within the limit, each row at most once, capacities kept.
    assert np.all(shares >= -1e-9) and np.all(shares.sum(axis=1) <= 1 + 1e-6)
    closed = [j for j in range(cost.shape[1]) if j not in sites]
    assert np.all(shares[:, closed] == 0)
    assert np.all(shares[~(np.nan_to_num(cost, nan=np.inf) <= limit)] == 0)
    load = (w[:, None] * shares).sum(axis=0)
    assert np.all(load <= np.asarray(cap, float) + 1e-6)
    if not split:
        assert np.all(np.isin(np.round(shares, 9), [0.0, 1.0]))
    assert res.objective == pytest.approx(float((w * shares.sum(axis=1)).sum()), abs=1e-6)
    assert res.covered_weight == res.objective
    assert res.bound >= res.objective - 1e-6 and res.gap == pytest.approx(0.0, abs=1e-6)


def test_hand_computed_small_centre_loses_to_large():
    cost = np.array([[1.0, 5.0], [2.0, 9.0], [9.0, 1.0]])
    res = capacitated_max_coverage(cost, p=1, limit=3.0, capacity=[4, 10], weights=[3, 3, 5])
    assert res.sites.tolist() == [1] and res.objective == 5.0
    # Uncapacitated covering would pick site 0 (6 elders within reach).
    assert max_coverage(cost, 1, 3.0, weights=[3, 3, 5]).sites.tolist() == [0]
    # Splitting: site 0 serves 4 of its 6 elders; single assignment only one whole cell (3).
    both = capacitated_max_coverage(cost, p=2, limit=3.0, capacity=[4, 10], weights=[3, 3, 5])
    assert both.objective == 9.0
    assert both.details["within_limit_weight"] == 11.0
    single = capacitated_max_coverage(cost, p=2, limit=3.0, capacity=[4, 10],
                                      weights=[3, 3, 5], split=False)
    assert single.objective == 8.0 and sorted(single.assignment.tolist()) == [-1, 0, 1]


def test_infinite_capacity_equals_max_coverage():
    cost, w = random_instance(3, n=12, m=7)
    a = capacitated_max_coverage(cost, p=3, limit=12.0, capacity=np.inf, weights=w)
    b = max_coverage(cost, 3, 12.0, weights=w)
    assert a.objective == b.objective


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("split", [True, False])
def test_matches_brute_force(seed, split):
    cost, w = random_instance(seed, n=6, m=5, unreachable=0.2)
    cap = np.random.default_rng(seed).integers(2, 9, 5).astype(float)
    for p in (1, 2):
        res = capacitated_max_coverage(cost, p=p, limit=15.0, capacity=cap, weights=w,
                                       split=split)
        check(res, cost, w, p, 15.0, cap, split, brute(cost, w, p, 15.0, cap, split))


@settings(max_examples=40)
@given(cover_cases(max_n=5, max_m=4), st.booleans(), st.data())
def test_property_equals_brute_force(case, split, data):
    cost, w, p, fixed, forbidden, limit = case
    m = cost.shape[1]
    cap = np.array(data.draw(st.lists(st.sampled_from([0.0, 2.0, 5.0, 9.0, np.inf]),
                                      min_size=m, max_size=m)))
    res = capacitated_max_coverage(cost, p=p, limit=limit, capacity=cap, weights=w,
                                   fixed=fixed, forbidden=forbidden, split=split)
    check(res, cost, w, p, limit, cap, split,
          brute(cost, w, p, limit, cap, split, fixed, forbidden), fixed, forbidden)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("split", [True, False])
def test_matches_textbook_milp(seed, split):
    cost, w = planar_instance(seed, 25, 8, max_w=20)
    cap = np.random.default_rng(seed).integers(20, 80, 8).astype(float)
    res = capacitated_max_coverage(cost, p=3, limit=400.0, capacity=cap, weights=w,
                                   split=split)
    check(res, cost, w, 3, 400.0, cap, split, textbook(cost, w, 3, 400.0, cap, split))


def test_groups_are_kept():
    cost, w = random_instance(1, n=8, m=6, unreachable=0.0)
    groups = ["a", "a", "a", "b", "b", "b"]
    cap = np.full(6, 6.0)
    res = capacitated_max_coverage(cost, p=2, limit=20.0, capacity=cap, weights=w,
                                   groups=groups, min_per_group={"b": 2})
    opt = brute(cost, w, 2, 20.0, cap, True, groups=groups, min_per_group={"b": 2})
    check(res, cost, w, 2, 20.0, cap, True, opt)
    assert {groups[j] for j in res.sites} == {"b"}


@pytest.mark.parametrize("kwargs, match", [
    ({"capacity": [1, 1]}, "capacity"),
    ({"capacity": [1, -1, 1]}, "capacity"),
    ({"p": 1.5}, "p must"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {"p": 1, "limit": 2.0, "capacity": 5.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        capacitated_max_coverage(np.ones((2, 3)), **args)


def test_time_limit_returns_a_consistent_answer():
    cost, w = planar_instance(9, 600, 80)
    cap = np.full(80, 200.0)
    res = capacitated_max_coverage(cost, p=8, limit=180.0, capacity=cap, weights=w,
                                   time_limit=0.05)
    assert res.status in ("optimal", "time_limit")
    if res.sites.size:
        assert res.sites.size == 8
        shares = res.details["shares"].toarray()
        assert np.all((w[:, None] * shares).sum(axis=0) <= cap + 1e-6)
        assert res.objective == pytest.approx(float((w * shares.sum(axis=1)).sum()))
        assert res.bound >= res.objective - 1e-6
    else:
        assert np.isnan(res.objective) and np.isnan(res.gap)
