"""Service-area polygons (isochrones) of network standards, for maps.

A kind's service area is where an elder can reach some facility of the kind within its
standard: the road nodes whose network time to the nearest facility is within the limit,
each widened by the distance still walkable (or drivable) off the road in the time left,
capped so that a node reached with time to spare does not paint a whole valley. One
multi-source search per kind, the same as the coverage engine's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from elder_coverage.costs import access_metres_per_minute
from elder_coverage.standards import Standards
from elder_coverage.travel import RoadNetwork, nearest_source

#: Largest off-road reach drawn around a reached node (m): the engine's snapping counts cells
#: up to ``max_snap_m`` away, but a map painted that wide would overstate the area.
MAX_OFFROAD_M = 600.0
#: Radius of the circle inscribed in a disc's 16-gon (``quad_segs=4``), per metre of radius.
_INSCRIBED = float(np.cos(np.pi / 16))


def service_area_isochrones(
    facilities: gpd.GeoDataFrame,
    network: RoadNetwork,
    standards: Standards,
    kinds: list[str] | None = None,
    simplify_m: float = 25.0,
) -> gpd.GeoDataFrame:
    """One dissolved polygon per network-standard kind: where it is reachable in time.

    Parameters
    ----------
    facilities : GeoDataFrame
        Open facilities (``kind``, Points, metric CRS).
    network : RoadNetwork
        Road graph prepared for travel.
    standards : Standards
        Service standards; only kinds with a network standard get a polygon.
    kinds : list of str, optional
        Kinds to draw (default: all present with a network standard).
    simplify_m : float
        Simplification tolerance of the output polygons (m).

    Returns
    -------
    GeoDataFrame
        ``kind``, ``minutes`` (the standard), ``travel``, Polygon/MultiPolygon geometry.
    """
    present = sorted(set(facilities["kind"]))
    discs = {}
    for kind in kinds or present:
        if kind not in standards or kind not in present:
            continue
        if not standards[kind].uses_network(True):
            continue
        xy = facilities.loc[facilities["kind"] == kind].geometry.get_coordinates().to_numpy()
        centres, radii = reached_discs(xy, network, standards, kind)
        if len(radii):
            discs[kind] = (centres, radii)
    # GEOS dissolves without holding the GIL: the kinds are dissolved side by side, the
    # largest first (a province's township centres alone are 67,000 discs).
    order = sorted(discs, key=lambda k: -len(discs[k][1]))
    with ThreadPoolExecutor(max_workers=min(2, max(1, len(order)))) as pool:
        areas = dict(zip(order, pool.map(lambda k: dissolve_discs(*discs[k], simplify_m),
                                         order), strict=True))
    rows = [{"kind": k, "minutes": standards[k].minutes, "travel": standards[k].travel,
             "geometry": areas[k]} for k in discs]
    return gpd.GeoDataFrame(rows, columns=["kind", "minutes", "travel", "geometry"],
                            geometry="geometry", crs=facilities.crs)


def reached_discs(xy: np.ndarray, network: RoadNetwork, standards: Standards,
                  kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Road nodes reached within ``kind``'s network standard from facilities at ``xy``, and
    how far off the road each still reaches.

    Returns
    -------
    centres : numpy.ndarray, shape (k, 2)
        Reached nodes (m, the network's CRS).
    radii : numpy.ndarray, shape (k,)
        Off-road distance (m) walkable (drivable) in the time left, at most
        :data:`MAX_OFFROAD_M`; nodes with 1 m or less are left out.
    """
    ks = standards[kind]
    tg = network.mode(ks.travel)
    speed = access_metres_per_minute(tg, standards, ks.travel)
    node, gap = tg.snap(xy, standards.access.max_snap_m)
    ok = node >= 0
    if not ok.any():
        return np.empty((0, 2)), np.empty(0)
    time_at, _ = nearest_source(tg, node[ok], gap[ok] / speed)
    reached = np.flatnonzero(time_at <= ks.minutes)
    spare_m = np.minimum((ks.minutes - time_at[reached]) * speed, MAX_OFFROAD_M)
    keep = spare_m > 1.0
    return tg.xy[reached[keep]], spare_m[keep]


def dissolve_discs(centres: np.ndarray, radii: np.ndarray,
                   simplify_m: float = 25.0) -> shapely.Geometry:
    """Union of the discs as 16-gons (``quad_segs=4``), simplified with ``simplify_m`` (m).

    A disc that lies inside the inscribed circle of a neighbour's 16-gon adds nothing and is
    left out before the union (half the walking discs of a province: a node further along
    the road, reached later, often reaches less far than the one before it). The union is the
    same point set as that of all the discs.
    """
    inside = _inside_neighbour(centres, radii)
    polys = shapely.buffer(shapely.points(centres[~inside]), radii[~inside], quad_segs=4)
    return simplify_valid(shapely.union_all(polys), simplify_m)


def simplify_valid(geoms: Any, tolerance: float) -> Any:
    """Douglas-Peucker simplification (``tolerance`` in CRS units), kept valid.

    Plain Douglas-Peucker is 10-15x faster than GEOS's topology-preserving simplifier on a
    province's isochrones (0.94 s -> 0.07 s for the township centres) and gave the same
    polygons there to 1e-5 of the area. GEOS repairs a polygon that it breaks (a hole within
    the tolerance of the outline may open into a notch); should a result still not be valid,
    it is simplified again the topology-preserving way.

    Parameters
    ----------
    geoms : shapely geometry or array of them
    tolerance : float
        Largest shift of a vertex (CRS units, m).
    """
    out = shapely.simplify(geoms, tolerance, preserve_topology=False)
    bad = ~shapely.is_valid(out) & shapely.is_valid(geoms)
    if np.ndim(out) == 0:
        return shapely.simplify(geoms, tolerance, preserve_topology=True) if bad else out
    out = np.array(out, dtype=object)
    out[bad] = shapely.simplify(np.asarray(geoms, dtype=object)[bad], tolerance,
                                preserve_topology=True)
    return out


def _inside_neighbour(centres: np.ndarray, radii: np.ndarray, k: int = 8) -> np.ndarray:
    """Discs inside the inscribed circle of one of their ``k`` nearest neighbours' 16-gons.

    Disc i lies in 16-gon j when ``d_ij + r_i <= r_j cos(pi / 16)``; of two equal discs at
    one place neither is dropped. Looking at ``k`` neighbours only misses some such discs,
    which then are simply unioned.
    """
    n = len(radii)
    if n < 2:
        return np.zeros(n, dtype=bool)
    dist, idx = cKDTree(centres).query(centres, k=min(k + 1, n))
    reach = radii[idx] * _INSCRIBED - dist
    return ((reach >= radii[:, None]) & (idx != np.arange(n)[:, None])).any(axis=1)
