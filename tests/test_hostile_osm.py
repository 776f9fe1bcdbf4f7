"""Hostile OpenStreetMap inputs: tags read by OSM/osmnx convention, absurd speeds, extracts
clipped by a bounding box, roads far from the study area (issue 8 items 4 and 6)."""

from __future__ import annotations

import bz2
import math
import re
from pathlib import Path

import pytest
from hostile import (
    LAT0,
    LON0,
    grid_osm,
    no_stray_files,  # noqa: F401 (autouse: no stray files)
    own_data,
    run_refused,
    snapshot,
)

from elder_coverage.io import InputError, graph_from_osm_xml, notes_of
from elder_coverage.io.roads import is_drivable, is_walkable
from elder_coverage.schema import EDGE_DRIVE_MINUTES as DRIVE
from elder_coverage.schema import EDGE_WALK_MINUTES as WALK

# ../shared from the repository root; a worktree under wt/ has it one level further up.
_ROOT = Path(__file__).resolve().parents[1]
WEST_OAKLAND = next(
    (c for c in (base / "shared" / "data" / "osm" / "West-Oakland.osm.bz2"
                 for base in (_ROOT.parent, _ROOT.parent.parent)) if c.exists()),
    _ROOT.parent / "shared" / "data" / "osm" / "West-Oakland.osm.bz2")

NODES = {1: (43.800, 126.50), 2: (43.809, 126.50), 3: (43.818, 126.50), 4: (43.827, 126.50),
         5: (43.809, 126.51), 6: (43.809, 126.52)}


def osm(ways: dict[int, tuple[list[int], dict[str, str]]], nodes=NODES) -> str:
    n = "".join(f'<node id="{i}" lat="{la}" lon="{lo}"/>' for i, (la, lo) in nodes.items())
    w = "".join(f'<way id="{i}">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>"
                for i, (refs, tags) in ways.items())
    return f'<?xml version="1.0"?><osm version="0.6">{n}{w}</osm>'


def edges_of(G, way: int) -> list[dict]:
    return [d for _, _, d in G.edges(data=True)
            if way in (d["osmid"] if isinstance(d["osmid"], list) else [d["osmid"]])]


def test_highway_trail_is_a_path_not_a_road(tmp_path: Path) -> None:
    p = tmp_path / "t.osm"
    p.write_text(osm({10: ([1, 2], {"highway": "residential"}),
                      11: ([2, 5], {"highway": "trail"})}))
    G = graph_from_osm_xml(p, simplify=False)
    trail = edges_of(G, 11)
    assert trail and all(math.isinf(d[DRIVE]) for d in trail)
    assert all(math.isfinite(d[WALK]) and d[WALK] > 0 for d in trail)
    assert all(math.isfinite(d[DRIVE]) for d in edges_of(G, 10))
    assert any("not OSM road classes taken as paths" in n and "trail (" in n
               for n in notes_of(G))


def test_access_private_closes_a_way(tmp_path: Path) -> None:
    p = tmp_path / "p.osm"
    p.write_text(osm({10: ([1, 2], {"highway": "residential"}),
                      11: ([2, 3], {"highway": "service", "access": "private"}),
                      12: ([3, 4], {"highway": "service", "access": "private",
                                    "foot": "yes"})}))
    G = graph_from_osm_xml(p, simplify=False)
    private = edges_of(G, 11)
    assert private and all(math.isinf(d[DRIVE]) and math.isinf(d[WALK]) for d in private)
    # foot=yes opens a private way to walkers, as in osmnx's walk filter.
    gate = edges_of(G, 12)
    assert all(math.isfinite(d[WALK]) and math.isinf(d[DRIVE]) for d in gate)
    assert any("tagged access=private are closed" in n for n in notes_of(G))
    assert not is_walkable({"highway": "residential", "access": "private"})
    assert is_drivable({"highway": "residential", "access": "destination"})


@pytest.mark.parametrize("maxspeed", ["5000", "0", "2 mph"])
def test_absurd_maxspeed_is_ignored_with_a_note(tmp_path: Path, maxspeed: str) -> None:
    p = tmp_path / "m.osm"
    p.write_text(osm({10: ([1, 2], {"highway": "primary", "maxspeed": maxspeed}),
                      11: ([2, 3], {"highway": "primary", "maxspeed": "60"})}))
    G = graph_from_osm_xml(p, simplify=False, season="summer")
    bad, good = edges_of(G, 10), edges_of(G, 11)
    # The class speed (primary: 60 km/h) replaces the absurd value: ~1000.8 m in ~1.0 min.
    for d in bad:
        assert d["speed_kph"] == 60.0
        assert d[DRIVE] == pytest.approx(d["length"] / 1000.0, rel=1e-9)
        assert d[DRIVE] > 0.9
    assert all(d["speed_kph"] == 60.0 for d in good)
    assert any(re.search(rf"maxspeed outside 5–150 km/h ignored .*{maxspeed} \(", n)
               for n in notes_of(G))


def test_ways_clipped_by_a_bounding_box_are_cut_at_missing_nodes(tmp_path: Path) -> None:
    # Way 10 runs 1-2-(98)-3-4: node 98 lies outside the extract. It must become two pieces,
    # 1-2 and 3-4, not one road bridging the gap; way 11 loses its last node only.
    p = tmp_path / "clipped.osm"
    p.write_text(osm({10: ([1, 2, 98, 3, 4], {"highway": "residential"}),
                      11: ([2, 5, 99], {"highway": "tertiary"})}))
    before = snapshot(tmp_path)
    G = graph_from_osm_xml(p, simplify=False)
    pairs = {tuple(sorted((u, v))) for u, v in G.edges()}
    assert pairs == {(1, 2), (3, 4), (2, 5)}
    assert any("clipped.osm: 2 way(s) reference 2 node(s) missing from the file" in n
               for n in notes_of(G))
    assert snapshot(tmp_path) == before


@pytest.fixture
def west_oakland() -> Path:
    if not WEST_OAKLAND.exists():
        pytest.skip(f"real OSM extract absent: {WEST_OAKLAND} (the workplace's shared/ folder)")
    return WEST_OAKLAND


def test_real_extract_reads_with_its_private_way_closed(west_oakland: Path) -> None:
    G = graph_from_osm_xml(west_oakland, simplify=False)
    private = [d for _, _, d in G.edges(data=True) if d.get("access") == "private"]
    assert private and all(math.isinf(d[DRIVE]) and math.isinf(d[WALK]) for d in private)
    assert not any("missing from the file" in n for n in notes_of(G))


def test_real_extract_clipped_by_a_box_is_repaired(west_oakland: Path, tmp_path: Path) -> None:
    # Cut the real extract as a bounding box would: drop the northern half of its nodes and
    # keep every way whole, so ways reference nodes the file no longer has.
    import xml.etree.ElementTree as ET

    root = ET.fromstring(bz2.decompress(west_oakland.read_bytes()))
    nodes = root.findall("node")
    cut_lat = sorted(float(n.get("lat")) for n in nodes)[len(nodes) // 2]
    for n in nodes:
        if float(n.get("lat")) > cut_lat:
            root.remove(n)
    p = tmp_path / "west-oakland-south.osm"
    ET.ElementTree(root).write(p, encoding="utf-8", xml_declaration=True)
    full = graph_from_osm_xml(west_oakland, simplify=False, crs="EPSG:32610")
    G = graph_from_osm_xml(p, simplify=False, crs="EPSG:32610")
    note = next(n for n in notes_of(G) if "missing from the file" in n)
    assert int(re.search(r"(\d+) way\(s\) reference", note).group(1)) > 0
    assert 0 < G.number_of_nodes() < full.number_of_nodes()
    # Only southern nodes remain, and every edge joins two of them (no bridged gaps).
    assert set(G.nodes) <= set(full.nodes)
    top = max(d["y"] for n, d in full.nodes(data=True) if n in G.nodes)
    assert all(d["y"] <= top for _, d in G.nodes(data=True))
    assert all(full.has_edge(u, v) for u, v in G.edges())


def test_roads_far_from_the_study_area_are_refused(tmp_path: Path, capsys) -> None:
    sc = own_data(tmp_path / "in", roads=grid_osm(lon0=LON0 + 3.0, lat0=LAT0 + 1.0))
    err = run_refused(sc, tmp_path / "out", capsys)
    assert re.search(r"roads.osm: no road lies inside the study area \(nearest node "
                     r"[0-9,.]+ km away\)", err)


def test_file_with_only_unknown_ways_is_no_roads(tmp_path: Path) -> None:
    p = tmp_path / "none.osm"
    p.write_text(osm({10: ([1, 2], {"building": "yes"})}))
    with pytest.raises(InputError, match=r"none.osm: no roads"):
        graph_from_osm_xml(p)


def test_notes_survive_a_graphml_round_trip(tmp_path: Path) -> None:
    from elder_coverage.io import load_graph, save_graph

    p = tmp_path / "t.osm"
    p.write_text(osm({10: ([1, 2, 98, 3], {"highway": "trail"})}))
    G = graph_from_osm_xml(p, simplify=False)
    save_graph(G, tmp_path / "g.graphml")
    back = load_graph(tmp_path / "g.graphml")
    assert notes_of(back) == notes_of(G) and len(notes_of(G)) == 2
