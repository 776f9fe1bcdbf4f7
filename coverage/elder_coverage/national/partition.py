"""Straight-line coverage split into independent partitions (counties) with a halo.

Coverage is local: a facility can cover a cell only within its kind's radius, and the largest
radius (the county home's, 25 km by default) bounds how far a partition must look beyond its
own cells. Each partition therefore needs only the facilities inside its cells' bounding box
grown by that *halo*; the partitions are independent and run as separate tasks, on one
machine or on a dask cluster (:mod:`elder_coverage.national.cluster`).

Why the result is the single-machine result, cell for cell: a facility outside the grown box
is farther than ``halo_m`` from every cell of the partition (its distance along one axis
alone already exceeds ``halo_m``). So, for a cell whose nearest facility *inside* the halo
lies within ``halo_m``, that facility is the nearest overall and every facility within the
kind's radius (≤ ``halo_m``) is in the halo set: nearest, distance, count and covered are
exactly those of :func:`~elder_coverage.engine.compute_coverage` on all facilities. The few
cells whose nearest facility is farther than the halo (remote cells, or a kind absent from
the halo) are recomputed against every facility of that kind, so nothing depends on the halo
being large enough.
"""

from __future__ import annotations

import resource
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage.engine import CoverageWarning, compute_coverage
from elder_coverage.schema import AGE_COLUMNS
from elder_coverage.standards import Standards, resolve_standards

#: Per-cell result columns written for every kind (as in ``compute_coverage``).
RESULT_SUFFIXES: tuple[str, ...] = ("nearest_id", "dist_m", "n_within", "covered")


@dataclass(frozen=True)
class PartitionResult:
    """What one partition's task returns.

    Attributes
    ----------
    key : str
        Partition key (county code).
    name : str
        Partition name (county name), for messages.
    elders : dict of str to int
        Elders per age column (persons).
    covered : dict of str to int
        Elders 60+ covered per kind (persons).
    n_cells : int
        Populated cells evaluated.
    n_halo_facilities : int
        Facilities inside the halo.
    n_fallback_cells : int
        Cells recomputed against all facilities (nearest facility beyond the halo).
    seconds : float
        Wall time of the task.
    peak_rss_mb : float
        Peak resident memory of the worker process so far (MB).
    cells : GeoDataFrame or None
        Per-cell results when asked for (tests, small runs); None when written to disk.
    path : str or None
        GeoParquet file written, if any.
    """

    key: str
    name: str
    elders: dict[str, int]
    covered: dict[str, int]
    n_cells: int
    n_halo_facilities: int
    n_fallback_cells: int
    seconds: float
    peak_rss_mb: float
    cells: gpd.GeoDataFrame | None = field(default=None, repr=False)
    path: str | None = None


def halo_radius_m(standards: Standards, kinds: list[str]) -> float:
    """Largest straight-line radius (metres) among ``kinds``: the halo a partition needs."""
    return float(max(standards[k].radius_m for k in kinds))


def halo_facilities(cell_xy: np.ndarray, fac_xy: np.ndarray, halo_m: float) -> np.ndarray:
    """Rows of facilities inside the cells' bounding box grown by ``halo_m`` (metres).

    Parameters
    ----------
    cell_xy, fac_xy : numpy.ndarray
        (n, 2) and (m, 2) coordinates in one metric CRS (metres).
    halo_m : float
        Halo width (metres).

    Returns
    -------
    numpy.ndarray of int64
        Facility rows, in their original order.
    """
    if len(cell_xy) == 0:
        return np.zeros(0, dtype=np.int64)
    lo = cell_xy.min(axis=0) - halo_m
    hi = cell_xy.max(axis=0) + halo_m
    inside = np.all((fac_xy >= lo) & (fac_xy <= hi), axis=1)
    return np.flatnonzero(inside)


def _xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return np.column_stack([gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()])


def _quiet_coverage(cells, facilities, standards, kinds) -> gpd.GeoDataFrame:
    # "No facility of this kind in the halo" is expected here and resolved by the fallback.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoverageWarning)
        return compute_coverage(cells, facilities, None, standards, kinds=kinds).cells


def partition_coverage(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    standards: Standards,
    kinds: list[str],
    halo_m: float,
) -> tuple[gpd.GeoDataFrame, int, int]:
    """Coverage of one partition's cells, equal to the computation over all facilities.

    Parameters
    ----------
    cells : GeoDataFrame
        The partition's populated cells (metric CRS, ``cell_id``, ``elders_60`` …).
    facilities : GeoDataFrame
        Every facility that counts (same CRS, ``id``, ``kind``), not only the halo's.
    standards : Standards
        Service standards; only straight-line radii are used here.
    kinds : list of str
        Kinds to evaluate.
    halo_m : float
        Halo width (metres); at least :func:`halo_radius_m` for the result to be exact
        without fallback, but any value gives the exact result.

    Returns
    -------
    cells : GeoDataFrame
        As :func:`~elder_coverage.engine.compute_coverage` ``.cells``.
    n_halo : int
        Facilities inside the halo.
    n_fallback : int
        Cells recomputed against all facilities.
    """
    cell_xy = _xy(cells)
    rows = halo_facilities(cell_xy, _xy(facilities), halo_m)
    out = _quiet_coverage(cells, facilities.iloc[rows], standards, kinds)
    any_beyond = np.zeros(len(out), dtype=bool)
    for kind in kinds:
        of_kind = facilities["kind"].to_numpy() == kind
        if not of_kind.any():
            continue  # absent everywhere: the halo result (nobody covered) is the answer
        # NaN (the kind is absent from the halo) counts as beyond; a halo narrower than the
        # kind's radius cannot hold every facility within it, so then every cell is redone.
        beyond = ~(out[f"{kind}_dist_m"].to_numpy(dtype=float) <= halo_m)
        if halo_m < standards[kind].radius_m:
            beyond[:] = True
        if not beyond.any():
            continue
        at = np.flatnonzero(beyond)
        again = _quiet_coverage(cells.iloc[at], facilities[of_kind], standards, [kind])
        for col in again.columns:
            if col.startswith(f"{kind}_"):
                fixed = out[col].copy()
                fixed.iloc[at] = again[col].to_numpy()
                out[col] = fixed
        # Re-infer the id column's dtype as compute_coverage does from the same values
        # (str when every cell has a nearest facility, object with None otherwise).
        ids = out[f"{kind}_nearest_id"].to_numpy(dtype=object)
        out[f"{kind}_nearest_id"] = pd.DataFrame({"v": ids}, index=out.index)["v"]
        any_beyond |= beyond
    beyond = any_beyond
    return out, int(rows.size), int(beyond.sum())


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def summarise(key: str, name: str, cells: pd.DataFrame, kinds: list[str]) -> tuple[dict, dict]:
    """Elders per age column and elders 60+ covered per kind (persons) of a result frame."""
    elders = {col: int(pd.to_numeric(cells[col]).sum()) for col in AGE_COLUMNS.values()
              if col in cells}
    e60 = pd.to_numeric(cells["elders_60"]).to_numpy()
    covered = {k: int(e60[cells[f"{k}_covered"].to_numpy(dtype=bool)].sum()) for k in kinds}
    return elders, covered


def run_partition(
    key: str,
    name: str,
    cells: Any,
    facilities: gpd.GeoDataFrame,
    *,
    standards: Standards | dict | None,
    kinds: list[str] | None = None,
    halo_m: float | None = None,
    keep_cells: bool = True,
    write_to: str | None = None,
) -> PartitionResult:
    """One task: build (or take) a partition's cells, cover them, summarise, write.

    Parameters
    ----------
    key, name : str
        Partition code and name (for results and messages).
    cells : GeoDataFrame or callable
        The partition's cells, or a function that builds them from ``facilities`` and returns
        ``(cells, facilities)`` in one CRS (so that a national run never holds more than one
        county's cells per worker, each in its own UTM zone).
    facilities : GeoDataFrame
        All facilities (same CRS as the cells unless the callable supplies its own).
    standards : Standards or mapping, optional
        Service standards or overrides.
    kinds : list of str, optional
        Kinds to evaluate (default: those with a standard).
    halo_m : float, optional
        Halo width (metres); default the largest radius among ``kinds``.
    keep_cells : bool
        Return the per-cell frame in the result.
    write_to : str, optional
        GeoParquet file to write the per-cell results to (atomically).
    """
    t0 = time.perf_counter()
    std = resolve_standards(standards)
    kinds = list(kinds) if kinds is not None else list(std.kinds)
    halo = halo_radius_m(std, kinds) if halo_m is None else float(halo_m)
    if callable(cells):
        cells, facilities = cells(facilities)
    res, n_halo, n_fallback = partition_coverage(cells, facilities, standards=std, kinds=kinds,
                                                 halo_m=halo)
    elders, covered = summarise(key, name, res, kinds)
    path = None
    if write_to is not None:
        from elder_coverage.national.outputs import write_cells_parquet

        path = str(write_cells_parquet(res, write_to, kinds=kinds))
    return PartitionResult(
        key=key, name=name, elders=elders, covered=covered, n_cells=len(res),
        n_halo_facilities=n_halo, n_fallback_cells=n_fallback,
        seconds=time.perf_counter() - t0, peak_rss_mb=peak_rss_mb(),
        cells=res if keep_cells else None, path=path,
    )
