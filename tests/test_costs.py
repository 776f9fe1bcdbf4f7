"""Travel costs computed once: the same numbers as routing each question again.

Every reader of :mod:`elder_coverage.costs` is checked against the independent path it
replaced: ``reach_matrix`` per kind, a fresh computation for a changed facility set, the
engine's own bounded counts, a full re-evaluation after a plan, and a brute-force sum of
elders per facility.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from test_walk_access import CRS, cells_at, road

from elder_coverage.access import access_table
from elder_coverage.costs import reach_matrix, travel_costs
from elder_coverage.engine import compute_coverage, merge_coverage
from elder_coverage.travel import RoadNetwork

KINDS = ["dining_hall", "day_care", "township_centre"]


def _town(seed: int):
    """A 6 × 6 km street grid (500 m blocks, one fragment), 150 cells and 12 facilities."""
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(crs=CRS)
    step = 500.0
    for i in range(13):
        for j in range(13):
            if i < 12:
                road(G, (i * step, j * step), ((i + 1) * step, j * step))
            if j < 12:
                road(G, (i * step, j * step), (i * step, (j + 1) * step))
    road(G, (9000.0, 9000.0), (9300.0, 9000.0))  # a fragment beyond the grid
    cells = cells_at(*rng.uniform(-500, 7000, size=(150, 2)))
    cells["elders_60"] = rng.integers(0, 40, size=len(cells))
    xy = rng.uniform(0, 6000, size=(12, 2))
    fac = cells_at(*xy).rename(columns={"cell_id": "id"})[["id", "geometry"]]
    fac["id"] = [f"f{i}" for i in range(len(fac))]
    fac["kind"] = [KINDS[i % 3] for i in range(len(fac))]
    fac["name"] = fac["id"]
    fac["capacity"] = rng.integers(5, 50, size=len(fac))
    return cells, fac, RoadNetwork(G)


def _dense(m) -> np.ndarray:
    """Stored pairs as a dense array with NaN for pairs not stored (explicit zeros kept)."""
    out = np.full(m.shape, np.nan)
    coo = m.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("roads", [True, False])
def test_costs_equal_reach_matrix_per_kind(seed, roads):
    cells, fac, net = _town(seed)
    net = net if roads else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        costs = travel_costs(cells, fac, net, kinds=KINDS)
        for kind in KINDS:
            ref = reach_matrix(cells, fac, net, kind=kind)
            np.testing.assert_array_equal(_dense(costs[kind].matrix), _dense(ref))
            assert costs[kind].facility_ids.tolist() == \
                fac.loc[fac["kind"] == kind, "id"].tolist()
            assert costs[kind].unit == ("min" if roads else "m")


@pytest.mark.parametrize("seed", [3, 4])
def test_reused_costs_equal_fresh_costs_after_closing_and_adding(seed):
    cells, fac, net = _town(seed)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = travel_costs(cells, fac, net, kinds=KINDS)
        # Close a third of the facilities, add four new ones between the old rows.
        kept = fac.iloc[np.sort(rng.choice(len(fac), size=8, replace=False))]
        new = kept.iloc[:4].copy()
        new["id"] = [f"n{i}" for i in range(4)]
        new["geometry"] = cells.geometry.iloc[:4].to_numpy()
        after_fac = pd.concat([new.iloc[:2], kept, new.iloc[2:]], ignore_index=True)
        reused = travel_costs(cells, after_fac, net, kinds=KINDS, reuse=before)
        fresh = travel_costs(cells, after_fac, net, kinds=KINDS)
    for kind in KINDS:
        assert reused[kind].facility_ids.tolist() == fresh[kind].facility_ids.tolist()
        np.testing.assert_array_equal(_dense(reused[kind].matrix), _dense(fresh[kind].matrix))


def test_coverage_counts_from_costs_equal_its_own_searches():
    cells, fac, net = _town(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        costs = travel_costs(cells, fac, net)
        own = compute_coverage(cells, fac, net)
        read = compute_coverage(cells, fac, net, costs=costs)
    pd.testing.assert_frame_equal(own.cells, read.cells)
    assert own.report.messages == read.report.messages
    assert read.costs is costs
    with pytest.raises(ValueError, match="other cells"):
        compute_coverage(cells.iloc[:-1], fac, net, costs=costs)


def test_merged_coverage_equals_full_evaluation_after_a_plan():
    cells, fac, net = _town(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = compute_coverage(cells, fac, net)
        # Close every day-care centre but one; dining halls and centres unchanged.
        after = fac[(fac["kind"] != "day_care") | (fac["id"] == "f1")]
        part = compute_coverage(cells, after, net, kinds=["day_care"])
        full = compute_coverage(cells, after, net)
    merged = merge_coverage(base, part)
    pd.testing.assert_frame_equal(merged.cells, full.cells)
    assert merged.report.messages == full.report.messages
    assert merged.report.kinds == full.report.kinds
    assert merged.used_network == full.used_network
    for k in full.report.unreachable_cells:
        np.testing.assert_array_equal(merged.report.unreachable_cells[k],
                                      full.report.unreachable_cells[k])


def test_elders_within_reach_of_each_facility_by_brute_force():
    cells, fac, net = _town(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        costs = travel_costs(cells, fac, net)
        cov = compute_coverage(cells, fac, net)
    elders = cells["elders_60"].to_numpy(float)
    for kind in KINDS:
        kc = costs[kind]
        m = _dense(kc.matrix)
        expect = [elders[~np.isnan(m[:, j])].sum() for j in range(m.shape[1])]
        np.testing.assert_array_equal(kc.within_reach(elders), expect)
        # A populated cell is covered exactly when some facility is within the standard
        # (cells holding nobody are not evaluated: never covered).
        covered = cov.cells[f"{kind}_covered"].to_numpy(bool)
        np.testing.assert_array_equal((kc.counts() > 0) & (elders > 0), covered)
        assert ((kc.counts() > 0) & (elders == 0)).any() or kind != "township_centre"


def test_access_table_reads_costs_without_routing_again():
    cells, fac, net = _town(8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        costs = travel_costs(cells, fac, net)
        for kind in KINDS:
            own = access_table(cells, fac, kind, net)
            read = access_table(cells, fac, kind, net, costs=costs[kind])
            col = f"{kind}_places_per_1000"
            np.testing.assert_array_equal(own.cells[col], read.cells[col])
            np.testing.assert_array_equal(own.facilities["elders_per_place"],
                                          read.facilities["elders_per_place"])


def test_new_sites_on_the_runs_costs_equal_routing_everything():
    from elder_coverage.new_sites import plan_new_sites, tradeoff_curve

    cells, fac, net = _town(9)
    seats = cells.iloc[::10][["geometry"]].assign(code=[f"s{i}" for i in range(15)], name="S",
                                                  county_code="220221",
                                                  township_code="220221100")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        costs = travel_costs(cells, fac, net)
        for max_new in (None, 2):
            own = plan_new_sites("dining_hall", cells, fac, net, seats=seats,
                                 candidates="seats", max_new=max_new, target=0.9)
            read = plan_new_sites("dining_hall", cells, fac, net, seats=seats,
                                  candidates="seats", max_new=max_new, target=0.9, costs=costs)
            assert own.before == read.before and own.after == read.after
            assert own.new_sites["id"].tolist() == read.new_sites["id"].tolist()
        # A part of the cells (one county of a run) reads its rows from the run's costs.
        part = cells.iloc[40:120]
        own = plan_new_sites("dining_hall", part, fac, net, seats=seats, candidates="seats")
        read = plan_new_sites("dining_hall", part, fac, net, seats=seats, candidates="seats",
                              costs=costs)
        assert own.before == read.before and own.after == read.after
        assert own.new_sites["id"].tolist() == read.new_sites["id"].tolist()
        # The curve routes once and solves each n: the same as one plan per n.
        curve = tradeoff_curve("dining_hall", cells, fac, net, max_new=3, seats=seats,
                               candidates="seats")
        for n in (1, 2, 3):
            plan = plan_new_sites("dining_hall", cells, fac, net, seats=seats,
                                  candidates="seats", max_new=n)
            assert curve.loc[curve["new_sites"] == n, "served"].item() == plan.after["served"]
