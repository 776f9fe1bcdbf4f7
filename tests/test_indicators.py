"""Policy indicators on a tiny hand-built study: every numerator and denominator by hand."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from elder_coverage.engine import CoverageInputError
from elder_coverage.indicators import (
    COLUMNS,
    courtyard_threshold_scan,
    high_need_villages,
    policy_indicators,
)
from elder_coverage.policy import load_policy
from elder_coverage.report import _indicator_section

CRS = "EPSG:32651"
X0, Y0 = 500000.0, 4800000.0
# Straight-line standards keep the hand computation readable.
STD = {"township_centre": {"mode": "straight_line", "radius_m": 8000},
       "dining_hall": {"mode": "straight_line", "radius_m": 1000},
       "rural_courtyard": {"mode": "straight_line", "radius_m": 1000},
       "embedded_centre": {"mode": "straight_line", "radius_m": 1000}}
NA = np.nan


def pt(x, y):
    return Point(X0 + x, Y0 + y)


def layers():
    """Four rural townships T1-T4, two streets S1-S2, four villages, three counties."""
    townships = gpd.GeoDataFrame(
        {"code": ["T1", "T2", "T3", "T4", "S1", "S2"],
         "name": ["一镇", "二镇", "三镇", "四镇", "一街道", "二街道"],
         "is_urban": [False, False, False, False, True, True]},
        geometry=[pt(0, 0), pt(10000, 0), pt(40000, 0), pt(0, 30000), pt(20000, 0),
                  pt(25000, 0)], crs=CRS)
    fac = gpd.GeoDataFrame(
        {"id": ["tc1", "tc2", "tc3", "dh1", "dh2", "cy1", "cy2", "ch1", "ch2", "dc1", "ec1"],
         "kind": ["township_centre", "township_centre", "township_centre", "dining_hall",
                  "dining_hall", "rural_courtyard", "rural_courtyard", "county_home",
                  "county_home", "day_care", "embedded_centre"],
         "capacity": [50, 30, 20, 40, 30, 0, 0, 100, 80, 50, 40],
         "nursing_beds": [10, 30, NA, NA, NA, NA, NA, 60, NA, 10, NA],
         "floor_area_m2": [300, NA, NA, NA, NA, NA, NA, 1000, NA, NA, NA],
         "land_m2": [NA, NA, NA, NA, NA, NA, NA, NA, NA, 300, 600],
         "county_managed": pd.array([True, False, None] + [None] * 8, dtype="boolean"),
         # tc1 is a cross-township centre that also serves T3 (37 km away).
         "serves_townships": ["T3", None, None, None, None, None, None, None, None, None,
                              None],
         "township_code": ["T1", "S1", "T9", None, "S2", "T1", "T2", "T1", None, "T1", "S1"],
         "village_code": [None] * 6 + ["V2"] + [None] * 4,
         "county_code": [None] * 7 + ["K1", None, None, None]},
        geometry=[pt(3000, 0), pt(20500, 0), pt(100000, 0), pt(10500, 0), pt(50000, 0),
                  pt(0, 1200), pt(30000, 0), pt(0, -50), pt(90000, 0), pt(100, 100),
                  pt(20000, 200)], crs=CRS)
    villages = gpd.GeoDataFrame(
        {"code": ["V1", "V2", "V3", "V4", "C1"], "elders_60": [150, 120, 50, 200, 900],
         "elders_80": [30, 12, 5, 20, 300], "is_urban": [False, False, False, False, True]},
        geometry=[pt(0, 500), pt(5000, 5000), pt(0, 0), pt(9000, 9000), pt(25000, 0)],
        crs=CRS)
    cells = gpd.GeoDataFrame(
        {"cell_id": ["a", "b", "c"], "elders_60": [100, 300, 600],
         "elders_80": [10, 30, 60],
         "dining_hall_covered": [True, False, False],
         "rural_courtyard_covered": [False, True, False],
         "day_care_covered": [False, False, False]},
        geometry=[pt(0, 0), pt(1, 0), pt(2, 0)], crs=CRS)
    counties = gpd.GeoDataFrame(
        {"code": ["K1", "K2", "K3"], "city_code": "2202"},
        geometry=[box(X0 - 50000, Y0 - 50000, X0 + 45000, Y0 + 50000),
                  box(X0 + 45000, Y0 - 50000, X0 + 70000, Y0 + 50000),
                  box(X0 + 70000, Y0 - 50000, X0 + 150000, Y0 + 50000)], crs=CRS)
    return cells, fac, townships, villages, counties


def rows_of(table):
    return {(r.indicator, None if pd.isna(r.year) else int(r.year)): r
            for r in table.itertuples()}


@pytest.fixture
def table():
    cells, fac, towns, villages, counties = layers()
    return policy_indicators(cells, fac, towns, villages, counties=counties, residents=10000,
                             standards=STD)


def test_every_registry_indicator_is_reported_with_its_source(table):
    assert tuple(table.columns) == COLUMNS
    pol = load_policy()
    assert list(dict.fromkeys(table["indicator"])) == list(pol.indicators)
    for key, ind in pol.indicators.items():
        got = table[table["indicator"] == key]
        want = [(t.year, t.source, t.scope) for t in ind.targets] or \
            [(None, ind.reference or "descriptive (no target)", "study_area")]
        assert [(None if pd.isna(y) else int(y), s, sc) for y, s, sc in
                zip(got["year"], got["source"], got["scope"], strict=True)] == want
        assert got["label_zh"].str.len().gt(0).all() and got["label_en"].str.len().gt(0).all()


def test_regional_centres_built_and_covering_are_two_measures(table):
    r = rows_of(table)
    # Built (2025, city, all six units): tc1 in T1, tc2 in S1; tc3's T9 is not in the table.
    b = r[("regional_centre_built_rate", 2025)]
    assert (b.numerator, b.denominator, b.target, b.scope) == (2, 6, 0.6, "city")
    assert b.value == pytest.approx(1 / 3) and b.gap == pytest.approx(0.6 - 1 / 3)
    assert b.source == "吉市政发〔2022〕11号 专栏2 第1项"
    # Covered (2029, province, the four 乡镇 only): T1 own centre, T3 listed by tc1's
    # serves_townships, T2's seat 7 km from tc1 (≤ 8 km); T4 none.
    c = r[("regional_centre_township_coverage", 2029)]
    assert (c.numerator, c.denominator, c.value, c.target) == (3, 4, 0.75, 0.8)
    assert c.gap == pytest.approx(0.05) and c.source == "吉民发〔2025〕20号 第2条"
    assert "1 with their own centre, 1 listed in a centre's serves_townships, 1 reached" in c.note


def test_county_managed_embedded_and_dining(table):
    r = rows_of(table)
    # tc1 true, tc2 false, tc3 unknown → 1 of 3, unknown not credited.
    m = r[("township_centre_county_managed", 2029)]
    assert (m.numerator, m.denominator, m.target) == (1, 3, 0.5)
    assert m.value == pytest.approx(1 / 3) and "1 centre(s) without county_managed" in m.note
    # Embedded centre registered to S1 only.
    e = r[("embedded_centre_street", 2029)]
    assert (e.numerator, e.denominator, e.value, e.gap) == (1, 2, 0.5, 0.5)
    # Halls: dh1 (no code) 500 m from T2's seat; dh2 registered to S2, 25 km from its seat.
    d = r[("township_dining_hall", 2025)]
    assert (d.numerator, d.denominator, d.value) == (1, 4, 0.25)
    u = r[("urban_community_dining_hall", 2025)]
    assert (u.numerator, u.denominator, u.value) == (1, 2, 0.5)


def test_villages_two_targets_and_threshold_scan(table):
    r = rows_of(table)
    # ≥ 100 elders: V1 (yard 700 m away), V2 (yard registered), V4 (none) → 2 of 3; the
    # urban community C1 (900 elders, no yard) is not a village.
    old, new = r[("village_courtyard_coverage", 2025)], r[("village_courtyard_coverage", 2029)]
    for row in (old, new):
        assert (row.numerator, row.denominator) == (2, 3)
        assert row.value == pytest.approx(2 / 3)
    assert old.source == "吉民议字〔2023〕23号 四、二"
    assert new.source == "吉民发〔2025〕20号 第11条"
    # ≥ 50: V1-V4 (V3 is 1.2 km from the yard) 2/4; ≥ 150: V1, V4 1/2; ≥ 200: V4 0/1.
    assert ">= 50: 2/4 = 50%, >= 100: 2/3 = 67%, >= 150: 1/2 = 50%, >= 200: 0/1 = 0%" \
        in old.note
    assert ">= 100 elders 60+" in old.note and "assumptions" in old.note


def test_village_criteria_concentration_and_need():
    cells, fac, towns, villages, counties = layers()
    # Need: 80+ share ≥ 15 % → V1 (20 %) only; V2 10 %, V4 10 %.
    t = policy_indicators(cells, fac, towns, villages, standards=STD,
                          village_criteria={"min_share_80": 0.15})
    row = rows_of(t)[("village_courtyard_coverage", 2029)]
    assert (row.numerator, row.denominator) == (1, 1) and "80+ share >= 15%" in row.note
    # Concentration: 1000 elders in cells within 1 km of V1 (and of V3), none near V2, V4.
    got = high_need_villages(villages, cells, min_elders_60=None,
                             min_elders_within_radius=500, concentration_radius_m=1000)
    assert got.tolist() == [True, False, True, False, False]
    # Need from the cells when villages have no elders_80: 100/1000 around V1 and V3.
    got = high_need_villages(villages.drop(columns="elders_80"), cells, min_share_80=0.1)
    assert got.tolist() == [True, False, True, False, False]
    with pytest.raises(CoverageInputError, match="needs 'elders_80'"):
        high_need_villages(villages.drop(columns="elders_80"),
                           cells.drop(columns="elders_80"), min_share_80=0.1)
    with pytest.raises(CoverageInputError, match="village_criteria: unknown key 'many'"):
        policy_indicators(cells, fac, towns, villages, standards=STD,
                          village_criteria={"many": 3})


def test_counties_beds_and_city_scope(table):
    r = rows_of(table)
    # K1 has ch1 by code, K3 has ch2 by its polygon, K2 none.
    k = r[("county_destitute_care_facility", 2025)]
    assert (k.numerator, k.denominator, k.target) == (2, 3, 1.0)
    assert k.value == pytest.approx(2 / 3)
    # Beds: 50 + 30 + 20 + 0 + 0 + 100 + 80 + 50 (halls and embedded centre excluded).
    b = r[("beds_total", 2025)]
    assert b.value == 330
    # 1,000 elders of Jilin City's 915,000: target 35,000 × 1000 / 915000.
    assert b.target == pytest.approx(35000 * 1000 / 915000)
    assert "pro-rated" in b.note and "915,000" in b.note and b.scope == "city"
    p = r[("beds_per_1000_elders", None)]
    assert p.value == pytest.approx(330.0) and np.isnan(p.target)
    n = r[("nursing_bed_share", 2025)]
    assert (n.numerator, n.denominator) == (110, 330) and n.value == pytest.approx(1 / 3)
    assert r[("nursing_bed_share", 2029)].target == 0.7
    assert r[("nursing_bed_share", 2029)].scope == "province"
    assert "compared with the study area's rate" in n.note  # city target, part of the city


def test_whole_city_and_outside_city():
    cells, fac, towns, villages, counties = layers()
    cells["elders_60"] = [100000, 315000, 500000]  # all 915,000 of the city
    t = rows_of(policy_indicators(cells, fac, towns, villages, counties=counties,
                                  standards=STD))
    b = t[("beds_total", 2025)]
    assert b.target == 35000 and b.gap == 35000 - 330 and "pro-rated" not in b.note
    counties["city_code"] = "2201"  # Changchun: the Jilin City targets do not apply
    t = rows_of(policy_indicators(cells, fac, towns, villages, counties=counties,
                                  standards=STD))
    for key in (("beds_total", 2025), ("nursing_bed_share", 2025),
                ("regional_centre_built_rate", 2025)):
        assert np.isnan(t[key].target) and "lies outside it" in t[key].note
    assert t[("nursing_bed_share", 2029)].target == 0.7  # the province target still does


def test_land_per_resident_never_floor_area(table):
    r = rows_of(table)
    # Community land: dc1 300 + ec1 600 over 10,000 residents; 4 community sites lack land.
    land = r[("community_land_per_resident", None)]
    assert (land.numerator, land.denominator, land.target) == (900, 10000, 0.12)
    assert land.value == pytest.approx(0.09) and land.gap == pytest.approx(0.03)
    assert "4 community facilit(y/ies) without land_m2" in land.note
    floor = r[("floor_area_per_elder", None)]
    assert floor.value == pytest.approx(1.3) and np.isnan(floor.target)
    assert floor.source == "descriptive (no target)"
    cells, fac, towns, villages, counties = layers()
    t = rows_of(policy_indicators(cells, fac.drop(columns="land_m2"), towns, villages,
                                  residents=10000, standards=STD))
    land = t[("community_land_per_resident", None)]
    assert np.isnan(land.value) and land.note.startswith("not available: ")
    assert "floor area is not land" in land.note
    t = rows_of(policy_indicators(cells, fac, towns, villages, standards=STD))
    land = t[("community_land_per_resident", None)]
    assert np.isnan(land.value) and "residents of all ages" in land.note
    cells["residents"] = [2000, 2000, 1000]  # a residents column on the cells is used
    t = rows_of(policy_indicators(cells, fac, towns, villages, standards=STD))
    assert t[("community_land_per_resident", None)].value == pytest.approx(900 / 5000)


def test_quarter_hour_share_descriptive_and_overrides(table):
    r = rows_of(table)[("community_15min_share", None)]
    assert (r.numerator, r.denominator, r.value) == (400, 1000, 0.4)
    assert np.isnan(r.target) and r.source == "吉民发〔2025〕20号 第6条"
    cells, fac, towns, villages, counties = layers()
    t = policy_indicators(cells, fac, towns, villages, standards=STD,
                          targets={"community_15min_share": [(2027, 0.5)]})
    r = rows_of(t)[("community_15min_share", 2027)]
    assert (r.target, r.source) == (0.5, "user override") and r.gap == pytest.approx(0.1)
    assert r.scope == "study_area"
    # An own beds target for the study area is not pro-rated as the city's 35,000 is.
    t = policy_indicators(cells, fac, towns, villages, standards=STD,
                          targets={"beds_total": [(2025, 300)]})
    r = rows_of(t)[("beds_total", 2025)]
    assert (r.target, r.gap) == (300, -30) and "pro-rated" not in r.note
    with pytest.raises(CoverageInputError, match="targets: unknown indicator 'happiness'"):
        policy_indicators(cells, fac, towns, targets={"happiness": [(2025, 1)]},
                          standards=STD)


def test_missing_layers_say_not_available():
    cells, fac, towns, villages, counties = layers()
    t = policy_indicators(cells, fac.drop(columns=["county_managed", "nursing_beds"]), None,
                          None, standards=STD)
    for key in ("regional_centre_built_rate", "regional_centre_township_coverage",
                "township_dining_hall", "urban_community_dining_hall",
                "embedded_centre_street", "village_courtyard_coverage",
                "county_destitute_care_facility", "township_centre_county_managed",
                "nursing_bed_share"):
        got = t[t["indicator"] == key]
        assert got["value"].isna().all(), key
        assert got["note"].str.startswith("not available: ").all(), key
        assert got["gap"].isna().all(), key


def test_report_shows_source_and_scope(table):
    # The section is a list of blocks for the report template; its text is what we check.
    html = str(_indicator_section(table, {}, "zh", None))
    assert "依据（文号、条款）" in html and "目标范围" in html
    assert "吉民发〔2025〕20号 第2条" in html and "吉林市" in html and "吉林省" in html
    html = str(_indicator_section(table, {}, "en", None))
    assert "Jilin City" in html and "Source (document, clause)" in html


@pytest.mark.filterwarnings("ignore:township_centre. 2 facilit")
def test_seats_layer_network_standard_and_bad_inputs():
    cells, fac, towns, villages, counties = layers()
    polys = towns.copy()
    polys.geometry = [box(X0 - 1, Y0 - 1, X0 + 1, Y0 + 1)] * 6
    with pytest.raises(CoverageInputError, match="code='T1' has a Polygon geometry; pass seat"):
        policy_indicators(cells, fac, polys, standards=STD)
    seats = gpd.GeoDataFrame({"code": ["T2", "T1"]}, geometry=[pt(10000, 0), pt(0, 0)],
                             crs=CRS)
    # A drive network where tc1 is 10 min from T1 and 30 min from T2 (standard 20).
    G = nx.MultiDiGraph(crs=CRS)
    for name, x in (("a", 0.0), ("b", 3000.0), ("c", 10000.0)):
        G.add_node(name, x=X0 + x, y=Y0)
    for u, v, m in (("a", "b", 10.0), ("b", "a", 10.0), ("b", "c", 30.0), ("c", "b", 30.0)):
        G.add_edge(u, v, drive_min=m, walk_min=np.inf)
    straight = {k: {"mode": "straight_line"} for k in
                ("dining_hall", "rural_courtyard", "embedded_centre", "day_care",
                 "county_home")}
    t = policy_indicators(cells, fac, polys, villages, seats=seats, graph=G,
                          standards=straight)
    r = rows_of(t)[("regional_centre_township_coverage", 2029)]
    # T1 own, T3 listed; T2 is 30 min away now; T4 has no seat.
    assert (r.numerator, r.denominator) == (2, 4)
    assert "4 township(s) without a seat point" in r.note
    with pytest.raises(CoverageInputError, match="CRS mismatch"):
        policy_indicators(cells, fac, towns, villages.to_crs("EPSG:32652"), standards=STD)
    with pytest.raises(CoverageInputError, match="missing column 'is_urban'"):
        policy_indicators(cells, fac, towns.drop(columns="is_urban"), standards=STD)


def test_summary_records_carry_source_scope_and_year(table):
    from elder_coverage.tables import records as _records  # as summary.json holds them

    recs = _records(table)
    assert len(recs) == len(table)
    for rec in recs:
        assert rec["source"] and rec["scope"] in ("province", "city", "study_area")
        assert "year" in rec
    by = {(r["indicator"], r["year"]): r for r in recs}
    assert by[("beds_total", 2025)]["source"] == "吉市政发〔2022〕11号 主要指标 第1项"
    assert by[("beds_total", 2025)]["scope"] == "city"
    assert by[("floor_area_per_elder", None)]["target"] is None


def test_facility_list_columns_for_the_indicators(tmp_path):
    from elder_coverage.io import InputError, read_facilities

    p = tmp_path / "机构.csv"
    p.write_text("编号,名称,类型,床位数,用地面积,县级直管,服务乡镇,经度,纬度\n"
                 "1,甲镇福利服务中心,乡镇福利服务中心,60,1500,是,T2;T3,126.55,43.84\n"
                 "2,乙街道中心,综合嵌入式养老服务中心,30,800,,,126.56,43.85\n",
                 encoding="utf-8")
    f = read_facilities(p)
    assert f["kind"].tolist() == ["township_centre", "embedded_centre"]
    assert f["land_m2"].tolist() == [1500, 800]
    assert f["county_managed"].iloc[0] == True and pd.isna(f["county_managed"].iloc[1])  # noqa: E712
    assert f["serves_townships"].iloc[0] == "T2;T3" and pd.isna(f["serves_townships"].iloc[1])
    p.write_text("编号,名称,类型,床位数,用地面积,经度,纬度\n"
                 "1,甲,日间照料中心,5,-3,126.55,43.84\n", encoding="utf-8")
    with pytest.raises(InputError, match="land area is negative") as err:
        read_facilities(p)
    assert "用地面积" in str(err.value) and "机构.csv" in str(err.value)


def test_courtyard_threshold_scan_table():
    cells, fac, towns, villages, counties = layers()
    scan = courtyard_threshold_scan(villages, fac, cells, thresholds=[50, 150, 1000],
                                    standards=STD)
    assert scan[["min_elders_60", "villages", "covered"]].values.tolist() == [
        [50, 4, 2], [150, 2, 1], [1000, 0, 0]]
    assert scan["share"].iloc[0] == 0.5 and np.isnan(scan["share"].iloc[2])
    # Holding the need criterion fixed: only V1 (80+ share 20 %) is left at ≥ 50.
    scan = courtyard_threshold_scan(villages, fac, cells, thresholds=[50], standards=STD,
                                    village_criteria={"min_share_80": 0.15})
    assert scan[["villages", "covered"]].values.tolist() == [[1, 1]]


def test_reach_memo_routes_each_point_layer_once(monkeypatch):
    """A second demand year (other elders) reuses the reach of seats and villages exactly."""
    import elder_coverage.indicators as ind

    cells, fac, towns, villages, counties = layers()
    calls = []
    real = ind.compute_coverage
    monkeypatch.setattr(ind, "compute_coverage",
                        lambda *a, **k: calls.append(k["kinds"]) or real(*a, **k))
    std = ind.resolve_standards(STD)
    kw = {"counties": counties, "residents": 10000, "standards": std}
    memo = []
    first = policy_indicators(cells, fac, towns, villages, reach_memo=memo, **kw)
    n_first = len(calls)
    assert n_first == 3  # seats to centres and halls, villages to courtyards
    older_cells = cells.assign(elders_60=cells["elders_60"] * 2)
    older_villages = villages.assign(elders_60=villages["elders_60"] * 0.7)
    again = policy_indicators(older_cells, fac, towns, older_villages, reach_memo=memo, **kw)
    assert len(calls) == n_first  # nothing routed again
    fresh = policy_indicators(older_cells, fac, towns, older_villages, **kw)
    pd.testing.assert_frame_equal(again, fresh)
    assert not again.equals(first)  # the elders did change the table
    # Other facilities or moved villages are routed again, never answered from the memo.
    del calls[:]
    policy_indicators(cells, fac.copy(), towns, villages, reach_memo=memo, **kw)
    assert len(calls) == n_first
    moved = villages.set_geometry(villages.geometry.translate(5000, 0))
    moved_table = policy_indicators(cells, fac, towns, moved, reach_memo=memo, **kw)
    assert calls[n_first:] == [["rural_courtyard"]]
    pd.testing.assert_frame_equal(
        moved_table, policy_indicators(cells, fac, towns, moved, **kw))
