"""Draw demand cells as a PNG image overlay instead of one polygon per cell.

A study area has ~10^5 populated cells; as GeoJSON squares they would make a map of hundreds
of megabytes. Leaflet stretches an image overlay linearly in Web Mercator between its corner
coordinates, so the image is laid out on a Web Mercator pixel grid: every pixel centre is
projected back to the cells' metric CRS (exactly every 4th pixel, bilinear in between: within
3 cm in a province) and takes the value of the cell square it falls in (nearest cell centre in
the Chebyshev norm, within half a cell: ``cKDTree.query(p=inf)``, or a table lookup when the
cells lie on a lattice, as the study grids do). That keeps the squares in their true place
whatever the grid's rotation against Mercator.
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
    lookup = _LatticeLookup.of(xy, cell_size_m) or _TreeLookup(xy, half)
    xs = mx0 + (np.arange(cols) + 0.5) * pixel
    index = np.full((rows, cols), -1, dtype=np.int64)
    step = max(1, 2_000_000 // cols)  # rows per chunk: bounds peak memory
    ys = my1 - (np.arange(rows) + 0.5) * pixel
    back = _PixelProjection(xs, ys, from_merc)
    for r0 in range(0, rows, step):
        ux, uy = back.rows(r0, min(rows, r0 + step))
        index[r0:r0 + len(ux)] = lookup(ux.ravel(), uy.ravel()).reshape(ux.shape)
    west, south = to_geo.transform(mx0, my0)
    east, north = to_geo.transform(mx1, my1)
    return CellRaster(cell_index=index, bounds=[[south, west], [north, east]], pixel_m=pixel)


class _PixelProjection:
    """Pixel centres of a Mercator grid in the cells' CRS: projected exactly at every
    ``every``-th row and column (and the last), bilinear in between.

    Projecting all of a province's 5.3 M pixel centres took 0.9-1.5 s. The map between the two
    conformal projections is smooth: over ``every`` = 4 pixels (about 500 m) bilinear
    interpolation is off by at most 3 cm in the province, which moves only pixels whose
    centre lies within those cm of a cell's edge.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray, transformer: pyproj.Transformer,
                 every: int = 4):
        cj, (seg_j, t) = _knots(len(xs), every)
        ci, self.ti = _knots(len(ys), every)
        kx, ky = np.meshgrid(xs[cj], ys[ci])
        ux, uy = (a.reshape(kx.shape) for a in transformer.transform(kx.ravel(), ky.ravel()))
        # Interpolated along the knot rows once; rows in between interpolate between those.
        self.knot_rows = [k[:, seg_j] * (1 - t) + k[:, seg_j + 1] * t for k in (ux, uy)]

    def rows(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the pixel centres of rows ``r0:r1``, shape (r1 - r0, columns)."""
        seg, u = self.ti[0][r0:r1], self.ti[1][r0:r1, None]
        x, y = (k[seg] + (k[seg + 1] - k[seg]) * u for k in self.knot_rows)
        return x, y


def _knots(n: int, every: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Knot positions among ``n`` pixels, and each pixel's (segment, fraction along it)."""
    knots = np.union1d(np.arange(0, n, every), [n - 1])
    if len(knots) == 1:
        knots = np.array([0, 0])
    pos = np.arange(n)
    seg = np.clip(np.searchsorted(knots, pos, side="right") - 1, 0, len(knots) - 2)
    width = np.maximum(knots[seg + 1] - knots[seg], 1)
    return knots, (seg, (pos - knots[seg]) / width)


class _TreeLookup:
    """Cell whose square holds each point: nearest centre in the Chebyshev norm, within half
    a cell, or -1 (any layout of cells)."""

    def __init__(self, xy: np.ndarray, half: float):
        self.tree, self.half = cKDTree(xy), half

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        dist, idx = self.tree.query(np.column_stack([x, y]), k=1, p=np.inf,
                                    distance_upper_bound=self.half)
        idx[~np.isfinite(dist)] = -1
        return idx


class _LatticeLookup:
    """The same answer as :class:`_TreeLookup` for cells on a square lattice of their side,
    by rounding each point to the lattice and reading a table (a province's 6 M pixels: 0.1 s
    instead of 1.5 s of tree queries)."""

    #: Largest lattice (rows x columns) indexed by a table; beyond it the tree is used.
    MAX_NODES = 50_000_000

    def __init__(self, origin: np.ndarray, size: float, table: np.ndarray):
        self.origin, self.size, self.table = origin, size, table

    @classmethod
    def of(cls, xy: np.ndarray, size: float) -> _LatticeLookup | None:
        """The lookup when every centre lies on one lattice of step ``size`` (to 1e-6 of a
        cell) and no two coincide; else None."""
        origin = xy.min(axis=0)
        steps = (xy - origin) / size
        ij = np.rint(steps).astype(np.int64)
        if np.abs(steps - ij).max() > 1e-6:
            return None
        shape = ij.max(axis=0) + 1
        if int(shape[0]) * int(shape[1]) > cls.MAX_NODES:
            return None
        table = np.full((int(shape[1]), int(shape[0])), -1, dtype=np.int64)
        table[ij[:, 1], ij[:, 0]] = np.arange(len(xy))
        if (table >= 0).sum() != len(xy):
            return None  # two centres at one place: the tree decides between them
        return cls(origin, size, table)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # The square of lattice node k spans k +- 1/2 steps: rounding finds it.
        i = np.rint((y - self.origin[1]) / self.size)
        j = np.rint((x - self.origin[0]) / self.size)
        rows, cols = self.table.shape
        ok = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
        out = np.full(len(x), -1, dtype=np.int64)
        out[ok] = self.table[i[ok].astype(np.int64), j[ok].astype(np.int64)]
        return out


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
