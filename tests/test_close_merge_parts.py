"""Close/merge building blocks: criteria, resident transport, road distances."""

import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from elder_coverage.close_merge import Criteria, InfeasiblePlanError, assess_centres
from elder_coverage.costs import road_distance_m
from elder_coverage.io.roads import add_travel_times
from elder_coverage.optimize import assign_residents
from elder_coverage.standards import load_standards


def _centres():
    return gpd.GeoDataFrame(
        {
            "id": ["A", "B", "C", "D", "X"],
            "name": ["甲", "乙", "丙", "丁", "餐厅"],
            "kind": ["township_centre"] * 4 + ["dining_hall"],
            "capacity": [100, 40, 60, 80, 30],
            "occupancy": [0.9, 0.1, 0.5, np.nan, np.nan],
            "built_year": [2010, 2001, 1988, 2015, 2020],
            "fire_safety_ok": [True, True, True, False, True],
            "status": ["open", "open", "open", "open", "open"],
        },
        geometry=[shapely.Point(i * 1000, 0) for i in range(5)],
        crs=32652,
    )


def test_assess_centres_by_hand():
    a = assess_centres(_centres(), Criteria(built_before=1995, min_occupancy=0.3))
    assert list(a["id"]) == ["A", "B", "C", "D"]  # the dining hall is not assessed
    assert list(a["fails"]) == [False, True, True, True]
    assert a.loc[1, "reasons"] == "occupancy 10% (< 30%)"
    assert a.loc[2, "reasons"] == "built 1988 (< 1995)"
    assert a.loc[3, "reasons"] == "failed fire safety"
    assert list(a["residents"]) == [90, 4, 30, 0]  # unknown occupancy: nobody to move
    assert list(a["spare_beds"]) == [10, 36, 30, 80]


def test_assess_respects_switches():
    a = assess_centres(_centres(), Criteria(built_before=1980, min_occupancy=0.0,
                                            require_fire_safety=False))
    assert not a["fails"].any()


def _brute_force_transport(residents, spare, dist):
    """Enumerate every integral assignment (tiny cases only)."""
    n, m = dist.shape
    best = np.inf
    per_row = []
    for r in residents:
        per_row.append([c for c in itertools.product(range(r + 1), repeat=m) if sum(c) == r])
    for combo in itertools.product(*per_row):
        flows = np.array(combo)
        if (flows.sum(axis=0) <= spare).all():
            cost = float((flows * dist).sum())
            best = min(best, cost)
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.data())
def test_assign_residents_matches_brute_force(n, m, data):
    residents = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    spare = np.array(data.draw(st.lists(st.integers(0, 6), min_size=m, max_size=m)))
    dist = np.array(data.draw(st.lists(st.integers(1, 50), min_size=n * m, max_size=n * m)),
                    float).reshape(n, m) * 1000
    best = _brute_force_transport(residents, spare, dist)
    if not np.isfinite(best):
        with pytest.raises(InfeasiblePlanError, match="capacities too small"):
            assign_residents(residents, spare, dist)
        return
    flows = assign_residents(residents, spare, dist)
    assert (flows.sum(axis=1) == residents).all()
    assert (flows.sum(axis=0) <= spare).all()
    assert abs(float((flows * dist).sum()) - best) < 1e-6


def test_assign_residents_respects_max_distance():
    dist = np.array([[1000.0, 9000.0]])
    with pytest.raises(InfeasiblePlanError, match="spare beds within reach"):
        assign_residents(np.array([5]), np.array([2, 10]), dist, max_distance_m=5000)


def test_road_distance_matches_networkx():
    G = nx.MultiDiGraph(crs="EPSG:32652")
    pts = {1: (0, 0), 2: (1000, 0), 3: (1000, 1000), 4: (0, 1000), 5: (3000, 3000),
           6: (3100, 3000)}
    for n, (x, y) in pts.items():
        G.add_node(n, x=x, y=y)
    for u, v, length in [(1, 2, 1000), (2, 3, 1000), (3, 4, 1000), (4, 1, 1500), (5, 6, 100)]:
        for a, b in ((u, v), (v, u)):
            G.add_edge(a, b, length=length, highway="tertiary")
    add_travel_times(G)
    d = road_distance_m(G, np.array([[0.0, 0.0]]), np.array([[0.0, 1000.0], [1000.0, 1000.0]]))
    assert d[0, 0] == pytest.approx(nx.shortest_path_length(G, 1, 4, weight="length"))
    assert d[0, 1] == pytest.approx(2000.0)
    # A point off the network pays its straight gap. A point on the island road also joins
    # the main network at its nearest edge there (node 3, 2828 m away) instead of being
    # trapped on the island; beyond max_snap_m it is unreachable.
    d2 = road_distance_m(G, np.array([[0.0, -300.0]]), np.array([[0.0, 1000.0], [3000.0, 3000.0]]),
                         max_snap_m=5000)
    assert d2[0, 0] == pytest.approx(300.0 + 1500.0)
    assert d2[0, 1] == pytest.approx(300.0 + 2000.0 + math.hypot(2000.0, 2000.0))
    d3 = road_distance_m(G, np.array([[0.0, 0.0]]), np.array([[3000.0, 3000.0]]), max_snap_m=2000)
    assert np.isinf(d3[0, 0])
    # By default points join as cells and facilities do: within the standards' 2 km.
    assert load_standards().access.max_snap_m == 2000
    d5 = road_distance_m(G, np.array([[0.0, -300.0]]), np.array([[3000.0, 3000.0]]))
    assert np.isinf(d5[0, 0])
    # Mid-edge: 250 m along edge 1→2 from a point 40 m off it, then 40 m up to the target.
    d4 = road_distance_m(G, np.array([[100.0, 40.0]]), np.array([[350.0, -40.0]]))
    assert d4[0, 0] == pytest.approx(40.0 + 250.0 + 40.0)


def _random_centres_and_cells(rng, n, n_cells, occupancy):
    """``n`` township centres (100 beds, given occupancy) and ``n_cells`` cells with 1-39
    elders, uniformly in a 30 km square; returns centre xy, centres, cell xy, elders, cells."""
    xy = rng.uniform(0, 30_000, (n, 2))
    centres = gpd.GeoDataFrame({
        "id": [f"C{i}" for i in range(n)], "name": [f"c{i}" for i in range(n)],
        "kind": "township_centre", "capacity": 100, "occupancy": occupancy,
        "built_year": 2000, "fire_safety_ok": True, "status": "open"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=32652)
    cxy = rng.uniform(0, 30_000, (n_cells, 2))
    w = rng.integers(1, 40, n_cells).astype(float)
    cells = gpd.GeoDataFrame({"cell_id": np.arange(n_cells), "elders_60": w,
                              "township_code": "t", "county_code": "c"},
                             geometry=gpd.points_from_xy(cxy[:, 0], cxy[:, 1]), crs=32652)
    return xy, centres, cxy, w, cells


def test_close_n_picks_the_cheapest_closures_by_enumeration():
    """close=n: the kept set minimises elder-weighted distance to the nearest kept centre."""
    from elder_coverage.close_merge import plan_close_merge

    n = 6
    # All fail (occupancy 0.2), all have spare beds.
    xy, centres, cxy, w, cells = _random_centres_and_cells(np.random.default_rng(7), n, 60,
                                                           0.2)
    std = {"township_centre": {"mode": "straight_line", "radius_m": 12_000}}
    plan = plan_close_merge(cells, centres, None, std, close=2)
    d = np.hypot(*(cxy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))

    def cost(kept):
        return float((w * d[:, list(kept)].min(axis=1)).sum())

    best = min(itertools.combinations(range(n), n - 2), key=cost)
    kept = [i for i in range(n) if f"C{i}" not in plan.closed]
    assert len(plan.closed) == 2
    assert cost(kept) == pytest.approx(cost(best))
    assert set(plan.merges["from_id"]) == set(plan.closed)
    assert plan.merges["residents_moved"].sum() == 2 * 20


def test_close_failing_keeps_fewest_centres_by_enumeration():
    """close="failing": fewest failing centres kept so that every covered elder stays covered
    and the closed centres' residents fit into the spare beds of the centres kept."""
    from elder_coverage.close_merge import plan_close_merge

    n = 7
    occupancy = np.where(np.arange(n) < 2, 0.9, 0.2)  # centres 0, 1 pass, the rest fail
    xy, centres, cxy, w, cells = _random_centres_and_cells(np.random.default_rng(11), n, 80,
                                                           occupancy)
    std = {"township_centre": {"mode": "straight_line", "radius_m": 8_000}}
    plan = plan_close_merge(cells, centres, None, std, close="failing")
    within = np.hypot(*(cxy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) <= 8_000
    covered_today = within.any(axis=1)
    residents = np.round(occupancy * 100).astype(int)
    spare = 100 - residents

    def ok(kept):
        kept = list(kept)
        closed = [i for i in range(n) if i not in kept]
        return (within[covered_today][:, kept].any(axis=1).all()
                and residents[closed].sum() <= spare[kept].sum())

    fewest = min(k for k in range(n - 1) for s in itertools.combinations(range(2, n), k)
                 if ok([0, 1, *s]))
    kept = [i for i in range(n) if f"C{i}" not in plan.closed]
    assert plan.optimisation["status"] == "optimal"
    assert ok(kept)
    assert len(kept) - 2 == fewest
    assert plan.after["covered_elders"] == plan.before["covered_elders"]
