"""Travel costs from demand cells to facilities, computed once and read by every stage.

One sparse cells × facilities matrix per facility kind holds the cost of every pair within the
kind's service standard: network minutes (cell → facility, including the off-road legs, as
:func:`kind_reach` routes them) when the kind is judged on the road graph, straight-line
metres otherwise. Coverage counts, elders within reach of each facility,
the E2SFCA access index and the planning steps all read the same matrices instead of routing
the same trips again.

A cost depends only on the cell and the facility, so a matrix for a changed facility set is
the old matrix's columns for the facilities that stayed plus columns routed for the new ones
(:func:`travel_costs` with ``reuse=``).

The routing lives here too: joining points to the road (:func:`attach_points`, at most the
standards' ``access.max_snap_m`` off the road), bounded and nearest searches over the road
graph (:class:`elder_coverage.travel.TravelGraph`), trips along a shared edge and directly
off-road (:func:`direct_times`), straight-line KD-tree searches
(:func:`straight_line_nearest`), the cells × facilities matrix of one call
(:func:`reach_matrix`) and point-to-point road distances for close/merge
(:func:`road_distance_m`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from elder_coverage._inputs import CoverageInputError, prepare_inputs
from elder_coverage.standards import KindStandard, Standards, resolve_standards
from elder_coverage.travel import (
    Attachment,
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

__all__ = ["KindCosts", "TravelCosts", "attach_points", "direct_times", "kind_reach",
           "network_nearest", "reach_matrix", "road_distance_m", "straight_distance_m",
           "straight_line_nearest", "travel_costs"]


@dataclass(frozen=True)
class KindCosts:
    """Costs from every cell to the facilities of one kind, within the kind's standard.

    Attributes
    ----------
    kind : str
        Facility kind.
    facility_ids : numpy.ndarray
        ``id`` of the facility in each column, in the order of the facility table.
    matrix : scipy.sparse.csr_array
        (n_cells × n_facilities) cost of each pair within ``limit``; pairs not stored are
        beyond it. A cost of zero is stored explicitly (a facility in the cell), so
        membership is the sparsity pattern, not the values.
    limit : float
        The standard: minutes when ``unit`` is ``"min"``, metres when ``"m"`` (inclusive).
    unit : {"min", "m"}
        Network minutes or straight-line metres.
    """

    kind: str
    facility_ids: np.ndarray
    matrix: sp.csr_array
    limit: float
    unit: str

    @property
    def pattern(self) -> sp.csr_array:
        """The matrix with 1.0 on every stored pair (who is within the standard of whom)."""
        m = self.matrix
        return sp.csr_array((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)

    def counts(self) -> np.ndarray:
        """Facilities within the standard of each cell (int32)."""
        return np.diff(self.matrix.indptr).astype(np.int32)

    def within_reach(self, weights: np.ndarray) -> np.ndarray:
        """Sum of ``weights`` (e.g. elders, persons) over the cells within each facility's
        standard; a cell within reach of two facilities counts for both."""
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.matrix.shape[0],):
            raise ValueError(f"weights: expected {self.matrix.shape[0]} values, got {w.shape}")
        return self.pattern.T @ w

    def columns(self, ids: Iterable[Any]) -> KindCosts:
        """The costs of the facilities ``ids`` (a subset, in the order given)."""
        ids = np.asarray(list(ids), dtype=object)
        pos = {v: j for j, v in enumerate(self.facility_ids.tolist())}
        missing = [v for v in ids.tolist() if v not in pos]
        if missing:
            raise KeyError(f"{self.kind}: facilities {missing[:5]} have no costs here")
        cols = np.array([pos[v] for v in ids.tolist()], dtype=np.int64)
        return KindCosts(self.kind, ids, sp.csr_array(self.matrix[:, cols]), self.limit,
                         self.unit)


@dataclass(frozen=True)
class TravelCosts(Mapping[str, KindCosts]):
    """Per-kind :class:`KindCosts` for one set of cells (a read-only mapping kind → costs).

    Attributes
    ----------
    cell_ids : numpy.ndarray
        ``cell_id`` of each matrix row.
    by_kind : dict
        Kind → :class:`KindCosts`.
    """

    cell_ids: np.ndarray
    by_kind: Mapping[str, KindCosts] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> KindCosts:
        return self.by_kind[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_kind)

    def __len__(self) -> int:
        return len(self.by_kind)

    def rows(self, index: np.ndarray) -> TravelCosts:
        """The costs of a subset of the cells (integer positions or a boolean mask)."""
        index = np.asarray(index)
        return TravelCosts(self.cell_ids[index], {
            k: dataclasses.replace(v, matrix=sp.csr_array(v.matrix[index]))
            for k, v in self.by_kind.items()})

    def for_facilities(self, facilities: gpd.GeoDataFrame, kind: str) -> KindCosts:
        """The costs of ``kind`` with columns in the order of ``facilities``' rows of that kind.

        Raises
        ------
        KeyError
            A facility of that kind whose costs were not computed.
        """
        ids = facilities.loc[facilities["kind"].to_numpy() == kind, "id"].to_numpy()
        here = self.by_kind[kind]
        if np.array_equal(here.facility_ids, ids):
            return here
        return here.columns(ids)


def travel_costs(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    *,
    kinds: Iterable[str] | None = None,
    reuse: TravelCosts | None = None,
) -> TravelCosts:
    """Costs from every cell to every facility of each kind, within the kind's standard.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Demand cell points (projected CRS, ``cell_id``); every cell is a row.
    facilities : geopandas.GeoDataFrame
        Facility points (same CRS) with ``id`` and ``kind``; pass only those that count
        (e.g. the open ones).
    graph : networkx.MultiDiGraph or RoadNetwork, optional
        Road graph; kinds with a network standard are costed in minutes on it.
    standards : Standards or mapping, optional
        Service standards (overrides merged on the packaged defaults).
    kinds : iterable of str, optional
        Kinds to cost (default: every kind with a standard).
    reuse : TravelCosts, optional
        Costs of the same cells to an earlier facility set: columns of facilities (by ``id``)
        that are in both are taken from it, and only the other facilities are routed.

    Returns
    -------
    TravelCosts
        One :class:`KindCosts` per kind, columns in the order of ``facilities``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> crs = "EPSG:32652"
    >>> cells = gpd.GeoDataFrame({"cell_id": ["a", "b"], "elders_60": [10, 5]},
    ...                          geometry=[Point(0, 0), Point(3000, 0)], crs=crs)
    >>> halls = gpd.GeoDataFrame({"id": ["h1"], "kind": ["dining_hall"]},
    ...                          geometry=[Point(400, 0)], crs=crs)
    >>> costs = travel_costs(cells, halls, kinds=["dining_hall"])
    >>> costs["dining_hall"].matrix.toarray()  # metres within the 1 km standard
    array([[400.],
           [  0.]])
    >>> costs["dining_hall"].counts().tolist(), costs["dining_hall"].within_reach([10, 5])
    ([1, 0], array([10.]))
    """
    # Inputs checked once; the cells join each road mode once for all kinds.
    std, cell_xy, fac_xy, net, kinds = prepare_inputs(cells, facilities, graph, standards, kinds)
    attached: dict = {}
    cell_ids = cells["cell_id"].to_numpy()
    if reuse is not None and not np.array_equal(reuse.cell_ids, cell_ids):
        reuse = None  # other cells: nothing to share
    fac_kind = facilities["kind"].to_numpy()
    out: dict[str, KindCosts] = {}
    for kind in kinds:
        ks = std[kind]
        use_net = ks.uses_network(net is not None)
        unit, limit = ("min", ks.minutes) if use_net else ("m", ks.radius_m)
        rows = np.flatnonzero(fac_kind == kind)
        ids = facilities["id"].to_numpy()[rows]
        old = reuse.by_kind.get(kind) if reuse is not None else None
        if old is not None and (old.unit, old.limit) != (unit, limit):
            old = None
        known = set(old.facility_ids.tolist()) if old is not None else set()
        if len(set(ids.tolist())) < ids.size:
            known = set()  # duplicate ids: columns cannot be matched by id
        fresh = np.array([v not in known for v in ids.tolist()], dtype=bool)
        routed = kind_reach(cell_xy, fac_xy[rows[fresh]], ks, std, net,
                            attached_cells=attached) if fresh.any() else None
        if old is None or fresh.all():
            matrix = routed if routed is not None else sp.csr_array((len(cells), 0))
        else:
            kept = old.columns(ids[~fresh]).matrix
            # Columns back in the facility table's order: kept ones, then the routed ones.
            order = np.concatenate([np.flatnonzero(~fresh), np.flatnonzero(fresh)])
            both = sp.hstack([kept, routed], format="csc") if routed is not None else kept
            inverse = np.empty_like(order)
            inverse[order] = np.arange(order.size)
            matrix = sp.csr_array(sp.csc_array(both)[:, inverse])
        matrix = sp.csr_array(matrix)
        matrix.sort_indices()
        out[kind] = KindCosts(kind, ids, matrix, float(limit), unit)
    return TravelCosts(cell_ids, out)


def road_distance_m(graph: Any, from_xy: np.ndarray, to_xy: np.ndarray, *,
                    max_snap_m: float | None = None) -> np.ndarray:
    """Shortest road distance (m) from each ``from`` point to each ``to`` point.

    Points join the road on their nearest usable edge, as in the coverage engine
    (:meth:`elder_coverage.travel.TravelGraph.attach`: also on the main network when that
    edge is on a fragment), and the straight gaps are added; pairs with no road path, or a
    point farther than ``max_snap_m`` metres from every edge (default the standards'
    ``access.max_snap_m``, as for cells and facilities), are ``inf``. One Dijkstra per entry
    node of the ``from`` points, on the edge lengths.
    """
    if max_snap_m is None:
        max_snap_m = resolve_standards(None).access.max_snap_m
    net = as_network(graph)
    tg = net.mode("length") if isinstance(net, RoadNetwork) and net.G is not None else None
    if tg is None:
        raise ValueError("road distances need a road graph with edge lengths")
    # Speed 1 "metre per minute" on a graph weighted in metres: every time is in metres.
    fa = tg.attach(np.asarray(from_xy, float), speed_m_per_min=1.0, max_gap_m=max_snap_m,
                   role="origin")
    ta = tg.attach(np.asarray(to_xy, float), speed_m_per_min=1.0, max_gap_m=max_snap_m,
                   role="destination")
    out = np.full((fa.n_points, ta.n_points), np.inf)
    if fa.node.size and ta.node.size:
        starts, row = np.unique(fa.node, return_inverse=True)
        d = dijkstra(tg.csgraph, directed=True, indices=starts)
        t = fa.offset[:, None] + d[row][:, ta.node] + ta.offset[None, :]
        np.minimum.at(out, (np.repeat(fa.owner, ta.node.size), np.tile(ta.owner, fa.node.size)),
                      t.ravel())
    r, c, v = same_edge_times(tg, fa, ta)
    np.minimum.at(out, (r, c), v)
    return out


def straight_distance_m(from_xy: np.ndarray, to_xy: np.ndarray) -> np.ndarray:
    """Straight-line distance (m) from each ``from`` point to each ``to`` point (dense)."""
    diff = np.asarray(from_xy, float)[:, None, :] - np.asarray(to_xy, float)[None, :, :]
    return np.hypot(diff[..., 0], diff[..., 1])


# --------------------------------------------------------------------------- routing


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
    # Straight-line metres from each cell to its nearest facility; may be inf beyond the
    # horizon's direct off-road reach (all that offroad() reads, for limits up to it).
    dist_m: np.ndarray

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
    speed, detour = access_metres_per_minute(tg, std, travel), std.access.detour(travel)
    if dist_m is None:
        # Only cells with a facility within a direct off-road trip of the horizon need the
        # distance (_Trips.offroad); the rest are inf, which a bounded search finds fast.
        bound = horizon_min * speed / detour * (1 + 1e-6) + 1e-6
        dist_m = cKDTree(fac_xy).query(cell_xy, distance_upper_bound=bound, workers=-1)[0] \
            if len(fac_xy) else np.full(len(cell_xy), np.inf)
    return _Trips(tg, cells, facs, cell_xy, fac_xy, speed, detour, dist_m)


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
    std, cell_xy, fac_xy, net, _ = prepare_inputs(cells, facilities, graph, standards, None)
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
