"""max_coverage and set_cover checked against brute force over every site subset.

The reference only reads the dense matrix (NaN = unreachable), enumerates the subsets the
rules allow and scores them in plain Python, so agreement means the MILP is really optimal.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimize_reference import allowed_subsets, cover_cases, group_needs, random_instance

from elder_coverage.optimize import max_coverage, set_cover

# ---------------------------------------------------------------- independent reference


def covers(cost, i, sites, limit):
    # NaN compares False, so unreachable pairs never cover.
    return any(cost[i, j] <= limit for j in sites)


def covered_weight(cost, w, sites, limit):
    return float(sum(w[i] for i in range(cost.shape[0]) if covers(cost, i, sites, limit)))


def coverable_rows(cost, limit, forbidden=()):
    allowed = [j for j in range(cost.shape[1]) if j not in set(forbidden)]
    return [i for i in range(cost.shape[0]) if covers(cost, i, allowed, limit)]


def site_total(sites, site_cost):
    return float(len(sites) if site_cost is None else sum(site_cost[j] for j in sites))


def brute_max_coverage(cost, w, p, limit, fixed=(), forbidden=(), groups=None,
                       min_per_group=None, budget=None, site_cost=None):
    best = -math.inf
    for subset in allowed_subsets(cost.shape[1], p, fixed, forbidden, groups, min_per_group):
        if budget is not None and site_total(subset, site_cost) > budget + 1e-9:
            continue
        best = max(best, covered_weight(cost, w, subset, limit))
    return best


def brute_set_cover(cost, w, limit, fixed=(), forbidden=(), groups=None, min_per_group=None,
                    coverage_target=None, site_cost=None):
    """Least count (or site cost) covering every coverable positive-weight row / the target."""
    need = [i for i in coverable_rows(cost, limit, forbidden) if w[i] > 0]
    best = math.inf
    for subset in allowed_subsets(cost.shape[1], None, fixed, forbidden, groups, min_per_group):
        if coverage_target is None:
            ok = all(covers(cost, i, subset, limit) for i in need)
        else:
            ok = covered_weight(cost, w, subset, limit) >= coverage_target * w.sum() - 1e-9
        if ok:
            best = min(best, site_total(subset, site_cost))
    return best


def check_common(res, cost, w, limit, fixed, forbidden, groups, min_per_group, model):
    assert res.model == model
    sites = list(res.sites)
    assert sites == sorted(set(sites))
    assert set(fixed) <= set(sites)
    assert not set(forbidden) & set(sites)
    for g, c in group_needs(groups, min_per_group, forbidden).items():
        assert sum(groups[j] == g for j in sites) >= c
    reach = coverable_rows(cost, limit, forbidden)
    assert list(res.unreachable_demand) == [i for i in range(cost.shape[0]) if i not in reach]
    # Per row coverage and assignment judged from the matrix itself.
    for i in range(cost.shape[0]):
        within = [cost[i, j] for j in sites if cost[i, j] <= limit]
        assert bool(res.covered[i]) == bool(within)
        if within:
            assert res.assignment[i] in sites and cost[i, res.assignment[i]] == min(within)
        else:
            assert res.assignment[i] == -1
    assert res.covered_weight == pytest.approx(covered_weight(cost, w, sites, limit))
    assert res.total_weight == pytest.approx(float(np.sum(w)))


def check_max_coverage(res, cost, w, p, limit, optimum, fixed=(), forbidden=(), groups=None,
                       min_per_group=None, budget=None, site_cost=None):
    assert res.status == "optimal", res.message
    check_common(res, cost, w, limit, fixed, forbidden, groups, min_per_group, "max_coverage")
    if p is not None:
        assert len(res.sites) == p
    if budget is not None:
        assert site_total(res.sites, site_cost) <= budget + 1e-9
    assert res.objective == pytest.approx(covered_weight(cost, w, res.sites, limit))
    assert res.objective == pytest.approx(optimum)
    assert res.bound >= res.objective - 1e-9
    assert res.gap == pytest.approx(0.0, abs=1e-6)


def check_set_cover(res, cost, w, limit, optimum, fixed=(), forbidden=(), groups=None,
                    min_per_group=None, coverage_target=None, site_cost=None):
    # With no positive weight within reach of an allowed site, the status says so (issue 9).
    coverable = any(w[i] > 0 for i in coverable_rows(cost, limit, forbidden))
    assert res.status == ("optimal" if coverable else "nothing_to_cover"), res.message
    check_common(res, cost, w, limit, fixed, forbidden, groups, min_per_group, "set_cover")
    sites = list(res.sites)
    if coverage_target is None:
        for i in coverable_rows(cost, limit, forbidden):
            if w[i] > 0:
                assert covers(cost, i, sites, limit), f"row {i} left uncovered"
    else:
        assert covered_weight(cost, w, sites, limit) >= coverage_target * w.sum() - 1e-9
    assert res.objective == pytest.approx(site_total(sites, site_cost))
    assert res.objective == pytest.approx(optimum)
    assert res.bound <= res.objective + 1e-9
    assert res.gap == pytest.approx(0.0, abs=1e-6)


def to_sparse(cost):
    """Store exactly the finite entries (zeros included) as explicit sparse entries."""
    r, c = np.nonzero(np.isfinite(cost))
    return sp.csr_array((cost[r, c], (r, c)), shape=cost.shape)


# ------------------------------------------------------------------ max_coverage


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p, limit", [(1, 10.0), (2, 12.0), (3, 8.0), (2, np.inf)])
def test_max_coverage_matches_brute_force(seed, p, limit):
    cost, w = random_instance(seed, n=9, m=7)
    opt = brute_max_coverage(cost, w, p, limit)
    check_max_coverage(max_coverage(cost, p, limit, weights=w), cost, w, p, limit, opt)


@pytest.mark.parametrize("seed", range(6))
def test_max_coverage_fixed_forbidden_groups(seed):
    cost, w = random_instance(40 + seed, n=9, m=8, unreachable=0.2)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    cases = [((1,), (2, 7), None, None), ((), (0,), groups, 1), ((6,), (), groups, {0: 2}),
             ((3, 4), (5,), groups, 1)]
    for fixed, forbidden, g, mpg in cases:
        opt = brute_max_coverage(cost, w, 4, 11.0, fixed, forbidden, g, mpg)
        res = max_coverage(cost, 4, 11.0, weights=w, fixed=list(fixed),
                           forbidden=list(forbidden), groups=g, min_per_group=mpg)
        check_max_coverage(res, cost, w, 4, 11.0, opt, fixed, forbidden, g, mpg)


@pytest.mark.parametrize("seed", range(6))
def test_max_coverage_budget_without_p(seed):
    cost, w = random_instance(60 + seed, n=9, m=7, unreachable=0.2)
    site_cost = np.random.default_rng(seed).integers(1, 6, 7).astype(float)
    for budget in (0.0, 3.0, 6.5, 12.0):
        opt = brute_max_coverage(cost, w, None, 10.0, budget=budget, site_cost=site_cost)
        res = max_coverage(cost, None, 10.0, weights=w, budget=budget, site_cost=site_cost)
        check_max_coverage(res, cost, w, None, 10.0, opt, budget=budget, site_cost=site_cost)


@pytest.mark.parametrize("seed", range(4))
def test_max_coverage_budget_with_p_and_fixed(seed):
    # Both apply: exactly p sites, and their total cost (the fixed one's included) ≤ budget.
    cost, w = random_instance(80 + seed, n=9, m=7, unreachable=0.2)
    site_cost = np.array([4.0, 1.0, 2.0, 3.0, 1.0, 5.0, 2.0])
    opt = brute_max_coverage(cost, w, 3, 12.0, fixed=(0,), budget=8.0, site_cost=site_cost)
    res = max_coverage(cost, 3, 12.0, weights=w, fixed=[0], budget=8.0, site_cost=site_cost)
    check_max_coverage(res, cost, w, 3, 12.0, opt, fixed=(0,), budget=8.0, site_cost=site_cost)


def test_max_coverage_budget_prefers_two_cheap_sites_over_one_dear():
    cost = np.array([[1.0, np.nan, np.nan], [np.nan, 1.0, np.nan], [1.0, np.nan, 1.0],
                     [np.nan, 1.0, 1.0]])
    w = np.array([5.0, 5.0, 4.0, 4.0])
    site_cost = [1.0, 1.0, 2.0]
    res = max_coverage(cost, None, 2.0, weights=w, budget=2.0, site_cost=site_cost)
    assert res.status == "optimal"
    assert list(res.sites) == [0, 1] and res.objective == 18.0


def test_max_coverage_unreachable_beyond_limit_is_reported():
    cost = np.array([[1.0, 50.0], [60.0, np.nan], [np.nan, 2.0]])
    res = max_coverage(cost, 1, 10.0, weights=[3.0, 7.0, 1.0])
    # Row 1 is reachable at 60 but never within 10: reported, not silently dropped.
    assert list(res.unreachable_demand) == [1]
    assert res.objective == 3.0 and list(res.sites) == [0]
    assert res.total_weight == 11.0 and res.covered_weight == 3.0


def test_max_coverage_explicit_sparse_zero_covers_at_limit_zero():
    cost = np.array([[0.0, np.nan], [np.nan, 0.0], [3.0, 0.0]])
    S = to_sparse(cost)
    assert S.nnz == 4
    res = max_coverage(S, 1, 0.0, weights=[1.0, 2.0, 4.0])
    assert res.objective == 6.0 and list(res.sites) == [1]
    assert list(res.covered) == [False, True, True]
    S.eliminate_zeros()
    # Without the stored zeros only (2, 0) = 3 is left, beyond the limit.
    res2 = max_coverage(S, 1, 0.0, weights=[1.0, 2.0, 4.0])
    assert res2.objective == 0.0 and list(res2.unreachable_demand) == [0, 1, 2]


# ------------------------------------------------------------------ set_cover


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("limit", [6.0, 12.0, np.inf])
def test_set_cover_matches_brute_force(seed, limit):
    cost, w = random_instance(100 + seed, n=9, m=7)
    opt = brute_set_cover(cost, w, limit)
    check_set_cover(set_cover(cost, limit, weights=w), cost, w, limit, opt)


@pytest.mark.parametrize("seed", range(6))
def test_set_cover_with_site_cost_fixed_forbidden_groups(seed):
    cost, w = random_instance(120 + seed, n=9, m=8, unreachable=0.25)
    site_cost = np.random.default_rng(seed).integers(1, 9, 8).astype(float)
    groups = np.array(["n", "n", "n", "s", "s", "e", "e", "e"])
    cases = [((), (), None, None), ((2,), (0, 5), None, None), ((), (3,), groups, 1),
             ((7,), (), groups, {"n": 2})]
    for fixed, forbidden, g, mpg in cases:
        for sc in (None, site_cost):
            opt = brute_set_cover(cost, w, 10.0, fixed, forbidden, g, mpg, site_cost=sc)
            res = set_cover(cost, 10.0, weights=w, fixed=list(fixed), forbidden=list(forbidden),
                            groups=g, min_per_group=mpg, site_cost=sc)
            check_set_cover(res, cost, w, 10.0, opt, fixed, forbidden, g, mpg, site_cost=sc)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("target", [0.0, 0.3, 0.6, 0.85])
def test_set_cover_coverage_target(seed, target):
    cost, w = random_instance(140 + seed, n=9, m=7, unreachable=0.3)
    opt = brute_set_cover(cost, w, 9.0, coverage_target=target)
    res = set_cover(cost, 9.0, weights=w, coverage_target=target)
    if covered_weight(cost, w, range(7), 9.0) < target * w.sum():
        # Even every site together falls short: infeasible, not a partial answer.
        assert opt == math.inf
        assert res.status == "infeasible" and "cannot be met" in res.message
        return
    check_set_cover(res, cost, w, 9.0, opt, coverage_target=target)


def test_set_cover_zero_weight_rows_need_no_cover():
    # Row 1 reaches only site 1; with weight 0 opening site 1 for it would be waste.
    cost = np.array([[1.0, np.nan], [np.nan, 1.0], [1.0, np.nan]])
    res = set_cover(cost, 5.0, weights=[1.0, 0.0, 2.0])
    assert res.status == "optimal" and list(res.sites) == [0] and res.objective == 1.0
    assert list(res.unreachable_demand) == []


def test_set_cover_target_counts_unreachable_weight_in_the_total():
    # Total weight 10; 4 of it is unreachable, so a 0.5 target needs 5 of the 6 reachable.
    cost = np.array([[1.0, np.nan, np.nan], [np.nan, 1.0, np.nan], [np.nan, np.nan, 1.0],
                     [np.nan, np.nan, np.nan]])
    w = np.array([3.0, 2.0, 1.0, 4.0])
    res = set_cover(cost, 2.0, weights=w, coverage_target=0.5)
    assert res.objective == 2.0 and list(res.sites) == [0, 1]
    assert list(res.unreachable_demand) == [3]
    bad = set_cover(cost, 2.0, weights=w, coverage_target=0.61)
    assert bad.status == "infeasible"
    assert "60.0000%" in bad.message and "6 of 10" in bad.message


# -------------------------------------------------------------------- hypothesis


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cover_cases())
def test_property_max_coverage_equals_brute_force(case):
    cost, w, p, fixed, forbidden, limit = case
    opt = brute_max_coverage(cost, w, p, limit, fixed, forbidden)
    res = max_coverage(cost, p, limit, weights=w, fixed=fixed, forbidden=forbidden)
    check_max_coverage(res, cost, w, p, limit, opt, fixed, forbidden)
    sparse = max_coverage(to_sparse(cost), p, limit, weights=w, fixed=fixed,
                          forbidden=forbidden)
    assert sparse.status == "optimal"
    assert sparse.objective == pytest.approx(res.objective)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cover_cases(), st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0])))
def test_property_set_cover_equals_brute_force(case, target):
    cost, w, _, fixed, forbidden, limit = case
    opt = brute_set_cover(cost, w, limit, fixed, forbidden, coverage_target=target)
    res = set_cover(cost, limit, weights=w, fixed=fixed, forbidden=forbidden,
                    coverage_target=target)
    if not math.isfinite(opt):
        # Only a target above the reachable share can make a plain set cover impossible.
        assert target is not None
        assert res.status == "infeasible" and "cannot be met" in res.message
        return
    check_set_cover(res, cost, w, limit, opt, fixed, forbidden, coverage_target=target)
    sparse = set_cover(to_sparse(cost), limit, weights=w, fixed=fixed, forbidden=forbidden,
                       coverage_target=target)
    assert sparse.objective == pytest.approx(res.objective)


@st.composite
def rule_cases(draw):
    """Cover cases plus site costs, a budget and group minimums."""
    cost, w, p, fixed, forbidden, limit = draw(cover_cases())
    m = cost.shape[1]
    site_cost = np.array(draw(st.lists(st.integers(0, 5), min_size=m, max_size=m)), float)
    budget = float(draw(st.integers(0, 12)))
    groups = mpg = None
    if draw(st.booleans()):
        groups = draw(st.lists(st.sampled_from("ab"), min_size=m, max_size=m))
        mpg = draw(st.one_of(st.just(1), st.fixed_dictionaries({groups[-1]: st.integers(1, 2)})))
    return cost, w, draw(st.one_of(st.none(), st.just(p))), fixed, forbidden, limit, \
        site_cost, budget, groups, mpg


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_cases())
def test_property_max_coverage_budget_groups_equal_brute_force(case):
    cost, w, p, fixed, forbidden, limit, site_cost, budget, groups, mpg = case
    opt = brute_max_coverage(cost, w, p, limit, fixed, forbidden, groups, mpg, budget, site_cost)
    res = max_coverage(cost, p, limit, weights=w, fixed=fixed, forbidden=forbidden,
                       groups=groups, min_per_group=mpg, budget=budget, site_cost=site_cost)
    if opt == -math.inf:
        assert res.status == "infeasible" and res.message
        return
    check_max_coverage(res, cost, w, p, limit, opt, fixed, forbidden, groups, mpg, budget,
                       site_cost)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_cases())
def test_property_set_cover_site_cost_groups_equal_brute_force(case):
    cost, w, _, fixed, forbidden, limit, site_cost, _, groups, mpg = case
    opt = brute_set_cover(cost, w, limit, fixed, forbidden, groups, mpg, site_cost=site_cost)
    res = set_cover(cost, limit, weights=w, fixed=fixed, forbidden=forbidden, groups=groups,
                    min_per_group=mpg, site_cost=site_cost)
    if not math.isfinite(opt):
        assert res.status == "infeasible" and res.message
        return
    check_set_cover(res, cost, w, limit, opt, fixed, forbidden, groups, mpg,
                    site_cost=site_cost)


# -------------------------------------------------------------------- regressions


def test_set_cover_does_not_return_the_start_under_a_better_reported_objective():
    # HiGHS 1.16 (presolve on) reported objective 5 and status optimal here while handing
    # back the greedy start's six sites; the result then said "optimal" with gap 1/6.
    rng = np.random.default_rng(223)
    cost = rng.integers(0, 30, (25, 12)).astype(float)
    cost[rng.random((25, 12)) < 0.3] = np.nan
    w = rng.integers(1, 9, 25).astype(float)
    limit = float(rng.integers(3, 12))
    cov = (cost <= limit)[(cost <= limit).any(axis=1)]
    fewest = next(k for k in range(13) for s in combinations(range(12), k)
                  if cov[:, list(s)].any(axis=1).all())
    assert fewest == 5
    res = set_cover(cost, limit, weights=w)
    check_set_cover(res, cost, w, limit, fewest)
    assert res.bound == fewest and res.gap == 0.0


def test_every_allowed_site_fixed_is_solved_not_timed_out():
    # No candidate is left to decide, so the MILP has no columns; HiGHS calls that model
    # "Empty" without a solution, which used to come back as status time_limit, objective NaN.
    cost = np.array([[1.0, 3.0], [2.0, 9.0], [8.0, np.nan]])
    w = np.array([2.0, 3.0, 5.0])
    res = max_coverage(cost, 2, 5.0, weights=w, fixed=[0, 1])
    check_max_coverage(res, cost, w, 2, 5.0, 5.0, fixed=(0, 1))
    res = set_cover(cost, 5.0, weights=w, fixed=[0], forbidden=[1])
    check_set_cover(res, cost, w, 5.0, 1.0, fixed=(0,), forbidden=(1,))
    assert list(res.unreachable_demand) == [2]


def test_budget_without_candidates_does_not_crash():
    # With p=None and a budget, the greedy start used to take argmax of an empty array.
    cost = np.array([[1.0, 3.0], [2.0, 9.0]])
    res = max_coverage(cost, None, 5.0, fixed=[0, 1], budget=2.0)
    assert res.status == "optimal" and res.objective == 2.0
    res = max_coverage(cost, None, 5.0, forbidden=[0, 1], budget=2.0)
    assert res.status == "optimal" and res.objective == 0.0 and len(res.sites) == 0
    assert list(res.unreachable_demand) == [0, 1]


# -------------------------------------------------------------------- infeasible


def test_max_coverage_infeasible_p_above_allowed_and_fixed_above_p():
    cost, w = random_instance(1, n=5, m=5)
    res = max_coverage(cost, 4, 10.0, weights=w, forbidden=[0, 1])
    assert res.status == "infeasible" and "p=4" in res.message and "only 3 of 5" in res.message
    assert res.bound == -math.inf  # maximising: no upper bound claimed
    res = max_coverage(cost, 1, 10.0, weights=w, fixed=[0, 1])
    assert res.status == "infeasible" and "2 sites are fixed" in res.message


def test_max_coverage_infeasible_budget_too_small():
    cost, w = random_instance(2, n=5, m=4)
    res = max_coverage(cost, 2, 10.0, weights=w, fixed=[3], budget=4.0,
                       site_cost=[2.0, 3.0, 2.5, 3.0])
    # Fixed site 3 (3) plus the cheapest other (2) cost 5 > 4.
    assert res.status == "infeasible"
    assert "budget 4" in res.message and "at least 5" in res.message


def test_max_coverage_infeasible_group_minimums_beyond_budget():
    cost, w = random_instance(3, n=5, m=4)
    res = max_coverage(cost, None, 10.0, weights=w, groups=["a", "a", "b", "b"],
                       min_per_group=1, budget=5.0, site_cost=[3.0, 4.0, 3.0, 9.0])
    assert res.status == "infeasible" and "budget 5" in res.message and "at least 6" in res.message


def test_group_minimum_impossible():
    cost, w = random_instance(4, n=5, m=4)
    groups = ["a", "b", "b", "b"]
    for res in (set_cover(cost, 10.0, weights=w, groups=groups, min_per_group={"a": 2}),
                max_coverage(cost, 3, 10.0, weights=w, groups=groups, min_per_group={"a": 2})):
        assert res.status == "infeasible"
        assert "'a'" in res.message and "at least 2" in res.message and "only 1" in res.message


def test_set_cover_target_above_reachable_share_names_the_share():
    cost = np.array([[1.0, np.nan], [np.nan, 20.0], [np.nan, np.nan], [3.0, 2.0]])
    w = np.array([1.0, 1.0, 1.0, 1.0])
    # Within 5 only rows 0 and 3 are coverable: 50% of the weight.
    res = set_cover(cost, 5.0, weights=w, coverage_target=0.75)
    assert res.status == "infeasible"
    assert "0.75" in res.message and "50.0000%" in res.message and "2 of 4" in res.message
    assert list(res.unreachable_demand) == [1, 2]
    ok = set_cover(cost, 5.0, weights=w, coverage_target=0.5)
    assert ok.status == "optimal" and ok.objective == 1.0 and list(ok.sites) == [0]


# -------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kwargs, match", [
    ({"cost": [[1.0, -1.0]]}, "≥ 0"),
    ({"cost": [1.0, 2.0, 3.0]}, "2-D"),
    ({"limit": -1.0}, "limit"),
    ({"limit": np.nan}, "limit"),
    ({"limit": "near"}, "limit"),
    ({"weights": [1.0, 2.0, 3.0]}, "shape"),
    ({"time_limit": 0.0}, "time_limit"),
    ({"fixed": [3]}, "outside"),
    ({"fixed": [1], "forbidden": np.array([False, True, False])}, "both fixed and forbidden"),
    ({"forbidden": np.array([True, False])}, "length 3"),
    ({"min_per_group": 1}, "needs groups"),
    ({"mip_gap": -0.1}, "mip_gap"),
])
@pytest.mark.parametrize("model", ["max_coverage", "set_cover"])
def test_bad_arguments_raise(model, kwargs, match):
    args = {"cost": np.ones((2, 3)), "limit": 5.0}
    args.update(kwargs)
    cost, limit = args.pop("cost"), args.pop("limit")
    with pytest.raises(ValueError, match=match):
        if model == "max_coverage":
            max_coverage(cost, 1, limit, **args)
        else:
            set_cover(cost, limit, **args)


@pytest.mark.parametrize("kwargs, match", [
    ({"p": None}, "needs p"),
    ({"p": -1}, "p must"),
    ({"p": 2.5}, "p must"),
    ({"site_cost": [1, 1, 1]}, "only used with budget"),
    ({"budget": -1.0}, "budget"),
    ({"budget": 2.0, "site_cost": [1, 1]}, "site_cost"),
    ({"budget": 2.0, "site_cost": [1, -1, 1]}, "site_cost"),
])
def test_max_coverage_bad_arguments(kwargs, match):
    args = {"p": 1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        max_coverage(np.ones((2, 3)), args.pop("p"), 5.0, **args)


@pytest.mark.parametrize("kwargs, match", [
    ({"coverage_target": 1.5}, "coverage_target"),
    ({"coverage_target": -0.1}, "coverage_target"),
    ({"site_cost": [1, np.inf, 1]}, "site_cost"),
])
def test_set_cover_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        set_cover(np.ones((2, 3)), 5.0, **kwargs)


# -------------------------------------------------------------------- time limit


def euclidean(seed, n, m, scale=1000.0):
    rng = np.random.default_rng(seed)
    a, b = rng.random((n, 2)), rng.random((m, 2))
    return np.round(scale * np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))), rng


def test_time_limit_max_coverage_returns_a_valid_solution():
    cost, rng = euclidean(3, 3000, 400)
    w = rng.integers(1, 30, 3000).astype(float)
    res = max_coverage(cost, 25, 90.0, weights=w, time_limit=0.5)
    assert res.status in ("optimal", "time_limit"), res.message
    assert res.seconds < 0.5 + 5.0
    assert len(res.sites) == 25
    covered = (cost[:, res.sites] <= 90.0).any(axis=1)
    assert res.objective == pytest.approx(float(w[covered].sum()))
    assert res.bound >= res.objective - 1e-6


def test_time_limit_set_cover_returns_a_valid_cover():
    cost, rng = euclidean(4, 3000, 400)
    res = set_cover(cost, 80.0, time_limit=0.5)
    assert res.status in ("optimal", "time_limit"), res.message
    coverable = (cost <= 80.0).any(axis=1)
    covered = (cost[:, res.sites] <= 80.0).any(axis=1)
    assert np.all(covered[coverable])
    assert res.objective == len(res.sites)
    assert res.bound <= res.objective + 1e-9


# ------------------------------------------------------------- issue 9 regressions


def test_p_zero_is_infeasible_like_p_above_the_sites():
    """p = 0 and p > sites are both requests no site set meets: same status, a reason each."""
    cost = np.array([[1.0, 2.0], [3.0, 1.0]])
    zero = max_coverage(cost, 0, 5.0)
    many = max_coverage(cost, 3, 5.0)
    assert zero.status == many.status == "infeasible"
    assert "p=0" in zero.message and "p=3" in many.message
    assert zero.sites.size == 0 and not zero.feasible


def test_set_cover_with_nothing_coverable_says_so():
    # Every pair beyond the 5-minute limit: no allowed site serves anybody.
    cost = np.array([[9.0, 12.0], [7.0, np.nan], [np.nan, 8.0]])
    res = set_cover(cost, 5.0, weights=[3, 1, 2])
    assert res.status == "nothing_to_cover"
    assert "nothing to cover" in res.message
    assert res.sites.size == 0 and res.objective == 0.0
    assert list(res.unreachable_demand) == [0, 1, 2]
    # Rules still apply: a fixed site stays open, and the status stays honest.
    fixed = set_cover(cost, 5.0, weights=[3, 1, 2], fixed=[1])
    assert fixed.status == "nothing_to_cover" and list(fixed.sites) == [1]
    # Positive demand reachable only with weight 0 elsewhere: still nothing to cover.
    zero_w = set_cover(np.array([[1.0], [9.0]]), 5.0, weights=[0, 4])
    assert zero_w.status == "nothing_to_cover"
    # Whereas a cover that fixed sites already complete is a genuine optimum.
    done = set_cover(np.array([[1.0, 2.0]]), 5.0, fixed=[0])
    assert done.status == "optimal" and list(done.sites) == [0]


# ------------------------------------------------------- high-coverage machinery (issue 13)


def test_set_cover_reductions_on_a_hand_made_cover():
    """Row 0 only reaches site 0 (essential); row 1 is then covered; row 3's sites contain
    row 2's (implied); site 3 covers only what site 1 covers too (dominated)."""
    nan = np.nan
    cost = np.array([[1.0, nan, nan, nan],
                     [1.0, 1.0, nan, nan],
                     [nan, 1.0, 1.0, nan],
                     [nan, 1.0, 1.0, 1.0]])
    res = set_cover(cost, 2.0)
    assert res.status == "optimal" and res.objective == 2.0
    assert res.sites[0] == 0 and res.sites[1] in (1, 2)
    d = res.details
    # Then sites 1 and 2 cover the same row 2 (site 2 goes), making site 1 essential: the
    # reductions alone solve it.
    assert d["essential_sites"] == 2 and d["implied_patterns"] == 1
    assert d["dominated_sites"] == 1 and d["patterns"] == 0
    # Dearer duplicates are never preferred: site 1 costs 5, site 2 covers the same rows for 1.
    dear = set_cover(cost, 2.0, site_cost=[1, 5, 1, 1])
    assert dear.objective == 2.0 and list(dear.sites) == [0, 2]


@pytest.mark.parametrize("seed, limit", [(1, 10.0), (1, 14.0), (15, 10.0), (20, 14.0),
                                         (0, 10.0)])
def test_max_coverage_lp_start_at_high_coverage(seed, limit):
    """Above 90 % covered the start is also rounded from the LP; on these instances it beats
    the 1-swap local optimum (seed 0: a tie), and the answer stays the true optimum."""
    cost, w = random_instance(seed, n=20, m=10, unreachable=0.1)
    res = max_coverage(cost, 3, limit, weights=w)
    check_max_coverage(res, cost, w, 3, limit, brute_max_coverage(cost, w, 3, limit))
    d = res.details
    assert d["lp_bound"] >= res.objective - 1e-6
    assert d["swap_start_covered"] <= d["lp_start_covered"] <= res.objective
    if seed:
        assert d["lp_start_covered"] > d["swap_start_covered"]
