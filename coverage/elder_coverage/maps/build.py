"""Assemble the interactive coverage map of one run (folium/Leaflet, one offline HTML file)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pyproj
import shapely
from folium.plugins import Fullscreen

from elder_coverage.aggregate import COMMUNITY_KINDS
from elder_coverage.io.atomic import atomic_path
from elder_coverage.isochrones import simplify_valid
from elder_coverage.labels import (
    KIND_COLOURS,
    check_lang,
    kind_glyph,
    kind_label,
    text,
)
from elder_coverage.maps.elements import (
    GeoJsonLayer,
    HtmlControl,
    LabelLayer,
    LayerControl,
    LineLayer,
    MapControls,
    MapTitle,
    PointLayer,
    Rendered,
    SafeImageOverlay,
    SafeTileLayer,
    ZoomClass,
    style_element,
)
from elder_coverage.maps.offline import inline_assets, use_offline_assets
from elder_coverage.maps.raster import CellRaster, cell_raster, class_breaks, classify, png_data_uri
from elder_coverage.maps.service_areas import service_area_polygons
from elder_coverage.schema import FACILITY_KINDS
from elder_coverage.standards import Standards
from elder_coverage.templating import Markup, render

_BASE_PANE, _CELL_PANE, _AREA_PANE = "ec_base", "ec_cells", "ec_areas"
#: OSM ``highway`` values drawn as main roads on the offline base layer.
_MAJOR_ROADS = frozenset({"motorway", "trunk", "primary", "secondary", "tertiary",
                          "motorway_link", "trunk_link", "primary_link", "secondary_link"})
_CLOSED_COLOUR, _RECEIVER_COLOUR, _NEW_COLOUR, _MERGE_COLOUR = (
    "#636363", "#1a9850", "#ffd92f", "#d73027")
_CSS = """
.ec-icon{background:none;border:none}
.ec-mk{display:flex;align-items:center;justify-content:center;width:100%;height:100%;
 box-sizing:border-box;border-radius:50%;border:2px solid #fff;color:#fff;font:bold 11px/1
 sans-serif;box-shadow:0 0 3px rgba(0,0,0,.6)}
.ec-closed .ec-mk{border-radius:3px;background:#636363}
.ec-ring .ec-mk{background:none;border:4px solid #1a9850;box-shadow:0 0 4px #fff}
.ec-new .ec-mk{border-radius:2px;border-color:#000;color:#000;transform:rotate(45deg)}
.ec-new .ec-mk span{transform:rotate(-45deg)}
.leaflet-control-layers-expanded{font-size:12px;line-height:1.3;max-height:70vh;overflow:auto}
.ec-far .ec-icon .ec-mk{transform:scale(.6)}
.ec-far .ec-icon.ec-new .ec-mk{transform:scale(.7) rotate(45deg)}
.ec-vfar .ec-icon .ec-mk{transform:scale(.42)}
.ec-vfar .ec-icon .ec-mk span{visibility:hidden}
.ec-pop{min-width:200px}
.ec-pop table{border-collapse:collapse;font-size:12px;margin-top:4px;max-width:320px}
.ec-pop th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;
 white-space:nowrap;vertical-align:top}
.ec-pop td{padding:1px 0}
.ec-panel{background:rgba(255,255,255,.92);padding:6px 8px;border-radius:4px;
 box-shadow:0 1px 5px rgba(0,0,0,.4);font:12px/1.4 sans-serif;max-height:45vh;overflow:auto}
.ec-panel summary{font-weight:bold;cursor:pointer}
.ec-legend-row{display:flex;align-items:center;gap:6px;margin:2px 0}
.ec-sw{display:inline-block;width:14px;height:14px;border:1px solid #999;flex:none}
.ec-line{display:inline-block;width:22px;height:0;border-top:3px dashed #d73027;flex:none}
.ec-legend-row .ec-mk{width:18px;height:18px;flex:none;font-size:9px}
.ec-title{position:absolute;top:10px;left:50%;transform:translateX(-50%);z-index:1000;
 background:rgba(255,255,255,.92);padding:4px 12px;border-radius:4px;font:bold 15px/1.4
 sans-serif;box-shadow:0 1px 5px rgba(0,0,0,.4);pointer-events:none;text-align:center;
 width:max-content;max-width:calc(100% - 440px);overflow:hidden}
.ec-title-text{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;
 overflow:hidden;font-size:14px}
.ec-banner{color:#b42318;font:bold 12px/1.3 sans-serif;white-space:normal}
.leaflet-control-layers-expanded{max-height:calc(100vh - 90px);max-width:300px}
.leaflet-control-layers label{white-space:normal}
.ec-place{background:none;border:none;white-space:nowrap;pointer-events:none;
 text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff}
.ec-place span{display:inline-block;transform:translate(-50%,-50%)}
.ec-town{font:bold 13px/1 sans-serif;color:#333}
.ec-village{font:11px/1 sans-serif;color:#555}
.ec-panel{max-height:calc(100vh - 160px)}
"""


# Our own HTML fragments; data enters only as autoescaped variables (elder_coverage.templating).
_POPUP = ('<div class="ec-pop"><b>{{ title }}</b><table>{% for k, v in rows %}'
          "<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table></div>")
_MARKER = '<div class="ec-mk" style="background:{{ colour }}"><span>{{ glyph }}</span></div>'
_LEGEND_ROW = ('<div class="ec-legend-row{% if cls %} {{ cls }}{% endif %}">{{ icon }}'
               "{{ label }}{% if n is not none %} ({{ n }}){% endif %}</div>")
_LEGEND_HEAD = "<div><b>{{ label }}</b></div>"
_SWATCH = ('<div class="ec-legend-row"><span class="ec-sw" style="background:{{ fill }};'
           'border-color:{{ edge }}"></span>{{ label }}</div>')
_LEGEND = "<details open><summary>{{ title }}</summary>{{ rows }}</details>"
_TITLE = "<title>{{ title }}</title>"
_NOTEBOOK_FRAME = (
    '<div class="elder-coverage-map" style="width:100%;height:{{ height }}px;">'
    '<iframe srcdoc="{{ page }}" title="{{ title }}" style="width:100%;height:100%;'
    'border:none" allowfullscreen></iframe></div>')


# --------------------------------------------------------------------------- small helpers


def _legend_row(label: str, *, icon: str = "", n: int | None = None, cls: str = "") -> str:
    return render(_LEGEND_ROW, label=label, icon=Markup(icon), n=n, cls=cls)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fmt_int(value: Any) -> str:
    return f"{float(value):,.0f}"


def _fmt_share(value: Any) -> str:
    v = float(value)
    # Occupancy is a 0-1 share in the schema; a value above 1.5 was given in per cent.
    return f"{v:.0%}" if v <= 1.5 else f"{v:.0f}%"


def _fmt_bool(lang: str):
    def fmt(value: Any) -> str:
        if isinstance(value, str):
            return value
        return text("yes", lang) if bool(value) else text("no", lang)

    return fmt


def popup_html(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """Popup HTML: a bold title and a two-column table; every string is escaped here.

    Parameters
    ----------
    title : str
        Plain text (a facility name, for example).
    rows : iterable of (str, str)
        Plain-text field labels and values.
    """
    return render(_POPUP, title=str(title), rows=[(str(k), str(v)) for k, v in rows])


def _marker_html(glyph: str, colour: str) -> str:
    return render(_MARKER, glyph=glyph, colour=colour)


def _check_layer(gdf: Any, name: str, columns: Iterable[str] = (), metric: bool = False) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TypeError(f"{name}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise ValueError(f"{name}: no CRS set")
    if metric and not pyproj.CRS.from_user_input(gdf.crs).is_projected:
        raise ValueError(f"{name}: expected a projected (metric) CRS, got {gdf.crs}")
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}")


def _lonlat(x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (EPSG:4326, degrees) of coordinates in ``crs``."""
    return pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)


def _to_lonlat(geoms: np.ndarray, crs: Any, decimals: int = 5) -> np.ndarray:
    """Geometries in EPSG:4326 with coordinates rounded to ``decimals`` (degrees).

    One pass over the coordinates for both steps (what ``to_crs`` then a rounding pass would
    give, number for number). 1e-5 degree is ~1 m: full float precision would triple the size
    of every boundary.
    """
    def rounded(c: np.ndarray) -> np.ndarray:
        return np.round(np.column_stack(_lonlat(c[:, 0], c[:, 1], crs)), decimals)

    return shapely.transform(geoms, rounded)


def _geojson(gdf: gpd.GeoDataFrame, props: pd.DataFrame, tolerance_m: float, *,
             preserve_topology: bool = True) -> dict:
    """FeatureCollection in EPSG:4326 with simplified, rounded geometry and given properties.

    ``tolerance_m`` (m) is the largest shift of a line by the simplification (Douglas-Peucker).
    Polygons stay valid (:func:`elder_coverage.isochrones.simplify_valid`: no ring crosses
    itself or a hole); lines drawn as a base layer need not (``preserve_topology=False``).
    """
    geoms = gdf.geometry.to_numpy()
    if tolerance_m and preserve_topology:
        geoms = simplify_valid(geoms, tolerance_m)
    elif tolerance_m:
        geoms = shapely.simplify(geoms, tolerance_m, preserve_topology=False)
    geo = _to_lonlat(geoms, gdf.crs)
    records = props.to_dict("records") if len(props.columns) else [{}] * len(props)
    features = []
    for i, (g, rec) in enumerate(zip(geo, records, strict=True)):
        if g is None or g.is_empty:
            continue
        features.append({"type": "Feature", "id": str(i), "properties": rec,
                         "geometry": shapely.geometry.mapping(g)})
    return {"type": "FeatureCollection", "features": features}


def _latlon(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """(lat, lon) of each point, degrees."""
    pts = gdf.geometry.to_numpy()
    lon, lat = _lonlat(shapely.get_x(pts), shapely.get_y(pts), gdf.crs)
    return np.column_stack([lat, lon])


def _bounds_lonlat(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the layer in EPSG:4326, degrees.

    The bounds of every vertex reprojected, as ``gdf.to_crs(4326).total_bounds``, without
    building the reprojected geometries (825,804 cells of a province: one transform).
    """
    xy = shapely.get_coordinates(gdf.geometry.to_numpy())
    if not len(xy):
        return (np.nan,) * 4
    lon, lat = _lonlat(xy[:, 0], xy[:, 1], gdf.crs)
    return float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))


# --------------------------------------------------------------------------- public API


def coverage_map(
    counties: gpd.GeoDataFrame | None,
    townships: gpd.GeoDataFrame | None,
    cells: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    *,
    service_areas: gpd.GeoDataFrame | None = None,
    isochrones: gpd.GeoDataFrame | Callable[[], gpd.GeoDataFrame | None] | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    merges: pd.DataFrame | None = None,
    closed_ids: Iterable[Any] | None = None,
    new_sites: gpd.GeoDataFrame | None = None,
    lang: str = "zh",
    cell_size_m: float = 250.0,
    age: int = 60,
    title: str | None = None,
    tiles: bool = True,
    show_uncovered: str | None = None,
    roads: Any = None,
    places: gpd.GeoDataFrame | None = None,
    synthetic: bool = False,
) -> CoverageMap:
    """Interactive coverage map of one run.

    Every part but one of the four main layers may be missing (None or empty); the map draws
    what it is given. Strings from the data (names, codes, the title) reach the page only as
    autoescaped template variables or JSON, and are never compiled as a template, so a name such
    as ``<script>...</script>`` or ``{{ 7*191 }}`` shows as typed.

    Parameters
    ----------
    counties : GeoDataFrame or None
        Study-area county polygons with ``code`` and ``name``.
    townships : GeoDataFrame or None
        Township polygons with ``code``, ``name`` (and ``county_code``); the hover tooltip
        shows each township's elders and covered share per kind, summed from ``cells``.
    cells : GeoDataFrame or None
        Demand-cell centres (Points, projected CRS) with ``elders_<age>`` (persons) and,
        per facility kind ``K``, ``K_covered`` (bool), as written by the coverage engine.
        Drawn as square cells of ``cell_size_m`` in a PNG overlay.
    facilities : GeoDataFrame or None
        Facility points with ``id``, ``name``, ``kind``, ``capacity`` and optionally
        ``occupancy`` (0-1), ``nursing_beds``, ``built_year``, ``fire_safety_ok``,
        ``covered_elders`` (persons within the standard).
    service_areas : GeoDataFrame, optional
        Output of :func:`elder_coverage.maps.service_area_polygons`. When None it is computed from
        ``facilities``, ``standards`` and ``isochrones``.
    isochrones : GeoDataFrame or callable, optional
        Travel-time polygons with a ``kind`` column, for network standards; without them a
        network kind's area is its ``radius_m`` buffer, and its layer name says so. A callable
        returning them (or None) is called once, after every other layer is drawn: e.g. the
        ``result`` of a future computing them in another thread meanwhile.
    standards : Standards or dict, optional
        Service standards; None = the packaged defaults.
    merges : DataFrame, optional
        Close-and-merge plan: ``from_id``, ``to_id`` and optionally ``from_name``, ``to_name``,
        ``road_km``, ``residents_moved``, ``receiving_occupancy_after``.
    closed_ids : iterable, optional
        Facility ids closed by the plan (``merges.from_id`` are always treated as closed).
    new_sites : GeoDataFrame, optional
        Proposed sites (Points) with ``kind`` and optionally ``name``, ``covered_elders_gain``.
    lang : {"zh", "en"}
        Language of every label.
    cell_size_m : float, default 250
        Side of a demand cell (metres).
    age : {60, 65, 80}
        Age floor of the elder counts drawn.
    title : str, optional
        Map title; default the localized "Elder-care facility coverage".
    tiles : bool, default True
        Offer an OpenStreetMap base layer (needs the network; the map is readable without it
        through ``roads`` and ``places``).
    show_uncovered : str, optional
        The one demand layer on when the map opens: a facility kind or ``"community"``
        (uncovered elders; cells served by none of
        :data:`elder_coverage.aggregate.COMMUNITY_KINDS`, the quarter-hour circle, drawn when
        all three have coverage columns), or ``"density"`` (all elders). Default
        ``"community"`` when drawn, else the first kind (in
        :data:`elder_coverage.schema.FACILITY_KINDS` order). The other demand layers start off,
        so that two colour ramps are never stacked.
    roads : GeoDataFrame or networkx graph, optional
        The study's roads (LineStrings with an optional ``highway`` column, or a projected
        road graph with node ``x``/``y``), drawn as an offline base layer.
    places : GeoDataFrame, optional
        Village points with ``name``, labelled when zoomed in; township names are taken from
        ``townships``.
    synthetic : bool, default False
        The data are the synthetic sample: a warning banner shows under the title.

    Returns
    -------
    CoverageMap
        A ``folium.Map`` that shows offline in JupyterLab; write it with :func:`save_map`
        (inlines Leaflet so the file opens with no network).
    """
    check_lang(lang)
    layers = {"counties": counties, "townships": townships, "cells": cells,
              "facilities": facilities}
    present = {k: v for k, v in layers.items() if v is not None and len(v)}
    if not present:
        raise ValueError("coverage_map: counties, townships, cells and facilities are all empty")
    if counties is not None and len(counties):
        _check_layer(counties, "counties", ["name"])
    if townships is not None and len(townships):
        _check_layer(townships, "townships", ["name"])
    if cells is not None and len(cells):
        _check_layer(cells, "cells", [f"elders_{age}"], metric=True)
    if facilities is not None and len(facilities):
        _check_layer(facilities, "facilities", ["id", "kind"], metric=True)
    if new_sites is not None and len(new_sites):
        _check_layer(new_sites, "new_sites", ["kind"])

    title = title if title is not None else text("map_title", lang)
    bounds = np.array([_bounds_lonlat(g) for g in present.values()])
    west, south = np.nanmin(bounds[:, :2], axis=0)
    east, north = np.nanmax(bounds[:, 2:], axis=0)
    m = CoverageMap(location=[(south + north) / 2, (west + east) / 2], zoom_start=9,
                    tiles=None, control_scale=False, zoom_control=False)
    m.map_title = str(title)
    MapControls(text("zoom_in", lang), text("zoom_out", lang)).add_to(m)
    use_offline_assets(m)
    m.get_root().header.add_child(Rendered(render(_TITLE, title=str(title))), name="ec_title")
    m.get_root().header.add_child(style_element(_CSS), name="ec_css")
    m.fit_bounds([[south, west], [north, east]])
    if tiles:
        # Off when the study's own roads are drawn: the map must not depend on a tile server.
        SafeTileLayer("OpenStreetMap", name=text("basemap_osm", lang), overlay=False,
                      control=True, show=roads is None).add_to(m)
    folium.map.CustomPane(_BASE_PANE, z_index=320, pointer_events=False).add_to(m)
    folium.map.CustomPane(_CELL_PANE, z_index=350, pointer_events=False).add_to(m)
    folium.map.CustomPane(_AREA_PANE, z_index=380, pointer_events=False).add_to(m)
    if roads is not None:
        _add_roads(m, roads, lang)

    legend: list[str] = []
    if cells is not None and len(cells):
        legend += _add_cell_layers(m, cells, lang, cell_size_m, age, show_uncovered)
    # The service areas belong here (layer list, legend); they are drawn last, so that
    # isochrones given as a callable can be computed in the background meanwhile.
    area_slot = (len(m._children), len(legend))
    if counties is not None and len(counties):
        _add_counties(m, counties, lang)
    if townships is not None and len(townships):
        _add_townships(m, townships, cells, lang, age)
    _add_place_names(m, townships, places, lang)
    closed = _closed_set(closed_ids, merges)
    if facilities is not None and len(facilities):
        # Proposed sites already added to `facilities` are drawn once, in the new-sites layer.
        proposed = set()
        if new_sites is not None and len(new_sites) and "id" in new_sites.columns:
            proposed = {str(v) for v in new_sites["id"]}
        legend += _add_facilities(m, facilities, closed | proposed, lang)
        if closed or (merges is not None and len(merges)):
            legend += _add_siting(m, facilities, merges, closed, lang)
    if new_sites is not None and len(new_sites):
        legend += _add_new_sites(m, new_sites, lang)
    if facilities is not None and len(facilities):
        if service_areas is None:
            iso = isochrones() if callable(isochrones) else isochrones
            service_areas = service_area_polygons(facilities, standards, isochrones=iso)
        if len(service_areas):
            legend[area_slot[1]:area_slot[1]] = _add_service_areas(m, service_areas, lang,
                                                                   at=area_slot[0])

    MapTitle(title, banner=text("synthetic_banner", lang) if synthetic else None).add_to(m)
    # Hundreds of full-size icons would hide the cells when zoomed out: shrink them.
    ZoomClass(11, "ec-far").add_to(m)
    ZoomClass(10, "ec-vfar").add_to(m)
    HtmlControl(render(_LEGEND, title=text("legend", lang), rows=Markup("".join(legend))),
                position="bottomleft").add_to(m)
    use_offline_assets(Fullscreen(position="topleft", title=text("fullscreen", lang),
                                  title_cancel=text("fullscreen_exit", lang))).add_to(m)
    LayerControl(position="topright").add_to(m)
    return m


class CoverageMap(folium.Map):
    """A ``folium.Map`` that displays offline in Jupyter and saves as one offline file.

    folium's notebook display renders the page with the asset placeholders of
    :mod:`elder_coverage.maps.offline` still in place (a blank map: "L is not defined"); this
    class shows :func:`map_html` instead, in an ``<iframe srcdoc>`` as folium does.
    """

    map_title: str = ""
    #: Height of the map in a notebook (pixels).
    notebook_height: int = 620

    def _repr_html_(self, **kwargs: Any) -> str:
        return render(_NOTEBOOK_FRAME, page=map_html(self), title=self.map_title,
                      height=int(self.notebook_height))

    def save(self, outfile: str | os.PathLike, close_file: bool = True, **kwargs: Any) -> None:
        """Write the offline HTML file (see :func:`save_map`)."""
        save_map(self, outfile)


def map_html(m: folium.Map) -> str:
    """Self-contained HTML of ``m``: Leaflet and its CSS inlined, no external file loaded."""
    return inline_assets(m.get_root().render())


def save_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write ``m`` as one offline HTML file, atomically (temp file + ``os.replace``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    page = map_html(m)
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


# --------------------------------------------------------------------------- layers


def _palette(name: str, n: int, lo: float = 0.15, hi: float = 1.0) -> list[tuple[int, int, int]]:
    cmap = matplotlib.colormaps[name]
    pos = np.linspace(lo, hi, n) if n > 1 else np.array([hi])
    return [tuple(int(round(255 * c)) for c in cmap(p)[:3]) for p in pos]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _class_labels(breaks: list[float]) -> list[str]:
    out = []
    for i, b in enumerate(breaks):
        if i + 1 == len(breaks):
            out.append(f"≥ {b:g}")
            continue
        nxt = breaks[i + 1]
        if float(b).is_integer() and float(nxt).is_integer():
            # Whole persons: "5–9" reads better than "5–10" for "from 5, below 10".
            out.append(f"{b:g}" if nxt - 1 == b else f"{b:g}–{nxt - 1:g}")
        else:
            out.append(f"{b:g}–<{nxt:g}")
    return out


def _swatches(palette: list[tuple[int, int, int]], labels: list[str]) -> str:
    return "".join(render(_SWATCH, fill=_hex(c), edge="#999", label=lab)
                   for c, lab in zip(palette, labels, strict=True))


def _add_cell_layers(m: folium.Map, cells: gpd.GeoDataFrame, lang: str, cell_size_m: float,
                     age: int, show_uncovered: str | None) -> list[str]:
    col = f"elders_{age}"
    elders = pd.to_numeric(cells[col], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    keep = elders > 0
    if not keep.any():
        return []
    pts = cells.geometry[keep]
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    raster: CellRaster = cell_raster(xy, cells.crs, cell_size_m)
    elders = elders[keep]
    breaks = class_breaks(elders)
    labels = _class_labels(breaks)
    dens_pal = _palette("YlOrRd", len(breaks), 0.12, 0.95)
    size = f"{cell_size_m:g}"
    dens_name = text("density", lang, age=age, size=size)
    kinds = [k for k in FACILITY_KINDS if f"{k}_covered" in cells.columns]
    SafeImageOverlay(
        png_data_uri(raster, classify(elders, breaks), dens_pal), raster.bounds,
        name=dens_name, opacity=0.75, pixelated=True, pane=_CELL_PANE, interactive=False,
        show=not kinds or show_uncovered == "density",
    ).add_to(m)
    legend = [render(_LEGEND_HEAD, label=dens_name), _swatches(dens_pal, labels)]
    if not kinds:
        return legend

    def covered_of(kind: str) -> np.ndarray:
        col = cells[f"{kind}_covered"].to_numpy()[keep]
        # NA (cell not evaluated) is drawn as uncovered: nothing claims to serve it.
        return np.asarray(pd.array(col, dtype="boolean").fillna(False), dtype=bool)

    groups: list[tuple[str, np.ndarray]] = []
    if all(k in kinds for k in COMMUNITY_KINDS):
        # The quarter-hour circle: a cell counts as served by any community service.
        any_cov = np.logical_or.reduce([covered_of(k) for k in COMMUNITY_KINDS])
        groups.append(("community", any_cov))
    groups += [(k, covered_of(k)) for k in kinds]
    keys = [g for g, _ in groups]
    shown = show_uncovered if show_uncovered in keys + ["density"] else keys[0]
    unc_pal = _palette("RdPu", len(breaks), 0.45, 1.0)
    for key, covered in groups:
        label = text("community", lang) if key == "community" else kind_label(key, lang)
        vals = np.where(covered, 0.0, elders)
        SafeImageOverlay(
            png_data_uri(raster, classify(vals, breaks), unc_pal), raster.bounds,
            name=text("uncovered", lang, kind=label), opacity=0.9,
            pixelated=True, pane=_CELL_PANE, interactive=False, show=(key == shown),
        ).add_to(m)
    legend += [render(_LEGEND_HEAD, label=text("uncovered_legend", lang)),
               _swatches(unc_pal, labels)]
    return legend


def _area_name(row: pd.Series, lang: str) -> str:
    radius = f"{float(row['radius_m']):g}"
    travel = row.get("travel")
    mode = text(f"travel_{travel}", lang) if travel in ("walk", "drive") else ""
    if row["basis"] == "network":
        basis = text("basis_network", lang, minutes=f"{float(row['minutes']):g}", mode=mode)
    elif row["basis"] == "radius_fallback":
        basis = text("basis_fallback", lang, radius=radius)
    else:
        basis = text("basis_radius", lang, radius=radius)
    return text("service_area", lang, kind=kind_label(row["kind"], lang), basis=basis)


def _add_service_areas(m: folium.Map, areas: gpd.GeoDataFrame, lang: str,
                       at: int | None = None) -> list[str]:
    """One layer per row of ``areas``, inserted at position ``at`` among the map's children
    (default: after them); returns the legend rows."""
    _check_layer(areas, "service_areas", ["kind", "basis", "radius_m", "minutes"])
    for n, (_, row) in enumerate(areas.iterrows()):
        one = gpd.GeoDataFrame(geometry=[row.geometry], crs=areas.crs)
        tol = max(10.0, float(row["radius_m"]) / 100.0)
        colour = KIND_COLOURS.get(row["kind"], "#444444")
        data = _geojson(one.to_crs(one.estimate_utm_crs()) if not one.crs.is_projected else one,
                        pd.DataFrame(index=[0]), tol)
        GeoJsonLayer(data, {"color": colour, "weight": 1, "fillColor": colour,
                            "fillOpacity": 0.15}, _area_name(row, lang), pane=_AREA_PANE,
                     interactive=False, show=False).add_to(m, index=None if at is None
                                                           else at + n)
    # One legend swatch stands for every kind's areas, in the township centre's colour.
    edge = KIND_COLOURS["township_centre"]
    r, g, b = (int(edge[i:i + 2], 16) for i in (1, 3, 5))
    return [render(_SWATCH, fill=f"rgba({r},{g},{b},.15)", edge=edge,
                   label=text("service_area_legend", lang))]


def _tips(fields: list[tuple[str, list[str]]], names: list[str]) -> list[tuple]:
    """Tooltip per feature: the name as title, then one row per (label, values).

    Plain text: :class:`GeoJsonLayer` stores it compactly and the browser escapes it.
    """
    return [(nm, [(label, vals[i]) for label, vals in fields])
            for i, nm in enumerate(names)] if names else []


def _add_counties(m: folium.Map, counties: gpd.GeoDataFrame, lang: str) -> None:
    names = ["" if _is_missing(v) else str(v) for v in counties["name"]]
    fields = [(text("f_code", lang), [str(v) for v in counties["code"]])] \
        if "code" in counties.columns else []
    props = pd.DataFrame({"tip": _tips(fields, names)})
    GeoJsonLayer(_geojson(counties, props, 50.0), {"color": "#222222", "weight": 2.5,
                                                   "fill": False},
                 text("counties", lang)).add_to(m)


def _add_townships(m: folium.Map, townships: gpd.GeoDataFrame, cells: gpd.GeoDataFrame | None,
                   lang: str, age: int) -> None:
    names = ["" if _is_missing(v) else str(v) for v in townships["name"]]
    fields: list[tuple[str, list[str]]] = []
    col = f"elders_{age}"
    if (cells is not None and len(cells) and "code" in townships.columns
            and "township_code" in cells.columns and col in cells.columns):
        codes = townships["code"].astype(str).to_numpy()
        tcode = cells["township_code"].astype(str)
        elders = pd.to_numeric(cells[col], errors="coerce").fillna(0.0)
        total = elders.groupby(tcode).sum()
        fields.append((text("f_elders", lang, age=age),
                       [_fmt_int(total.get(c, 0.0)) for c in codes]))
        for kind in FACILITY_KINDS:
            ccol = f"{kind}_covered"
            if ccol not in cells.columns:
                continue
            cov = pd.array(cells[ccol], dtype="boolean").fillna(False)
            got = (elders * np.asarray(cov, dtype=float)).groupby(tcode).sum()
            shares = []
            for c in codes:
                t = total.get(c, 0.0)
                shares.append(f"{got.get(c, 0.0) / t:.1%}" if t > 0 else text("no_data", lang))
            fields.append((text("f_covered_share", lang, kind=kind_label(kind, lang)), shares))
    props = pd.DataFrame({"tip": _tips(fields, names)})
    GeoJsonLayer(_geojson(townships, props, 30.0),
                 {"color": "#555555", "weight": 1, "dashArray": "4 3", "fill": True,
                  "fillOpacity": 0.0}, text("townships", lang)).add_to(m)


def _road_lines(roads: Any) -> gpd.GeoDataFrame:
    """Roads as a GeoDataFrame of LineStrings with ``major`` (bool), from a frame or a graph."""
    if isinstance(roads, gpd.GeoDataFrame):
        if roads.crs is None:
            raise ValueError("roads: no CRS set")
        hw = roads["highway"].astype(str) if "highway" in roads.columns else \
            pd.Series("", index=roads.index)
        return gpd.GeoDataFrame({"major": hw.isin(_MAJOR_ROADS).to_numpy()},
                                geometry=roads.geometry.to_numpy(), crs=roads.crs)
    crs = getattr(roads, "graph", {}).get("crs")
    if crs is None:
        raise ValueError("roads: expected a GeoDataFrame or a road graph with graph['crs']")
    return _graph_lines(roads, crs)


def _graph_lines(graph: Any, crs: Any) -> gpd.GeoDataFrame:
    """One line per street of a road graph (the first edge of each node pair, either way).

    An edge without a ``geometry`` is the straight segment between its nodes; all of those
    are built in one :func:`shapely.linestrings` call (128,085 streets of the province).
    """
    index = {n: i for i, n in enumerate(graph.nodes)}
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    u, v, geoms, highway = [], [], [], []
    for a, b, d in graph.edges(data=True):
        u.append(index[a])
        v.append(index[b])
        geoms.append(d.get("geometry"))
        highway.append(d.get("highway"))
    u, v = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
    # One line per street, not per direction: keep the first edge of each unordered pair.
    pair = np.minimum(u, v) * max(len(index), 1) + np.maximum(u, v)
    first = np.sort(np.unique(pair, return_index=True)[1]) if len(pair) else pair
    out = np.empty(len(first), dtype=object)
    out[:] = [geoms[i] for i in first]
    straight = np.flatnonzero(pd.isna(out))
    if len(straight):
        ends = np.stack([xy[u[first[straight]]], xy[v[first[straight]]]], axis=1)
        out[straight] = shapely.linestrings(ends.reshape(-1, 2),
                                            indices=np.repeat(np.arange(len(straight)), 2))
    major = [str(hw[0] if isinstance(hw, list) else hw) in _MAJOR_ROADS
             for hw in (highway[i] for i in first)]
    return gpd.GeoDataFrame({"major": np.asarray(major, dtype=bool)}, geometry=out, crs=crs)


def _add_roads(m: folium.Map, roads: Any, lang: str) -> None:
    lines = _road_lines(roads)
    if not len(lines):
        return
    parts = []
    for major in (False, True):
        sel = lines.geometry.to_numpy()[lines["major"].to_numpy() == major]
        if len(sel):
            # Streets meet at the graph's nodes: merging them into chains needs no noding
            # (union_all), which only split lines where they cross without a node.
            pieces = shapely.get_parts(sel[~shapely.is_empty(sel) & ~pd.isna(sel)])
            merged = shapely.line_merge(shapely.multilinestrings(pieces))
            parts.append((major, merged))
    one = gpd.GeoDataFrame({"major": [p[0] for p in parts]}, geometry=[p[1] for p in parts],
                           crs=lines.crs)
    if not pyproj.CRS.from_user_input(one.crs).is_projected:
        one = one.to_crs(one.estimate_utm_crs())
    data = _geojson(one, pd.DataFrame(index=range(len(one))), 15.0, preserve_topology=False)
    for f, (major, _g) in zip(data["features"], parts, strict=False):
        f["properties"] = {"major": bool(major)}
    # Two widths: minor streets thin, trunk/primary/secondary/tertiary roads wider.
    for major, style in ((False, {"color": "#a0a0a0", "weight": 1, "opacity": 0.8}),
                         (True, {"color": "#7a6a55", "weight": 2.2, "opacity": 0.9})):
        feats = [f for f in data["features"] if f["properties"]["major"] == major]
        if feats:
            GeoJsonLayer({"type": "FeatureCollection", "features": feats}, style,
                         text("roads_major" if major else "roads_minor", lang), pane=_BASE_PANE,
                         interactive=False).add_to(m)


def _add_place_names(m: folium.Map, townships: gpd.GeoDataFrame | None,
                     places: gpd.GeoDataFrame | None, lang: str) -> None:
    for layer, key, cls, zoom in ((townships, "township_names", "ec-place ec-town", 9),
                                  (places, "village_names", "ec-place ec-village", 12)):
        if layer is None or not len(layer) or "name" not in layer.columns:
            continue
        pts = layer.geometry.representative_point() if key == "township_names" else \
            layer.geometry
        ll = gpd.GeoSeries(pts.to_numpy(), crs=layer.crs).to_crs(4326)
        labels = [(p.y, p.x, str(nm)) for p, nm in zip(ll, layer["name"], strict=True)
                  if p is not None and not p.is_empty and not _is_missing(nm)]
        if labels:
            LabelLayer(labels, text(key, lang), class_name=cls, min_zoom=zoom).add_to(m)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Values of a column as Python objects (None for every row when it is absent)."""
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return frame[name].to_numpy(dtype=object)


def _facility_formats(lang: str, closed: bool) -> list[tuple[str, Any]]:
    formats = [("capacity", _fmt_int), ("occupancy", _fmt_share), ("nursing_beds", _fmt_int),
               ("built_year", lambda v: f"{float(v):.0f}"), ("fire_safety_ok", _fmt_bool(lang)),
               ("covered_elders_before", _fmt_int)]
    # A closed centre serves nobody after the plan; what it served before is what matters.
    if not closed:
        formats.append(("covered_elders", _fmt_int))
    return formats


def _formatted(fmt: Any, value: Any) -> str:
    try:
        return fmt(value)
    except (TypeError, ValueError):
        return str(value)


def _facility_fields(frame: pd.DataFrame, lang: str, *,
                     closed: bool = False) -> list[list[tuple[str, str]]]:
    """Popup rows (label, value), plain text, of every facility of ``frame``, in its order.

    Built column by column (a province has 9,300 facilities; pandas row access cost 1 s):
    kind, id, then each attribute present and not missing.
    """
    labels: dict[str, str] = {}
    kinds = [labels.setdefault(str(k), kind_label(str(k), lang)) for k in _column(frame, "kind")]
    out = [[(text("f_kind", lang), k)] for k in kinds]
    ids = _column(frame, "id")
    for rows, v, missing in zip(out, ids, pd.isna(ids), strict=True):
        if not missing:
            rows.append((text("f_id", lang), str(v)))
    planned = ~pd.isna(_column(frame, "covered_elders_before"))
    for col, fmt in _facility_formats(lang, closed):
        if col not in frame.columns:
            continue
        values = _column(frame, col)
        label = text(f"f_{col}", lang)
        after = text("f_covered_elders_after", lang) if col == "covered_elders" else label
        for i in np.flatnonzero(~pd.isna(values)):
            out[i].append((after if planned[i] else label, _formatted(fmt, values[i])))
    return out


def _names(frame: pd.DataFrame) -> list[str]:
    """Each facility's name, or its id when the name is missing."""
    return [str(i) if missing else str(v) for v, i, missing in
            zip(_column(frame, "name"), _column(frame, "id"),
                pd.isna(_column(frame, "name")), strict=True)]


def _closed_set(closed_ids: Iterable[Any] | None, merges: pd.DataFrame | None) -> set[str]:
    out = {str(v) for v in (closed_ids if closed_ids is not None else [])}
    if merges is not None and len(merges):
        if "from_id" not in merges.columns:
            raise ValueError("merges: missing column 'from_id'")
        out |= {str(v) for v in merges["from_id"]}
    return out


def _add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame, skip: set[str],
                    lang: str) -> list[str]:
    ids = facilities["id"].astype(str).to_numpy()
    open_ = facilities[~np.isin(ids, list(skip))]
    open_ = open_[open_.geometry.notna() & ~open_.geometry.is_empty]
    if not len(open_):
        return []
    latlon = _latlon(open_)
    kinds = [k for k in FACILITY_KINDS if (open_["kind"] == k).any()]
    kinds += sorted(set(open_["kind"].dropna().astype(str)) - set(FACILITY_KINDS))
    fields, names = _facility_fields(open_, lang), _names(open_)
    kind_of = open_["kind"].astype(str).to_numpy()
    legend = []
    for kind in kinds:
        # Rows, not HTML: the popup is built (and escaped) in the browser when it opens.
        pts = [(latlon[i, 0], latlon[i, 1], fields[i], names[i])
               for i in np.flatnonzero(kind_of == kind)]
        icon = _marker_html(kind_glyph(kind, lang), KIND_COLOURS.get(kind, "#444444"))
        label = kind_label(kind, lang)
        PointLayer(pts, icon, text("facilities_layer", lang, kind=label)).add_to(m)
        legend.append(_legend_row(label, icon=icon, n=len(pts)))
    return legend


def _merge_fields(r: pd.Series, lang: str) -> list[tuple[str, str]]:
    rows = []
    for col, fmt in [("road_km", lambda v: f"{float(v):.1f}"), ("residents_moved", _fmt_int),
                     ("catchment_elders_moved", _fmt_int),
                     ("receiving_occupancy_before", _fmt_share),
                     ("receiving_occupancy_after", _fmt_share)]:
        v = r.get(col)
        if not _is_missing(v):
            rows.append((text(f"f_{col}", lang), fmt(v)))
    return rows


def _add_siting(m: folium.Map, facilities: gpd.GeoDataFrame, merges: pd.DataFrame | None,
                closed: set[str], lang: str) -> list[str]:
    ids = facilities["id"].astype(str)
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise ValueError(f"facilities: id {dup!r} appears more than once")
    latlon = dict(zip(ids, map(tuple, _latlon(facilities)), strict=True))
    pos = {i: n for n, i in enumerate(ids)}
    name_of = dict(zip(ids, _names(facilities), strict=True))
    merges = merges if merges is not None else pd.DataFrame(columns=["from_id", "to_id"])
    if len(merges) and "to_id" not in merges.columns:
        raise ValueError("merges: missing column 'to_id'")
    for n, (f, t) in enumerate(zip(merges["from_id"].astype(str), merges["to_id"].astype(str),
                                   strict=True)):
        for field, v in (("from_id", f), ("to_id", t)):
            if v not in latlon:
                raise ValueError(f"merges row {n}: {field} {v!r} is not a facility id (closed "
                                 "and receiving facilities must be in `facilities`)")
    unknown = sorted(closed - set(latlon))
    if unknown:
        raise ValueError(f"closed_ids: {unknown[0]!r} is not a facility id (pass closed "
                         "facilities in `facilities`: the map moves them to the closed layer)")

    def name(r: pd.Series, col: str, fid: str) -> str:
        v = r.get(col)
        return name_of[fid] if _is_missing(v) else str(v)

    receiver_of: dict[str, list[str]] = {}
    lines, received = [], {}
    for _, r in merges.iterrows():
        f, t = str(r["from_id"]), str(r["to_id"])
        fname, tname = name(r, "from_name", f), name(r, "to_name", t)
        receiver_of.setdefault(f, []).append(tname)  # residents may be split over receivers
        received.setdefault(t, []).append((fname, r))
        rows = [(text("f_from", lang), fname), (text("f_to", lang), tname)] + _merge_fields(r,
                                                                                             lang)
        lines.append(([latlon[f], latlon[t]], popup_html(f"{fname} → {tname}", rows)))

    legend = []
    pts = []
    closed_ids = sorted(closed)
    fields = _facility_fields(facilities.iloc[[pos[f] for f in closed_ids]], lang, closed=True)
    for fid, rows in zip(closed_ids, fields, strict=True):
        rows += [(text("f_to", lang), t) for t in receiver_of.get(fid, [])]
        pts.append((*latlon[fid], rows, name_of[fid]))
    if pts:
        icon = _marker_html("✕", _CLOSED_COLOUR)
        PointLayer(pts, icon, text("closed_layer", lang), class_name="ec-icon ec-closed",
                   icon_size=20).add_to(m)
        legend.append(_legend_row(text("closed_layer", lang), icon=icon, n=len(pts),
                                  cls="ec-closed"))
    if received:
        pts = []
        receivers = sorted(received)
        fields = _facility_fields(facilities.iloc[[pos[t] for t in receivers]], lang)
        for tid, rows in zip(receivers, fields, strict=True):
            for fname, _r in received[tid]:
                rows.append((text("f_from", lang), fname))
            last = received[tid][-1][1].get("receiving_occupancy_after")
            if not _is_missing(last):
                rows.append((text("f_receiving_occupancy_after", lang), _fmt_share(last)))
            pts.append((*latlon[tid], rows, name_of[tid]))
        icon = '<div class="ec-mk"></div>'
        PointLayer(pts, icon, text("receiving_layer", lang), class_name="ec-icon ec-ring",
                   icon_size=34).add_to(m)
        legend.append(_legend_row(text("receiving_layer", lang), icon=icon, n=len(pts),
                                  cls="ec-ring"))
    if lines:
        LineLayer(lines, {"color": _MERGE_COLOUR, "weight": 3, "dashArray": "6 4",
                          "opacity": 0.9}, text("merge_lines", lang)).add_to(m)
        legend.append(_legend_row(text("merge_lines", lang), icon='<span class="ec-line"></span>',
                                  n=len(lines)))
    return legend


def _add_new_sites(m: folium.Map, new_sites: gpd.GeoDataFrame, lang: str) -> list[str]:
    sites = new_sites[new_sites.geometry.notna() & ~new_sites.geometry.is_empty]
    latlon = _latlon(sites)
    pts = []
    for i in range(len(sites)):
        row = sites.iloc[i]
        kind = str(row["kind"])
        nm = text("new_sites", lang) if _is_missing(row.get("name")) else str(row["name"])
        rows = [(text("f_kind", lang), kind_label(kind, lang))]
        if not _is_missing(row.get("id")):
            rows.append((text("f_id", lang), str(row["id"])))
        for col in ("covered_elders_gain", "covered_gain"):
            if not _is_missing(row.get(col)):
                rows.append((text(f"f_{col}", lang), _fmt_int(row[col])))
        pts.append((latlon[i, 0], latlon[i, 1], rows, nm))
    if not pts:
        return []
    icon = _marker_html("★", _NEW_COLOUR)
    PointLayer(pts, icon, text("new_sites", lang), class_name="ec-icon ec-new",
               icon_size=22).add_to(m)
    return [_legend_row(text("new_sites", lang), icon=icon, n=len(pts), cls="ec-new")]


