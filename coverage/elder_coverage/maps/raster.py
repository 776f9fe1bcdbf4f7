"""Draw demand cells as a PNG image overlay instead of one polygon per cell.

A study area has ~10^5 populated cells; as GeoJSON squares they would make a map of hundreds
of megabytes. Leaflet stretches an image overlay linearly in Web Mercator between its corner
coordinates, so the image is laid out on a Web Mercator pixel grid: every pixel centre is
projected back to the cells' metric CRS and takes the value of the cell square it falls in
(nearest cell centre in the Chebyshev norm, within half a cell: ``cKDTree.query(p=inf)``).
That keeps the squares in their true place whatever the grid's rotation against Mercator.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import numpy as np
import pyproj
from PIL import Image
from scipy.spatial import cKDTree

_MERCATOR = pyproj.CRS.from_epsg(3857)
_WGS84 = pyproj.CRS.from_epsg(4326)


@dataclass(frozen=True)
class CellRaster:
    """Pixel → cell lookup for one set of cells, reused by every layer drawn from them.

    Attributes
    ----------
    cell_index : numpy.ndarray of int, shape (rows, cols)
        Row of the cell under each pixel, ``-1`` outside every cell.
    bounds : list
        ``[[south, west], [north, east]]`` in degrees, as folium's ``ImageOverlay`` wants.
    pixel_m : float
        Pixel size in Web Mercator metres.
    """

    cell_index: np.ndarray
    bounds: list[list[float]]
    pixel_m: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.cell_index.shape


def cell_raster(
    xy: np.ndarray,
    crs: pyproj.CRS | str,
    cell_size_m: float,
    *,
    oversample: float = 2.0,
    max_pixels: int = 6_000_000,
) -> CellRaster:
    """Build the pixel grid that shows square cells centred at ``xy``.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Cell centres (metres) in the metric ``crs``.
    crs : pyproj.CRS or str
        Projected CRS of ``xy``.
    cell_size_m : float
        Cell side (metres).
    oversample : float, default 2
        Pixels per cell side, so that square edges stay sharp when zoomed in.
    max_pixels : int, default 6,000,000
        Upper bound on the image size; the pixel is enlarged to stay under it.

    Returns
    -------
    CellRaster
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        raise ValueError("cell_raster: no cells to draw")
    if not cell_size_m > 0:
        raise ValueError(f"cell_size_m must be positive, got {cell_size_m!r}")
    crs = pyproj.CRS.from_user_input(crs)
    if not crs.is_projected:
        raise ValueError(f"cell_raster: cells must be in a projected (metric) CRS, got {crs.name}")
    half = cell_size_m / 2.0
    to_merc = pyproj.Transformer.from_crs(crs, _MERCATOR, always_xy=True)
    from_merc = pyproj.Transformer.from_crs(_MERCATOR, crs, always_xy=True)
    to_geo = pyproj.Transformer.from_crs(_MERCATOR, _WGS84, always_xy=True)
    (x0, y0), (x1, y1) = xy.min(axis=0) - half, xy.max(axis=0) + half
    mx0, my0, mx1, my1 = to_merc.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    _, lat_c = to_geo.transform((mx0 + mx1) / 2, (my0 + my1) / 2)
    # Web Mercator stretches distances by 1/cos(lat); one cell spans that many Mercator metres.
    pixel = cell_size_m / math.cos(math.radians(lat_c)) / oversample
    while math.ceil((mx1 - mx0) / pixel) * math.ceil((my1 - my0) / pixel) > max_pixels:
        pixel *= 1.25
    cols = max(1, math.ceil((mx1 - mx0) / pixel))
    rows = max(1, math.ceil((my1 - my0) / pixel))
    mx1, my0 = mx0 + cols * pixel, my1 - rows * pixel
    tree = cKDTree(xy)
    xs = mx0 + (np.arange(cols) + 0.5) * pixel
    index = np.full((rows, cols), -1, dtype=np.int64)
    step = max(1, 2_000_000 // cols)  # rows per chunk: bounds peak memory
    for r0 in range(0, rows, step):
        ys = my1 - (np.arange(r0, min(rows, r0 + step)) + 0.5) * pixel
        gx, gy = np.meshgrid(xs, ys)
        ux, uy = from_merc.transform(gx.ravel(), gy.ravel())
        dist, idx = tree.query(np.column_stack([ux, uy]), k=1, p=np.inf,
                               distance_upper_bound=half)
        idx[~np.isfinite(dist)] = -1
        index[r0:r0 + len(ys)] = idx.reshape(len(ys), cols)
    west, south = to_geo.transform(mx0, my0)
    east, north = to_geo.transform(mx1, my1)
    return CellRaster(cell_index=index, bounds=[[south, west], [north, east]], pixel_m=pixel)


def class_breaks(values: np.ndarray, n_classes: int = 6, *, weighted: bool = True) -> list[float]:
    """Rounded (1-2-5 series) lower bounds of up to ``n_classes`` classes of positive ``values``.

    With ``weighted`` (default) the quantiles are of the people, not of the cells: each cell
    counts as many times as its value, so that the classes split the elders (most live in a
    few dense cells) rather than the many near-empty cells. Quantiles are snapped down to
    1, 2, 5 × 10^k and repeats dropped. Empty input gives ``[1]``.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) == 0:
        return [1.0]
    probs = np.linspace(0, 1, n_classes + 1)[:-1]
    if weighted:
        qs = np.quantile(v, probs, weights=v, method="inverted_cdf")
    else:
        qs = np.quantile(v, probs)
    qs[0] = v.min()
    out: list[float] = []
    for q in qs:
        b = _nice_floor(q)
        if not out or b > out[-1]:
            out.append(b)
    return out


def _nice_floor(x: float) -> float:
    if x <= 0:
        return 0.0
    exp = math.floor(math.log10(x))
    for m in (5, 2, 1):
        b = m * 10.0**exp
        if b <= x * (1 + 1e-12):
            return float(round(b, 10))
    return float(10.0**exp)


def classify(values: np.ndarray, breaks: list[float]) -> np.ndarray:
    """Class number per value: 0 for no data / not positive / below the first break, else 1..k."""
    v = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
    cls = np.searchsorted(np.asarray(breaks, dtype=float), v, side="right")
    return cls.astype(np.uint8)


def png_data_uri(
    raster: CellRaster,
    cell_class: np.ndarray,
    palette: list[tuple[int, int, int]],
) -> str:
    """Paletted PNG (class 0 transparent) of per-cell classes, as a ``data:`` URI.

    Parameters
    ----------
    raster : CellRaster
    cell_class : numpy.ndarray of uint8, shape (n_cells,)
        Class of each cell (0 = not drawn), e.g. from :func:`classify`.
    palette : list of (r, g, b)
        Colour of classes 1, 2, ...; class 0 is transparent.
    """
    cell_class = np.asarray(cell_class, dtype=np.uint8)
    if len(palette) < int(cell_class.max(initial=0)):
        raise ValueError(f"palette has {len(palette)} colours for {cell_class.max()} classes")
    lut = np.append(cell_class, np.uint8(0))  # index -1 (outside) picks the trailing 0
    pixels = np.ascontiguousarray(lut[raster.cell_index])
    img = Image.frombytes("P", (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
    flat = [0, 0, 0]
    for rgb in palette:
        flat.extend(int(c) for c in rgb)
    img.putpalette(flat)
    buf = io.BytesIO()
    # Paletted PNG with one transparent entry: a few hundred kB for a whole study area. zlib
    # level 6 instead of 9 (optimize): 6x faster to write, about 3 % larger.
    img.save(buf, format="PNG", compress_level=6, transparency=0)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
