"""Sparse matrices built with scipy's COO → CSR constructor keep what the package relies on.

A stored entry means "reachable" even when its value is 0 (a cell on a facility's node, a
zero-minute edge), and the constructor sums duplicate pairs, so every builder must pass
unique pairs (or reduce them first, e.g. to the smallest time).
"""

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from elder_coverage.costs import reach_matrix
from elder_coverage.optimize import closure_groups
from elder_coverage.optimize.common import merge_identical_rows
from elder_coverage.travel import from_arrays, min_pairs, reach_within


def test_min_pairs_keeps_zero_and_takes_the_smaller_duplicate():
    m = min_pairs([np.array([0, 0, 1, 1])], [np.array([2, 2, 0, 1])],
                  [np.array([5.0, 3.0, 0.0, 7.0])], (2, 3))
    assert m.has_canonical_format
    assert m.nnz == 3  # (0, 2) once, with the smaller time, not 5 + 3
    assert m[0, 2] == 3.0
    coo = sp.coo_array(m)
    assert sorted(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                      strict=True)) == [(0, 2, 3.0), (1, 0, 0.0), (1, 1, 7.0)]


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5),
                          st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0])), max_size=40),
       st.integers(1, 3))
def test_min_pairs_equals_a_dictionary_of_minima(triples, n_lists):
    # Brute force: the smallest value seen for each (row, col), whichever list holds it.
    expected: dict[tuple[int, int], float] = {}
    for r, c, v in triples:
        expected[(r, c)] = min(v, expected.get((r, c), np.inf))
    parts = [triples[i::n_lists] for i in range(n_lists)]
    m = min_pairs([np.array([t[0] for t in p], dtype=np.int64) for p in parts],
                  [np.array([t[1] for t in p], dtype=np.int64) for p in parts],
                  [np.array([t[2] for t in p], dtype=float) for p in parts], (5, 6))
    coo = sp.coo_array(m)
    got = {(r, c): v for r, c, v in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                         strict=True)}
    assert got == expected and m.has_canonical_format and m.shape == (5, 6)


def test_graph_keeps_zero_minute_edges_and_fastest_parallel_edge():
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    tg = from_arrays(xy, np.array([0, 0, 1]), np.array([1, 1, 2]), np.array([4.0, 2.0, 0.0]))
    g = sp.coo_array(tg.csgraph)
    assert sorted(zip(g.row.tolist(), g.col.tolist(), g.data.tolist(), strict=True)) == [
        (0, 1, 2.0), (1, 2, 0.0)]


def test_reach_within_stores_zero_minute_pairs():
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    tg = from_arrays(xy, np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]),
                     np.array([1.0, 1.0, 0.0, 0.0]))
    # Source 0 at node 2; destinations at nodes 2 (same node), 1 (zero edge) and 0 (1 min).
    m = reach_within(tg, np.array([2]), np.array([0.0]), np.array([2, 1, 0]),
                     np.zeros(3), limit=5.0)
    assert m.has_canonical_format
    assert m.nnz == 3
    assert m.toarray()[:, 0].tolist() == [0.0, 0.0, 1.0]
    assert np.diff(m.indptr).tolist() == [1, 1, 1]  # membership by pattern, zeros included


def test_reach_matrix_stores_a_cell_on_its_facility():
    cells = gpd.GeoDataFrame({"cell_id": [0, 1, 2], "elders_60": [1.0, 1.0, 1.0]},
                             geometry=gpd.points_from_xy([0.0, 500.0, 5000.0], [0.0] * 3),
                             crs=32652)
    fac = gpd.GeoDataFrame({"id": ["A", "B"], "name": ["a", "b"],
                            "kind": ["township_centre", "township_centre"], "capacity": [10, 10],
                            "status": ["open", "open"]},
                           geometry=gpd.points_from_xy([0.0, 5000.0], [0.0, 0.0]), crs=32652)
    std = {"township_centre": {"mode": "straight_line", "radius_m": 1000}}
    m = reach_matrix(cells, fac, None, std, kind="township_centre")
    coo = sp.coo_array(m)
    assert sorted(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)) == [
        (0, 0, 0.0), (1, 0, 500.0), (2, 1, 0.0)]


def test_pattern_merge_counts_explicit_zeros_as_members():
    inc = sp.csr_array((np.array([0.0, 1.0, 1.0]), (np.array([0, 1, 2]), np.array([0, 0, 1]))),
                       shape=(3, 2))
    assert inc.nnz == 3
    merged, pattern = merge_identical_rows(inc)
    assert pattern.tolist() == [0, 0, 1]  # row 0's stored zero is site 0, like row 1's 1
    groups, w = closure_groups(inc, np.array([2.0, 3.0, 4.0]))
    assert groups.toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert w.tolist() == [5.0, 4.0]


def test_reach_take_keeps_cost_order_and_stored_zeros():
    from elder_coverage.optimize.reach import as_reach

    reach = as_reach(np.array([[3.0, 0.0, 1.0], [np.nan, 2.0, 0.0]]))
    # Rows swapped, site 2 dropped, sites 0 and 1 renumbered 1 and 0.
    indptr, cols, cost = reach.take(np.array([1, 0]), np.array([1, 0, -1]))
    assert indptr.tolist() == [0, 1, 3]
    assert cols.tolist() == [0, 0, 1]  # row 0: site 1 (0 min) before site 0 (3 min)
    assert cost.tolist() == [2.0, 0.0, 3.0]
