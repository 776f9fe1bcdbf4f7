"""Leaflet elements for folium that never render data as a template.

branca's ``MacroElement.render`` pastes each macro's output into ``Element(output)``, which
compiles that output as a *new* Jinja2 template: any ``{{ }}``, ``{% %}`` or ``{#`` inside a
name would be evaluated (or crash) on the second pass. Every element here subclasses
:class:`SafeMacroElement`, whose ``render`` adds the macro output to the page as
:class:`Rendered` text, verbatim. The map therefore uses only these elements for anything that
carries data (names, codes, popups, tooltips, layer names, titles); the folium elements it
still uses (map, panes, image overlays, full-screen button) carry our own labels only.

Values reach the JavaScript through :func:`js_literal` (JSON with ``<``, ``>``, ``&``, ``'``
and line separators escaped), so no input string can close the ``<script>`` block or break out
of a JavaScript string. Popup and tooltip HTML is built by :mod:`elder_coverage.templating`
templates with autoescape.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from branca.element import Element, MacroElement
from folium.elements import ElementAddToElement
from folium.map import Layer
from folium.raster_layers import ImageOverlay, TileLayer
from folium.template import Template

from elder_coverage.templating import js_literal


class Rendered(Element):
    """Finished HTML or JavaScript added to the page as it is: never compiled as a template."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "Rendered"
        self.text = str(text)

    def render(self, **kwargs: Any) -> str:
        return self.text


class SafeMacroElement(MacroElement):
    """A ``MacroElement`` whose rendered macros are added to the page as :class:`Rendered` text.

    Same behaviour as branca's ``MacroElement.render`` (and folium's ``Layer.render`` for
    layers: add to the map when ``show``), except that the output is not parsed again.
    """

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        add = self.get_name() + "_add"
        # Created once, not per render (folium's Layer.render makes a new one each time, so a
        # map rendered twice, e.g. saved after a notebook display, repeated every addTo).
        if isinstance(self, Layer) and self.show and add not in self._children:
            self.add_child(ElementAddToElement(element_name=self.get_name(),
                                               element_parent_name=self._parent.get_name()),
                           name=add)
        module = self._template.module
        for part in ("header", "html", "script"):
            macro = getattr(module, part, None)
            if macro is not None:
                getattr(figure, part).add_child(Rendered(macro(self, kwargs)),
                                                name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class SafeImageOverlay(SafeMacroElement, ImageOverlay):
    """folium's ``ImageOverlay``, rendered without a second template pass."""


class SafeTileLayer(SafeMacroElement, TileLayer):
    """folium's ``TileLayer``, rendered without a second template pass."""


#: HTML-escapes a value in the browser exactly as the templates' autoescape (markupsafe) does,
#: so a popup built on demand is the same text as one rendered by :func:`popup_html`.
_JS_ESCAPE = ("function (s) { return String(s).replace(/[&<>\"']/g, function (c) { return "
              "{'&': '&amp;', '<': '&lt;', '>': '&gt;', '\"': '&#34;', \"'\": '&#39;'}[c]; }); }")


def _popup_text(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """The popup HTML the browser builds for ``rows`` (for tests and :attr:`PointLayer.points`)."""
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows)
    out = f'<div class="ec-pop"><b>{html.escape(str(title))}</b><table>{cells}</table></div>'
    # markupsafe's entities, which the templates (and the JavaScript escape) use.
    return out.replace("&quot;", "&#34;").replace("&#x27;", "&#39;")


class PointLayer(SafeMacroElement, Layer):
    """A toggleable layer of markers sharing one ``L.divIcon``.

    Parameters
    ----------
    points : sequence of (lat, lon, popup, title)
        ``popup`` is either finished HTML (a str, already escaped) or the popup's rows as a
        sequence of plain-text (label, value) pairs: these are stored once per layer in a
        string table and the popup (``title`` in bold, then the rows) is built and escaped
        in the browser when it opens, a quarter of the bytes of pre-rendered HTML (9,300
        facilities of the province: 6.4 MB of popups). ``title`` is plain text (hover
        tooltip, set as a DOM property by Leaflet, so it is never parsed as HTML).
    icon_html : str
        Trusted HTML of the marker icon (built from our own labels, not from input data).
    name : str
        Layer name shown in the layer control.
    icon_size : int
        Icon width and height (pixels); the icon is centred on the point.
    show : bool
        Whether the layer is on when the map opens.

    Attributes
    ----------
    points : list of [lat, lon, popup_html, title]
        Every marker with its popup as the browser shows it (HTML).
    """

    _template = Template(
        r"""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var icon = L.divIcon({{ this.icon_js }});
            var pts = {{ this.points_js }};
            var strs = {{ this.strings_js }};
            var esc = {{ this.escape_js }};
            function popup(p) {
                if (typeof p[2] === "string") { return p[2]; }
                var h = '<div class="ec-pop"><b>' + esc(p[3]) + '<\/b><table>';
                for (var j = 0; j + 1 < p[2].length; j += 2) {
                    h += '<tr><th>' + esc(strs[p[2][j]]) + '<\/th><td>'
                        + esc(strs[p[2][j + 1]]) + '<\/td><\/tr>';
                }
                return h + '<\/table><\/div>';
            }
            for (var i = 0; i < pts.length; i++) {
                var p = pts[i];
                L.marker([p[0], p[1]], {icon: icon, title: p[3], alt: p[3], riseOnHover: true})
                    .bindPopup(popup.bind(null, p), {maxWidth: 340})
                    .addTo({{ this.get_name() }});
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        points: Sequence[tuple[float, float, str | Sequence[tuple[str, str]], str]],
        icon_html: str,
        name: str,
        *,
        icon_size: int = 22,
        class_name: str = "ec-icon",
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "PointLayer"
        self.n_points = len(points)
        strings: dict[str, int] = {}

        def ref(value: Any) -> int:
            return strings.setdefault(str(value), len(strings))

        compact, self.points = [], []
        for la, lo, popup, title in points:
            la, lo, title = round(float(la), 6), round(float(lo), 6), str(title)
            if isinstance(popup, str):
                compact.append([la, lo, popup, title])
                self.points.append([la, lo, popup, title])
                continue
            rows = [(str(k), str(v)) for k, v in popup]
            compact.append([la, lo, [ref(x) for row in rows for x in row], title])
            self.points.append([la, lo, _popup_text(title, rows), title])
        self.points_js = js_literal(compact)
        self.strings_js = js_literal(list(strings))
        self.escape_js = _JS_ESCAPE
        half = icon_size // 2
        self.icon_js = js_literal({"html": icon_html, "className": class_name,
                                   "iconSize": [icon_size, icon_size],
                                   "iconAnchor": [half, half], "popupAnchor": [0, -half]})


class LineLayer(SafeMacroElement, Layer):
    """A toggleable layer of polylines with popups.

    Parameters
    ----------
    lines : sequence of (list of (lat, lon), popup_html)
        ``popup_html`` must already be escaped.
    style : dict
        Leaflet path options (``color``, ``weight``, ``dashArray``...).
    name : str
        Layer name shown in the layer control.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var style = {{ this.style_js }};
            var lines = {{ this.lines_js }};
            for (var i = 0; i < lines.length; i++) {
                L.polyline(lines[i][0], style).bindPopup(lines[i][1], {maxWidth: 340})
                    .addTo({{ this.get_name() }});
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        lines: Sequence[tuple[Sequence[tuple[float, float]], str]],
        style: dict[str, Any],
        name: str,
        *,
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LineLayer"
        self.n_lines = len(lines)
        self.lines_js = js_literal([[[[round(float(a), 6), round(float(b), 6)] for a, b in pts],
                                     str(h)] for pts, h in lines])
        self.style_js = js_literal(style)


class HtmlControl(SafeMacroElement):
    """A fixed panel (title, legend) as a Leaflet control, so it stays visible in full screen.

    Parameters
    ----------
    html : str
        Trusted HTML; any data value inside must already be escaped.
    position : {"topleft", "topright", "bottomleft", "bottomright"}
    class_name : str
        CSS class of the panel.
    fold_below : int
        A ``<details>`` panel starts folded when the window is less than this many pixels high.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position_js }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create("div", {{ this.class_js }});
            div.innerHTML = {{ this.html_js }};
            // On a laptop screen an open legend would hide half the map: start it folded.
            var details = div.querySelector("details");
            if (details && window.innerHeight < {{ this.fold_below }}) { details.open = false; }
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, position: str = "bottomright", class_name: str = "ec-panel",
                 *, fold_below: int = 800):
        super().__init__()
        if position not in ("topleft", "topright", "bottomleft", "bottomright"):
            raise ValueError(f"position={position!r}: not a Leaflet control corner")
        self._name = "HtmlControl"
        self.html_js = js_literal(html)
        self.position_js = js_literal(position)
        self.class_js = js_literal(class_name)
        self.fold_below = int(fold_below)


def style_element(css: str) -> Rendered:
    """A ``<style>`` block for the page header (trusted CSS only)."""
    if "</" in css:
        raise ValueError("style_element: CSS must not contain '</'")
    return Rendered(f"<style>{css}</style>")


class MapTitle(SafeMacroElement):
    """Title box centred at the top of the map container (kept in full-screen mode).

    The title, and the optional warning line under it (e.g. "synthetic sample data"), are set
    as ``textContent``: shown verbatim, never parsed as HTML.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var div = L.DomUtil.create("div", "ec-title", map.getContainer());
            L.DomUtil.create("div", "ec-title-text", div).textContent = {{ this.title_js }};
            var banner = {{ this.banner_js }};
            if (banner) {
                L.DomUtil.create("div", "ec-banner", div).textContent = banner;
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str, *, banner: str | None = None):
        super().__init__()
        self._name = "MapTitle"
        self.title_js = js_literal(str(title))
        self.banner_js = js_literal(str(banner) if banner else "")


class ZoomClass(SafeMacroElement):
    """Toggle CSS class ``class_name`` on the map container below zoom level ``below``.

    Used to shrink markers when zoomed out, where hundreds of full-size icons would hide the
    cells beneath them.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            function update() {
                L.DomUtil[map.getZoom() < {{ this.below }} ? "addClass" : "removeClass"](
                    map.getContainer(), {{ this.class_js }});
            }
            map.on("zoomend", update);
            update();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, below: int, class_name: str):
        super().__init__()
        self._name = "ZoomClass"
        self.below = int(below)
        self.class_js = js_literal(class_name)


class MapControls(SafeMacroElement):
    """Zoom buttons with localized tooltips and a metric-only scale bar."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.zoom({{ this.zoom_js }}).addTo({{ this._parent.get_name() }});
        L.control.scale({metric: true, imperial: false, maxWidth: 150})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, zoom_in: str, zoom_out: str):
        super().__init__()
        self._name = "MapControls"
        self.zoom_js = js_literal({"position": "topleft", "zoomInTitle": zoom_in,
                                   "zoomOutTitle": zoom_out})


#: Scale of the integers :func:`compact_geojson` writes: 1e-5 degree (about 1 m), the
#: precision the map's coordinates are already rounded to.
COORD_SCALE = 100_000
_ENCODED_TYPES = ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
#: Turns a feature collection written by :func:`compact_geojson` back into plain GeoJSON.
_JS_DECODE = ("function (fc) { function dec(a) { if (!a.length || typeof a[0] !== 'number') "
              "{ return a.map(dec); } var out = [], x = 0, y = 0; "
              "for (var i = 0; i + 1 < a.length; i += 2) { x += a[i]; y += a[i + 1]; "
              f"out.push([x / {COORD_SCALE}, y / {COORD_SCALE}]); }} return out; }} "
              "fc.features.forEach(function (f) { var g = f.geometry; "
              "if (g && g.e) { g.coordinates = dec(g.e); delete g.e; } }); return fc; }")


def _encode_coords(coords: Any) -> Any:
    """Nested coordinate lists with each innermost line as [x0, y0, dx1, dy1, …] integers."""
    if len(coords) and isinstance(coords[0], int | float):
        raise ValueError("a line or ring is a list of positions")
    if len(coords) and len(coords[0]) and isinstance(coords[0][0], int | float):
        import numpy as np

        ints = np.rint(np.asarray(coords, dtype=float)[:, :2] * COORD_SCALE).astype(np.int64)
        ints[1:] -= ints[:-1].copy()
        return ints.ravel().tolist()
    return [_encode_coords(c) for c in coords]


def compact_geojson(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a FeatureCollection whose lines and polygons are delta-coded integers.

    Each line or ring becomes ``[x0, y0, dx1, dy1, …]`` in units of 1e-5 degree under the
    geometry key ``e`` (instead of ``coordinates``); the map's JavaScript (``_JS_DECODE``)
    divides the running sums by 100,000, which gives the same doubles as parsing the
    5-decimal text. Other geometry types are copied unchanged.
    """
    features = []
    for f in data.get("features", []):
        g = f.get("geometry")
        if g and g.get("type") in _ENCODED_TYPES:
            g = {"type": g["type"], "e": _encode_coords(g["coordinates"])}
        features.append({**f, "geometry": g})
    return {**data, "features": features}


class GeoJsonLayer(SafeMacroElement, Layer):
    """A toggleable GeoJSON layer with a per-feature hover tooltip.

    Parameters
    ----------
    data : dict
        A GeoJSON FeatureCollection in EPSG:4326. A feature's ``properties.tip``, when set, is
        its tooltip: HTML (a str, already escaped) or ``(title, [(label, value), …])`` in
        plain text, built and escaped in the browser (see :class:`PointLayer`).
    style : dict
        Leaflet path options applied to every feature.
    name : str
        Layer name shown in the layer control.
    pane : str, optional
        Map pane to draw in.
    interactive : bool, default True
        Whether features take hover and clicks (tooltips need it).
    show : bool, default True
        Whether the layer is on when the map opens.
    """

    _template = Template(
        r"""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var strs = {{ this.strings_js }};
            var esc = {{ this.escape_js }};
            function tip(t) {
                var h = '<div class="ec-pop"><b>' + esc(strs[t[0]]) + '<\/b><table>';
                for (var j = 1; j + 1 < t.length; j += 2) {
                    h += '<tr><th>' + esc(strs[t[j]]) + '<\/th><td>' + esc(strs[t[j + 1]])
                        + '<\/td><\/tr>';
                }
                return h + '<\/table><\/div>';
            }
            return L.geoJSON(({{ this.decode_js }})({{ this.data_js }}), {
                style: function () { return {{ this.style_js }}; },
                pane: {{ this.pane_js }},
                interactive: {{ this.interactive_js }},
                onEachFeature: function (f, layer) {
                    var t = f.properties && f.properties.tip;
                    if (typeof t === "string" && t) {
                        layer.bindTooltip(t, {sticky: true});
                    } else if (t) {
                        layer.bindTooltip(tip.bind(null, t), {sticky: true});
                    }
                }
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: dict[str, Any],
        style: dict[str, Any],
        name: str,
        *,
        pane: str = "overlayPane",
        interactive: bool = True,
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoJsonLayer"
        self.n_features = len(data.get("features", []))
        # Tooltips given as (title, rows) are stored as indices into one string table and
        # built (escaped) in the browser when shown; ``data`` holds the HTML they become.
        strings: dict[str, int] = {}
        features, compact = [], []
        for f in data.get("features", []):
            tip = (f.get("properties") or {}).get("tip")
            if tip is None or isinstance(tip, str):
                features.append(f)
                compact.append(f)
                continue
            title, rows = str(tip[0]), [(str(k), str(v)) for k, v in tip[1]]
            ids = [strings.setdefault(x, len(strings)) for x in (title, *sum(rows, ()))]
            features.append({**f, "properties": {**f["properties"],
                                                 "tip": _popup_text(title, rows)}})
            compact.append({**f, "properties": {**f["properties"], "tip": ids}})
        self.data = {**data, "features": features}
        # Lines and rings as delta-coded integers (see :func:`compact_geojson`): a third of
        # the bytes of the coordinate text, decoded to the same numbers in the browser.
        self.data_js = js_literal(compact_geojson({**data, "features": compact}))
        self.strings_js = js_literal(list(strings))
        self.escape_js = _JS_ESCAPE
        self.decode_js = _JS_DECODE
        self.style_js = js_literal(style)
        self.pane_js = js_literal(pane)
        self.interactive_js = js_literal(bool(interactive))


class LabelLayer(SafeMacroElement, Layer):
    """Text labels at points (place names), drawn as non-interactive ``L.divIcon`` markers.

    Parameters
    ----------
    labels : sequence of (lat, lon, text)
        ``text`` is plain text: it is set as ``textContent``, never parsed as HTML.
    name : str
        Layer name shown in the layer control.
    class_name : str
        CSS class of the label (size, colour, halo).
    min_zoom : int
        The labels show from this zoom level on (village names would crowd a county view).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        (function () {
            var group = {{ this.get_name() }};
            var labels = {{ this.labels_js }};
            var minZoom = {{ this.min_zoom }};
            var shown = false;
            var markers = labels.map(function (p) {
                var span = document.createElement("span");
                span.textContent = p[2];
                return L.marker([p[0], p[1]], {interactive: false, keyboard: false,
                    icon: L.divIcon({className: {{ this.class_js }}, html: span,
                                     iconSize: null})});
            });
            function update() {
                var map = group._map;
                if (!map) { return; }
                var want = map.getZoom() >= minZoom;
                if (want !== shown) {
                    markers.forEach(function (m) {
                        if (want) { group.addLayer(m); } else { group.removeLayer(m); }
                    });
                    shown = want;
                }
            }
            group.on("add", function () {
                group.clearLayers();
                shown = false;
                group._map.on("zoomend", update);
                update();
            });
            group.on("remove", function (e) {
                if (e.target._map) { e.target._map.off("zoomend", update); }
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        labels: Sequence[tuple[float, float, str]],
        name: str,
        *,
        class_name: str = "ec-place",
        min_zoom: int = 0,
        show: bool = True,
        control: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "LabelLayer"
        self.n_labels = len(labels)
        self.labels_js = js_literal([[round(float(la), 6), round(float(lo), 6), str(t)]
                                     for la, lo, t in labels])
        self.class_js = js_literal(class_name)
        self.min_zoom = int(min_zoom)


class LayerControl(SafeMacroElement):
    """Leaflet's layer switcher over every layer of the map, with names passed as data.

    folium's ``LayerControl`` writes layer names into its template output, which branca then
    parses as a template; this one writes them as JSON strings of escaped HTML (Leaflet shows
    a name through ``innerHTML``), so a facility kind read from data shows as typed. It starts
    collapsed (an icon that opens on hover or tap) when the window is smaller than
    ``expand_min_height`` pixels, so that it never covers a laptop screen, and open otherwise.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var base = {}, overlays = {};
            {% for name, var in this.base_layers %}
            base[{{ name }}] = {{ var }};
            {% endfor %}
            {% for name, var in this.overlays %}
            overlays[{{ name }}] = {{ var }};
            {% endfor %}
            var control = L.control.layers(base, overlays, {
                position: {{ this.position_js }}, collapsed: true, sortLayers: false
            }).addTo({{ this._parent.get_name() }});
            if (window.innerHeight >= {{ this.expand_min_height }}) { control.expand(); }
            return control;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, *, position: str = "topright", expand_min_height: int = 900):
        super().__init__()
        self._name = "LayerControl"
        self.position_js = js_literal(position)
        self.expand_min_height = int(expand_min_height)
        self.base_layers: list[tuple[str, str]] = []
        self.overlays: list[tuple[str, str]] = []

    def render(self, **kwargs: Any) -> None:
        self.base_layers, self.overlays = [], []
        for item in self._parent._children.values():
            if isinstance(item, Layer) and item.control:
                # Leaflet writes layer names with innerHTML: pass them as escaped HTML.
                entry = (js_literal(html.escape(str(item.layer_name))), item.get_name())
                (self.overlays if item.overlay else self.base_layers).append(entry)
        super().render(**kwargs)
