"""Who is reached by which facility: per-cell, per-kind coverage.

For every populated demand cell and every facility kind the engine reports the nearest facility,
its straight-line distance (m), the network travel time (min, when a road graph is given), how
many facilities lie within the kind's service standard, and whether the cell is covered.

Straight-line work uses :class:`scipy.spatial.cKDTree` (nearest by ``query``, counts by
``query_ball_point(return_length=True)``) in chunks of cells to bound memory. Network work joins
cells and facilities to their nearest usable road *edge* (and to the main part of the graph
when that edge is on a fragment; :meth:`elder_coverage.travel.TravelGraph.attach`), the gap
travelled at the mode's off-network speed, then runs ONE multi-source Dijkstra per kind from
the facilities over the reversed graph (:func:`elder_coverage.travel.nearest_source`); counts
within the limit come from bounded searches (:func:`elder_coverage.travel.reach_within`). Two
off-network trips are weighed against the road trip and win when faster: along a shared edge,
and directly across country (straight line × ``access.<mode>_detour`` at the off-network
speed, :func:`direct_times`), the latter up to the kind's standard.

Cells that cannot be reached (farther from every road than an off-road leg within the
standard allows and no facility directly within it, or only joined to a part of the graph with
no facility of the kind) keep their row: ``<kind>_reachable`` is False, ``<kind>_covered``
False, and their ids are listed in :class:`CoverageReport`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from elder_coverage._errors import DataError
from elder_coverage.schema import AGE_COLUMNS, FACILITY_KINDS
from elder_coverage.standards import KindStandard, Standards, resolve_standards
from elder_coverage.travel import (
    Attachment,
    ConnectivityReport,
    RoadNetwork,
    TravelGraph,
    as_network,
    min_pairs,
    nearest_from_entries,
    nearest_source,
    reach_within,
    same_edge_times,
    warn_if_disconnected,
)

if TYPE_CHECKING:
    from elder_coverage.costs import TravelCosts

#: Per-kind result columns, in order; ``{kind}`` is replaced by the facility kind.
RESULT_COLUMNS: tuple[str, ...] = (
    "{kind}_nearest_id",
    "{kind}_dist_m",
    "{kind}_time_min",
    "{kind}_n_within",
    "{kind}_covered",
    "{kind}_reachable",
)


class CoverageInputError(DataError):
    """Demand cells, facilities or graph cannot be used together; the message says why."""


class CoverageWarning(UserWarning):
    """Something was left out of coverage (no facilities of a kind, unreachable cells...)."""


@dataclass
class CoverageReport:
    """What the engine could not evaluate normally; nothing is dropped silently.

    Attributes
    ----------
    kinds : tuple of str
        Kinds evaluated.
    missing_kinds : list of str
        Kinds with no facilities: every cell is uncovered and unreachable for them.
    fallback_kinds : list of str
        Kinds whose standard is network-based but were judged on ``radius_m`` because no graph
        was given.
    unreachable_cells : dict
        Kind → ``cell_id`` values of populated cells that reach no facility of the kind, by
        road or directly off-road within the standard (too far from every road, or joined
        only to a part of the graph without such a facility).
    unsnapped_facilities : dict
        Kind → ``id`` values of facilities too far from the road graph to join it (see
        :func:`attach_points`); they serve only cells within the standard directly off-road.
    connectivity : dict
        Travel mode → :class:`elder_coverage.travel.ConnectivityReport`.
    messages : list of str
        Human-readable notes, one per problem.
    """

    kinds: tuple[str, ...] = ()
    missing_kinds: list[str] = field(default_factory=list)
    fallback_kinds: list[str] = field(default_factory=list)
    unreachable_cells: dict[str, np.ndarray] = field(default_factory=dict)
    unsnapped_facilities: dict[str, np.ndarray] = field(default_factory=dict)
    connectivity: dict[str, ConnectivityReport] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def unreachable_table(self) -> pd.DataFrame:
        """Long table (kind, cell_id) of every unreachable populated cell."""
        parts = [pd.DataFrame({"kind": k, "cell_id": ids})
                 for k, ids in self.unreachable_cells.items() if len(ids)]
        if not parts:
            return pd.DataFrame({"kind": pd.Series(dtype=object),
                                 "cell_id": pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        return "\n".join(self.messages) if self.messages else "coverage: no problems found"


@dataclass
class CoverageResult:
    """Output of :func:`compute_coverage`.

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        The input cells (same rows, same order) plus, per kind, the columns of
        :data:`RESULT_COLUMNS`.
    report : CoverageReport
    standards : Standards
        The standards applied.
    used_network : dict
        Kind → True when coverage was decided on network travel time.
    costs : TravelCosts or None
        The travel costs the counts were read from, when given to :func:`compute_coverage`.
    """

    cells: gpd.GeoDataFrame
    report: CoverageReport
    standards: Standards
    used_network: dict[str, bool]
    costs: TravelCosts | None = None


# --------------------------------------------------------------------------- input checks


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
    for col in ("cell_id", AGE_COLUMNS[60]):
        if col not in cells:
            raise CoverageInputError(f"cells: missing column {col!r}")
    dup = cells["cell_id"].duplicated()
    if dup.any():
        raise CoverageInputError(f"cells: duplicated cell_id {cells.loc[dup, 'cell_id'].iloc[0]!r}")
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
    for col in ("id", "kind"):
        if col not in facilities:
            raise CoverageInputError(f"facilities: missing column {col!r}")
    dup = facilities["id"].duplicated()
    if dup.any():
        raise CoverageInputError(
            f"facilities: duplicated id {facilities.loc[dup, 'id'].iloc[0]!r}")
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


# --------------------------------------------------------------------------- array cores


def straight_line_nearest(
    cell_xy: np.ndarray,
    fac_xy: np.ndarray,
    radius_m: float,
    *,
    chunk_size: int = 1_000_000,
    tree: cKDTree | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest facility and count within a radius, for every cell, by KD-tree.

    Parameters
    ----------
    cell_xy : numpy.ndarray
        (n, 2) cell coordinates (metres).
    fac_xy : numpy.ndarray
        (m, 2) facility coordinates (metres), m >= 1.
    radius_m : float
        Service radius (metres), inclusive.
    chunk_size : int
        Cells per KD-tree query; bounds temporary memory.
    tree : cKDTree, optional
        Pre-built tree over ``fac_xy``.

    Returns
    -------
    nearest : numpy.ndarray of int64
        Row of the nearest facility in ``fac_xy``.
    dist_m : numpy.ndarray of float64
        Distance to it (metres).
    n_within : numpy.ndarray of int32
        Facilities at distance <= ``radius_m``.
    """
    cell_xy = np.asarray(cell_xy, dtype=float).reshape(-1, 2)
    tree = cKDTree(fac_xy) if tree is None else tree
    n = len(cell_xy)
    nearest = np.empty(n, dtype=np.int64)
    dist = np.empty(n)
    count = np.zeros(n, dtype=np.int32)
    # Threads cost more than they save on small inputs (county runs, optimiser loops).
    workers = -1 if n >= 100_000 else 1
    for s in range(0, n, chunk_size):
        part = cell_xy[s:s + chunk_size]
        d, i = tree.query(part, k=1, workers=workers)
        dist[s:s + chunk_size] = d
        nearest[s:s + chunk_size] = i
        # Only cells whose nearest facility is inside the radius can count any; in rural areas
        # that skips most of the ball queries.
        near = np.flatnonzero(d <= radius_m * (1 + 1e-12))
        if near.size:
            count[s + near] = tree.query_ball_point(part[near], radius_m, return_length=True,
                                                    workers=workers)
    return nearest, dist, count


def _straight_reach(cell_xy: np.ndarray, fac_xy: np.ndarray, radius_m: float,
                    chunk_size: int) -> sp.csr_array:
    n, m = len(cell_xy), len(fac_xy)
    if n == 0 or m == 0:
        return sp.csr_array((n, m))
    ftree = cKDTree(fac_xy)
    rows, cols, vals = [], [], []
    for s in range(0, n, chunk_size):
        part = cKDTree(cell_xy[s:s + chunk_size])
        rec = part.sparse_distance_matrix(ftree, radius_m, output_type="ndarray")
        rows.append(rec["i"].astype(np.int64) + s)
        cols.append(rec["j"].astype(np.int64))
        vals.append(rec["v"])
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    # Pairs are unique, so COO → CSR sums nothing; zero distances stay stored.
    return sp.csr_array((v, (r, c)), shape=(n, m))


def access_metres_per_minute(tg: TravelGraph, standards: Standards, travel: str) -> float:
    """Off-network speed (m/min) for joining points to ``tg`` and for direct off-road trips.

    The pace the graph declares (``walk_kph`` written by :mod:`elder_coverage.io.roads`) wins
    over ``standards.access`` so that the gap and the edges are walked alike; the graph's
    seasonal factor slows the gap as it slows the edges.
    """
    if tg.access_kmh is not None:
        speed = tg.access_kmh * 1000.0 / 60.0
    else:
        speed = standards.access.metres_per_minute(travel)
    return speed / tg.slowdown


def longest_minutes(standards: Standards, travel: str) -> float:
    """Largest time limit (minutes) among the kinds travelled by ``travel`` (0 if none)."""
    return max((k.minutes for k in standards.kinds.values() if k.travel == travel), default=0.0)


def attach_points(tg: TravelGraph, xy: np.ndarray, standards: Standards, travel: str, *,
                  role: str, horizon_min: float) -> Attachment:
    """Join points to the road graph of ``travel`` (see :meth:`TravelGraph.attach`).

    A point joins the road when its nearest usable edge lies within ``access.max_snap_m``, or
    within the off-network distance covered in ``horizon_min`` minutes: off-road travel counts
    as long as it can still fit within the standard.
    """
    speed = access_metres_per_minute(tg, standards, travel)
    reach = max(standards.access.max_snap_m, horizon_min * speed)
    return tg.attach(xy, speed_m_per_min=speed, max_gap_m=reach, role=role)


def direct_times(cell_xy: np.ndarray, fac_xy: np.ndarray, *, speed_m_per_min: float,
                 detour: float, limit_min: float, chunk_size: int = 1_000_000,
                 ) -> sp.csr_array:
    """Direct off-road trips cell → facility that fit within a time limit.

    Parameters
    ----------
    cell_xy, fac_xy : numpy.ndarray
        (n, 2) and (m, 2) coordinates (metres).
    speed_m_per_min : float
        Off-network speed (metres per minute).
    detour : float
        Detour factor applied to the straight-line distance.
    limit_min : float
        Largest trip kept (minutes), inclusive.
    chunk_size : int
        Cells per KD-tree block.

    Returns
    -------
    scipy.sparse.csr_array
        (n × m) minutes ``distance × detour / speed`` of every pair within the limit (zeros
        stored explicitly).
    """
    mat = _straight_reach(cell_xy, fac_xy, limit_min * speed_m_per_min / detour, chunk_size)
    mat.data = mat.data * (detour / speed_m_per_min)
    return mat


def _pairs(mat: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coo = sp.coo_array(mat)
    return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data


@dataclass
class _Trips:
    """Everything needed to time trips from cells to one kind's facilities on one mode."""

    tg: TravelGraph
    cells: Attachment
    facs: Attachment
    cell_xy: np.ndarray
    fac_xy: np.ndarray
    speed: float
    detour: float
    dist_m: np.ndarray  # straight-line metres from each cell to its nearest facility

    def offroad(self, limit: float, *, along_edges: float = np.inf
                ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Trips (rows, cols, minutes) that bypass the node-to-node search.

        Along a shared edge (kept up to ``along_edges`` minutes: they are road trips, so the
        nearest facility may use them beyond the standard) and directly off-road (up to
        ``limit``).
        """
        r1, c1, t1 = same_edge_times(self.tg, self.cells, self.facs)
        keep = t1 <= along_edges
        # Only cells with a facility within the direct radius can have a direct trip; the
        # KD-tree is then built over those few instead of every cell.
        near = np.flatnonzero(self.dist_m <= limit * self.speed / self.detour * (1 + 1e-9))
        r2, c2, t2 = _pairs(direct_times(self.cell_xy[near], self.fac_xy,
                                         speed_m_per_min=self.speed, detour=self.detour,
                                         limit_min=limit))
        return [r1[keep], near[r2]], [c1[keep], c2], [t1[keep], t2]

    def within(self, limit: float) -> sp.csr_array:
        """(n_cells × n_fac) fastest trip of every pair within ``limit`` minutes."""
        shape = (self.cells.n_points, self.facs.n_points)
        # Per entry pair, then one reduction per (cell, facility) with the off-road trips.
        net = sp.coo_array(reach_within(self.tg, self.facs.node, self.facs.offset,
                                        self.cells.node, self.cells.offset, limit))
        rows, cols, vals = self.offroad(limit, along_edges=limit)
        return min_pairs([self.cells.owner[net.row], *rows], [self.facs.owner[net.col], *cols],
                         [net.data, *vals], shape)


def network_nearest(trips: _Trips, minutes: float, *, counts: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Nearest facility by travel time, and how many lie within ``minutes``.

    One multi-source search from the facilities gives every cell its fastest trip through the
    network (over each of its entries); same-edge and direct off-road trips within
    ``minutes`` replace it when faster.

    Returns
    -------
    nearest : numpy.ndarray of int64
        Facility row (-1 when unreachable).
    time_min : numpy.ndarray
        Minutes cell → facility (inf when unreachable).
    n_within : numpy.ndarray of int32 or None
        Facilities within ``minutes`` (None unless ``counts``).
    """
    facs, cells = trips.facs, trips.cells
    time_at, src = nearest_source(trips.tg, facs.node, facs.offset, src_owner=facs.owner,
                                  n_src=facs.n_points)
    time, nearest = nearest_from_entries(time_at, src, cells)
    rows, cols, vals = trips.offroad(minutes)
    r = np.concatenate([np.flatnonzero(nearest >= 0), *rows])
    c = np.concatenate([nearest[nearest >= 0], *cols])
    t = np.concatenate([time[nearest >= 0], *vals])
    best = np.lexsort((t, r))
    r, c, t = r[best], c[best], t[best]
    first = np.ones(r.size, dtype=bool)
    first[1:] = r[1:] != r[:-1]
    time[r[first]] = t[first]
    nearest[r[first]] = c[first]
    if not counts:
        return nearest, time, None
    return nearest, time, np.diff(trips.within(minutes).indptr).astype(np.int32)


def _trips(tg: TravelGraph, cells: Attachment, cell_xy: np.ndarray, fac_xy: np.ndarray,
           std: Standards, travel: str, horizon_min: float,
           dist_m: np.ndarray | None = None) -> _Trips:
    facs = attach_points(tg, fac_xy, std, travel, role="destination", horizon_min=horizon_min)
    if dist_m is None:
        dist_m = cKDTree(fac_xy).query(cell_xy)[0] if len(fac_xy) else \
            np.full(len(cell_xy), np.inf)
    return _Trips(tg, cells, facs, cell_xy, fac_xy, access_metres_per_minute(tg, std, travel),
                  std.access.detour(travel), dist_m)


# --------------------------------------------------------------------------- public API


def _prepare(cells, facilities, graph, standards, kinds):
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


def compute_coverage(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    *,
    kinds: Iterable[str] | None = None,
    populated_only: bool = True,
    counts: bool = True,
    chunk_size: int = 1_000_000,
    costs: TravelCosts | None = None,
) -> CoverageResult:
    """Per-cell, per-kind coverage of demand cells by facilities.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cell-centre points in a projected CRS with ``cell_id`` and ``elders_60`` (persons);
        ``elders_65``, ``elders_80`` and area codes are carried through.
    facilities : geopandas.GeoDataFrame
        Facility points (same CRS) with ``id`` and ``kind``. Pass only the facilities that
        should count (e.g. filter ``status == "open"`` first).
    graph : networkx.MultiDiGraph or RoadNetwork, optional
        Projected road graph with ``walk_min`` / ``drive_min`` edge times (minutes). Without
        it, network standards fall back to their ``radius_m`` (reported in
        ``report.fallback_kinds``).
    standards : Standards or mapping, optional
        Service standards, or overrides merged on the packaged defaults.
    kinds : iterable of str, optional
        Kinds to evaluate (default: every kind with a standard).
    populated_only : bool
        Evaluate only cells with elders; the others get NA in the per-kind columns and
        ``covered`` False (they hold nobody, so totals are unaffected).
    counts : bool
        Compute ``<kind>_n_within`` (bounded searches on the network side). When False the
        column is NA and ``covered`` is decided from the nearest facility alone.
    chunk_size : int
        Cells per KD-tree query.
    costs : TravelCosts, optional
        Costs of the same cells to these facilities (:func:`elder_coverage.costs.travel_costs`):
        the counts within a network standard are read from them instead of being searched
        again.

    Returns
    -------
    CoverageResult
        ``.cells`` has, per kind: ``<kind>_nearest_id`` (facility ``id``, nearest under the
        kind's deciding measure), ``<kind>_dist_m`` (straight-line metres to the nearest
        facility as the crow flies), ``<kind>_time_min`` (network minutes to the nearest
        facility by road, cell → facility, including off-network gaps; NaN without a graph),
        ``<kind>_n_within`` (facilities within the standard), ``<kind>_covered`` (bool) and
        ``<kind>_reachable`` (nullable bool: a facility can be reached at all).

    Raises
    ------
    CoverageInputError
        Bad cells or facilities (naming the rows), CRS mismatch or geographic CRS.
    StandardsError
        A requested kind without standard, or invalid overrides.

    Warns
    -----
    CoverageWarning
        A kind with no facilities, unreachable cells or facilities.
    DisconnectedGraphWarning
        The usable road graph of a travel mode is split into several parts.
    """
    std, cell_xy, fac_xy, net, kinds = _prepare(cells, facilities, graph, standards, kinds)
    if costs is not None and not np.array_equal(costs.cell_ids, cells["cell_id"].to_numpy()):
        raise ValueError("costs: computed for other cells than these")
    report = CoverageReport(kinds=tuple(kinds))
    n = len(cells)
    evaluated = populated_mask(cells) if populated_only else np.ones(n, dtype=bool)
    ev = np.flatnonzero(evaluated)
    ev_xy = cell_xy[ev]
    cell_ids = cells["cell_id"].to_numpy()
    fac_kind = facilities["kind"].to_numpy()
    fac_ids = facilities["id"].to_numpy()
    new_columns: list[pd.DataFrame] = []
    attached_cells: dict[str, Attachment] = {}
    used_network: dict[str, bool] = {}

    for kind in kinds:
        ks: KindStandard = std[kind]
        rows = np.flatnonzero(fac_kind == kind)
        use_net = ks.uses_network(net is not None)
        used_network[kind] = use_net
        if ks.mode == "network" and net is None:
            report.fallback_kinds.append(kind)
        cols = _empty_columns(n)
        if rows.size == 0:
            report.missing_kinds.append(kind)
            msg = f"{kind}: no facilities of this kind; all {ev.size} evaluated cells uncovered"
            report.messages.append(msg)
            warnings.warn(msg, CoverageWarning, stacklevel=2)
            cols["n_within_known"][ev] = True
            cols["reachable_known"][ev] = True
            new_columns.append(_frame(cells.index, kind, cols))
            continue
        kxy = fac_xy[rows]
        near_s, dist_s, cnt_s = straight_line_nearest(ev_xy, kxy, ks.radius_m,
                                                      chunk_size=chunk_size)
        cols["dist_m"][ev] = dist_s
        if net is not None:
            # Straight-line kinds still get a travel time for reference; only kinds judged on
            # the network raise connectivity and joining problems.
            tg = net.mode(ks.travel)
            if use_net and ks.travel not in report.connectivity:
                report.connectivity[ks.travel] = warn_if_disconnected(tg)
                if not report.connectivity[ks.travel].connected:
                    report.messages.append(report.connectivity[ks.travel].message())
            horizon = longest_minutes(std, ks.travel)
            if ks.travel not in attached_cells:
                attached_cells[ks.travel] = attach_points(tg, ev_xy, std, ks.travel,
                                                          role="origin", horizon_min=horizon)
            trips = _trips(tg, attached_cells[ks.travel], ev_xy, kxy, std, ks.travel, horizon,
                           dist_s)
            lost = ~trips.facs.attached
            if use_net and lost.any():
                report.unsnapped_facilities[kind] = fac_ids[rows[lost]]
                msg = (f"{kind}: {int(lost.sum())} facilit(y/ies) too far from the "
                       f"{ks.travel} graph to join it are reached only directly off-road, "
                       f"e.g. id={fac_ids[rows[lost]][:3].tolist()}")
                report.messages.append(msg)
                warnings.warn(msg, CoverageWarning, stacklevel=2)
            known = None
            if costs is not None and kind in costs and use_net and counts:
                kc = costs.for_facilities(facilities, kind)
                if (kc.unit, kc.limit) != ("min", ks.minutes):
                    raise ValueError(f"costs: {kind} was costed in {kc.unit} up to {kc.limit}, "
                                     f"the standard is {ks.minutes} min")
                known = kc.counts()[ev]
            near_n, time_n, cnt_n = network_nearest(trips, ks.minutes,
                                                    counts=use_net and counts and known is None)
            if known is not None:
                cnt_n = known
            cols["time_min"][ev] = np.where(np.isfinite(time_n), time_n, np.nan)
        if use_net:
            reachable = near_n >= 0
            nearest = near_n
            covered = reachable & (time_n <= ks.minutes)
            cnt = cnt_n
            if cnt is not None:
                covered = cnt > 0
            bad = ~reachable
            if bad.any():
                report.unreachable_cells[kind] = cell_ids[ev[bad]]
                msg = (f"{kind}: {int(bad.sum())} populated cell(s) cannot reach any facility "
                       f"by {ks.travel}, neither by road nor directly off-road within the "
                       f"standard (too far from every road, or only on a part of the graph "
                       f"without such a facility), e.g. cell_id="
                       f"{cell_ids[ev[bad]][:3].tolist()}")
                report.messages.append(msg)
                warnings.warn(msg, CoverageWarning, stacklevel=2)
        else:
            reachable = np.ones(ev.size, dtype=bool)
            nearest = near_s
            covered = cnt_s > 0 if counts else dist_s <= ks.radius_m
            cnt = cnt_s if counts else None
        cols["covered"][ev] = covered
        cols["reachable"][ev] = reachable
        cols["reachable_known"][ev] = True
        if cnt is not None:
            cols["n_within"][ev] = cnt
            cols["n_within_known"][ev] = True
        found = nearest >= 0
        if found.all() and ev.size == n:
            cols["nearest_id"] = fac_ids[rows[nearest]]
        else:
            ids = np.full(n, None, dtype=object)
            ids[ev[found]] = fac_ids[rows[nearest[found]]]
            cols["nearest_id"] = ids
        new_columns.append(_frame(cells.index, kind, cols))

    # One concat instead of 30 column inserts; replaces result columns of an earlier run.
    extra = pd.concat(new_columns, axis=1) if new_columns else pd.DataFrame(index=cells.index)
    base = cells.drop(columns=[c for c in extra.columns if c in cells.columns])
    out = pd.concat([base, extra], axis=1)
    out = gpd.GeoDataFrame(out, geometry=cells.geometry.name, crs=cells.crs)
    return CoverageResult(cells=out, report=report, standards=std, used_network=used_network,
                          costs=costs)


def merge_coverage(base: CoverageResult, part: CoverageResult) -> CoverageResult:
    """``base`` with the kinds evaluated in ``part`` replaced by ``part``'s results.

    After a plan changes the facilities of some kinds (centres closed, sites added), only
    those kinds are evaluated again; the others keep their columns, counts and notes. The
    result equals evaluating every kind again on the changed facilities: per-kind columns in
    the same order and the notes in the order :func:`compute_coverage` writes them.

    Raises
    ------
    ValueError
        ``part`` was computed on other cells or with other standards.
    """
    if not (np.array_equal(base.cells["cell_id"].to_numpy(), part.cells["cell_id"].to_numpy())
            and base.standards == part.standards):
        raise ValueError("merge_coverage: the two results are for other cells or standards")
    changed = set(part.report.kinds)
    cols = [c for k in changed for c in (t.format(kind=k) for t in RESULT_COLUMNS)]
    cells = base.cells.copy()
    cells[cols] = part.cells[cols]
    b, p = base.report, part.report
    kinds = b.kinds + tuple(k for k in p.kinds if k not in b.kinds)
    pick = {k: (p if k in changed else b) for k in kinds}
    used = {k: (part if k in changed else base).used_network.get(k, False) for k in kinds}
    report = CoverageReport(
        kinds=kinds,
        missing_kinds=[k for k in kinds if k in pick[k].missing_kinds],
        fallback_kinds=[k for k in kinds if k in pick[k].fallback_kinds],
        unreachable_cells={k: pick[k].unreachable_cells[k] for k in kinds
                           if k in pick[k].unreachable_cells},
        unsnapped_facilities={k: pick[k].unsnapped_facilities[k] for k in kinds
                              if k in pick[k].unsnapped_facilities},
        connectivity={**b.connectivity, **p.connectivity},
    )
    std = base.standards
    for k in kinds:
        # As compute_coverage writes them: the graph's note before the first kind using it.
        if k not in pick[k].missing_kinds and used[k]:
            travel = std[k].travel
            conn = report.connectivity.get(travel)
            note = conn.message() if conn is not None and not conn.connected else None
            if note is not None and note not in report.messages:
                report.messages.append(note)
        report.messages.extend(m for m in pick[k].messages if m.startswith(f"{k}: "))
    return CoverageResult(cells=cells, report=report, standards=std, used_network=used)


def _empty_columns(n: int) -> dict[str, Any]:
    return {
        "nearest_id": np.full(n, None, dtype=object),
        "dist_m": np.full(n, np.nan),
        "time_min": np.full(n, np.nan),
        "n_within": np.zeros(n, dtype=np.int32),
        "n_within_known": np.zeros(n, dtype=bool),
        "covered": np.zeros(n, dtype=bool),
        "reachable": np.zeros(n, dtype=bool),
        "reachable_known": np.zeros(n, dtype=bool),
    }


def _frame(index: pd.Index, kind: str, cols: dict[str, Any]) -> pd.DataFrame:
    # Cells never evaluated get NA (pandas nullable dtypes) rather than a misleading 0/False.
    n_within = pd.arrays.IntegerArray(cols["n_within"], ~cols["n_within_known"])
    reachable = pd.arrays.BooleanArray(cols["reachable"], ~cols["reachable_known"])
    return pd.DataFrame(
        {
            f"{kind}_nearest_id": cols["nearest_id"],
            f"{kind}_dist_m": cols["dist_m"],
            f"{kind}_time_min": cols["time_min"],
            f"{kind}_n_within": n_within,
            f"{kind}_covered": cols["covered"],
            f"{kind}_reachable": reachable,
        },
        index=index,
    )


def kind_reach(
    cell_xy: np.ndarray,
    fac_xy: np.ndarray,
    ks: KindStandard,
    standards: Standards,
    net: RoadNetwork | None,
    *,
    limit: float | None = None,
    attached_cells: dict[tuple[str, float], Attachment] | None = None,
    chunk_size: int = 200_000,
) -> sp.csr_array:
    """Cells × facilities cost within one kind's standard, on checked coordinates.

    The routing behind :func:`reach_matrix` and :func:`elder_coverage.costs.travel_costs`:
    network minutes when the kind is judged on the road graph, else straight-line metres.
    ``attached_cells`` keeps the cells' joins to the road per (mode, horizon) so that the
    kinds of one call attach the cells once.
    """
    if not ks.uses_network(net is not None):
        return _straight_reach(cell_xy, fac_xy, ks.radius_m if limit is None else limit,
                               chunk_size)
    assert net is not None  # uses_network(False) is False
    tg = net.mode(ks.travel)
    warn_if_disconnected(tg)
    lim = ks.minutes if limit is None else limit
    horizon = max(longest_minutes(standards, ks.travel), lim)
    attached_cells = {} if attached_cells is None else attached_cells
    key = (ks.travel, horizon)
    if key not in attached_cells:
        attached_cells[key] = attach_points(tg, cell_xy, standards, ks.travel, role="origin",
                                            horizon_min=horizon)
    return _trips(tg, attached_cells[key], cell_xy, fac_xy, standards, ks.travel,
                  horizon).within(lim)


def reach_matrix(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    *,
    kind: str | None = None,
    limit: float | None = None,
    chunk_size: int = 200_000,
) -> sp.csr_array:
    """Sparse cells × facilities matrix of travel costs within the service standard.

    This is what the siting optimiser consumes: row ``i`` is ``cells.iloc[i]``, column ``j``
    is the ``j``-th facility (of ``kind`` when given, in table order).

    Parameters
    ----------
    cells, facilities, graph, standards
        As in :func:`compute_coverage` (every cell is a row, populated or not).
    kind : str, optional
        Keep only facilities of this kind.
    limit : float, optional
        Replace the standard's limit (same unit as the cost, see Returns), e.g. a wider
        catchment for an E2SFCA or p-median cost matrix.
    chunk_size : int
        Cells per KD-tree block on the straight-line side.

    Returns
    -------
    scipy.sparse.csr_array
        (n_cells × n_facilities) cost for every pair within the limit: minutes cell → facility
        (including off-network gaps) when the kinds' standards are network-based and a graph
        is given, otherwise straight-line metres. Pairs not stored are unreachable within the
        limit. A cost of zero is stored explicitly, so use the sparsity pattern (``indptr``,
        ``indices``) for membership.

    Raises
    ------
    CoverageInputError
        Bad inputs, or facilities of kinds measured in different units (pass ``kind=``).
    """
    std, cell_xy, fac_xy, net, _ = _prepare(cells, facilities, graph, standards, None)
    fac_kind = facilities["kind"].to_numpy()
    cols = np.arange(len(facilities)) if kind is None else np.flatnonzero(fac_kind == kind)
    if kind is not None:
        std[kind]  # noqa: B018 - raises StandardsError for a kind without standard
    kinds_here = list(dict.fromkeys(fac_kind[cols]))
    bases = {std[k].uses_network(net is not None) for k in kinds_here}
    if len(bases) > 1:
        raise CoverageInputError(
            f"reach_matrix: kinds {kinds_here} mix network minutes and straight-line metres; "
            "pass kind= to build one matrix per kind"
        )
    n, m = len(cells), cols.size
    if m == 0:
        return sp.csr_array((n, 0))
    blocks = []
    attached_cells: dict[tuple[str, float], Attachment] = {}
    for k in kinds_here:
        sub = np.flatnonzero(fac_kind[cols] == k)
        mat = kind_reach(cell_xy, fac_xy[cols[sub]], std[k], std, net, limit=limit,
                         attached_cells=attached_cells, chunk_size=chunk_size)
        coo = sp.coo_array(mat)
        blocks.append((coo.row, sub[coo.col], coo.data))
    r = np.concatenate([b[0] for b in blocks]).astype(np.int64)
    c = np.concatenate([b[1] for b in blocks]).astype(np.int64)
    v = np.concatenate([b[2] for b in blocks])
    # Kinds own disjoint columns, so pairs are unique: COO → CSR sums nothing, keeps zeros.
    return sp.csr_array((v, (r, c)), shape=(n, m))
