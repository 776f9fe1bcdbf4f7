"""Compare two run folders written by ``elder-coverage run``.

A run folder holds ``summary.json``, ``facilities.csv`` (every facility with its final
``status``: open, closed or new) and its cell file (``cells.gpkg`` or the ``outputs.geopackage``
name, GeoPackage or GeoParquet: each demand cell with its elders and per-kind
``<kind>_covered`` flag after the run's changes, see :mod:`elder_coverage.io.cells_out`).
The comparison says how the indicators moved, which sites were opened or closed, and how many
elders gained or lost coverage of each kind (cells are matched by ``cell_id``).

Gains and losses mean something only over the same study area, so runs whose ``run_record``
(see :mod:`elder_coverage.record`) names different areas are refused unless forced; every
difference in service standards or input files is listed first, so that "gained 76" is never
read as the effect of a plan when it is the effect of a 10- instead of 15-minute standard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow
import pyogrio
import pyogrio.errors

from elder_coverage._errors import UserError
from elder_coverage.io.cells_out import CELLS_LAYER, read_cells
from elder_coverage.io.errors import InputError
from elder_coverage.schema import FACILITY_KINDS, KIND_LABELS

#: The layer of a run's cells GeoPackage holding the cells after the run's changes.
FINAL_CELLS_LAYER = CELLS_LAYER


def _cells_name(summary: dict) -> str:
    """The run's cell file: ``outputs.geopackage`` of its summary, ``cells.gpkg`` by default."""
    name = (summary.get("outputs") or {}).get("geopackage") if isinstance(summary, dict) else None
    return name if isinstance(name, str) and name else "cells.gpkg"


def _read_run(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    for name in ("summary.json", "facilities.csv"):
        if not (folder / name).is_file():
            raise InputError(f"not a run folder of elder-coverage run (no {name})", path=folder)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not valid JSON ({exc})", path=folder / "summary.json") from None
    if not isinstance(summary, dict):
        raise InputError("not a run summary (a JSON object)", path=folder / "summary.json")
    cells_name = _cells_name(summary)
    cells_path = folder / cells_name
    if not cells_path.is_file():
        raise InputError(f"not a run folder of elder-coverage run (no {cells_name})",
                         path=folder)
    # A damaged or foreign file is the planner's to fix, named, not a traceback.
    try:
        facilities = pd.read_csv(folder / "facilities.csv", dtype={"id": str},
                                 encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a run's facility table ({exc})",
                         path=folder / "facilities.csv") from None
    try:
        cells = read_cells(cells_path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyarrow.ArrowException, OSError) as exc:
        raise InputError(f"no readable cells (layer {FINAL_CELLS_LAYER!r}: {exc})",
                         path=cells_path) from None
    for table, name, columns in ((facilities, "facilities.csv", ("id", "status")),
                                 (cells, cells_name, ("cell_id", "elders_60"))):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InputError(f"not written by elder-coverage run (no column {missing[0]!r})",
                             path=folder / name, field=missing[0])
    return summary, facilities, cells


class IncomparableRunsError(UserError):
    """Two runs over different study areas; the message lists every difference."""

    def __init__(self, run_a: Path, run_b: Path, differences: list[dict[str, Any]]) -> None:
        self.differences = differences
        lines = [f"{run_a} and {run_b} cover different study areas; their coverage cannot be "
                 "compared (use --force to compare anyway) / 两次运行的研究区不同，覆盖无法比较"
                 "（如仍要比较，加 --force）:"]
        lines += [f"  {_difference_line(d)}" for d in differences]
        super().__init__("\n".join(lines))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _diff(section: str, a: Any, b: Any, *, ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    fa, fb = _flatten(a or {}), _flatten(b or {})
    out = []
    for key in sorted(set(fa) | set(fb)):
        if key.split(".")[-1] in ignore:
            continue
        if fa.get(key) != fb.get(key):
            out.append({"section": section, "key": key, "a": fa.get(key), "b": fb.get(key)})
    return out


def _input_diff(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    # The same bytes under another path are the same input: paths differ between machines.
    out = []
    for name in sorted(set(a) | set(b)):
        ra, rb = a.get(name) or {}, b.get(name) or {}
        same_bytes = ra.get("sha256") is not None and ra.get("sha256") == rb.get("sha256")
        out += _diff("inputs", {name: ra}, {name: rb},
                     ignore=("path", "file", "sample") if same_bytes else ("path",))
    return out


def run_differences(sa: dict[str, Any], sb: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Differences between the records of two runs' ``summary.json``.

    Parameters
    ----------
    sa, sb : dict
        The two summaries.

    Returns
    -------
    dict
        ``study_area``, ``standards`` and ``inputs``: lists of {section, key, a, b}; and
        ``unrecorded``: runs written before run records existed (their standards and inputs
        cannot be checked).
    """
    ra, rb = sa.get("run_record"), sb.get("run_record")
    area_a = (ra or {}).get("study_area") or sa.get("study_area", {})
    area_b = (rb or {}).get("study_area") or sb.get("study_area", {})
    # Compare what both sides recorded: an old run has only counties and CRS.
    shared = set(area_a) & set(area_b)
    out: dict[str, list[dict[str, Any]]] = {
        "study_area": _diff("study_area", {k: area_a[k] for k in shared},
                            {k: area_b[k] for k in shared}, ignore=("boundary", "file")),
        "standards": [], "inputs": [], "unrecorded": []}
    if sa.get("elders_total") != sb.get("elders_total"):
        out["inputs"].append({"section": "population", "key": "elders_total",
                              "a": sa.get("elders_total"), "b": sb.get("elders_total")})
    for which, rec in (("a", ra), ("b", rb)):
        if rec is None:
            out["unrecorded"].append({"section": "record", "key": "run_record", "a": which,
                                      "b": None})
    if ra is not None and rb is not None:
        out["standards"] = _diff("standards", ra.get("standards"), rb.get("standards"))
        out["inputs"] += _input_diff(ra.get("inputs", {}), rb.get("inputs", {}))
        if (ra.get("scenario_file") or {}).get("sha256") != \
                (rb.get("scenario_file") or {}).get("sha256"):
            out["inputs"].append({"section": "scenario", "key": "scenario_file",
                                  "a": (ra.get("scenario_file") or {}).get("path"),
                                  "b": (rb.get("scenario_file") or {}).get("path")})
    return out


def compare_runs(run_a: str | Path, run_b: str | Path, *, force: bool = False) -> dict[str, Any]:
    """What changed from run A to run B.

    Parameters
    ----------
    run_a, run_b : path-like
        Run folders written by ``elder-coverage run``.
    force : bool
        Compare even when the runs cover different study areas.

    Returns
    -------
    dict
        ``differences``: see :func:`run_differences` (study area, standards, inputs);
        ``indicators``: list of {indicator, a, b, change}; ``opened`` / ``closed``: facility
        ids open in B but not A and the reverse; ``coverage``: per kind, elders (60+) covered
        in A and B, ``gained`` and ``lost`` (persons) over cells present in both runs, and
        ``cells_only_in_a`` / ``cells_only_in_b`` when the demand differs.

    Raises
    ------
    IncomparableRunsError
        When the study areas differ and ``force`` is false.
    """
    sa, fa, ca = _read_run(Path(run_a))
    sb, fb, cb = _read_run(Path(run_b))
    differences = run_differences(sa, sb)
    if differences["study_area"] and not force:
        raise IncomparableRunsError(Path(run_a), Path(run_b), differences["study_area"])
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
        "differences": differences,
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
           "none": "无", "target": "目标", "diff": "两次运行的差异（比较结果受其影响）",
           "same": "研究区、服务标准和输入数据相同", "study_area": "研究区",
           "standards": "服务标准",
           "inputs": "输入数据", "population": "人口", "scenario": "情景文件",
           "record": "运行记录", "unrecorded": "旧版运行无记录，无法核对标准和输入"},
    "en": {"title": "Run comparison", "ind": "Indicators", "opened": "Sites opened",
           "closed": "Sites closed", "cov": "Coverage change (persons aged 60+)",
           "gained": "gained", "lost": "lost", "none": "none", "target": "target",
           "diff": "Differences between the runs (the comparison reflects them)",
           "same": "same study area, standards and inputs", "study_area": "study area",
           "standards": "standards", "inputs": "inputs", "population": "population",
           "scenario": "scenario", "record": "run record",
           "unrecorded": "written before run records: standards and inputs not checked"},
}


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _difference_line(d: dict[str, Any], lang: str = "en") -> str:
    t = _TEXT[lang]
    if d["section"] == "record":
        return f"{t['record']} ({d['a']}): {t['unrecorded']}"
    a, b = d["a"], d["b"]
    return f"{t.get(d['section'], d['section'])}: {d['key']}: {_fmt(a)} → {_fmt(b)}"


def format_comparison(result: dict[str, Any], lang: str = "zh") -> str:
    """Plain-text rendering of :func:`compare_runs` for the terminal.

    Differences in study area, standards and inputs come first, before any figure.
    """
    t = _TEXT[lang]
    lines = [f"{t['title']}: {result['run_a']['name']} → {result['run_b']['name']}", ""]
    diffs = [d for part in ("study_area", "standards", "inputs", "unrecorded")
             for d in result.get("differences", {}).get(part, [])]
    lines.append(f"{t['diff']}:" if diffs else f"{t['same']}.")
    lines += [f"  {_difference_line(d, lang)}" for d in diffs]
    lines += ["", f"{t['ind']}:"]
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
