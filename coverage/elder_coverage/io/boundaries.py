"""Administrative places: county and township polygons, township seats and villages, with
``code`` and ``name`` normalised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from elder_coverage.io._common import (
    INSIDE_TOLERANCE_M,
    PathLike,
    add_note,
    code_text,
    find_column,
    parse_counts,
    read_vector,
    record_source,
)
from elder_coverage.io._common import (
    study_area as study_area_union,
)
from elder_coverage.io.crs import SOURCE_CRS_ATTR, to_metric
from elder_coverage.io.errors import InputError

#: Code-column names seen in Chinese boundary data: XZQDM/XZQMC are the field names of the
#: land-survey (国土调查) standard, adcode/PAC those of common web and census extracts.
CODE_NAMES: tuple[str, ...] = (
    "code", "adcode", "xzqdm", "区划代码", "行政区划代码", "代码", "pac", "gb", "county_code",
    "township_code", "xzdm", "dm",
)
NAME_NAMES: tuple[str, ...] = (
    "name", "xzqmc", "名称", "行政区划名称", "区划名称", "county", "township", "county_name",
    "township_name", "xzmc", "mc", "name_zh", "name_cn",
)


def read_boundaries(
    path: PathLike,
    *,
    layer: str | int | None = None,
    code_column: str | None = None,
    name_column: str | None = None,
    crs: Any = None,
    source_crs: Any = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read administrative polygons (counties or townships) from any vector format.

    Parameters
    ----------
    path : str or PathLike
        GeoPackage, GeoJSON, Shapefile or anything else OGR reads.
    layer : str or int, optional
        Layer of a multi-layer file.
    code_column, name_column : str, optional
        Columns holding the statistical code and the name. Found automatically when they
        use a common name (code/adcode/XZQDM/区划代码…, name/XZQMC/名称…).
    crs : optional
        Metric CRS of the result; default is the UTM zone of the polygons' centre.
    source_crs : optional
        CRS of the file when it declares none.
    encoding : str, optional
        Text encoding of a Shapefile without ``.cpg`` (default: detected, with a note).

    Returns
    -------
    GeoDataFrame
        Columns ``code`` (str), ``name`` (str), ``geometry`` (Polygon/MultiPolygon) and any
        other columns of the file, in metres; ``attrs["source_crs"]`` holds the file's CRS.
        Several features with the same code and name (a township split in parts) are
        dissolved into one row.

    Raises
    ------
    InputError
        Unreadable or empty file, no CRS, no code column, a missing code, non-polygon
        geometry, or one code used by two different names.
    """
    gdf = read_vector(path, layer=layer, source_crs=source_crs, encoding=encoding)
    src = gdf.crs
    code_c = find_column(gdf.columns, CODE_NAMES, explicit=code_column, path=path, what="code")
    if code_c is None:
        raise InputError(f"no code column (tried {', '.join(CODE_NAMES)}); pass code_column= "
                         "(in a scenario, give the input as a mapping with code_column, e.g. "
                         "boundary: {path: counties.shp, code_column: QHDM}); columns are "
                         f"{list(gdf.columns.drop(gdf.geometry.name))}", path=path)
    name_c = find_column(gdf.columns, NAME_NAMES, explicit=name_column, path=path, what="name")
    out = gdf.drop(columns=[c for c in ("code", "name") if c not in (code_c, name_c)
                            and c in gdf.columns])
    out = out.rename(columns={code_c: "code", **({name_c: "name"} if name_c else {})})
    out["code"] = code_text(out["code"])
    out["name"] = (out["name"].astype(object).where(out["name"].notna(), None)
                   if "name" in out else None)
    bad = np.flatnonzero(out["code"].isna().to_numpy())
    if bad.size:
        raise InputError("code is missing", path=path, row=(bad + 1).tolist(), field=code_c)
    geom = out.geometry
    bad = np.flatnonzero((geom.isna() | geom.is_empty).to_numpy())
    if bad.size:
        raise InputError("feature has no geometry", path=path, row=(bad + 1).tolist(),
                         field="geometry")
    kinds = geom.geom_type.to_numpy()
    bad = np.flatnonzero(~np.isin(kinds, ["Polygon", "MultiPolygon"]))
    if bad.size:
        raise InputError(f"geometry is {kinds[bad[0]]}, not a polygon", path=path,
                         row=(bad + 1).tolist(), field="geometry")
    # Hand-digitised boundaries often self-touch; make_valid keeps their area intact.
    out = out.set_geometry(out.geometry.make_valid())
    out = _dissolve_parts(out, path, code_c)
    out = to_metric(out, crs)
    return record_source(out, src, path)


def _dissolve_parts(gdf: gpd.GeoDataFrame, path: PathLike, code_field: str) -> gpd.GeoDataFrame:
    dup = gdf["code"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return gdf.reset_index(drop=True)
    for code, rows in gdf[dup].groupby("code").groups.items():
        pos = [gdf.index.get_loc(r) + 1 for r in rows]
        names = set(gdf.loc[rows, "name"].dropna()) if "name" in gdf else set()
        if len(names) > 1:
            raise InputError(f"code {code} is used by different names {sorted(names)}",
                             path=path, row=pos, field=code_field)
    attrs = dict(gdf.attrs)
    out = gdf.dissolve(by="code", as_index=False, sort=False, aggfunc="first")
    out = out[[c for c in gdf.columns if c in out.columns]]
    out.attrs = attrs
    return out.reset_index(drop=True)



#: Extra code/name column names of village lists (村代码 is the 12-digit statistical code).
VILLAGE_CODE_NAMES: tuple[str, ...] = ("village_code", "村代码", "村编码", "村庄代码", "村级代码")
VILLAGE_NAME_NAMES: tuple[str, ...] = ("village", "village_name", "村名", "村名称", "村庄名称")


def _place_points(
    path: PathLike, what: str, *, crs: Any, layer: str | int | None, source_crs: Any,
    encoding: str | None, codes: tuple[str, ...] = (), names: tuple[str, ...] = (),
    sheet: str | int | None = None, coordinates: str = "wgs84",
) -> tuple[gpd.GeoDataFrame, str]:
    """Points (polygons reduced to an interior point) with ``code``/``name``, in metres."""
    from elder_coverage.io.facilities import read_source_points

    raw = read_source_points(path, layer=layer, sheet=sheet, coordinates=coordinates,
                             source_crs=source_crs, encoding=encoding)
    code_names = (*codes, *CODE_NAMES)
    code_c = find_column(raw.columns, code_names, path=path, what="code")
    if code_c is None:
        raise InputError(f"no {what} code column (tried {', '.join(code_names)}); columns "
                         f"are {list(raw.columns.drop(raw.geometry.name))}", path=path)
    name_c = find_column(raw.columns, (*names, *NAME_NAMES), path=path, what="name")
    out = raw.rename(columns={code_c: "code", **({name_c: "name"} if name_c else {})})
    out["code"] = code_text(out["code"])
    bad = np.flatnonzero(out["code"].isna().to_numpy())
    if bad.size:
        raise InputError("code is missing", path=path, row=(bad + 1).tolist(), field=code_c)
    dup = np.flatnonzero(out["code"].duplicated(keep=False).to_numpy())
    if dup.size:
        raise InputError(f"{what} code {out['code'].iloc[dup[0]]} appears more than once",
                         path=path, row=(dup + 1).tolist(), field=code_c)
    kinds = out.geom_type.to_numpy()
    areal = np.isin(kinds, ["Polygon", "MultiPolygon"])
    bad = np.flatnonzero(~(areal | (kinds == "Point")))
    if bad.size:
        raise InputError(f"geometry is {kinds[bad[0]]}; expected points", path=path,
                         row=(bad + 1).tolist(), field="geometry")
    out = to_metric(out.reset_index(drop=True), crs)
    if areal.any():
        g = out.geometry.copy()
        g[areal] = out.geometry[areal].representative_point()
        out = out.set_geometry(g)
    return out, code_c


def read_villages(
    path: PathLike,
    *,
    crs: Any = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    layer: str | int | None = None,
    source_crs: Any = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    coordinates: str = "wgs84",
) -> gpd.GeoDataFrame:
    """Village points with their 60+ population, for the village indicators and candidates.

    Parameters
    ----------
    path : str or PathLike
        CSV with lon/lat (``经度``/``纬度``) or any vector file of points or polygons.
    crs : optional
        Metric CRS of the result.
    study_area : GeoDataFrame or GeoSeries, optional
        Villages outside it (beyond 50 m) are left out with a note; none inside is an error.
    layer, source_crs, encoding, sheet, coordinates : optional
        As in :func:`~elder_coverage.io.read_facilities`.

    Returns
    -------
    GeoDataFrame
        ``code`` (str), ``name``, ``elders_60`` (persons, float; ``300人`` and ``1,200``
        are read as numbers), the file's other columns, points in metres.

    Raises
    ------
    InputError
        No code or 60+ column, a missing or duplicate code, a count that is not a number
        of persons, or no village inside ``study_area``.
    """
    from elder_coverage.io.population import COUNT_ALIASES

    out, _ = _place_points(path, "village", crs=crs, layer=layer, source_crs=source_crs,
                           encoding=encoding, codes=VILLAGE_CODE_NAMES, names=VILLAGE_NAME_NAMES,
                           sheet=sheet, coordinates=coordinates)
    count_c = find_column(out.columns, COUNT_ALIASES[60], path=path, what="60+ count")
    if count_c is None:
        raise InputError(f"no 60+ count column (accepted: {', '.join(COUNT_ALIASES[60])}); "
                         f"columns are {list(out.columns.drop(out.geometry.name))}", path=path)
    counts = parse_counts(out[count_c])
    bad = np.flatnonzero((~np.isfinite(counts) | (counts < 0)).to_numpy())
    if bad.size:
        raise InputError(f"{out[count_c].iloc[bad[0]]!r} is not a number of persons",
                         path=path, row=(bad + 1).tolist(), field=count_c)
    out = out.rename(columns={count_c: "elders_60"})
    out["elders_60"] = counts.to_numpy()
    if study_area is not None:
        area = study_area_union(study_area, out.crs)
        far = ~out.geometry.intersects(area).to_numpy()
        far[far] = out.geometry[far].distance(area).to_numpy() > INSIDE_TOLERANCE_M
        if far.all():
            raise InputError(f"none of the {len(out)} villages lies inside the study area",
                             path=path, field="geometry")
        if far.any():
            add_note(out, f"{Path(path).name}: {int(far.sum())} of {len(out)} villages "
                          f"({float(out['elders_60'][far].sum()):,.0f} elders aged 60+) lie "
                          "outside the study area and are not counted")
            attrs = dict(out.attrs)
            out = out[~far].reset_index(drop=True)
            out.attrs = attrs
    return record_source(out, out.attrs[SOURCE_CRS_ATTR], path)


def read_seats(
    path: PathLike,
    *,
    crs: Any = None,
    townships: gpd.GeoDataFrame | None = None,
    layer: str | int | None = None,
    source_crs: Any = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    coordinates: str = "wgs84",
) -> gpd.GeoDataFrame:
    """Township seat points (乡镇驻地), matched to township polygons by ``code``.

    Parameters
    ----------
    path : str or PathLike
        CSV with lon/lat or any vector file of points; a ``code`` column (``区划代码`` …)
        holding the township codes.
    crs : optional
        Metric CRS of the result.
    townships : GeoDataFrame, optional
        From :func:`read_boundaries`; every township must have exactly one seat, and the
        result carries its ``name``, ``county_code`` and ``is_urban``.
    layer, source_crs, encoding, sheet, coordinates : optional
        As in :func:`~elder_coverage.io.read_facilities`.

    Returns
    -------
    GeoDataFrame
        ``code``, ``name`` (and the township columns), points in metres.
    """
    out, code_c = _place_points(path, "seat", crs=crs, layer=layer, source_crs=source_crs,
                                encoding=encoding, sheet=sheet, coordinates=coordinates)
    if townships is None:
        return record_source(out, out.attrs[SOURCE_CRS_ATTR], path)
    known = set(townships["code"])
    unknown = np.flatnonzero(~out["code"].isin(known).to_numpy())
    if unknown.size:
        raise InputError(f"seat code {out['code'].iloc[unknown[0]]} is not a township code "
                         "of the township layer", path=path, row=(unknown + 1).tolist(),
                         field=code_c)
    missing = sorted(known - set(out["code"]))
    if missing:
        raise InputError(f"{len(missing)} township(s) have no seat point: "
                         f"{', '.join(missing[:10])}{', …' if len(missing) > 10 else ''}",
                         path=path, field=code_c)
    cols = [c for c in ("name", "county_code", "is_urban") if c in townships]
    attrs = dict(out.attrs)
    joined = out.drop(columns=[c for c in cols if c in out]).merge(
        townships[["code", *cols]], on="code", how="left")
    joined = gpd.GeoDataFrame(joined, geometry=out.geometry.name, crs=out.crs)
    joined.attrs = attrs
    return record_source(joined, attrs[SOURCE_CRS_ATTR], path)
