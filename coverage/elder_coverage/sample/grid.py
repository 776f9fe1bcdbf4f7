"""Dasymetric elder grid: census county totals spread over the synthetic settlements.

Each county's 60+ residents are split into urban and rural by the county's urban share of
total population (the census table gives 60+ per county, not per urban/rural); the urban
part is spread around township seats and urban communities, the rural part around villages.
Integer counts are then assigned per county by the largest-remainder method, so every
county sums to its census total exactly, and 65+ / 80+ are thinned from 60+ cell by cell
(never more 80+ than 65+ than 60+ in a cell).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from rasterio import features
from scipy import ndimage

from elder_coverage.schema import AGE_COLUMNS

# Kernel widths (metres). Towns are compact; villages are a few hundred metres across,
# with farmsteads and hamlets scattered over ~1.5 km around them.
SIGMA_URBAN_M = 1200.0
SIGMA_COMMUNITY_M = 500.0
SIGMA_VILLAGE_M = 350.0
SIGMA_HAMLET_M = 1500.0
HAMLET_SHARE = 0.25
# Relative weight of seats in the urban mass: sub-district seats carry the county town.
SEAT_WEIGHT = {"街道": 3.0, "镇": 1.0, "乡": 0.5}


@dataclass(frozen=True)
class ElderGrid:
    """Integer elder counts on a regular grid in a metric CRS.

    Attributes
    ----------
    counts : dict[int, ndarray]
        Age floor (60, 65, 80) → int32 array (rows × cols) of persons; -1 outside the area.
    township : ndarray
        int32 array of township index + 1 per cell (0 outside the area).
    transform : Affine
        Grid transform (metres).
    crs : object
        The metric CRS of the grid.
    """

    counts: dict[int, np.ndarray]
    township: np.ndarray
    transform: Affine
    crs: object


def largest_remainder(expected: np.ndarray, total: int) -> np.ndarray:
    """Integers that sum to ``total`` and round ``expected`` (which sums to ``total``).

    The largest-remainder (Hamilton) method: floors, then one more person to the cells with
    the largest fractional parts, ties broken by cell order so the result is deterministic.
    """
    base = np.floor(expected).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        frac = expected - base
        # Stable sort so ties resolve by cell order: same input, same bytes.
        order = np.argsort(-frac, kind="stable")[:short]
        base[order] += 1
    return base


def _thin(parent: np.ndarray, ratio: float, total: int) -> np.ndarray:
    """Counts ≤ ``parent`` per cell summing to ``total`` (an older age band of ``parent``)."""
    expected = parent * (total / parent.sum()) if parent.sum() else parent.astype(float)
    expected = np.minimum(expected, parent)
    out = largest_remainder(expected * (total / max(expected.sum(), 1e-12)), total)
    return np.minimum(out, parent)


def _mass(shape: tuple[int, int], transform: Affine, xy: np.ndarray, weight: np.ndarray,
          sigma_m: float, res: float) -> np.ndarray:
    grid = np.zeros(shape, dtype=np.float64)
    if len(xy):
        cols = (xy[:, 0] - transform.c) / transform.a
        rows = (xy[:, 1] - transform.f) / transform.e
        r = np.clip(np.floor(rows).astype(int), 0, shape[0] - 1)
        c = np.clip(np.floor(cols).astype(int), 0, shape[1] - 1)
        np.add.at(grid, (r, c), weight)
    return ndimage.gaussian_filter(grid, sigma=sigma_m / res, mode="constant", truncate=3.0)


def build_elder_grid(
    cells: gpd.GeoDataFrame,
    seats: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    census: pd.DataFrame,
    resolution: float,
) -> ElderGrid:
    """Spread each county's census elders over a grid of ``resolution`` metres.

    Parameters
    ----------
    cells : GeoDataFrame
        Township cells (polygons, metric CRS) with ``county_code``; they define the area.
    seats, villages : GeoDataFrame
        Township seats and village points (same CRS, same order of townships as ``cells``).
    census : DataFrame
        Indexed by county code with ``urban_share``, ``age60``, ``age65``, ``age80``.
    resolution : float
        Cell size in metres (250 for the default sample, 100 for the province benchmark).

    Returns
    -------
    ElderGrid
    """
    res = float(resolution)
    minx, miny, maxx, maxy = cells.total_bounds
    minx, miny = np.floor(minx / res) * res, np.floor(miny / res) * res
    maxx, maxy = np.ceil(maxx / res) * res, np.ceil(maxy / res) * res
    shape = (int(round((maxy - miny) / res)), int(round((maxx - minx) / res)))
    transform = Affine(res, 0.0, minx, 0.0, -res, maxy)

    township = features.rasterize(
        ((geom, i + 1) for i, geom in enumerate(cells.geometry)),
        out_shape=shape, transform=transform, fill=0, dtype="int32",
    )
    county_codes = np.array(sorted(cells["county_code"].unique()))
    county_of_township = np.concatenate(
        [[-1], np.searchsorted(county_codes, cells["county_code"].to_numpy())]
    )
    county = county_of_township[township]

    seat_xy = np.column_stack([seats.geometry.x, seats.geometry.y])
    seat_w = np.array([SEAT_WEIGHT.get(n[-2:] if n.endswith("街道") else n[-1:], 1.0)
                       for n in seats["name"]])
    v_xy = np.column_stack([villages.geometry.x, villages.geometry.y])
    v_urban = villages["is_urban"].to_numpy(bool)
    urban_w = (_mass(shape, transform, seat_xy, seat_w, SIGMA_URBAN_M, res)
               + _mass(shape, transform, v_xy[v_urban], np.full(v_urban.sum(), 0.3),
                       SIGMA_COMMUNITY_M, res))
    ones = np.ones((~v_urban).sum())
    rural_w = ((1.0 - HAMLET_SHARE) * _mass(shape, transform, v_xy[~v_urban], ones,
                                            SIGMA_VILLAGE_M, res)
               + HAMLET_SHARE * _mass(shape, transform, v_xy[~v_urban], ones, SIGMA_HAMLET_M, res))

    counts = {age: np.full(shape, -1, dtype=np.int32) for age in AGE_COLUMNS}
    for k, code in enumerate(county_codes):
        mask = county == k
        row = census.loc[code]
        total60 = int(row["age60"])
        urban60 = total60 * float(row["urban_share"])
        expected = np.zeros(int(mask.sum()))
        for part, weights in ((urban60, urban_w[mask]), (total60 - urban60, rural_w[mask])):
            s = weights.sum()
            # A county with no settlement mass of one kind falls back to an even spread.
            expected += part * (weights / s if s > 0 else np.full(len(weights), 1 / len(weights)))
        c60 = largest_remainder(expected, total60)
        c65 = _thin(c60, 1.0, int(row["age65"]))
        c80 = _thin(c65, 1.0, int(row["age80"]))
        counts[60][mask], counts[65][mask], counts[80][mask] = c60, c65, c80
    return ElderGrid(counts=counts, township=township, transform=transform, crs=cells.crs)
