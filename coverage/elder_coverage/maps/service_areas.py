"""Service-area polygons per facility kind, for drawing on the map.

Straight-line standards give a buffer of ``radius_m`` around each facility, dissolved per kind.
Network standards need travel-time isochrones; the caller (e.g. the engine) may pass them in.
Without them the map still shows the kind's ``radius_m`` buffer, and says so: ``basis`` is
``"radius_fallback"`` and the layer name tells the planner it is an approximation.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from elder_coverage.schema import FACILITY_KINDS
from elder_coverage.standards import Standards, resolve_standards

#: Values of the ``basis`` column.
BASES: tuple[str, ...] = ("radius", "network", "radius_fallback")


def service_area_polygons(
    facilities: gpd.GeoDataFrame,
    standards: Standards | dict | None = None,
    *,
    isochrones: gpd.GeoDataFrame | None = None,
    kinds: tuple[str, ...] | None = None,
) -> gpd.GeoDataFrame:
    """One dissolved service-area polygon per facility kind.

    Parameters
    ----------
    facilities : GeoDataFrame
        Facility points with a ``kind`` column, in a projected (metric) CRS.
    standards : Standards, dict or None
        Service standards (:func:`elder_coverage.standards.resolve_standards`); None = packaged.
    isochrones : GeoDataFrame, optional
        Travel-time polygons with a ``kind`` column (any number of rows per kind, any CRS),
        used for kinds whose standard is network-based.
    kinds : tuple of str, optional
        Kinds to draw; default every kind present in ``facilities``.

    Returns
    -------
    GeoDataFrame
        Columns ``kind``, ``basis`` (one of :data:`BASES`), ``radius_m`` (metres),
        ``minutes`` (travel-time limit, min), ``travel`` (``"walk"`` or ``"drive"``, how the
        time limit is travelled), ``n_facilities``, ``geometry``; in the CRS of
        ``facilities``. Kinds without facilities are left out.
    """
    if "kind" not in facilities.columns:
        raise ValueError("facilities: missing column 'kind'")
    if facilities.crs is None or not pyproj.CRS.from_user_input(facilities.crs).is_projected:
        raise ValueError("facilities: service areas need a projected (metric) CRS, got "
                         f"{facilities.crs}")
    std = resolve_standards(standards)
    present = [k for k in FACILITY_KINDS if (facilities["kind"] == k).any()]
    present += sorted(set(facilities["kind"].dropna().astype(str)) - set(FACILITY_KINDS))
    wanted = [k for k in (kinds if kinds is not None else present) if k in present]
    iso = None
    if isochrones is not None and len(isochrones):
        if "kind" not in isochrones.columns:
            raise ValueError("isochrones: missing column 'kind'")
        iso = isochrones.to_crs(facilities.crs) if isochrones.crs is not None else isochrones
    rows = []
    for kind in wanted:
        if kind not in std:
            continue  # an unknown kind has no standard to draw; the loaders report it
        ks = std[kind]
        pts = facilities.geometry[(facilities["kind"] == kind).to_numpy()]
        pts = pts[~pts.is_empty & pts.notna()]
        if len(pts) == 0:
            continue
        basis = "radius"
        if ks.mode == "network":
            basis = "radius_fallback"
            if iso is not None and (iso["kind"] == kind).any():
                basis = "network"
        if basis == "network" and iso is not None:
            parts = iso.geometry[(iso["kind"] == kind).to_numpy()].to_numpy()
            # One polygon per kind (as service_area_isochrones gives) is already dissolved:
            # a union would only rebuild it (1-2 s for a province).
            geom = parts[0] if len(parts) == 1 and parts[0].is_valid else \
                shapely.union_all(parts)
        else:
            geom = shapely.union_all(shapely.buffer(pts.to_numpy(), ks.radius_m, quad_segs=16))
        rows.append({"kind": kind, "basis": basis, "radius_m": ks.radius_m,
                     "minutes": ks.minutes, "travel": ks.travel, "n_facilities": len(pts),
                     "geometry": geom})
    cols = ["kind", "basis", "radius_m", "minutes", "travel", "n_facilities"]
    if not rows:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in cols},
                                geometry=gpd.GeoSeries([], crs=facilities.crs), crs=facilities.crs)
    return gpd.GeoDataFrame(rows, columns=cols + ["geometry"], geometry="geometry",
                            crs=facilities.crs)
