"""Checks of the engine's inputs: demand cells, facilities, their CRS and the road graph.

Every engine entry point (:func:`elder_coverage.engine.compute_coverage`,
:func:`elder_coverage.costs.travel_costs`, :func:`elder_coverage.costs.reach_matrix`) calls
:func:`prepare_inputs` once, so that a bad layer fails the same way, naming the layer and the
row, whichever function the planner called first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from elder_coverage._errors import DataError
from elder_coverage.schema import AGE_COLUMNS, FACILITY_KINDS
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import RoadNetwork, as_network

__all__ = ["CoverageInputError", "check_cells", "check_facilities", "check_keyed_table",
           "check_same_crs", "populated_mask", "prepare_inputs"]


class CoverageInputError(DataError):
    """Demand cells, facilities or graph cannot be used together; the message says why."""




def _crs(obj: Any) -> pyproj.CRS | None:
    return None if obj is None else pyproj.CRS.from_user_input(obj)


def check_same_crs(**layers: Any) -> pyproj.CRS:
    """Check that every layer is in one projected CRS and return it.

    Parameters
    ----------
    **layers
        Name → GeoDataFrame, :class:`RoadNetwork`, CRS or None (None is skipped).

    Raises
    ------
    CoverageInputError
        A layer without CRS, a geographic CRS, or two layers in different CRSs.
    """
    found: dict[str, pyproj.CRS] = {}
    for name, layer in layers.items():
        if layer is None:
            continue
        crs = getattr(layer, "crs", layer)
        if crs is None:
            raise CoverageInputError(f"{name}: has no CRS; set it (e.g. .set_crs) and project "
                                     "to a metric CRS such as UTM 51N/52N")
        parsed = _crs(crs)
        if parsed is None or not parsed.is_projected:
            shown = parsed.to_string() if parsed is not None else repr(crs)
            raise CoverageInputError(
                f"{name}: CRS {shown} is geographic (degrees); distances need a "
                "metric CRS: reproject with .to_crs(...) first"
            )
        found[name] = parsed
    if not found:
        raise CoverageInputError("no layer carries a CRS")
    names = list(found)
    ref = found[names[0]]
    for name in names[1:]:
        if found[name] != ref:
            raise CoverageInputError(
                f"CRS mismatch: {names[0]} is in {ref.to_string()} but {name} is in "
                f"{found[name].to_string()}; reproject one layer to the other's CRS"
            )
    return ref


def _point_xy(gdf: gpd.GeoDataFrame, what: str, id_col: str) -> np.ndarray:
    arr = gdf.geometry.to_numpy()
    # Integer type ids and raw coordinates: no per-row Python objects on million-row inputs.
    type_id = shapely.get_type_id(arr)
    x = shapely.get_x(np.where(type_id == 0, arr, None))
    y = shapely.get_y(np.where(type_id == 0, arr, None))
    missing = (type_id < 0) | ((type_id == 0) & (np.isnan(x) | np.isnan(y)))
    if missing.any():
        ids = gdf[id_col].to_numpy()[missing] if id_col in gdf else gdf.index[missing]
        raise CoverageInputError(f"{what}: {int(missing.sum())} row(s) without geometry, "
                                 f"e.g. {id_col}={list(ids[:5])}")
    other = type_id != 0
    if other.any():
        k = int(np.flatnonzero(other)[0])
        name = arr[k].geom_type
        row_id = gdf[id_col].iloc[k] if id_col in gdf else gdf.index[k]
        raise CoverageInputError(
            f"{what}: expected Point geometries, {id_col}={row_id!r} is a {name} "
            "(use centroids / seats)"
        )
    return np.column_stack([x, y])


def check_keyed_table(df: pd.DataFrame, name: str, columns: Iterable[str], key: str) -> None:
    """Raise :class:`CoverageInputError` for a missing column or a repeated ``key`` value.

    Parameters
    ----------
    df : pandas.DataFrame
        The layer.
    name : str
        Its name in the message ("cells", "facilities", "townships").
    columns : iterable of str
        Required columns (``key`` is required too).
    key : str
        Column whose values must be unique (the first repeated value is named).
    """
    for col in dict.fromkeys([key, *columns]):
        if col not in df:
            raise CoverageInputError(f"{name}: missing column {col!r}")
    dup = df[key].duplicated()
    if dup.any():
        raise CoverageInputError(f"{name}: duplicated {key} {df.loc[dup, key].iloc[0]!r}")


def check_cells(cells: gpd.GeoDataFrame) -> np.ndarray:
    """Validate demand cells and return their (n, 2) coordinates in metres.

    Raises
    ------
    CoverageInputError
        Not a GeoDataFrame, missing ``cell_id``/``elders_60``, duplicated ``cell_id``,
        negative or missing elder counts (naming the cells), non-point geometry.
    """
    if not isinstance(cells, gpd.GeoDataFrame):
        raise CoverageInputError(f"cells: expected a GeoDataFrame, got {type(cells).__name__}")
    check_keyed_table(cells, "cells", [AGE_COLUMNS[60]], "cell_id")
    for col in AGE_COLUMNS.values():
        if col not in cells:
            continue
        vals = pd.to_numeric(cells[col], errors="coerce")
        bad = vals.isna() | (vals < 0) | ~np.isfinite(vals.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            ids = cells.loc[bad, "cell_id"].tolist()[:5]
            raise CoverageInputError(f"cells: column {col!r} has {int(bad.sum())} missing, "
                                     f"negative or non-numeric value(s), e.g. cell_id={ids}")
    return _point_xy(cells, "cells", "cell_id")


def check_facilities(facilities: gpd.GeoDataFrame, standards: Standards) -> np.ndarray:
    """Validate facilities and return their (m, 2) coordinates in metres.

    Raises
    ------
    CoverageInputError
        Missing ``id``/``kind``, duplicated ``id``, a kind with no service standard (naming
        the facility), non-point geometry.
    """
    if not isinstance(facilities, gpd.GeoDataFrame):
        raise CoverageInputError(
            f"facilities: expected a GeoDataFrame, got {type(facilities).__name__}")
    check_keyed_table(facilities, "facilities", ["kind"], "id")
    unknown = ~facilities["kind"].isin(list(standards.kinds))
    if unknown.any():
        row = facilities.loc[unknown].iloc[0]
        raise CoverageInputError(
            f"facilities: id={row['id']!r} has kind {row['kind']!r}, which has no service "
            f"standard; known kinds: {sorted(standards.kinds)}"
        )
    return _point_xy(facilities, "facilities", "id")


def populated_mask(cells: pd.DataFrame) -> np.ndarray:
    """True for cells holding at least one elder in any age column."""
    mask = np.zeros(len(cells), dtype=bool)
    for col in AGE_COLUMNS.values():
        if col in cells:
            mask |= pd.to_numeric(cells[col]).to_numpy(dtype=float) > 0
    return mask


def prepare_inputs(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: Any,
    standards: Standards | Mapping[str, Any] | None,
    kinds: Iterable[str] | None,
) -> tuple[Standards, np.ndarray, np.ndarray, RoadNetwork | None, tuple[str, ...]]:
    """Check cells, facilities, graph and standards together, once per engine call.

    Returns
    -------
    standards, cell_xy, fac_xy, network, kinds
        The resolved standards, the (n, 2) and (m, 2) coordinates in metres, the road
        network (None without a graph) and the kinds asked for (default: every kind with a
        standard, in :data:`elder_coverage.schema.FACILITY_KINDS` order).
    """
    std = resolve_standards(standards)
    cell_xy = check_cells(cells)
    fac_xy = check_facilities(facilities, std)
    net = as_network(graph)
    check_same_crs(cells=cells, facilities=facilities,
                   road_graph=net.crs if net is not None and net.crs is not None else None)
    if kinds is None:
        kinds = tuple(k for k in FACILITY_KINDS if k in std.kinds)
    else:
        kinds = tuple(kinds)
        for k in kinds:
            std[k]  # noqa: B018 - raises StandardsError naming a kind without standard
    return std, cell_xy, fac_xy, net, kinds
