"""p_center against brute force, a textbook MILP (scipy.optimize.milp) and spopt's own cases."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from optimize_reference import allowed_subsets, cover_cases, planar_instance, random_instance
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial.distance import cdist

from elder_coverage.optimize import p_center

# ---------------------------------------------------------------- independent references


def counted_rows(cost, w, forbidden=()):
    allowed = [j for j in range(cost.shape[1]) if j not in set(forbidden)]
    return [i for i in range(cost.shape[0])
            if w[i] > 0 and any(np.isfinite(cost[i, j]) for j in allowed)]


def worst(cost, rows, sites):
    """Largest nearest-site cost over the rows (inf when a row reaches no site of the set)."""
    out = 0.0
    for i in rows:
        near = [cost[i, j] for j in sites if np.isfinite(cost[i, j])]
        out = max(out, min(near) if near else math.inf)
    return out


def brute_p_center(cost, w, p, fixed=(), forbidden=(), groups=None, min_per_group=None):
    rows = counted_rows(cost, w, forbidden)
    return min((worst(cost, rows, s) for s in allowed_subsets(
        cost.shape[1], p, fixed, forbidden, groups, min_per_group)), default=math.inf)


def textbook_p_center(cost, p, fixed=()):
    """Daskin's formulation: min W, Σ_j x_ij = 1, x_ij ≤ y_j, Σ_j c_ij x_ij ≤ W, Σ y = p."""
    n, m = cost.shape
    c = np.nan_to_num(cost, nan=0.0)
    ok = np.isfinite(cost)
    nx = n * m
    # Columns: y (m), x (n*m, row-major), W.
    rows, lo, hi = [], [], []

    def row(entries, lower, upper):
        r = np.zeros(m + nx + 1)
        for col, val in entries:
            r[col] = val
        rows.append(r)
        lo.append(lower)
        hi.append(upper)

    for i in range(n):
        row([(m + i * m + j, 1.0) for j in range(m)], 1, 1)
        row([(m + i * m + j, c[i, j]) for j in range(m)] + [(m + nx, -1.0)], -np.inf, 0)
        for j in range(m):
            row([(m + i * m + j, 1.0), (j, -1.0)], -np.inf, 0)
    row([(j, 1.0) for j in range(m)], p, p)
    ub = np.concatenate([np.ones(m), ok.ravel().astype(float), [np.inf]])
    lb = np.zeros(m + nx + 1)
    lb[list(fixed)] = 1.0
    obj = np.zeros(m + nx + 1)
    obj[-1] = 1.0
    res = milp(obj, constraints=LinearConstraint(np.array(rows), lo, hi),
               integrality=np.concatenate([np.ones(m + nx), [0]]), bounds=Bounds(lb, ub))
    assert res.success, res.message
    return float(res.fun)


def check(res, cost, w, p, optimum, fixed=(), forbidden=()):
    assert res.status == "optimal", res.message
    assert res.model == "p_center"
    sites = list(res.sites)
    assert len(sites) == p and set(fixed) <= set(sites) and not set(forbidden) & set(sites)
    rows = counted_rows(cost, w, forbidden)
    assert res.objective == pytest.approx(worst(cost, rows, sites))
    assert res.objective == pytest.approx(optimum)
    assert res.bound == pytest.approx(optimum) and res.gap == 0.0
    reach = set(counted_rows(cost, np.ones(cost.shape[0]), forbidden))
    assert list(res.unreachable_demand) == [i for i in range(cost.shape[0]) if i not in reach]
    for i in rows:
        assert cost[i, res.assignment[i]] == min(cost[i, j] for j in sites
                                                 if np.isfinite(cost[i, j]))


# ------------------------------------------------------------------------ small cases


def test_hand_computed_line():
    """Five villages on a road at km 0, 1, 2, 10, 11; sites at the villages.

    One centre: the best is km 2 or km 10 (worst 9 km away... km 2 → 9, km 10 → 10): 9.
    Two centres: one per cluster, worst 1 km.
    """
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    cost = np.abs(x[:, None] - x[None, :])
    one = p_center(cost, p=1)
    assert (one.objective, one.sites.tolist()) == (9.0, [2])
    two = p_center(cost, p=2)
    assert two.objective == 1.0 and two.status == "optimal"
    assert two.sites[0] == 1 and two.sites[1] in (3, 4)
    # Keeping the km-0 site open: its cluster is served by it, worst is then 2 (km 2).
    kept = p_center(cost, p=2, fixed=[0])
    assert kept.objective == 2.0 and 0 in kept.sites


def test_rows_without_elders_do_not_count_and_unreachable_rows_are_reported():
    cost = np.array([[1.0, 5.0], [50.0, 60.0], [np.nan, np.nan], [4.0, 1.0]])
    res = p_center(cost, p=1, weights=[3, 0, 7, 2])
    assert res.objective == 4.0 and list(res.sites) == [0]
    assert list(res.unreachable_demand) == [2]


def test_infeasible_when_p_sites_cannot_reach_every_row():
    cost = np.array([[1.0, np.nan], [np.nan, 1.0]])
    res = p_center(cost, p=1)
    assert res.status == "infeasible" and "p=1" in res.message
    assert p_center(cost, p=0).status == "infeasible"


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_matches_brute_force(seed, p):
    cost, w = random_instance(seed, n=9, m=6, unreachable=0.15)
    opt = brute_p_center(cost, w, p)
    res = p_center(cost, p=p, weights=w)
    if not math.isfinite(opt):
        assert res.status == "infeasible"
        return
    check(res, cost, w, p, opt)


@pytest.mark.parametrize("seed", range(4))
def test_groups_match_brute_force(seed):
    cost, w = random_instance(seed, n=8, m=7, unreachable=0.0)
    groups = ["a", "a", "b", "b", "b", "c", "c"]
    opt = brute_p_center(cost, w, 3, groups=groups, min_per_group=1)
    res = p_center(cost, p=3, weights=w, groups=groups, min_per_group=1)
    check(res, cost, w, 3, opt)
    assert {groups[j] for j in res.sites} == {"a", "b", "c"}


@settings(max_examples=40)
@given(cover_cases())
def test_property_equals_brute_force(case):
    cost, w, p, fixed, forbidden, _ = case
    opt = brute_p_center(cost, w, p, fixed, forbidden)
    res = p_center(cost, p=p, weights=w, fixed=fixed, forbidden=forbidden)
    if not math.isfinite(opt):
        assert res.status == "infeasible"
        return
    check(res, cost, w, p, opt, fixed, forbidden)


@pytest.mark.parametrize("seed", range(3))
def test_matches_textbook_milp_on_planar_instances(seed):
    rng = np.random.default_rng(seed)
    pts, sites = rng.random((30, 2)), rng.random((12, 2))
    cost = np.round(1000 * cdist(pts, sites))
    for p in (2, 4):
        res = p_center(cost, p=p)
        check(res, cost, np.ones(30), p, textbook_p_center(cost, p))


def test_time_limit_keeps_a_valid_answer():
    cost, _ = planar_instance(4, 400, 60)
    res = p_center(cost, p=6, time_limit=0.05)
    assert res.status in ("optimal", "time_limit")
    assert res.sites.size == 6
    full = p_center(cost, p=6)
    assert full.status == "optimal"
    assert res.bound <= full.objective <= res.objective
    assert res.objective == pytest.approx(worst(cost, range(400), res.sites))


# ------------------------------------------------------------- spopt's own test cases

def _spopt_data() -> Path:
    spopt = pytest.importorskip("spopt")
    path = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    if not (path / "SF_network_distance_candidateStore_16_censusTract_205_new.csv").exists():
        pytest.skip(f"spopt's test data is not installed ({path})")
    return path


def test_equals_spopt_san_francisco():
    """spopt's real-world case: 205 tracts × 16 stores by network distance, p = 4."""
    pd = pytest.importorskip("pandas")
    data = _spopt_data()
    dist = pd.read_csv(data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    cost = dist.pivot_table(values="distance", index="DestinationName",
                            columns="name").to_numpy()
    res = p_center(cost, p=4)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(7403.0638, abs=1e-4)
    # Same answer as spopt itself, solved here.
    pulp = pytest.importorskip("pulp")
    from spopt.locate import PCenter

    theirs = PCenter.from_cost_matrix(cost, p_facilities=4).solve(
        pulp.PULP_CBC_CMD(msg=False), results=False)
    # CBC writes its objective with 8 significant digits.
    assert res.objective == pytest.approx(theirs.problem.objective.value(), rel=1e-7)


def test_equals_spopt_lattice_with_predefined_sites():
    """spopt's synthetic case: 100 clients and 5 facilities on a spaghetti lattice, p = 3 with
    facilities 3 and 4 predefined; spopt's known optimum 6.2520432 with sites {2, 3, 4}."""
    spaghetti = pytest.importorskip("spaghetti")
    import geopandas
    from spopt.locate.util import simulated_geo_points

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lattice = spaghetti.regular_lattice((0, 0, 10, 10), 9, exterior=True)
        ntw = spaghetti.Network(in_data=lattice)
        arcs = spaghetti.element_as_gdf(ntw, arcs=True)
        street = geopandas.GeoDataFrame(geometry=[arcs.geometry.buffer(0.2).union_all()],
                                        crs=arcs.crs)
        ntw.snapobservations(simulated_geo_points(street, needed=100, seed=5), "clients",
                             attribute=True)
        ntw.snapobservations(simulated_geo_points(street, needed=5, seed=6), "facilities",
                             attribute=True)
        clients = spaghetti.element_as_gdf(ntw, pp_name="clients", snapped=True)
        facilities = spaghetti.element_as_gdf(ntw, pp_name="facilities", snapped=True)
    # spopt's from_geodataframe: Euclidean distance between the snapped points.
    xy = np.column_stack([clients.geometry.x, clients.geometry.y])
    fxy = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    res = p_center(cdist(xy, fxy), p=3, fixed=[3, 4])
    assert res.status == "optimal"
    assert res.objective == pytest.approx(6.2520432, abs=1e-7)
    assert res.sites.tolist() == [2, 3, 4]
