"""E2SFCA: hand-computed 3-cell 2-facility case, decay functions, supply conservation."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from elder_coverage.access import access_table, e2sfca, gaussian_weight, stepped_weight
from elder_coverage.engine import CoverageInputError

CRS = "EPSG:32651"
STRAIGHT = {"day_care": {"mode": "straight_line", "radius_m": 900.0}}


def three_cells_two_facilities():
    # Cells at x = 0, 500, 1000 m; f0 (10 places) at 0, f1 (20 places) at 1000.
    cells = gpd.GeoDataFrame(
        {"cell_id": ["c0", "c1", "c2"], "elders_60": [100, 50, 200],
         "elders_65": [60, 30, 120], "elders_80": [10, 5, 20]},
        geometry=gpd.points_from_xy([0.0, 500.0, 1000.0], [0.0, 0.0, 0.0]), crs=CRS)
    fac = gpd.GeoDataFrame(
        {"id": ["f0", "f1", "x"], "name": ["F0", "F1", "X"],
         "kind": ["day_care", "day_care", "dining_hall"], "capacity": [10, 20, 99]},
        geometry=gpd.points_from_xy([0.0, 1000.0, 500.0], [0.0, 0.0, 0.0]), crs=CRS)
    return cells, fac


def test_hand_computed_stepped_e2sfca():
    cells, fac = three_cells_two_facilities()
    res = access_table(cells, fac, "day_care", standards=STRAIGHT)
    # Catchment 900 m in three 300 m zones weighted 1, 0.68, 0.22. 500 m lies in zone 2.
    # f0: 100*1 + 50*0.68 = 134 weighted elders; f1: 50*0.68 + 200*1 = 234.
    r0, r1 = 10 / 134, 20 / 234
    assert res.facilities["weighted_elders"].tolist() == pytest.approx([134.0, 234.0])
    assert res.facilities["places_per_1000"].tolist() == pytest.approx([1000 * r0, 1000 * r1])
    assert res.facilities["elders_per_place"].tolist() == pytest.approx([13.4, 11.7])
    expected = [1000 * r0, 1000 * 0.68 * (r0 + r1), 1000 * r1]
    assert res.cells["day_care_places_per_1000"].tolist() == pytest.approx(expected)
    assert expected == pytest.approx([74.6268657, 108.8659270, 85.4700855])
    assert (res.catchment, res.unit) == (900.0, "m")


def test_hand_computed_gaussian_and_other_age():
    cells, fac = three_cells_two_facilities()
    res = access_table(cells, fac, "day_care", standards=STRAIGHT, decay="gaussian", age=80)
    w = (math.exp(-0.5 * (500 / 900) ** 2) - math.exp(-0.5)) / (1 - math.exp(-0.5))
    r0, r1 = 10 / (10 + 5 * w), 20 / (5 * w + 20)
    assert res.cells["day_care_places_per_1000"].tolist() == pytest.approx(
        [1000 * r0, 1000 * w * (r0 + r1), 1000 * r1])


def test_network_catchment_uses_minutes():
    cells, fac = three_cells_two_facilities()
    G = nx.MultiDiGraph(crs=CRS)
    for i, x in enumerate((0.0, 500.0, 1000.0)):
        G.add_node(i, x=x, y=0.0)
    for a, b in ((0, 1), (1, 0), (1, 2), (2, 1)):
        G.add_edge(a, b, walk_min=500 / 60, drive_min=1.0)
    res = access_table(cells, fac, "day_care", G)  # 15 min: zones 0-5, 5-10, 10-15
    # c1 is 8.33 min from both facilities (zone 2); c0 and c2 are 16.7 min from the far one.
    r0, r1 = 10 / 134, 20 / 234
    assert res.unit == "min" and res.catchment == 15.0
    assert res.cells["day_care_places_per_1000"].tolist() == pytest.approx(
        [1000 * r0, 1000 * 0.68 * (r0 + r1), 1000 * r1])


def test_decay_functions():
    d = np.array([0.0, 300.0, 300.0001, 600.0, 899.9, 900.0, 900.1])
    assert stepped_weight(d, 900.0).tolist() == [1.0, 1.0, 0.68, 0.68, 0.22, 0.22, 0.0]
    g = gaussian_weight(np.array([0.0, 900.0, 1000.0]), 900.0)
    assert g.tolist() == pytest.approx([1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="decay: 'cubic'"):
        e2sfca(sp.csr_array((1, 1)), np.ones(1), np.ones(1), 1.0, decay="cubic")
    with pytest.raises(ValueError, match="zone_weights"):
        stepped_weight(d, 900.0, (1.0, 1.5))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), decay=st.sampled_from(["stepped", "gaussian", "binary"]))
def test_every_place_is_shared_out_exactly(seed, decay):
    # Σ_i P_i A_i = Σ_j S_j over facilities that have someone in their catchment.
    rng = np.random.default_rng(seed)
    n, m = 30, 6
    cost = rng.uniform(0, 20, size=(n, m))
    cost[rng.random((n, m)) < 0.5] = np.inf
    pop = rng.integers(0, 50, size=n).astype(float)
    sup = rng.integers(1, 30, size=m).astype(float)
    rows, cols = np.nonzero(np.isfinite(cost) & (cost <= 15))
    mat = sp.csr_array((cost[rows, cols], (rows, cols)), shape=(n, m))
    acc, ratio, weighted = e2sfca(mat, pop, sup, 15.0, decay=decay)
    served = weighted > 0
    assert float(pop @ acc) == pytest.approx(float(sup[served].sum()), rel=1e-9)
    assert (ratio[~served] == 0).all()
    # Brute-force double loop.
    w = {"stepped": lambda d: stepped_weight(d, 15.0), "binary": lambda d: (d <= 15) * 1.0,
         "gaussian": lambda d: gaussian_weight(d, 15.0)}[decay]
    W = np.where(np.isfinite(cost) & (cost <= 15), w(np.where(np.isfinite(cost), cost, 0)), 0)
    ref_w = W.T @ pop
    ref_r = np.divide(sup, ref_w, out=np.zeros(m), where=ref_w > 0)
    np.testing.assert_allclose(acc, W @ ref_r, rtol=1e-12)


def test_capacity_errors_name_the_facility():
    cells, fac = three_cells_two_facilities()
    fac.loc[1, "capacity"] = np.nan
    with pytest.raises(CoverageInputError, match="id='f1' has missing or negative capacity"):
        access_table(cells, fac, "day_care", standards=STRAIGHT)
    with pytest.raises(CoverageInputError, match="age: 70"):
        access_table(cells, fac, "day_care", age=70)


def test_result_cells_are_a_new_frame_and_the_input_is_unchanged():
    """The result shares the input's columns (no copy) but writing to either leaves the other."""
    cells, fac = three_cells_two_facilities()
    before = cells.copy()
    res = access_table(cells, fac, "day_care", standards=STRAIGHT)
    assert "day_care_places_per_1000" not in cells
    assert list(res.cells.columns) == [*before.columns, "day_care_places_per_1000"]
    res.cells.loc[0, "elders_60"] = -1
    cells.loc[1, "elders_65"] = -2
    assert res.cells["elders_65"].tolist() == [60, 30, 120]
    assert before.loc[0, "elders_60"] == cells.loc[0, "elders_60"] == 100
