"""Elder population: WorldPop age/sex rasters, single-band count rasters, grids and point tables.

Two levels of result:

* :class:`ElderRaster` — arrays of persons per raster cell in the raster's own grid and CRS,
  one array per age floor (``elders_60``, ``elders_65``, ``elders_80``), never resampled;
* demand cells — a GeoDataFrame of populated cell-centre points in a metric CRS with the
  columns of ``elder_coverage.schema.CELL_COLUMNS``, from :func:`raster_to_cells` or
  :func:`read_elder_table`.

Counts are conserved exactly: a cell's persons move with its centre point, so the sum over
demand cells equals the sum over the raster (bar cells explicitly masked or dropped, which
are reported in ``attrs``). Nodata, NaN, infinite and negative cells are an error unless the
caller asks for ``invalid="mask"``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS

from elder_coverage.io._common import (
    PathLike,
    add_note,
    check_file,
    code_text,
    find_column,
    notes_of,
    parse_counts,
    read_points,
    record_source,
)
from elder_coverage.io.crs import crs_label, to_metric
from elder_coverage.io.errors import InputError
from elder_coverage.schema import AGE_COLUMNS, CELL_COLUMNS

Invalid = Literal["raise", "mask"]
Outside = Literal["raise", "drop"]

#: WorldPop age-structure band lower bounds (years): 0, 1, 5, 10, …, 80 (80 means 80+).
WORLDPOP_AGES: tuple[int, ...] = (0, 1, *range(5, 85, 5))

#: ``{iso}_{sex}_{age}_{year}.tif``, optionally followed by a release suffix such as
#: ``_constrained`` or ``_CN_100m_R2025A_v1``.
WORLDPOP_NAME = re.compile(
    r"^(?P<iso>[a-z]{3})_(?P<sex>[fm])_(?P<age>\d{1,2})_(?P<year>\d{4})(?P<rest>_[^.]*)?\.tiff?$",
    re.IGNORECASE,
)

#: Column names accepted for elder counts in tables, per age floor.
COUNT_ALIASES: dict[int, tuple[str, ...]] = {
    60: ("elders_60", "pop60", "pop_60", "age60plus", "60+", "60岁以上", "60岁及以上",
         "60岁及以上人口", "60岁以上人口"),
    65: ("elders_65", "pop65", "pop_65", "age65plus", "65+", "65岁以上", "65岁及以上",
         "65岁及以上人口", "65岁以上人口"),
    80: ("elders_80", "pop80", "pop_80", "age80plus", "80+", "80岁以上", "80岁及以上",
         "80岁及以上人口", "80岁以上人口"),
}
CELL_ID_ALIASES: tuple[str, ...] = ("cell_id", "id", "grid_id", "编号", "网格编号")


@dataclass
class ElderRaster:
    """Persons per raster cell, by age floor, in the raster's own grid and CRS.

    Attributes
    ----------
    layers : dict of str to ndarray
        ``{"elders_60": array, ...}``; float64 arrays of shape ``(rows, cols)`` in persons.
        Masked cells are NaN (the same cells in every layer).
    transform : affine.Affine
        Pixel-to-CRS transform of the arrays (of the window read, if clipped).
    crs : pyproj.CRS
        The raster's CRS (WorldPop: EPSG:4326).
    source : str
        File or folder read.
    masked : ndarray of bool
        Cells excluded by ``invalid="mask"``.
    offset : tuple of int
        ``(row, col)`` of the window's first cell in the full raster.
    full_width : int
        Columns of the full raster; with ``offset`` it makes cell ids independent of clipping.
    files : dict of str to list of str
        Band files summed into each layer.
    notes : list of str
        Assumptions made while reading (scale/offset applied, nodata read as zero, cells
        masked), passed on to the demand cells' ``attrs["notes"]``.
    """

    layers: dict[str, np.ndarray]
    transform: Affine
    crs: CRS
    source: str
    masked: np.ndarray
    offset: tuple[int, int] = (0, 0)
    full_width: int = 0
    files: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the arrays."""
        return self.masked.shape

    def total(self, column: str = "elders_60") -> float:
        """Persons in ``column`` over all unmasked cells."""
        return float(np.nansum(self.layers[column]))


def _age_column(age: int) -> str:
    if age not in AGE_COLUMNS:
        raise ValueError(f"age floor {age} not supported; choose from {sorted(AGE_COLUMNS)}")
    return AGE_COLUMNS[age]


def _open_raster(path: Path):
    import rasterio
    from rasterio.errors import RasterioIOError

    check_file(path)
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise InputError(f"not a readable raster: {exc}", path=path) from exc


def _window(src, clip_to: Any):
    """Window of ``src`` covering ``clip_to`` (GeoDataFrame/GeoSeries or bounds in src CRS)."""
    from rasterio.windows import Window, from_bounds

    if clip_to is None:
        return None
    if isinstance(clip_to, gpd.GeoDataFrame | gpd.GeoSeries):
        bounds = clip_to.to_crs(src.crs).total_bounds
    else:
        bounds = np.asarray(clip_to, dtype=float)
    w = from_bounds(*bounds, transform=src.transform)
    # Whole cells only, grown outward, so no cell is split and counts stay whole.
    r0, c0 = math.floor(w.row_off + 1e-9), math.floor(w.col_off + 1e-9)
    r1 = math.ceil(w.row_off + w.height - 1e-9)
    c1 = math.ceil(w.col_off + w.width - 1e-9)
    win = Window(c0, r0, max(c1 - c0, 1), max(r1 - r0, 1))
    full = Window(0, 0, src.width, src.height)
    try:
        return win.intersection(full)
    except Exception as exc:
        raise InputError(f"clip area {tuple(bounds)} does not overlap the raster",
                         path=src.name) from exc


def _show(v: Any) -> str:
    if isinstance(v, Affine):
        return "(" + ", ".join(f"{a:.10g}" for a in tuple(v)[:6]) + ")"
    if isinstance(v, CRS):
        return crs_label(v)
    return str(v)


def _centres(t: Affine, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CRS coordinates of the centres of cells ``(rows, cols)``."""
    cx, cy = cols + 0.5, rows + 0.5
    return t.a * cx + t.b * cy + t.c, t.d * cx + t.e * cy + t.f


#: Scenario keys that set the reader options named in messages.
KEY_INVALID = "scenario key inputs.population.invalid: mask"
KEY_OUTSIDE = "scenario key inputs.population.outside: drop"


def _inside_mask(shape: tuple[int, int], transform: Affine, crs: CRS, area: Any) -> np.ndarray:
    """True for cells whose centre lies in ``area`` (GeoDataFrame/GeoSeries of polygons)."""
    from rasterio.features import geometry_mask

    geoms = area.geometry.to_crs(crs) if isinstance(area, gpd.GeoDataFrame) else area.to_crs(crs)
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms or 0 in shape:
        return np.zeros(shape, dtype=bool)
    return geometry_mask(geoms, out_shape=shape, transform=transform, invert=True)


def _read_band(
    path: Path, band: int, invalid: Invalid, clip_to: Any, ref: dict[str, Any] | None,
    study_area: Any = None, notes: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Band as float64 persons plus its invalid-cell mask; checks grid agreement with ``ref``.

    GDAL scale and offset are applied (``persons = stored * scale + offset``). Cells equal
    to a nodata value of 0 are read as 0 persons: they cannot be told from empty cells, and
    an empty cell is what they mean in count rasters. With ``study_area``, invalid cells
    whose centre lies outside it are masked without complaint (WorldPop tiles hold nodata
    beyond coasts and borders, which a non-rectangular study area's bounding box crosses).
    """
    notes = notes if notes is not None else []
    with _open_raster(path) as src:
        if src.crs is None:
            raise InputError("raster has no CRS", path=path, band=str(band))
        if not 1 <= band <= src.count:
            raise InputError(f"raster has {src.count} band(s), no band {band}", path=path,
                             band=str(band))
        win = _window(src, clip_to) if ref is None else ref["window"]
        grid = {
            "crs": CRS.from_user_input(src.crs),
            "full_transform": src.transform,
            "full_shape": (src.height, src.width),
            "window": win,
        }
        if ref is not None:
            for key in ("crs", "full_transform", "full_shape"):
                if grid[key] != ref[key]:
                    raise InputError(f"{key.replace('full_', '')} {_show(grid[key])} differs "
                                     f"from {ref['path'].name}'s {_show(ref[key])}; all bands "
                                     "must share one grid", path=path, band=str(band))
        grid["path"] = path
        grid["transform"] = src.window_transform(win) if win is not None else src.transform
        try:
            data = src.read(band, window=win).astype(np.float64)
        except Exception as exc:  # corrupt tiles surface only when read
            raise InputError(f"cannot read pixel data: {exc}", path=path,
                             band=str(band)) from exc
        nodata = src.nodatavals[band - 1]
        scale, offset = float(src.scales[band - 1]), float(src.offsets[band - 1])
    is_nodata = np.zeros(data.shape, dtype=bool)
    if nodata is not None:
        is_nodata = np.isnan(data) if np.isnan(nodata) else data == nodata
    if scale != 1.0 or offset != 0.0:
        if not (np.isfinite(scale) and np.isfinite(offset)) or scale == 0.0:
            raise InputError(f"band scale {scale:g} / offset {offset:g} cannot be applied",
                             path=path, band=str(band))
        data = data * scale + offset
        notes.append(f"{path.name} band {band}: stored values × {scale:g} + {offset:g} "
                     "(the band's GDAL scale/offset) give persons")
    if nodata == 0 and is_nodata.any():
        data[is_nodata] = 0.0
        is_nodata[:] = False
        notes.append(f"{path.name} band {band}: nodata value 0 read as 0 persons")
    bad = is_nodata | ~np.isfinite(data) | (data < 0)
    if study_area is not None and bad.any():
        # Rasterised once per grid: a province window is tens of millions of cells and
        # WorldPop has a dozen bands on the same grid.
        holder = ref if ref is not None else grid
        if "inside" not in holder:
            holder["inside"] = _inside_mask(data.shape, grid["transform"], grid["crs"],
                                            study_area)
        report = bad & holder["inside"]
    else:
        report = bad
    if report.any() and invalid == "raise":
        r, c = (int(v[0]) for v in np.nonzero(report))
        x, y = _centres(grid["transform"], np.array([r]), np.array([c]))
        x, y = float(x[0]), float(y[0])
        value = data[r, c]
        what = "nodata" if is_nodata[r, c] else repr(float(value))
        # Pixel numbers of the whole file, so they can be found in GIS whatever the clip.
        fr, fc = (r, c) if win is None else (r + int(win.row_off), c + int(win.col_off))
        where = " inside the study area" if study_area is not None else ""
        raise InputError(
            f"{int(report.sum())} cell(s){where} are nodata, NaN or negative, first at pixel "
            f"row {fr}, col {fc} (x={x:.6f}, y={y:.6f}) = {what}; fix the file or pass "
            f"invalid='mask' ({KEY_INVALID}) to exclude such cells", path=path,
            band=str(band))
    if report.any():
        notes.append(f"{path.name} band {band}: {int(report.sum())} nodata, NaN or negative "
                     "cell(s) inside the study area excluded (invalid: mask)")
    return data, bad, grid


def find_worldpop_files(
    folder: PathLike, *, iso: str | None = None, year: int | None = None,
) -> dict[tuple[str, int], Path]:
    """WorldPop age/sex band files in ``folder``, keyed by ``(sex, age)``.

    Raises
    ------
    InputError
        If the folder has no such files, or several countries/years/releases and ``iso``
        or ``year`` does not pick one.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError("not a folder of WorldPop band files", path=root)
    found: dict[tuple[str, str, str], dict[tuple[str, int], Path]] = {}
    for p in sorted(root.iterdir()):
        m = WORLDPOP_NAME.match(p.name)
        if not m:
            continue
        if iso is not None and m["iso"].lower() != iso.lower():
            continue
        if year is not None and int(m["year"]) != int(year):
            continue
        key = (m["iso"].lower(), m["year"], (m["rest"] or "").lower())
        found.setdefault(key, {})[(m["sex"].lower(), int(m["age"]))] = p
    if not found:
        raise InputError("no WorldPop band files named like chn_f_60_2020.tif "
                         "({iso}_{sex}_{age}_{year}.tif)", path=root)
    if len(found) > 1:
        sets = ", ".join(f"{i}/{y}{r}" for i, y, r in sorted(found))
        raise InputError(f"several WorldPop sets ({sets}); pass iso= and year= to choose one "
                         "(scenario keys inputs.population.iso and inputs.population.year)",
                         path=root)
    return next(iter(found.values()))


def read_worldpop(
    folder: PathLike,
    *,
    ages: Sequence[int] = (60, 65, 80),
    iso: str | None = None,
    year: int | None = None,
    invalid: Invalid = "raise",
    clip_to: Any = None,
    study_area: Any = None,
) -> ElderRaster:
    """Sum WorldPop age/sex bands into elder counts for each age floor.

    Parameters
    ----------
    folder : str or PathLike
        Folder with files ``{iso}_{sex}_{age}_{year}.tif`` (sex ``f``/``m``, age the band's
        lower bound, 80 meaning 80+), e.g. ``chn_f_60_2020.tif`` … ``chn_m_80_2020.tif``.
    ages : sequence of int, default (60, 65, 80)
        Age floors to produce; each must be in ``schema.AGE_COLUMNS``. Floor ``a`` sums
        both sexes' bands ``a, a+5, …, 80``.
    iso, year : optional
        Choose a set when the folder holds several countries or years.
    invalid : {"raise", "mask"}, default "raise"
        What to do with nodata, NaN, infinite or negative cells in any band used: raise an
        :class:`InputError` naming the file, band and first pixel, or mask the cell (NaN in
        every layer, ``masked`` True).
    clip_to : GeoDataFrame, GeoSeries or (minx, miny, maxx, maxy), optional
        Read only the whole cells covering this area (bounds in the raster CRS), so a
        country-wide file need not fit in memory.
    study_area : GeoDataFrame or GeoSeries, optional
        Polygons of the study area: ``invalid`` applies only to cells whose centre lies
        inside; invalid cells outside are masked silently, since they are not counted.

    Returns
    -------
    ElderRaster
        In the bands' own grid and CRS; no resampling.
    """
    cols = {a: _age_column(int(a)) for a in sorted(set(ages))}
    if invalid not in ("raise", "mask"):
        raise ValueError(f"invalid must be 'raise' or 'mask', not {invalid!r}")
    files = find_worldpop_files(folder, iso=iso, year=year)
    lowest = min(cols)
    if lowest not in WORLDPOP_AGES:
        raise ValueError(f"age floor {lowest} is not a WorldPop band bound {WORLDPOP_AGES}")
    needed = [a for a in WORLDPOP_AGES if a >= lowest]
    missing = [f"{s}_{a}" for a in needed for s in "fm" if (s, a) not in files]
    if missing:
        raise InputError(f"WorldPop bands missing for {lowest}+: {', '.join(missing)} "
                         "(files {iso}_{sex}_{age}_{year}.tif)", path=folder)
    ref: dict[str, Any] | None = None
    running: np.ndarray | None = None
    bad_any: np.ndarray | None = None
    layers: dict[str, np.ndarray] = {}
    used: list[str] = []
    notes: list[str] = []
    # Oldest band first, so every floor's layer is a running total taken on the way down.
    for age in sorted(needed, reverse=True):
        for sex in "fm":
            data, bad, grid = _read_band(files[(sex, age)], 1, invalid, clip_to, ref,
                                         study_area, notes)
            ref = ref or grid
            used.append(files[(sex, age)].name)
            running = data if running is None else running + data
            bad_any = bad if bad_any is None else bad_any | bad
        if age in cols:
            layers[cols[age]] = running.copy()
    assert ref is not None and bad_any is not None
    file_lists = {cols[a]: [f for f in used if int(WORLDPOP_NAME.match(f)["age"]) >= a]
                  for a in cols}
    return _finish(layers, bad_any, ref, os.fspath(folder), file_lists, notes)


def read_elder_raster(
    path: PathLike,
    *,
    age: int = 60,
    band: int = 1,
    invalid: Invalid = "raise",
    clip_to: Any = None,
    study_area: Any = None,
) -> ElderRaster:
    """Read a single-band GeoTIFF (or any GDAL raster) of elder counts per cell.

    Parameters
    ----------
    path : str or PathLike
        Raster of persons per cell.
    age : int, default 60
        Age floor the counts are for; names the layer (``elders_60`` …).
    band : int, default 1
        Band to read.
    invalid, clip_to, study_area
        As in :func:`read_worldpop`. GDAL scale/offset of the band are applied.
    """
    col = _age_column(age)
    if invalid not in ("raise", "mask"):
        raise ValueError(f"invalid must be 'raise' or 'mask', not {invalid!r}")
    p = Path(path)
    notes: list[str] = []
    data, bad, grid = _read_band(p, band, invalid, clip_to, None, study_area, notes)
    return _finish({col: data}, bad, grid, os.fspath(p), {col: [p.name]}, notes)


def _finish(layers: dict[str, np.ndarray], bad: np.ndarray, grid: dict[str, Any], source: str,
            files: dict[str, list[str]], notes: list[str]) -> ElderRaster:
    for arr in layers.values():
        arr[bad] = np.nan
    win = grid["window"]
    offset = (0, 0) if win is None else (int(win.row_off), int(win.col_off))
    ordered = {c: layers[c] for c in AGE_COLUMNS.values() if c in layers}
    return ElderRaster(layers=ordered, transform=grid["transform"], crs=grid["crs"],
                       source=source, masked=bad, offset=offset,
                       full_width=int(grid["full_shape"][1]), files=files,
                       notes=list(dict.fromkeys(notes)))


def raster_to_cells(
    raster: ElderRaster,
    *,
    crs: Any = None,
    counties: gpd.GeoDataFrame | None = None,
    townships: gpd.GeoDataFrame | None = None,
    outside: Outside = "raise",
) -> gpd.GeoDataFrame:
    """Demand cells: one point per populated raster cell, at the cell centre, in metres.

    Cell centres are computed in the raster's CRS and the points reprojected; the counts are
    carried unchanged, so ``cells[col].sum() == raster.total(col)`` (minus cells dropped
    outside the study area).

    Parameters
    ----------
    raster : ElderRaster
        From :func:`read_worldpop` or :func:`read_elder_raster`.
    crs : optional
        Metric CRS; default the UTM zone of the populated cells' centre.
    counties, townships : GeoDataFrame, optional
        Boundary layers with a ``code`` column (see :func:`~elder_coverage.io.read_boundaries`) to
        fill ``county_code``/``township_code``. The finest layer given is the study area.
    outside : {"raise", "drop"}, default "raise"
        Populated cells whose centre lies outside the study area: an :class:`InputError`
        naming their pixels, or dropped, with the cells and persons dropped recorded in
        ``attrs["dropped_outside"]``. A raster clipped to a bounding box always has such
        cells, so it needs ``"drop"``.

    Returns
    -------
    GeoDataFrame
        Columns ``cell_id`` (int: ``row * full_width + col`` in the full raster), the
        ``elders_*`` layers present (persons, float), ``county_code`` and ``township_code``
        (str; missing when no boundary layer is given), point geometry. Cells with no
        elders are left out. ``attrs``: ``source_crs``, ``source_path``, ``masked_cells``.
    """
    layers = raster.layers
    # Layer by layer rather than stacked: a province at 100 m is 46 M cells per layer.
    populated = np.zeros(raster.shape, dtype=bool)
    for arr in layers.values():
        populated |= arr > 0  # NaN compares False
    populated &= ~raster.masked
    rows, cols = np.nonzero(populated)
    xs, ys = _centres(raster.transform, rows, cols)
    data: dict[str, Any] = {
        "cell_id": (rows + raster.offset[0]).astype(np.int64) * max(raster.full_width, 1)
        + (cols + raster.offset[1]),
    }
    for col, arr in layers.items():
        data[col] = arr[rows, cols]
    cells = gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(xs, ys), crs=raster.crs)
    if len(cells) == 0:
        raise InputError("raster has no populated cells", path=raster.source)
    cells = to_metric(cells, crs)

    def error(idx: np.ndarray) -> InputError:
        shown = ", ".join(f"(row {rows[i] + raster.offset[0]}, col {cols[i] + raster.offset[1]})"
                          for i in idx[:10])
        more = ", …" if idx.size > 10 else ""
        return InputError(f"{idx.size} populated cell(s) outside the study area at pixel "
                          f"{shown}{more}; pass outside='drop' ({KEY_OUTSIDE}) to leave "
                          "them out", path=raster.source, field="geometry")

    if outside not in ("raise", "drop"):
        raise ValueError(f"outside must be 'raise' or 'drop', not {outside!r}")
    cells, out = _assign_areas(cells, counties, townships)
    cells = _handle_outside(cells, out, outside, error, townships if townships is not None
                            else counties, raster.source, "raster cell")
    cells.attrs["masked_cells"] = int(raster.masked.sum())
    for note in raster.notes:
        add_note(cells, note)
    return record_source(cells, raster.crs, raster.source)


def _assign_areas(
    cells: gpd.GeoDataFrame,
    counties: gpd.GeoDataFrame | None,
    townships: gpd.GeoDataFrame | None,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Fill county/township codes by point-in-polygon.

    Returns the cells and the positions of those outside the study area (the finest layer
    given; none when no layer is given).
    """
    n = len(cells)
    codes = {"county_code": np.full(n, None, dtype=object),
             "township_code": np.full(n, None, dtype=object)}
    finest = None
    for col, layer in (("county_code", counties), ("township_code", townships)):
        if layer is None:
            continue
        if "code" not in layer.columns:
            raise ValueError(f"{col[:-5]} layer has no 'code' column; read it with "
                             "elder_coverage.io.read_boundaries")
        codes[col] = _locate(cells, layer)
        finest = col
    if townships is not None and "county_code" in townships.columns:
        filled = _locate(cells, townships, "county_code")
        take = pd.isna(codes["county_code"])
        codes["county_code"][take] = filled[take]
    if townships is not None and counties is None:
        # Township statistical codes (9 or 12 digits) begin with their 6-digit county code.
        for i, code in enumerate(codes["township_code"]):
            if codes["county_code"][i] is None and isinstance(code, str) and code.isdigit() \
                    and len(code) >= 9:
                codes["county_code"][i] = code[:6]
    for col, vals in codes.items():
        cells[col] = pd.array(vals, dtype="string")
    order = [c for c in CELL_COLUMNS if c in cells.columns]
    cells = cells[[*order, *[c for c in cells.columns if c not in order]]]
    if finest is None:
        return cells, np.array([], dtype=np.int64)
    return cells, np.flatnonzero(pd.isna(codes[finest]))


def _handle_outside(
    cells: gpd.GeoDataFrame, out: np.ndarray, outside: Outside, error: Any,
    area: gpd.GeoDataFrame | None, source: PathLike, unit: str,
) -> gpd.GeoDataFrame:
    """Raise ``error(out)`` or drop the rows ``out``, recording what was dropped.

    When every row is outside, the input does not overlap the study area at all: that is an
    error whatever ``outside`` says, since the result would be zero elders.
    """
    if out.size == 0:
        return cells
    persons = {c: float(cells[c].iloc[out].sum()) for c in AGE_COLUMNS.values() if c in cells}
    total = float(cells["elders_60"].sum()) if "elders_60" in cells else 0.0
    if out.size == len(cells):
        extent = ""
        if area is not None:
            a = area.to_crs(4326).total_bounds
            b = cells.to_crs(4326).total_bounds
            extent = (f"; data extent lon {b[0]:.4f}–{b[2]:.4f}, lat {b[1]:.4f}–{b[3]:.4f}, "
                      f"study area lon {a[0]:.4f}–{a[2]:.4f}, lat {a[1]:.4f}–{a[3]:.4f}")
        raise InputError(f"does not overlap the study area: all {out.size} populated "
                         f"{unit}(s) ({total:,.0f} elders aged 60+) lie outside it{extent}",
                         path=source)
    if outside == "raise":
        raise error(out)
    keep = np.ones(len(cells), dtype=bool)
    keep[out] = False
    attrs = dict(cells.attrs)
    cells = cells[keep].reset_index(drop=True)
    cells.attrs = {**attrs, "dropped_outside": {"cells": int(out.size), **persons}}
    if total > 0 and "elders_60" in persons:
        add_note(cells, f"{Path(source).name}: {persons['elders_60']:,.0f} of {total:,.0f} "
                        f"elders aged 60+ ({persons['elders_60'] / total:.1%}) in {out.size} "
                        f"{unit}(s) lie outside the study area and are not counted")
    return cells


def _locate(cells: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, column: str = "code") -> np.ndarray:
    """Value of ``column`` of the polygon holding each cell (first one on shared edges).

    The tree is built on the cells and queried with the polygons, so each polygon is
    prepared once and tests all its candidate points (a spatial join of points against
    polygons tests each point against an unprepared polygon: 15 times slower on the
    county layer). The few cells in two or more polygons (on a shared edge, or where a
    layer's polygons overlap) are settled by that spatial join, which keeps the first
    polygon of its own index order: the codes are the same as before, cell for cell.
    """
    import shapely

    poly = layer[[column, layer.geometry.name]].to_crs(cells.crs).reset_index(drop=True)
    tree = shapely.STRtree(cells.geometry.to_numpy())
    poly_idx, cell_idx = tree.query(poly.geometry.to_numpy(), predicate="intersects")
    first = np.full(len(cells), -1, dtype=np.int64)
    first[cell_idx] = poly_idx
    several = np.flatnonzero(np.bincount(cell_idx, minlength=len(cells)) > 1)
    if several.size:
        sub = cells[[cells.geometry.name]].iloc[several].reset_index(drop=True)
        hit = gpd.sjoin(sub, poly[[poly.geometry.name]], how="inner", predicate="intersects")
        hit = hit[~hit.index.duplicated(keep="first")]
        first[several[hit.index.to_numpy()]] = hit["index_right"].to_numpy()
    found = first >= 0
    out = np.full(len(cells), None, dtype=object)
    out[found] = code_text(poly[column]).to_numpy()[first[found]]
    return out


def read_elder_table(
    path: PathLike,
    *,
    columns: Mapping[int, str] | None = None,
    crs: Any = None,
    counties: gpd.GeoDataFrame | None = None,
    townships: gpd.GeoDataFrame | None = None,
    layer: str | int | None = None,
    source_crs: Any = None,
    lon: str | None = None,
    lat: str | None = None,
    x: str | None = None,
    y: str | None = None,
    invalid: Invalid = "raise",
    outside: Outside = "raise",
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Demand cells from a vector grid or point table with elder-count columns.

    Parameters
    ----------
    path : str or PathLike
        GeoPackage/GeoJSON/Shapefile of grid polygons or points, or a CSV with lon/lat
        (``经度``/``纬度``) or x/y columns.
    columns : mapping of int to str, optional
        ``{60: "column with 60+ persons", ...}``. Default: columns named ``elders_60``,
        ``pop60``, ``60+``, ``60岁及以上人口`` … for each floor in ``schema.AGE_COLUMNS``.
    crs : optional
        Metric CRS; default the UTM zone of the data's centre.
    counties, townships : GeoDataFrame, optional
        Boundary layers that fill the code columns and define the study area.
    layer, source_crs, lon, lat, x, y, encoding
        As in :func:`~elder_coverage.io.read_facilities`.
    invalid : {"raise", "mask"}, default "raise"
        Counts are read as written in spreadsheets (``300人``, ``1,200``). Missing,
        non-numeric, infinite or negative counts: an :class:`InputError` naming the
        row and column, or drop the row (count in ``attrs["masked_rows"]``).
    outside : {"raise", "drop"}, default "raise"
        Rows outside the study area: error naming the rows, or drop them
        (``attrs["dropped_outside"]``).

    Returns
    -------
    GeoDataFrame
        Same columns as :func:`raster_to_cells`. Polygons become their centroid; rows with
        no elders are left out. ``cell_id`` is the file's id column (``cell_id``/``id``/
        ``网格编号``) when present, else the 0-based row position.
    """
    if invalid not in ("raise", "mask"):
        raise ValueError(f"invalid must be 'raise' or 'mask', not {invalid!r}")
    raw = read_points(path, layer=layer, source_crs=source_crs, lon=lon, lat=lat, x=x, y=y,
                      encoding=encoding)
    src_crs = raw.crs
    notes = notes_of(raw)
    found: dict[str, str] = {}
    for age, col in AGE_COLUMNS.items():
        explicit = None if columns is None else columns.get(age)
        if columns is not None and explicit is None:
            continue
        c = find_column(raw.columns, COUNT_ALIASES[age], explicit=explicit, path=path,
                        what=f"{age}+ count")
        if c is not None:
            found[col] = c
    if not found:
        names = "; ".join(f"{a}+: {', '.join(v[:3])}…" for a, v in COUNT_ALIASES.items())
        raise InputError(f"no elder-count column ({names}); pass columns={{60: 'name'}} "
                         "(scenario key inputs.population.column); "
                         f"columns are {[c for c in raw.columns if c != raw.geometry.name]}",
                         path=path)
    values: dict[str, np.ndarray] = {}
    bad_rows = np.zeros(len(raw), dtype=bool)
    for col, c in found.items():
        v = parse_counts(raw[c]).to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any() and invalid == "raise":
            r = np.flatnonzero(bad)
            raise InputError(f"elder count is missing, not a number of persons or negative "
                             f"({raw[c].iloc[r[0]]!r}); pass invalid='mask' ({KEY_INVALID}) "
                             "to drop such rows", path=path, row=(r + 1).tolist(), field=c)
        bad_rows |= bad
        values[col] = v
    names = list(found)
    for hi, lo in zip(names, names[1:], strict=False):
        worse = values[lo] > values[hi] * (1 + 1e-9) + 1e-9
        worse &= ~bad_rows
        if worse.any():
            r = np.flatnonzero(worse)
            raise InputError(f"{found[lo]} ({values[lo][r[0]]:g}) exceeds {found[hi]} "
                             f"({values[hi][r[0]]:g}); an older age group cannot be larger",
                             path=path, row=(r + 1).tolist(), field=found[lo])

    id_c = find_column(raw.columns, CELL_ID_ALIASES)
    if id_c is not None:
        ids = code_text(raw[id_c])
        dup = ids.duplicated(keep=False).to_numpy() | ids.isna().to_numpy()
        if dup.any():
            first = ids[dup].iloc[0]
            r = np.flatnonzero(((ids == first) | ids.isna()).to_numpy())
            raise InputError(f"cell id {first!r} is missing or not unique", path=path,
                             row=(r + 1).tolist(), field=id_c)
        cell_id = ids.to_numpy()
        if all(isinstance(s, str) and s.lstrip("-").isdigit() and not s.startswith("0")
               for s in cell_id):
            cell_id = cell_id.astype(np.int64)
    else:
        cell_id = np.arange(len(raw), dtype=np.int64)

    geom = raw.geometry
    kinds = geom.geom_type.to_numpy()
    ok = np.isin(kinds, ["Point", "Polygon", "MultiPolygon"])
    if not ok.all():
        r = np.flatnonzero(~ok)
        raise InputError(f"geometry is {kinds[r[0]]}; expected grid polygons or points",
                         path=path, row=(r + 1).tolist(), field="geometry")
    data = {"cell_id": cell_id, **values}
    cells = gpd.GeoDataFrame(data, geometry=geom.to_numpy(), crs=src_crs)
    row_no = np.arange(1, len(raw) + 1)
    stack = np.column_stack(list(values.values()))
    keep = ~bad_rows & (np.nansum(np.where(np.isfinite(stack), stack, 0), axis=1) > 0)
    masked = int(bad_rows.sum())
    cells, row_no = cells[keep].reset_index(drop=True), row_no[keep]
    if len(cells) == 0:
        raise InputError("no row has a positive elder count", path=path)
    cells = to_metric(cells, crs)
    # Centroids in metres: degrees would shift them, and grid cells are convex so stay inside.
    areal = cells.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if areal.any():
        g = cells.geometry.copy()
        g[areal] = cells.geometry[areal].centroid
        cells = cells.set_geometry(g)

    def error(idx: np.ndarray) -> InputError:
        return InputError(f"{idx.size} row(s) outside the study area; pass outside='drop' "
                          f"({KEY_OUTSIDE}) to leave them out", path=path,
                          row=row_no[idx].tolist(), field="geometry")

    if outside not in ("raise", "drop"):
        raise ValueError(f"outside must be 'raise' or 'drop', not {outside!r}")
    cells, out = _assign_areas(cells, counties, townships)
    cells = _handle_outside(cells, out, outside, error, townships if townships is not None
                            else counties, path, "row")
    cells.attrs["masked_rows"] = masked
    if masked:
        add_note(cells, f"{Path(path).name}: {masked} row(s) with a missing or invalid elder "
                        "count left out (invalid: mask)")
    for note in notes:
        add_note(cells, note)
    return record_source(cells, src_crs, path)

