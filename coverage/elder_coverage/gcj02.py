"""GCJ-02 / BD-09 ↔ WGS84 conversion for points published by Chinese map providers.

Amap (高德) and Tencent (腾讯) publish coordinates in GCJ-02, an obfuscated datum that is
shifted from WGS84 by up to ~700 m in a smooth, known way; Baidu (百度) adds a second shift
on top of GCJ-02 (BD-09). The forward transforms (WGS84 → GCJ-02 → BD-09) are the standard
published formulas; their inverses have no closed form, so they are solved by fixed-point
iteration, which converges to well under a millimetre in a few steps because the shifts
vary slowly. (The one-step inverses found in most libraries leave errors of up to a few
metres: enough to move a facility across a study-area boundary.) Points outside mainland
China are not shifted by GCJ-02, as in the providers' own implementation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0  # the BD-09 formula's angular constant

#: Coordinate systems accepted for lon/lat inputs (``inputs.facilities.coordinates``).
COORDINATE_SYSTEMS = ("wgs84", "gcj02", "bd09")


def _in_china(lon: NDArray, lat: NDArray) -> NDArray[np.bool_]:
    # The rough rectangle used by the published algorithm: outside it no shift is applied.
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _delta(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Shift WGS84 longitude/latitude (degrees) to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 coordinates in degrees.

    Returns
    -------
    lon, lat : ndarray
        GCJ-02 coordinates in degrees (unchanged outside China).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[NDArray, NDArray]:
    """Invert the GCJ-02 shift: GCJ-02 longitude/latitude (degrees) to WGS84.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 coordinates in degrees.
    tol_deg : float
        Stop when the forward transform of the estimate is within this many degrees of the
        input (1e-10° is about 0.01 mm).
    max_iter : int
        Safety bound on iterations; convergence takes 3-6 in practice.

    Returns
    -------
    lon, lat : ndarray
        WGS84 coordinates in degrees.
    """
    return _invert(wgs84_to_gcj02, lon, lat, tol_deg=tol_deg, max_iter=max_iter)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Shift GCJ-02 longitude/latitude (degrees) to Baidu's BD-09.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 coordinates in degrees.

    Returns
    -------
    lon, lat : ndarray
        BD-09 coordinates in degrees.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[NDArray, NDArray]:
    """Invert the BD-09 shift: BD-09 longitude/latitude (degrees) to GCJ-02.

    ``tol_deg`` and ``max_iter`` are as in :func:`gcj02_to_wgs84`.

    Returns
    -------
    lon, lat : ndarray
        GCJ-02 coordinates in degrees.
    """
    return _invert(gcj02_to_bd09, lon, lat, tol_deg=tol_deg, max_iter=max_iter)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """WGS84 longitude/latitude (degrees) to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """BD-09 longitude/latitude (degrees) to WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coordinates: str) -> tuple[NDArray, NDArray]:
    """Longitude/latitude in ``coordinates`` (``wgs84``, ``gcj02`` or ``bd09``) to WGS84.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates in degrees.
    coordinates : {"wgs84", "gcj02", "bd09"}
        The system the points were geocoded in: Amap and Tencent give GCJ-02, Baidu BD-09,
        GPS receivers and OpenStreetMap WGS84.

    Returns
    -------
    lon, lat : ndarray
        WGS84 coordinates in degrees.
    """
    if coordinates == "wgs84":
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if coordinates == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if coordinates == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"coordinates must be one of {', '.join(COORDINATE_SYSTEMS)}, "
                     f"got {coordinates!r}")


def _invert(forward, lon: ArrayLike, lat: ArrayLike, *, tol_deg: float,
            max_iter: int) -> tuple[NDArray, NDArray]:
    # Fixed point of p = target - (forward(p) - p): the shift is smooth and small, so the
    # error shrinks by orders of magnitude each step.
    tlon = np.asarray(lon, dtype=float)
    tlat = np.asarray(lat, dtype=float)
    wlon, wlat = tlon.copy(), tlat.copy()
    for _ in range(max_iter):
        flon, flat = forward(wlon, wlat)
        elon, elat = flon - tlon, flat - tlat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return wlon, wlat
