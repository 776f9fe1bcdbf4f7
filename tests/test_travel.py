"""Travel graphs: CSR conversion, snapping, joining edges, multi-source and bounded searches."""

from __future__ import annotations

import math
import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elder_coverage.travel import (
    DisconnectedGraphWarning,
    GraphError,
    RoadNetwork,
    as_network,
    from_arrays,
    nearest_from_entries,
    nearest_source,
    reach_within,
    same_edge_times,
    travel_graph,
    warn_if_disconnected,
)

CRS = "EPSG:32651"


def random_graph(seed: int, n: int = 25, m: int = 70, zero_edge: bool = False) -> nx.MultiDiGraph:
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(crs=CRS)
    for i in range(n):
        G.add_node(f"n{i}", x=float(rng.uniform(0, 2000)), y=float(rng.uniform(0, 2000)))
    nodes = list(G.nodes)
    for _ in range(m):
        a, b = rng.integers(0, n, 2)
        ax, ay = G.nodes[nodes[a]]["x"], G.nodes[nodes[a]]["y"]
        bx, by = G.nodes[nodes[b]]["x"], G.nodes[nodes[b]]["y"]
        gap = math.hypot(ax - bx, ay - by)
        # Travel time no faster than 100 m/min over the straight gap (keeps pruning valid).
        t = gap / 100.0 * float(rng.uniform(1.0, 2.0))
        if rng.random() < 0.1:
            t = float("inf")  # not usable in this mode
        G.add_edge(nodes[a], nodes[b], walk_min=t)
    if zero_edge:
        G.add_edge(nodes[0], nodes[1], walk_min=0.0)
    return G


def brute_time_to_sources(G, node_ids, src_nodes, offsets, starts=None):
    """Minutes from each start node TO its nearest source (networkx, one search per node)."""
    H = nx.DiGraph()
    H.add_nodes_from(G.nodes)
    for a, b, t in G.edges(data="walk_min"):
        if t is not None and math.isfinite(t):
            if not H.has_edge(a, b) or H[a][b]["w"] > t:
                H.add_edge(a, b, w=t)
    starts = range(len(node_ids)) if starts is None else starts
    out = np.full(len(starts), np.inf)
    for i, k in enumerate(starts):
        u = node_ids[k]
        lengths = nx.single_source_dijkstra_path_length(H, u, weight="w")
        for s, off in zip(src_nodes, offsets, strict=True):
            if node_ids[s] in lengths:
                out[i] = min(out[i], lengths[node_ids[s]] + off)
    return out


def test_csr_keeps_fastest_parallel_edge_and_drops_unusable():
    G = nx.MultiDiGraph(crs=CRS)
    G.add_node("a", x=0.0, y=0.0)
    G.add_node("b", x=100.0, y=0.0)
    G.add_node("c", x=200.0, y=0.0)
    G.add_edge("a", "b", walk_min=5.0, drive_min=1.0)
    G.add_edge("a", "b", walk_min=3.0)  # faster parallel edge; no drive time → not drivable
    G.add_edge("b", "c", walk_min=float("nan"), drive_min=0.0)
    walk = travel_graph(G, "walk")
    drive = travel_graph(G, "drive")
    assert walk.csgraph.toarray().tolist() == [[0, 3, 0], [0, 0, 0], [0, 0, 0]]
    assert walk.csgraph.nnz == 1
    # The zero-minute drive edge is kept as an explicit entry.
    assert drive.csgraph.nnz == 2 and drive.csgraph[1, 2] == 0.0
    assert list(walk.usable) == [0, 1]
    t, s = nearest_source(drive, np.array([2]))
    assert t.tolist() == [1.0, 0.0, 0.0] and s.tolist() == [0, 0, 0]


def test_bad_graphs_are_named():
    G = nx.MultiDiGraph(crs=CRS)
    G.add_node(1, x=0.0, y=0.0)
    G.add_node(2, x=1.0)
    G.add_edge(1, 2, walk_min=1.0)
    with pytest.raises(GraphError, match="node 2: missing coordinate 'y'"):
        travel_graph(G, "walk")
    G.nodes[2]["y"] = 0.0
    G.add_edge(2, 1, walk_min=-1.0)
    with pytest.raises(GraphError, match="negative travel time"):
        travel_graph(G, "walk")
    G.remove_edge(2, 1)
    G.add_edge(2, 1, walk_min="slow")
    with pytest.raises(GraphError, match="edge 2→1: walk_min='slow' is not a number"):
        travel_graph(G, "walk")
    H = nx.MultiDiGraph(crs="EPSG:4326")
    H.add_node(1, x=125.0, y=43.0)
    with pytest.raises(GraphError, match="not projected"):
        travel_graph(H, "walk")
    with pytest.raises(GraphError, match="expected a networkx"):
        as_network("roads.graphml")


def test_snap_uses_only_usable_nodes_and_respects_max_distance():
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [50.0, 1.0]])
    # Node 2 has no edge: a point next to it must snap to a usable node instead.
    tg = from_arrays(xy, [0], [1], [2.0], crs=CRS)
    node, gap = tg.snap(np.array([[50.0, 2.0], [5000.0, 0.0]]), max_snap_m=1000.0)
    assert node.tolist() == [0, -1]
    assert gap[0] == pytest.approx(math.hypot(50, 2)) and math.isinf(gap[1])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), zero=st.booleans())
def test_nearest_source_matches_networkx(seed, k, zero):
    G = random_graph(seed, zero_edge=zero)
    tg = travel_graph(G, "walk")
    rng = np.random.default_rng(seed + 1)
    src = rng.choice(tg.n_nodes, size=k, replace=False)
    off = rng.uniform(0, 3, size=k)
    t, s = nearest_source(tg, src, off)
    ref = brute_time_to_sources(G, list(tg.node_ids), src, off)
    np.testing.assert_allclose(t, ref, rtol=1e-12, atol=1e-12)
    # The reported source attains the minimum.
    for i in np.flatnonzero(np.isfinite(ref)):
        j = s[i]
        alone = brute_time_to_sources(G, list(tg.node_ids), [src[j]], [off[j]], [i])[0]
        assert alone == pytest.approx(ref[i], abs=1e-9)
    assert (s[~np.isfinite(ref)] == -1).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), limit=st.floats(1.0, 40.0), zero=st.booleans())
def test_reach_within_matches_brute_force(seed, limit, zero):
    G = random_graph(seed, zero_edge=zero)
    tg = travel_graph(G, "walk")
    # The zero-minute edge between distinct points makes speed unbounded → no pruning path.
    assert math.isfinite(tg.max_speed) != zero or tg.max_speed == 0
    rng = np.random.default_rng(seed + 2)
    src = rng.choice(tg.n_nodes, size=4, replace=False)
    src_off = rng.uniform(0, 2, size=4)
    src[0] = -1  # an unsnapped facility reaches nobody
    dst = rng.integers(-1, tg.n_nodes, size=30)
    dst_off = rng.uniform(0, 2, size=30)
    mat = reach_within(tg, src, src_off, dst, dst_off, limit)
    assert mat.shape == (30, 4)
    dense = np.full((30, 4), np.inf)
    coo = mat.tocoo()
    dense[coo.row, coo.col] = coo.data
    ids = list(tg.node_ids)
    for i, d in enumerate(dst):
        for j, s in enumerate(src):
            if d < 0 or s < 0:
                ref = np.inf
            else:
                ref = brute_time_to_sources(G, ids, [s], [src_off[j]], [d])[0] + dst_off[i]
            if ref <= limit - 1e-9:
                assert dense[i, j] == pytest.approx(ref, abs=1e-9)
            elif ref > limit + 1e-9:
                assert math.isinf(dense[i, j])


def test_direction_is_cell_to_facility():
    # One-way street 0 → 1: a cell at 0 reaches a facility at 1 in 2 min; not the reverse.
    xy = np.array([[0.0, 0.0], [100.0, 0.0]])
    tg = from_arrays(xy, [0], [1], [2.0], crs=CRS)
    t, s = nearest_source(tg, np.array([1]))
    assert t.tolist() == [2.0, 0.0]
    t, s = nearest_source(tg, np.array([0]))
    assert t[0] == 0.0 and math.isinf(t[1]) and s[1] == -1
    mat = reach_within(tg, np.array([1]), np.array([0.5]), np.array([0, 1]),
                       np.array([0.25, 0.0]), limit=10)
    assert mat.toarray().ravel().tolist() == [2.75, 0.5]


def test_disconnected_graph_warns_and_reports():
    xy = np.array([[0, 0], [1, 0], [10, 0], [11, 0], [20, 0]], dtype=float)
    tg = from_arrays(xy, [0, 1, 2], [1, 0, 3], [1.0, 1.0, 1.0], crs=CRS, travel="walk")
    with pytest.warns(DisconnectedGraphWarning, match="2 disconnected parts"):
        rep = warn_if_disconnected(tg)
    assert (rep.n_usable_nodes, rep.n_components, rep.largest_size) == (4, 2, 2)
    one = from_arrays(xy[:2], [0], [1], [1.0], crs=CRS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_disconnected(one).connected


def test_road_network_caches_each_mode():
    G = random_graph(3)
    net = RoadNetwork(G)
    assert net.mode("walk") is net.mode("walk")
    assert net.crs.to_epsg() == 32651
    with pytest.raises(GraphError, match="needs a networkx graph"):
        RoadNetwork()


def test_reach_within_block_splitting_gives_same_matrix(monkeypatch):
    G = random_graph(11, n=40, m=120)
    tg = travel_graph(G, "walk")
    rng = np.random.default_rng(5)
    src = rng.choice(tg.n_nodes, size=12, replace=False)
    src_off = rng.uniform(0, 1, size=12)
    dst = rng.integers(0, tg.n_nodes, size=60)
    dst_off = rng.uniform(0, 1, size=60)
    whole = reach_within(tg, src, src_off, dst, dst_off, 25.0)
    # Tiny blocks force the subgraph search to split down to one source per block.
    monkeypatch.setattr("elder_coverage.travel._BLOCK_ENTRIES", 5)
    split = reach_within(tg, src, src_off, dst, dst_off, 25.0)
    assert whole.nnz > 20
    assert (whole.indptr == split.indptr).all() and (whole.indices == split.indices).all()
    np.testing.assert_allclose(whole.data, split.data, rtol=1e-12)


def test_attach_enters_nearest_edge_in_the_directions_it_allows():
    # Edge 0 → 1 is one-way (10 min for 100 m), 1 ↔ 2 two-way (4 min each way). A fragment
    # 3 ↔ 4 lies 30 m north of the middle of 0–1.
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [40.0, 30.0], [60.0, 30.0]])
    tg = from_arrays(xy, [0, 1, 2, 3, 4], [1, 2, 1, 4, 3], [10.0, 4.0, 4.0, 1.0, 1.0], crs=CRS)
    # Origin 20 m south of x=30 on 0–1: to node 1 = 2 min of gap (10 m/min) + 7 min; node 0
    # is upstream on a one-way edge, so no entry there.
    org = tg.attach(np.array([[30.0, -20.0]]), speed_m_per_min=10.0, max_gap_m=500.0,
                    role="origin")
    assert org.node.tolist() == [1] and org.offset.tolist() == pytest.approx([2.0 + 7.0])
    # As a destination the same point is reached from node 0 only: 3 min along + 2 min.
    dst = tg.attach(np.array([[30.0, -20.0]]), speed_m_per_min=10.0, max_gap_m=500.0,
                    role="destination")
    assert dst.node.tolist() == [0] and dst.offset.tolist() == pytest.approx([3.0 + 2.0])
    # 25 m north of x=50: nearest edge is the fragment (5 m away); the main network's edge
    # 0–1 (25 m) is joined too, so both the fragment's and node 1's entries are offered.
    frag = tg.attach(np.array([[50.0, 25.0]]), speed_m_per_min=10.0, max_gap_m=500.0,
                     role="origin")
    entries = sorted(zip(frag.node.tolist(), np.round(frag.offset, 9).tolist(), strict=True))
    assert entries == [(1, 2.5 + 5.0), (3, 0.5 + 0.5), (4, 0.5 + 0.5)]
    assert frag.join_edge.size == 2
    # Beyond max_gap_m: no entry at all.
    far = tg.attach(np.array([[5000.0, 0.0]]), speed_m_per_min=10.0, max_gap_m=500.0,
                    role="origin")
    assert far.node.size == 0 and not far.attached[0]


def test_same_edge_times_follow_edge_direction():
    xy = np.array([[0.0, 0.0], [100.0, 0.0]])
    tg = from_arrays(xy, [0], [1], [10.0], crs=CRS)  # one-way east
    org = tg.attach(np.array([[20.0, 0.0], [80.0, 5.0]]), speed_m_per_min=10.0,
                    max_gap_m=50.0, role="origin")
    dst = tg.attach(np.array([[50.0, 0.0]]), speed_m_per_min=10.0, max_gap_m=50.0,
                    role="destination")
    r, c, t = same_edge_times(tg, org, dst)
    # From x=20 eastwards 3 min; from x=80 it would be against the one-way street.
    assert r.tolist() == [0] and c.tolist() == [0] and t.tolist() == pytest.approx([3.0])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), limit=st.floats(2.0, 40.0))
def test_entries_of_one_point_reduce_to_its_fastest(seed, limit):
    # Points with several entries: the per-point result is the minimum over entry pairs.
    G = random_graph(seed)
    tg = travel_graph(G, "walk")
    rng = np.random.default_rng(seed + 3)
    n_src, n_dst = 3, 10
    src_owner = np.repeat(np.arange(n_src), 2)
    src = rng.choice(tg.n_nodes, size=src_owner.size)
    src_off = rng.uniform(0, 2, size=src_owner.size)
    dst_owner = np.repeat(np.arange(n_dst), 2)
    dst = rng.integers(0, tg.n_nodes, size=dst_owner.size)
    dst_off = rng.uniform(0, 2, size=dst_owner.size)
    dense = np.full((dst.size, src.size), np.inf)
    coo = reach_within(tg, src, src_off, dst, dst_off, limit).tocoo()
    dense[coo.row, coo.col] = coo.data
    want = np.full((n_dst, n_src), np.inf)
    np.minimum.at(want, (dst_owner[:, None], src_owner[None, :]), dense)
    got_m = reach_within(tg, src, src_off, dst, dst_off, limit, src_owner=src_owner,
                         dst_owner=dst_owner, n_src=n_src, n_dst=n_dst).tocoo()
    got = np.full((n_dst, n_src), np.inf)
    got[got_m.row, got_m.col] = got_m.data
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # The multi-source search agrees: nearest source time at each destination point.
    t_at, s_at = nearest_source(tg, src, src_off, src_owner=src_owner, n_src=n_src)

    class Points:  # the fields nearest_from_entries reads from an Attachment
        n_points, owner, node, offset = n_dst, dst_owner, dst, dst_off

    t, s = nearest_from_entries(t_at, s_at, Points)
    best = np.full(n_dst, np.inf)
    for i in range(n_dst):
        for e in np.flatnonzero(dst_owner == i):
            ref = brute_time_to_sources(G, list(tg.node_ids), src, src_off, [dst[e]])[0]
            best[i] = min(best[i], ref + dst_off[e])
    np.testing.assert_allclose(t, best, rtol=1e-12)
    assert ((s >= 0) == np.isfinite(best)).all()
