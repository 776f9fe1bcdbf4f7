"""The run's cell file: every populated cell stored once, as GeoPackage or GeoParquet.

A run used to write each cell twice (layer ``cells`` before and ``cells_final`` after the
plan), even when nothing changed: 526 MB for the province at 250 m. Now one layer ``cells``
holds the values after the run's changes; a column the plan changed (``dining_hall_covered``
after new halls) is followed by ``<column>_before`` with today's value, and columns nothing
changed appear once. A coverage-only run therefore writes exactly the coverage columns.

Values are not rounded: counts that are whole numbers (elders, facilities within reach) are
written as integers, distances and times as the doubles the tables were computed from.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage.io.atomic import atomic_path

#: The one layer of a run's cell GeoPackage.
CELLS_LAYER = "cells"
#: Suffix of a column holding today's value where the run's plan changed it.
BEFORE_SUFFIX = "_before"
#: The second layer of cell files written before cells were stored once (read by compare).
LEGACY_FINAL_LAYER = "cells_final"
#: File types a cell file may have (``outputs.geopackage``).
CELL_SUFFIXES = (".gpkg", ".parquet")

PathLike = str | os.PathLike[str]


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Equal values, missing where the other is missing (NaN == NaN, NA == NA)."""
    if len(a) != len(b):
        return False
    if a.dtype != b.dtype and not (pd.api.types.is_numeric_dtype(a)
                                   and pd.api.types.is_numeric_dtype(b)):
        a, b = a.astype(object), b.astype(object)
    try:
        return bool(a.reset_index(drop=True).equals(b.reset_index(drop=True)))
    except TypeError:
        return False


def _compact(col: pd.Series) -> pd.Series:
    """Whole-number floats as integers (exact: every value is kept), others unchanged.

    Elders per cell and facilities within reach are whole numbers held as floats; as
    integers they take 1–4 bytes in SQLite and Parquet instead of 8.
    """
    if not pd.api.types.is_float_dtype(col) or not len(col):
        return col
    v = col.to_numpy(dtype=float)
    finite = np.isfinite(v)
    if (np.isinf(v).any() or not finite.any()
            or not np.array_equal(v[finite], np.round(v[finite]))
            or np.abs(v[finite]).max() >= 2**31):
        return col
    if finite.all():
        return pd.Series(v.astype(np.int32), index=col.index, name=col.name)
    return col.astype("Int32")


def cells_for_output(before: gpd.GeoDataFrame | None,
                     after: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One frame holding a run's cells once: after's columns, today's only where they differ.

    Parameters
    ----------
    before : GeoDataFrame or None
        The cells before the run's closures and new sites (None or the same object as
        ``after`` for a coverage-only run).
    after : GeoDataFrame
        The cells after them, in the same rows (matched by ``cell_id``).

    Returns
    -------
    GeoDataFrame
        ``after``'s columns in their order, each changed column followed by
        ``<column>_before``; a column only ``before`` holds is kept under the same
        ``_before`` name. Whole-number float columns become integers (values unchanged).
    """
    return _frame(_output_columns(before, after), after)


def _output_columns(before: gpd.GeoDataFrame | None,
                    after: gpd.GeoDataFrame) -> dict[str, pd.Series]:
    """The attribute columns of :func:`cells_for_output`, by name, in order (no geometry)."""
    out = {}
    changed = before is not None and before is not after
    if changed:
        if len(before) != len(after) or not np.array_equal(before["cell_id"].to_numpy(),
                                                           after["cell_id"].to_numpy()):
            before = before.set_index("cell_id").reindex(after["cell_id"]).reset_index()
    for col in after.columns:
        if col == after.geometry.name:
            continue
        out[col] = _compact(after[col].reset_index(drop=True))
        if changed and col in before and not _same(before[col], after[col]):
            out[f"{col}{BEFORE_SUFFIX}"] = _compact(before[col].reset_index(drop=True))
    if changed:
        for col in before.columns:
            if col not in after and col != before.geometry.name:
                out[f"{col}{BEFORE_SUFFIX}"] = _compact(before[col].reset_index(drop=True))
    return out


def _frame(columns: dict[str, pd.Series], after: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(columns)
    return gpd.GeoDataFrame(frame, geometry=after.geometry.reset_index(drop=True).to_numpy(),
                            crs=after.crs)


def write_cells(path: PathLike, before: gpd.GeoDataFrame | None,
                after: gpd.GeoDataFrame) -> Path:
    """Write a run's cells once (see :func:`cells_for_output`), atomically.

    Parameters
    ----------
    path : path-like
        ``.gpkg`` (GeoPackage, layer ``cells``, with a spatial index) or ``.parquet``
        (GeoParquet, zstd-compressed: about a third of the GeoPackage's size).
    before, after : GeoDataFrame
        See :func:`cells_for_output`.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CELL_SUFFIXES:
        raise ValueError(f"{path}: a cell file ends in {' or '.join(CELL_SUFFIXES)}")
    columns = _output_columns(before, after)
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            _frame(columns, after).to_parquet(tmp, index=False, compression="zstd")
        else:
            _write_gpkg(tmp, columns, after)
    return path


def _write_gpkg(path: Path, columns: dict[str, pd.Series], after: gpd.GeoDataFrame) -> None:
    """The GeoPackage layer ``cells``: straight from Arrow arrays where the columns allow.

    The direct path gives the same file, byte for byte, as ``pyogrio.write_dataframe`` with
    ``use_arrow=True`` (the test compares them) without building a consolidated pandas frame
    and shapely's WKB of 800 k points first; other columns or geometries take that path.
    """
    import pyogrio

    # A fixed timestamp so that the same cells give the same bytes.
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-11-01T00:00:00Z"})
    table = _arrow_table(columns, after.geometry)
    if table is None:
        # Through Arrow: three times faster than row-by-row OGR features. Nullable
        # booleans (``<kind>_reachable``: NA where a cell was not evaluated) go in as
        # GeoPackage boolean fields with nulls, never as the text 'False'.
        pyogrio.write_dataframe(_frame(columns, after), path, layer=CELLS_LAYER,
                                driver="GPKG", use_arrow=True)
        return
    pyogrio.write_arrow(table, path, layer=CELLS_LAYER, driver="GPKG",
                        geometry_name=GEOMETRY_NAME, geometry_type="Point",
                        crs=_ogr_crs(after.crs))


#: Name of the geometry column of a cell file (as ``cells_for_output`` names it).
GEOMETRY_NAME = "geometry"


def _arrow_table(columns: dict[str, pd.Series], geometry: gpd.GeoSeries):
    """A pyarrow Table of the columns and the points' WKB, or None outside the direct path.

    The direct path takes 2-D points (none empty or missing) and columns of numbers,
    booleans and text, converted as ``pyarrow.Table.from_pandas`` converts them (NaN and NA
    become nulls; an all-missing column becomes text, as pyogrio makes it).
    """
    import pyarrow as pa

    if GEOMETRY_NAME in columns:
        return None
    arrays = [_arrow_column(col) for col in columns.values()]
    wkb = _point_wkb(geometry)
    if wkb is None or any(a is None for a in arrays):
        return None
    return pa.Table.from_arrays([*arrays, wkb], names=[*columns, GEOMETRY_NAME])


def _arrow_column(col: pd.Series):
    """One column as Arrow, as pyogrio's Arrow writer would pass it; None if not handled."""
    import pyarrow as pa

    if not _direct_dtype(col):
        return None
    arr = pa.array(col, from_pandas=True)
    # GDAL has no field type for Arrow's null type: pyogrio writes such a column as text.
    return arr.cast(pa.string()) if pa.types.is_null(arr.type) else arr


def _direct_dtype(col: pd.Series) -> bool:
    """Numbers, booleans or text (nullable or not): types Arrow and GDAL map one to one."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O":
            return pd.api.types.infer_dtype(col) in ("string", "empty")
        return dtype.kind in "biuf"
    if isinstance(dtype, pd.StringDtype):
        return True
    return (isinstance(dtype, pd.api.extensions.ExtensionDtype)
            and not isinstance(dtype, pd.CategoricalDtype)
            and (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)))


def _point_wkb(geometry: gpd.GeoSeries):
    """Little-endian WKB of 2-D points, built from their coordinates; None for anything else.

    Each point is 21 bytes: byte order 1, type 1 (Point), x and y as doubles — the bytes
    ``shapely.to_wkb`` writes for a 2-D point on a little-endian machine.
    """
    import pyarrow as pa
    import shapely

    geoms = np.asarray(geometry.to_numpy(), dtype=object)
    if len(geoms) == 0 or not (shapely.get_type_id(geoms) == shapely.GeometryType.POINT).all() \
            or shapely.is_empty(geoms).any() or shapely.has_z(geoms).any():
        return None
    xy = shapely.get_coordinates(geoms)
    rec = np.empty(len(xy), dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"),
                                   ("y", "<f8")])
    rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, xy[:, 0], xy[:, 1]
    offsets = np.arange(len(xy) + 1, dtype=np.int32) * rec.itemsize
    return pa.Array.from_buffers(pa.binary(), len(xy),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(rec.tobytes())])


def _ogr_crs(crs) -> str | None:
    """The layer's CRS as pyogrio's ``write_dataframe`` gives it to GDAL."""
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL")


def read_cells(path: PathLike, columns: list[str] | None = None, *,
               geometry: bool = False) -> pd.DataFrame:
    """A run's cells after its changes, from any cell file a run wrote.

    Reads ``.parquet`` and ``.gpkg`` (layer ``cells``; a file written before cells were
    stored once has the after-values in layer ``cells_final``, which wins when present).

    Parameters
    ----------
    path : path-like
        The run's cell file.
    columns : list of str, optional
        Only these columns (all when None).
    geometry : bool
        Read the cell points too (a GeoDataFrame).

    Returns
    -------
    DataFrame or GeoDataFrame
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        if geometry:
            return gpd.read_parquet(path, columns=None if columns is None
                                    else [*columns, "geometry"])
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=columns)
        if columns is None and "geometry" in table.column_names:
            table = table.drop(["geometry"])
        return table.to_pandas()
    import pyogrio

    layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    layer = LEGACY_FINAL_LAYER if LEGACY_FINAL_LAYER in layers else CELLS_LAYER
    return pyogrio.read_dataframe(path, layer=layer, columns=columns,
                                  read_geometry=geometry, use_arrow=True)
