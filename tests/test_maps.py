"""Coverage map: layers, escaping, raster placement, service areas, offline HTML."""

from __future__ import annotations

import base64
import io
import json
import math
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from PIL import Image
from shapely.geometry import Point, box

from elder_coverage.labels import STRINGS, kind_label, text
from elder_coverage.maps import coverage_map, map_html, save_map, service_area_polygons
from elder_coverage.maps.elements import LineLayer, PointLayer, js_literal
from elder_coverage.maps.offline import OfflineAssetError, inline_assets
from elder_coverage.maps.raster import cell_raster, class_breaks, classify, png_data_uri
from elder_coverage.standards import load_standards

CRS = "EPSG:32652"
X0, Y0 = 300_000.0, 4_840_000.0
EVIL = "<script>alert(1)</script>"
EVIL_IMG = '<img src=x onerror="window.__xss=1">'
EVIL_TEMPLATE = "`${window.__xss=2}`\\u0041</script>"


def small_inputs() -> dict:
    """A 5 km x 5 km study area: 2 townships, 20x20 cells of 250 m, 6 facilities, a merge."""
    counties = gpd.GeoDataFrame({"code": ["220299"], "name": ["测试县" + EVIL]},
                                geometry=[box(X0, Y0, X0 + 5000, Y0 + 5000)], crs=CRS)
    townships = gpd.GeoDataFrame(
        {"code": ["T1", "T2"], "name": ["西乡", EVIL_IMG], "county_code": ["220299"] * 2},
        geometry=[box(X0, Y0, X0 + 2500, Y0 + 5000), box(X0 + 2500, Y0, X0 + 5000, Y0 + 5000)],
        crs=CRS)
    ii, jj = np.meshgrid(np.arange(20), np.arange(20), indexing="ij")
    x = X0 + 125 + 250 * ii.ravel()
    y = Y0 + 125 + 250 * jj.ravel()
    elders = ((ii.ravel() * 3 + jj.ravel()) % 7).astype(float)
    west = x < X0 + 2500
    cells = gpd.GeoDataFrame({
        "cell_id": np.arange(len(x)), "elders_60": elders, "elders_65": elders,
        "elders_80": np.zeros(len(x)), "county_code": "220299",
        "township_code": np.where(west, "T1", "T2"),
        "township_centre_covered": west,          # west township fully covered
        "dining_hall_covered": y < Y0 + 1000,      # a southern strip
    }, geometry=gpd.points_from_xy(x, y), crs=CRS)
    facilities = gpd.GeoDataFrame({
        "id": ["A", "B", "C", "D", "E", "F"],
        "name": [EVIL, "东乡中心", "南餐厅", EVIL_TEMPLATE, "北餐厅", EVIL_IMG],
        "kind": ["township_centre", "township_centre", "dining_hall", "dining_hall",
                 "dining_hall", "rural_courtyard"],
        "capacity": [60, 40, 30, 20, 25, 10],
        "occupancy": [0.25, 0.8, np.nan, 0.5, 0.9, 0.1],
        "covered_elders": [0, 800, 50, 40, 30, 12],
        "covered_elders_before": [2988, 800, 50, 40, 30, 12],
        "fire_safety_ok": [False, True, True, True, True, True],
    }, geometry=[Point(X0 + 1000, Y0 + 2500), Point(X0 + 4000, Y0 + 2500),
                 Point(X0 + 1000, Y0 + 500), Point(X0 + 3000, Y0 + 500),
                 Point(X0 + 2500, Y0 + 4500), Point(X0 + 4500, Y0 + 4500)], crs=CRS)
    merges = pd.DataFrame({"from_id": ["A"], "to_id": ["B"], "from_name": [EVIL],
                           "to_name": ["东乡中心"], "road_km": [3.04], "residents_moved": [15],
                           "receiving_occupancy_after": [0.95]})
    new_sites = gpd.GeoDataFrame({"kind": ["dining_hall"], "name": [EVIL_IMG],
                                  "covered_elders_gain": [321]},
                                 geometry=[Point(X0 + 4000, Y0 + 4000)], crs=CRS)
    return {"counties": counties, "townships": townships, "cells": cells,
            "facilities": facilities, "merges": merges, "closed_ids": ["A"],
            "new_sites": new_sites}


def build(lang: str = "zh", **over) -> folium.Map:
    d = small_inputs()
    d.update(over)
    return coverage_map(d["counties"], d["townships"], d["cells"], d["facilities"],
                        merges=d["merges"], closed_ids=d["closed_ids"], new_sites=d["new_sites"],
                        lang=lang, tiles=False)


def overlays(m: folium.Map) -> dict[str, object]:
    """Layer-control entries (name -> element), as the LayerControl will list them."""
    return {c.layer_name: c for c in m._children.values()
            if isinstance(c, folium.map.Layer) and c.control and c.overlay}


def points_of(layer: PointLayer) -> list:
    """Each marker as [lat, lon, popup HTML as the browser builds it, title]."""
    assert len(json.loads(layer.points_js)) == len(layer.points)
    return layer.points


# --------------------------------------------------------------------------- layers


def test_layers_zh_one_per_part():
    m = build("zh")
    names = list(overlays(m))
    dens = text("density", "zh", age=60, size="250")
    assert names[0] == dens
    expected = {
        dens,
        text("uncovered", "zh", kind=kind_label("township_centre", "zh")),
        text("uncovered", "zh", kind=kind_label("dining_hall", "zh")),
        text("counties", "zh"), text("townships", "zh"),
        text("facilities_layer", "zh", kind=kind_label("township_centre", "zh")),
        text("facilities_layer", "zh", kind=kind_label("dining_hall", "zh")),
        text("facilities_layer", "zh", kind=kind_label("rural_courtyard", "zh")),
        text("closed_layer", "zh"), text("receiving_layer", "zh"), text("merge_lines", "zh"),
        text("new_sites", "zh"), text("township_names", "zh"),
    }
    # plus one service area per kind present (3 kinds)
    areas = [n for n in names if n.startswith("服务范围")]
    assert len(areas) == 3
    assert set(names) - set(areas) == expected
    assert len(names) == len(expected) + 3


def test_layers_en_and_radius_fallback_named():
    m = build("en")
    names = list(overlays(m))
    assert "Elders aged 60+ (per 250 m cell)" in names
    assert "Facilities: Township welfare centre" in names
    # default standards are network-based; without isochrones the name must say "approximated"
    area = [n for n in names if n.startswith("Service area: Elder dining hall")]
    assert area == ["Service area: Elder dining hall (≈ 1000 m radius, no road isochrones)"]


def test_facility_layers_hold_open_facilities_with_escaped_popups():
    m = build("en")
    layers = overlays(m)
    centres = points_of(layers["Facilities: Township welfare centre"])
    # A is closed by the plan: it moves to the closed layer, B stays
    assert [p[3] for p in centres] == ["东乡中心"]
    closed = points_of(layers["Closed centres"])
    assert len(closed) == 1
    lat, lon, popup, title = closed[0]
    assert title == EVIL  # plain text: Leaflet sets it as a DOM property
    assert EVIL not in popup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in popup
    assert "<td>25%</td>" in popup and "<td>no</td>" in popup
    # a closed centre shows whom it served before the plan, never "serves 0 after"
    assert "<th>Elders within standard, before (persons)</th><td>2,988</td>" in popup
    assert "after" not in popup and "1,234" not in popup
    assert "<td>东乡中心</td>" in popup  # its receiver
    t = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    elon, elat = t.transform(X0 + 1000, Y0 + 2500)
    assert lat == pytest.approx(elat, abs=1e-6) and lon == pytest.approx(elon, abs=1e-6)
    dining = points_of(layers["Facilities: Elder dining hall"])
    tmpl = [p for p in dining if p[3] == EVIL_TEMPLATE][0]
    assert "`" in tmpl[2] and "${" in tmpl[2]  # harmless: popups are JSON strings, not templates
    assert "&lt;/script&gt;" in tmpl[2]
    assert "Occupancy" not in [p for p in dining if p[3] == "南餐厅"][0][2]  # NaN left out


def test_merge_line_and_receiver():
    m = build("en")
    layers = overlays(m)
    lines = json.loads(layers["Merges (closed → receiver)"].lines_js)
    assert len(lines) == 1
    (a, b), popup = lines[0]
    t = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
    for (lat, lon), (x, y) in zip([a, b], [(X0 + 1000, Y0 + 2500), (X0 + 4000, Y0 + 2500)],
                                  strict=True):
        elon, elat = t.transform(x, y)
        assert (lat, lon) == pytest.approx((elat, elon), abs=1e-6)
    assert "<td>3.0</td>" in popup and "<td>15</td>" in popup and "<td>95%</td>" in popup
    recv = points_of(layers["Receiving centres"])
    assert [p[3] for p in recv] == ["东乡中心"]
    assert "&lt;script&gt;" in recv[0][2]  # lists the closed centre it receives, escaped
    new = points_of(layers["New sites"])
    assert len(new) == 1 and "<td>321</td>" in new[0][2] and EVIL_IMG not in new[0][2]


def test_community_uncovered_layer_is_default_and_exact():
    d = small_inputs()
    cells = d["cells"].copy()
    ii = ((cells.geometry.x - X0) // 250).astype(int).to_numpy()
    cells["rural_courtyard_covered"] = ii < 4
    cells["day_care_covered"] = pd.array([True if i == 10 else None for i in ii],
                                         dtype="boolean")  # NA counts as not covered
    m = build("en", cells=cells)
    layers = overlays(m)
    name = "Uncovered elders: Community services (any)"
    assert layers[name].show
    assert not layers["Uncovered elders: Elder dining hall"].show
    keep = cells["elders_60"].to_numpy() > 0
    served = (cells["dining_hall_covered"].to_numpy() | (ii < 4) | (ii == 10))[keep]
    xy = np.column_stack([cells.geometry.x, cells.geometry.y])[keep]
    raster = cell_raster(xy, CRS, 250.0)
    png = base64.b64decode(layers[name].url.split(",", 1)[1])
    px = np.asarray(Image.open(io.BytesIO(png)))
    inside = raster.cell_index >= 0
    drawn = px[inside] > 0
    assert np.array_equal(drawn, ~served[raster.cell_index[inside]])
    assert drawn.any() and not drawn.all()


def test_split_merge_and_runner_style_new_sites():
    d = small_inputs()
    # residents of A split over B and E; new site already appended to facilities (runner style)
    merges = pd.DataFrame({"from_id": ["A", "A"], "to_id": ["B", "E"],
                           "from_name": ["甲", "甲"], "to_name": ["东乡中心", "北餐厅"],
                           "road_km": [3.0, None], "residents_moved": [10, 5],
                           "receiving_occupancy_before": [0.5, 0.7],
                           "receiving_occupancy_after": [0.8, 0.9],
                           "catchment_elders_moved": [400, 20]})
    new = d["new_sites"].assign(id=["NEW-1"], covered_gain=[77.0]).drop(
        columns="covered_elders_gain")
    fac = pd.concat([d["facilities"], new.assign(capacity=0)], ignore_index=True)
    m = build("en", merges=merges, new_sites=new, facilities=fac)
    layers = overlays(m)
    closed = points_of(layers["Closed centres"])
    assert len(closed) == 1
    assert "<th>Receiving centre</th><td>东乡中心</td>" in closed[0][2]
    assert "<th>Receiving centre</th><td>北餐厅</td>" in closed[0][2]
    lines = json.loads(layers["Merges (closed → receiver)"].lines_js)
    assert len(lines) == 2
    assert "<td>400</td>" in lines[0][1] and "<td>50%</td>" in lines[0][1]
    assert "Road distance" not in lines[1][1]  # None road distance is left out
    assert sorted(p[3] for p in points_of(layers["Receiving centres"])) == ["东乡中心", "北餐厅"]
    dining = [p[3] for p in points_of(layers["Facilities: Elder dining hall"])]
    assert EVIL_IMG not in dining and len(dining) == 3  # NEW-1 only in the new-sites layer
    new_pts = points_of(layers["New sites"])
    assert "<td>NEW-1</td>" in new_pts[0][2] and "<td>77</td>" in new_pts[0][2]


def test_township_tooltip_shares_hand_computed():
    d = small_inputs()
    m = build("en")
    tw = overlays(m)["Township boundaries"]
    west_tip, east_tip = [f["properties"]["tip"] for f in tw.data["features"]]
    cells = d["cells"]
    west = cells[cells.township_code == "T1"]
    east = cells[cells.township_code == "T2"]
    assert west_tip.startswith('<div class="ec-pop"><b>西乡</b>')
    assert f"<th>Elders 60+ (persons)</th><td>{west.elders_60.sum():,.0f}</td>" in west_tip
    assert "<th>Covered by Township welfare centre</th><td>100.0%</td>" in west_tip
    assert "<b>&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;</b>" in east_tip
    assert "<th>Covered by Township welfare centre</th><td>0.0%</td>" in east_tip
    share = east.elders_60[east.geometry.y < Y0 + 1000].sum() / east.elders_60.sum()
    assert f"<th>Covered by Elder dining hall</th><td>{share:.1%}</td>" in east_tip


def test_siting_bad_reference_names_row_and_field():
    d = small_inputs()
    bad = d["merges"].assign(to_id=["ZZ"])
    with pytest.raises(ValueError, match=r"merges row 0: to_id 'ZZ' is not a facility id"):
        build(merges=bad)
    with pytest.raises(ValueError, match="closed_ids: 'Q'"):
        build(closed_ids=["Q"])
    with pytest.raises(ValueError, match="lang="):
        build(lang="fr")
    with pytest.raises(ValueError, match="cells: expected a projected"):
        build(cells=d["cells"].to_crs(4326))


def test_optional_parts_missing():
    d = small_inputs()
    only_counties = coverage_map(d["counties"], None, None, None, tiles=False)
    assert list(overlays(only_counties)) == [text("counties", "zh")]
    no_cov = d["cells"][["cell_id", "elders_60", "geometry"]]
    m = coverage_map(None, None, no_cov, d["facilities"], tiles=False, lang="en")
    names = list(overlays(m))
    assert not any(n.startswith("Uncovered") for n in names)
    assert "Closed centres" not in names and "New sites" not in names
    assert "Facilities: Rural elder-care courtyard" in names
    with pytest.raises(ValueError, match="all empty"):
        coverage_map(None, None, None, None)
    map_html(m)  # renders


# --------------------------------------------------------------------------- HTML


def test_html_self_contained_and_escaped(tmp_path):
    m = build("zh")
    path = save_map(m, tmp_path / "map.html")
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link)\b[^>]*\b(src|href)=", page)
    assert "https://cdn" not in page and "code.jquery.com" not in page
    assert "Leaflet 1.9.3" in page or "1.9.3" in page
    assert "L.Control.FullScreen" in page or "fullscreen" in page.lower()
    for raw in (EVIL, EVIL_IMG, "</script><"):
        assert raw not in page
    # same number of <script> elements with and without hostile names
    plain = small_inputs()
    plain["facilities"]["name"] = [f"F{i}" for i in range(6)]
    plain["counties"]["name"] = ["县"]
    plain["townships"]["name"] = ["甲", "乙"]
    plain["merges"]["from_name"] = ["F0"]
    plain["new_sites"]["name"] = ["N"]
    tame = map_html(build("zh", **plain))
    assert page.lower().count("<script") == tame.lower().count("<script")
    assert len(page.encode()) < 1_500_000
    assert list(tmp_path.iterdir()) == [path]


def test_save_map_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "map.html"
    target.write_text("old", encoding="utf-8")

    def boom(html):
        raise OfflineAssetError("external")

    monkeypatch.setattr("elder_coverage.maps.build.inline_assets", boom)
    with pytest.raises(OfflineAssetError):
        save_map(build("en"), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_inline_assets_refuses_external_links():
    with pytest.raises(OfflineAssetError, match="external"):
        inline_assets('<html><script src="https://cdn.example/x.js"></script></html>')
    out = inline_assets('<link rel="stylesheet" href="elder-coverage-asset/leaflet.css"/>')
    assert out.startswith("<style>") and "url(data:image/png;base64," in out
    assert "images/layers.png" not in out


def test_js_literal_cannot_close_script():
    s = js_literal({"a": "</script><script>x()</script>", "b": "\u2028&'"})
    assert "<" not in s and ">" not in s and "&" not in s and "'" not in s
    assert json.loads(s) == {"a": "</script><script>x()</script>", "b": "\u2028&'"}
    layer = PointLayer([(1.0, 2.0, "<b>x</b>", "t")], "<i></i>", "n")
    assert json.loads(layer.points_js) == [[1.0, 2.0, "<b>x</b>", "t"]]
    line = LineLayer([([(1, 2), (3, 4)], "p")], {"color": "red"}, "l")
    assert json.loads(line.lines_js) == [[[[1, 2], [3, 4]], "p"]]


# --------------------------------------------------------------------------- raster


def _pixel_cells(raster, n_cells):
    """UTM coordinates of each pixel centre and the cell index it was given."""
    (south, west), (north, east) = raster.bounds
    to_m = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    mx0, my0 = to_m.transform(west, south)
    mx1, my1 = to_m.transform(east, north)
    rows, cols = raster.shape
    assert (mx1 - mx0) / cols == pytest.approx(raster.pixel_m, rel=1e-9)
    assert (my1 - my0) / rows == pytest.approx(raster.pixel_m, rel=1e-9)
    r, c = np.nonzero(raster.cell_index >= 0)
    mx = mx0 + (c + 0.5) * raster.pixel_m
    my = my1 - (r + 0.5) * raster.pixel_m
    ux, uy = pyproj.Transformer.from_crs(3857, CRS, always_xy=True).transform(mx, my)
    return np.asarray(ux), np.asarray(uy), raster.cell_index[r, c]


def test_raster_pixels_fall_in_their_cell():
    # a 3x3 block and one far-away cell; cell size 250 m
    xs = [X0 + 125 + 250 * i for i in range(3) for _ in range(3)] + [X0 + 20_125]
    ys = [Y0 + 125 + 250 * j for _ in range(3) for j in range(3)] + [Y0 + 10_125]
    xy = np.column_stack([xs, ys])
    raster = cell_raster(xy, CRS, 250.0, oversample=4)
    ux, uy, idx = _pixel_cells(raster, len(xy))
    # every drawn pixel centre lies inside the square of the cell it shows (pixel centres are
    # projected bilinearly between exact knots: within 3 cm)
    assert np.all(np.abs(ux - xy[idx, 0]) <= 125 + 0.03)
    assert np.all(np.abs(uy - xy[idx, 1]) <= 125 + 0.03)
    # a pixel is 250/cos(lat)/4 Mercator metres = 62.5 m on the ground: 16 pixels per cell
    expect = 16
    counts = np.bincount(idx, minlength=len(xy))
    assert counts.min() >= 0.6 * expect and counts.max() <= 1.5 * expect
    # gap between the block and the far cell stays transparent
    assert (raster.cell_index < 0).mean() > 0.9


def test_png_classes_and_palette():
    xy = np.array([[X0 + 125, Y0 + 125], [X0 + 375, Y0 + 125]])
    raster = cell_raster(xy, CRS, 250.0, oversample=2)
    uri = png_data_uri(raster, np.array([1, 2], dtype=np.uint8), [(255, 0, 0), (0, 0, 255)])
    assert uri.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert img.mode == "P" and img.size == (raster.shape[1], raster.shape[0])
    assert img.info["transparency"] == 0
    px = np.asarray(img)
    want = np.where(raster.cell_index < 0, 0, raster.cell_index + 1)
    assert np.array_equal(px, want)
    rgb = np.asarray(img.convert("RGB"))
    assert tuple(rgb[px == 1][0]) == (255, 0, 0) and tuple(rgb[px == 2][0]) == (0, 0, 255)


def test_class_breaks_and_classify():
    v = np.array([1, 1, 1, 1, 100.0])
    assert class_breaks(v) == [1.0, 100.0]  # 100 of the 104 elders live in the last cell
    # per cell: the 5/6 quantile interpolates 1 + (10/3 - 3) * 99 = 34 -> snapped down to 20
    assert class_breaks(v, weighted=False) == [1.0, 20.0]
    assert class_breaks(np.array([37.0, 37.0]), weighted=False) == [20.0]
    assert class_breaks(np.array([0.0, np.nan])) == [1.0]
    assert class_breaks(np.arange(1, 1001.0), 4, weighted=False) == [1.0, 200.0, 500.0]
    assert classify(np.array([0, 1, 4, 5, np.nan, 7]), [1, 5]).tolist() == [0, 1, 1, 2, 0, 2]


# --------------------------------------------------------------------------- service areas


def test_service_area_radius_union_hand_computed():
    std = load_standards({"dining_hall": {"mode": "straight_line", "radius_m": 1000}})
    fac = gpd.GeoDataFrame({"id": ["a", "b", "c"], "kind": ["dining_hall"] * 2 + ["day_care"]},
                           geometry=[Point(X0, Y0), Point(X0 + 1000, Y0), Point(X0, Y0 + 9000)],
                           crs=CRS)
    areas = service_area_polygons(fac, std).set_index("kind")
    assert list(areas.index) == ["dining_hall", "day_care"]
    assert areas.loc["dining_hall", "basis"] == "radius"
    assert areas.loc["day_care", "basis"] == "radius_fallback"  # network standard, no isochrones
    r, d = 1000.0, 1000.0
    lens = 2 * r**2 * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r**2 - d**2)
    union = 2 * math.pi * r**2 - lens
    assert areas.loc["dining_hall"].geometry.area == pytest.approx(union, rel=2e-3)
    assert areas.loc["day_care"].geometry.area == pytest.approx(math.pi * r**2, rel=2e-3)
    assert areas.loc["dining_hall", "n_facilities"] == 2


def test_service_area_uses_isochrones_for_network_kinds():
    fac = gpd.GeoDataFrame({"id": ["a"], "kind": ["day_care"]}, geometry=[Point(X0, Y0)], crs=CRS)
    iso = gpd.GeoDataFrame({"kind": ["day_care", "day_care"]},
                           geometry=[box(X0 - 500, Y0 - 500, X0, Y0 + 500),
                                     box(X0, Y0 - 500, X0 + 300, Y0 + 500)],
                           crs=CRS).to_crs(4326)
    areas = service_area_polygons(fac, None, isochrones=iso)
    assert areas["basis"].tolist() == ["network"]
    assert areas.geometry.iloc[0].area == pytest.approx(800 * 1000, rel=1e-3)
    m = coverage_map(None, None, None, fac, isochrones=iso, lang="en", tiles=False)
    assert "Service area: Day-care centre (15 min walk)" in overlays(m)
    empty = service_area_polygons(fac.iloc[:0], None)
    assert len(empty) == 0 and list(empty.columns)[:2] == ["kind", "basis"]


# --------------------------------------------------------------------------- labels


def test_labels_complete_and_formatted():
    for key, entry in STRINGS.items():
        assert set(entry) == {"zh", "en"}, key
        assert all(entry.values()) or key == "chart_font_note", key
        if entry["en"]:
            assert sorted(re.findall(r"{\w+}", entry["zh"])) == \
                sorted(re.findall(r"{\w+}", entry["en"])), key
    assert text("uncovered", "en", kind="X") == "Uncovered elders: X"
    with pytest.raises(KeyError, match="nope"):
        text("nope")


def test_compact_geojson_decodes_to_the_same_coordinates():
    from elder_coverage.maps.elements import compact_geojson

    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "0", "properties": {"tip": "x"},
         "geometry": {"type": "MultiPolygon", "coordinates": [
             [[[126.12345, 43.5], [126.12346, 43.49999], [125.99999, 43.61], [126.12345, 43.5]]]]}},
        {"type": "Feature", "id": "1", "properties": {},
         "geometry": {"type": "Point", "coordinates": [126.1, 43.2]}}]}
    out = compact_geojson(data)
    enc = out["features"][0]["geometry"]["e"][0][0]
    assert enc == [12612345, 4350000, 1, -1, -12347, 11001, 12346, -11000]
    # What the map's decoder does: running sums divided by 100,000.
    x, y, ring = 0, 0, []
    for dx, dy in zip(enc[::2], enc[1::2], strict=True):
        x, y = x + dx, y + dy
        ring.append([x / 100_000, y / 100_000])
    assert ring == data["features"][0]["geometry"]["coordinates"][0][0]
    assert out["features"][1] == data["features"][1]  # points as they are
    assert "coordinates" in data["features"][0]["geometry"]  # the input is not changed


def test_point_popups_built_in_the_browser_equal_the_template_html():
    from elder_coverage.maps.build import popup_html

    rows = [("Name <b>", 'a "b" & \'c\''), ("n", "1,234")]
    layer = PointLayer([(1.0, 2.0, rows, "<script>x</script>"), (1.5, 2.5, rows, "t")],
                       "<i></i>", "n")
    assert layer.points[0][2] == popup_html("<script>x</script>", rows)
    compact = json.loads(layer.points_js)
    strings = json.loads(layer.strings_js)
    assert compact[1][2] == [0, 1, 2, 3] and strings[:2] == ["Name <b>", 'a "b" & \'c\'']
