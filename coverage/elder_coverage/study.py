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
from elder_coverage.io._common import read_vector
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
    """
    from elder_coverage.io.roads import load_graph
    from elder_coverage.sample.build import build_sample, sample_dir, sample_is_current

    default = folder is None
    folder = Path(folder) if folder is not None else sample_dir(area)
    # The default sample is (re)built when missing or stale; a given folder is used as is.
    stale = default and not sample_is_current(folder, area)
    if not (folder / "manifest.json").exists() or stale:
        build_sample(folder, area=area)
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
    source_crs: dict[str, Any] | None = None,
) -> StudyData:
    """Load a planner's own inputs (the ``inputs`` of a scenario without the sample).

    Parameters
    ----------
    boundary : path-like
        County polygons; they define the study area and its metric CRS.
    population : dict
        One of ``{"worldpop_dir": folder, "age_floor"?, "iso"?, "year"?}``,
        ``{"raster": file, "age_floor"?}`` or ``{"table": file, "column": name,
        "source_crs"?}``, each with optional ``"invalid"`` ("raise"/"mask") and
        ``"outside"`` ("raise"/"drop"; default "drop" for rasters, "raise" for tables).
    facilities : path-like
        Facility table (CSV with lon/lat, GeoJSON, GeoPackage, Shapefile).
    roads : path-like, optional
        ``.osm`` XML or GraphML; None for straight-line standards only.
    townships, villages : path-like, optional
        Township polygons and village points, for the township/village indicators.
    source_crs : dict, optional
        CRS of files that declare none, by input: ``"boundary"``, ``"facilities"``,
        ``"townships"``, ``"villages"`` (scenario key ``inputs.<name>.source_crs``).
    """
    from elder_coverage.io.crs import choose_metric_crs

    crs_of = source_crs or {}
    counties0 = read_boundaries(boundary, source_crs=crs_of.get("boundary"))
    crs = choose_metric_crs(counties0)
    counties = counties0.to_crs(crs)
    tw = (read_boundaries(townships, crs=crs, source_crs=crs_of.get("townships"))
          if townships else None)
    seats = None
    notes = []
    if tw is not None:
        if "county_code" not in tw:
            tw["county_code"] = _area_of(tw.representative_point(), counties)
        if "is_urban" not in tw:
            # Statistical naming: urban sub-districts are 街道, towns 镇 and townships 乡.
            tw["is_urban"] = tw["name"].astype(str).str.endswith("街道")
            notes.append("township is_urban derived from names ending in 街道")
        # Without seat points, a township's seat is taken as an interior point of it.
        seats = gpd.GeoDataFrame(tw[["code", "name", "county_code", "is_urban"]],
                                 geometry=tw.representative_point(), crs=crs)
        notes.append("township seats taken as interior points of the township polygons")
    area_4326 = counties.to_crs(4326)
    # Scenario keys inputs.population.invalid / outside / source_crs reach the readers.
    invalid = population.get("invalid", "raise")
    if "worldpop_dir" in population:
        ages = tuple(a for a in AGE_COLUMNS if a >= population.get("age_floor", 60))
        raster = read_worldpop(population["worldpop_dir"], ages=ages, iso=population.get("iso"),
                               year=population.get("year"), clip_to=area_4326, invalid=invalid)
        cells = raster_to_cells(raster, crs=crs, counties=counties, townships=tw,
                                outside=population.get("outside", "drop"))
    elif "raster" in population:
        raster = read_elder_raster(population["raster"], age=population.get("age_floor", 60),
                                   invalid=invalid)
        cells = raster_to_cells(raster, crs=crs, counties=counties, townships=tw,
                                outside=population.get("outside", "drop"))
    else:
        col = population["column"]
        cells = read_elder_table(population["table"], columns={60: col}, crs=crs,
                                 counties=counties, townships=tw, invalid=invalid,
                                 outside=population.get("outside", "raise"),
                                 source_crs=population.get("source_crs"))
    fac = read_facilities(facilities, crs=crs, study_area=counties,
                          source_crs=crs_of.get("facilities"))
    # Area codes a facility list rarely carries are filled from where the facility stands.
    if "county_code" not in fac:
        fac["county_code"] = _area_of(fac.geometry, counties)
    if tw is not None and "township_code" not in fac:
        fac["township_code"] = _area_of(fac.geometry, tw)
    graph = None
    if roads is not None:
        from elder_coverage.io.roads import read_roads

        graph = read_roads(roads, crs=crs)
    vil = None
    if villages:
        # read_vector: a file without a CRS is an InputError naming it, not a traceback.
        vil = read_vector(villages, source_crs=crs_of.get("villages")).to_crs(crs)
    return StudyData(counties=counties, townships=tw, seats=seats, villages=vil, cells=cells,
                     facilities=fac, graph=graph, crs=crs, cell_size_m=_cell_size(cells),
                     meta={"inputs": {"boundary": str(boundary), "facilities": str(facilities),
                                      "roads": str(roads) if roads else None},
                           "notes": notes})


def _area_of(points: gpd.GeoSeries, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the polygon holding each point (missing where none does)."""
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points.reset_index(drop=True)),
                       areas[["code", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    return joined["code"].to_numpy()


def _cell_size(cells: gpd.GeoDataFrame) -> float:
    if len(cells) < 2:
        return 100.0
    from scipy.spatial import cKDTree

    xy = cells.geometry.get_coordinates().to_numpy()
    d, _ = cKDTree(xy).query(xy[: min(len(xy), 2000)], k=2)
    return float(pd.Series(d[:, 1]).median())
