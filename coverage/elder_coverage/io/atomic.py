"""Writers that never leave a half-written file behind.

Each writer renders into a temporary file in the destination's own folder (same file
system, so :func:`os.replace` is an atomic rename) and replaces the target only once the
write succeeded. A crash or exception leaves the old file, or none, never a truncated one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

PathLike = str | os.PathLike[str]


def _temp_sibling(path: Path) -> Path:
    # Keep the real suffix last: GDAL and osmnx pick drivers from it.
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def _discard(tmp: Path) -> None:
    # GeoPackage/SQLite may leave -journal/-wal/-shm companions beside a failed file.
    for p in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
        p.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: PathLike, *, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    Parameters
    ----------
    path : str or PathLike
        Final destination. Its folder is created if missing.
    copy_existing : bool, default False
        Start the temporary file as a copy of the current ``path`` (for formats such as
        GeoPackage where one layer is replaced inside a multi-layer file).

    Examples
    --------
    >>> with atomic_path("out.tif") as tmp:          # doctest: +SKIP
    ...     write_something(tmp)
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(final)
    try:
        if copy_existing and final.exists():
            shutil.copy2(final, tmp)
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writer produced no file for {final}")
        os.replace(tmp, final)
    finally:
        _discard(tmp)


@contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only if the block succeeds.

    For whole output folders (a scenario run): a run that fails leaves nothing behind, and an
    earlier successful run in ``path`` stays as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` when the block exits cleanly.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_csv(df: pd.DataFrame, path: PathLike, *, index: bool = False, **kwargs: Any) -> Path:
    """Write ``df`` as UTF-8 CSV atomically (``kwargs`` go to :meth:`DataFrame.to_csv`).

    A GeoDataFrame's geometry is written as WKT.
    """
    with atomic_open(path, "w", encoding=kwargs.pop("encoding", "utf-8")) as fh:
        pd.DataFrame(df).to_csv(fh, index=index, **kwargs)
    return Path(path)


def write_json(obj: Any, path: PathLike, *, indent: int = 2) -> Path:
    """Write a JSON document atomically; non-ASCII (Chinese) text is kept readable."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent, default=default)
        fh.write("\n")
    return Path(path)


def write_gpkg(gdf: gpd.GeoDataFrame, path: PathLike, *, layer: str | None = None) -> Path:
    """Write ``gdf`` as a GeoPackage layer atomically.

    If ``path`` exists, its other layers are kept and ``layer`` (default: the file stem) is
    replaced.
    """
    layer = layer or Path(path).stem
    with atomic_path(path, copy_existing=True) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    return Path(path)


def write_geojson(gdf: gpd.GeoDataFrame, path: PathLike) -> Path:
    """Write ``gdf`` as GeoJSON atomically (GeoJSON is WGS84 by specification, so reprojected)."""
    with atomic_path(path) as tmp:
        gdf.to_crs(4326).to_file(tmp, driver="GeoJSON", engine="pyogrio")
    return Path(path)


def write_geotiff(
    array: np.ndarray,
    path: PathLike,
    *,
    transform: Any,
    crs: Any,
    nodata: float | None = None,
) -> Path:
    """Write a 2-D array (or a ``(bands, rows, cols)`` stack) as a compressed GeoTIFF atomically.

    Parameters
    ----------
    array : ndarray
        Values, e.g. persons per cell.
    transform : affine.Affine
        Pixel-to-CRS transform.
    crs
        Anything rasterio accepts.
    nodata : float, optional
        Value marking empty cells.
    """
    import rasterio

    data = np.asarray(array)
    stack = data[np.newaxis] if data.ndim == 2 else data
    if stack.ndim != 3:
        raise ValueError(f"array must be 2-D or 3-D, got shape {data.shape}")
    profile = {
        "driver": "GTiff",
        "height": stack.shape[1],
        "width": stack.shape[2],
        "count": stack.shape[0],
        "dtype": stack.dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(stack)
    return Path(path)


def write_graphml(G: nx.MultiDiGraph, path: PathLike) -> Path:
    """Save an osmnx graph as GraphML atomically (via :func:`osmnx.save_graphml`)."""
    import osmnx as ox

    with atomic_path(path) as tmp:
        ox.save_graphml(G, filepath=tmp)
    return Path(path)
