"""Road graphs from OSM XML and GraphML, with hand-checked elderly walking and driving minutes."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pytest
from pyproj import Transformer

from elder_coverage.io import (
    InputError,
    graph_from_osm_xml,
    graph_from_polygon,
    load_graph,
    save_graph,
)
from elder_coverage.schema import EDGE_DRIVE_MINUTES as DRIVE
from elder_coverage.schema import EDGE_WALK_MINUTES as WALK

R = 6_371_009.0  # osmnx's mean Earth radius for great-circle edge lengths (m)
STEP = 0.009  # degrees of latitude between consecutive nodes on the 126.5E meridian
L = R * math.radians(STEP)  # 1000.755 m: length of one north-south segment

NODES = {
    1: (43.800, 126.50), 2: (43.809, 126.50), 3: (43.818, 126.50), 4: (43.809, 126.51),
    5: (43.827, 126.50), 6: (43.791, 126.50), 7: (43.800, 126.49), 11: (43.782, 126.50),
    12: (43.773, 126.50), 13: (43.809, 126.49), 14: (43.818, 126.49),
    20: (43.8001, 126.5001), 21: (43.8001, 126.5002), 22: (43.8002, 126.5002),
}
WAYS = {
    100: ([1, 2], {"highway": "residential"}),
    101: ([2, 3], {"highway": "primary", "maxspeed": "50"}),
    102: ([2, 4], {"highway": "footway"}),
    103: ([3, 5], {"highway": "motorway", "oneway": "yes"}),
    104: ([1, 6], {"highway": "tertiary", "oneway": "yes"}),
    105: ([1, 7], {"highway": "steps"}),
    106: ([6, 11, 12], {"highway": "unclassified", "name": "村道"}),
    107: ([2, 13], {"highway": "residential", "foot": "no"}),
    108: ([3, 14], {"highway": "residential", "motor_vehicle": "no"}),
    109: ([20, 21, 22, 20], {"building": "yes"}),
}


def osm_xml(nodes: dict = NODES, ways: dict = WAYS) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i, (lat, lon) in nodes.items():
        out.append(f'  <node id="{i}" version="1" lat="{lat}" lon="{lon}"/>')
    for w, (refs, tags) in ways.items():
        out.append(f'  <way id="{w}" version="1">')
        out += [f'    <nd ref="{n}"/>' for n in refs]
        out += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        out.append("  </way>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


def east_west(lat: float, dlon: float) -> float:
    """Great-circle length of a segment along a parallel (haversine)."""
    return 2 * R * math.asin(math.cos(math.radians(lat)) * math.sin(math.radians(dlon) / 2))


def walk(m: float, factor: float = 1.3) -> float:
    return m / (3.0 * 1000 / 60) * factor  # 3 km/h = 50 m/min


def drive(m: float, kph: float, factor: float = 1.25) -> float:
    return m / (kph * 1000 / 60) * factor


@pytest.fixture
def osm_file(tmp_path: Path) -> Path:
    p = tmp_path / "town.osm"
    p.write_text(osm_xml(), encoding="utf-8")
    return p


def edge(G: nx.MultiDiGraph, u: int, v: int) -> dict:
    assert G.number_of_edges(u, v) == 1, (u, v)
    return G.edges[u, v, 0]


def test_winter_minutes_by_hand(osm_file: Path) -> None:
    G = graph_from_osm_xml(osm_file)
    assert G.graph["crs"].to_epsg() == 32652 and G.graph["source_crs"] == "EPSG:4326"
    assert G.graph["season"] == "winter"
    # Residential, no maxspeed: 30 km/h from the table. 1000.755 m: walk 26.02 min, drive 2.50.
    e = edge(G, 1, 2)
    assert e["length"] == pytest.approx(L, rel=1e-9)
    assert e[WALK] == pytest.approx(walk(L)) == pytest.approx(26.0196, abs=1e-4)
    assert e[DRIVE] == pytest.approx(drive(L, 30)) == pytest.approx(2.5019, abs=1e-4)
    assert edge(G, 2, 1)[DRIVE] == pytest.approx(drive(L, 30))
    # Primary with maxspeed 50: the posted speed wins over the table's 60.
    assert edge(G, 2, 3)[DRIVE] == pytest.approx(drive(L, 50))
    # Motorway, one-way: drivable one way only at 100 km/h, never walkable.
    e = edge(G, 3, 5)
    assert e[DRIVE] == pytest.approx(drive(L, 100)) and e[WALK] == math.inf
    assert not G.has_edge(5, 3)
    # One-way tertiary: cars 1->6 only, but walkers both ways via a walk-only twin.
    assert edge(G, 1, 6)[DRIVE] == pytest.approx(drive(L, 40))
    twin = edge(G, 6, 1)
    assert twin["walk_only"] and twin[DRIVE] == math.inf
    assert twin[WALK] == pytest.approx(walk(L))
    # Footway and steps: walking only.
    foot = east_west(43.809, 0.01)
    assert edge(G, 2, 4)[WALK] == pytest.approx(walk(foot)) and edge(G, 2, 4)[DRIVE] == math.inf
    assert edge(G, 1, 7)[DRIVE] == math.inf and edge(G, 1, 7)[WALK] < math.inf
    # foot=no / motor_vehicle=no on residential streets.
    assert edge(G, 2, 13)[WALK] == math.inf and edge(G, 2, 13)[DRIVE] < math.inf
    assert edge(G, 3, 14)[DRIVE] == math.inf and edge(G, 3, 14)[WALK] < math.inf


def test_simplified_chain_sums_lengths_and_drops_non_roads(osm_file: Path) -> None:
    G = graph_from_osm_xml(osm_file)
    assert 11 not in G  # interstitial village-road node merged away
    e = edge(G, 6, 12)
    assert e["length"] == pytest.approx(2 * L, rel=1e-9)
    assert e[WALK] == pytest.approx(walk(2 * L)) and e[DRIVE] == pytest.approx(drive(2 * L, 30))
    assert not {20, 21, 22} & set(G.nodes)  # the building outline is not a road
    x, y = Transformer.from_crs(4326, 32652, always_xy=True).transform(126.5, 43.8)
    assert G.nodes[1]["x"] == pytest.approx(x) and G.nodes[1]["y"] == pytest.approx(y)


def test_summer_and_custom_speed(osm_file: Path) -> None:
    G = graph_from_osm_xml(osm_file, season="summer", walk_kph=4.0, crs="EPSG:32651")
    assert G.graph["crs"].to_epsg() == 32651
    e = edge(G, 1, 2)
    assert e[WALK] == pytest.approx(L / (4000 / 60))
    assert e[DRIVE] == pytest.approx(L / (30000 / 60))


def test_graphml_round_trip(osm_file: Path, tmp_path: Path) -> None:
    G = graph_from_osm_xml(osm_file)
    out = tmp_path / "graphs" / "town.graphml"
    save_graph(G, out)
    assert [p.name for p in out.parent.iterdir()] == ["town.graphml"]
    H = load_graph(out)
    assert set(H.edges(keys=True)) == set(G.edges(keys=True))
    for u, v, k, d in G.edges(keys=True, data=True):
        h = H.edges[u, v, k]
        assert h[WALK] == d[WALK] and h[DRIVE] == d[DRIVE]  # inf survives as inf
        assert h["length"] == pytest.approx(d["length"])
    assert H.edges[6, 1, 0]["walk_only"] is True and "walk_only" not in H.edges[1, 6, 0]
    assert H.graph["walk_kph"] == 3.0 and H.graph["season"] == "winter"
    assert H.graph["source_crs"] == "EPSG:4326"
    # Recomputing for summer divides winter times by the factors.
    S = load_graph(out, season="summer")
    assert S.edges[1, 2, 0][WALK] == pytest.approx(G.edges[1, 2, 0][WALK] / 1.3)
    assert S.edges[1, 2, 0][DRIVE] == pytest.approx(G.edges[1, 2, 0][DRIVE] / 1.25)


def test_graphml_without_times_gets_them(tmp_path: Path) -> None:
    import osmnx as ox

    p = tmp_path / "raw.osm"
    p.write_text(osm_xml())
    raw = ox.graph_from_xml(p, retain_all=True)  # lon/lat, no times
    gp = tmp_path / "raw.graphml"
    ox.save_graphml(raw, gp)
    G = load_graph(gp)
    assert G.graph["crs"].to_epsg() == 32652
    assert G.edges[1, 2, 0][WALK] == pytest.approx(walk(L))


# ---- bad input ----------------------------------------------------------------------------

def test_empty_osm_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.osm"
    p.write_text("")
    with pytest.raises(InputError, match=r"empty.osm: file is empty"):
        graph_from_osm_xml(p)


def test_garbage_osm_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.osm"
    p.write_text("<osm><node id='1' lat='43.8'")
    with pytest.raises(InputError, match=r"bad.osm: cannot be read as OpenStreetMap XML"):
        graph_from_osm_xml(p)


def test_osm_without_roads(tmp_path: Path) -> None:
    p = tmp_path / "houses.osm"
    p.write_text(osm_xml({k: NODES[k] for k in (20, 21, 22)}, {109: WAYS[109]}))
    with pytest.raises(InputError, match=r"houses.osm: no roads"):
        graph_from_osm_xml(p)


def test_way_naming_a_missing_node(tmp_path: Path) -> None:
    # Ways are cut at missing nodes (issue 8 item 6); a way left with one node is no road.
    p = tmp_path / "cut.osm"
    p.write_text(osm_xml({1: NODES[1]}, {100: ([1, 99], {"highway": "residential"})}))
    with pytest.raises(InputError, match=r"cut.osm: no roads .*1 way\(s\) reference 1 "
                                         r"node\(s\) missing"):
        graph_from_osm_xml(p)


def test_graphml_without_crs(osm_file: Path, tmp_path: Path) -> None:
    import osmnx as ox

    G = graph_from_osm_xml(osm_file)
    del G.graph["crs"]
    with pytest.raises(ValueError, match="no CRS"):
        save_graph(G, tmp_path / "x.graphml")
    p = tmp_path / "nocrs.graphml"
    ox.save_graphml(G, p)
    with pytest.raises(InputError, match=r"nocrs.graphml: graph has no CRS"):
        load_graph(p)


def test_garbage_graphml(tmp_path: Path) -> None:
    p = tmp_path / "bad.graphml"
    p.write_bytes(b"\x00\x01 not xml")
    with pytest.raises(InputError, match=r"bad.graphml: cannot be read as GraphML"):
        load_graph(p)


def test_graph_from_polygon_wraps_osmnx(monkeypatch: pytest.MonkeyPatch, osm_file: Path) -> None:
    # Offline stand-in for the download: checks the wrapper's plumbing, not Overpass.
    import geopandas as gpd
    import osmnx as ox
    from shapely.geometry import box

    seen = {}

    def fake(polygon, **kwargs):
        seen["bounds"] = polygon.bounds
        seen["kwargs"] = kwargs
        return ox.graph_from_xml(osm_file, simplify=False, retain_all=True)

    monkeypatch.setattr(ox, "graph_from_polygon", fake)
    area = gpd.GeoDataFrame(geometry=[box(126.48, 43.77, 126.52, 43.83)], crs=4326).to_crs(32652)
    G = graph_from_polygon(area)
    assert seen["bounds"] == pytest.approx((126.48, 43.77, 126.52, 43.83), abs=1e-3)
    assert seen["kwargs"]["network_type"] == "all"
    assert edge(G, 1, 2)[WALK] == pytest.approx(walk(L))


def test_read_roads_dispatches_on_file_type(tmp_path):
    from elder_coverage.io import read_roads

    osm = tmp_path / "r.osm"
    osm.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="43.80" lon="126.50"/><node id="2" lat="43.80" lon="126.51"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way></osm>',
        encoding="utf-8")
    G = read_roads(osm)
    assert G.number_of_edges() >= 1 and G.graph["crs"].to_epsg() == 32652
    from elder_coverage.io import save_graph

    save_graph(G, tmp_path / "r.graphml")
    assert read_roads(tmp_path / "r.graphml").number_of_edges() == G.number_of_edges()
    bad = tmp_path / "r.shp"
    bad.write_text("x")
    with pytest.raises(InputError, match=r"r\.shp.*unknown road file type"):
        read_roads(bad)
