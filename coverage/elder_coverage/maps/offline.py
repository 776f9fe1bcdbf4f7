"""Make a folium map self-contained: inline Leaflet's JavaScript and CSS instead of CDN links.

folium writes ``<script src="https://cdn...">`` tags for Leaflet, jQuery, Bootstrap and Font
Awesome. Planners open the maps on machines without internet, where those tags leave a blank
page. The maps here need only Leaflet and the full-screen control, vendored unmodified in
``assets/`` (see ``assets/SOURCES.md`` for versions and licences). :func:`use_offline_assets`
points folium's asset lists at placeholders; :func:`inline_assets` swaps each placeholder tag
for the file's content, with the images that the CSS refers to turned into ``data:`` URIs.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib import resources

import folium

from elder_coverage._errors import InstallError

#: folium asset name -> vendored file.
JS_ASSETS: dict[str, str] = {
    "leaflet": "leaflet.js",
    "Control.Fullscreen.js": "Control.FullScreen.js",
}
CSS_ASSETS: dict[str, str] = {
    "leaflet_css": "leaflet.css",
    "Control.FullScreen.css": "Control.FullScreen.css",
}
_PREFIX = "elder-coverage-asset/"
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}
_SCRIPT_TAG = re.compile(r'<script src="' + re.escape(_PREFIX) + r'([\w.\-]+)"></script>')
_LINK_TAG = re.compile(r'<link rel="stylesheet" href="' + re.escape(_PREFIX) + r'([\w.\-]+)"\s*/?>')
_EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=", re.IGNORECASE)


class OfflineAssetError(InstallError):
    """The rendered map still refers to an external script or stylesheet."""


def _asset_bytes(name: str) -> bytes:
    try:
        return resources.files(__package__).joinpath("assets", name).read_bytes()
    except FileNotFoundError:
        raise OfflineAssetError(f"vendored map asset {name!r} is missing from the installed "
                                "package (coverage/maps/assets must be package data)") from None


@functools.cache
def _asset_text(name: str) -> str:
    text = _asset_bytes(name).decode("utf-8")
    if name.endswith(".css"):
        # Relative url(...) references would point nowhere once the CSS is inlined.
        def data_uri(match: re.Match[str]) -> str:
            ref = match.group(1).strip("'\"")
            if ref.startswith(("data:", "#")):
                return match.group(0)
            fname = ref.rsplit("/", 1)[-1]
            mime = _MIME[fname[fname.rfind("."):]]
            b64 = base64.b64encode(_asset_bytes(fname)).decode("ascii")
            return f"url(data:{mime};base64,{b64})"

        text = re.sub(r"url\(([^)]*)\)", data_uri, text)
    # A literal "</script" or "</style" inside the asset would end the inline block early.
    if re.search(r"</(script|style)", text, re.IGNORECASE):
        raise OfflineAssetError(f"vendored asset {name} contains a closing tag; cannot inline")
    return text


def use_offline_assets(element: folium.Element) -> folium.Element:
    """Point ``element``'s folium asset lists at the vendored files (instance attributes).

    Assets the maps do not use (jQuery, Bootstrap, Font Awesome, awesome-markers) are dropped;
    an element that needs an asset we do not ship raises :class:`OfflineAssetError`.
    """
    js = getattr(element, "default_js", [])
    css = getattr(element, "default_css", [])
    keep_js = [(n, _PREFIX + JS_ASSETS[n]) for n, _ in js if n in JS_ASSETS]
    keep_css = [(n, _PREFIX + CSS_ASSETS[n]) for n, _ in css if n in CSS_ASSETS]
    if isinstance(element, folium.Map):
        pass  # the map's extra defaults serve folium.Icon, which these maps do not use
    elif len(keep_js) != len(js) or len(keep_css) != len(css):
        missing = [n for n, _ in js + css if n not in JS_ASSETS and n not in CSS_ASSETS]
        raise OfflineAssetError(f"{type(element).__name__} needs assets not vendored: {missing}")
    element.default_js = keep_js
    element.default_css = keep_css
    return element


def inline_assets(html: str) -> str:
    """Replace placeholder asset tags in rendered map HTML with the inlined files.

    Raises
    ------
    OfflineAssetError
        Any ``<script src>`` or ``<link href>`` tag remains (it would need the network).
    """
    html = _SCRIPT_TAG.sub(lambda m: f"<script>{_asset_text(m.group(1))}</script>", html)
    html = _LINK_TAG.sub(lambda m: f"<style>{_asset_text(m.group(1))}</style>", html)
    left = _EXTERNAL.search(html)
    if left:
        snippet = html[left.start(): left.start() + 120]
        raise OfflineAssetError(f"map HTML still loads an external file: {snippet!r}")
    return html
