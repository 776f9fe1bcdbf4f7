"""Interactive coverage maps: one self-contained, offline HTML file per run.

Public API
----------
coverage_map(counties, townships, cells, facilities, *, ...) -> folium.Map
    Build the map (boundaries, elder density, uncovered elders, facilities by kind, service
    areas, close-and-merge results, new sites, legend, layer control, scale, full screen).
save_map(m, path) -> Path
    Write it atomically with Leaflet inlined, so it opens with no network.
map_html(m) -> str
    The same HTML as a string.
service_area_polygons(facilities, standards=None, *, isochrones=None) -> GeoDataFrame
    Dissolved service area per facility kind.
"""

from elder_coverage.maps.build import coverage_map, map_html, popup_html, save_map
from elder_coverage.maps.service_areas import service_area_polygons

__all__ = ["coverage_map", "map_html", "popup_html", "save_map", "service_area_polygons"]
