"""Choosing the metric CRS every layer is measured in.

Distances and cell sizes must be in metres, and every layer of one study must share a CRS.
The default is the WGS84 UTM zone holding the centre of the study area: for Jilin Province
(lon 121.6°–131.3°E) that is EPSG:32651 west of 126°E and EPSG:32652 east of it. UTM keeps
scale error under 0.1 % within a zone and about 0.4 % a few degrees outside it, far below
the error in any travel-time estimate, so a province that straddles two zones still uses one.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

WGS84 = CRS.from_epsg(4326)

#: Key under ``GeoDataFrame.attrs`` (and graph attribute) that records the input CRS.
SOURCE_CRS_ATTR = "source_crs"


def utm_zone(lon: float) -> int:
    """UTM zone number (1–60) of a longitude in degrees: ``floor((lon + 180) / 6) + 1``.

    Examples
    --------
    >>> utm_zone(125.9), utm_zone(126.1)
    (51, 52)
    """
    if not -180.0 <= lon <= 180.0 or math.isnan(lon):
        raise ValueError(f"longitude {lon} is outside -180..180 degrees")
    return min(int(math.floor((lon + 180.0) / 6.0)) + 1, 60)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS84 / UTM CRS (EPSG:326zz north, 327zz south) for a point in degrees."""
    zone = utm_zone(lon)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def lonlat_centre(geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> tuple[float, float]:
    """Centroid (lon, lat in degrees) of the convex hull of all vertices of ``geoms``.

    The hull centroid depends on the area's shape, not on how densely it is sampled, so a
    study area spanning two zones gets the zone of its middle whatever the point density.
    """
    gs = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    if gs.crs is None:
        raise ValueError("geometries have no CRS, so their longitude is unknown")
    gs = gs[~(gs.is_empty | gs.isna())]
    if len(gs) == 0:
        raise ValueError("no geometries to locate")
    coords = shapely.get_coordinates(gs.to_numpy())
    if not CRS.from_user_input(gs.crs).equals(WGS84):
        tr = Transformer.from_crs(gs.crs, WGS84, always_xy=True)
        coords = np.column_stack(tr.transform(coords[:, 0], coords[:, 1]))
    hull = shapely.multipoints(coords).convex_hull
    c = hull.centroid if hull.area > 0 or hull.length > 0 else shapely.Point(coords[0])
    return float(c.x), float(c.y)


def choose_metric_crs(geoms: gpd.GeoSeries | gpd.GeoDataFrame) -> CRS:
    """The UTM CRS of the zone holding the centre of ``geoms`` (see :func:`lonlat_centre`)."""
    return utm_crs(*lonlat_centre(geoms))


def resolve_crs(crs: Any) -> CRS:
    """Parse anything pyproj accepts (``32652``, ``"EPSG:32652"``, a CRS) and insist on metres.

    Raises
    ------
    ValueError
        If the CRS is geographic or its axis unit is not the metre.
    """
    out = CRS.from_user_input(crs)
    if not out.is_projected:
        raise ValueError(f"CRS {out.to_string()} is not projected; pass a metric CRS such as "
                         "EPSG:32651 or EPSG:32652 (UTM zones 51N/52N, which cover Jilin)")
    units = {ax.unit_name for ax in out.axis_info}
    if units - {"metre", "meter"}:
        raise ValueError(f"CRS {out.to_string()} is in {sorted(units)}, not metres")
    return out


def crs_label(crs: Any) -> str:
    """Short text for a CRS: ``"EPSG:4326"`` when it has an EPSG code, else WKT."""
    c = CRS.from_user_input(crs)
    code = c.to_epsg()
    return f"EPSG:{code}" if code is not None else c.to_wkt()


def to_metric(gdf: gpd.GeoDataFrame, crs: Any = None) -> gpd.GeoDataFrame:
    """Reproject ``gdf`` to ``crs`` (or the auto-chosen UTM zone) and record where it came from.

    Parameters
    ----------
    gdf : GeoDataFrame
        Must have a CRS.
    crs : optional
        Target metric CRS. ``None`` picks the UTM zone with :func:`choose_metric_crs`, even
        for projected input: a projected CRS is not necessarily a true-distance one (Web
        Mercator stretches distances by 1/cos(lat), +39 % at 44°N).

    Returns
    -------
    GeoDataFrame
        A copy in metres; ``attrs["source_crs"]`` holds the input CRS (``"EPSG:4326"``),
        unless the input already recorded one, which is kept.
    """
    if gdf.crs is None:
        raise ValueError("GeoDataFrame has no CRS")
    source = gdf.attrs.get(SOURCE_CRS_ATTR) or crs_label(gdf.crs)
    target = choose_metric_crs(gdf) if crs is None else resolve_crs(crs)
    out = gdf.to_crs(target)
    out.attrs = {**gdf.attrs, SOURCE_CRS_ATTR: source}
    return out
