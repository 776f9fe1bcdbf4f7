"""Policy indicators on a tiny hand-built set of townships, villages and facilities."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point, box

from elder_coverage.engine import CoverageInputError
from elder_coverage.indicators import COLUMNS, policy_indicators

CRS = "EPSG:32651"
X0, Y0 = 500000.0, 4800000.0
# Straight-line standards keep the hand computation readable.
STD = {"township_centre": {"mode": "straight_line", "radius_m": 8000},
       "dining_hall": {"mode": "straight_line", "radius_m": 1000},
       "rural_courtyard": {"mode": "straight_line", "radius_m": 1000}}


def pt(x, y):
    return Point(X0 + x, Y0 + y)


def layers():
    townships = gpd.GeoDataFrame(
        {"code": ["T1", "T2", "T3", "T4"], "name": ["一镇", "二镇", "三街道", "四街道"],
         "county_code": "K", "is_urban": [False, False, True, True]},
        geometry=[pt(0, 0), pt(10000, 0), pt(20000, 0), None], crs=CRS)
    facilities = gpd.GeoDataFrame(
        {"id": ["tc", "dh", "cy1", "cy2", "ch", "dc"],
         "name": ["centre", "hall", "yard1", "yard2", "home", "daycare"],
         "kind": ["township_centre", "dining_hall", "rural_courtyard", "rural_courtyard",
                  "county_home", "day_care"],
         "capacity": [50, 40, 0, 0, 100, 50],
         "nursing_beds": [np.nan, 0, np.nan, np.nan, 60, 10],
         "floor_area_m2": [300, np.nan, np.nan, np.nan, 1000, np.nan],
         "township_code": ["T2", "T1", "T1", "T2", "T1", "T1"],
         "village_code": [None, None, None, "V2", None, None]},
        geometry=[pt(3000, 0), pt(10500, 0), pt(0, 1200), pt(30000, 0), pt(0, -50),
                  pt(100, 100)], crs=CRS)
    villages = gpd.GeoDataFrame(
        {"code": ["V1", "V2", "V3", "V4"], "name": ["甲村", "乙村", "丙村", "丁村"],
         "township_code": ["T1", "T1", "T1", "T2"], "elders_60": [150, 120, 50, 200]},
        geometry=[pt(0, 500), pt(5000, 5000), pt(0, 0), pt(9000, 9000)], crs=CRS)
    cells = gpd.GeoDataFrame(
        {"cell_id": ["a", "b", "c"], "elders_60": [100, 300, 600],
         "dining_hall_covered": [True, False, False],
         "rural_courtyard_covered": [False, True, False],
         "day_care_covered": [False, False, False]},
        geometry=[pt(0, 0), pt(1, 0), pt(2, 0)], crs=CRS)
    return cells, facilities, townships, villages


def by_key(table):
    return {(r.indicator, None if r.year is None or r.year is np.nan else r.year): r
            for r in table.itertuples()}


def test_hand_computed_indicators():
    cells, fac, towns, villages = layers()
    t = policy_indicators(cells, fac, towns, villages, standards=STD)
    assert tuple(t.columns) == COLUMNS
    rows = {(r.indicator, int(r.year) if r.year is not None and not np.isnan(r.year) else None):
            r for r in t.astype({"year": "float"}).itertuples()}
    # Seats: T1 3 km and T2 7 km from the centre (≤ 8 km); T3 17 km; T4 has no seat.
    r = rows[("township_centre_seat_coverage", 2025)]
    assert (r.numerator, r.denominator, r.value) == (2, 4, 0.5)
    assert r.target == 0.6 and r.gap == pytest.approx(0.1)
    assert "1 township(s) without a seat point" in r.note
    assert rows[("township_centre_seat_coverage", 2029)].gap == pytest.approx(0.3)
    # Dining halls: T1 by registration, T2 because the hall is 500 m from its seat.
    r = rows[("township_dining_hall", 2025)]
    assert (r.numerator, r.denominator, r.value, r.gap) == (2, 2, 1.0, 0.0)
    r = rows[("urban_community_dining_hall", 2025)]
    assert (r.numerator, r.denominator, r.value, r.gap) == (0, 2, 0.0, 1.0)
    # Villages with ≥ 100 elders: V1 (yard 700 m away), V2 (yard registered to it), V4 (none).
    r = rows[("village_courtyard_coverage", 2029)]
    assert (r.numerator, r.denominator) == (2, 3)
    assert r.value == pytest.approx(2 / 3) and r.gap == pytest.approx(1 / 3)
    # Elders covered by a hall or a courtyard: 100 + 300 of 1000.
    r = rows[("community_15min_share", 2029)]
    assert (r.numerator, r.denominator, r.value) == (400, 1000, 0.4)
    # Beds (no dining-hall seats): 50 + 0 + 0 + 100 + 50; nursing 60 + 10.
    r = rows[("nursing_bed_share", 2025)]
    assert (r.numerator, r.denominator) == (70, 200)
    assert r.value == pytest.approx(0.35) and r.gap == pytest.approx(0.20)
    assert rows[("nursing_bed_share", 2029)].gap == pytest.approx(0.35)
    assert "without nursing_beds counted as 0" in r.note
    r = rows[("floor_area_per_elder", None)]
    assert r.value == pytest.approx(1.3) and r.gap == pytest.approx(0.12 - 1.3)
    assert r.unit == "m2/person" and "lower bound" in r.note
    assert set(t["label_zh"]) >= {"护理型床位占比", "一刻钟养老服务圈覆盖老年人比例"}


def test_threshold_targets_and_not_available():
    cells, fac, towns, villages = layers()
    fac = fac.drop(columns=["floor_area_m2"])
    t = policy_indicators(cells, fac, towns, villages, standards=STD, many_elders=130,
                          targets={"community_15min_share": [(2027, 0.5)]})
    vill = t.loc[t["indicator"] == "village_courtyard_coverage"].iloc[0]
    assert (vill["numerator"], vill["denominator"]) == (1, 2)  # V1 covered, V4 not
    com = t.loc[t["indicator"] == "community_15min_share"].iloc[0]
    assert (com["year"], com["target"], com["gap"]) == (2027, 0.5, pytest.approx(0.1))
    area = t.loc[t["indicator"] == "floor_area_per_elder"].iloc[0]
    assert np.isnan(area["value"]) and np.isnan(area["gap"])
    assert area["note"] == "not available: facilities have no floor_area_m2"
    t2 = policy_indicators(cells, fac, towns, None, standards=STD)
    vill = t2.loc[t2["indicator"] == "village_courtyard_coverage"].iloc[0]
    assert np.isnan(vill["value"]) and "no village table" in vill["note"]
    with pytest.raises(CoverageInputError, match="targets: unknown indicator 'happiness'"):
        policy_indicators(cells, fac, towns, targets={"happiness": [(2025, 1)]})


def test_seats_layer_network_standard_and_bad_inputs():
    cells, fac, towns, villages = layers()
    polys = towns.copy()
    polys.geometry = [box(X0 - 1, Y0 - 1, X0 + 1, Y0 + 1)] * 4
    with pytest.raises(CoverageInputError, match="code='T1' has a Polygon geometry; pass seat"):
        policy_indicators(cells, fac, polys, standards=STD)
    seats = gpd.GeoDataFrame({"code": ["T2", "T1"]}, geometry=[pt(10000, 0), pt(0, 0)],
                             crs=CRS)
    # A drive network where the centre is 10 min from T1 and 30 min from T2 (standard 20).
    G = nx.MultiDiGraph(crs=CRS)
    for name, x in (("a", 0.0), ("b", 3000.0), ("c", 10000.0)):
        G.add_node(name, x=X0 + x, y=Y0)
    for u, v, m in (("a", "b", 10.0), ("b", "a", 10.0), ("b", "c", 30.0), ("c", "b", 30.0)):
        G.add_edge(u, v, drive_min=m, walk_min=np.inf)
    t = policy_indicators(cells, fac, polys, villages, seats=seats, graph=G,
                          standards={"dining_hall": {"mode": "straight_line"},
                                     "rural_courtyard": {"mode": "straight_line"}})
    r = t.loc[t["indicator"] == "township_centre_seat_coverage"].iloc[0]
    assert (r["numerator"], r["denominator"]) == (1, 4)
    assert "2 township(s) without a seat point" in r["note"]
    with pytest.raises(CoverageInputError, match="CRS mismatch"):
        policy_indicators(cells, fac, towns, villages.to_crs("EPSG:32652"), standards=STD)
    with pytest.raises(CoverageInputError, match="missing column 'is_urban'"):
        policy_indicators(cells, fac, towns.drop(columns="is_urban"), standards=STD)
