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

from coverage import __version__
from coverage.aggregate import area_table, ranked_gaps
from coverage.close_merge import Criteria, plan_close_merge
from coverage.compare import FINAL_CELLS_LAYER
from coverage.engine import CoverageResult, compute_coverage, reach_matrix
from coverage.fairness import fairness_report
from coverage.io.atomic import atomic_dir
from coverage.new_sites import plan_new_sites
from coverage.scenario import Scenario, parse_scenario
from coverage.schema import KIND_LABELS
from coverage.standards import Standards, load_standards
from coverage.study import StudyData, load_sample, load_user_data, select_counties
from coverage.travel import RoadNetwork

STEPS = ("load", "coverage", "close_merge", "new_sites", "tables", "map", "report")


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
    path = Path(str(resources.files("coverage").joinpath("scenarios/demo.yaml")))
    from coverage.scenario import load_scenario

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
                               villages=scenario.villages)
    if scenario.sample is not None and scenario.roads == "straight_line":
        study = dataclasses.replace(study, graph=None)
    if scenario.counties:
        study = study.restrict(scenario.counties)
    return study


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
    from coverage.indicators import policy_indicators

    return policy_indicators(cov, facilities, townships=study.townships, seats=study.seats,
                             villages=study.villages, graph=net, standards=std)


def run_scenario(scenario: Scenario | dict, out: str | Path, lang: str | None = None) -> RunOutput:
    """Run every analysis of a scenario and write the output folder.

    Parameters
    ----------
    scenario : Scenario or dict
        A validated scenario (or a dict, validated here).
    out : path-like
        Output folder; replaced atomically when the run succeeds.
    lang : {"zh", "en"}, optional
        Labels of the map, report and printed summary (default: the scenario's).

    Returns
    -------
    RunOutput
    """
    if not isinstance(scenario, Scenario):
        scenario = parse_scenario(scenario)
    lang = lang or scenario.lang
    out = Path(out)
    log: dict[str, Any] = {"version": __version__, "seconds": {}}
    with _progress(len(STEPS)) as bar, atomic_dir(out) as tmp:
        import time

        t = time.perf_counter()
        bar.set_description("load")
        study = load_study(scenario)
        std = load_standards(overrides=scenario.standards or None)
        net = RoadNetwork(study.graph) if study.graph is not None else None
        facilities = study.facilities.copy()
        if "status" not in facilities:
            facilities["status"] = "open"
        facilities["status"] = facilities["status"].fillna("open")
        log["seconds"]["load"] = round(time.perf_counter() - t, 3)
        bar.update()

        t = time.perf_counter()
        bar.set_description("coverage")
        base = compute_coverage(study.cells, _open(facilities), net, std)
        log["seconds"]["coverage"] = round(time.perf_counter() - t, 3)
        bar.update()

        analyses: dict[str, Any] = {}
        tables: dict[str, pd.DataFrame] = {}
        merges = None
        new_sites = None
        t = time.perf_counter()
        if "close_merge" in scenario.analyses:
            bar.set_description("close/merge")
            p = scenario.analyses["close_merge"]
            county = p.get("county")
            codes = select_counties(study.counties, [county]) if county else None
            cells_in = study.cells if codes is None else study.cells[
                study.cells["county_code"].isin(codes)]
            fac_in = _open(facilities) if codes is None else _open(facilities)[
                _open(facilities)["county_code"].isin(codes)]
            crit = Criteria(**{k: p[k] for k in ("built_before", "min_occupancy",
                                                  "require_fire_safety") if k in p})
            plan = plan_close_merge(cells_in.reset_index(drop=True), fac_in.reset_index(drop=True),
                                    net, std, criteria=crit, close=p.get("close", "failing"),
                                    coverage_target=p.get("coverage_target", 1.0),
                                    max_distance_km=p.get("max_distance_km"),
                                    time_limit=p.get("time_limit_s", 60))
            facilities.loc[facilities["id"].isin(plan.closed), "status"] = "closed"
            merges = plan.merges
            tables["close_merge_assessment"] = plan.assessment
            tables["merges"] = plan.merges
            tables["lost_coverage"] = plan.lost_coverage
            analyses["close_merge"] = {
                "county": codes[0] if codes else None,
                "centres_assessed": int(len(plan.assessment)),
                "failing": plan.assessment.loc[plan.assessment["fails"], "id"].tolist(),
                "closed": plan.closed,
                "kept_needed": plan.assessment.loc[
                    plan.assessment["decision"] == "keep (needed)", "id"].tolist(),
                "before": plan.before, "after": plan.after,
                "residents_moved": int(plan.merges["residents_moved"].sum()),
                "elders_losing_coverage": int(round(plan.lost_coverage["elders_60"].sum())),
                "optimisation": {k: v for k, v in plan.optimisation.items() if k != "seconds"},
            }
            log["seconds"]["close_merge_solve"] = plan.optimisation.get("seconds")
        log["seconds"]["close_merge"] = round(time.perf_counter() - t, 3)
        bar.update()

        t = time.perf_counter()
        if "new_sites" in scenario.analyses:
            bar.set_description("new sites")
            p = scenario.analyses["new_sites"]
            study_ns = study.restrict([p["county"]]) if p.get("county") else study
            fac_ns = facilities if not p.get("county") else facilities[
                facilities["county_code"].isin(study_ns.counties["code"])]
            plan_ns = plan_new_sites(
                p["kind"], study_ns.cells, _open(fac_ns), net, std, seats=study_ns.seats,
                villages=study_ns.villages, measure=p.get("measure", "elders"),
                target=p.get("target", 1.0), max_new=p.get("max_new"),
                candidates=p.get("candidates", "both"), time_limit=p.get("time_limit_s", 60))
            new_sites = plan_ns.new_sites
            if len(new_sites):
                add = new_sites.assign(status="new", capacity=0, synthetic=False)
                facilities = gpd.GeoDataFrame(
                    pd.concat([facilities, add[[c for c in add.columns
                                                if c in facilities.columns or c == "status"]]],
                              ignore_index=True), crs=facilities.crs)
            tables["new_sites"] = pd.DataFrame(new_sites.drop(columns="geometry")).assign(
                lon=new_sites.to_crs(4326).geometry.x.round(6),
                lat=new_sites.to_crs(4326).geometry.y.round(6))
            analyses["new_sites"] = {
                "kind": p["kind"], "measure": plan_ns.measure, "n_new": int(len(new_sites)),
                "before": plan_ns.before, "after": plan_ns.after,
                "unreachable": [str(u) for u in plan_ns.unreachable],
                "optimisation": {k: v for k, v in plan_ns.optimisation.items()
                                 if k != "seconds"},
            }
            log["seconds"]["new_sites_solve"] = plan_ns.optimisation.get("seconds")
        log["seconds"]["new_sites"] = round(time.perf_counter() - t, 3)
        bar.update()

        t = time.perf_counter()
        bar.set_description("tables")
        changed = bool(analyses)
        final = compute_coverage(study.cells, _open(facilities), net, std) if changed else base
        facilities["covered_elders"] = 0
        open_mask = facilities["status"].isin(["open", "new"]).to_numpy()
        facilities.loc[open_mask, "covered_elders"] = _covered_elders_per_facility(
            final.cells, facilities[open_mask], net, std)
        names_t = dict(zip(study.townships["code"], study.townships["name"], strict=False)) \
            if study.townships is not None else None
        names_c = dict(zip(study.counties["code"], study.counties["name"], strict=True))
        tables["coverage_by_township"] = area_table(final, _open(facilities), level="township",
                                                    names=names_t)
        tables["coverage_by_county"] = area_table(final, _open(facilities), level="county",
                                                  names=names_c)
        tables["coverage_study_area"] = area_table(final, _open(facilities), level="study_area")
        tables["gaps"] = ranked_gaps(final, "dining_hall", villages=study.villages, top=100)
        indicators = _indicators(study, base, _open(study.facilities), net, std)
        tables["indicators"] = indicators
        if changed:
            indicators_final = _indicators(study, final, _open(facilities), net, std)
            tables["indicators_final"] = indicators_final
        else:
            indicators_final = indicators
        tables["unreachable"] = final.report.unreachable_table()
        fairness = {k: fairness_report(final, k) for k in final.report.kinds}
        tables["worst_served_townships"] = pd.concat(
            [f["worst"].assign(kind=k) for k, f in fairness.items()], ignore_index=True)
        fac_table = pd.DataFrame(facilities.drop(columns="geometry"))
        ll = facilities.to_crs(4326).geometry
        fac_table["lon"], fac_table["lat"] = ll.x.round(6), ll.y.round(6)
        tables["facilities"] = fac_table.sort_values("id", kind="stable")
        summary = {
            "scenario": scenario.name,
            "description": scenario.description,
            "elder_coverage_version": __version__,
            "lang": lang,
            "synthetic": bool(study.meta.get("synthetic", False)),
            "study_area": {"counties": sorted(study.counties["code"].tolist()),
                           "crs": study.crs.to_string()},
            "elders_total": int(round(final.cells["elders_60"].sum())),
            "elders_65": int(round(final.cells.get("elders_65", pd.Series([0])).sum())),
            "elders_80": int(round(final.cells.get("elders_80", pd.Series([0])).sum())),
            "kinds": _kind_summary(final),
            "kinds_before": _kind_summary(base) if changed else None,
            "indicators": _records(indicators_final),
            "indicators_before": _records(indicators) if changed else None,
            "analyses": analyses,
            "fairness": {k: {key: v for key, v in f.items() if key not in ("worst", "kind")}
                         for k, f in fairness.items()},
            "outputs": dict(scenario.outputs),
            "notes": final.report.messages,
        }
        for name, df in tables.items():
            _write_csv(df, tmp / f"{name}.csv")
        (tmp / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True, default=_json),
            encoding="utf-8")
        _write_cells(tmp / scenario.outputs["geopackage"], base.cells, final.cells)
        log["seconds"]["tables"] = round(time.perf_counter() - t, 3)
        bar.update()

        t = time.perf_counter()
        bar.set_description("map")
        from coverage.maps import coverage_map, save_map

        closed = analyses.get("close_merge", {}).get("closed", [])
        # Closed centres stay in the layer so the map can draw them and their merge lines.
        shown = facilities[facilities["status"] != "new"]
        m = coverage_map(study.counties, study.townships, final.cells, shown, standards=std,
                         merges=merges, closed_ids=closed,
                         new_sites=new_sites, lang=lang, cell_size_m=study.cell_size_m,
                         title=scenario.name,
                         isochrones=_isochrones(facilities, net, std))
        _place(tmp, scenario.outputs["map"], lambda p: save_map(m, p))
        log["seconds"]["map"] = round(time.perf_counter() - t, 3)
        bar.update()

        t = time.perf_counter()
        bar.set_description("report")
        from coverage.report import write_report

        _place(tmp, scenario.outputs["report"], lambda p: write_report(
            p, summary=summary, indicators=indicators_final,
            counties_table=tables["coverage_by_county"],
            townships_table=tables["coverage_by_township"], merges=merges,
            new_sites=tables.get("new_sites"), lang=lang, title=scenario.name))
        log["seconds"]["report"] = round(time.perf_counter() - t, 3)
        bar.update()
        (tmp / "run_log.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    return RunOutput(folder=out, summary=summary)


def _isochrones(facilities, net, std):
    if net is None:
        return None
    from coverage.isochrones import service_area_isochrones

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


