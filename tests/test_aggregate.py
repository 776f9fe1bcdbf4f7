"""Area tables and ranked gaps: exact population conservation and hand-computed values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from elder_coverage.aggregate import (
    UNASSIGNED,
    area_codes,
    area_table,
    area_tables,
    ranked_gaps,
    ranked_gaps_of,
)
from elder_coverage.engine import CoverageInputError, compute_coverage

CRS = "EPSG:32651"
KINDS = ("county_home", "township_centre", "rural_courtyard", "dining_hall", "day_care")


def coverage_frame(elders, codes, counties, covered: dict[str, list[bool]]):
    n = len(elders)
    e = np.asarray(elders, dtype=float)
    frame = gpd.GeoDataFrame(
        {"cell_id": [f"c{i}" for i in range(n)], "elders_60": e, "elders_65": e // 2,
         "elders_80": e // 4, "township_code": codes, "county_code": counties},
        geometry=gpd.points_from_xy(500000 + np.arange(n) * 100.0, np.full(n, 4800000.0)),
        crs=CRS)
    for k in KINDS:
        frame[f"{k}_covered"] = covered.get(k, [False] * n)
    return frame


def test_hand_computed_township_county_and_study_area():
    cells = coverage_frame(
        [10, 20, 30, 40, 5, 7],
        ["t1", "t1", "t2", "t2", None, " "],
        ["k1", "k1", "k2", "k2", "k2", None],
        {"dining_hall": [True, False, True, True, True, False],
         "day_care": [False, False, False, True, False, False],
         "rural_courtyard": [False, True, False, False, False, False]},
    )
    fac = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "kind": ["county_home", "township_centre", "dining_hall", "day_care", "rural_courtyard"],
        "capacity": [100, 40, 30, 10, 8],
        "nursing_beds": [60, 10, 0, np.nan, 2],
        "township_code": ["t1", "t2", "t2", None, "t2"],
        "county_code": ["k1", "k2", "k2", "k2", "k2"],
    })
    town = area_table(cells, fac, level="township").set_index("code")
    assert list(town.index) == ["t1", "t2", UNASSIGNED]
    assert town["elders_60"].tolist() == [30, 70, 12]
    assert town["n_cells"].tolist() == [2, 2, 2]
    assert town["dining_hall_covered"].tolist() == [10, 70, 5]
    assert town["dining_hall_uncovered"].tolist() == [20, 0, 7]
    assert town.loc["t1", "dining_hall_share"] == pytest.approx(1 / 3)
    # Covered by dining hall OR courtyard OR day care.
    assert town["community_covered"].tolist() == [30, 70, 5]
    # Beds: dining-hall seats excluded; facility without township code → unassigned.
    assert town["beds"].tolist() == [100, 48, 10]
    assert town["nursing_beds"].tolist() == [60, 12, 0]
    assert town.loc["t1", "beds_per_1000"] == pytest.approx(100 / 30 * 1000)
    assert town.loc["t2", "nursing_bed_share"] == pytest.approx(12 / 48)
    county = area_table(cells, fac, level="county").set_index("code")
    assert list(county.index) == ["k1", "k2", UNASSIGNED]
    assert county["elders_60"].tolist() == [30, 75, 7]
    assert county["beds"].tolist() == [100, 58, 0]
    whole = area_table(cells, fac, level="study_area").iloc[0]
    assert (whole["code"], whole["elders_60"], whole["elders_65"]) == ("study_area", 112, 55)
    assert whole["beds"] == 158 and whole["nursing_beds"] == 72
    assert whole["nursing_bed_share"] == pytest.approx(72 / 158)
    stacked = area_tables(cells, fac)
    assert stacked["level"].value_counts().to_dict() == {"township": 3, "county": 3,
                                                          "study_area": 1}
    named = area_table(cells, level="township", names={"t1": "甲镇"})
    assert named["name"].tolist() == ["甲镇", "", ""]
    assert named["beds"].isna().all()


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 10**7), st.sampled_from(["t1", "t2", "t3", None, ""]),
                  st.booleans(), st.booleans()),
        min_size=1, max_size=80),
)
def test_every_elder_counted_once_exactly(data):
    elders = [d[0] for d in data]
    codes = [d[1] for d in data]
    counties = [None if c is None else ("k1" if c in ("t1", "t2") else "k2") for c in codes]
    cells = coverage_frame(elders, codes, counties,
                           {"dining_hall": [d[2] for d in data], "day_care": [d[3] for d in data],
                            "rural_courtyard": [False] * len(data)})
    total = float(sum(elders))
    for level in ("township", "county", "study_area"):
        t = area_table(cells, level=level)
        assert t["elders_60"].sum() == total
        assert t["n_cells"].sum() == len(data)
        for k in (*KINDS, "community"):
            assert (t[f"{k}_covered"] + t[f"{k}_uncovered"] == t["elders_60"]).all()
            assert t[f"{k}_covered"].sum() + t[f"{k}_uncovered"].sum() == total
    n_unassigned = sum(c is None or c == "" for c in codes)
    town = area_table(cells, level="township").set_index("code")
    assert (UNASSIGNED in town.index) == (n_unassigned > 0)


def test_end_to_end_with_engine_conserves_population():
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 3000, size=(300, 2)) + [500000, 4800000]
    elders = rng.integers(0, 30, size=300)
    cells = gpd.GeoDataFrame(
        {"cell_id": np.arange(300), "elders_60": elders, "elders_65": elders // 2,
         "elders_80": elders // 5,
         "township_code": rng.choice(["a", "b", None], size=300),
         "county_code": "k"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)
    fxy = rng.uniform(0, 3000, size=(6, 2)) + [500000, 4800000]
    fac = gpd.GeoDataFrame({"id": range(6), "name": "f", "kind": ["dining_hall"] * 6,
                            "capacity": 20},
                           geometry=gpd.points_from_xy(fxy[:, 0], fxy[:, 1]), crs=CRS)
    with pytest.warns(UserWarning):
        cov = compute_coverage(cells, fac)
    t = area_table(cov, fac)
    assert t["elders_60"].sum() == elders.sum()
    assert t["dining_hall_covered"].sum() == elders[cov.cells["dining_hall_covered"]].sum()
    assert (t["dining_hall_covered"] + t["dining_hall_uncovered"] == t["elders_60"]).all()


def test_ranked_gaps_cells_and_villages():
    cells = coverage_frame([10, 50, 30, 0, 20], ["t1"] * 5, ["k1"] * 5,
                           {"dining_hall": [False, False, True, False, False],
                            "day_care": [True, False, False, False, False]})
    top = ranked_gaps(cells, "dining_hall", top=2)
    assert top["code"].tolist() == ["c1", "c4"]
    assert top["uncovered"].tolist() == [50, 20]
    assert top["share"].tolist() == pytest.approx([50 / 80, 20 / 80])
    assert top["cum_share"].tolist() == pytest.approx([50 / 80, 70 / 80])
    to_ll = Transformer.from_crs(CRS, 4326, always_xy=True)
    lon, lat = to_ll.transform(500100.0, 4800000.0)
    assert (top.loc[0, "lon"], top.loc[0, "lat"]) == pytest.approx((lon, lat))
    # Any of several kinds: c0 is covered by day care.
    both = ranked_gaps(cells, ["dining_hall", "day_care"], top=None)
    assert both["code"].tolist() == ["c1", "c4"]
    villages = gpd.GeoDataFrame(
        {"code": ["v1", "v2"], "name": ["一村", "二村"], "township_code": ["t1", "t1"]},
        geometry=gpd.points_from_xy([500000.0, 500400.0], [4800000.0, 4800000.0]), crs=CRS)
    # c0, c1 → v1 (60 uncovered); c4 → v2 (20); c3 has no elders and is left out.
    ranked = ranked_gaps(cells, "dining_hall", villages=villages)
    assert ranked[["code", "name", "n_cells", "uncovered"]].values.tolist() == [
        ["v1", "一村", 2, 60.0], ["v2", "二村", 1, 20.0]]
    with pytest.raises(CoverageInputError, match="CRS mismatch"):
        ranked_gaps(cells, "dining_hall", villages=villages.to_crs(4326))
    with pytest.raises(CoverageInputError, match="no column 'hospital_covered'"):
        ranked_gaps(cells, "hospital")


def _gaps_reference(cells, kind, villages):
    """Ranked gaps by brute force: every uncovered cell to its nearest village, one kind."""
    kinds = [kind] if isinstance(kind, str) else list(kind)
    covered = np.zeros(len(cells), dtype=bool)
    for k in kinds:
        covered |= cells[f"{k}_covered"].to_numpy(bool)
    unc = np.where(covered, 0.0, cells["elders_60"].to_numpy(float))
    keep = np.flatnonzero(unc > 0)
    cx, cy = cells.geometry.x.to_numpy()[keep], cells.geometry.y.to_numpy()[keep]
    vx, vy = villages.geometry.x.to_numpy(), villages.geometry.y.to_numpy()
    nearest = np.argmin((cx[:, None] - vx) ** 2 + (cy[:, None] - vy) ** 2, axis=1)
    rows = []
    for v in sorted(set(nearest)):
        mine = nearest == v
        rows.append((str(villages["code"].iloc[v]), int(mine.sum()), unc[keep][mine].sum()))
    rows.sort(key=lambda r: (-r[2], r[0]))
    total = unc.sum()
    return [(i + 1, code, n, u, u / total) for i, (code, n, u) in enumerate(rows)]


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 30), st.booleans(), st.booleans(),
                               st.integers(0, 40), st.integers(0, 40)),
                     min_size=1, max_size=60),
       n_villages=st.integers(1, 8))
def test_ranked_gaps_of_several_kinds_equals_brute_force(data, n_villages):
    """One nearest-village query for all kinds gives each kind's own ranking exactly.

    Cells and villages sit on a coarse lattice (ties in distance are left out: which of two
    equidistant villages wins is the KD-tree's choice, not a property of the ranking).
    """
    cells = coverage_frame([d[0] for d in data], ["t1"] * len(data), ["k1"] * len(data),
                           {"dining_hall": [d[1] for d in data],
                            "day_care": [d[2] for d in data]})
    cells = cells.set_geometry(gpd.points_from_xy(500000 + 100.0 * np.array([d[3] for d in data]),
                                                  4800000 + 100.0 * np.array([d[4] for d in data])),
                               crs=CRS)
    rng = np.random.default_rng(len(data) * 10 + n_villages)
    # Villages off the lattice by distinct fractions: no cell is equally near two of them.
    vx = 500000 + rng.uniform(0, 4000, n_villages) + np.arange(n_villages) * 0.37
    vy = 4800000 + rng.uniform(0, 4000, n_villages) + np.arange(n_villages) * 0.11
    villages = gpd.GeoDataFrame({"code": [f"v{i}" for i in range(n_villages)],
                                 "name": [f"村{i}" for i in range(n_villages)],
                                 "township_code": "t1", "county_code": "k1"},
                                geometry=gpd.points_from_xy(vx, vy), crs=CRS)
    kinds = ["dining_hall", "day_care", ["dining_hall", "day_care"]]
    tables = ranked_gaps_of(cells, kinds, villages=villages, top=None)
    for kind, table in zip(kinds, tables, strict=True):
        want = _gaps_reference(cells, kind, villages)
        got = list(table[["rank", "code", "n_cells", "uncovered", "share"]].itertuples(
            index=False, name=None))
        assert [g[:4] for g in got] == [w[:4] for w in want]
        assert [g[4] for g in got] == pytest.approx([w[4] for w in want])
        pd.testing.assert_frame_equal(table, ranked_gaps(cells, kind, villages=villages,
                                                         top=None))
    # Cells ranked as themselves: the same as one kind at a time.
    for kind, table in zip(kinds, ranked_gaps_of(cells, kinds, top=5), strict=True):
        pd.testing.assert_frame_equal(table, ranked_gaps(cells, kind, top=5))


@pytest.mark.parametrize("values", [
    ["t1", " t1 ", None, "", "t2", "  "],
    pd.array(["220102", None, " 220102", ""], dtype="string[pyarrow]"),
    pd.array(["a", None, "b"], dtype="str"),
    [220102, 220102.0, np.nan, 7],
    pd.array([5, None, 5, 6], dtype="Int64"),
    [1, "1", None, "x "],
    pd.Categorical(["a", None, "b ", "a"]),
])
def test_area_codes_is_the_stripped_text_of_each_value(values):
    frame = pd.DataFrame({"code": values})
    want = [UNASSIGNED if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
            else (str(v).strip() or UNASSIGNED) for v in frame["code"].astype(object)]
    got = area_codes(frame, "code")
    assert got.tolist() == want and got.dtype == object and got.index.equals(frame.index)
