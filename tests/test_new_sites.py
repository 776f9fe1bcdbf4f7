"""New-site planning on small hand-made layouts, checked by enumeration."""

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from elder_coverage.new_sites import candidate_sites, plan_new_sites

STD = {"dining_hall": {"mode": "straight_line", "radius_m": 1000}}


def _layout(seed: int, n_town: int = 4, per_town: int = 3):
    rng = np.random.default_rng(seed)
    seats, villages, cells = [], [], []
    for t in range(n_town):
        code = f"22022110{t}000"
        sx, sy = t * 3000.0, 0.0
        seats.append({"code": code, "name": f"T{t}", "county_code": "220221", "is_urban": False,
                      "geometry": shapely.Point(sx, sy)})
        for v in range(per_town):
            vx, vy = sx + rng.uniform(-1400, 1400), rng.uniform(-1400, 1400)
            villages.append({"code": f"{code[:9]}{v + 1:03d}", "name": f"V{t}{v}",
                             "township_code": code, "county_code": "220221", "is_urban": False,
                             "elders_60": int(rng.integers(50, 200)),
                             "geometry": shapely.Point(vx, vy)})
            cells.append({"cell_id": len(cells), "elders_60": float(rng.integers(1, 30)),
                          "township_code": code, "county_code": "220221",
                          "geometry": shapely.Point(vx + 100, vy)})
    crs = "EPSG:32652"
    fac = gpd.GeoDataFrame([{"id": "D1", "name": "hall", "kind": "dining_hall", "capacity": 30,
                             "township_code": seats[0]["code"], "village_code": None,
                             "status": "open", "geometry": seats[0]["geometry"]}], crs=crs)
    return (gpd.GeoDataFrame(seats, crs=crs), gpd.GeoDataFrame(villages, crs=crs),
            gpd.GeoDataFrame(cells, crs=crs), fac)


def _served_elders(cells, site_xy):
    xy = cells.geometry.get_coordinates().to_numpy()
    if len(site_xy) == 0:
        return 0.0
    d = np.hypot(*(xy[:, None, :] - np.asarray(site_xy)[None, :, :]).transpose(2, 0, 1))
    return float(cells["elders_60"].to_numpy()[(d <= 1000).any(axis=1)].sum())


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 3))
def test_max_new_matches_enumeration(seed, n_new):
    seats, villages, cells, fac = _layout(seed)
    plan = plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats, villages=villages,
                          measure="elders", max_new=n_new)
    cand = candidate_sites("dining_hall", fac, seats, villages, "both")
    cxy = cand.geometry.get_coordinates().to_numpy()
    exist = fac.geometry.get_coordinates().to_numpy()
    best = max(_served_elders(cells, np.vstack([exist, cxy[list(c)]]))
               for c in itertools.combinations(range(len(cand)), n_new))
    assert plan.after["served"] == pytest.approx(best)
    assert plan.before["served"] == pytest.approx(_served_elders(cells, exist))
    assert len(plan.new_sites) <= n_new


def test_townships_measure_counts_sites_registered_to_the_township():
    seats, villages, cells, fac = _layout(3)
    plan = plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats, villages=villages,
                          measure="townships", target=1.0)
    # Township 0 has a hall; the other three each need one (seats 3 km apart, 1 km standard),
    # and any candidate registered to a township serves it.
    assert plan.before["served"] == 1 and plan.after["share"] == 1.0
    assert len(plan.new_sites) == 3
    assert sorted(plan.new_sites["township_code"]) == sorted(seats["code"][1:])


def test_unreachable_target_is_reported_not_faked():
    seats, villages, cells, fac = _layout(5)
    far = cells.copy()
    far.loc[0, "geometry"] = shapely.Point(1e6, 1e6)  # nobody can ever reach this cell
    plan = plan_new_sites("dining_hall", far, fac, None, STD, seats=seats, villages=villages,
                          measure="elders", target=1.0)
    assert plan.unreachable == [0]
    assert plan.optimisation["status"] == "infeasible"
    assert "cannot be met" in plan.optimisation["message"]
