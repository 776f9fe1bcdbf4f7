"""Friction-surface (cost-distance) reference for walking times, the way WHO AccessMod works.

Roads are burned into a raster at their own walking pace, every other pixel is walked at the
off-road speed, and the accumulated cost from the facilities is found with scikit-image's
:class:`skimage.graph.MCP_Geometric` (8-connected; a step costs the mean of the two pixels'
costs times the step length). Moving in 8 directions only, an off-road leg at an angle
between them comes out up to 8 % longer than the straight line (1 / cos 22.5°). Written
independently of the engine: it never snaps a point or reads the engine's edge tables.
Used by tests/test_walk_access.py and benchmarks/bench_access_reference.py.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from affine import Affine
from rasterio.features import rasterize
from scipy.spatial import cKDTree
from shapely.geometry import LineString
from skimage.graph import MCP_Geometric


def road_segments(G: nx.MultiDiGraph, weight: str) -> tuple[np.ndarray, np.ndarray]:
    """(k, 2, 2) straight segments of usable edges and their pace (minutes per metre)."""
    segs, pace = [], []
    for a, b, d in G.edges(data=True):
        t = d.get(weight)
        if t is None or not math.isfinite(float(t)) or a == b:
            continue
        p, q = (G.nodes[a]["x"], G.nodes[a]["y"]), (G.nodes[b]["x"], G.nodes[b]["y"])
        length = math.dist(p, q)
        if length == 0:
            continue
        segs.append((p, q))
        pace.append(float(t) / float(d.get("length", length) or length))
    return np.asarray(segs, float).reshape(-1, 2, 2), np.asarray(pace, float)


def raster_times(G: nx.MultiDiGraph | None, cxy: np.ndarray, fxy: np.ndarray, *,
                 weight: str = "walk_min", offroad_m_per_min: float, limit_min: float,
                 resolution_m: float = 25.0, block_m: float = 10_000.0) -> np.ndarray:
    """Minutes from each cell to the nearest facility over the friction surface.

    Parameters
    ----------
    G : networkx.MultiDiGraph or None
        Projected road graph whose edges carry ``weight`` minutes (None: no roads).
    cxy, fxy : numpy.ndarray
        (n, 2) cell and (m, 2) facility coordinates (metres).
    offroad_m_per_min : float
        Walking speed off the roads (metres per minute).
    limit_min : float
        Accumulation stops here: times above it come back as inf.
    resolution_m : float
        Pixel size (metres).
    block_m : float
        The area is processed in square blocks of this size plus a margin that a trip within
        ``limit_min`` cannot cross, so that memory stays small on large areas.

    Returns
    -------
    numpy.ndarray
        (n,) minutes, inf beyond ``limit_min``.
    """
    cxy = np.asarray(cxy, float).reshape(-1, 2)
    fxy = np.asarray(fxy, float).reshape(-1, 2)
    segs, pace = (road_segments(G, weight) if G is not None
                  else (np.zeros((0, 2, 2)), np.zeros(0)))
    fastest = max(offroad_m_per_min, float((1.0 / pace).max()) if pace.size else 0.0)
    margin = limit_min * fastest + 2 * resolution_m
    out = np.full(len(cxy), np.inf)
    if len(cxy) == 0 or len(fxy) == 0:
        return out
    ftree = cKDTree(fxy)
    seg_mid = segs.mean(axis=1) if len(segs) else np.zeros((0, 2))
    seg_half = (np.hypot(*(segs[:, 1] - segs[:, 0]).T) / 2) if len(segs) else np.zeros(0)
    lo = cxy.min(axis=0)
    key = np.floor((cxy - lo) / block_m).astype(np.int64)
    for bk in np.unique(key, axis=0):
        in_block = np.flatnonzero((key == bk).all(axis=1))
        inner = cxy[in_block]
        x0, y0 = inner.min(axis=0) - margin
        x1, y1 = inner.max(axis=0) + margin
        near = ftree.query_ball_point(lo + (bk + 0.5) * block_m,
                                      block_m / math.sqrt(2) + margin)
        facs = fxy[near]
        facs = facs[(facs[:, 0] >= x0) & (facs[:, 0] < x1) & (facs[:, 1] >= y0)
                    & (facs[:, 1] < y1)]
        if len(facs) == 0:
            continue
        w = int(math.ceil((x1 - x0) / resolution_m))
        h = int(math.ceil((y1 - y0) / resolution_m))
        transform = Affine(resolution_m, 0, x0, 0, -resolution_m, y0 + h * resolution_m)
        # Minutes to cross one pixel: off-road everywhere, then roads, slowest first so that
        # where roads overlap the fastest is burned last and wins.
        cost = np.full((h, w), resolution_m / offroad_m_per_min)
        box_r = max(x1 - x0, y1 - y0)
        sel = np.flatnonzero(np.hypot(*(seg_mid - [(x0 + x1) / 2, (y0 + y1) / 2]).T)
                             <= seg_half + box_r)
        if sel.size:
            order = sel[np.argsort(-pace[sel])]
            burned = rasterize(((LineString(segs[i]), pace[i] * resolution_m) for i in order),
                               out_shape=(h, w), transform=transform, fill=np.nan,
                               dtype="float64")
            roads = np.isfinite(burned)
            cost[roads] = np.minimum(cost[roads], burned[roads])
        mcp = MCP_Geometric(cost, fully_connected=True)
        acc, _ = mcp.find_costs([tuple(p) for p in _pixel(facs, transform, h, w)])
        rc = _pixel(cxy[in_block], transform, h, w)
        t = acc[rc[:, 0], rc[:, 1]]
        out[in_block] = np.where(t <= limit_min, t, np.inf)
    return out


def _pixel(xy: np.ndarray, transform: Affine, h: int, w: int) -> np.ndarray:
    """(row, col) of the pixel holding each point, clipped to the raster."""
    col = (xy[:, 0] - transform.c) / transform.a
    row = (xy[:, 1] - transform.f) / transform.e
    return np.column_stack([np.clip(np.floor(row).astype(int), 0, h - 1),
                            np.clip(np.floor(col).astype(int), 0, w - 1)])
