"""Interactive coverage maps: one self-contained, offline HTML file per run.

Public API
----------
coverage_map(counties, townships, cells, facilities, *, ...) -> CoverageMap
    Build the map (boundaries, offline roads and place names, elder density, uncovered elders,
    facilities by kind, service areas, close-and-merge results, new sites, legend, layer
    control, scale, full screen). A ``CoverageMap`` is a ``folium.Map`` that also shows offline
    in JupyterLab. No string from the data is ever compiled as a template.
save_map(m, path) -> Path
    Write it atomically with Leaflet inlined, so it opens with no network.
map_html(m) -> str
    The same HTML as a string.
service_area_polygons(facilities, standards=None, *, isochrones=None) -> GeoDataFrame
    Dissolved service area per facility kind.
"""

from elder_coverage.maps.build import CoverageMap, coverage_map, map_html, popup_html, save_map
from elder_coverage.maps.service_areas import service_area_polygons

__all__ = ["CoverageMap", "coverage_map", "map_html", "popup_html", "save_map",
           "service_area_polygons"]
