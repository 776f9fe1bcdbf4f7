"""Road graph → scipy CSR travel-time matrix, joining points to edges, multi-source searches.

The road graph is an osmnx-style projected MultiDiGraph whose edges carry travel times in
minutes (``walk_min``, ``drive_min``). Everything here works on one travel mode at a time:
:func:`travel_graph` turns the networkx graph into a :class:`TravelGraph` (CSR matrix of
minutes, node coordinates in metres, spatial indexes over the usable nodes and edges), and the
searches run on it with :mod:`scipy.sparse.csgraph`.

Direction matters: edges are directed (one-way streets), and an elder travels FROM a cell TO a
facility. Searches therefore start at the facilities and run over the transposed graph, so the
distance found at a node is the time from that node to the facility.

Points join the network on their nearest usable *edge*, not node (osmnx ``nearest_edges``,
pandana-style interpolation): the straight-line gap to the projection point is travelled at
the mode's off-network speed, and from there the trip runs along the edge to either end, at
the edge's own time in proportion to the distance (only in the directions the edge allows).
A point whose nearest edge lies on a small fragment of road also enters the largest connected
part of the graph at its nearest edge there, so that it is never trapped on the fragment;
the searches take the fastest of these entries (:meth:`TravelGraph.attach`). Two points on
the same edge also travel between each other along it (:func:`same_edge_times`).
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from elder_coverage._errors import DataError
from elder_coverage.schema import EDGE_DRIVE_MINUTES, EDGE_WALK_MINUTES

#: Edge attribute holding the travel time (minutes) of each travel mode.
TRAVEL_WEIGHTS: dict[str, str] = {"walk": EDGE_WALK_MINUTES, "drive": EDGE_DRIVE_MINUTES}

# Dense search output is (sources × nodes) float64; keep each block near 128 MB.
_BLOCK_ENTRIES = 16_000_000


#: Point sets whose nearest-edge join a :class:`TravelGraph` keeps (least recently used out).
JOIN_CACHE_SIZE = 12


class GraphError(DataError):
    """The road graph cannot be used: missing coordinates, bad weights or CRS."""


class DisconnectedGraphWarning(UserWarning):
    """The usable part of the road graph falls into several disconnected pieces (or none)."""


@dataclass(frozen=True)
class ConnectivityReport:
    """Weakly connected pieces of the usable graph in one travel mode.

    Attributes
    ----------
    travel : str
        Travel mode (or weight name) the report is about.
    n_usable_nodes : int
        Nodes with at least one usable edge in this mode.
    n_components : int
        Number of weakly connected pieces among the usable nodes.
    largest_size : int
        Nodes in the largest piece.
    """

    travel: str
    n_usable_nodes: int
    n_components: int
    largest_size: int

    @property
    def connected(self) -> bool:
        return self.n_components == 1

    def message(self) -> str:
        if self.n_usable_nodes == 0:
            return (f"{self.travel} graph has no usable edge (no finite travel time in this "
                    "mode): every point is unreachable by it")
        if self.connected:
            return f"{self.travel} graph: {self.n_usable_nodes} usable nodes, connected"
        outside = self.n_usable_nodes - self.largest_size
        return (
            f"{self.travel} graph has {self.n_components} disconnected parts: the largest holds "
            f"{self.largest_size} of {self.n_usable_nodes} usable nodes, {outside} nodes lie in "
            "other parts (points snapped there reach only facilities in the same part)"
        )


@dataclass(frozen=True)
class EdgeTable:
    """The usable road edges of one mode as undirected segments, for joining points to them.

    Attributes
    ----------
    a, b : numpy.ndarray of int64
        End nodes of each segment (``a < b``).
    w_ab, w_ba : numpy.ndarray of float64
        Travel time (minutes) of the fastest edge a → b and b → a; inf when that direction is
        not allowed (one-way street).
    main : numpy.ndarray of bool
        Segment lies in the largest weakly connected part of the usable graph.
    lines : numpy.ndarray of shapely.LineString
        Straight segment between the end nodes (metres).
    """

    a: np.ndarray
    b: np.ndarray
    w_ab: np.ndarray
    w_ba: np.ndarray
    main: np.ndarray
    lines: np.ndarray


@dataclass(frozen=True)
class Attachment:
    """How a set of points joins a :class:`TravelGraph`.

    A point has up to four *entries* (graph node + minutes): both ends of its nearest usable
    edge and, when that edge is on a fragment, both ends of its nearest edge on the main part.
    It also records each (point, edge) *join* so that two points on one edge can travel along
    it directly (:func:`same_edge_times`).

    Attributes
    ----------
    n_points : int
        Number of points attached (rows of the input).
    role : {"origin", "destination"}
        Origins leave the point for the node (cells); destinations arrive from the node at the
        point (facilities). Offsets follow the edge's direction accordingly.
    owner, node, offset : numpy.ndarray
        Per entry, sorted by ``owner``: point row, graph node, and minutes between point and
        node (off-network gap plus the part of the edge travelled).
    join_owner, join_edge, join_frac, join_gap : numpy.ndarray
        Per join: point row, segment row in :class:`EdgeTable`, position of the projection along
        the segment from ``a`` (0..1) and off-network gap (minutes).
    """

    n_points: int
    role: str
    owner: np.ndarray
    node: np.ndarray
    offset: np.ndarray
    join_owner: np.ndarray
    join_edge: np.ndarray
    join_frac: np.ndarray
    join_gap: np.ndarray

    @property
    def attached(self) -> np.ndarray:
        """(n_points,) True for points with at least one usable entry."""
        out = np.zeros(self.n_points, dtype=bool)
        out[self.owner] = True
        return out


@dataclass
class TravelGraph:
    """A road graph prepared for one travel mode.

    Attributes
    ----------
    csgraph : scipy.sparse.csr_array
        (n_nodes × n_nodes) travel time in minutes of edge u → v (fastest parallel edge).
        Explicit zeros are real zero-minute edges.
    xy : numpy.ndarray
        (n_nodes, 2) node coordinates in metres.
    node_ids : numpy.ndarray
        Original node keys, row order of ``csgraph``.
    crs : pyproj.CRS or None
        Projected CRS of the coordinates.
    travel : str
        Travel mode ("walk", "drive") or the weight name used.
    access_kmh : float or None
        Off-network speed the graph itself declares (its ``walk_kph`` for walking), so the gap
        to the road is walked at the same pace as the edges; None = not declared.
    slowdown : float
        Seasonal time multiplier the edge times carry (graph ``walk_factor`` /
        ``drive_factor``, 1 when absent); applied to the off-network gap as well.
    """

    csgraph: sp.csr_array
    xy: np.ndarray
    node_ids: np.ndarray
    crs: pyproj.CRS | None
    travel: str
    access_kmh: float | None = None
    slowdown: float = 1.0
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        return int(self.csgraph.shape[0])

    @property
    def transposed(self) -> sp.csr_array:
        """The graph with every edge reversed (searches from facilities run on this)."""
        if "T" not in self._cache:
            self._cache["T"] = sp.csr_array(self.csgraph.T)
        return self._cache["T"]

    @property
    def usable(self) -> np.ndarray:
        """Indices of nodes with at least one usable edge (in or out) in this mode."""
        if "usable" not in self._cache:
            g = self.csgraph
            deg = np.diff(g.indptr) + np.bincount(g.indices, minlength=self.n_nodes)
            self._cache["usable"] = np.flatnonzero(deg > 0)
        return self._cache["usable"]

    @property
    def tree(self) -> cKDTree:
        """KD-tree over the usable nodes' coordinates."""
        if "tree" not in self._cache:
            self._cache["tree"] = cKDTree(self.xy[self.usable])
        return self._cache["tree"]

    @property
    def max_speed(self) -> float:
        """Fastest straight-line progress over any edge (metres per minute); inf if unbounded.

        Bounds how far (as the crow flies) a time-limited search can get, which lets bounded
        searches run on a small subgraph. Computed from node coordinates, not ``length``, so it
        holds even when an edge's stored length is shorter than the gap between its ends.
        """
        if "vmax" not in self._cache:
            g = sp.coo_array(self.csgraph)
            gap = np.hypot(*(self.xy[g.row] - self.xy[g.col]).T)
            with np.errstate(divide="ignore", invalid="ignore"):
                speed = np.where(gap > 0, gap / g.data, 0.0)
            self._cache["vmax"] = float(speed.max()) if speed.size else 0.0
        return self._cache["vmax"]

    def connectivity(self) -> ConnectivityReport:
        """Count the weakly connected pieces among usable nodes."""
        if "conn" not in self._cache:
            use = self.usable
            if use.size == 0:
                rep = ConnectivityReport(self.travel, 0, 0, 0)
            else:
                n, labels = connected_components(self.csgraph, directed=True,
                                                 connection="weak")
                sizes = np.bincount(labels[use])
                sizes = sizes[sizes > 0]
                rep = ConnectivityReport(self.travel, int(use.size), int(sizes.size),
                                         int(sizes.max()))
            self._cache["conn"] = rep
        return self._cache["conn"]

    def snap(self, xy: np.ndarray, max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Join points to their nearest usable node.

        Parameters
        ----------
        xy : numpy.ndarray
            (n, 2) point coordinates in metres, same CRS as the graph.
        max_snap_m : float
            Points farther than this (metres) from every usable node are not snapped.

        Returns
        -------
        node : numpy.ndarray of int64
            Graph node index per point, -1 when not snapped.
        gap_m : numpy.ndarray of float64
            Straight-line distance to that node (metres); inf when not snapped.
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        node = np.full(len(xy), -1, dtype=np.int64)
        gap = np.full(len(xy), np.inf)
        if len(xy) == 0 or self.usable.size == 0:
            return node, gap
        d, i = self.tree.query(xy, k=1, distance_upper_bound=max_snap_m, workers=-1)
        ok = np.isfinite(d)
        node[ok] = self.usable[i[ok]]
        gap[ok] = d[ok]
        return node, gap


    @property
    def edges(self) -> EdgeTable:
        """Usable edges as undirected segments with the time of each direction."""
        if "edges" not in self._cache:
            g = sp.coo_array(self.csgraph)
            u, v, w = g.row.astype(np.int64), g.col.astype(np.int64), g.data.astype(float)
            keep = u != v
            u, v, w = u[keep], v[keep], w[keep]
            lo, hi = np.minimum(u, v), np.maximum(u, v)
            key = lo * self.n_nodes + hi
            uniq, inv = np.unique(key, return_inverse=True)
            a, b = uniq // self.n_nodes, uniq % self.n_nodes
            w_ab = np.full(uniq.size, np.inf)
            w_ba = np.full(uniq.size, np.inf)
            fwd = u < v
            np.minimum.at(w_ab, inv[fwd], w[fwd])
            np.minimum.at(w_ba, inv[~fwd], w[~fwd])
            _n, labels = connected_components(self.csgraph, directed=True, connection="weak")
            if a.size:
                largest = np.argmax(np.bincount(labels[self.usable]))
                main = labels[a] == largest
            else:
                main = np.zeros(0, dtype=bool)
            lines = shapely.linestrings(np.stack([self.xy[a], self.xy[b]], axis=1)) \
                if a.size else np.empty(0, dtype=object)
            self._cache["edges"] = EdgeTable(a, b, w_ab, w_ba, main, lines)
        return self._cache["edges"]

    @property
    def _edge_fingerprint(self) -> bytes:
        """Digest of the usable edges' ends and main-part flags (not of their times)."""
        if "edge_key" not in self._cache:
            e = self.edges
            h = hashlib.blake2b(digest_size=16)
            for arr in (e.a, e.b, e.main, self.xy):
                h.update(np.ascontiguousarray(arr).tobytes())
            self._cache["edge_key"] = h.digest()
        return self._cache["edge_key"]

    def _edge_tree(self, main_only: bool) -> tuple[shapely.STRtree, np.ndarray]:
        key = "main_tree" if main_only else "edge_tree"
        if key not in self._cache:
            e = self.edges
            rows = np.flatnonzero(e.main) if main_only else np.arange(e.a.size)
            self._cache[key] = (shapely.STRtree(e.lines[rows]), rows)
        return self._cache[key]

    def _nearest_edges(self, xy: np.ndarray, max_gap_m: float, main_only: bool
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tree, rows = self._edge_tree(main_only)
        if rows.size == 0 or len(xy) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        # A run joins the same cells to the same graph for coverage, per-facility counts,
        # access and indicators; the nearest-edge query is most of that cost, so its answer
        # is kept per point set (by content) for the last few sets.
        # Keyed by the edge set too: modes of one network with the same usable edges (walk and
        # drive on most rural graphs) share the answer through RoadNetwork's joins.
        key = (self._edge_fingerprint, main_only,
               hashlib.blake2b(np.ascontiguousarray(xy).tobytes(), digest_size=16).digest(),
               len(xy))
        joins = self._cache.setdefault("joins", OrderedDict())
        if key in joins:
            joins.move_to_end(key)
            i, k, d = joins[key]
        else:
            # Filtering afterwards: a large max_distance makes query_nearest several times
            # slower, and the unfiltered answer serves every gap limit. Points queried in
            # Z-order walk the tree's nodes in turn: 2-3x faster on a province's cells.
            order = np.argsort(_morton(xy, 1000.0), kind="stable")
            (i, k), d = tree.query_nearest(shapely.points(xy[order]), return_distance=True,
                                           all_matches=False)
            i = order[i]
            back = np.argsort(i, kind="stable")
            i, k, d = i[back], k[back], d[back]
            i.flags.writeable = k.flags.writeable = d.flags.writeable = False
            joins[key] = (i, k, d)
            while len(joins) > JOIN_CACHE_SIZE:
                joins.popitem(last=False)
        ok = d <= max_gap_m
        return i[ok].astype(np.int64), rows[k[ok]], d[ok]

    def attach(self, xy: np.ndarray, *, speed_m_per_min: float, max_gap_m: float,
               role: str) -> Attachment:
        """Join points to their nearest usable edge (and to the main part of the graph).

        Parameters
        ----------
        xy : numpy.ndarray
            (n, 2) point coordinates in metres, same CRS as the graph.
        speed_m_per_min : float
            Off-network speed over the straight gap to the edge (metres per minute; pass 1.0
            on a graph weighted in metres to get metres).
        max_gap_m : float
            Points farther than this (metres) from every usable edge get no entry.
        role : {"origin", "destination"}
            ``origin``: trips start at the point (cells); ``destination``: trips end there
            (facilities).

        Returns
        -------
        Attachment
        """
        if role not in ("origin", "destination"):
            raise ValueError(f"role must be 'origin' or 'destination', got {role!r}")
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        e = self.edges
        i, k, d = self._nearest_edges(xy, max_gap_m, main_only=False)
        # A point whose nearest edge is on a fragment also enters the main part of the graph.
        off_main = np.flatnonzero(~e.main[k])
        if off_main.size and e.main.any():
            i2, k2, d2 = self._nearest_edges(xy[i[off_main]], max_gap_m, main_only=True)
            i = np.concatenate([i, i[off_main][i2]])
            k = np.concatenate([k, k2])
            d = np.concatenate([d, d2])
        # Position of the projection along a → b (0..1); a zero-length segment gives 0.
        pa, ab = self.xy[e.a[k]], self.xy[e.b[k]] - self.xy[e.a[k]]
        den = np.einsum("ij,ij->i", ab, ab)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.einsum("ij,ij->i", xy[i] - pa, ab) / den
        frac = np.nan_to_num(np.clip(frac, 0.0, 1.0))
        gap = d / speed_m_per_min
        # Part of the edge between the projection and each end, in the direction travelled.
        if role == "origin":   # point → a runs b → a; point → b runs a → b
            to_a, to_b = _part(frac, e.w_ba[k]), _part(1.0 - frac, e.w_ab[k])
        else:                  # a → point runs a → b; b → point runs b → a
            to_a, to_b = _part(frac, e.w_ab[k]), _part(1.0 - frac, e.w_ba[k])
        owner = np.concatenate([i, i])
        node = np.concatenate([e.a[k], e.b[k]])
        offset = np.concatenate([gap + to_a, gap + to_b])
        # Entries sorted by point, so that per-point minima are one reduceat.
        ok = np.flatnonzero(np.isfinite(offset))
        ok = ok[np.argsort(owner[ok], kind="stable")]
        return Attachment(len(xy), role, owner[ok], node[ok], offset[ok], i, k, frac, gap)


def _part(frac: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """``frac`` of an edge's time; 0 when no part is travelled, even on a forbidden direction."""
    with np.errstate(invalid="ignore"):
        return np.where(frac > 0, frac * minutes, 0.0)


def same_edge_times(tg: TravelGraph, orig: Attachment, dest: Attachment
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trips between an origin and a destination joined to the same edge, along that edge.

    Entering at one end node and leaving at the other would miss these trips (and overstate
    them for two points close together on a long edge).

    Returns
    -------
    origin_row, destination_row, minutes : numpy.ndarray
        One element per (origin, destination) pair on a common edge that the edge's direction
        allows: gap + part of the edge between the projections + gap.
    """
    if orig.join_edge.size == 0 or dest.join_edge.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    order = np.argsort(dest.join_edge, kind="stable")
    de = dest.join_edge[order]
    lo = np.searchsorted(de, orig.join_edge, side="left")
    hi = np.searchsorted(de, orig.join_edge, side="right")
    n = hi - lo
    oi = np.repeat(np.arange(orig.join_edge.size), n)
    di = order[np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))]
    e = tg.edges
    edge = orig.join_edge[oi]
    fo, fd = orig.join_frac[oi], dest.join_frac[di]
    along = np.where(fd >= fo, _part(fd - fo, e.w_ab[edge]), _part(fo - fd, e.w_ba[edge]))
    t = orig.join_gap[oi] + along + dest.join_gap[di]
    ok = np.isfinite(t)
    return orig.join_owner[oi][ok], dest.join_owner[di][ok], t[ok]


def min_pairs(rows: Sequence[np.ndarray], cols: Sequence[np.ndarray],
              vals: Sequence[np.ndarray], shape: tuple[int, int]) -> sp.csr_array:
    """Sparse matrix of the smallest value of every (row, col) pair among several lists.

    Explicit zeros are kept (a zero-minute trip is a real pair).
    """
    r = np.concatenate([np.asarray(x, dtype=np.int64) for x in rows]) if rows else \
        np.zeros(0, dtype=np.int64)
    c = np.concatenate([np.asarray(x, dtype=np.int64) for x in cols]) if cols else \
        np.zeros(0, dtype=np.int64)
    v = np.concatenate([np.asarray(x, dtype=float) for x in vals]) if vals else np.zeros(0)
    # One int64 key per pair sorts faster than a three-key lexsort; the minimum of each run
    # of equal keys is the pair's value.
    key = r * np.int64(max(shape[1], 1)) + c
    order = np.argsort(key, kind="stable")
    key, v = key[order], v[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else \
        np.zeros(0, dtype=np.int64)
    best = np.minimum.reduceat(v, first) if key.size else v
    key = key[first]
    # Unique pairs now, so the COO → CSR sum of duplicates adds nothing; zeros are kept.
    return sp.csr_array((best, (key // max(shape[1], 1), key % max(shape[1], 1))), shape=shape)


def _check_projected(crs: Any, what: str) -> pyproj.CRS | None:
    if crs is None:
        return None
    try:
        out = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise GraphError(f"{what}: unreadable CRS {crs!r} ({exc})") from exc
    if not out.is_projected:
        raise GraphError(
            f"{what}: CRS {out.to_string()} is not projected; distances and snapping need a "
            "metric CRS (project it first, e.g. osmnx.project_graph or to_crs(UTM 51N/52N))"
        )
    return out


def from_arrays(
    xy: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    minutes: np.ndarray,
    *,
    crs: Any = None,
    node_ids: Sequence[Hashable] | np.ndarray | None = None,
    travel: str = "custom",
) -> TravelGraph:
    """Build a :class:`TravelGraph` from edge arrays.

    Parameters
    ----------
    xy : numpy.ndarray
        (n_nodes, 2) node coordinates (metres).
    u, v : numpy.ndarray
        Edge endpoints as node row indices (edge goes u → v).
    minutes : numpy.ndarray
        Travel time of each edge (minutes). NaN or inf marks an edge not usable in this mode
        and it is dropped; of parallel edges the fastest is kept.
    crs : optional
        Projected CRS of ``xy``.
    node_ids : sequence, optional
        Original node keys (default ``0..n-1``).
    travel : str
        Label of the travel mode.

    Raises
    ------
    GraphError
        Negative travel times, endpoints out of range, or a geographic CRS.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.asarray(minutes, dtype=float)
    if not (u.shape == v.shape == w.shape):
        raise GraphError("edge arrays u, v and minutes must have the same length")
    if u.size and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n):
        raise GraphError(f"edge endpoint out of range 0..{n - 1}")
    if not np.isfinite(xy).all():
        bad = int(np.flatnonzero(~np.isfinite(xy).all(axis=1))[0])
        raise GraphError(f"node {bad}: coordinates are not finite")
    keep = np.isfinite(w)
    if (w[keep] < 0).any():
        neg = int(np.flatnonzero(keep & (w < 0))[0])
        raise GraphError(f"edge {neg} ({u[neg]}→{v[neg]}): negative travel time {w[neg]}")
    u, v, w = u[keep], v[keep], w[keep]
    # Fastest of parallel edges: sort by (u, v, w) and keep the first of each (u, v) run.
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.ones(u.size, dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, w = u[first], v[first], w[first]
    # Unique (u, v) pairs: the COO → CSR conversion sums nothing and keeps zero-time edges.
    idx: type[np.signedinteger] = np.int32 if n < 2**31 else np.int64
    csgraph = sp.csr_array((w, (u.astype(idx), v.astype(idx))), shape=(n, n))
    ids = np.arange(n) if node_ids is None else np.asarray(node_ids)
    return TravelGraph(csgraph=csgraph, xy=xy, node_ids=ids,
                       crs=_check_projected(crs, "road graph"), travel=travel)


def travel_graph(G: nx.MultiDiGraph, travel: str) -> TravelGraph:
    """Prepare a projected osmnx-style graph for one travel mode.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        Projected graph (graph attribute ``crs``), node attributes ``x``, ``y`` (metres) and
        edge travel times in minutes (``walk_min`` / ``drive_min``). A missing, NaN or inf
        time means the edge is not usable in that mode.
    travel : {"walk", "drive"} or str
        Travel mode, or directly the name of an edge attribute in minutes.

    Returns
    -------
    TravelGraph

    Raises
    ------
    GraphError
        A node without ``x``/``y``, a non-numeric or negative time (naming the edge), or a
        geographic CRS.
    """
    weight = TRAVEL_WEIGHTS.get(travel, travel)
    nodes = list(G.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    xy = np.empty((len(nodes), 2))
    for i, (n, data) in enumerate(G.nodes(data=True)):
        try:
            xy[i, 0] = data["x"]
            xy[i, 1] = data["y"]
        except KeyError as exc:
            raise GraphError(f"road graph node {n!r}: missing coordinate {exc.args[0]!r}") from None
    # One pass over the edges (MultiDiGraph.number_of_edges alone walks them all again).
    edges = list(G.edges(data=weight))
    m = len(edges)
    u = np.fromiter((index[a] for a, _, _ in edges), dtype=np.int64, count=m)
    v = np.fromiter((index[b] for _, b, _ in edges), dtype=np.int64, count=m)
    try:
        w = np.fromiter((np.inf if t is None else float(t) for _, _, t in edges), dtype=float,
                        count=m)
    except (TypeError, ValueError):
        for a, b, t in edges:
            try:
                float(np.inf if t is None else t)
            except (TypeError, ValueError):
                raise GraphError(f"road graph edge {a!r}→{b!r}: {weight}={t!r} is not a "
                                 "number") from None
        raise
    if not G.is_directed():
        # An undirected edge can be travelled both ways.
        u, v, w = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
    try:
        tg = from_arrays(xy, u, v, w, crs=G.graph.get("crs"),
                         node_ids=np.asarray(nodes, dtype=object), travel=travel)
    except GraphError as exc:
        raise GraphError(f"road graph ({weight}): {exc}") from None
    # elder_coverage.io.roads records the pace and seasonal factor it used for the edge times.
    declared = G.graph.get("walk_kph") if travel == "walk" else None
    factor = G.graph.get({"walk": "walk_factor", "drive": "drive_factor"}.get(travel, ""), 1.0)
    try:
        tg.access_kmh = None if declared is None else float(declared)
        tg.slowdown = float(factor)
    except (TypeError, ValueError):
        raise GraphError(f"road graph: graph attribute walk_kph={declared!r} or factor "
                         f"{factor!r} is not a number") from None
    if (tg.access_kmh is not None and not tg.access_kmh > 0) or not tg.slowdown > 0:
        raise GraphError(f"road graph: walk_kph={declared!r} and the seasonal factor "
                         f"({factor!r}) must be positive")
    return tg


def warn_if_disconnected(tg: TravelGraph) -> ConnectivityReport:
    """Return the connectivity report and emit :class:`DisconnectedGraphWarning` if split."""
    rep = tg.connectivity()
    if not rep.connected:
        warnings.warn(rep.message(), DisconnectedGraphWarning, stacklevel=3)
    return rep


def _augmented_transpose(tg: TravelGraph, src_nodes: np.ndarray, src_offsets: np.ndarray,
                         src_owner: np.ndarray, n_src: int) -> sp.csr_array:
    """Transposed graph plus one virtual node per source, joined to each of its entry nodes.

    The virtual edges carry the source's access times, so a single multi-source search
    charges each source its own access time, and ``sources`` tells which one won.
    """
    n = tg.n_nodes
    gt = sp.coo_array(tg.transposed)
    # A source may reach one node by two entries: keep the faster (CSR would add them up).
    virtual = min_pairs([n + src_owner], [src_nodes], [src_offsets], (n + n_src, n))
    vr = sp.coo_array(virtual)
    rows = np.concatenate([gt.row, vr.row])
    cols = np.concatenate([gt.col, vr.col])
    data = np.concatenate([gt.data, vr.data])
    # Virtual rows (≥ n) never meet graph rows, so no pair repeats and nothing is summed.
    return sp.csr_array((data, (rows, cols)), shape=(n + n_src, n + n_src))


def nearest_source(
    tg: TravelGraph,
    src_nodes: np.ndarray,
    src_offsets: np.ndarray | None = None,
    *,
    src_owner: np.ndarray | None = None,
    n_src: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Time from every node to its nearest source, in one multi-source search.

    Parameters
    ----------
    tg : TravelGraph
    src_nodes : numpy.ndarray
        Entry node of each source (facility), ``>= 0``; one per source unless ``src_owner``.
    src_offsets : numpy.ndarray, optional
        Extra minutes of each entry (node → facility access time); default 0.
    src_owner : numpy.ndarray, optional
        Source index of each entry when sources have several (an :class:`Attachment`'s
        ``owner``); default: entry ``i`` is source ``i``.
    n_src : int, optional
        Number of sources (default ``len(src_nodes)``, or ``src_owner.max() + 1``).

    Returns
    -------
    time_min : numpy.ndarray
        (n_nodes,) minutes from the node to the nearest source (inf if none reachable).
    source : numpy.ndarray
        (n_nodes,) index of that source, -1 if none reachable.
    """
    src_nodes = np.asarray(src_nodes, dtype=np.int64)
    n = tg.n_nodes
    if src_owner is None:
        src_owner = np.arange(src_nodes.size)
    src_owner = np.asarray(src_owner, dtype=np.int64)
    if n_src is None:
        n_src = int(src_owner.max()) + 1 if src_owner.size else 0
    if src_nodes.size == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    offs = np.zeros(src_nodes.size) if src_offsets is None else \
        np.asarray(src_offsets, dtype=float)
    g = _augmented_transpose(tg, src_nodes, offs, src_owner, n_src)
    starts = n + np.unique(src_owner)
    dist, _pred, srcs = dijkstra(g, directed=True, indices=starts, min_only=True,
                                 return_predecessors=True)
    dist = dist[:n]
    srcs = srcs[:n].astype(np.int64)
    src = np.where(srcs >= n, srcs - n, -1)
    return dist, src


def nearest_from_entries(time_at: np.ndarray, source_at: np.ndarray, orig: Attachment
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per origin point, the fastest of its entries given node times to the nearest source.

    Parameters
    ----------
    time_at, source_at : numpy.ndarray
        Output of :func:`nearest_source`.
    orig : Attachment
        Origins (role ``origin``).

    Returns
    -------
    time_min : numpy.ndarray
        (orig.n_points,) minutes (inf when no entry reaches a source).
    source : numpy.ndarray
        (orig.n_points,) source index, -1 when none.
    """
    time = np.full(orig.n_points, np.inf)
    source = np.full(orig.n_points, -1, dtype=np.int64)
    if orig.owner.size == 0:
        return time, source
    # Entries are sorted by owner (Attachment): one reduceat gives each point's fastest.
    t = orig.offset + time_at[orig.node]
    start = np.flatnonzero(np.r_[True, orig.owner[1:] != orig.owner[:-1]])
    best = np.minimum.reduceat(t, start)
    group = np.repeat(np.arange(start.size), np.diff(np.r_[start, t.size]))
    hit = np.flatnonzero((t == best[group]) & np.isfinite(t))
    if hit.size == 0:
        return time, source
    # The first entry attaining the minimum names the source.
    first = hit[np.r_[True, group[hit][1:] != group[hit][:-1]]]
    own = orig.owner[first]
    time[own] = t[first]
    source[own] = source_at[orig.node[first]]
    return time, source


def _morton(xy: np.ndarray, cell: float) -> np.ndarray:
    """Z-order key of points on a grid of ``cell`` metres (keeps chunks spatially compact)."""
    g = np.floor((xy - xy.min(axis=0)) / max(cell, 1e-9)).astype(np.uint64)
    g = np.minimum(g, np.uint64(2**21 - 1))
    key = np.zeros(len(xy), dtype=np.uint64)
    for bit in range(21):
        b = np.uint64(bit)
        key |= ((g[:, 0] >> b) & np.uint64(1)) << (np.uint64(2) * b)
        key |= ((g[:, 1] >> b) & np.uint64(1)) << (np.uint64(2) * b + np.uint64(1))
    return key


def reach_within(
    tg: TravelGraph,
    src_nodes: np.ndarray,
    src_offsets: np.ndarray,
    dst_nodes: np.ndarray,
    dst_offsets: np.ndarray,
    limit: float,
    *,
    src_owner: np.ndarray | None = None,
    dst_owner: np.ndarray | None = None,
    n_src: int | None = None,
    n_dst: int | None = None,
) -> sp.csr_array:
    """Travel times destination → source that are within ``limit``, as a sparse matrix.

    Each source gets a search bounded by ``limit`` minus its access time, on the transposed
    graph. Sources are processed in spatially compact blocks; when edge speeds are bounded,
    each block searches only the subgraph of nodes that a time-limited trip can reach
    (straight-line radius ``limit × max_speed``), which keeps the dense search output small.

    Parameters
    ----------
    tg : TravelGraph
    src_nodes, src_offsets : numpy.ndarray
        Snapped node (-1 = not snapped, never reached) and access minutes of each source.
    dst_nodes, dst_offsets : numpy.ndarray
        Snapped node (-1 = not snapped) and access minutes of each destination (cell).
    limit : float
        Largest total time kept (minutes), inclusive.
    src_owner, dst_owner : numpy.ndarray, optional
        When points have several entries (an :class:`Attachment`), the point of each entry;
        the result is then per point, the fastest entry pair kept.
    n_src, n_dst : int, optional
        Number of source / destination points (default: one per entry).

    Returns
    -------
    scipy.sparse.csr_array
        (n_dst × n_src) minutes ``dst_offset + network time + src_offset`` for pairs within
        the limit; a pair not stored is not reachable within it. Zero times are stored
        explicitly (a cell on the facility's node), so test membership with the sparsity
        pattern, not with ``data != 0``.
    """
    src_nodes = np.asarray(src_nodes, dtype=np.int64)
    src_offsets = np.asarray(src_offsets, dtype=float)
    dst_nodes = np.asarray(dst_nodes, dtype=np.int64)
    dst_offsets = np.asarray(dst_offsets, dtype=float)
    if src_owner is not None or dst_owner is not None:
        n_se, n_de = len(src_nodes), len(dst_nodes)
        so = np.arange(n_se) if src_owner is None else np.asarray(src_owner, dtype=np.int64)
        do = np.arange(n_de) if dst_owner is None else np.asarray(dst_owner, dtype=np.int64)
        per_entry = sp.coo_array(reach_within(tg, src_nodes, src_offsets, dst_nodes,
                                              dst_offsets, limit))
        shape = (n_de if n_dst is None else n_dst, n_se if n_src is None else n_src)
        return min_pairs([do[per_entry.row]], [so[per_entry.col]], [per_entry.data], shape)
    n_dst, n_src = len(dst_nodes), len(src_nodes)
    live_src = np.flatnonzero((src_nodes >= 0) & (src_offsets <= limit))
    live_dst = np.flatnonzero((dst_nodes >= 0) & (dst_offsets <= limit))
    empty = sp.csr_array((n_dst, n_src))
    if live_src.size == 0 or live_dst.size == 0:
        return empty
    # Destinations grouped by node: one search result fans out to every cell at that node.
    order = live_dst[np.argsort(dst_nodes[live_dst], kind="stable")]
    dn = dst_nodes[order]
    uniq, first = np.unique(dn, return_index=True)
    counts = np.diff(np.append(first, dn.size))
    gt = tg.transposed
    vmax = tg.max_speed
    prune = np.isfinite(vmax) and vmax > 0
    radius = limit * vmax if prune else np.inf
    if prune:
        live_src = live_src[np.argsort(_morton(tg.xy[src_nodes[live_src]], radius),
                                       kind="stable")]
    rows, cols, vals = [], [], []
    stack = [live_src]
    while stack:
        block = stack.pop()
        if prune:
            # Only nodes with an edge can lie on a path; the sources join in case one sits on
            # an isolated node (then it reaches just itself).
            # One ball per distinct node (a facility's entries share nodes with its
            # neighbours'), and a mask instead of sorting the overlapping balls' members.
            hits = tg.tree.query_ball_point(tg.xy[np.unique(src_nodes[block])],
                                            radius * (1 + 1e-9) + 1e-6)
            mask = np.zeros(tg.n_nodes, dtype=bool)
            mask[tg.usable[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])]] = True
            mask[src_nodes[block]] = True
            sub = np.flatnonzero(mask)
        else:
            sub = None
        width = tg.n_nodes if sub is None else sub.size
        if block.size > 1 and block.size * width > _BLOCK_ENTRIES:
            half = block.size // 2
            stack.extend([block[half:], block[:half]])
            continue
        if sub is None:
            g, local_src, local_u = gt, src_nodes[block], uniq
            u_keep = np.arange(uniq.size)
        else:
            g = gt[sub][:, sub]
            local_src = np.searchsorted(sub, src_nodes[block])
            pos = np.searchsorted(sub, uniq)
            u_keep = np.flatnonzero((pos < sub.size) & (sub[np.minimum(pos, sub.size - 1)]
                                                        == uniq))
            local_u = pos[u_keep]
        if u_keep.size == 0:
            continue
        budget = limit - src_offsets[block].min()
        dist = dijkstra(g, directed=True, indices=local_src, limit=budget)
        t = dist[:, local_u] + src_offsets[block][:, None]
        bi, ui = np.nonzero(t <= limit)
        if bi.size == 0:
            continue
        t = t[bi, ui]
        ui = u_keep[ui]
        # Fan each (source, node) pair out to the cells at that node.
        c = counts[ui]
        rep_b = np.repeat(bi, c)
        rep_t = np.repeat(t, c)
        start = np.repeat(first[ui], c)
        within = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
        cell = order[start + within]
        total = rep_t + dst_offsets[cell]
        ok = total <= limit
        rows.append(cell[ok])
        cols.append(block[rep_b[ok]])
        vals.append(total[ok])
    if not rows:
        return empty
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    # Each (destination, source) pair is found once (one node each, one block per source),
    # so the COO → CSR conversion sums nothing; zero-minute pairs stay stored.
    return sp.csr_array((v, (r, c)), shape=(n_dst, n_src))


class RoadNetwork:
    """A road graph with its per-mode :class:`TravelGraph` built once and reused.

    Parameters
    ----------
    G : networkx.MultiDiGraph, optional
        Projected osmnx-style graph with ``walk_min`` / ``drive_min`` edge times.
    travel_graphs : mapping of str to TravelGraph, optional
        Already prepared graphs by travel mode (e.g. built with :func:`from_arrays`).

    Notes
    -----
    Pass the same ``RoadNetwork`` to several coverage calls to convert the networkx graph
    only once per mode. A pickled ``RoadNetwork`` keeps its graph and the nearest-edge joins
    it has computed (:meth:`join_points`), the slow part of snapping a province's cells to
    the road; the per-mode travel graphs are rebuilt on first use, faster than they unpickle.
    """

    def __init__(self, G: nx.MultiDiGraph | None = None, *,
                 travel_graphs: dict[str, TravelGraph] | None = None) -> None:
        if G is None and not travel_graphs:
            raise GraphError("RoadNetwork needs a networkx graph or prepared travel graphs")
        self.G = G
        self._graphs: dict[str, TravelGraph] = dict(travel_graphs or {})
        # Nearest-edge joins shared by the modes (see TravelGraph._nearest_edges).
        self._joins: OrderedDict = OrderedDict()
        for tg in self._graphs.values():
            tg._cache.setdefault("joins", self._joins)
        crs = G.graph.get("crs") if G is not None else None
        self.crs = _check_projected(crs, "road graph") if crs is not None else None
        if self.crs is None:
            for tg in self._graphs.values():
                if tg.crs is not None:
                    self.crs = tg.crs
                    break

    def __getstate__(self) -> dict[str, Any]:
        # Travel graphs given as arrays (no networkx graph) cannot be rebuilt: keep them.
        graphs = {} if self.G is not None else self._graphs
        return {"G": self.G, "graphs": graphs, "joins": list(self._joins.items())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        RoadNetwork.__init__(self, state["G"], travel_graphs=state["graphs"] or None)
        self._joins.update(state["joins"])

    def join_points(self, xy: np.ndarray, *, modes: Iterable[str] = ("walk", "drive")) -> None:
        """Find and keep the nearest usable edge of each point, for each travel mode.

        Later coverage, cost and access calls on the same points (same coordinates, in the
        same order) reuse the join instead of searching again; modes with the same usable
        edges share one join. A mode the graph cannot build is skipped.

        Parameters
        ----------
        xy : numpy.ndarray
            (n, 2) point coordinates in metres, in the graph's CRS (the demand cells).
        modes : iterable of str
            Travel modes to join for.
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        for travel in modes:
            try:
                tg = self.mode(travel)
            except GraphError:
                continue
            tg._nearest_edges(xy, np.inf, main_only=False)

    def mode(self, travel: str) -> TravelGraph:
        """The travel graph of ``travel`` ("walk" or "drive"), built on first use."""
        if travel not in self._graphs:
            if self.G is None:
                raise GraphError(f"no {travel!r} travel graph was given to RoadNetwork")
            self._graphs[travel] = travel_graph(self.G, travel)
            self._graphs[travel]._cache.setdefault("joins", self._joins)
        return self._graphs[travel]


def as_network(graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None) -> RoadNetwork | None:
    """Accept a networkx graph, a :class:`RoadNetwork`, a single TravelGraph or None."""
    if graph is None or isinstance(graph, RoadNetwork):
        return graph
    if isinstance(graph, TravelGraph):
        return RoadNetwork(travel_graphs={graph.travel: graph})
    if isinstance(graph, nx.MultiDiGraph | nx.DiGraph | nx.Graph):
        return RoadNetwork(graph)
    raise GraphError(f"graph: expected a networkx MultiDiGraph or RoadNetwork, got "
                     f"{type(graph).__name__}")
