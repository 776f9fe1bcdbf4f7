"""One-file HTML report of a run: indicators against policy targets, area tables, charts.

The report is a single ``report.html`` with its bar charts embedded as PNG ``data:`` URIs, so
it can be mailed, opened offline and printed on A4 (``@media print`` rules). The page is one
jinja2 template with autoescape (:mod:`elder_coverage.templating`): data enter only as escaped
variables and are never compiled as a template. The same inputs give the same bytes: no
timestamps, PNGs written without software/date metadata, stable row order.

Charts use a CJK font when matplotlib finds one (:func:`cjk_font`); without one their text is
English and areas are shown by code, while the HTML around them stays in ``lang``.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from elder_coverage.io.atomic import atomic_path
from elder_coverage.kinds import kinds_with_role
from elder_coverage.labels import check_lang, kind_label, localize_message, text
from elder_coverage.policy import UNITS, scope_label
from elder_coverage.schema import FACILITY_KINDS
from elder_coverage.templating import Markup, render

#: Fonts tried, in order, for Chinese text in charts.
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
    "AR PL UMing CN", "Droid Sans Fallback",
)
#: Columns of the indicators table (:func:`elder_coverage.indicators.policy_indicators`).
INDICATOR_COLUMNS: tuple[str, ...] = ("indicator", "label_zh", "label_en", "value", "target",
                                      "year", "gap", "unit")

_CSS = """
:root{--ok:#1a7f37;--bad:#b42318;--muted:#667085}
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px auto;
 max-width:1100px;padding:0 16px;color:#1d2939;line-height:1.45}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:2px solid #d0d5dd;
 padding-bottom:3px;margin-top:28px}
.sub{color:var(--muted)}
.warn{background:#fff4e5;border-left:4px solid #f79009;padding:6px 10px}
.figures{display:flex;gap:12px;flex-wrap:wrap}
.figure{border:1px solid #d0d5dd;border-radius:6px;padding:8px 14px;min-width:150px}
.figure b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border:1px solid #d0d5dd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f2f4f7}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.txt,.met,.short,.na{white-space:nowrap}
.met{color:var(--ok);font-weight:bold}.short{color:var(--bad);font-weight:bold}
.na{color:var(--muted)}
.chart img{max-width:100%;height:auto}
.note{color:var(--muted);font-size:12px}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@page{size:A4;margin:14mm 12mm}
@media print{
 body{margin:0;max-width:none;padding:0;font-size:10pt}
 h1{font-size:16pt}h2{font-size:13pt;page-break-after:avoid;break-after:avoid}
 table{font-size:8.5pt;page-break-inside:auto}
 thead{display:table-header-group}
 tr,.figure,.chart{page-break-inside:avoid;break-inside:avoid}
 th{background:#eee !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .chart img{max-width:100%;max-height:120mm}
 a{color:inherit;text-decoration:none}
}
"""


# --------------------------------------------------------------------------- formatting


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _num(value: Any, digits: int = 0) -> str:
    if _missing(value):
        return "–"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _pct(value: Any, digits: int = 1) -> str:
    if _missing(value):
        return "–"
    try:
        return f"{100.0 * float(value):.{digits}f}%"
    except (TypeError, ValueError):
        return str(value)


def _year(value: Any) -> str:
    if _missing(value):
        return "–"
    try:
        return f"{int(float(value))}"
    except (TypeError, ValueError):
        return str(value)


def _unit_value(value: Any, unit: Any) -> str:
    if unit == "beds":
        return _num(value)
    return _pct(value) if unit == "share" else _num(value, 2)


def _unit_label(unit: Any, lang: str) -> str:
    if unit == "share":
        return text("unit_share", lang)
    if unit == "m2/person":
        return text("unit_m2_person", lang)
    if not _missing(unit) and unit in UNITS:
        return UNITS[unit][lang]
    return "" if _missing(unit) else str(unit)


# --------------------------------------------------------------------------- charts


_CJK_FILE_HINTS: tuple[str, ...] = ("cjk", "wqy", "sourcehan", "droidsansfallback", "uming",
                                     "ukai", "simhei", "msyh", "pingfang", "notosanssc")


@functools.cache
def cjk_font() -> str | None:
    """Name of the first installed font of :data:`CJK_FONTS` that matplotlib can use, or None.

    matplotlib's font list is cached on disk and misses fonts installed after the cache was
    built, so CJK-looking system font files are registered before giving up.
    """
    fm = matplotlib.font_manager
    names = {f.name for f in fm.fontManager.ttflist}
    found = next((f for f in CJK_FONTS if f in names), None)
    if found is None:
        for path in sorted(fm.findSystemFonts()):
            if any(h in Path(path).name.lower().replace("-", "") for h in _CJK_FILE_HINTS):
                try:
                    fm.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = {f.name for f in fm.fontManager.ttflist}
        found = next((f for f in CJK_FONTS if f in names), None)
    return found


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # No "Software" text chunk: the bytes must not depend on the matplotlib version string.
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _rc(font: str | None) -> dict[str, Any]:
    rc: dict[str, Any] = {"axes.unicode_minus": False, "svg.hashsalt": "elder-coverage",
                          "font.size": 9}
    if font:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
    return rc


def _indicator_chart(ind: pd.DataFrame, chart_lang: str, font: str | None, *,
                     after: bool = False) -> str | None:
    """Horizontal bars: value of each share indicator, with its targets as ticks.

    ``after``: the values are after a plan (legend 方案后/after), else the current state.
    """
    if not len(ind) or "unit" not in ind:
        return None
    shares = ind[ind["unit"] == "share"]
    if not len(shares):
        return None
    label_col = "label_zh" if chart_lang == "zh" and "label_zh" in ind else "label_en"
    order = list(dict.fromkeys(shares["indicator"]))
    with matplotlib.rc_context(_rc(font)):
        fig = Figure(figsize=(7.5, 0.55 * len(order) + 1.2), layout="constrained")
        ax = fig.add_subplot()
        ys = np.arange(len(order))[::-1]
        for y, key in zip(ys, order, strict=True):
            rows = shares[shares["indicator"] == key]
            value = rows["value"].iloc[0]
            if not _missing(value):
                ax.barh(y, 100 * float(value), color="#4e79a7", height=0.55,
                        label=(text("chart_value_after" if after else "chart_value", chart_lang)
                               if y == ys[0] else None))
                ax.text(100 * float(value) + 1, y, f"{100 * float(value):.0f}%", va="center")
            for _, r in rows.iterrows():
                if not _missing(r["target"]):
                    ax.plot([100 * float(r["target"])] * 2, [y - 0.38, y + 0.38],
                            color="#e15759", lw=2)
                    ax.text(100 * float(r["target"]), y + 0.42, _year(r["year"]),
                            ha="center", va="bottom", fontsize=7, color="#e15759")
        ax.plot([], [], color="#e15759", lw=2, label=text("chart_target", chart_lang))
        labels = [str(shares.loc[shares["indicator"] == k, label_col].iloc[0]) for k in order]
        ax.set_yticks(ys, [_wrap(s, 22 if chart_lang == "zh" else 40) for s in labels])
        ax.set_xlim(0, 115)
        ax.set_xlabel("%")
        ax.set_title(text("chart_indicator_title_after" if after else "chart_indicator_title",
                          chart_lang))
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        return _png(fig)


def _wrap(s: str, width: int) -> str:
    if len(s) <= width:
        return s
    if " " in s:
        out, line = [], ""
        for word in s.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        out.append(line)
        return "\n".join(out)
    return "\n".join(s[i:i + width] for i in range(0, len(s), width))


def _share_columns(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, key) of the per-kind and combined coverage shares, in schema order."""
    out = [(f"{k}_share", k) for k in FACILITY_KINDS if f"{k}_share" in table.columns]
    out += [(c, c[: -len("_share")]) for c in table.columns
            if c.endswith("_share") and c != "nursing_bed_share"
            and c[: -len("_share")] not in FACILITY_KINDS]
    return out


def _share_label(key: str, lang: str) -> str:
    if key in FACILITY_KINDS:
        return kind_label(key, lang)
    if key == "community":
        return text("community", lang)
    return key


def _county_chart(counties: pd.DataFrame, chart_lang: str, font: str | None) -> str | None:
    """Grouped bars: covered share of each kind (and combined group), per county."""
    shares = _share_columns(counties)
    if not len(counties) or not shares:
        return None
    rows = counties
    if "code" in rows:
        rows = rows[rows["code"].astype(str) != "unassigned"]
    if not len(rows):
        return None
    if font is not None and "name" in rows:
        codes = rows["code"] if "code" in rows else rows["name"]
        names = [str(c) if _missing(n) else str(n)
                 for n, c in zip(rows["name"], codes, strict=True)]
    elif "code" in rows:
        names = [str(c) for c in rows["code"]]
    else:
        names = [str(i + 1) for i in range(len(rows))]
    colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]
    n, k = len(rows), len(shares)
    width = 0.8 / k
    with matplotlib.rc_context(_rc(font)):
        fig = Figure(figsize=(min(11.0, 4.0 + 0.55 * n * k / 2), 3.6), layout="constrained")
        ax = fig.add_subplot()
        base = np.arange(n)
        for j, (col, key) in enumerate(shares):
            vals = 100 * pd.to_numeric(rows[col], errors="coerce").fillna(0).to_numpy(float)
            ax.bar(base - 0.4 + (j + 0.5) * width, vals, width=width * 0.92,
                   color=colours[j % len(colours)], label=_share_label(key, chart_lang))
        ax.set_xticks(base, [_wrap(s, 8) for s in names])
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")
        ax.set_title(text("chart_county_title", chart_lang))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.grid(axis="y", alpha=0.3)
        return _png(fig)


# --------------------------------------------------------------------------- sections
# Each section is a list of blocks (dicts) that _PAGE renders; no HTML is built in Python.

_PAGE = """<!DOCTYPE html>
<html lang="{{ html_lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css }}</style>
</head>
<body>
{% for b in blocks %}
{% if b.type == "h1" %}
<h1>{{ b.text }}</h1>
{% elif b.type == "h2" %}
<h2>{{ b.text }}</h2>
{% elif b.type == "h3" %}
<h3>{{ b.text }}</h3>
{% elif b.type == "p" %}
<p class="{{ b.cls }}">{{ b.text }}</p>
{% elif b.type == "figures" %}
<div class="figures">{% for k, v in b["items"] %}<div class="figure">{{ k }}<b>{{ v }}</b></div>\
{% endfor %}</div>
{% elif b.type == "notes" %}
<ul class="note">{% for t in b["items"] %}<li>{{ t }}</li>{% endfor %}</ul>
{% elif b.type == "chart" %}
<div class="chart"><img alt="{{ b.alt }}" src="{{ b.src }}"></div>
{% elif b.type == "table" and b.rows %}
<table><thead><tr>{% for h in b.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>\
{% for row in b.rows %}<tr>{% for c in row %}<td{% if c.cls %} class="{{ c.cls }}"{% endif %}>\
{{ c.text }}{% if c.note %}<br><span class="note">{{ c.note }}</span>{% endif %}</td>\
{% endfor %}</tr>{% endfor %}</tbody></table>
{% elif b.type == "table" %}
<p class="na">{{ no_rows }}</p>
{% elif b.type == "footer" %}
<footer>{{ b.text }}</footer>
{% endif %}
{% endfor %}
</body>
</html>
"""

Block = dict[str, Any]


def _cell(value: str, cls: str = "", note: str = "") -> dict[str, str]:
    return {"text": value, "cls": cls, "note": note}


def _tbl(headers: Sequence[str], rows: Sequence[Sequence[dict[str, str]]]) -> Block:
    return {"type": "table", "headers": list(headers), "rows": [list(r) for r in rows]}


def _h(level: int, value: str) -> Block:
    return {"type": f"h{level}", "text": value}


def _kind_rows(kinds: Mapping[str, Any], before: Mapping[str, Any] | None,
               lang: str) -> tuple[list[str], list[list[dict[str, str]]]]:
    order = [k for k in FACILITY_KINDS if k in kinds] + sorted(set(kinds) - set(FACILITY_KINDS))
    headers = [text("f_kind", lang)]
    if before:
        headers += [f"{text('c_before', lang)}：{text('c_covered', lang)}",
                    f"{text('c_before', lang)}：{text('c_covered_share', lang)}",
                    f"{text('c_after', lang)}：{text('c_covered', lang)}",
                    f"{text('c_after', lang)}：{text('c_covered_share', lang)}",
                    text("c_change", lang)]
        if lang == "en":
            headers = [h.replace("：", ": ") for h in headers]
    else:
        headers += [text("c_covered", lang), text("c_covered_share", lang)]
    headers += [text("c_uncovered", lang), text("c_unreachable", lang), text("c_basis", lang)]
    rows = []
    for k in order:
        d = kinds[k] if isinstance(kinds[k], Mapping) else {}
        row = [_cell(kind_label(k, lang))]
        if before:
            b = before.get(k) if isinstance(before.get(k), Mapping) else {}
            change = (d.get("covered_elders", 0) or 0) - (b.get("covered_elders", 0) or 0) \
                if b else None
            row += [_cell(_num(b.get("covered_elders")), "num"),
                    _cell(_pct(b.get("covered_share")), "num")]
            row += [_cell(_num(d.get("covered_elders")), "num"),
                    _cell(_pct(d.get("covered_share")), "num"),
                    _cell("–" if change is None else f"{change:+,.0f}", "num")]
        else:
            row += [_cell(_num(d.get("covered_elders")), "num"),
                    _cell(_pct(d.get("covered_share")), "num")]
        basis = "basis_network_short" if d.get("network") else "basis_line_short"
        row += [_cell(_num(d.get("uncovered_elders")), "num"),
                _cell(_num(d.get("unreachable_elders")), "num"), _cell(text(basis, lang))]
        rows.append(row)
    return headers, rows


def _summary_section(summary: Mapping[str, Any], lang: str) -> list[Block]:
    blocks = [_h(2, text("summary", lang))]
    figures = [(text("c_elders60", lang), summary.get("elders_total")),
               (text("c_elders65", lang), summary.get("elders_65")),
               (text("c_elders80", lang), summary.get("elders_80"))]
    cards = [(k, _num(v)) for k, v in figures if not _missing(v)]
    if cards:
        blocks.append({"type": "figures", "items": cards})
    kinds = summary.get("kinds")
    if isinstance(kinds, Mapping) and kinds:
        before = summary.get("kinds_before")
        headers, rows = _kind_rows(kinds, before if isinstance(before, Mapping) else None, lang)
        blocks += [_h(3, text("coverage_by_kind", lang)), _tbl(headers, rows)]
    notes = summary.get("notes")
    if isinstance(notes, Sequence) and not isinstance(notes, str) and notes:
        blocks += [_h(3, text("notes", lang)),
                   {"type": "notes", "items": [localize_message(str(n), lang) for n in notes]}]
    return blocks


def _before_lookup(summary: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    before = summary.get("indicators_before")
    if not isinstance(before, Sequence) or isinstance(before, str):
        return {}
    out = {}
    for rec in before:
        if isinstance(rec, Mapping) and "indicator" in rec:
            out[(str(rec["indicator"]), _year(rec.get("year")))] = rec.get("value")
    return out


def _indicator_section(ind: pd.DataFrame, summary: Mapping[str, Any], lang: str,
                       chart: str | None) -> list[Block]:
    missing = [c for c in INDICATOR_COLUMNS if c not in ind.columns]
    if missing:
        raise ValueError(f"indicators: missing column(s) {missing}")
    before = _before_lookup(summary)
    # One vocabulary: with a plan the columns are 现状 (before) and 方案后 (after).
    headers = [text("c_indicator", lang)]
    if before:
        headers += [text("c_before", lang), text("c_after", lang)]
    else:
        headers.append(text("c_value", lang))
    headers += [text("c_target", lang), text("c_year", lang), text("c_gap", lang),
                text("c_unit", lang), text("c_status", lang)]
    sourced = "source" in ind.columns and "scope" in ind.columns
    if sourced:
        headers += [text("c_scope", lang), text("c_source", lang)]
    rows = []
    for _, r in ind.iterrows():
        label = r["label_zh"] if lang == "zh" else r["label_en"]
        note = r.get("note")
        note = localize_message(str(note), lang) if not _missing(note) and str(note) else ""
        row = [_cell(str(label), "", note)]
        if before:
            row.append(_cell(_unit_value(before.get((str(r["indicator"]), _year(r["year"]))),
                                         r["unit"]), "num"))
        if _missing(r["target"]) or _missing(r["value"]):
            status, css = text("status_unknown", lang), "na"
        elif float(r["gap"]) <= 1e-12:
            status, css = text("status_met", lang), "met"
        else:
            status, css = text("status_short", lang), "short"
        gap = r["gap"]
        row += [_cell(_unit_value(r["value"], r["unit"]), "num"),
                _cell(_unit_value(r["target"], r["unit"]), "num"),
                _cell(_year(r["year"]), "num"),
                _cell(_unit_value(gap, r["unit"]) if not _missing(gap) else "–", "num"),
                _cell(_unit_label(r["unit"], lang)), _cell(status, css)]
        if sourced:
            source = r["source"]
            if source == "descriptive (no target)" and lang == "zh":
                source = "描述性指标（无目标）"
            row += [_cell(scope_label(r["scope"], lang)), _cell(source)]
        rows.append(row)
    blocks = [_h(2, text("indicators", lang)), _tbl(headers, rows)]
    if chart:
        key = "chart_indicator_title_after" if before else "chart_indicator_title"
        blocks.append({"type": "chart", "alt": text(key, lang), "src": chart})
    return blocks


def _area_section(table: pd.DataFrame | None, heading: str, lang: str,
                  chart: str | None = None) -> list[Block]:
    blocks = [_h(2, heading)]
    if chart:
        blocks.append({"type": "chart", "alt": text("chart_county_title", lang), "src": chart})
    if table is None or not len(table):
        return blocks + [_tbl([], [])]
    cols: list[tuple[str, str, Any]] = []
    if "code" in table:
        cols.append(("code", text("f_code", lang), str))
    if "name" in table:
        cols.append(("name", text("f_name", lang), lambda v: "" if _missing(v) else str(v)))
    if "elders_60" in table:
        cols.append(("elders_60", text("c_elders60", lang), _num))
    for col, key in _share_columns(table):
        cols.append((col, text("c_share", lang, kind=_share_label(key, lang)), _pct))
    for col, key, fmt in [("beds", "c_beds", _num),
                          ("beds_per_1000", "c_beds_per_1000", lambda v: _num(v, 1)),
                          ("nursing_bed_share", "c_nursing_bed_share", _pct)]:
        if col in table:
            cols.append((col, text(key, lang), fmt))
    rows = [[_cell(fmt(r[c]), "txt" if c in ("code", "name") else "num") for c, _, fmt in cols]
            for _, r in table.iterrows()]
    return blocks + [_tbl([h for _, h, _ in cols], rows)]


def _impact_blocks(cm: Mapping[str, Any], lang: str) -> list[Block]:
    """Before, after, lost and target of a close/merge plan, overall and per closed centre."""
    b, a = cm.get("before"), cm.get("after")
    if not isinstance(b, Mapping) or not isinstance(a, Mapping):
        return []
    kind = kind_label(str(cm.get("kind", kinds_with_role("close_merge")[0])), lang)
    lost = cm.get("elders_losing_coverage")
    target = cm.get("coverage_target")
    need = None if _missing(target) else float(target) * float(b.get("covered_elders", 0))
    headers = [text("cm_measure", lang), text("c_before", lang), text("c_after", lang),
               text("c_change", lang), text("c_target", lang), text("c_status", lang)]

    def row(key: str, bv: Any, av: Any, fmt: Any, *, goal: str = "", met: bool | None = None):
        change = "–" if _missing(bv) or _missing(av) else fmt(float(av) - float(bv))
        if fmt is _pct and change != "–":
            change = ("+" if float(av) >= float(bv) else "") + change
        elif change != "–" and not change.startswith("-"):
            change = "+" + change
        status = (_cell("–", "na") if met is None else
                  _cell(text("status_met", lang), "met") if met else
                  _cell(text("status_short", lang), "short"))
        return [_cell(text(key, lang)), _cell(fmt(bv), "num"), _cell(fmt(av), "num"),
                _cell(change, "num"), _cell(goal, "num"), status]

    rows = [row("cm_centres", b.get("centres"), a.get("centres"), _num)]
    goal = "" if need is None else f"≥ {_num(math.ceil(need - 1e-9))}"
    met = None if need is None else float(a.get("covered_elders", 0)) >= need - 1e-9
    rows.append(row("cm_covered", b.get("covered_elders"), a.get("covered_elders"), _num,
                    goal=goal, met=met))
    rows.append(row("cm_share", b.get("covered_share"), a.get("covered_share"), _pct))
    rows.append([_cell(text("cm_lost", lang)), _cell("", "num"), _cell(_num(lost), "num"),
                 _cell("", "num"), _cell("", "num"), _cell("–", "na")])
    rows.append(row("cm_mean_time", b.get("mean_time_min"), a.get("mean_time_min"),
                    lambda v: _num(v, 1)))
    blocks = [_h(3, text("cm_impact", lang, kind=kind)), _tbl(headers, rows)]
    if need is not None:
        blocks.append({"type": "p", "cls": "note",
                       "text": text("cm_target", lang, share=_pct(target, 0),
                                    n=_num(math.ceil(need - 1e-9)))})
    closed = cm.get("closed_centres")
    if isinstance(closed, Sequence) and not isinstance(closed, str) and closed:
        heads = [text("f_from", lang), text("f_id", lang), text("cm_served_before", lang),
                 text("cm_still_covered", lang), text("cm_lost_here", lang),
                 text("cm_receivers", lang)]
        sep = "、" if lang == "zh" else ", "
        crow = [[_cell(str(c.get("name", ""))), _cell(str(c.get("id", ""))),
                 _cell(_num(c.get("covered_before")), "num"),
                 _cell(_num(c.get("still_covered")), "num"),
                 _cell(_num(c.get("lost")), "num"),
                 _cell(sep.join(str(x) for x in c.get("receivers") or []))]
                for c in closed if isinstance(c, Mapping)]
        blocks += [_h(3, text("cm_closed_table", lang)), _tbl(heads, crow)]
    return blocks


def _merge_section(merges: pd.DataFrame | None, summary: Mapping[str, Any],
                   lang: str) -> list[Block]:
    if merges is None:
        return []
    cm = (summary.get("analyses") or {}).get("close_merge") \
        if isinstance(summary.get("analyses"), Mapping) else None
    blocks = [_h(2, text("merges", lang))]
    if isinstance(cm, Mapping):
        impact = _impact_blocks(cm, lang)
        if impact:
            blocks += impact + [_h(3, text("cm_merge_table", lang))]
    spec = [("from_name", "f_from", str), ("from_id", "f_id", str), ("to_name", "f_to", str),
            ("to_id", "f_id", str), ("road_km", "f_road_km", lambda v: _num(v, 1)),
            ("residents_moved", "f_residents_moved", _num),
            ("catchment_elders_moved", "f_catchment_elders_moved", _num),
            ("receiving_occupancy_before", "f_receiving_occupancy_before", lambda v: _pct(v, 0)),
            ("receiving_occupancy_after", "f_receiving_occupancy_after", lambda v: _pct(v, 0))]
    cols = [(c, text(k, lang), f) for c, k, f in spec if c in merges.columns]
    rows = [[_cell("–" if _missing(r[c]) else f(r[c]), "num" if f is not str else "")
             for c, _, f in cols] for _, r in merges.iterrows()]
    return blocks + [_tbl([h for _, h, _ in cols], rows)]


def _new_sites_section(new_sites: pd.DataFrame | None, lang: str) -> list[Block]:
    if new_sites is None:
        return []
    spec = [("kind", "f_kind", lambda v: kind_label(str(v), lang)), ("id", "f_id", str),
            ("name", "f_name", str),
            ("covered_elders_gain", "f_covered_elders_gain", _num),
            ("covered_gain", "f_covered_gain", _num),
            ("lon", "c_lon", lambda v: _num(v, 5)), ("lat", "c_lat", lambda v: _num(v, 5))]
    numeric = ("covered_elders_gain", "covered_gain", "lon", "lat")
    cols = [(c, text(k, lang), f) for c, k, f in spec if c in new_sites.columns]
    rows = [[_cell("–" if _missing(r[c]) else f(r[c]), "num" if c in numeric else "")
             for c, _, f in cols] for _, r in new_sites.iterrows()]
    return [_h(2, text("new_sites_table", lang)), _tbl([h for _, h, _ in cols], rows)]


# --------------------------------------------------------------------------- public API


def report_html(
    *,
    summary: Mapping[str, Any],
    indicators: pd.DataFrame,
    counties_table: pd.DataFrame | None,
    townships_table: pd.DataFrame | None,
    merges: pd.DataFrame | None = None,
    new_sites: pd.DataFrame | None = None,
    lang: str = "zh",
    title: str | None = None,
    charts: bool = True,
) -> str:
    """The report as an HTML string (see :func:`write_report` for the parameters)."""
    check_lang(lang)
    title = title if title else text("report_title", lang)
    font = cjk_font()
    chart_lang = lang if (lang == "en" or font is not None) else "en"
    after = bool(_before_lookup(summary))
    ind_chart = _indicator_chart(indicators, chart_lang, font, after=after) if charts else None
    county_chart = (_county_chart(counties_table, chart_lang, font)
                    if charts and counties_table is not None else None)
    sub = [str(v) for v in (summary.get("scenario"), summary.get("description"))
           if not _missing(v) and str(v) and str(v) != title]
    blocks: list[Block] = [_h(1, title)]
    if sub:
        blocks.append({"type": "p", "cls": "sub", "text": " · ".join(sub)})
    if summary.get("synthetic"):
        blocks.append({"type": "p", "cls": "warn", "text": text("synthetic_warning", lang)})
    if charts and chart_lang != lang and text("chart_font_note", lang):
        blocks.append({"type": "p", "cls": "note", "text": text("chart_font_note", lang)})
    blocks += _summary_section(summary, lang)
    blocks += _indicator_section(indicators, summary, lang, ind_chart)
    blocks += _area_section(counties_table, text("by_county", lang), lang, county_chart)
    blocks += _area_section(townships_table, text("by_township", lang), lang)
    blocks += _merge_section(merges, summary, lang)
    blocks += _new_sites_section(new_sites, lang)
    version = summary.get("elder_coverage_version")
    footer = text("generated_by", lang) + (f" {version}" if not _missing(version) else "")
    blocks.append({"type": "footer", "text": footer})
    return render(_PAGE, html_lang="zh-CN" if lang == "zh" else "en", title=title,
                  css=Markup(_CSS), blocks=blocks, no_rows=text("no_rows", lang))


def write_report(
    path: str | os.PathLike,
    *,
    summary: Mapping[str, Any],
    indicators: pd.DataFrame,
    counties_table: pd.DataFrame | None,
    townships_table: pd.DataFrame | None,
    merges: pd.DataFrame | None = None,
    new_sites: pd.DataFrame | None = None,
    lang: str = "zh",
    title: str | None = None,
    charts: bool = True,
) -> Path:
    """Write the run report as one self-contained HTML file, atomically.

    Parameters
    ----------
    path : path-like
        Output file (``report.html``); written to a temporary file beside it, then renamed.
    summary : mapping
        Run summary (as in ``summary.json``): optional ``scenario``, ``description``,
        ``synthetic``, ``elders_total``/``elders_65``/``elders_80`` (persons), ``kinds``
        (kind → ``covered_elders``, ``covered_share``, ``uncovered_elders``,
        ``unreachable_elders``, ``network``), ``indicators_before`` (records, shown as a
        "before" column), ``notes`` (list of str), ``elder_coverage_version``.
    indicators : DataFrame
        Columns ``indicator``, ``label_zh``, ``label_en``, ``value``, ``target``, ``year``,
        ``gap``, ``unit`` (``share`` as 0-1, or ``m2/person``), optional ``note``.
    counties_table, townships_table : DataFrame or None
        Area tables (:func:`elder_coverage.aggregate.area_table`): ``code``, ``name``,
        ``elders_60``, ``<kind>_share`` (0-1), ``beds``, ``beds_per_1000``,
        ``nursing_bed_share``; any subset.
    merges : DataFrame, optional
        Close-and-merge plan (``from_id``, ``from_name``, ``to_id``, ``to_name``, ``road_km``,
        ``residents_moved``, ``catchment_elders_moved``, ``receiving_occupancy_before``,
        ``receiving_occupancy_after``; any subset); None leaves the section out.
    new_sites : DataFrame, optional
        New sites (``kind``, ``id``, ``name``, ``covered_elders_gain`` or ``covered_gain``,
        ``lon``, ``lat``).
    lang : {"zh", "en"}
    title : str, optional
        Report title; default the localized "Elder-care coverage report".
    charts : bool, default True
        Draw the bar charts (matplotlib, Agg).

    Returns
    -------
    pathlib.Path
    """
    page = report_html(summary=summary, indicators=indicators, counties_table=counties_table,
                       townships_table=townships_table, merges=merges, new_sites=new_sites,
                       lang=lang, title=title, charts=charts)
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_bytes(page.encode("utf-8"))
    return target


__all__ = ["CJK_FONTS", "cjk_font", "report_html", "write_report"]
