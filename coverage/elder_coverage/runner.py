"""Run a validated scenario end to end and write its output folder.

The stages (:mod:`elder_coverage.stages`: load → costs → coverage → close/merge → new sites →
tables → map → report) run in order, each timed, and :func:`write_run` writes their results.
The output folder is written in a temporary sibling and renamed into place only when
everything succeeded, so a failed run leaves nothing behind. Tables are sorted and rounded so
that the same inputs give byte-identical files; solver timings go to ``run_log.json`` only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage import __version__, stages
from elder_coverage.io.atomic import atomic_dir, check_output_dir, raise_if_stopped
from elder_coverage.progress import StageProgress
from elder_coverage.scenario import RESERVED_OUTPUT_NAMES, Scenario, parse_scenario
from elder_coverage.schema import FACILITY_KINDS, KIND_LABELS

#: The stages of a run, in order (``run_log.json`` → ``seconds`` has one entry per stage).
STAGES = ("load", "costs", "coverage", "close_merge", "new_sites", "tables", "map", "report",
          "write")

#: Name of the scenario file's copy in a run folder.
SCENARIO_COPY = "scenario.yaml"


@dataclass
class RunOutput:
    """What a run wrote: the folder and its ``summary.json`` content."""

    folder: Path
    summary: dict[str, Any]

    def describe(self, lang: str = "zh") -> str:
        """A few lines for the terminal: headline figures before/after and every file written."""
        s = self.summary
        zh = lang == "zh"
        was_word, now_word = ("现状", "方案后") if zh else ("before", "after")
        lines = [f"{'情景' if zh else 'scenario'}: {s['scenario']}",
                 f"{'60岁及以上老年人' if zh else 'elders aged 60+'}"
                 f" ({s.get('demand_year', 2020)}): {s['elders_total']:,}"
                 f"{' 人' if zh else ' persons'}"]
        by_year = (s.get("demand") or {}).get("elders_by_year")
        if by_year:
            # The census year and the last policy target year side by side (60+ / 80+).
            lines.append(("  2020 → 2029 (预测): " if zh else "  2020 → 2029 (projected): ")
                         + f"60+ {by_year['2020']['60+']:,} → {by_year['2029']['60+']:,}, "
                         f"80+ {by_year['2020']['80+']:,} → {by_year['2029']['80+']:,}")
        kinds_before = s.get("kinds_before") or {}
        lines.append(("服务范围内老人（人，覆盖率）" if zh else "elders within the standard "
                      "(persons, share)") + (f": {was_word} → {now_word}" if kinds_before else ":"))
        for kind in sorted(s["kinds"], key=_kind_order):
            k = s["kinds"][kind]
            label = KIND_LABELS[kind][lang]
            now = f"{k['covered_elders']:,} ({k['covered_share']:.1%})"
            b = kinds_before.get(kind)
            was = f"{b['covered_elders']:,} ({b['covered_share']:.1%}) → " if b else ""
            lines.append(f"  {label}: {was}{now}")
        before = {(i["indicator"], i.get("year")): i for i in s.get("indicators_before") or []}
        lines.append(f"政策指标（{was_word} → {now_word} / 目标）:" if zh and before else
                     "政策指标（现状 / 目标）:" if zh else
                     f"policy indicators ({was_word} → {now_word} / target):" if before else
                     "policy indicators (value / target):")

        def fmt(v: float, unit: str | None) -> str:
            if unit == "share":
                return f"{v:.1%}"
            per = " 平方米/人" if zh else " m²/person"
            return f"{v:.2f}{per if unit == 'm2/person' else ''}"

        for ind in s.get("indicators", []):
            if ind.get("value") is None:
                continue
            label = ind.get(f"label_{lang}", ind["indicator"])
            unit = ind.get("unit")
            year = f" ({ind['year']})" if ind.get("year") else ""
            target = "" if ind.get("target") is None else f" / {fmt(ind['target'], unit)}"
            was = before.get((ind["indicator"], ind.get("year")), {}).get("value")
            now = fmt(ind["value"], unit)
            lines.append(f"  {label}{year}: "
                         f"{fmt(was, unit) + ' → ' if was is not None else ''}{now}{target}")
        cm = s["analyses"].get("close_merge")
        if cm:
            names = {c["id"]: c["name"] for c in cm.get("closed_centres", [])}
            closed = [f"{names.get(i, i)} ({i})" for i in cm["closed"]]
            lines.append(("撤并: 关闭 " if zh else "close/merge: closing ")
                         + f"{len(cm['closed'])} / {cm['centres_assessed']}"
                         + (f": {('、' if zh else ', ').join(closed)}" if closed else ""))
            b, a = cm["before"], cm["after"]
            lines.append(f"  {'服务范围内老人' if zh else 'elders within the standard'}: "
                         f"{was_word} {b['covered_elders']:,} ({b['covered_share']:.1%}) → "
                         f"{now_word} {a['covered_elders']:,} ({a['covered_share']:.1%}); "
                         f"{'失去覆盖' if zh else 'losing coverage'} "
                         f"{cm['elders_losing_coverage']:,}"
                         + (f"; {'目标 ≥ ' if zh else 'target ≥ '}"
                            f"{math.ceil(cm['coverage_target'] * b['covered_elders'] - 1e-9):,}"
                            if cm.get("coverage_target") is not None else ""))
        ns = s["analyses"].get("new_sites")
        if ns:
            lines.append(("新增站点: " if zh else "new sites: ")
                         + f"{ns['n_new']} {KIND_LABELS[ns['kind']][lang]}, "
                         f"{was_word} {ns['before']['share']:.1%} → "
                         f"{now_word} {ns['after']['share']:.1%}")
            if ns["optimisation"]["status"] not in ("optimal", "time_limit"):
                lines.append(f"  {ns['optimisation']['status']}: {ns['optimisation']['message']}")
        lines.append(f"{'输出目录' if zh else 'output folder'}: {self.folder}")
        if self.folder.is_dir():
            for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
                lines.append(f"  {path.relative_to(self.folder).as_posix()}")
        return "\n".join(lines)


def _kind_order(kind: str) -> tuple[int, str]:
    return (FACILITY_KINDS.index(kind) if kind in FACILITY_KINDS else len(FACILITY_KINDS), kind)


def default_scenario() -> Scenario:
    """The scenario shipped with the package, run by ``elder-coverage demo``."""
    path = Path(str(resources.files("elder_coverage").joinpath("scenarios/demo.yaml")))
    from elder_coverage.scenario import load_scenario

    return load_scenario(path)


def only_analysis(scenario: Scenario, name: str) -> Scenario:
    """The same scenario with only one analysis (``coverage`` command)."""
    return dataclasses.replace(scenario, analyses={name: scenario.analyses.get(name, {})})


def run_scenario(scenario: Scenario | dict, out: str | Path, lang: str | None = None) -> RunOutput:
    """Run every analysis of a scenario and write the output folder.

    Parameters
    ----------
    scenario : Scenario or dict
        A validated scenario (or a dict, validated here).
    out : path-like
        Output folder: a new path, an empty folder, or a folder an earlier run wrote
        (replaced atomically when this run succeeds). Anything else is refused before
        any work starts: a run never deletes or overwrites what it did not write.
    lang : {"zh", "en"}, optional
        Labels of the map, report and printed summary (default: the scenario's).

    Returns
    -------
    RunOutput

    Raises
    ------
    OutputPathError
        When ``out`` is a file, a symbolic link, or a folder holding anything a run did not
        write.
    """
    if not isinstance(scenario, Scenario):
        scenario = parse_scenario(scenario)
    check_output_dir(out, kind="run", recognise=_legacy_run_files)
    seconds: dict[str, float] = {}
    with StageProgress("elder-coverage run", len(STAGES)) as progress, atomic_dir(
            out, kind="run", recognise=_legacy_run_files) as tmp:
        stage = _timer(progress, seconds)
        prep = stage("load", stages.load, scenario, lang)
        costs = stage("costs", stages.costs, prep)
        base = stage("coverage", stages.coverage, prep, costs)
        closure = stage("close_merge", stages.close_merge, prep, base)
        new = stage("new_sites", stages.new_sites, prep, closure, base)
        res = stage("tables", stages.tables, prep, base, closure, new)
        page = stage("map", stages.make_map, prep, res)
        report = stage("report", stages.make_report, prep, res)
        for name, plan in (("close_merge_solve", closure), ("new_sites_solve", new)):
            if plan is not None:
                seconds[name] = plan.plan.optimisation.get("seconds")
        stage("write", write_run, tmp, prep, res, page, report)
        log = {"version": __version__, "seconds": seconds}
        (tmp / "run_log.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    return RunOutput(folder=Path(out), summary=dict(res.summary))


def _timer(progress: StageProgress, seconds: dict[str, float]) -> Callable[..., Any]:
    """Call one stage: a stop requested (Ctrl-C, SIGTERM) ends the run between stages."""

    def stage(name: str, func: Callable[..., Any], *args: Any) -> Any:
        raise_if_stopped()
        progress.stage(name)
        t = time.perf_counter()
        out = func(*args)
        seconds[name] = round(time.perf_counter() - t, 3)
        return out

    return stage


def write_run(folder: Path, prep: stages.Prepared, res: stages.Results,
              page: folium.Map | None = None, report: str | None = None) -> None:
    """Write a run's results into ``folder``: every table, ``summary.json``, the cells, the
    map and the report under the scenario's output names, and the scenario file itself.

    The one place a run writes files; the stages only compute.
    """
    sc = prep.scenario
    # The cell file is most of the run's bytes (244 MB for the province) and GDAL writes it
    # without holding the GIL: it is written on a second thread while the tables, summary,
    # map and report are written here. Leaving the block waits for it, also on an error.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-cells") as pool:
        cells = pool.submit(_write_cells, folder / sc.outputs["geopackage"], res.base.cells,
                            res.final.cells)
        _write_files(folder, sc, res, page, report)
        cells.result()  # its error, if any, is the run's


def _write_files(folder: Path, sc: Scenario, res: stages.Results, page: folium.Map | None,
                 report: str | None) -> None:
    """Every file of a run but the cells: scenario copy, tables, summary, map and report."""
    if sc.source is not None:
        # The scenario as it was run, beside its results.
        shutil.copyfile(sc.source, folder / SCENARIO_COPY)
    for name, df in res.tables.items():
        _write_csv(df, folder / f"{name}.csv")
    (folder / "summary.json").write_text(
        json.dumps(res.summary, ensure_ascii=False, indent=2, sort_keys=True, default=_json),
        encoding="utf-8")
    if page is not None:
        from elder_coverage.maps import save_map

        _place(folder, sc.outputs["map"], lambda p: save_map(page, p))
    if report is not None:
        _place(folder, sc.outputs["report"],
               lambda p: p.write_text(report, encoding="utf-8"))


def _legacy_run_files(folder: Path) -> set[str] | None:
    """Files of a run folder written before runs left a marker, or None if it is not one.

    Recognised by ``summary.json`` (with ``elder_coverage_version`` and its ``outputs``) and
    ``run_log.json``; only the names a run writes count as its files.
    """
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outputs = summary.get("outputs") if isinstance(summary, dict) else None
    if (not isinstance(outputs, dict) or "elder_coverage_version" not in summary
            or not (folder / "run_log.json").is_file()):
        return None
    return set(RESERVED_OUTPUT_NAMES) | {str(v) for v in outputs.values()}


def _place(tmp: Path, name: str, write: Callable[[Path], Any]) -> None:
    target = tmp / name
    target.parent.mkdir(parents=True, exist_ok=True)
    write(target)


def _json(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


#: Table columns holding persons or cells: written as whole numbers. Elder counts from
#: WorldPop are fractional per cell, but a count of people is read, summed and quoted whole.
COUNT_COLUMNS = re.compile(r"^(n_\w+|elders_\d+|\w+_covered|\w+_uncovered|covered_elders|"
                           r"uncovered|served)$")


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write an output table: floats at full precision (shortest text that reads back to the
    same double; ``%.6g`` moved coordinates 30–45 m and printed 5.55116e+06), counts whole."""
    out = df.copy()
    for col in out.columns:
        if COUNT_COLUMNS.match(str(col)) and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round().astype("Int64")
    # A BOM so that Excel on Chinese-locale Windows opens the names as UTF-8, not GBK.
    out.to_csv(path, index=False, lineterminator="\n", encoding="utf-8-sig")


def _write_cells(path: Path, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> None:
    # Each cell once: after-values, ``<column>_before`` only where the plan changed them.
    from elder_coverage.io.cells_out import write_cells

    write_cells(path, before, after)
