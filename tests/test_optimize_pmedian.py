"""p_median checked against brute force: every site subset is enumerated in the test itself.

The reference never calls the optimiser's own helpers: it reads the dense matrix (NaN =
unreachable), picks the subsets the rules allow and scores them with plain Python, so an
agreement means the solver found the true optimum, not merely a self-consistent answer.
"""

from __future__ import annotations

import math
from itertools import combinations, product

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optimize_reference import allowed_subsets, group_needs
from scipy.optimize import linprog

from elder_coverage.optimize import OptimizeResult, p_median

# ---------------------------------------------------------------- independent reference


def random_instance(seed: int, n: int = 8, m: int = 6, unreachable: float = 0.3,
                    max_w: int = 5):
    """Integer costs with NaN holes and integer weights ≥ 1 (so exact ties are real ties)."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 30, size=(n, m)).astype(float)
    cost[rng.random((n, m)) < unreachable] = np.nan
    w = rng.integers(1, max_w + 1, size=n).astype(float)
    return cost, w


def reachable_rows(cost, forbidden=()):
    """Rows with a finite cost to some non-forbidden site."""
    allowed = [j for j in range(cost.shape[1]) if j not in set(forbidden)]
    return [i for i in range(cost.shape[0]) if any(math.isfinite(cost[i, j]) for j in allowed)]


def pmedian_value(cost, w, sites, forbidden=(), penalty=None):
    """Σ w·(cost to nearest open site), rows no allowed site reaches left out.

    Without a penalty a reachable row that no open site reaches makes the set infeasible
    (inf); with one, the row pays min(nearest cost, penalty).
    """
    total = 0.0
    for i in reachable_rows(cost, forbidden):
        best = min((cost[i, j] for j in sites if math.isfinite(cost[i, j])), default=math.inf)
        if penalty is not None:
            best = min(best, penalty)
        if not math.isfinite(best):
            return math.inf
        total += w[i] * best
    return total


def brute_pmedian(cost, w, p, fixed=(), forbidden=(), groups=None, min_per_group=None,
                  penalty=None):
    """Optimal value over all allowed subsets (inf when none serves every reachable row)."""
    best = math.inf
    for subset in allowed_subsets(cost.shape[1], p, fixed, forbidden, groups, min_per_group):
        best = min(best, pmedian_value(cost, w, subset, forbidden, penalty))
    return best


def check_solution(res: OptimizeResult, cost, w, p, optimum, fixed=(), forbidden=(),
                   groups=None, min_per_group=None, penalty=None, statuses=("optimal",)):
    """Everything an optimal answer must satisfy, judged by the reference functions."""
    assert res.status in statuses, res.message
    assert res.model == "p_median"
    sites = list(res.sites)
    assert sites == sorted(set(sites)), "sites must be sorted and distinct"
    assert len(sites) == p
    assert set(fixed) <= set(sites)
    assert not set(forbidden) & set(sites)
    for g, c in group_needs(groups, min_per_group, forbidden).items():
        assert sum(groups[j] == g for j in sites) >= c
    # The reported objective is what the reported sites really cost…
    assert res.objective == pytest.approx(pmedian_value(cost, w, sites, forbidden, penalty),
                                          rel=1e-9, abs=1e-9)
    # …and equals the enumerated optimum.
    if "optimal" in statuses and res.status == "optimal":
        assert res.objective == pytest.approx(optimum, rel=1e-6, abs=1e-9)
        # "optimal" means within the default mip_gap of 1e-6 (relative).
        assert 0.0 <= res.gap <= 1e-6 + 1e-12
    else:
        assert res.objective >= optimum - 1e-6
    assert res.bound <= optimum + 1e-6
    assert res.bound <= res.objective + 1e-9
    assert list(res.unreachable_demand) == [
        i for i in range(cost.shape[0]) if i not in reachable_rows(cost, forbidden)]
    assert res.total_weight == pytest.approx(float(np.sum(w)))
    # Each served row goes to a nearest open site; unreachable rows to none.
    reach = set(reachable_rows(cost, forbidden))
    for i, a in enumerate(res.assignment):
        finite = [cost[i, j] for j in sites if math.isfinite(cost[i, j])]
        if i not in reach or not finite or (penalty is not None and min(finite) > penalty):
            assert a == -1
        else:
            assert a in sites and cost[i, a] == min(finite)


# ------------------------------------------------------------------- uncapacitated


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_plain_matches_brute_force(seed, p):
    cost, w = random_instance(seed, n=8, m=6)
    opt = brute_pmedian(cost, w, p)
    res = p_median(cost, p, weights=w)
    if not math.isfinite(opt):
        # No p sites reach every reachable row: that must be reported, not papered over.
        assert res.status == "infeasible" and "p=" in res.message
        return
    check_solution(res, cost, w, p, opt)


@pytest.mark.parametrize("seed", range(6))
def test_fixed_forbidden_int_and_mask_agree_with_brute_force(seed):
    cost, w = random_instance(100 + seed, n=9, m=7, unreachable=0.15)
    fixed, forbidden = [1], [4, 6]
    opt = brute_pmedian(cost, w, 3, fixed, forbidden)
    fmask = np.zeros(7, bool)
    fmask[fixed] = True
    bmask = np.zeros(7, bool)
    bmask[forbidden] = True
    for f, b in ((fixed, forbidden), (fmask, bmask), (np.array(fixed), tuple(forbidden))):
        res = p_median(cost, 3, weights=w, fixed=f, forbidden=b)
        if not math.isfinite(opt):
            assert res.status == "infeasible"
            continue
        check_solution(res, cost, w, 3, opt, fixed, forbidden)


def test_fixed_site_that_is_not_in_the_unconstrained_optimum():
    # Site 2 is far from everyone: the free optimum avoids it, fixing it must cost more.
    cost = np.array([[1, 9, 50, 9], [9, 1, 50, 9], [9, 9, 50, 1], [2, 2, 50, 2.0]])
    w = np.ones(4)
    free = p_median(cost, 3, weights=w)
    assert 2 not in free.sites
    res = p_median(cost, 3, weights=w, fixed=[2])
    opt = brute_pmedian(cost, w, 3, fixed=[2])
    check_solution(res, cost, w, 3, opt, fixed=[2])
    assert res.objective > free.objective


@pytest.mark.parametrize("seed", range(6))
def test_groups_with_minimums_match_brute_force(seed):
    cost, w = random_instance(200 + seed, n=8, m=8, unreachable=0.2)
    groups = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    for mpg, fixed, forbidden in ((1, (), ()), ({"c": 2}, (), (5,)), (1, (0,), (3,))):
        opt = brute_pmedian(cost, w, 4, fixed, forbidden, groups, mpg)
        res = p_median(cost, 4, weights=w, fixed=list(fixed), forbidden=list(forbidden),
                       groups=groups, min_per_group=mpg)
        if not math.isfinite(opt):
            assert res.status == "infeasible"
            continue
        check_solution(res, cost, w, 4, opt, fixed, forbidden, groups, mpg)


def test_int_minimum_skips_groups_with_no_allowed_site():
    # Group "b" only has forbidden sites; an int minimum must not make the request impossible.
    cost, w = random_instance(7, n=6, m=5, unreachable=0.0)
    groups = ["a", "a", "b", "c", "c"]
    res = p_median(cost, 2, weights=w, forbidden=[2], groups=groups, min_per_group=1)
    opt = brute_pmedian(cost, w, 2, (), (2,), groups, 1)
    check_solution(res, cost, w, 2, opt, (), (2,), groups, 1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("penalty", [0.0, 4.0, 12.0, 1000.0])
def test_unassigned_penalty_matches_brute_force(seed, penalty):
    cost, w = random_instance(300 + seed, n=8, m=6, unreachable=0.45)
    opt = brute_pmedian(cost, w, 2, penalty=penalty)
    res = p_median(cost, 2, weights=w, unassigned_penalty=penalty)
    check_solution(res, cost, w, 2, opt, penalty=penalty)


def test_penalty_lets_rows_go_unserved_that_otherwise_make_it_infeasible():
    # Rows 0 and 1 each reach only their own site; with p=1 one of them cannot be served.
    cost = np.array([[3.0, np.nan], [np.nan, 5.0]])
    w = np.array([2.0, 1.0])
    hard = p_median(cost, 1, weights=w)
    assert hard.status == "infeasible"
    assert "p=1" in hard.message and "unassigned_penalty" in hard.message
    res = p_median(cost, 1, weights=w, unassigned_penalty=10.0)
    # Open site 0: 2·3 + 1·10 = 16; open site 1: 2·10 + 1·5 = 25.
    assert res.status == "optimal"
    assert res.objective == pytest.approx(16.0)
    assert list(res.sites) == [0]
    assert list(res.assignment) == [0, -1]


def test_unreachable_rows_are_reported_and_excluded():
    cost = np.array([[1.0, 4.0, np.inf],
                     [np.nan, np.nan, np.nan],   # reaches nothing
                     [7.0, 2.0, 3.0],
                     [np.nan, np.nan, 5.0]])     # reaches only site 2
    w = np.array([1.0, 100.0, 2.0, 3.0])
    res = p_median(cost, 1, weights=w, forbidden=[2])
    # With site 2 forbidden rows 1 and 3 reach no allowed site: they leave the model.
    assert list(res.unreachable_demand) == [1, 3]
    opt = brute_pmedian(cost, w, 1, forbidden=[2])
    assert opt == 1 * 4 + 2 * 2  # site 1
    check_solution(res, cost, w, 1, opt, forbidden=[2])
    assert res.assignment[1] == -1 and res.assignment[3] == -1


def test_default_weights_are_one():
    cost, _ = random_instance(11, n=7, m=5, unreachable=0.0)
    res = p_median(cost, 2)
    check_solution(res, cost, np.ones(7), 2, brute_pmedian(cost, np.ones(7), 2))


def test_fractional_weights_and_costs():
    # Non-integral data: the "gap below one unit" shortcut must not be used.
    rng = np.random.default_rng(5)
    cost = rng.random((9, 6)) * 10
    w = rng.random(9) * 3 + 0.01
    opt = brute_pmedian(cost, w, 3)
    check_solution(p_median(cost, 3, weights=w), cost, w, 3, opt)


def test_all_zero_weights_is_trivially_optimal():
    cost, _ = random_instance(3, n=5, m=4, unreachable=0.0)
    res = p_median(cost, 2, weights=np.zeros(5), fixed=[3])
    assert res.status == "optimal"
    assert res.objective == 0.0
    assert len(res.sites) == 2 and 3 in res.sites


def test_larger_instance_against_vectorised_brute_force():
    # 60 rows × 12 sites with p=4: 495 subsets, enough for the MILP path to be exercised.
    rng = np.random.default_rng(42)
    pts = rng.random((60, 2))
    sites = rng.random((12, 2))
    cost = np.round(100 * np.hypot(*(pts[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)))
    w = rng.integers(1, 20, 60).astype(float)
    best = min(float((w * cost[:, list(s)].min(axis=1)).sum()) for s in combinations(range(12), 4))
    res = p_median(cost, 4, weights=w, method="exact")
    check_solution(res, cost, w, 4, best)


@pytest.mark.parametrize("seed", range(8))
def test_radius_milp_path_against_enumeration(seed):
    # Uniform random costs (40 × 14, p=5) leave a Lagrangian gap, so these go through the
    # radius MILP; rules vary with the seed so fixed, forbidden, groups and penalty all pass.
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 100, (40, 14)).astype(float)
    cost[rng.random((40, 14)) < 0.3] = np.inf
    w = rng.integers(1, 10, 40).astype(float)
    if seed % 3 == 1:
        w = w + np.round(rng.random(40), 2)  # fractional weights: no integral shortcut
    fixed = (2,) if seed % 2 else ()
    forbidden = (5, 9) if seed % 4 < 2 else ()
    groups = np.repeat([0, 1, 2, 3], [3, 4, 4, 3]) if seed % 5 < 2 else None
    mpg = 1 if groups is not None else None
    penalty = 60.0 if seed % 3 == 0 else None
    opt = brute_pmedian(cost, w, 5, fixed, forbidden, groups, mpg, penalty)
    res = p_median(cost, 5, weights=w, fixed=list(fixed), forbidden=list(forbidden),
                   groups=groups, min_per_group=mpg, unassigned_penalty=penalty)
    if not math.isfinite(opt):
        assert res.status == "infeasible"
        return
    check_solution(res, cost, w, 5, opt, fixed, forbidden, groups, mpg, penalty)


# ------------------------------------------------------------------ dense vs sparse


def to_sparse(cost):
    """Store exactly the finite entries (zeros included) as explicit sparse entries."""
    r, c = np.nonzero(np.isfinite(cost))
    return sp.csr_array((cost[r, c], (r, c)), shape=cost.shape)


def test_sparse_explicit_zeros_are_reachable_at_cost_zero():
    cost = np.array([[0.0, np.nan], [np.nan, 0.0], [5.0, 0.0]])
    S = to_sparse(cost)
    assert S.nnz == 4  # the zeros are really stored
    res = p_median(S, 2)
    assert res.status == "optimal" and res.objective == 0.0
    assert list(res.unreachable_demand) == []
    assert list(res.assignment) == [0, 1, 1]
    # Dropping the stored zeros makes rows 0 and 1 unreachable: absent means unreachable.
    S2 = S.copy()
    S2.eliminate_zeros()
    res2 = p_median(S2, 1)
    assert list(res2.unreachable_demand) == [0, 1]
    # Only (2, 0) = 5 is left, so row 2 must go to site 0.
    assert res2.objective == 5.0 and list(res2.sites) == [0]


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_formats_match_dense(fmt):
    cost, w = random_instance(17, n=9, m=7, unreachable=0.35)
    cost[0, 0] = 0.0
    S = to_sparse(cost).asformat(fmt)
    a = p_median(cost, 3, weights=w, unassigned_penalty=20.0)
    b = p_median(S, 3, weights=w, unassigned_penalty=20.0)
    assert b.objective == pytest.approx(a.objective)
    assert b.objective == pytest.approx(brute_pmedian(cost, w, 3, penalty=20.0))
    assert list(b.unreachable_demand) == list(a.unreachable_demand)


def test_sparse_stored_nan_and_inf_are_unreachable():
    S = sp.csr_array(np.array([[1.0, 2.0], [3.0, 4.0]]))
    S.data[1] = np.nan   # (0, 1)
    S.data[2] = np.inf   # (1, 0)
    res = p_median(S, 1)
    dense = np.array([[1.0, np.nan], [np.inf, 4.0]])
    assert res.status == "infeasible"  # one site cannot serve both rows
    assert p_median(dense, 1).status == "infeasible"
    assert p_median(S, 2).objective == 5.0


# -------------------------------------------------------------------- hypothesis


@st.composite
def pmedian_cases(draw):
    n = draw(st.integers(2, 8))
    m = draw(st.integers(2, 7))
    cells = draw(st.lists(st.one_of(st.none(), st.integers(0, 25)), min_size=n * m,
                          max_size=n * m))
    cost = np.array([np.nan if c is None else float(c) for c in cells]).reshape(n, m)
    w = np.array(draw(st.lists(st.integers(1, 6), min_size=n, max_size=n)), float)
    forbidden = sorted(draw(st.sets(st.integers(0, m - 1), max_size=m - 1)))
    allowed = [j for j in range(m) if j not in forbidden]
    p = draw(st.integers(1, len(allowed)))
    fixed = sorted(draw(st.sets(st.sampled_from(allowed), max_size=p)))
    penalty = draw(st.one_of(st.none(), st.integers(0, 30).map(float)))
    groups = mpg = None
    if draw(st.booleans()):
        groups = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
        mpg = draw(st.one_of(st.just(1), st.fixed_dictionaries({groups[0]: st.integers(1, 2)})))
    return cost, w, p, fixed, forbidden, penalty, groups, mpg


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pmedian_cases())
def test_property_pmedian_equals_brute_force(case):
    cost, w, p, fixed, forbidden, penalty, groups, mpg = case
    opt = brute_pmedian(cost, w, p, fixed, forbidden, groups, mpg, penalty=penalty)
    res = p_median(cost, p, weights=w, fixed=fixed, forbidden=forbidden,
                   unassigned_penalty=penalty, groups=groups, min_per_group=mpg)
    if not math.isfinite(opt):
        assert res.status == "infeasible" and res.message
        assert not res.feasible
        return
    check_solution(res, cost, w, p, opt, fixed, forbidden, groups, mpg, penalty=penalty)
    # The same matrix, sparse with only the finite entries stored, answers the same.
    sparse = p_median(to_sparse(cost), p, weights=w, fixed=fixed, forbidden=forbidden,
                      unassigned_penalty=penalty, groups=groups, min_per_group=mpg)
    assert sparse.status == "optimal"
    assert sparse.objective == pytest.approx(res.objective)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(1, 4), st.booleans())
def test_property_heuristic_brackets_the_optimum(seed, p, use_penalty):
    rng = np.random.default_rng(seed)
    n, m = 30, 9
    cost = rng.integers(0, 60, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.2] = np.inf
    w = rng.integers(1, 9, n).astype(float)
    penalty = 40.0 if use_penalty else None
    opt = brute_pmedian(cost, w, p, penalty=penalty)
    res = p_median(cost, p, weights=w, method="heuristic", unassigned_penalty=penalty)
    if not math.isfinite(opt):
        assert res.status == "infeasible"
        return
    assert res.status in ("feasible", "optimal"), res.message
    # The heuristic may not prove optimality, but its bound and value must bracket it.
    check_solution(res, cost, w, p, opt, penalty=penalty, statuses=("feasible", "optimal"))
    assert res.bound <= opt + 1e-6 <= res.objective + 2e-6


# -------------------------------------------------------------------- heuristic


def test_heuristic_on_a_case_where_greedy_is_wrong():
    # Greedy opens the central site 1 first; the optimum for p=2 is the two ends {0, 2}.
    cost = np.array([[0, 5, 10], [0, 5, 10], [10, 5, 0], [10, 5, 0], [6, 0, 6.0]])
    w = np.array([1, 1, 1, 1, 1.0])
    opt = brute_pmedian(cost, w, 2)
    res = p_median(cost, 2, weights=w, method="heuristic")
    assert res.status in ("feasible", "optimal")
    assert res.bound <= opt <= res.objective
    exact = p_median(cost, 2, weights=w, method="exact")
    check_solution(exact, cost, w, 2, opt)
    assert opt == 6 and list(exact.sites) == [0, 2]


# -------------------------------------------------------------------- capacitated


def brute_capacitated_single(cost, w, cap, p, fixed=(), forbidden=(), penalty=None):
    """Enumerate site subsets and, within each, every assignment of rows to open sites."""
    rows = reachable_rows(cost, forbidden)
    best, best_sites = math.inf, None
    for subset in allowed_subsets(cost.shape[1], p, fixed, forbidden):
        options = []
        for i in rows:
            opts = [j for j in subset if math.isfinite(cost[i, j])]
            if penalty is not None:
                opts.append(None)
            options.append(opts)
        for choice in product(*options):
            load = dict.fromkeys(subset, 0.0)
            value = 0.0
            for i, j in zip(rows, choice, strict=True):
                if j is None:
                    value += w[i] * penalty
                else:
                    load[j] += w[i]
                    value += w[i] * cost[i, j]
            if all(load[j] <= cap[j] + 1e-9 for j in subset) and value < best:
                best, best_sites = value, subset
    return best, best_sites


def brute_capacitated_split(cost, w, cap, p, fixed=(), forbidden=()):
    """Per subset, the transportation LP (scipy linprog) of splitting rows over open sites."""
    rows = reachable_rows(cost, forbidden)
    best = math.inf
    for subset in allowed_subsets(cost.shape[1], p, fixed, forbidden):
        pairs = [(i, j) for i in rows for j in subset if math.isfinite(cost[i, j])]
        if {i for i, _ in pairs} != set(rows):
            continue
        c = [w[i] * cost[i, j] for i, j in pairs]
        a_eq = [[1.0 if pi == i else 0.0 for pi, _ in pairs] for i in rows]
        a_ub = [[w[pi] if pj == j else 0.0 for pi, pj in pairs] for j in subset]
        out = linprog(c, A_ub=a_ub, b_ub=[cap[j] for j in subset], A_eq=a_eq,
                      b_eq=np.ones(len(rows)), bounds=(0, 1), method="highs")
        if out.status == 0:
            best = min(best, out.fun)
    return best


def check_capacitated(res, cost, w, cap, p, optimum, split, fixed=(), forbidden=(),
                      penalty=None):
    assert res.status == "optimal", res.message
    assert res.objective == pytest.approx(optimum, rel=1e-6, abs=1e-6)
    assert res.bound <= res.objective + 1e-6
    assert res.gap == pytest.approx(0.0, abs=1e-6)
    sites = list(res.sites)
    assert sites == sorted(set(sites)) and len(sites) == p
    assert set(fixed) <= set(sites) and not set(forbidden) & set(sites)
    shares = res.details["shares"].toarray()
    # Shares only on open, reachable pairs; loads within capacity; rows fully served.
    assert np.all(shares[:, [j for j in range(cost.shape[1]) if j not in sites]] == 0)
    assert np.all(shares[~np.isfinite(cost)] == 0)
    load = w @ shares
    assert np.all(load <= np.asarray(cap, float) + 1e-6)
    served = shares.sum(axis=1)
    if penalty is None:
        for i in reachable_rows(cost, forbidden):
            assert served[i] == pytest.approx(1.0, abs=1e-6)
    if not split:
        assert np.all((shares == 0) | (shares == 1))
    # Independent re-evaluation of the objective from the shares.
    finite_cost = np.where(np.isfinite(cost), cost, 0.0)
    value = float((shares * w[:, None] * finite_cost).sum())
    if penalty is not None:
        rows = reachable_rows(cost, forbidden)
        value += float(sum(w[i] * penalty * (1 - served[i]) for i in rows))
    assert value == pytest.approx(res.objective, rel=1e-6, abs=1e-6)
    for i, a in enumerate(res.assignment):
        if served[i] > 1e-9:
            assert shares[i, a] == pytest.approx(shares[i].max())
        else:
            assert a == -1


@pytest.mark.parametrize("seed", range(8))
def test_capacitated_single_assignment_matches_enumeration(seed):
    rng = np.random.default_rng(500 + seed)
    cost = rng.integers(1, 20, (5, 4)).astype(float)
    cost[rng.random((5, 4)) < 0.2] = np.nan
    w = rng.integers(1, 5, 5).astype(float)
    cap = rng.integers(4, 12, 4).astype(float)
    opt, _ = brute_capacitated_single(cost, w, cap, 2)
    res = p_median(cost, 2, weights=w, capacity=cap)
    if not math.isfinite(opt):
        assert res.status == "infeasible" and res.message
        return
    check_capacitated(res, cost, w, cap, 2, opt, split=False)


@pytest.mark.parametrize("seed", range(4))
def test_capacitated_single_with_fixed_forbidden_and_penalty(seed):
    rng = np.random.default_rng(600 + seed)
    cost = rng.integers(1, 20, (5, 5)).astype(float)
    cost[rng.random((5, 5)) < 0.25] = np.nan
    w = rng.integers(1, 5, 5).astype(float)
    cap = rng.integers(3, 9, 5).astype(float)
    opt, _ = brute_capacitated_single(cost, w, cap, 2, fixed=(0,), forbidden=(4,), penalty=8.0)
    res = p_median(cost, 2, weights=w, capacity=cap, fixed=[0], forbidden=[4],
                   unassigned_penalty=8.0)
    check_capacitated(res, cost, w, cap, 2, opt, split=False, fixed=(0,), forbidden=(4,),
                      penalty=8.0)


@pytest.mark.parametrize("seed", range(6))
def test_capacitated_split_matches_linprog_per_subset(seed):
    rng = np.random.default_rng(700 + seed)
    cost = rng.integers(1, 20, (6, 5)).astype(float)
    cost[rng.random((6, 5)) < 0.2] = np.nan
    w = rng.integers(1, 6, 6).astype(float)
    cap = rng.integers(5, 14, 5).astype(float)
    opt = brute_capacitated_split(cost, w, cap, 3, fixed=(1,))
    res = p_median(cost, 3, weights=w, capacity=cap, split=True, fixed=[1])
    if not math.isfinite(opt):
        assert res.status == "infeasible"
        return
    check_capacitated(res, cost, w, cap, 3, opt, split=True, fixed=(1,))


def test_split_beats_single_when_a_row_must_be_divided():
    # One row of weight 6 and two sites of capacity 4: only a split serves it.
    cost = np.array([[1.0, 2.0], [5.0, 1.0]])
    w = np.array([6.0, 1.0])
    cap = [4.0, 4.0]
    single = p_median(cost, 2, weights=w, capacity=cap)
    assert single.status == "infeasible"
    assert "demand row 0" in single.message and "weight 6" in single.message
    assert "largest 4" in single.message
    res = p_median(cost, 2, weights=w, capacity=cap, split=True)
    # Row 0: 4 at site 0 (cost 1) + 2 at site 1 (cost 2); row 1 at site 1 (cost 1) → 9.
    assert res.objective == pytest.approx(brute_capacitated_split(cost, w, cap, 2))
    assert res.objective == pytest.approx(4 * 1 + 2 * 2 + 1 * 1)
    assert res.assignment[0] == 0  # takes the larger share (4 of 6)
    shares = res.details["shares"].toarray()
    assert shares[0] == pytest.approx([4 / 6, 2 / 6])


def test_infinite_capacity_equals_uncapacitated():
    cost, w = random_instance(31, n=7, m=5, unreachable=0.2)
    opt = brute_pmedian(cost, w, 3)
    assert math.isfinite(opt)
    # Without a binding capacity the assignment MILP must find the uncapacitated optimum.
    res = p_median(cost, 3, weights=w, capacity=np.inf)
    check_capacitated(res, cost, w, np.full(5, np.inf), 3, opt, split=False)


# -------------------------------------------------------------------- infeasible


def test_infeasible_p_larger_than_allowed_sites():
    cost, w = random_instance(1, n=5, m=6, unreachable=0.0)
    res = p_median(cost, 4, weights=w, forbidden=[0, 1, 2])
    assert res.status == "infeasible"
    assert "p=4" in res.message and "only 3 of 6" in res.message and "3 forbidden" in res.message
    assert math.isnan(res.objective) and res.bound == math.inf
    assert len(res.sites) == 0 and np.all(res.assignment == -1)


def test_infeasible_more_fixed_than_p():
    cost, w = random_instance(2, n=5, m=6, unreachable=0.0)
    res = p_median(cost, 2, weights=w, fixed=[0, 1, 2])
    assert res.status == "infeasible"
    assert "3 sites are fixed" in res.message and "p=2" in res.message


def test_infeasible_group_minimum_above_allowed_sites():
    cost, w = random_instance(3, n=5, m=5, unreachable=0.0)
    groups = ["x", "x", "y", "y", "y"]
    res = p_median(cost, 3, weights=w, groups=groups, min_per_group={"x": 2}, forbidden=[1])
    assert res.status == "infeasible"
    assert "'x'" in res.message and "at least 2" in res.message and "only 1" in res.message


def test_infeasible_group_minimums_need_more_than_p():
    cost, w = random_instance(4, n=5, m=6, unreachable=0.0)
    groups = ["a", "a", "b", "b", "c", "c"]
    res = p_median(cost, 2, weights=w, groups=groups, min_per_group=1)
    assert res.status == "infeasible"
    assert "p=2" in res.message and "at least 3" in res.message


def test_infeasible_capacities_too_small():
    cost = np.ones((3, 3))
    w = np.array([4.0, 4.0, 4.0])
    res = p_median(cost, 2, weights=w, capacity=[5.0, 6.0, 3.0])
    assert res.status == "infeasible"
    # Demand 12 but the best two capacities sum to 11.
    assert "totals 12" in res.message and "sum to 11" in res.message


def test_infeasible_capacitated_sites_cannot_reach_everyone():
    cost = np.array([[1.0, np.nan, np.nan], [np.nan, 1.0, np.nan], [np.nan, np.nan, 1.0]])
    res = p_median(cost, 2, capacity=[5, 5, 5])
    assert res.status == "infeasible" and "capacities" in res.message


# -------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kwargs, match", [
    ({"cost": [[1.0, -2.0]]}, "≥ 0"),
    ({"cost": [[1.0, -np.inf]]}, "-inf"),
    ({"cost": [1.0, 2.0]}, "2-D"),
    ({"cost": np.ones((2, 0))}, "no site columns"),
    ({"cost": [["a", "b"]]}, "numeric"),
    ({"weights": [1.0]}, "shape"),
    ({"weights": [1.0, -1.0]}, "weights"),
    ({"weights": [1.0, np.nan]}, "weights"),
    ({"method": "magic"}, "method"),
    ({"time_limit": 0}, "time_limit"),
    ({"time_limit": -1.0}, "time_limit"),
    ({"fixed": [5]}, "outside"),
    ({"forbidden": [-1]}, "outside"),
    ({"fixed": [0], "forbidden": [0]}, "both fixed and forbidden"),
    ({"fixed": np.array([True])}, "length 3"),
    ({"fixed": [0.5]}, "indices"),
    ({"p": -1}, "p must"),
    ({"p": 1.5}, "p must"),
    ({"p": True}, "p must"),
    ({"split": True}, "split=True needs capacity"),
    ({"capacity": [1, 1, 1], "method": "heuristic"}, "heuristic"),
    ({"capacity": [1, 1]}, "capacity"),
    ({"capacity": [1, -1, 1]}, "capacity"),
    ({"unassigned_penalty": -1}, "unassigned_penalty"),
    ({"unassigned_penalty": np.inf}, "unassigned_penalty"),
    ({"min_per_group": 1}, "needs groups"),
    ({"groups": ["a", "b"]}, "one label per site"),
    ({"groups": ["a", "b", "b"], "min_per_group": {"zz": 1}}, "zz"),
    ({"groups": ["a", "b", "b"], "min_per_group": -1}, "whole number"),
    ({"mip_gap": 1.0}, "mip_gap"),
])
def test_bad_arguments_raise(kwargs, match):
    args = {"cost": np.ones((2, 3)), "p": 1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        p_median(args.pop("cost"), args.pop("p"), **args)


def test_sparse_negative_and_duplicate_entries_raise():
    with pytest.raises(ValueError, match="≥ 0"):
        p_median(sp.csr_array(np.array([[1.0, -1.0]])), 1)
    dup = sp.coo_array((np.array([1.0, 2.0]), (np.array([0, 0]), np.array([1, 1]))),
                       shape=(1, 2))
    with pytest.raises(ValueError, match="duplicate"):
        p_median(dup, 1)


# -------------------------------------------------------------------- time limit


def noisy_instance(seed, n=400, m=45, noise=1.0):
    """Planar distances plus uniform noise: a weak LP relaxation that HiGHS cannot close fast."""
    rng = np.random.default_rng(seed)
    a, b = rng.random((n, 2)), rng.random((m, 2))
    cost = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    cost = np.round(1000 * (cost + noise * rng.random((n, m))))
    return cost, rng.integers(1, 10, n).astype(float)


def vectorised_optimum(cost, w, p):
    combos = np.array(list(combinations(range(cost.shape[1]), p)))
    best = math.inf
    for chunk in np.array_split(combos, max(1, len(combos) // 2000)):
        best = min(best, float((w[:, None] * cost[:, chunk].min(axis=2)).sum(axis=0).min()))
    return best


@pytest.mark.parametrize("seed, noise", [(0, 1.0), (3, 0.6)])
def test_time_limit_returns_a_valid_solution_and_an_honest_bound(seed, noise):
    # These instances need far more than a second to prove; whatever comes back at the limit
    # must be a real solution whose value and bound bracket the enumerated optimum.
    cost, w = noisy_instance(seed, noise=noise)
    res = p_median(cost, 3, weights=w, time_limit=1.0)
    assert res.status in ("optimal", "time_limit"), res.message
    assert res.seconds < 1.0 + 5.0
    assert len(res.sites) == 3 and list(res.sites) == sorted(set(res.sites))
    own = float((w * cost[:, res.sites].min(axis=1)).sum())
    assert res.objective == pytest.approx(own)
    opt = vectorised_optimum(cost, w, 3)
    assert res.bound <= opt + 1e-6 <= res.objective + 2e-6
    if res.status == "optimal":
        assert res.objective == pytest.approx(opt)
    else:
        assert res.gap == pytest.approx((res.objective - res.bound) / res.objective)


def test_time_limit_on_a_large_planar_instance():
    rng = np.random.default_rng(9)
    pts, sites = rng.random((400, 2)), rng.random((200, 2))
    cost = np.round(1000 * np.hypot(*(pts[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)))
    w = rng.integers(1, 50, 400).astype(float)
    res = p_median(cost, 25, weights=w, time_limit=0.5)
    assert res.status in ("optimal", "time_limit"), res.message
    assert len(res.sites) == 25
    assert res.objective == pytest.approx(float((w * cost[:, res.sites].min(axis=1)).sum()))
    assert res.bound <= res.objective + 1e-6


# ------------------------------------------------------------- issue 9 regressions


def test_zero_weight_row_unreached_by_the_open_sites_costs_nothing():
    """Row 2 has weight 0 and only site 2 reaches it; p = 1 opens site 0 (0 × inf ≠ NaN)."""
    cost = np.array([[1.0, 4.0, np.nan], [2.0, 3.0, np.nan], [np.nan, np.nan, 1.0]])
    res = p_median(cost, 1, weights=[2, 3, 0])
    assert res.status == "optimal"
    assert list(res.sites) == [0]
    assert res.objective == 2 * 1 + 3 * 2
    assert res.bound == res.objective and res.gap == 0.0
    assert res.assignment[2] == -1


@pytest.mark.parametrize("capacity", [None, [10, 10, 10]])
def test_all_zero_weights_give_zero_not_nan(capacity):
    cost = np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, np.nan]])
    res = p_median(cost, 1, weights=[0, 0], capacity=capacity)
    assert res.status == "optimal"
    assert res.objective == 0.0 and res.gap == 0.0
    assert res.sites.size == 1


def test_p_zero_is_infeasible_like_p_above_the_sites():
    cost = np.array([[1.0, 2.0], [3.0, 1.0]])
    zero, many = p_median(cost, 0), p_median(cost, 3)
    assert zero.status == many.status == "infeasible"
    assert "p=0" in zero.message and "p=3" in many.message
