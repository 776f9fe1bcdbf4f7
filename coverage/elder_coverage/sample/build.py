"""Build ``<data folder>/<area>_<res>m`` from the packaged raw sources: one deterministic command.

``python -m elder_coverage.sample`` writes the default study area (the five rural counties of
Jilin City at 250 m); ``--area province --resolution 100`` makes the whole province for the
scale benchmarks. Same raw inputs and seed → the same bytes: fixed seeds per zone, stable
sorts, and GeoPackage timestamps pinned through GDAL's ``OGR_CURRENT_DATE``. The raw sources
and the data folder (``data/processed`` in a checkout, else a user cache folder) are located by
:mod:`elder_coverage.sample.paths`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely

from elder_coverage._errors import SettingsError
from elder_coverage.io.atomic import atomic_dir
from elder_coverage.io.crs import choose_metric_crs
from elder_coverage.progress import StageProgress
from elder_coverage.sample import paths
from elder_coverage.sample.census import load_census
from elder_coverage.sample.facilities import build_facilities
from elder_coverage.sample.grid import ElderGrid, build_elder_grid
from elder_coverage.sample.layout import HOST_DISTRICTS, build_layout
from elder_coverage.sample.roads import build_roads
from elder_coverage.scenario import check_number
from elder_coverage.schema import AGE_COLUMNS

#: The packaged raw sources (``elder_coverage/data/raw``), read by default.
RAW_DIR = paths.raw_dir()
DEFAULT_SEED = 20201101
DEFAULT_RESOLUTION_M = 250.0
#: Study areas by name: county codes, or None for the whole province.
AREAS: dict[str, tuple[str, ...] | None] = {
    # 永吉 蛟河 桦甸 舒兰 磐石: the five rural counties of Jilin City.
    "jilin_city_rural": ("220221", "220281", "220282", "220283", "220284"),
    "province": None,
}
DEFAULT_AREA = "jilin_city_rural"
SYNTHETIC_NOTE = (
    "SYNTHETIC sample: county polygons, township/village names and codes, census county "
    "totals and the township seats flagged seat_source=real (Vonng/adcode, CC BY 4.0) are "
    "real; the other seats, township cells, village positions, the elder grid's spatial "
    "pattern, facilities and roads are synthesised (seeded) and do not describe real places."
)
#: Coarsest cell size (m): beyond it townships no longer hold a cell each.
MAX_RESOLUTION_M = 10_000.0
# Peak bytes per grid cell while building (township raster, three float64 density layers
# with their temporaries, three int32 count layers): a deliberately high estimate, since
# running out of memory half-way is worse than refusing a size that would just fit.
_BYTES_PER_CELL = 64
# Pinned so that GeoPackage metadata timestamps do not change between builds.
_FIXED_DATE = "2020-11-01T00:00:00Z"


def sample_dir(area: str = DEFAULT_AREA, resolution: float = DEFAULT_RESOLUTION_M) -> Path:
    """Default output folder of a sample build, e.g. ``data/processed/jilin_city_rural_250m``.

    The parent is :func:`elder_coverage.sample.paths.data_dir`, looked up on each call so
    that ``set_data_dir`` and ``ELDER_COVERAGE_CACHE`` apply to later builds.
    """
    return paths.data_dir() / f"{area}_{int(resolution)}m"


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small desktop
        return 8 * 2**30


def check_resolution(
    resolution: float,
    area: str | tuple[str, ...] = DEFAULT_AREA,
    *,
    raw_dir: str | Path = RAW_DIR,
    memory_bytes: int | None = None,
) -> int:
    """Refuse a cell size that is not a positive finite number of metres or would not fit.

    Parameters
    ----------
    resolution : float
        Elder-grid cell size in metres, in ``(0, MAX_RESOLUTION_M]``.
    area : str or tuple of str
        Study area, as for :func:`build_sample`.
    raw_dir : path-like
        Folder with ``jilin_counties.geojson`` (the area's extent).
    memory_bytes : int, optional
        Memory to plan with (default: this machine's physical memory); a build may use
        half of it.

    Returns
    -------
    int
        Estimated number of grid cells (the area's bounding box at ``resolution``).

    Raises
    ------
    SettingsError
        Naming ``resolution``, the estimate in GiB and the finest size that would fit.
    """
    problem = check_number(resolution, lo=0, hi=MAX_RESOLUTION_M, lo_open=True)
    if problem:
        raise SettingsError(f"resolution (cell size in metres): {problem}")
    codes = _county_codes(area)
    counties = gpd.read_file(Path(raw_dir) / "jilin_counties.geojson", columns=["code"])
    if codes is not None:
        counties = counties[counties["code"].isin(codes)]
        if counties.empty:  # unknown codes: build_sample names them
            return 0
    minx, miny, maxx, maxy = counties.to_crs(choose_metric_crs(counties)).total_bounds
    cells = (math.ceil((maxx - minx) / resolution) + 1) * (math.ceil((maxy - miny) / resolution)
                                                          + 1)
    budget = (memory_bytes or _memory_bytes()) / 2
    need = cells * _BYTES_PER_CELL
    if need > budget:
        finest = math.ceil(math.sqrt((maxx - minx) * (maxy - miny) * _BYTES_PER_CELL / budget))
        name = area if isinstance(area, str) else "custom"
        raise SettingsError(
            f"resolution {resolution:g} m: the {name} grid would have {cells:,} cells and need "
            f"about {need / 2**30:,.1f} GiB of memory; this machine allows "
            f"{budget / 2**30:,.1f} GiB. Use a cell size of {finest} m or more.")
    return cells


def _county_codes(area: str | tuple[str, ...]) -> tuple[str, ...] | None:
    if isinstance(area, str):
        if area not in AREAS:
            raise ValueError(f"unknown study area {area!r}; known: {sorted(AREAS)}")
        return AREAS[area]
    return tuple(area)


def _write_raster(path: Path, grid: ElderGrid, age: int) -> None:
    rows, cols = grid.counts[age].shape
    profile = {
        "driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "int32",
        "crs": grid.crs, "transform": grid.transform, "nodata": -1,
        "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(grid.counts[age], 1)
        dst.update_tags(SYNTHETIC="yes", AGE_FLOOR=str(age), UNIT="persons",
                        NOTE=SYNTHETIC_NOTE)
        dst.set_band_description(1, f"elders aged {age}+ (persons, synthetic dasymetric)")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_fingerprint(area: str | tuple[str, ...], resolution: float, seed: int,
                      raw_dir: str | Path = RAW_DIR) -> str:
    """Hash of everything a build depends on: raw files, builder code, parameters.

    Stored in ``manifest.json``; a sample whose fingerprint differs is stale and is rebuilt
    by ``--if-missing`` (and by the test fixture) instead of being silently reused.
    """
    h = hashlib.sha256()
    h.update(repr((area, float(resolution), int(seed))).encode())
    code = sorted(Path(__file__).parent.glob("*.py"))
    for path in sorted(Path(raw_dir).iterdir()) + code:
        if path.is_file() and path.name != "SOURCES.md":
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def sample_is_current(folder: str | Path, area: str | tuple[str, ...] = DEFAULT_AREA,
                      resolution: float = DEFAULT_RESOLUTION_M, seed: int = DEFAULT_SEED) -> bool:
    """True when ``folder`` holds a sample built from today's raw files, code and parameters."""
    manifest = Path(folder) / "manifest.json"
    if not manifest.exists():
        return False
    try:
        stored = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return False
    return stored == build_fingerprint(area, resolution, seed)


def build_sample(
    out: str | Path | None = None,
    area: str | tuple[str, ...] = DEFAULT_AREA,
    resolution: float = DEFAULT_RESOLUTION_M,
    seed: int = DEFAULT_SEED,
    raw_dir: str | Path = RAW_DIR,
) -> Path:
    """Build the synthetic Jilin sample for a study area.

    Parameters
    ----------
    out : path-like, optional
        Output folder (replaced atomically); default :func:`sample_dir`.
    area : str or tuple of str
        A name in :data:`AREAS` or county codes.
    resolution : float
        Elder-grid cell size in metres; checked by :func:`check_resolution`.
    seed : int
        Seed of every random choice.
    raw_dir : path-like
        Folder with the raw sources (default: the packaged ones, :data:`RAW_DIR`).

    Returns
    -------
    Path
        The output folder, holding ``counties.gpkg``, ``townships.gpkg`` (layers ``cells``
        and ``seats``), ``villages.gpkg``, ``facilities.gpkg`` and ``facilities.csv``,
        ``elders_60.tif`` / ``elders_65.tif`` / ``elders_80.tif`` (persons per cell),
        ``roads.graphml`` and ``manifest.json``.
    """
    from elder_coverage.io.roads import add_travel_times, save_graph

    raw = Path(raw_dir)
    check_resolution(resolution, area, raw_dir=raw)
    name = area if isinstance(area, str) else "custom"
    progress = StageProgress(f"sample {name}", 6)
    progress.stage("sources")
    out = Path(out) if out is not None else sample_dir(name, resolution)
    codes = _county_codes(area)
    census = load_census(raw / "census2020_jilin_counties.csv")
    counties = gpd.read_file(raw / "jilin_counties.geojson")
    townships = pd.read_csv(raw / "jilin_townships.csv", dtype=str)
    villages = pd.read_csv(raw / "jilin_villages.csv", dtype=str)
    if codes is not None:
        unknown = sorted(set(codes) - set(counties["code"]))
        if unknown:
            raise ValueError(f"county codes without a polygon in {raw}: {unknown}")
        counties = counties[counties["code"].isin(codes)]
    else:
        codes = tuple(sorted(set(townships["county_code"])))
    # Development zones laid out inside their host districts join when all hosts are in.
    present = set(counties["code"])
    zones = [z for z, hosts in HOST_DISTRICTS.items() if all(h in present for h in hosts)]
    wanted = sorted(set(counties["code"]) | set(zones))
    townships = townships[townships["county_code"].isin(wanted)]
    villages = villages[villages["county_code"].isin(wanted)]

    progress.stage("layout and elder grid")
    crs = choose_metric_crs(counties)
    counties_m = counties.to_crs(crs).sort_values("code").reset_index(drop=True)
    seats, cells, village_pts = build_layout(
        counties_m, townships, villages, seed,
        real_seats=load_real_seats(raw / "jilin_township_seats.csv", crs))
    grid = build_elder_grid(cells, seats, village_pts, census, resolution)

    # County layer: real polygons; zones without one get the union of their township cells.
    extra = []
    for z in zones:
        geom = shapely.union_all(cells.loc[cells["county_code"] == z, "geometry"].to_numpy())
        extra.append({"code": z, "name": census.loc[z, "county"], "city_code": z[:4],
                      "city_name": census.loc[z, "city"], "geometry": geom})
    parts = [counties_m.assign(real_geometry=True)]
    if extra:
        parts.append(gpd.GeoDataFrame(extra, crs=crs).assign(real_geometry=False))
    counties_out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=crs)
    counties_out = counties_out.sort_values("code").reset_index(drop=True)
    cen = census.loc[counties_out["code"], ["total", "urban", "rural", "age60", "age65", "age80"]]
    counties_out = counties_out.join(cen.reset_index(drop=True))
    counties_out["census_note"] = census.loc[counties_out["code"], "note"].to_numpy()

    progress.stage("facilities")
    names = dict(zip(census.index, census["county"], strict=True))
    facilities = build_facilities(seats, village_pts, seed, county_names=names,
                                  county_areas=dict(zip(counties_out["code"],
                                                        counties_out.geometry, strict=True)))
    heads = county_towns(seats)
    progress.stage("roads")
    graph = add_travel_times(build_roads(seats, village_pts, heads))

    # Village elders (60+) from the grid, for the "villages with many older people" indicator.
    progress.stage("village elders")
    village_pts = _village_elders(village_pts, cells["code"].to_numpy(), grid)

    progress.stage("write")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    with progress, atomic_dir(out, kind="sample", recognise=_legacy_sample_files) as tmp:
        counties_out.to_file(tmp / "counties.gpkg", layer="counties", driver="GPKG")
        cells.to_file(tmp / "townships.gpkg", layer="cells", driver="GPKG")
        seats.to_file(tmp / "townships.gpkg", layer="seats", driver="GPKG")
        village_pts.to_file(tmp / "villages.gpkg", layer="villages", driver="GPKG")
        facilities.to_file(tmp / "facilities.gpkg", layer="facilities", driver="GPKG")
        ll = facilities.to_crs(4326)
        table = pd.DataFrame(facilities.drop(columns="geometry"))
        table.insert(3, "lon", ll.geometry.x.round(6))
        table.insert(4, "lat", ll.geometry.y.round(6))
        table.to_csv(tmp / "facilities.csv", index=False, lineterminator="\n")
        for age in AGE_COLUMNS:
            _write_raster(tmp / f"elders_{age}.tif", grid, age)
        save_graph(graph, tmp / "roads.graphml")
        county_idx = np.concatenate([[""], cells["county_code"].to_numpy()])[grid.township]
        sums = {}
        for code in sorted(set(cells["county_code"])):
            sel = county_idx == code
            sums[code] = {f"{a}+": int(grid.counts[a][sel].sum()) for a in AGE_COLUMNS}
        manifest = {
            "area": name,
            "county_codes": sorted(set(cells["county_code"])),
            "resolution_m": resolution,
            "seed": seed,
            "crs": crs.to_string() if hasattr(crs, "to_string") else str(crs),
            "synthetic": True,
            "note": SYNTHETIC_NOTE,
            "fingerprint": build_fingerprint(area, resolution, seed, raw),
            "counts": {
                "townships": len(seats), "villages": len(village_pts),
                "seat_source": seats["seat_source"].value_counts().sort_index().to_dict(),
                "facilities": facilities["kind"].value_counts().sort_index().to_dict(),
                "road_nodes": graph.number_of_nodes(), "road_edges": graph.number_of_edges(),
                "grid_cells": int(grid.township.size),
                "populated_cells": int((grid.counts[60] > 0).sum()),
            },
            "elders_by_county": sums,
            "elders_total": {f"{a}+": int(grid.counts[a][grid.counts[a] > 0].sum())
                             for a in AGE_COLUMNS},
            # Dot-files are atomic_dir's markers, not sample files: the partial marker holds
            # the builder's pid and is deleted on commit, so listing it made the manifest of
            # one process differ from another's for the same sample.
            "files": {p.name: _sha256(p) for p in sorted(tmp.iterdir())
                      if not p.name.startswith(".")},
        }
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
            encoding="utf-8")
    return out


def _legacy_sample_files(folder: Path) -> set[str] | None:
    """Files of a sample built before builds left a marker (its manifest lists them)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "fingerprint" not in manifest:
        return None
    files = manifest.get("files")
    return {*files, "manifest.json"} if isinstance(files, dict) else None


def load_real_seats(path: str | Path, crs: object) -> dict[str, tuple[float, float]]:
    """Real township seats (raw source ``jilin_township_seats.csv``) in a metric CRS.

    Parameters
    ----------
    path : path-like
        CSV with ``code`` (12-digit township code), ``lon``, ``lat`` (WGS84 degrees).
    crs : CRS-like
        Target CRS (metres).

    Returns
    -------
    dict
        Township code → ``(x, y)`` in metres.
    """
    table = pd.read_csv(path, dtype={"code": str})
    bad = (table["lon"].isna() | table["lat"].isna() | ~table["lon"].between(115, 135)
           | ~table["lat"].between(38, 48))
    if bad.any():
        raise ValueError(f"{path}: rows {[int(i) + 2 for i in np.flatnonzero(bad)]} have a "
                         "missing lon/lat or one outside Jilin (WGS84 degrees expected)")
    if table["code"].duplicated().any():
        dup = sorted(table.loc[table["code"].duplicated(), "code"])
        raise ValueError(f"{path}: duplicate township codes {dup}")
    pts = gpd.GeoSeries(gpd.points_from_xy(table["lon"], table["lat"]), crs=4326).to_crs(crs)
    return {c: (float(p.x), float(p.y)) for c, p in zip(table["code"], pts, strict=True)}


def county_towns(seats: gpd.GeoDataFrame) -> dict[str, str]:
    """County code → code of the township taken as the county seat (the roads' hub).

    The first urban sub-district with a real seat point, else the first urban sub-district,
    else the first township with a real point, else the first township.
    """
    out = {}
    for county, g in seats.sort_values("code").groupby("county_code", sort=True):
        real = g["seat_source"].ne("synthetic")
        for pick in (g["is_urban"] & real, g["is_urban"], real):
            if pick.any():
                out[county] = g.loc[pick, "code"].iloc[0]
                break
        else:
            out[county] = g["code"].iloc[0]
    return out


def _village_elders(
    villages: gpd.GeoDataFrame, township_codes: np.ndarray, grid: ElderGrid
) -> gpd.GeoDataFrame:
    """Attach to each village the 60+ of the grid cells nearest to it within its township.

    Each populated cell goes to its nearest village of the same township, so village counts
    partition the township's grid elders (nothing counted twice). ``township_codes`` lists
    the township of each grid index (index ``i`` is stored as ``i + 1`` in the grid).
    """
    from scipy.spatial import cKDTree

    out = villages.copy()
    elders = np.zeros(len(out), dtype=np.int64)
    rows, cols = np.nonzero(grid.counts[60] > 0)
    xs, ys = rasterio.transform.xy(grid.transform, rows, cols)
    xy = np.column_stack([xs, ys])
    town_of_cell = grid.township[rows, cols]
    index_of = {code: i + 1 for i, code in enumerate(township_codes)}
    vxy = np.column_stack([out.geometry.x, out.geometry.y])
    for code in sorted(set(out["township_code"])):
        mask = town_of_cell == index_of[code]
        if not mask.any():
            continue
        pos = np.flatnonzero(out["township_code"].to_numpy() == code)
        _, nearest = cKDTree(vxy[pos]).query(xy[mask])
        np.add.at(elders, pos[nearest], grid.counts[60][rows[mask], cols[mask]])
    out["elders_60"] = elders
    return out
