"""Loaders for the data planners have, and atomic writers used by every stage.

Every loader returns data in a metric CRS (metres) — the UTM zone of the study area unless
the caller passes ``crs=`` — records the input CRS in ``attrs["source_crs"]`` (graphs:
``G.graph["source_crs"]``), and raises :class:`InputError` naming the file and the row,
field or band of bad input.

Typical use::

    from elder_coverage import io as cio

    towns = cio.read_boundaries("townships.gpkg")
    pop = cio.read_worldpop("worldpop/", clip_to=towns)
    cells = cio.raster_to_cells(pop, crs=towns.crs, townships=towns, outside="drop")
    sites = cio.read_facilities("facilities.csv", crs=towns.crs, study_area=towns)
    G = cio.graph_from_osm_xml("county.osm", crs=towns.crs)
"""

from elder_coverage.io._common import NOTES_ATTR, notes_of
from elder_coverage.io.atomic import (
    atomic_open,
    atomic_path,
    write_csv,
    write_geojson,
    write_geotiff,
    write_gpkg,
    write_graphml,
    write_json,
)
from elder_coverage.io.boundaries import read_boundaries, read_seats, read_villages
from elder_coverage.io.crs import (
    SOURCE_CRS_ATTR,
    choose_metric_crs,
    resolve_crs,
    to_metric,
    utm_crs,
    utm_zone,
)
from elder_coverage.io.errors import InputError
from elder_coverage.io.facilities import normalise_kind, normalise_status, read_facilities
from elder_coverage.io.population import (
    ElderRaster,
    find_worldpop_files,
    raster_to_cells,
    read_elder_raster,
    read_elder_table,
    read_worldpop,
)
from elder_coverage.io.roads import (
    DRIVE_SPEEDS_KPH,
    ELDER_WALK_KPH,
    SEASON_FACTORS,
    add_travel_times,
    graph_from_osm_xml,
    graph_from_polygon,
    load_graph,
    read_roads,
    save_graph,
)

__all__ = [
    "DRIVE_SPEEDS_KPH",
    "ELDER_WALK_KPH",
    "SEASON_FACTORS",
    "SOURCE_CRS_ATTR",
    "ElderRaster",
    "InputError",
    "NOTES_ATTR",
    "add_travel_times",
    "atomic_open",
    "atomic_path",
    "choose_metric_crs",
    "find_worldpop_files",
    "graph_from_osm_xml",
    "graph_from_polygon",
    "load_graph",
    "normalise_kind",
    "normalise_status",
    "notes_of",
    "raster_to_cells",
    "read_boundaries",
    "read_elder_raster",
    "read_elder_table",
    "read_facilities",
    "read_roads",
    "read_seats",
    "read_villages",
    "read_worldpop",
    "resolve_crs",
    "save_graph",
    "to_metric",
    "utm_crs",
    "utm_zone",
    "write_csv",
    "write_geojson",
    "write_geotiff",
    "write_gpkg",
    "write_graphml",
    "write_json",
]
