import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from elder_coverage.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02


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
