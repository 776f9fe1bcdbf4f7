"""Each policy indicator is judged on the elders of its own target year; covered-twice counts."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from elder_coverage.engine import CoverageWarning, compute_coverage
from elder_coverage.tables import indicators_by_year as _indicators
from elder_coverage.tables import kind_summary as _kind_summary


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoverageWarning)
        return compute_coverage(*args, **kw)


def test_covered_twice_by_hand():
    # Three cells 0, 1 and 2 dining halls within 1,000 m (straight line): 5, 7 and 11 elders.
    cells = gpd.GeoDataFrame({"cell_id": [1, 2, 3], "elders_60": [5, 7, 11]},
                             geometry=[Point(0, 0), Point(10_000, 0), Point(20_000, 0)],
                             crs=32652)
    fac = gpd.GeoDataFrame({"id": ["a", "b", "c"], "kind": ["dining_hall"] * 3},
                           geometry=[Point(10_500, 0), Point(20_400, 0), Point(19_300, 0)],
                           crs=32652)
    cov = _quiet(cells, fac, None, None, kinds=["dining_hall"])
    got = _kind_summary(cov)["dining_hall"]
    assert got["covered_elders"] == 7 + 11
    assert got["covered_twice_elders"] == 11
    assert got["covered_twice_share"] == pytest.approx(11 / 23, abs=1e-6)


@pytest.fixture(scope="module")
def sample_run(sample_path):
    from elder_coverage.study import load_sample

    study = load_sample(sample_path)
    fac = study.facilities[study.facilities["status"].fillna("open") == "open"]
    cov = _quiet(study.cells, fac, None, None)  # straight line: fast, enough for the rows
    return study, fac, cov


def test_target_rows_use_their_own_years_elders(sample_run):
    from elder_coverage.demand import elders_for_year

    study, fac, cov = sample_run
    table = _indicators(study, cov, fac, None, None, demand_year=2020,
                        cells_2020=study.cells)
    years = table.set_index(["indicator", "year"])["demand_year"]
    assert (years.loc[("village_courtyard_coverage", 2029)] == 2029).all()
    assert (years.loc[("village_courtyard_coverage", 2025)] == 2025).all()
    assert (table.loc[table["year"].isna(), "demand_year"] == 2020).all()
    # High-need villages of 2029, counted by hand: rural villages whose elders, scaled by
    # their county's projected 60+ ratio 2029/2020, reach the registry's 100.
    v = study.villages
    codes = sorted(set(study.cells["county_code"].astype(str)))
    ratio = (elders_for_year(2029, counties=codes)["age60"]
             / elders_for_year(2020, counties=codes)["age60"])
    scaled = np.round(v["elders_60"].to_numpy(float)
                      * v["county_code"].astype(str).map(ratio).to_numpy())
    rural = ~v["is_urban"].fillna(False).to_numpy(bool) if "is_urban" in v else True
    want_2029 = int(((scaled >= 100) & rural).sum())
    want_2020 = int(((v["elders_60"].to_numpy(float) >= 100) & rural).sum())
    row = table[(table["indicator"] == "village_courtyard_coverage") & (table["year"] == 2029)]
    assert int(row["denominator"].iloc[0]) == want_2029
    assert want_2029 > want_2020  # the ageing the projection exists to capture


def test_own_data_outside_jilin_keeps_the_runs_elders(sample_run):
    study, fac, cov = sample_run
    cells = study.cells.assign(county_code="999999")  # no projection for such a county
    table = _indicators(study, cov, fac, None, None, demand_year=2020, cells_2020=cells)
    rows = table[table["year"] == 2029]
    assert (rows["demand_year"] == 2020).all()
    assert rows["note"].str.contains("no projection to 2029").all()
    pd.testing.assert_frame_equal(
        table.drop(columns=["note"]),
        _indicators(study, cov, fac, None, None, demand_year=2020).drop(columns=["note"]))


def test_target_years_leave_the_runs_cells_and_villages_unchanged(sample_run):
    study, fac, cov = sample_run
    cells, villages = cov.cells.copy(), study.villages.copy()
    _indicators(study, cov, fac, None, None, demand_year=2020, cells_2020=study.cells)
    pd.testing.assert_frame_equal(cov.cells, cells)
    pd.testing.assert_frame_equal(study.villages, villages)
