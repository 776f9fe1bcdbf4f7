"""County and township boundary polygons, with ``code`` and ``name`` normalised."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np

from elder_coverage.io._common import (
    PathLike,
    code_text,
    find_column,
    read_vector,
    record_source,
)
from elder_coverage.io.crs import to_metric
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
    gdf = read_vector(path, layer=layer, source_crs=source_crs)
    src = gdf.crs
    code_c = find_column(gdf.columns, CODE_NAMES, explicit=code_column, path=path, what="code")
    if code_c is None:
        raise InputError(f"no code column (tried {', '.join(CODE_NAMES)}); pass code_column=; "
                         f"columns are {list(gdf.columns.drop(gdf.geometry.name))}", path=path)
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

