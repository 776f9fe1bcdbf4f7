"""Compare two run folders written by ``elder-coverage run``.

A run folder holds ``summary.json``, ``facilities.csv`` (every facility with its final
``status``: open, closed or new) and ``cells.gpkg`` (layer ``cells_final``: each demand cell
with its elders and per-kind ``<kind>_covered`` flag after the run's changes). The comparison
says how the indicators moved, which sites were opened or closed, and how many elders gained
or lost coverage of each kind (cells are matched by ``cell_id``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pyogrio.errors

from elder_coverage.io.errors import InputError
from elder_coverage.schema import FACILITY_KINDS, KIND_LABELS

FINAL_CELLS_LAYER = "cells_final"


def _read_run(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    for name in ("summary.json", "facilities.csv", "cells.gpkg"):
        if not (folder / name).is_file():
            raise InputError(f"not a run folder of elder-coverage run (no {name})", path=folder)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not valid JSON ({exc})", path=folder / "summary.json") from None
    if not isinstance(summary, dict):
        raise InputError("not a run summary (a JSON object)", path=folder / "summary.json")
    # A damaged or foreign file is the planner's to fix, named, not a traceback.
    try:
        facilities = pd.read_csv(folder / "facilities.csv", dtype={"id": str})
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a run's facility table ({exc})",
                         path=folder / "facilities.csv") from None
    try:
        cells = pyogrio.read_dataframe(folder / "cells.gpkg", layer=FINAL_CELLS_LAYER,
                                       read_geometry=False)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(f"no readable layer {FINAL_CELLS_LAYER!r} ({exc})",
                         path=folder / "cells.gpkg") from None
    for table, name, columns in ((facilities, "facilities.csv", ("id", "status")),
                                 (cells, "cells.gpkg", ("cell_id", "elders_60"))):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InputError(f"not written by elder-coverage run (no column {missing[0]!r})",
                             path=folder / name, field=missing[0])
    return summary, facilities, cells


def compare_runs(run_a: str | Path, run_b: str | Path) -> dict[str, Any]:
    """What changed from run A to run B.

    Returns
    -------
    dict
        ``indicators``: list of {indicator, a, b, change}; ``opened`` / ``closed``: facility
        ids open in B but not A and the reverse; ``coverage``: per kind, elders (60+) covered
        in A and B, ``gained`` and ``lost`` (persons) over cells present in both runs, and
        ``cells_only_in_a`` / ``cells_only_in_b`` when the demand differs.
    """
    sa, fa, ca = _read_run(Path(run_a))
    sb, fb, cb = _read_run(Path(run_b))
    def keyed(summary):
        return {(i["indicator"], i.get("year")): i for i in summary.get("indicators", [])}

    ind_a, ind_b = keyed(sa), keyed(sb)
    indicators = []
    for key in sorted(set(ind_a) | set(ind_b), key=lambda k: (k[0], k[1] or 0)):
        row_a, row_b = ind_a.get(key, {}), ind_b.get(key, {})
        va, vb = row_a.get("value"), row_b.get("value")
        change = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        labels = row_b or row_a
        indicators.append({"indicator": key[0], "year": key[1], "label_zh": labels.get("label_zh"),
                           "label_en": labels.get("label_en"), "target": labels.get("target"),
                           "a": va, "b": vb, "change": change})
    open_a = set(fa.loc[fa["status"].isin(["open", "new"]), "id"])
    open_b = set(fb.loc[fb["status"].isin(["open", "new"]), "id"])
    merged = ca.merge(cb, on="cell_id", how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    coverage = {}
    for kind in FACILITY_KINDS:
        col = f"{kind}_covered"
        if f"{col}_a" not in both or f"{col}_b" not in both:
            continue
        a = both[f"{col}_a"].fillna(False).astype(bool)
        b = both[f"{col}_b"].fillna(False).astype(bool)
        elders = both["elders_60_a"].fillna(0)
        coverage[kind] = {
            "covered_a": int(round(ca.loc[ca[col].fillna(False).astype(bool), "elders_60"].sum())),
            "covered_b": int(round(cb.loc[cb[col].fillna(False).astype(bool), "elders_60"].sum())),
            "gained": int(round(elders[~a & b].sum())),
            "lost": int(round(elders[a & ~b].sum())),
        }
    return {
        "run_a": {"folder": str(run_a), "name": sa.get("scenario")},
        "run_b": {"folder": str(run_b), "name": sb.get("scenario")},
        "indicators": indicators,
        "opened": sorted(open_b - open_a),
        "closed": sorted(open_a - open_b),
        "coverage": coverage,
        "cells_only_in_a": int((merged["_merge"] == "left_only").sum()),
        "cells_only_in_b": int((merged["_merge"] == "right_only").sum()),
    }


_TEXT = {
    "zh": {"title": "运行对比", "ind": "指标", "opened": "新增/重开设施", "closed": "关闭设施",
           "cov": "覆盖变化（60岁及以上人数）", "gained": "新增覆盖", "lost": "失去覆盖",
           "none": "无", "target": "目标"},
    "en": {"title": "Run comparison", "ind": "Indicators", "opened": "Sites opened",
           "closed": "Sites closed", "cov": "Coverage change (persons aged 60+)",
           "gained": "gained", "lost": "lost", "none": "none", "target": "target"},
}


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_comparison(result: dict[str, Any], lang: str = "zh") -> str:
    """Plain-text rendering of :func:`compare_runs` for the terminal."""
    t = _TEXT[lang]
    lines = [f"{t['title']}: {result['run_a']['name']} → {result['run_b']['name']}", "",
             f"{t['ind']}:"]
    for row in result["indicators"]:
        a, b, ch = row["a"], row["b"], row["change"]
        delta = f" ({ch:+.3f})" if isinstance(ch, float | int) else ""
        label = row.get(f"label_{lang}") or row["indicator"]
        year = f" ({row['year']})" if row.get("year") else ""
        target = f"  [{t['target']}: {_fmt(row['target'])}]" if row.get("target") is not None \
            else ""
        lines.append(f"  {label}{year}: {_fmt(a)} → {_fmt(b)}{delta}{target}")
    for key in ("opened", "closed"):
        ids = result[key]
        lines.append(f"{t[key]} ({len(ids)}): {', '.join(ids[:20]) or t['none']}"
                     + (" …" if len(ids) > 20 else ""))
    lines.append(f"{t['cov']}:")
    for kind, c in result["coverage"].items():
        label = KIND_LABELS[kind][lang]
        lines.append(f"  {label}: {c['covered_a']:,} → {c['covered_b']:,}  "
                     f"({t['gained']} {c['gained']:,}, {t['lost']} {c['lost']:,})")
    return "\n".join(lines)
