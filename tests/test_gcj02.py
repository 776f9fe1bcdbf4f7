import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from elder_coverage.gcj02 import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def test_forward_matches_published_reference_point():
    # Tiananmen flagpole: WGS84 (116.391305, 39.907065) is published as GCJ-02
    # (116.397545, 39.908468) by the providers' own converters (to ~1e-6 degrees).
    lon, lat = wgs84_to_gcj02(116.391305, 39.907065)
    assert abs(lon - 116.397545) < 2e-6 and abs(lat - 39.908468) < 2e-6


def test_outside_china_is_unchanged():
    lon, lat = wgs84_to_gcj02([2.35, -74.0], [48.85, 40.7])
    assert np.array_equal(lon, [2.35, -74.0]) and np.array_equal(lat, [48.85, 40.7])


@given(st.floats(121.0, 131.5), st.floats(40.5, 46.5))
def test_inverse_round_trips_over_jilin(lon, lat):
    glon, glat = wgs84_to_gcj02(lon, lat)
    # The shift itself is hundreds of metres in Jilin; the inverse recovers the input.
    shift_m = np.hypot((glon - lon) * 80_000, (glat - lat) * 111_000)
    assert 50 < shift_m < 1500
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert abs(wlon - lon) < 1e-8 and abs(wlat - lat) < 1e-8


# Reference pairs published with wandergis/coordtransform (README and test/app.js; the same
# figures are asserted by hutool's CoordinateUtilTest and several ports): input (116.404,
# 39.915). Their forward transforms are the standard formulas, so ours must agree to the last
# digits; their inverses are one-step approximations, so ours (exact to < 1 mm) may differ
# from them by the approximation error, a few metres at most.
REF_IN = (116.404, 39.915)
REF_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
REF_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
REF_BD_TO_GCJ_APPROX = (116.39762729119315, 39.90865673957631)
REF_GCJ_TO_WGS_APPROX = (116.39775550083061, 39.91359571849836)


def _metres(lon_a, lat_a, lon_b, lat_b):
    k = np.cos(np.radians(lat_a)) * 111_320.0
    return float(np.hypot((np.asarray(lon_a) - lon_b) * k, (np.asarray(lat_a) - lat_b) * 110_574.0))


def test_forward_transforms_match_coordtransform_reference():
    lon, lat = wgs84_to_gcj02(*REF_IN)
    assert abs(lon - REF_WGS_TO_GCJ[0]) < 1e-12 and abs(lat - REF_WGS_TO_GCJ[1]) < 1e-12
    lon, lat = gcj02_to_bd09(*REF_IN)
    assert abs(lon - REF_GCJ_TO_BD[0]) < 1e-12 and abs(lat - REF_GCJ_TO_BD[1]) < 1e-12


def test_inverses_agree_with_published_approximations_and_are_exact():
    lon, lat = bd09_to_gcj02(*REF_IN)
    assert _metres(lon, lat, *REF_BD_TO_GCJ_APPROX) < 2.0
    flon, flat = gcj02_to_bd09(lon, lat)
    assert _metres(flon, flat, *REF_IN) < 1e-3
    lon, lat = gcj02_to_wgs84(*REF_IN)
    assert _metres(lon, lat, *REF_GCJ_TO_WGS_APPROX) < 5.0
    flon, flat = wgs84_to_gcj02(lon, lat)
    assert _metres(flon, flat, *REF_IN) < 1e-3


def test_baidu_reference_point_beijing_railway_station():
    # Beijing railway station as published in the R package "cst" (bd2gcj example):
    # GCJ-02 (116.42703, 39.90245), BD-09 (116.43351, 39.90851), to 5 decimals (~1 m).
    lon, lat = gcj02_to_bd09(116.42703, 39.90245)
    assert _metres(lon, lat, 116.43351, 39.90851) < 1.5
    lon, lat = bd09_to_gcj02(116.43351, 39.90851)
    assert _metres(lon, lat, 116.42703, 39.90245) < 1.5


@given(st.floats(121.0, 131.5), st.floats(40.5, 46.5))
def test_bd09_round_trip_is_exact_to_a_millimetre(lon, lat):
    blon, blat = wgs84_to_bd09(lon, lat)
    # The Baidu shift over Jilin is several hundred metres on top of GCJ-02's.
    assert 300 < _metres(blon, blat, lon, lat) < 2000
    wlon, wlat = bd09_to_wgs84(blon, blat)
    assert _metres(wlon, wlat, lon, lat) < 1e-3


def test_to_wgs84_dispatches_and_rejects_unknown_systems():
    lon, lat = np.array([126.55, 127.1]), np.array([43.8, 44.2])
    for name, fwd in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        back = to_wgs84(*fwd(lon, lat), name)
        assert np.abs(back[0] - lon).max() < 1e-9 and np.abs(back[1] - lat).max() < 1e-9
    assert np.array_equal(to_wgs84(lon, lat, "wgs84")[0], lon)
    with pytest.raises(ValueError, match="wgs84, gcj02, bd09"):
        to_wgs84(lon, lat, "gcj-02")
