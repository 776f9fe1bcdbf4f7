"""Assemble every layer of a study (boundaries, demand, facilities, roads) in one metric CRS.

The embedded sample and a planner's own files go through the same loaders of
:mod:`elder_coverage.io`; only where the files come from differs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj

from elder_coverage._errors import SettingsError
from elder_coverage.io.boundaries import read_boundaries
from elder_coverage.io.facilities import read_facilities
from elder_coverage.io.population import (
    ElderRaster,
    raster_to_cells,
    read_elder_raster,
    read_elder_table,
    read_worldpop,
)
from elder_coverage.schema import AGE_COLUMNS
from elder_coverage.travel import RoadNetwork


@dataclass
class StudyData:
    """All inputs of one analysis, in the same metric CRS.

    Attributes
    ----------
    counties : GeoDataFrame
        County polygons with ``code``, ``name``.
    townships : GeoDataFrame or None
        Township polygons with ``code``, ``name``, ``county_code`` (and ``is_urban``).
    seats : GeoDataFrame or None
        Township seat points (``code``, ``name``, ``county_code``, ``is_urban``).
    villages : GeoDataFrame or None
        Village points with ``code``, ``name``, ``township_code``, ``elders_60``.
    cells : GeoDataFrame
        Populated demand cells (``cell_id``, ``elders_60/65/80``, area codes).
    facilities : GeoDataFrame
        Facilities (``id``, ``name``, ``kind``, ``capacity`` …), every status.
    graph : networkx.MultiDiGraph or None
        Projected road graph with ``walk_min``/``drive_min``; None means straight-line only.
    crs : pyproj.CRS
    cell_size_m : float
        Side of a demand cell (m), for maps.
    meta : dict
        Provenance (sample manifest or input files).
    network : elder_coverage.travel.RoadNetwork or None
        ``graph`` prepared for routing, with the demand cells already joined to the road (a
        loaded sample carries it in its load cache); used only while it is the network of
        this ``graph``, see :meth:`road_network`.
    """

    counties: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame | None
    seats: gpd.GeoDataFrame | None
    villages: gpd.GeoDataFrame | None
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    graph: nx.MultiDiGraph | None
    crs: pyproj.CRS
    cell_size_m: float = 250.0
    meta: dict[str, Any] = field(default_factory=dict)
    network: RoadNetwork | None = field(default=None, compare=False, repr=False)

    def road_network(self) -> RoadNetwork | None:
        """The road network to route on: the prepared one when it belongs to ``graph``.

        A study copied with another graph (or none: straight-line only) never routes on the
        old graph's network.
        """
        if self.graph is None:
            return None
        if self.network is not None and self.network.G is self.graph:
            return self.network
        return RoadNetwork(self.graph)

    def restrict(self, counties: tuple[str, ...] | list[str]) -> StudyData:
        """The same study limited to some counties, given by code or name.

        Demand cells, facilities, townships and villages outside them are left out; the
        road graph is kept whole so that trips may cross a county border.
        """
        wanted = select_counties(self.counties, counties)

        def keep(df, col="county_code"):
            return None if df is None else df[df[col].isin(wanted)].reset_index(drop=True)

        return dataclasses.replace(
            self,
            counties=self.counties[self.counties["code"].isin(wanted)].reset_index(drop=True),
            townships=keep(self.townships), seats=keep(self.seats), villages=keep(self.villages),
            cells=keep(self.cells), facilities=keep(self.facilities),
        )


def select_counties(counties: gpd.GeoDataFrame, wanted: tuple[str, ...] | list[str]) -> list[str]:
    """County codes for a list of codes or names; unknown entries raise a clear error."""
    by_name = dict(zip(counties["name"], counties["code"], strict=True))
    codes = set(counties["code"])
    out, unknown = [], []
    for item in wanted:
        item = str(item)
        if item in codes:
            out.append(item)
        elif item in by_name:
            out.append(by_name[item])
        else:
            unknown.append(item)
    if unknown:
        raise SettingsError(f"counties not in the study area: {unknown}; known: "
                         f"{sorted(by_name)}")
    return out


def _read_sample_raster(folder: Path) -> ElderRaster:
    # The sample marks cells outside the study area with nodata: masking them is explicit.
    parts = {age: read_elder_raster(folder / f"elders_{age}.tif", age=age, invalid="mask")
             for age in AGE_COLUMNS}
    base = parts[60]
    layers = {AGE_COLUMNS[a]: r.layers[AGE_COLUMNS[a]] for a, r in parts.items()}
    return dataclasses.replace(base, layers=layers,
                               files={k: v for r in parts.values() for k, v in r.files.items()})


def load_sample(folder: str | Path | None = None, area: str = "jilin_city_rural") -> StudyData:
    """Load a built sample (building the default one first if it is missing).

    Parameters
    ----------
    folder : path-like, optional
        A folder written by :func:`elder_coverage.sample.build.build_sample`.
    area : str
        Sample area to build when ``folder`` is not given and the sample is missing.

    Notes
    -----
    Without ``folder`` the sample lives in the data folder of
    :mod:`elder_coverage.sample.paths`: ``data/processed`` in a source checkout, else
    ``$ELDER_COVERAGE_CACHE`` or the user cache folder. Before a build one line on standard
    error names the folder and the rule that chose it.
    """
    import sys

    from elder_coverage.io.load_cache import folder_key, read_cached, write_cached
    from elder_coverage.sample.build import build_sample, sample_dir, sample_is_current
    from elder_coverage.sample.paths import data_dir_origin

    default = folder is None
    folder = Path(folder) if folder is not None else sample_dir(area)
    # The default sample is (re)built when missing or stale; a given folder is used as is.
    stale = default and not sample_is_current(folder, area)
    if not (folder / "manifest.json").exists() or stale:
        # Building writes tens of MB somewhere the caller did not name: say where and why.
        why = data_dir_origin()[1] if default else "the folder given"
        verb = "rebuilding (stale)" if (folder / "manifest.json").exists() else "building"
        print(f"elder-coverage: {verb} sample {area} in {folder} ({why})", file=sys.stderr,
              flush=True)
        build_sample(folder, area=area)
    # Same files, same code: the study loaded last time (pickled beside the folder).
    key = folder_key(folder)
    cached = read_cached(folder, key)
    if isinstance(cached, StudyData):
        return cached
    study = _load_sample_files(folder)
    if study.graph is not None:
        # Snapping every cell to the road is most of a province run's routing and gives the
        # same answer for the same files: done once here, kept in the load cache.
        net = RoadNetwork(study.graph)
        cells = study.cells.geometry
        net.join_points(np.column_stack([cells.x.to_numpy(), cells.y.to_numpy()]))
        study = dataclasses.replace(study, network=net)
    write_cached(folder, key, study)
    return study


def _load_sample_files(folder: Path) -> StudyData:
    """Every layer of a built sample, parsed from its files."""
    from elder_coverage.io.roads import load_graph

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    crs = pyproj.CRS.from_user_input(manifest["crs"])
    counties = read_boundaries(folder / "counties.gpkg", crs=crs)
    townships = read_boundaries(folder / "townships.gpkg", layer="cells", crs=crs)
    seats = gpd.read_file(folder / "townships.gpkg", layer="seats").to_crs(crs)
    villages = gpd.read_file(folder / "villages.gpkg").to_crs(crs)
    cells = raster_to_cells(_read_sample_raster(folder), crs=crs, counties=counties,
                            townships=townships)
    facilities = read_facilities(folder / "facilities.gpkg", crs=crs)
    graph = load_graph(folder / "roads.graphml", crs=crs)
    return StudyData(counties=counties, townships=townships, seats=seats, villages=villages,
                     cells=cells, facilities=facilities, graph=graph, crs=crs,
                     cell_size_m=float(manifest["resolution_m"]), meta=manifest)


def load_user_data(
    boundary: str | Path,
    population: dict[str, Any],
    facilities: str | Path,
    roads: str | Path | None = None,
    townships: str | Path | None = None,
    villages: str | Path | None = None,
    *,
    seats: str | Path | None = None,
    options: dict[str, dict[str, Any]] | None = None,
) -> StudyData:
    """Load a planner's own inputs (the ``inputs`` of a scenario without the sample).

    Parameters
    ----------
    boundary : path-like
        County polygons; they define the study area and its metric CRS.
    population : dict
        One of ``{"worldpop_dir": folder, "age_floor"?, "iso"?, "year"?}``,
        ``{"raster": file, "age_floor"?}`` or ``{"table": file, "column": name}``, each
        optionally with ``invalid`` ("raise"/"mask"), ``outside`` ("raise"/"drop"; rasters
        default to "drop"), ``layer`` and ``source_crs``.
    facilities : path-like
        Facility table (CSV with lon/lat, GeoJSON, GeoPackage, Shapefile).
    roads : path-like, optional
        ``.osm`` XML or GraphML; None for straight-line standards only.
    townships, villages : path-like, optional
        Township polygons and village points, for the township/village indicators.
    seats : path-like, optional
        Township seat points (``code`` = township code); needs ``townships``. Without it the
        seats are taken as interior points of the township polygons, and a note says so.
    options : dict, optional
        Reader options per input (``{"facilities": {"source_crs": ..., "layer": ...,
        "encoding": ...}}``; point lists also ``coordinates`` (``wgs84``, ``gcj02``,
        ``bd09``) and ``sheet`` (Excel); keys ``boundary``, ``facilities``, ``townships``,
        ``villages``, ``seats``).

    Returns
    -------
    StudyData
        ``meta["notes"]`` lists every assumption and repair the readers made.
    """
    from elder_coverage.io._common import notes_of
    from elder_coverage.io.boundaries import read_seats, read_villages
    from elder_coverage.io.crs import choose_metric_crs

    opts = {k: dict(v) for k, v in (options or {}).items()}
    counties0 = read_boundaries(boundary, **opts.get("boundary", {}))
    crs = choose_metric_crs(counties0)
    counties = counties0.to_crs(crs)
    notes = notes_of(counties0)
    tw = read_boundaries(townships, crs=crs, **opts.get("townships", {})) if townships else None
    seat_pts = None
    if tw is not None:
        notes += notes_of(tw)
        if "county_code" not in tw:
            tw["county_code"] = _area_of(tw.representative_point(), counties)
        if "is_urban" not in tw:
            # Statistical naming: urban sub-districts are 街道, towns 镇 and townships 乡.
            tw["is_urban"] = tw["name"].astype(str).str.endswith("街道")
            notes.append("township is_urban derived from names ending in 街道 "
                         f"({int(tw['is_urban'].sum())} of {len(tw)} are 街道)")
        if seats:
            seat_pts = read_seats(seats, crs=crs, townships=tw, **opts.get("seats", {}))
            notes += notes_of(seat_pts)
        else:
            seat_pts = gpd.GeoDataFrame(tw[["code", "name", "county_code", "is_urban"]],
                                        geometry=tw.representative_point(), crs=crs)
            notes.append("township seats taken as interior points of the township polygons "
                         "(no seats layer given: inputs.seats)")
    elif seats:
        raise SettingsError("a township seats layer needs the township polygons (inputs.townships)")
    cells = _read_population(population, counties, tw, crs)
    notes += notes_of(cells)
    fac = read_facilities(facilities, crs=crs, study_area=counties,
                          **opts.get("facilities", {}))
    notes += notes_of(fac)
    fac = _fill_area_codes(fac, counties, tw)
    graph = None
    if roads is not None:
        from elder_coverage.io.roads import read_roads

        graph = read_roads(roads, crs=crs)
        _check_roads_overlap(graph, counties, roads)
        notes += notes_of(graph)
    vil = None
    if villages:
        vil = read_villages(villages, crs=crs, study_area=counties, **opts.get("villages", {}))
        notes += notes_of(vil)
        vil = _fill_area_codes(vil, counties, tw)
    return StudyData(counties=counties, townships=tw, seats=seat_pts, villages=vil,
                     cells=cells, facilities=fac, graph=graph, crs=crs,
                     cell_size_m=_cell_size(cells),
                     meta={"inputs": {"boundary": str(boundary), "facilities": str(facilities),
                                      "roads": str(roads) if roads else None,
                                      "seats": str(seats) if seats else None},
                           "notes": list(dict.fromkeys(notes))})


def _read_population(
    population: dict[str, Any], counties: gpd.GeoDataFrame, tw: gpd.GeoDataFrame | None,
    crs: pyproj.CRS,
) -> gpd.GeoDataFrame:
    invalid = population.get("invalid", "raise")
    if "worldpop_dir" in population or "raster" in population:
        area_4326 = counties.to_crs(4326)
        if "worldpop_dir" in population:
            ages = tuple(a for a in AGE_COLUMNS if a >= population.get("age_floor", 60))
            raster = read_worldpop(population["worldpop_dir"], ages=ages,
                                   iso=population.get("iso"), year=population.get("year"),
                                   invalid=invalid, clip_to=area_4326, study_area=area_4326)
        else:
            # Not clipped: the share of the raster's elders outside the area is then known.
            raster = read_elder_raster(population["raster"], age=population.get("age_floor", 60),
                                       invalid=invalid, study_area=area_4326)
        # A raster rarely follows the boundary, so cells outside it are normal: dropped, and
        # the share dropped is noted.
        return raster_to_cells(raster, crs=crs, counties=counties, townships=tw,
                               outside=population.get("outside", "drop"))
    return read_elder_table(population["table"], columns={60: population["column"]}, crs=crs,
                            counties=counties, townships=tw, invalid=invalid,
                            outside=population.get("outside", "raise"),
                            layer=population.get("layer"),
                            source_crs=population.get("source_crs"))


def _check_roads_overlap(graph: nx.MultiDiGraph, counties: gpd.GeoDataFrame,
                         path: str | Path) -> None:
    """Refuse a road file none of whose nodes lies in the study area (0 % coverage)."""
    import shapely

    from elder_coverage.io.errors import InputError

    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    area = counties.geometry.union_all()
    if xy.size and shapely.contains_xy(area, xy[:, 0], xy[:, 1]).any():
        return
    pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=counties.crs)
    gap = float(pts.distance(area).min()) if len(pts) else float("nan")
    b = pts.to_crs(4326).total_bounds
    a = counties.to_crs(4326).total_bounds
    raise InputError(f"no road lies inside the study area (nearest node {gap / 1000:,.1f} km "
                     f"away): roads lon {b[0]:.4f}–{b[2]:.4f}, lat {b[1]:.4f}–{b[3]:.4f}; study "
                     f"area lon {a[0]:.4f}–{a[2]:.4f}, lat {a[1]:.4f}–{a[3]:.4f}", path=path)


def read_own_facilities(
    path: str | Path, *, crs: Any, counties: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame | None = None, **options: Any,
) -> gpd.GeoDataFrame:
    """A planner's facility list in the study's CRS, with county/township codes filled in.

    Parameters
    ----------
    path : path-like
        CSV, Excel, GeoJSON, GeoPackage or Shapefile (see :func:`read_facilities`).
    crs : pyproj.CRS
        The study's metric CRS.
    counties, townships : GeoDataFrame
        Study-area polygons (facilities outside the counties are an error) and, optionally,
        township polygons for ``township_code``.
    **options
        Reader options of :func:`read_facilities` (``coordinates``, ``sheet``, ``layer``,
        ``source_crs``, ``encoding``).
    """
    fac = read_facilities(path, crs=crs, study_area=counties, **options)
    return _fill_area_codes(fac, counties, townships)


def _fill_area_codes(points: gpd.GeoDataFrame, counties: gpd.GeoDataFrame | None,
                     townships: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    # Area codes a facility or village list rarely carries come from where the point stands.
    for col, areas in (("county_code", counties), ("township_code", townships)):
        if col not in points and areas is not None:
            points[col] = _area_of(points.geometry, areas)
    return points


def read_village_points(
    path: str | Path, *, crs: Any, counties: gpd.GeoDataFrame | None = None,
    townships: gpd.GeoDataFrame | None = None, **options: Any,
) -> gpd.GeoDataFrame:
    """Village points (``code``, ``name``, ``elders_60`` …) from a vector file, CSV or Excel.

    Parameters are those of :func:`read_own_facilities`; villages outside the counties are
    left out with a note (see :func:`~elder_coverage.io.boundaries.read_villages`).
    """
    from elder_coverage.io.boundaries import read_villages

    vil = read_villages(path, crs=crs, study_area=counties, **options)
    return _fill_area_codes(vil, counties, townships)


def _area_of(points: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the polygon holding each point; points just outside every polygon (kept
    within the loaders' tolerance) get the nearest polygon's code."""
    pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True))
    joined = gpd.sjoin(pts, areas[["code", "geometry"]], how="left", predicate="intersects")
    joined = joined[~joined.index.duplicated()]
    codes = np.array(joined["code"].to_numpy(dtype=object), dtype=object)
    lost = pd.isna(codes)
    if lost.any():
        from elder_coverage.io._common import INSIDE_TOLERANCE_M

        near = gpd.sjoin_nearest(pts[lost], areas[["code", "geometry"]], how="left",
                                 max_distance=INSIDE_TOLERANCE_M)
        near = near[~near.index.duplicated()]["code"].reindex(pts.index[lost])
        codes[np.flatnonzero(lost)] = near.to_numpy(dtype=object)
    return codes


def _cell_size(cells: gpd.GeoDataFrame) -> float:
    if len(cells) < 2:
        return 100.0
    from scipy.spatial import cKDTree

    xy = cells.geometry.get_coordinates().to_numpy()
    d, _ = cKDTree(xy).query(xy[: min(len(xy), 2000)], k=2)
    return float(pd.Series(d[:, 1]).median())
