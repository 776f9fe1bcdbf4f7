"""Independent reference for travel times with edge entry: networkx on a split graph.

Every point's projection on its nearest road segment (and on its nearest segment of the main
part of the graph, when the first lies on a fragment) is inserted into the graph as a node,
splitting the edge; cells get an edge to their entry nodes (gap at the off-road speed) and
entry nodes an edge to the facility. Shortest paths are then plain networkx Dijkstra, and a
direct off-road trip (straight line × detour at the off-road speed) is added when it is
within the limit. Written from the description of the method, not from the engine's code.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np


def _project(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Position along a→b (0..1) of the closest point to p, and the distance to it."""
    ab = b - a
    den = float(ab @ ab)
    t = 0.0 if den == 0 else min(1.0, max(0.0, float((p - a) @ ab) / den))
    q = a + t * ab
    return t, math.hypot(*(p - q))


def reference_times(G: nx.MultiDiGraph, cxy: np.ndarray, fxy: np.ndarray, *, weight: str,
                    speed: float, detour: float, max_gap: float,
                    limit: float = math.inf) -> np.ndarray:
    """(n_cells × n_fac) fastest minutes cell → facility (inf: no path)."""
    H = nx.DiGraph()
    for a, b, t in G.edges(data=weight):
        if t is None or not math.isfinite(t) or a == b:
            continue
        if not H.has_edge(a, b) or H[a][b]["w"] > t:
            H.add_edge(a, b, w=float(t))
    xy = {n: np.array([G.nodes[n]["x"], G.nodes[n]["y"]], float) for n in H.nodes}
    segs: dict[frozenset, tuple] = {}
    for a, b in H.edges:
        segs.setdefault(frozenset((a, b)), (a, b))
    seg_list = list(segs.values())
    if H.number_of_nodes():
        main = max(nx.weakly_connected_components(H), key=len)
    else:
        main = set()

    def joins(p: np.ndarray) -> list[tuple[int, float, float]]:
        best, best_main = None, None
        for k, (a, b) in enumerate(seg_list):
            t, d = _project(p, xy[a], xy[b])
            if best is None or d < best[2]:
                best = (k, t, d)
            if a in main and (best_main is None or d < best_main[2]):
                best_main = (k, t, d)
        out = []
        if best is not None and best[2] <= max_gap:
            out.append(best)
            a, _b = seg_list[best[0]]
            if a not in main and best_main is not None and best_main[2] <= max_gap:
                out.append(best_main)
        return out

    K = nx.DiGraph()
    K.add_edges_from((a, b, {"w": d["w"]}) for a, b, d in H.edges(data=True))
    splits: dict[int, list[tuple[float, object]]] = {}
    for role, pts in (("c", cxy), ("f", fxy)):
        for i, p in enumerate(pts):
            K.add_node((role, i))
            for k, t, d in joins(np.asarray(p, float)):
                node = ("e", role, i, k)
                splits.setdefault(k, []).append((t, node))
                if role == "c":
                    K.add_edge((role, i), node, w=d / speed)
                else:
                    K.add_edge(node, (role, i), w=d / speed)
    for k, pts in splits.items():
        a, b = seg_list[k]
        chain = [(0.0, a), *sorted(pts, key=lambda x: x[0]), (1.0, b)]
        for (t0, n0), (t1, n1) in zip(chain[:-1], chain[1:], strict=True):
            if H.has_edge(a, b):
                K.add_edge(n0, n1, w=(t1 - t0) * H[a][b]["w"])
            if H.has_edge(b, a):
                K.add_edge(n1, n0, w=(t1 - t0) * H[b][a]["w"])
    out = np.full((len(cxy), len(fxy)), np.inf)
    for i in range(len(cxy)):
        lengths = nx.single_source_dijkstra_path_length(K, ("c", i), weight="w")
        for j in range(len(fxy)):
            out[i, j] = lengths.get(("f", j), np.inf)
            direct = math.hypot(*(np.asarray(cxy[i]) - np.asarray(fxy[j]))) * detour / speed
            if direct <= limit + 1e-12:
                out[i, j] = min(out[i, j], direct)
    return out
