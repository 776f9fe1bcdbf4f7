"""Service-area polygons (isochrones) of network standards, for maps.

A kind's service area is where an elder can reach some facility of the kind within its
standard: the road nodes whose network time to the nearest facility is within the limit,
each widened by the distance still walkable (or drivable) off the road in the time left,
capped so that a node reached with time to spare does not paint a whole valley. One
multi-source search per kind, the same as the coverage engine's.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from elder_coverage.costs import access_metres_per_minute
from elder_coverage.standards import Standards
from elder_coverage.travel import RoadNetwork, nearest_source

#: Largest off-road reach drawn around a reached node (m): the engine's snapping counts cells
#: up to ``max_snap_m`` away, but a map painted that wide would overstate the area.
MAX_OFFROAD_M = 600.0


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
    rows = []
    present = sorted(set(facilities["kind"]))
    for kind in kinds or present:
        if kind not in standards or kind not in present:
            continue
        ks = standards[kind]
        if not ks.uses_network(True):
            continue
        tg = network.mode(ks.travel)
        xy = facilities.loc[facilities["kind"] == kind].geometry.get_coordinates().to_numpy()
        speed = access_metres_per_minute(tg, standards, ks.travel)
        node, gap = tg.snap(xy, standards.access.max_snap_m)
        ok = node >= 0
        if not ok.any():
            continue
        time_at, _ = nearest_source(tg, node[ok], gap[ok] / speed)
        reached = np.flatnonzero(time_at <= ks.minutes)
        spare_m = np.minimum((ks.minutes - time_at[reached]) * speed, MAX_OFFROAD_M)
        keep = spare_m > 1.0
        discs = shapely.buffer(shapely.points(tg.xy[reached[keep]]), spare_m[keep], quad_segs=4)
        area = shapely.union_all(discs).simplify(simplify_m)
        rows.append({"kind": kind, "minutes": ks.minutes, "travel": ks.travel, "geometry": area})
    return gpd.GeoDataFrame(rows, columns=["kind", "minutes", "travel", "geometry"],
                            geometry="geometry", crs=facilities.crs)
