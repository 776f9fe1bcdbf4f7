"""Files of a partitioned run: one GeoParquet per partition, tables, a county map."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from elder_coverage.io.atomic import atomic_path
from elder_coverage.national.partition import RESULT_SUFFIXES


def write_cells_parquet(cells: gpd.GeoDataFrame, path: str | Path, *,
                        kinds: list[str]) -> Path:
    """Write a partition's per-cell results as GeoParquet, atomically.

    Parameters
    ----------
    cells : GeoDataFrame
        Result cells of one partition.
    path : path-like
        Destination ``.parquet`` file (its folder is created).
    kinds : list of str
        Kinds whose result columns are kept (nearest id, distance in metres, facilities
        within the radius, covered).

    Returns
    -------
    Path
        The file written.
    """
    keep = [c for c in cells.columns
            if not any(c.startswith(f"{k}_") for k in kinds)
            or any(c == f"{k}_{s}" for k in kinds for s in RESULT_SUFFIXES)]
    out = cells[keep].copy()
    for k in kinds:
        # Object columns of ids mix None and str; Arrow wants one type.
        out[f"{k}_nearest_id"] = out[f"{k}_nearest_id"].astype("string")
    with atomic_path(path) as tmp:
        out.to_parquet(tmp, index=False, compression="zstd")
    return Path(path)
