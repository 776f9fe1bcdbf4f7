"""The map's vectorised paths against plain per-row / per-point references on small cases.

Each fast path (isochrone dissolving, road lines, facility popups, cell raster lookup, pixel
projection, bounds) is checked against a straightforward implementation of what it computes.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point

from elder_coverage.costs import access_metres_per_minute
from elder_coverage.isochrones import (
    MAX_OFFROAD_M,
    _inside_neighbour,
    dissolve_discs,
    service_area_isochrones,
)
from elder_coverage.labels import kind_label, text
from elder_coverage.maps import build, coverage_map, raster
from elder_coverage.standards import load_standards
from elder_coverage.travel import RoadNetwork

CRS = "EPSG:32652"
X0, Y0 = 300_000.0, 4_840_000.0


# --------------------------------------------------------------------------- isochrones


def random_discs(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.column_stack([X0 + rng.uniform(0, 6000, n), Y0 + rng.uniform(0, 6000, n)])
    # Clusters of small discs inside large ones, as a road's later nodes inside earlier ones.
    radii = np.where(rng.random(n) < 0.5, rng.uniform(20, 120, n), rng.uniform(300, 600, n))
    return centres, radii


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dissolve_discs_is_the_union_of_all_discs(seed):
    centres, radii = random_discs(seed)
    dropped = _inside_neighbour(centres, radii)
    assert 0 < dropped.sum() < len(radii)
    polys = shapely.buffer(shapely.points(centres), radii, quad_segs=4)
    # Every dropped disc's 16-gon lies inside another disc's 16-gon.
    for i in np.flatnonzero(dropped):
        others = np.delete(np.arange(len(radii)), i)
        assert shapely.contains(polys[others], polys[i]).any()
    # Unsimplified, the union is the same point set as the union of every disc.
    full = shapely.union_all(polys)
    fast = dissolve_discs(centres, radii, simplify_m=0.0)
    assert shapely.symmetric_difference(full, fast).area < 1e-6 * full.area
    assert dissolve_discs(centres, radii).area == pytest.approx(full.area, rel=5e-3)


def test_equal_discs_at_one_place_keep_one():
    centres = np.array([[X0, Y0], [X0, Y0], [X0 + 10, Y0]])
    radii = np.array([100.0, 100.0, 50.0])
    assert _inside_neighbour(centres, radii).tolist() == [False, False, True]
    assert dissolve_discs(centres, radii, simplify_m=0.0).area == pytest.approx(
        8 * math.sin(math.pi / 8) * 100.0**2)  # one 16-gon of radius 100


def line_network(n: int = 12, spacing: float = 200.0, minutes: float = 1.5) -> nx.MultiDiGraph:
    """A straight road of ``n`` nodes, ``spacing`` m apart, ``minutes`` per edge on foot."""
    G = nx.MultiDiGraph(crs=CRS)
    for i in range(n):
        G.add_node(i, x=X0 + i * spacing, y=Y0)
    for i in range(n - 1):
        for a, b in ((i, i + 1), (i + 1, i)):
            G.add_edge(a, b, walk_min=minutes, drive_min=minutes / 10, length=spacing,
                       highway="residential")
    return G


def test_isochrones_match_hand_computed_discs():
    G = line_network()
    net = RoadNetwork(G)
    std = load_standards(None)
    # A dining hall at node 0 and a day-care centre at node 11, both 15-minute walks.
    fac = gpd.GeoDataFrame({"id": ["a", "b"], "kind": ["dining_hall", "day_care"]},
                           geometry=[Point(X0, Y0), Point(X0 + 11 * 200.0, Y0)], crs=CRS)
    iso = service_area_isochrones(fac, net, std).set_index("kind")
    assert sorted(iso.index) == ["day_care", "dining_hall"]
    speed = access_metres_per_minute(net.mode("walk"), std, "walk")
    for kind, start in (("dining_hall", 0), ("day_care", 11)):
        minutes = std[kind].minutes
        steps = np.arange(12)
        t = np.abs(steps - start) * 1.5
        spare = np.minimum((minutes - t) * speed, MAX_OFFROAD_M)
        ok = (t <= minutes) & (spare > 1.0)
        centres = np.column_stack([X0 + steps[ok] * 200.0, np.full(ok.sum(), Y0)])
        hand = shapely.union_all(shapely.buffer(shapely.points(centres), spare[ok],
                                                quad_segs=4))
        assert iso.loc[kind, "minutes"] == minutes and iso.loc[kind, "travel"] == "walk"
        # The union of the 16-gons, simplified at the default 25 m (which fills the notches
        # between discs a little: +0.9 % here).
        assert iso.loc[kind].geometry.area == pytest.approx(hand.simplify(25.0).area, rel=1e-6)
        assert iso.loc[kind].geometry.area == pytest.approx(hand.area, rel=0.015)
        assert shapely.symmetric_difference(iso.loc[kind].geometry, hand).area < 0.02 * hand.area


# --------------------------------------------------------------------------- roads


def old_graph_lines(graph) -> tuple[list, list]:
    """The per-edge loop the map used before: one line per street, first edge of each pair."""
    seen, geoms, major = set(), [], []
    for u, v, d in graph.edges(data=True):
        key = (u, v) if str(u) <= str(v) else (v, u)
        if key in seen:
            continue
        seen.add(key)
        g = d.get("geometry")
        if g is None:
            a, b = graph.nodes[u], graph.nodes[v]
            g = LineString([(a["x"], a["y"]), (b["x"], b["y"])])
        geoms.append(g)
        hw = d.get("highway")
        major.append(str(hw[0] if isinstance(hw, list) else hw) in build._MAJOR_ROADS)
    return geoms, major


def test_graph_lines_equal_the_per_edge_loop():
    rng = np.random.default_rng(4)
    G = nx.MultiDiGraph(crs=CRS)
    names = [f"n{i}" for i in range(30)]
    for n in names:
        G.add_node(n, x=X0 + rng.uniform(0, 5000), y=Y0 + rng.uniform(0, 5000))
    kinds = ["primary", "residential", ["secondary", "track"], ["service"], None]
    for _ in range(90):
        a, b = rng.choice(names, 2)
        d = {"highway": kinds[rng.integers(len(kinds))]}
        if rng.random() < 0.3:  # a curved street carries its own geometry
            pa, pb = G.nodes[a], G.nodes[b]
            d["geometry"] = LineString([(pa["x"], pa["y"]), (pa["x"] + 50, pb["y"] - 50),
                                        (pb["x"], pb["y"])])
        G.add_edge(a, b, **d)
    geoms, major = old_graph_lines(G)
    lines = build._road_lines(G)
    assert lines.crs == CRS
    assert lines["major"].tolist() == major
    assert shapely.equals_exact(lines.geometry.to_numpy(), np.array(geoms, dtype=object),
                                tolerance=0).all()


def test_road_layers_draw_the_same_lines():
    G = line_network()
    G.add_edge(3, 20, highway="primary")
    G.add_node(20, x=X0 + 600, y=Y0 + 800)
    lines = build._road_lines(G)
    m = coverage_map(None, None, None, gpd.GeoDataFrame(
        {"id": ["a"], "kind": ["day_care"]}, geometry=[Point(X0, Y0)], crs=CRS),
        roads=G, lang="en", tiles=False)
    layers = {c.layer_name: c for c in m._children.values() if hasattr(c, "n_features")}
    drawn = {}
    for name in (text("roads_major", "en"), text("roads_minor", "en")):
        [f] = layers[name].data["features"]
        drawn[name] = shapely.geometry.shape(f["geometry"])
    to_geo = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    for major, name in ((True, text("roads_major", "en")), (False, text("roads_minor", "en"))):
        want = shapely.transform(shapely.union_all(lines.geometry[lines["major"] == major]),
                                 lambda c: np.column_stack(to_geo.transform(c[:, 0], c[:, 1])))
        # Same lines (to the 1e-5 degree the map rounds to).
        assert shapely.hausdorff_distance(drawn[name], want) < 2e-5


# --------------------------------------------------------------------------- facilities


def old_facility_rows(row: pd.Series, lang: str, closed: bool = False) -> list[tuple[str, str]]:
    """The per-row popup the map built before (pandas row access)."""
    rows = [(text("f_kind", lang), kind_label(str(row.get("kind")), lang))]
    if not build._is_missing(row.get("id")):
        rows.append((text("f_id", lang), str(row["id"])))
    formats = [("capacity", build._fmt_int), ("occupancy", build._fmt_share),
               ("nursing_beds", build._fmt_int), ("built_year", lambda v: f"{float(v):.0f}"),
               ("fire_safety_ok", build._fmt_bool(lang)),
               ("covered_elders_before", build._fmt_int)]
    if not closed:
        formats.append(("covered_elders", build._fmt_int))
    planned = not build._is_missing(row.get("covered_elders_before"))
    for col, fmt in formats:
        v = row.get(col)
        if not build._is_missing(v):
            key = "f_covered_elders_after" if col == "covered_elders" and planned else f"f_{col}"
            try:
                rows.append((text(key, lang), fmt(v)))
            except (TypeError, ValueError):
                rows.append((text(key, lang), str(v)))
    return rows


def facilities_frame() -> gpd.GeoDataFrame:
    fac = gpd.GeoDataFrame({
        "id": pd.array(["A", "B", None, "D", "E"], dtype="string"),
        "name": pd.array(["<b>x</b>", None, "{{ 7*191 }}", "D", None], dtype="string"),
        "kind": ["township_centre", "dining_hall", "unknown_kind", None, "day_care"],
        "capacity": [60, 40, 30, 20, 25],
        "occupancy": [0.25, np.nan, 55.0, 0.5, "high"],  # a per-cent value, a bad value
        "nursing_beds": pd.array([10, None, 3, 0, 1], dtype="Int64"),
        "built_year": pd.array([1999, 2005, None, 2010, 2020], dtype="Int64"),
        "fire_safety_ok": pd.array([True, False, None, True, True], dtype="boolean"),
        "covered_elders_before": [100, np.nan, 5, np.nan, np.nan],
        "covered_elders": [90, 80, 0, 10, 1234567],
    }, geometry=[Point(X0 + i * 100, Y0) for i in range(5)], crs=CRS)
    return fac


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("closed", [False, True])
def test_facility_fields_equal_the_per_row_popups(lang, closed):
    fac = facilities_frame()
    want = [old_facility_rows(fac.iloc[i], lang, closed) for i in range(len(fac))]
    assert build._facility_fields(fac, lang, closed=closed) == want
    names = [str(fac.iloc[i]["id"]) if build._is_missing(fac.iloc[i]["name"])
             else str(fac.iloc[i]["name"]) for i in range(len(fac))]
    assert build._names(fac) == names
    # Columns that are absent are simply left out.
    slim = fac[["id", "kind", "geometry"]]
    assert build._facility_fields(slim, lang) == [old_facility_rows(slim.iloc[i], lang)
                                                  for i in range(len(slim))]


# --------------------------------------------------------------------------- raster, bounds


def test_lattice_lookup_equals_the_tree(monkeypatch):
    rng = np.random.default_rng(9)
    ii, jj = np.meshgrid(np.arange(60), np.arange(40), indexing="ij")
    keep = rng.random(ii.size) < 0.4
    xy = np.column_stack([X0 + 125 + 250 * ii.ravel()[keep], Y0 + 125 + 250 * jj.ravel()[keep]])
    assert raster._LatticeLookup.of(xy, 250.0) is not None
    fast = raster.cell_raster(xy, CRS, 250.0, oversample=3)
    monkeypatch.setattr(raster._LatticeLookup, "of", classmethod(lambda cls, xy, size: None))
    tree = raster.cell_raster(xy, CRS, 250.0, oversample=3)
    assert np.array_equal(fast.cell_index, tree.cell_index)
    monkeypatch.undo()
    # Off the lattice (or two centres at one place) the tree is used.
    assert raster._LatticeLookup.of(xy + [0.3, -7.0], 250.0) is not None  # any origin
    wobbly = xy.copy()
    wobbly[0, 0] += 3.0
    assert raster._LatticeLookup.of(wobbly, 250.0) is None
    assert raster._LatticeLookup.of(np.vstack([xy, xy[:1]]), 250.0) is None


def test_pixel_projection_within_3_cm_over_a_province():
    # Jilin's extent in Web Mercator at the province's pixel (250 m cells, 2 pixels a cell).
    to_merc = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    (mx0, my0), (mx1, my1) = to_merc.transform(121.6, 40.8), to_merc.transform(131.4, 46.4)
    pixel = 250.0 / math.cos(math.radians(43.6)) / 2
    xs = np.arange(mx0, mx1, pixel) + pixel / 2
    ys = np.arange(my1, my0, -pixel) - pixel / 2
    back = pyproj.Transformer.from_crs(3857, CRS, always_xy=True)
    proj = raster._PixelProjection(xs, ys, back)
    for r0 in (0, len(ys) // 2, len(ys) - 50):  # north edge, middle, south edge
        ux, uy = proj.rows(r0, r0 + 50)
        gx, gy = np.meshgrid(xs, ys[r0:r0 + 50])
        ex, ey = back.transform(gx.ravel(), gy.ravel())
        assert np.abs(ux.ravel() - ex).max() < 0.03
        assert np.abs(uy.ravel() - ey).max() < 0.03


def test_bounds_equal_reprojected_total_bounds():
    fac = facilities_frame()
    polys = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + 9000, Y0 + 7000)], crs=CRS)
    for layer in (fac, polys):
        assert build._bounds_lonlat(layer) == tuple(layer.to_crs(4326).total_bounds)
    lat, lon = build._latlon(fac).T
    ll = fac.to_crs(4326)
    assert np.array_equal(lat, ll.geometry.y.to_numpy())
    assert np.array_equal(lon, ll.geometry.x.to_numpy())


# --------------------------------------------------------------------------- deferred layers


def test_isochrones_as_callable_give_the_same_map():
    fac = facilities_frame().iloc[:2].assign(kind=["day_care", "dining_hall"])
    iso = gpd.GeoDataFrame({"kind": ["day_care", "dining_hall"]},
                           geometry=[Point(X0, Y0).buffer(800), Point(X0 + 100, Y0).buffer(700)],
                           crs=CRS)
    calls = []

    def later():
        calls.append(1)
        return iso

    cells = gpd.GeoDataFrame({"elders_60": [5.0, 9.0], "day_care_covered": [True, False]},
                             geometry=[Point(X0 + 125, Y0 + 125), Point(X0 + 375, Y0 + 125)],
                             crs=CRS)
    maps = [coverage_map(None, None, cells, fac, isochrones=i, lang="en", tiles=False,
                         closed_ids=["A"]) for i in (iso, later)]
    assert calls == [1]
    order = [[getattr(c, "layer_name", type(c).__name__) for c in m._children.values()]
             for m in maps]
    assert order[0] == order[1]
    names = order[0]
    # The service areas sit between the demand layers and the facilities, as before.
    first_area = min(i for i, n in enumerate(names) if str(n).startswith("Service area"))
    assert str(names[first_area - 1]).startswith("Uncovered")
    assert str(names[first_area + 2]).startswith("Facilities")
    assert build.map_html(maps[0]).count("Service area") == build.map_html(maps[1]).count(
        "Service area")


def test_simplify_valid_is_douglas_peucker_and_valid(monkeypatch):
    from elder_coverage import isochrones

    circle = Point(X0, Y0).buffer(600, quad_segs=16)
    assert shapely.equals_exact(isochrones.simplify_valid(circle, 25.0),
                                shapely.simplify(circle, 25.0, preserve_topology=False), 0)
    # Douglas-Peucker drops the roof's peak across the hole; GEOS repairs the polygon (the
    # hole opens into a notch): valid, and close to the topology-preserving result.
    house = shapely.Polygon([(0, 0), (1000, 0), (1000, 1000), (500, 1030), (0, 1000)],
                            [[(460, 960), (540, 960), (540, 1020), (460, 1020)]])
    out = isochrones.simplify_valid(np.array([house, circle, None], dtype=object), 35.0)
    keep = shapely.simplify(house, 35.0, preserve_topology=True)
    assert out[0].is_valid and shapely.symmetric_difference(out[0], keep).area < 0.02 * keep.area
    assert out[1].is_valid and out[2] is None
    # Should a Douglas-Peucker result be invalid, the topology-preserving one is used.
    real = shapely.simplify
    monkeypatch.setattr(isochrones.shapely, "simplify", lambda g, t, preserve_topology: (
        real(g, t, preserve_topology=True) if preserve_topology
        else shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])))
    fixed = isochrones.simplify_valid(house, 35.0)
    assert fixed.is_valid and shapely.equals_exact(
        fixed, real(house, 35.0, preserve_topology=True), 0)
