"""Run a validated scenario end to end and write its output folder.

load → demand → travel costs → coverage → optimise → map/report, in that order. The output
folder is written in a temporary sibling and renamed into place only when everything
succeeded, so a failed run leaves nothing behind. Tables are sorted and rounded so that the
same inputs give byte-identical files; solver timings go to ``run_log.json`` only.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from elder_coverage import __version__
from elder_coverage._errors import SettingsError
from elder_coverage.aggregate import area_table, ranked_gaps
from elder_coverage.close_merge import Criteria, plan_close_merge
from elder_coverage.compare import FINAL_CELLS_LAYER
from elder_coverage.engine import CoverageResult, compute_coverage, reach_matrix
from elder_coverage.fairness import fairness_report
from elder_coverage.io.atomic import atomic_dir, check_output_dir, raise_if_stopped
from elder_coverage.new_sites import plan_new_sites
from elder_coverage.scenario import (
    RESERVED_OUTPUT_NAMES,
    RUN_TABLES,
    Scenario,
    ScenarioError,
    parse_scenario,
)
from elder_coverage.schema import KIND_LABELS
from elder_coverage.standards import Standards, load_standards
from elder_coverage.study import StudyData, load_sample, load_user_data, select_counties
from elder_coverage.travel import RoadNetwork


@dataclass
class RunOutput:
    """What a run wrote: the folder and its ``summary.json`` content."""

    folder: Path
    summary: dict[str, Any]

    def describe(self, lang: str = "zh") -> str:
        """A few lines for the terminal: headline figures and where the files are."""
        s = self.summary
        zh = lang == "zh"
        lines = [f"{'情景' if zh else 'scenario'}: {s['scenario']}",
                 f"{'60岁及以上老年人' if zh else 'elders aged 60+'}: {s['elders_total']:,}"]
        for kind, k in s["kinds"].items():
            label = KIND_LABELS[kind][lang]
            lines.append(f"  {label}: {k['covered_elders']:,} ({k['covered_share']:.1%})")
        before = {(i["indicator"], i.get("year")): i for i in s.get("indicators_before") or []}
        lines.append("政策指标（现状 → 方案后 / 目标）:" if zh and before else
                     "政策指标（值 / 目标）:" if zh else
                     "policy indicators (now → after the plan / target):" if before else
                     "policy indicators (value / target):")
        for ind in s.get("indicators", []):
            if ind.get("value") is None:
                continue
            label = ind.get(f"label_{lang}", ind["indicator"])
            year = f" ({ind['year']})" if ind.get("year") else ""
            target = "" if ind.get("target") is None else f" / {ind['target']:.3g}"
            was = before.get((ind["indicator"], ind.get("year")), {}).get("value")
            now = f"{was:.3g} → {ind['value']:.3g}" if was is not None else f"{ind['value']:.3g}"
            lines.append(f"  {label}{year}: {now}{target}")
        cm = s["analyses"].get("close_merge")
        if cm:
            lines.append(("撤并: 关闭 " if zh else "close/merge: closing ")
                         + f"{len(cm['closed'])} / {cm['centres_assessed']}"
                         + (f" ({', '.join(cm['closed'])})" if cm["closed"] else ""))
        ns = s["analyses"].get("new_sites")
        if ns:
            lines.append(("新增站点: " if zh else "new sites: ")
                         + f"{ns['n_new']} {KIND_LABELS[ns['kind']][lang]} → "
                         f"{ns['after']['share']:.1%}")
            if ns["optimisation"]["status"] not in ("optimal", "time_limit"):
                lines.append(f"  {ns['optimisation']['status']}: {ns['optimisation']['message']}")
        lines.append(f"{'输出目录' if zh else 'output folder'}: {self.folder}")
        for name in ("map", "report"):
            if name in s["outputs"]:
                lines.append(f"  {s['outputs'][name]}")
        return "\n".join(lines)


def default_scenario() -> Scenario:
    """The scenario shipped with the package, run by ``elder-coverage demo``."""
    path = Path(str(resources.files("elder_coverage").joinpath("scenarios/demo.yaml")))
    from elder_coverage.scenario import load_scenario

    return load_scenario(path)


def only_analysis(scenario: Scenario, name: str) -> Scenario:
    """The same scenario with only one analysis (``coverage`` command)."""
    return dataclasses.replace(scenario, analyses={name: scenario.analyses.get(name, {})})


def load_study(scenario: Scenario) -> StudyData:
    """Every input layer of a scenario, from the sample or the planner's files."""
    if scenario.sample is not None:
        study = load_sample(area=scenario.sample)
    else:
        roads = None if scenario.roads == "straight_line" else scenario.roads
        study = load_user_data(scenario.boundary, scenario.population, scenario.facilities,
                               roads=roads, townships=scenario.townships,
                               villages=scenario.villages, source_crs=scenario.source_crs)
    if scenario.sample is not None and scenario.roads == "straight_line":
        study = dataclasses.replace(study, graph=None)
    if scenario.counties:
        with _scenario_key(scenario, "study_area.counties"):
            study = study.restrict(scenario.counties)
    return study


@contextmanager
def _scenario_key(scenario: Scenario, key: str) -> Iterator[None]:
    """Name the scenario key whose value the data rejected (a county not in the study area)."""
    try:
        yield
    except SettingsError as exc:
        where = f"{scenario.source}: " if scenario.source else ""
        raise ScenarioError(f"{where}{key}: {exc}") from None


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    # A bar on a terminal; silent in CI and logs.
    bar = tqdm(total=total, disable=not sys.stderr.isatty(), leave=False, unit="step")
    try:
        yield bar
    finally:
        bar.close()


def _open(fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "status" not in fac:
        return fac
    return fac[fac["status"].fillna("open").isin(["open", "new"])]


def _covered_elders_per_facility(cells, facilities, net, std: Standards) -> np.ndarray:
    """Elders (60+) within each facility's standard (overlaps counted for each facility)."""
    out = np.zeros(len(facilities))
    weights = cells["elders_60"].to_numpy(float)
    for kind in sorted(set(facilities["kind"])):
        cols = np.flatnonzero(facilities["kind"].to_numpy() == kind)
        sub = facilities.iloc[cols]
        pattern = reach_matrix(cells, sub, net, std, kind=kind).tocsc()
        # Explicit zeros are real zero-minute pairs: use the sparsity pattern, not the values.
        pattern.data = np.ones_like(pattern.data)
        out[cols] = pattern.T @ weights
    return np.round(out).astype(int)


def _kind_summary(cov: CoverageResult) -> dict[str, dict[str, Any]]:
    cells = cov.cells
    elders = cells["elders_60"].to_numpy(float)
    total = float(elders.sum())
    out = {}
    for kind in cov.report.kinds:
        covered = cells[f"{kind}_covered"].fillna(False).to_numpy(bool)
        reach = cells[f"{kind}_reachable"].fillna(False).to_numpy(bool)
        out[kind] = {
            "covered_elders": int(round(elders[covered].sum())),
            "covered_share": round(float(elders[covered].sum() / total), 6) if total else 0.0,
            "uncovered_elders": int(round(elders[~covered].sum())),
            "unreachable_elders": int(round(elders[~reach].sum())),
            "network": bool(cov.used_network.get(kind, False)),
        }
    return out


def _indicators(study: StudyData, cov: CoverageResult, facilities, net, std) -> pd.DataFrame:
    from elder_coverage.indicators import policy_indicators

    return policy_indicators(cov, facilities, townships=study.townships, seats=study.seats,
                             villages=study.villages, graph=net, standards=std)


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
    run = _Run(scenario, lang or scenario.lang)
    steps = [run.load, run.coverage, run.close_merge, run.new_sites, run.tables, run.map,
             run.report]
    with _progress(len(steps)) as bar, atomic_dir(
            out, kind="run", recognise=_legacy_run_files) as tmp:
        run.folder = tmp
        for step in steps:
            raise_if_stopped()
            bar.set_description(step.__name__)
            t = time.perf_counter()
            step()
            run.log["seconds"][step.__name__] = round(time.perf_counter() - t, 3)
            bar.update()
        (tmp / "run_log.json").write_text(json.dumps(run.log, indent=2), encoding="utf-8")
    return RunOutput(folder=Path(out), summary=run.summary)


class _Run:
    """One scenario run, step by step; each method is one stage of the pipeline."""

    def __init__(self, scenario: Scenario, lang: str) -> None:
        self.scenario = scenario
        self.lang = lang
        self.folder: Path = Path()
        self.log: dict[str, Any] = {"version": __version__, "seconds": {}}
        self.analyses: dict[str, Any] = {}
        self._tables: dict[str, pd.DataFrame] = {}
        self.merges: pd.DataFrame | None = None
        self.new_site_points: gpd.GeoDataFrame | None = None
        self.summary: dict[str, Any] = {}

    def load(self) -> None:
        self.study = load_study(self.scenario)
        self.std = load_standards(overrides=self.scenario.standards or None)
        self.net = RoadNetwork(self.study.graph) if self.study.graph is not None else None
        fac = self.study.facilities.copy()
        fac["status"] = fac["status"].fillna("open") if "status" in fac else "open"
        self.facilities = fac

    def coverage(self) -> None:
        self.base = compute_coverage(self.study.cells, _open(self.facilities), self.net, self.std)

    def close_merge(self) -> None:
        p = self.scenario.analyses.get("close_merge")
        if p is None:
            return
        study = self.study
        with _scenario_key(self.scenario, "analyses.close_merge.county"):
            codes = (select_counties(study.counties, [p["county"]]) if p.get("county")
                     else None)
        cells, fac = study.cells, _open(self.facilities)
        if codes is not None:
            cells = cells[cells["county_code"].isin(codes)]
            fac = fac[fac["county_code"].isin(codes)]
        crit = Criteria(**{k: p[k] for k in ("built_before", "min_occupancy",
                                              "require_fire_safety") if k in p})
        plan = plan_close_merge(cells.reset_index(drop=True), fac.reset_index(drop=True),
                                self.net, self.std, criteria=crit, close=p.get("close", "failing"),
                                coverage_target=p.get("coverage_target", 1.0),
                                max_distance_km=p.get("max_distance_km"),
                                time_limit=p.get("time_limit_s", 60))
        self.facilities.loc[self.facilities["id"].isin(plan.closed), "status"] = "closed"
        self.merges = plan.merges
        self._tables.update(close_merge_assessment=plan.assessment, merges=plan.merges,
                           lost_coverage=plan.lost_coverage)
        a = plan.assessment
        self.analyses["close_merge"] = {
            "county": codes[0] if codes else None,
            "centres_assessed": int(len(a)),
            "failing": a.loc[a["fails"], "id"].tolist(),
            "closed": plan.closed,
            "kept_needed": a.loc[a["decision"] == "keep (needed)", "id"].tolist(),
            "before": plan.before, "after": plan.after,
            "residents_moved": int(plan.merges["residents_moved"].sum()),
            "elders_losing_coverage": int(round(plan.lost_coverage["elders_60"].sum())),
            "optimisation": {k: v for k, v in plan.optimisation.items() if k != "seconds"},
        }
        self.log["seconds"]["close_merge_solve"] = plan.optimisation.get("seconds")

    def new_sites(self) -> None:
        p = self.scenario.analyses.get("new_sites")
        if p is None:
            return
        with _scenario_key(self.scenario, "analyses.new_sites.county"):
            study = self.study.restrict([p["county"]]) if p.get("county") else self.study
        fac = self.facilities
        if p.get("county"):
            fac = fac[fac["county_code"].isin(study.counties["code"])]
        plan = plan_new_sites(
            p["kind"], study.cells, _open(fac), self.net, self.std, seats=study.seats,
            villages=study.villages, measure=p.get("measure", "elders"),
            target=p.get("target", 1.0), max_new=p.get("max_new"),
            candidates=p.get("candidates", "both"), time_limit=p.get("time_limit_s", 60))
        new = plan.new_sites
        self.new_site_points = new
        if len(new):
            add = new.assign(status="new", capacity=0, synthetic=False)
            keep = [c for c in add.columns if c in self.facilities.columns]
            self.facilities = gpd.GeoDataFrame(
                pd.concat([self.facilities, add[keep]], ignore_index=True),
                crs=self.facilities.crs)
        ll = new.to_crs(4326).geometry
        self._tables["new_sites"] = pd.DataFrame(new.drop(columns="geometry")).assign(
            lon=ll.x.round(6), lat=ll.y.round(6))
        self.analyses["new_sites"] = {
            "kind": p["kind"], "measure": plan.measure, "n_new": int(len(new)),
            "before": plan.before, "after": plan.after,
            "unreachable": [str(u) for u in plan.unreachable],
            "optimisation": {k: v for k, v in plan.optimisation.items() if k != "seconds"},
        }
        self.log["seconds"]["new_sites_solve"] = plan.optimisation.get("seconds")

    def tables(self) -> None:
        study, std, net = self.study, self.std, self.net
        changed = bool(self.analyses)
        final = compute_coverage(study.cells, _open(self.facilities), net, std) if changed \
            else self.base
        self.final = final
        fac = self.facilities
        fac["covered_elders"] = 0
        open_mask = fac["status"].isin(["open", "new"]).to_numpy()
        fac.loc[open_mask, "covered_elders"] = _covered_elders_per_facility(
            final.cells, fac[open_mask], net, std)
        access = self._access(final, fac[open_mask])
        names_t = (dict(zip(study.townships["code"], study.townships["name"], strict=False))
                   if study.townships is not None else None)
        names_c = dict(zip(study.counties["code"], study.counties["name"], strict=True))
        t = self._tables
        t["coverage_by_township"] = area_table(final, _open(fac), level="township", names=names_t)
        t["coverage_by_county"] = area_table(final, _open(fac), level="county", names=names_c)
        t["coverage_study_area"] = area_table(final, _open(fac), level="study_area")
        t["gaps"] = ranked_gaps(final, "dining_hall", villages=study.villages, top=100)
        indicators = _indicators(study, self.base, _open(study.facilities), net, std)
        t["indicators"] = indicators
        self.indicators = indicators
        if changed:
            self.indicators = t["indicators_final"] = _indicators(study, final, _open(fac), net,
                                                                  std)
        t["unreachable"] = final.report.unreachable_table()
        fairness = {k: fairness_report(final, k) for k in final.report.kinds}
        t["worst_served_townships"] = pd.concat(
            [f["worst"].assign(kind=k) for k, f in fairness.items()], ignore_index=True)
        fac_table = pd.DataFrame(fac.drop(columns="geometry"))
        ll = fac.to_crs(4326).geometry
        fac_table["lon"], fac_table["lat"] = ll.x.round(6), ll.y.round(6)
        t["facilities"] = fac_table.sort_values("id", kind="stable")
        sc = self.scenario
        self.summary = {
            "scenario": sc.name,
            "description": sc.description,
            "elder_coverage_version": __version__,
            "lang": self.lang,
            "synthetic": bool(study.meta.get("synthetic", False)),
            "study_area": {"counties": sorted(study.counties["code"].tolist()),
                           "crs": study.crs.to_string()},
            "elders_total": int(round(final.cells["elders_60"].sum())),
            "elders_65": int(round(final.cells.get("elders_65", pd.Series([0])).sum())),
            "elders_80": int(round(final.cells.get("elders_80", pd.Series([0])).sum())),
            "kinds": _kind_summary(final),
            "kinds_before": _kind_summary(self.base) if changed else None,
            "indicators": _records(self.indicators),
            "indicators_before": _records(indicators) if changed else None,
            "analyses": self.analyses,
            "fairness": {k: {key: v for key, v in f.items() if key not in ("worst", "kind")}
                         for k, f in fairness.items()},
            "access_places_per_1000": access,
            "outputs": dict(sc.outputs),
            "notes": final.report.messages,
        }
        unlisted = set(t) - set(RUN_TABLES)
        if unlisted:  # a bug: scenario validation could not protect these names
            raise RuntimeError(f"tables missing from scenario.RUN_TABLES: {sorted(unlisted)}")
        for name, df in t.items():
            _write_csv(df, self.folder / f"{name}.csv")
        (self.folder / "summary.json").write_text(
            json.dumps(self.summary, ensure_ascii=False, indent=2, sort_keys=True, default=_json),
            encoding="utf-8")
        _write_cells(self.folder / sc.outputs["geopackage"], self.base.cells, final.cells)

    def _access(self, final: CoverageResult, open_fac: gpd.GeoDataFrame) -> dict[str, float]:
        """E2SFCA per kind: places per 1,000 elders on each cell and load on each facility.

        Adds ``<kind>_places_per_1000`` to the final cells and ``elders_per_place`` to the
        facilities; returns the elder-weighted mean access of the study area per kind.
        """
        from elder_coverage.access import access_table

        out = {}
        elders = final.cells["elders_60"].to_numpy(float)
        for kind in final.report.kinds:
            if not (open_fac["kind"] == kind).any():
                continue
            res = access_table(final.cells, open_fac, kind, self.net, self.std)
            col = f"{kind}_places_per_1000"
            final.cells[col] = res.cells[col].to_numpy()
            load = dict(zip(res.facilities["id"], res.facilities["elders_per_place"],
                            strict=True))
            sel = self.facilities["kind"] == kind
            self.facilities.loc[sel, "elders_per_place"] = (
                self.facilities.loc[sel, "id"].map(load).astype(float).round(3))
            out[kind] = round(float(np.average(final.cells[col].fillna(0), weights=elders)), 4) \
                if elders.sum() else 0.0
        return out

    def map(self) -> None:
        from elder_coverage.maps import coverage_map, save_map

        closed = self.analyses.get("close_merge", {}).get("closed", [])
        # Closed centres stay in the layer so the map can draw them and their merge lines.
        shown = self.facilities[self.facilities["status"] != "new"]
        study = self.study
        m = coverage_map(study.counties, study.townships, self.final.cells, shown,
                         standards=self.std, merges=self.merges, closed_ids=closed,
                         new_sites=self.new_site_points, lang=self.lang,
                         cell_size_m=study.cell_size_m, title=self.scenario.name,
                         isochrones=_isochrones(self.facilities, self.net, self.std))
        _place(self.folder, self.scenario.outputs["map"], lambda p: save_map(m, p))

    def report(self) -> None:
        from elder_coverage.report import write_report

        t = self._tables
        _place(self.folder, self.scenario.outputs["report"], lambda p: write_report(
            p, summary=self.summary, indicators=self.indicators,
            counties_table=t["coverage_by_county"], townships_table=t["coverage_by_township"],
            merges=self.merges, new_sites=t.get("new_sites"), lang=self.lang,
            title=self.scenario.name))


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


def _isochrones(facilities, net, std):
    if net is None:
        return None
    from elder_coverage.isochrones import service_area_isochrones

    return service_area_isochrones(_open(facilities), net, std)


def _place(tmp: Path, name: str, write) -> None:
    target = tmp / name
    target.parent.mkdir(parents=True, exist_ok=True)
    write(target)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", force_ascii=False, double_precision=10))


def _json(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def _write_cells(path: Path, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> None:
    import pyogrio

    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-11-01T00:00:00Z"})
    for layer, df in (("cells", before), (FINAL_CELLS_LAYER, after)):
        out = df.copy()
        for col in out.columns:
            if str(out[col].dtype) == "boolean":
                out[col] = out[col].astype(object).where(out[col].notna(), None)
        out.to_file(path, layer=layer, driver="GPKG")


