"""Synthetic facility inventory for the sample, shaped like Jilin's three-tier network.

Rates are chosen so that coverage is incomplete and the policy targets are not already
met: a welfare centre in most towns (some old, nearly empty or failing fire safety — the
candidates for 撤并整合), rural courtyards in part of the villages, dining halls at some
seats and villages, day care in part of the urban communities, one county home per county.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops

# Shares of settlements that have a facility of each kind in the sample.
CENTRE_SHARE_RURAL_TOWNSHIP = 0.85
CENTRE_SHARE_URBAN_TOWNSHIP = 0.15
COURTYARD_SHARE_VILLAGE = 0.55
DINING_SHARE_SEAT = 0.45
DINING_SHARE_VILLAGE = 0.12
DAYCARE_SHARE_COMMUNITY = 0.6
# Welfare-centre condition (about a third fail a criterion): drives the close-or-merge model.
FIRE_FAIL_OLD, FIRE_FAIL_NEW = 0.25, 0.06
LOW_OCCUPANCY_OLD, LOW_OCCUPANCY_NEW = 0.4, 0.05
JITTER_M = 150.0  # facilities stand near, not exactly at, the settlement point


def _jitter(xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return xy + rng.normal(0.0, JITTER_M / 2, size=xy.shape)


def build_facilities(
    seats: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    seed: int,
    county_names: dict[str, str] | None = None,
    county_areas: dict[str, shapely.Geometry] | None = None,
) -> gpd.GeoDataFrame:
    """Facilities of every kind for the given township seats and villages.

    Parameters
    ----------
    seats : GeoDataFrame
        Township seats (points, metric CRS) with ``code``, ``name``, ``county_code``, ``is_urban``.
    villages : GeoDataFrame
        Village points with ``code``, ``name``, ``township_code``, ``county_code``, ``is_urban``.
    seed : int
        Random seed; same seed, same inventory.
    county_names : dict, optional
        County code → name, for the county homes' names.
    county_areas : dict, optional
        County code → polygon (same CRS): a facility that the jitter put outside its county
        is moved just inside it, so that the sample's own list reads back as valid input.

    Returns
    -------
    GeoDataFrame
        Columns of :mod:`elder_coverage.schema` (``id``, ``name``, ``kind``, ``capacity``,
        ``nursing_beds``, ``occupancy``, ``built_year``, ``fire_safety_ok``, ``status``,
        ``floor_area_m2``, codes) and ``synthetic=True``.
    """
    rng = np.random.default_rng([seed, 7])
    rows: list[dict] = []
    seat_xy = np.column_stack([seats.geometry.x, seats.geometry.y])
    vil_xy = np.column_stack([villages.geometry.x, villages.geometry.y])

    def add(kind, name, xy, capacity, county, township, village="", **extra):
        rows.append(
            {
                "id": f"{kind[:2].upper()}{len(rows) + 1:05d}",
                "name": name,
                "kind": kind,
                "capacity": int(capacity),
                "county_code": county,
                "township_code": township,
                "village_code": village,
                "status": "open",
                "synthetic": True,
                "geometry": shapely.Point(xy),
                **extra,
            }
        )

    # County homes: one per county, at the sub-district seat nearest the county's seats' centre.
    for county, group in seats.groupby("county_code", sort=True):
        xy = np.column_stack([group.geometry.x, group.geometry.y])
        urban = group["is_urban"].to_numpy()
        pick = np.flatnonzero(urban)[0] if urban.any() else int(np.argmin(
            np.hypot(*(xy - xy.mean(axis=0)).T)))
        beds = int(rng.integers(200, 520))
        label = (county_names or {}).get(county, county)
        add("county_home", f"{label}社会福利中心",
            _jitter(xy[pick], rng), beds, county, group["code"].iloc[pick],
            nursing_beds=int(beds * rng.uniform(0.35, 0.6)),
            occupancy=round(rng.uniform(0.6, 0.95), 2),
            built_year=int(rng.integers(2005, 2021)), fire_safety_ok=True,
            floor_area_m2=int(beds * rng.uniform(30, 45)))

    # Township welfare centres (敬老院 / 福利服务中心), some run-down, unsafe or empty.
    for i, s in enumerate(seats.itertuples()):
        share = CENTRE_SHARE_URBAN_TOWNSHIP if s.is_urban else CENTRE_SHARE_RURAL_TOWNSHIP
        if rng.random() >= share:
            continue
        beds = int(rng.integers(25, 160))
        built = int(rng.integers(1988, 2023))
        old = built < 1995
        # Old homes more often stand half empty and fail inspections.
        low = rng.random() < (LOW_OCCUPANCY_OLD if old else LOW_OCCUPANCY_NEW)
        occupancy = rng.beta(1.2, 4.0) if low else rng.beta(3.0, 2.5)
        fire_fail = FIRE_FAIL_OLD if old else FIRE_FAIL_NEW
        add("township_centre", f"{s.name}敬老院", _jitter(seat_xy[i], rng), beds, s.county_code,
            s.code, nursing_beds=int(beds * rng.uniform(0.1, 0.5)),
            occupancy=round(float(occupancy), 2), built_year=built,
            fire_safety_ok=bool(rng.random() >= fire_fail),
            floor_area_m2=int(beds * rng.uniform(20, 35)))

    # Dining halls at some seats.
    for i, s in enumerate(seats.itertuples()):
        if rng.random() < DINING_SHARE_SEAT:
            add("dining_hall", f"{s.name}助老餐厅", _jitter(seat_xy[i], rng),
                rng.integers(20, 90), s.county_code, s.code)

    # Village-level services.
    for i, v in enumerate(villages.itertuples()):
        u = rng.random(3)
        if not v.is_urban and u[0] < COURTYARD_SHARE_VILLAGE:
            add("rural_courtyard", f"{v.name}农村养老大院", _jitter(vil_xy[i], rng),
                rng.integers(8, 40), v.county_code, v.township_code, v.code)
        if u[1] < DINING_SHARE_VILLAGE:
            add("dining_hall", f"{v.name}老年食堂", _jitter(vil_xy[i], rng),
                rng.integers(15, 50), v.county_code, v.township_code, v.code)
        if v.is_urban and u[2] < DAYCARE_SHARE_COMMUNITY:
            add("day_care", f"{v.name}日间照料中心", _jitter(vil_xy[i], rng),
                rng.integers(10, 40), v.county_code, v.township_code, v.code)

    gdf = gpd.GeoDataFrame(rows, crs=seats.crs)
    for col in ("nursing_beds", "built_year", "floor_area_m2"):
        gdf[col] = gdf[col].astype("Int64")
    gdf["fire_safety_ok"] = gdf["fire_safety_ok"].astype("boolean")
    if county_areas:
        gdf["geometry"] = _inside_county(gdf, county_areas)
    return gdf


def _inside_county(gdf: gpd.GeoDataFrame, areas: dict[str, shapely.Geometry]) -> gpd.GeoSeries:
    # 20 m inside the border: far above rounding of the published lon/lat (6 decimals).
    geoms = gdf.geometry.copy()
    for code, poly in areas.items():
        rows = np.flatnonzero((gdf["county_code"] == code).to_numpy())
        if rows.size == 0:
            continue
        pts = geoms.iloc[rows].to_numpy()
        out = ~shapely.contains(poly, pts)
        if out.any():
            inner = poly.buffer(-20.0)
            inner = inner if not inner.is_empty else poly
            moved = [shapely.ops.nearest_points(inner, p)[0] for p in pts[out]]
            idx = geoms.index[rows[out]]
            geoms.loc[idx] = moved
    return geoms
