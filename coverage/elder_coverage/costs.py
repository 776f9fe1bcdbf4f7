"""Travel costs from demand cells to facilities, computed once and read by every stage.

One sparse cells × facilities matrix per facility kind holds the cost of every pair within the
kind's service standard: network minutes (cell → facility, including the off-road legs, as
:func:`elder_coverage.engine.kind_reach` routes them) when the kind is judged on the road
graph, straight-line metres otherwise. Coverage counts, elders within reach of each facility,
the E2SFCA access index and the planning steps all read the same matrices instead of routing
the same trips again.

A cost depends only on the cell and the facility, so a matrix for a changed facility set is
the old matrix's columns for the facilities that stayed plus columns routed for the new ones
(:func:`travel_costs` with ``reuse=``).
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

from elder_coverage.engine import _prepare, kind_reach
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import RoadNetwork, TravelGraph, as_network, same_edge_times

__all__ = ["KindCosts", "TravelCosts", "road_distance_m", "straight_distance_m", "travel_costs"]


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
    std, cell_xy, fac_xy, net, kinds = _prepare(cells, facilities, graph, standards, kinds)
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
