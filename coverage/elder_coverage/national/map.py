"""County choropleth of a national run: share of elders covered, one layer per kind."""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd

from elder_coverage.maps.build import save_map
from elder_coverage.maps.offline import use_offline_assets
from elder_coverage.schema import KIND_LABELS

_TEXT = {
    "zh": {"title": "各县老年人设施覆盖率（合成样本）", "share": "覆盖率",
           "elders": "60岁以上老人", "none": "无老人",
           "synthetic": "合成样本：县界与人口普查老人数为真实数据，设施与人口分布为合成数据"},
    "en": {"title": "Share of elders covered, by county (synthetic sample)", "share": "covered",
           "elders": "elders 60+", "none": "no elders",
           "synthetic": "Synthetic sample: county polygons and census elders are real; "
                        "facilities and the elder grid are synthetic"},
}


def _colour(share: float) -> str:
    if not np.isfinite(share):
        return "#bbbbbb"
    r, g, b, _ = matplotlib.colormaps["RdYlGn"](float(np.clip(share, 0, 1)))
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def county_map(units: gpd.GeoDataFrame, by_county: pd.DataFrame, kinds: list[str],
               path: str | Path, *, lang: str = "zh", tolerance_deg: float = 0.02) -> Path:
    """Write a self-contained HTML county choropleth (opens offline).

    Parameters
    ----------
    units : GeoDataFrame
        Units with ``unit`` and WGS84 geometry.
    by_county : DataFrame
        From :func:`elder_coverage.national.run.county_tables`.
    kinds : list of str
        One layer per kind (the first shown).
    path : path-like
        HTML file to write (atomically).
    lang : {"zh", "en"}
        Label language.
    tolerance_deg : float
        Simplification tolerance (degrees; 0.02° ≈ 2 km) so that 2,900 counties stay light.
    """
    text = _TEXT[lang]
    g = units[["unit", "geometry"]].merge(by_county, left_on="unit", right_on="code")
    g = gpd.GeoDataFrame(g, geometry="geometry", crs=units.crs).to_crs(4326)
    g["geometry"] = g.geometry.simplify(tolerance_deg, preserve_topology=True)
    m = folium.Map(location=[35.0, 104.0], zoom_start=4, tiles=None, prefer_canvas=True)
    use_offline_assets(m)
    for i, kind in enumerate(kinds):
        label = KIND_LABELS.get(kind, {}).get(lang, kind)
        share = g[f"{kind}_share"].to_numpy(dtype=float)
        # Names come from data: escaped here, shown by Leaflet's tooltip as HTML.
        tips = [f"{html.escape(str(n))} ({html.escape(str(c))})<br>{html.escape(label)} "
                f"{text['share']}: {'' if not np.isfinite(s) else f'{s:.1%}'}<br>"
                f"{text['elders']}: {int(e):,}"
                for n, c, s, e in zip(g["name"], g["code"], share, g["elders_60"], strict=True)]
        layer = gpd.GeoDataFrame({"fill": [_colour(s) for s in share], "tip": tips},
                                 geometry=g.geometry.to_numpy(), crs=4326)
        fg = folium.FeatureGroup(name=html.escape(label), show=(i == 0))
        gj = folium.GeoJson(
            layer.to_json(),
            style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#555",
                                      "weight": 0.3, "fillOpacity": 0.8},
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        )
        for el in (fg, gj, *gj._children.values()):
            use_offline_assets(el)
        gj.add_to(fg)
        fg.add_to(m)
    x0, y0, x1, y1 = g.total_bounds
    m.fit_bounds([[y0, x0], [y1, x1]])
    lc = folium.LayerControl(collapsed=False)
    use_offline_assets(lc)
    lc.add_to(m)
    banner = (f'<div style="position:fixed;top:8px;left:50px;z-index:1000;background:#fff;'
              f'padding:4px 8px;border:1px solid #999;font:14px sans-serif">'
              f'<b>{html.escape(text["title"])}</b><br>{html.escape(text["synthetic"])}<br>'
              + "".join(f'<span style="background:{_colour(v / 4)};padding:0 6px">&nbsp;</span>'
                        f' {v * 25}% ' for v in range(5))
              + f'<span style="background:{_colour(float("nan"))};padding:0 6px">&nbsp;</span>'
              f' {html.escape(text["none"])}</div>')
    m.get_root().html.add_child(folium.Element(banner))
    return save_map(m, path)
