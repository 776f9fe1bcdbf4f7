"""Synthetic road graph for the sample, in osmnx's MultiDiGraph form.

Real roads come from OpenStreetMap through :mod:`elder_coverage.io.roads`; the sample needs a
graph with the same attributes so that the same code paths run on it. The hierarchy is
plausible for rural Jilin: a trunk/primary tree between county seats, secondary and
tertiary roads joining township seats along the Gabriel graph of the seats (planar, like a
real road mesh, with the alternative routes a tree lacks; secondary where a road touches
the county seat), and unclassified village roads that
lead each village towards its township seat. Roads wind, so each edge is longer than the
straight line by a detour factor; long edges are split into ≤ 400 m segments so that grid
cells snap to a road rather than to the nearest village.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, cKDTree, distance_matrix

DETOUR = {"primary": 1.15, "secondary": 1.2, "tertiary": 1.25, "unclassified": 1.3}
SEGMENT_M = 400.0


def _mst_edges(xy: np.ndarray) -> list[tuple[int, int]]:
    if len(xy) < 2:
        return []
    mst = minimum_spanning_tree(distance_matrix(xy, xy)).tocoo()
    return sorted(zip(mst.row.tolist(), mst.col.tolist(), strict=True))


def _gabriel_edges(xy: np.ndarray) -> list[tuple[int, int]]:
    """Edges of the Gabriel graph: Delaunay edges whose diametral circle holds no other
    point. It is planar and connected (it contains the minimum spanning tree)."""
    if len(xy) < 4:
        return _mst_edges(xy) if len(xy) < 3 else [(0, 1), (0, 2), (1, 2)]
    tri = Delaunay(xy)
    edges = set()
    for simplex in tri.simplices:
        for a in range(3):
            i, j = sorted((int(simplex[a]), int(simplex[(a + 1) % 3])))
            edges.add((i, j))
    tree = cKDTree(xy)
    out = []
    for i, j in sorted(edges):
        mid = (xy[i] + xy[j]) / 2
        r = np.hypot(*(xy[i] - xy[j])) / 2
        inside = tree.query_ball_point(mid, r * (1 - 1e-9))
        if all(k in (i, j) for k in inside):
            out.append((i, j))
    return out


class _Builder:
    def __init__(self, crs) -> None:
        self.G = nx.MultiDiGraph(crs=crs, synthetic=True, simplified=True)
        self.key_of: dict[tuple[float, float], int] = {}

    def node(self, xy: np.ndarray) -> int:
        key = (round(float(xy[0]), 1), round(float(xy[1]), 1))
        if key not in self.key_of:
            nid = len(self.key_of) + 1
            self.key_of[key] = nid
            self.G.add_node(nid, x=key[0], y=key[1])
        return self.key_of[key]

    def road(self, a: np.ndarray, b: np.ndarray, highway: str) -> None:
        straight = float(np.hypot(*(b - a)))
        if straight < 1.0:
            return
        n_seg = max(1, int(np.ceil(straight / SEGMENT_M)))
        pts = [a + (b - a) * t for t in np.linspace(0.0, 1.0, n_seg + 1)]
        nodes = [self.node(p) for p in pts]
        seg_len = straight * DETOUR[highway] / n_seg
        for u, v in zip(nodes[:-1], nodes[1:], strict=True):
            if u == v:
                continue
            for s, t in ((u, v), (v, u)):
                # Keep the best class if two roads share a segment.
                if not self.G.has_edge(s, t):
                    self.G.add_edge(s, t, key=0, highway=highway, length=round(seg_len, 2),
                                    oneway=False, reversed=s != u, synthetic=True)


def build_roads(
    seats: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, county_seat_codes: dict[str, str]
) -> nx.MultiDiGraph:
    """Road graph linking county seats, township seats and villages.

    Parameters
    ----------
    seats : GeoDataFrame
        Township seats (metric CRS) with ``code`` and ``county_code``.
    villages : GeoDataFrame
        Village points with ``township_code``.
    county_seat_codes : dict
        County code → code of the township that is the county seat.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx-style graph (graph attribute ``crs``; node ``x``, ``y`` in metres; edge
        ``highway`` and ``length`` in metres), connected within each county and, through
        the county-seat tree, across counties. Travel times are added by
        :func:`elder_coverage.io.roads.add_travel_times`.
    """
    b = _Builder(seats.crs)
    seat_xy = {c: np.array([g.x, g.y]) for c, g in zip(seats["code"], seats.geometry, strict=True)}
    heads = sorted(county_seat_codes.items())
    head_xy = np.array([seat_xy[t] for _, t in heads])
    for i, j in _gabriel_edges(head_xy):
        b.road(head_xy[i], head_xy[j], "primary")
    for county, group in seats.groupby("county_code", sort=True):
        xy = np.column_stack([group.geometry.x, group.geometry.y])
        head = county_seat_codes[county]
        for i, j in _gabriel_edges(xy):
            ends = (group["code"].iloc[i], group["code"].iloc[j])
            hw = "secondary" if head in ends else "tertiary"
            b.road(xy[i], xy[j], hw)
    # Villages: each joins the nearest settlement (village or seat) that is closer to its seat.
    for town, group in villages.groupby("township_code", sort=True):
        seat = seat_xy[town]
        xy = np.column_stack([group.geometry.x, group.geometry.y])
        order = np.argsort(np.hypot(*(xy - seat).T), kind="stable")
        placed = [seat]
        for k in order:
            arr = np.array(placed)
            d = np.hypot(*(arr - xy[k]).T)
            b.road(arr[int(np.argmin(d))], xy[k], "unclassified")
            placed.append(xy[k])
    return b.G
