"""Coverage engine against brute-force references (numpy all-pairs, networkx searches)."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from edge_reference import reference_times
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from elder_coverage.costs import reach_matrix
from elder_coverage.engine import (
    CoverageInputError,
    CoverageWarning,
    compute_coverage,
)
from elder_coverage.standards import StandardsError
from elder_coverage.travel import DisconnectedGraphWarning

CRS = "EPSG:32651"
STRAIGHT = {"dining_hall": {"mode": "straight_line", "radius_m": 450.0},
            "day_care": {"mode": "straight_line", "radius_m": 700.0}}


def make_cells(xy, elders=None, crs=CRS):
    n = len(xy)
    elders = np.ones(n, dtype=int) if elders is None else np.asarray(elders)
    return gpd.GeoDataFrame(
        {"cell_id": [f"c{i}" for i in range(n)], "elders_60": elders,
         "elders_65": elders // 2, "elders_80": elders // 5,
         "county_code": "220101", "township_code": "220101001"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def make_facilities(xy, kinds, crs=CRS):
    n = len(xy)
    return gpd.GeoDataFrame(
        {"id": [f"f{i}" for i in range(n)], "name": [f"F{i}" for i in range(n)],
         "kind": list(kinds), "capacity": 10},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@settings(max_examples=40, deadline=None)
@given(
    n_cells=st.integers(1, 60),
    n_fac=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_straight_line_matches_all_pairs(n_cells, n_fac, seed):
    rng = np.random.default_rng(seed)
    # Cells on a 100 m grid, facilities anywhere; grid cells make exact ties at the radius.
    cxy = rng.integers(0, 20, size=(n_cells, 2)) * 100.0
    cxy = np.unique(cxy, axis=0)
    fxy = np.vstack([rng.integers(0, 20, size=(n_fac, 2)) * 100.0,
                     rng.uniform(0, 2000, size=(n_fac, 2))])
    kinds = ["dining_hall"] * n_fac + ["day_care"] * n_fac
    cells = make_cells(cxy, rng.integers(1, 9, len(cxy)))
    fac = make_facilities(fxy, kinds)
    res = quiet(compute_coverage, cells, fac, standards=STRAIGHT,
                kinds=["dining_hall", "day_care"], chunk_size=7).cells
    d = np.hypot(cxy[:, None, 0] - fxy[None, :, 0], cxy[:, None, 1] - fxy[None, :, 1])
    for kind, r in (("dining_hall", 450.0), ("day_care", 700.0)):
        cols = [i for i, k in enumerate(kinds) if k == kind]
        dk = d[:, cols]
        np.testing.assert_allclose(res[f"{kind}_dist_m"], dk.min(axis=1), rtol=1e-12)
        assert res[f"{kind}_n_within"].tolist() == (dk <= r).sum(axis=1).tolist()
        assert res[f"{kind}_covered"].tolist() == (dk <= r).any(axis=1).tolist()
        # The named nearest facility is at the minimum distance.
        pos = fac.set_index("id").index.get_indexer(res[f"{kind}_nearest_id"])
        np.testing.assert_allclose(d[np.arange(len(cxy)), pos], dk.min(axis=1), rtol=1e-12)
        assert res[f"{kind}_time_min"].isna().all()
        assert res[f"{kind}_reachable"].all()


def grid_graph(nx_: int, ny: int, step: float, one_way_row: int | None = None,
               crs: str = CRS) -> nx.MultiDiGraph:
    """Street grid; walk 60 m/min, drive 500 m/min; optionally one row is one-way eastbound."""
    G = nx.MultiDiGraph(crs=crs)
    for i in range(nx_):
        for j in range(ny):
            G.add_node((i, j), x=i * step, y=j * step)
    for i in range(nx_):
        for j in range(ny):
            for di, dj in ((1, 0), (0, 1), (-1, 0), (0, -1)):
                a, b = (i, j), (i + di, j + dj)
                if b not in G:
                    continue
                if one_way_row is not None and j == one_way_row and dj == 0 and di == -1:
                    continue
                G.add_edge(a, b, length=step, walk_min=step / 60.0, drive_min=step / 500.0)
    return G


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_fac=st.integers(1, 5), minutes=st.floats(3.0, 25.0))
def test_network_matches_networkx(seed, n_fac, minutes):
    rng = np.random.default_rng(seed)
    G = grid_graph(6, 5, 200.0, one_way_row=2)
    cxy = rng.uniform(-100, 1100, size=(25, 2))
    fxy = rng.uniform(0, 1000, size=(n_fac, 2))
    cells = make_cells(cxy)
    fac = make_facilities(fxy, ["day_care"] * n_fac)
    std = {"day_care": {"minutes": minutes}, "access": {"walk_kmh": 3.6}}
    res = quiet(compute_coverage, cells, fac, G, std, kinds=["day_care"]).cells
    # Cells join their nearest edge; direct off-road trips count up to the limit.
    ref = reference_times(G, cxy, fxy, weight="walk_min", speed=60.0, detour=1.3,
                          max_gap=2000.0, limit=minutes)
    best = ref.min(axis=1)
    np.testing.assert_allclose(res["day_care_time_min"], best, rtol=1e-9)
    within = (ref <= minutes + 1e-9).sum(axis=1)
    clear = np.all(np.abs(ref - minutes) > 1e-6, axis=1)  # skip cells tied at the limit
    assert res["day_care_n_within"].to_numpy()[clear].tolist() == within[clear].tolist()
    assert res["day_care_covered"].to_numpy()[clear].tolist() == (within[clear] > 0).tolist()
    pos = fac.set_index("id").index.get_indexer(res["day_care_nearest_id"])
    np.testing.assert_allclose(ref[np.arange(25), pos], best, rtol=1e-9)
    # Straight-line distance is still reported next to the time.
    d = np.hypot(cxy[:, None, 0] - fxy[None, :, 0], cxy[:, None, 1] - fxy[None, :, 1])
    np.testing.assert_allclose(res["day_care_dist_m"], d.min(axis=1), rtol=1e-12)
    # The reach matrix holds exactly the pairs within the limit, with their times.
    mat = quiet(reach_matrix, cells, fac, G, std, kind="day_care")
    dense = np.full(ref.shape, np.inf)
    coo = mat.tocoo()
    dense[coo.row, coo.col] = coo.data
    sure = np.abs(ref - minutes) > 1e-6
    np.testing.assert_allclose(np.where(ref <= minutes, ref, np.inf)[sure], dense[sure],
                               rtol=1e-9)


def test_one_way_street_hand_computed():
    # Row y=0 is one-way eastbound. Cell at (0, 0), facility at (400, 0): 2 edges of 200 m at
    # 60 m/min = 6.667 min east; the reverse trip must detour via row y=200 (4 edges).
    # Direct off-road trips are made dearer than any road trip here to test the network alone.
    G = grid_graph(3, 2, 200.0, one_way_row=0)
    cells = make_cells(np.array([[0.0, 0.0], [400.0, 0.0]]))
    fac = make_facilities(np.array([[400.0, 0.0], [0.0, 0.0]]), ["dining_hall", "day_care"])
    res = quiet(compute_coverage, cells, fac, G, {"access": {"walk_detour": 10.0}},
                kinds=["dining_hall", "day_care"]).cells
    assert res["dining_hall_time_min"].tolist() == pytest.approx([400 / 60, 0.0])
    assert res["day_care_time_min"].tolist() == pytest.approx([0.0, 800 / 60])


def test_snap_gap_is_walked_at_elderly_speed():
    G = grid_graph(2, 1, 300.0)
    # Cell 120 m off the road next to node (0,0); facility on node (1,0).
    cells = make_cells(np.array([[0.0, 120.0]]))
    fac = make_facilities(np.array([[300.0, 0.0]]), ["dining_hall"])
    no_direct = {"access": {"walk_kmh": 3.6, "walk_detour": 10.0}}
    res = quiet(compute_coverage, cells, fac, G, no_direct, kinds=["dining_hall"]).cells
    assert res.loc[0, "dining_hall_time_min"] == pytest.approx((120 + 300) / 60)
    assert res.loc[0, "dining_hall_dist_m"] == pytest.approx(math.hypot(300, 120))
    # A graph from elder_coverage.io.roads declares its pace and winter factor.
    G.graph.update(walk_kph=3.0, walk_factor=1.3)
    res = quiet(compute_coverage, cells, fac, G, no_direct, kinds=["dining_hall"]).cells
    assert res.loc[0, "dining_hall_time_min"] == pytest.approx(120 / 50 * 1.3 + 300 / 60)


def test_unreachable_cells_are_flagged_and_listed_not_dropped():
    G = grid_graph(3, 1, 200.0)
    # A separate two-node island far east.
    G.add_node("i1", x=5000.0, y=0.0)
    G.add_node("i2", x=5200.0, y=0.0)
    G.add_edge("i1", "i2", walk_min=3.0, drive_min=1.0)
    G.add_edge("i2", "i1", walk_min=3.0, drive_min=1.0)
    cxy = np.array([[0.0, 10.0], [5100.0, 0.0], [20000.0, 0.0]])  # ok, on island, too far
    cells = make_cells(cxy, [5, 7, 11])
    fac = make_facilities(np.array([[400.0, 0.0]]), ["day_care"])
    with pytest.warns(DisconnectedGraphWarning, match="2 disconnected parts"):
        with pytest.warns(CoverageWarning, match="2 populated cell"):
            out = compute_coverage(cells, fac, G, kinds=["day_care"])
    res = out.cells
    assert len(res) == 3
    assert res["day_care_reachable"].tolist() == [True, False, False]
    assert res["day_care_covered"].tolist() == [True, False, False]
    assert res.loc[0, "day_care_nearest_id"] == "f0"
    assert res["day_care_nearest_id"].isna().tolist() == [False, True, True]
    assert res["day_care_time_min"].isna().tolist() == [False, True, True]
    # Straight-line distance is still known for the unreachable cells.
    assert res["day_care_dist_m"].tolist() == pytest.approx([math.hypot(400, 10), 4700, 19600])
    assert out.report.unreachable_cells["day_care"].tolist() == ["c1", "c2"]
    assert out.report.unreachable_table()["cell_id"].tolist() == ["c1", "c2"]
    assert not out.report.connectivity["walk"].connected


def test_unsnapped_facility_is_reported():
    G = grid_graph(3, 1, 200.0)
    cells = make_cells(np.array([[0.0, 0.0]]))
    fac = make_facilities(np.array([[100.0, 0.0], [100.0, 9000.0]]), ["day_care"] * 2)
    with pytest.warns(CoverageWarning, match="too far from the walk graph to join it"):
        out = compute_coverage(cells, fac, G, kinds=["day_care"])
    assert out.report.unsnapped_facilities["day_care"].tolist() == ["f1"]
    assert out.cells.loc[0, "day_care_n_within"] == 1


@pytest.mark.filterwarnings("ignore::elder_coverage.engine.CoverageWarning")
def test_kind_without_facilities_is_reported_not_fatal():
    cells = make_cells(np.array([[0.0, 0.0], [50.0, 0.0]]), [3, 0])
    fac = make_facilities(np.array([[10.0, 0.0]]), ["dining_hall"])
    with pytest.warns(CoverageWarning, match="county_home: no facilities"):
        out = compute_coverage(cells, fac)
    assert "county_home" in out.report.missing_kinds
    res = out.cells
    assert not res["county_home_covered"].any()
    assert res.loc[0, "county_home_n_within"] == 0
    assert not res.loc[0, "county_home_reachable"]  # False, not NA (bool(NA) raises)
    # Without a graph, network standards fall back to their straight-line radius.
    assert set(out.report.fallback_kinds) == {"county_home", "township_centre",
                                              "rural_courtyard", "dining_hall", "day_care",
                                              "embedded_centre"}
    assert bool(res.loc[0, "dining_hall_covered"]) and res.loc[0, "dining_hall_dist_m"] == 10
    # The empty cell is not evaluated: NA, not a made-up 0/False, and never covered.
    assert res["dining_hall_n_within"].isna().tolist() == [False, True]
    assert res["dining_hall_reachable"].isna().tolist() == [False, True]
    assert res["dining_hall_covered"].tolist() == [True, False]


def test_bad_inputs_give_clear_errors():
    cells = make_cells(np.array([[0.0, 0.0], [1.0, 1.0]]))
    fac = make_facilities(np.array([[10.0, 0.0]]), ["dining_hall"])
    with pytest.raises(CoverageInputError, match="CRS mismatch: cells is in EPSG:32651 but "
                                                 "facilities is in EPSG:32652"):
        compute_coverage(cells, fac.set_crs("EPSG:32652", allow_override=True))
    with pytest.raises(CoverageInputError, match="geographic"):
        compute_coverage(cells.set_crs("EPSG:4326", allow_override=True),
                         fac.set_crs("EPSG:4326", allow_override=True))
    with pytest.raises(CoverageInputError, match="road_graph is in EPSG:32652"):
        compute_coverage(cells, fac, grid_graph(2, 2, 100.0, crs="EPSG:32652"))
    bad = fac.copy()
    bad["kind"] = ["hospital"]
    with pytest.raises(CoverageInputError, match="id='f0' has kind 'hospital'"):
        compute_coverage(cells, bad)
    with pytest.raises(StandardsError, match="no service standard"):
        compute_coverage(cells, fac, kinds=["hospital"])
    nan = cells.copy()
    nan["elders_60"] = [1.0, np.nan]
    with pytest.raises(CoverageInputError, match=r"'elders_60' .* cell_id=\['c1'\]"):
        compute_coverage(nan, fac)
    poly = cells.copy()
    poly.geometry = [Point(0, 0), box(0, 0, 1, 1)]
    with pytest.raises(CoverageInputError, match="cell_id='c1' is a Polygon"):
        compute_coverage(poly, fac)
    dup = make_facilities(np.array([[1.0, 0.0], [2.0, 0.0]]), ["dining_hall"] * 2)
    dup["id"] = "same"
    with pytest.raises(CoverageInputError, match="duplicated id 'same'"):
        compute_coverage(cells, dup)


def test_straight_reach_matrix_matches_all_pairs_with_explicit_zero():
    rng = np.random.default_rng(3)
    cxy = rng.uniform(0, 1000, size=(40, 2))
    fxy = np.vstack([cxy[:1], rng.uniform(0, 1000, size=(5, 2))])  # facility on cell 0
    cells = make_cells(cxy)
    fac = make_facilities(fxy, ["dining_hall"] * 3 + ["day_care"] * 3)
    mat = reach_matrix(cells, fac, standards=STRAIGHT, kind="dining_hall", chunk_size=9)
    d = np.hypot(cxy[:, None, 0] - fxy[None, :3, 0], cxy[:, None, 1] - fxy[None, :3, 1])
    assert mat.shape == (40, 3)
    pattern = np.zeros((40, 3), dtype=bool)
    coo = mat.tocoo()
    pattern[coo.row, coo.col] = True
    assert (pattern == (d <= 450.0)).all()
    np.testing.assert_allclose(coo.data, d[coo.row, coo.col], rtol=1e-12, atol=1e-9)
    assert mat[0, 0] == 0.0 and pattern[0, 0]
    # Mixing straight-line and network kinds in one matrix is refused.
    with pytest.raises(CoverageInputError, match="mix network minutes"):
        reach_matrix(cells, fac, grid_graph(3, 3, 500.0),
                     standards={"dining_hall": {"mode": "straight_line"}})


def test_graph_without_walkable_edges_reports_everyone_unreachable():
    G = grid_graph(3, 1, 200.0)
    for _, _, data in G.edges(data=True):
        data["walk_min"] = float("inf")  # a motorway-only network
    # The facility is 2 km from both cells: 52 min directly off-road, beyond the standard.
    cells = make_cells(np.array([[0.0, 0.0], [400.0, 0.0]]))
    fac = make_facilities(np.array([[200.0, 2000.0]]), ["day_care"])
    with pytest.warns(DisconnectedGraphWarning, match="no usable edge"):
        with pytest.warns(CoverageWarning, match="2 populated cell"):
            out = compute_coverage(cells, fac, G, kinds=["day_care"])
    assert out.cells["day_care_reachable"].tolist() == [False, False]
    assert out.report.unreachable_cells["day_care"].tolist() == ["c0", "c1"]
    # Next door (200 m: 5.2 min off-road at 50 m/min × 1.3) it is reached without a road.
    fac = make_facilities(np.array([[200.0, 0.0]]), ["day_care"])
    out = quiet(compute_coverage, cells, fac, G, kinds=["day_care"])
    assert out.cells["day_care_time_min"].tolist() == pytest.approx([5.2, 5.2])
    assert out.cells["day_care_covered"].tolist() == [True, True]
