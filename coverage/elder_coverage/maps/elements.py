"""Compact Leaflet layers for folium: many markers or lines from one JSON array.

folium's ``Marker`` writes ~1 kB of JavaScript per marker and builds popups with jQuery from
a template literal. These elements emit one JSON array per layer and one shared icon, so a
layer of hundreds of facilities stays small, and every value reaches the page through
:func:`js_literal` (JSON with ``<``, ``>``, ``&``, ``'`` and line separators escaped), so no
input string can close the ``<script>`` block or break out of a JavaScript string.
Popup HTML is built by the caller from :func:`html.escape`-d values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from branca.element import Element, MacroElement
from folium.map import Layer
from folium.template import Template

_JS_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def js_literal(obj: Any) -> str:
    """JSON text of ``obj`` that is safe to paste inside an HTML ``<script>`` element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in _JS_ESCAPES.items():
        text = text.replace(ch, esc)
    return text


class PointLayer(Layer):
    """A toggleable layer of markers sharing one ``L.divIcon``.

    Parameters
    ----------
    points : sequence of (lat, lon, popup_html, title)
        ``popup_html`` must already be escaped; ``title`` is plain text (hover tooltip,
        set as a DOM property by Leaflet, so it is never parsed as HTML).
    icon_html : str
        Trusted HTML of the marker icon (built from our own labels, not from input data).
    name : str
        Layer name shown in the layer control.
    icon_size : int
        Icon width and height (pixels); the icon is centred on the point.
    show : bool
        Whether the layer is on when the map opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var icon = L.divIcon({{ this.icon_js }});
            var pts = {{ this.points_js }};
            for (var i = 0; i < pts.length; i++) {
                var p = pts[i];
                L.marker([p[0], p[1]], {icon: icon, title: p[3], alt: p[3], riseOnHover: true})
                    .bindPopup(p[2], {maxWidth: 340})
                    .addTo({{ this.get_name() }});
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        points: Sequence[tuple[float, float, str, str]],
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
        self.points_js = js_literal([[round(float(la), 6), round(float(lo), 6), str(h), str(t)]
                                     for la, lo, h, t in points])
        half = icon_size // 2
        self.icon_js = js_literal({"html": icon_html, "className": class_name,
                                   "iconSize": [icon_size, icon_size],
                                   "iconAnchor": [half, half], "popupAnchor": [0, -half]})


class LineLayer(Layer):
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


class HtmlControl(MacroElement):
    """A fixed panel (title, legend) as a Leaflet control, so it stays visible in full screen.

    Parameters
    ----------
    html : str
        Trusted HTML; any data value inside must already be escaped.
    position : {"topleft", "topright", "bottomleft", "bottomright"}
    class_name : str
        CSS class of the panel.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position_js }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create("div", {{ this.class_js }});
            div.innerHTML = {{ this.html_js }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, position: str = "bottomright", class_name: str = "ec-panel"):
        super().__init__()
        if position not in ("topleft", "topright", "bottomleft", "bottomright"):
            raise ValueError(f"position={position!r}: not a Leaflet control corner")
        self._name = "HtmlControl"
        self.html_js = js_literal(html)
        self.position_js = js_literal(position)
        self.class_js = js_literal(class_name)


def style_element(css: str) -> Element:
    """A ``<style>`` block for the page header (trusted CSS only)."""
    if "</" in css:
        raise ValueError("style_element: CSS must not contain '</'")
    return Element(f"<style>{css}</style>")


class MapTitle(MacroElement):
    """Title box centred at the top of the map container (kept in full-screen mode).

    The title is set as ``textContent``: it is shown verbatim and never parsed as HTML.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var div = L.DomUtil.create("div", "ec-title", map.getContainer());
            div.textContent = {{ this.title_js }};
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str):
        super().__init__()
        self._name = "MapTitle"
        self.title_js = js_literal(str(title))


class ZoomClass(MacroElement):
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


class MapControls(MacroElement):
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
