"""Automatic metric CRS: the UTM zone of the study area's centre."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from elder_coverage.io import choose_metric_crs, resolve_crs, to_metric, utm_crs, utm_zone


def lonlat(points: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in points], crs=4326)


@pytest.mark.parametrize(
    ("lon", "zone"),
    [(125.9, 51), (126.1, 52), (120.0, 51), (125.999, 51), (126.0, 52), (131.3, 52), (-180.0, 1)],
)
def test_utm_zone_formula(lon: float, zone: int) -> None:
    assert utm_zone(lon) == zone


def test_jilin_points_get_their_own_zone() -> None:
    # Changchun (125.32E) lies in zone 51, Jilin city (126.55E) and Yanji (129.5E) in 52.
    assert choose_metric_crs(lonlat([(125.32, 43.82), (125.30, 43.90)])).to_epsg() == 32651
    assert choose_metric_crs(lonlat([(126.55, 43.84), (129.50, 42.90)])).to_epsg() == 32652
    assert utm_crs(125.9, 43.8).to_epsg() == 32651
    assert utm_crs(126.1, 43.8).to_epsg() == 32652


def test_area_spanning_both_zones_uses_centroid_not_point_density() -> None:
    # Ten points along 125.5E and one at 127.5E span a triangle whose centroid is at
    # (2 * 125.5 + 127.5) / 3 = 126.17E (zone 52), though the mean longitude, 125.68E, is in 51.
    pts = [(125.5, 43.0 + 0.1 * i) for i in range(10)] + [(127.5, 43.45)]
    assert choose_metric_crs(lonlat(pts)).to_epsg() == 32652
    # Base on 126.6E, apex at 124.5E: centroid (2 * 126.6 + 124.5) / 3 = 125.9E (zone 51),
    # mean longitude 126.41E (zone 52).
    pts = [(126.6, 43.0 + 0.1 * i) for i in range(10)] + [(124.5, 43.45)]
    assert choose_metric_crs(lonlat(pts)).to_epsg() == 32651


def test_projected_input_is_located_in_degrees() -> None:
    gdf = lonlat([(126.3, 43.8), (126.6, 44.0)]).to_crs(32651)
    assert choose_metric_crs(gdf).to_epsg() == 32652


def test_to_metric_records_source_crs_and_keeps_distances() -> None:
    gdf = lonlat([(126.5, 43.8), (126.5, 43.809)])
    out = to_metric(gdf)
    assert out.crs.to_epsg() == 32652
    assert out.attrs["source_crs"] == "EPSG:4326"
    # 0.009 degrees of latitude at 43.8N is about 1000 m on the WGS84 ellipsoid.
    d = out.geometry.iloc[0].distance(out.geometry.iloc[1])
    assert d == pytest.approx(1000.0, abs=3.0)
    again = to_metric(out, crs=32651)
    assert again.crs.to_epsg() == 32651 and again.attrs["source_crs"] == "EPSG:4326"


def test_resolve_crs_rejects_degrees() -> None:
    assert resolve_crs("EPSG:32652").to_epsg() == 32652
    with pytest.raises(ValueError, match="not projected"):
        resolve_crs(4326)
    with pytest.raises(ValueError, match="metres"):
        resolve_crs(2227)  # California state plane, US survey feet


def test_real_jilin_township_seats(shared_jilin) -> None:
    # 714 township seats with coordinates (shared reference data). Prefecture seats: Changchun
    # 125.3E and Tonghua 125.9E lie in zone 51, Jilin city 126.5E and Yanji 129.5E in zone 52.
    import pandas as pd

    d = pd.read_csv(shared_jilin / "township_seats_jilin.csv", dtype=str).dropna(subset=["lon"])
    g = gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d["lon"].astype(float),
                                                        d["lat"].astype(float)), crs=4326)
    assert len(g) == 714
    zones = {city: choose_metric_crs(g[g["cityCode"] == city]).to_epsg()
             for city in ("2201", "2205", "2202", "2224")}
    assert zones == {"2201": 32651, "2205": 32651, "2202": 32652, "2224": 32652}
    # The province: seats crowd the western plain (mean longitude 125.8E, zone 51) but the
    # area they span is centred east of 126E, so the province gets zone 52.
    assert g.geometry.x.mean() < 126.0
    assert choose_metric_crs(g).to_epsg() == 32652
