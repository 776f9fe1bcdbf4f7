"""Run a validated scenario end to end and write its output folder.

load → demand → travel costs → coverage → optimise → map/report, in that order. The output
folder is written in a temporary sibling and renamed into place only when everything
succeeded, so a failed run leaves nothing behind. Tables are sorted and rounded so that the
same inputs give byte-identical files; solver timings go to ``run_log.json`` only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
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

from elder_coverage import __version__
from elder_coverage._errors import SettingsError
from elder_coverage.aggregate import area_table, ranked_gaps
from elder_coverage.close_merge import Criteria, plan_close_merge
from elder_coverage.engine import CoverageResult, compute_coverage, reach_matrix
from elder_coverage.fairness import fairness_report
from elder_coverage.io.atomic import atomic_dir, check_output_dir, raise_if_stopped
from elder_coverage.new_sites import plan_new_sites
from elder_coverage.progress import StageProgress
from elder_coverage.record import coordinate_notes, run_record
from elder_coverage.scenario import (
    RESERVED_OUTPUT_NAMES,
    RUN_TABLES,
    Scenario,
    ScenarioError,
    parse_scenario,
)
from elder_coverage.schema import FACILITY_KINDS, KIND_LABELS
from elder_coverage.standards import Standards, load_standards
from elder_coverage.study import (
    StudyData,
    load_sample,
    load_user_data,
    read_own_facilities,
    read_village_points,
    select_counties,
)
from elder_coverage.travel import RoadNetwork

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


def load_study(scenario: Scenario) -> StudyData:
    """Every input layer of a scenario, from the sample or the planner's files."""
    opts = scenario.read_options
    if scenario.sample is not None:
        study = load_sample(area=scenario.sample)
        # The planner's own facility list or villages on the sample's area and population.
        if scenario.facilities is not None:
            study = dataclasses.replace(study, facilities=read_own_facilities(
                scenario.facilities, crs=study.crs, counties=study.counties,
                townships=study.townships, **opts.get("facilities", {})))
        if scenario.villages is not None:
            study = dataclasses.replace(study, villages=read_village_points(
                scenario.villages, crs=study.crs, counties=study.counties,
                townships=study.townships, **opts.get("villages", {})))
    else:
        roads = None if scenario.roads == "straight_line" else scenario.roads
        study = load_user_data(scenario.boundary, scenario.population, scenario.facilities,
                               roads=roads, townships=scenario.townships,
                               villages=scenario.villages, seats=scenario.seats,
                               options=scenario.read_options)
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


def _kind_summary(cov: CoverageResult, age_floor: int = 60) -> dict[str, dict[str, Any]]:
    """Covered, covered-twice, uncovered and unreachable elders (60+) per kind.

    ``covered_twice_elders`` counts elders within the standard of two or more facilities of
    the kind (backup coverage, Hogan & ReVelle 1986: a centre that closes or is full still
    leaves them served); it is left out when the run did not count facilities within reach.
    With ``age_floor`` 65 or 80 (``analyses.coverage.age_floor``) the covered count and share
    of that age group are added as ``covered_elders_<floor>`` / ``covered_share_<floor>``.
    """
    cells = cov.cells
    elders = cells["elders_60"].to_numpy(float)
    total = float(elders.sum())
    older = cells[f"elders_{age_floor}"].to_numpy(float) if age_floor != 60 else None
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
        n_within = cells[f"{kind}_n_within"]
        if n_within.notna().any():
            twice = n_within.fillna(0).to_numpy(dtype=float) >= 2
            out[kind]["covered_twice_elders"] = int(round(elders[twice].sum()))
            out[kind]["covered_twice_share"] = (
                round(float(elders[twice].sum() / total), 6) if total else 0.0)
        if older is not None:
            n_old = float(older.sum())
            out[kind][f"covered_elders_{age_floor}"] = int(round(older[covered].sum()))
            out[kind][f"covered_share_{age_floor}"] = (
                round(float(older[covered].sum() / n_old), 6) if n_old else 0.0)
    return out


def _indicators(study: StudyData, cov: CoverageResult, facilities, net, std, *,
                demand_year: int = 2020, cells_2020: pd.DataFrame | None = None) -> pd.DataFrame:
    """Policy indicators, each judged on the elders of its own target year.

    Rows without a year (descriptive figures) use the run's ``demand_year``. A row for 2025 or
    2029 is computed again on the cells rescaled to that year's projected elders (and the
    villages' elders scaled by their county's ratio), so that a 2029 target is judged on the
    elders of 2029 (``demand_year`` column). Where no projection exists (own data outside
    Jilin) the run's elders are used and the note says so.
    """
    from elder_coverage.indicators import policy_indicators

    def compute(c: CoverageResult, villages) -> pd.DataFrame:
        return policy_indicators(c, facilities, townships=study.townships, seats=study.seats,
                                 villages=villages, counties=study.counties, graph=net,
                                 standards=std)

    base = compute(cov, study.villages)
    base["demand_year"] = demand_year
    years = sorted({int(y) for y in base["year"].dropna()} - {demand_year})
    if cells_2020 is None or not years:
        return base
    from elder_coverage.demand import elders_for_year, rescale_cells

    cols = ("elders_60", "elders_65", "elders_80")
    for year in years:
        rows = (base["year"] == year).fillna(False).to_numpy(dtype=bool)
        try:
            scaled = rescale_cells(cells_2020, year)
            codes = sorted(set(cells_2020["county_code"].astype(str)))
            ratio = (elders_for_year(year, counties=codes)["age60"]
                     / elders_for_year(2020, counties=codes)["age60"])
        except (ValueError, KeyError):
            base.loc[rows, "note"] = [_join_note(n, f"judged on the elders of {demand_year}: "
                                                  f"no projection to {year} for these counties")
                                      for n in base.loc[rows, "note"]]
            continue
        cells = cov.cells.copy()
        for c in cols:
            if c in cells and c in scaled:
                cells[c] = scaled.loc[cells.index, c].to_numpy()
        villages = study.villages
        if villages is not None and "elders_60" in villages and "county_code" in villages:
            villages = villages.copy()
            f = villages["county_code"].astype(str).map(ratio).fillna(1.0).to_numpy()
            villages["elders_60"] = np.round(villages["elders_60"].to_numpy(float) * f)
        again = compute(dataclasses.replace(cov, cells=cells), villages)
        if not (again["indicator"].tolist() == base["indicator"].tolist()
                and again["year"].equals(base["year"])):
            raise RuntimeError("indicator rows differ between demand years")  # a bug
        for c in again.columns:
            if c in base.columns:
                base.loc[rows, c] = again.loc[rows, c].to_numpy()
        base.loc[rows, "demand_year"] = year
    return base


def _join_note(note: Any, extra: str) -> str:
    return extra if note is None or (isinstance(note, float) and math.isnan(note)) or not note \
        else f"{note}; {extra}"


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
    with StageProgress("elder-coverage run", len(steps)) as progress, atomic_dir(
            out, kind="run", recognise=_legacy_run_files) as tmp:
        run.folder = tmp
        for step in steps:
            raise_if_stopped()
            progress.stage(step.__name__)
            t = time.perf_counter()
            step()
            run.log["seconds"][step.__name__] = round(time.perf_counter() - t, 3)
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
        self.demand()
        floor = int(self.scenario.analyses.get("coverage", {}).get("age_floor", 60))
        if f"elders_{floor}" not in self.study.cells:
            raise ScenarioError(f"analyses.coverage.age_floor: {floor} needs a population "
                                f"column 'elders_{floor}', which the study's cells do not have")
        self.std = load_standards(overrides=self.scenario.standards or None)
        self.net = RoadNetwork(self.study.graph) if self.study.graph is not None else None
        fac = self.study.facilities.copy()
        fac["status"] = fac["status"].fillna("open") if "status" in fac else "open"
        self.facilities = fac
        self.record = run_record(self.scenario, self.study, self.std)
        if self.scenario.source is not None:
            # The scenario as it was run, beside its results.
            shutil.copyfile(self.scenario.source, self.folder / SCENARIO_COPY)

    def demand(self) -> None:
        """Elders of the scenario's ``demand_year``: the grid rescaled per county and age group."""
        from elder_coverage.demand import elders_by_year, projection_notes, rescale_cells

        year = self.scenario.demand_year
        # The census-year cells: each indicator is judged again on its own target year's elders.
        self.cells_2020 = self.study.cells
        self.demand_info = {"year": year, "notes": projection_notes(year),
                            "elders_by_year": elders_by_year(
                                sorted(self.study.cells["county_code"].astype(str).unique()))}
        if year != 2020:
            self.study = dataclasses.replace(self.study,
                                             cells=rescale_cells(self.study.cells, year))

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
        self._tables.update(close_merge_assessment=_localized_reasons(plan.assessment, self.lang),
                            merges=plan.merges, lost_coverage=plan.lost_coverage)
        a = plan.assessment
        self.analyses["close_merge"] = {
            "county": codes[0] if codes else None,
            "centres_assessed": int(len(a)),
            "failing": a.loc[a["fails"], "id"].tolist(),
            "closed": plan.closed,
            "kept_needed": a.loc[a["decision"] == "keep (needed)", "id"].tolist(),
            "kind": "township_centre",
            "coverage_target": p.get("coverage_target", 1.0),
            "before": plan.before, "after": plan.after,
            "residents_moved": int(plan.merges["residents_moved"].sum()),
            "elders_losing_coverage": int(round(plan.lost_coverage["elders_60"].sum())),
            "closed_centres": _closed_centres(plan),
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
            candidates=p.get("candidates", "both"), time_limit=p.get("time_limit_s", 60),
            model=p.get("model"), new_capacity=p.get("new_capacity"))
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
        if changed:
            # Before and after side by side: a closed centre served elders before it closed.
            was_open = fac["status"].isin(["open", "closed"]).to_numpy()
            fac["covered_elders_before"] = pd.array([pd.NA] * len(fac), dtype="Int64")
            fac.loc[was_open, "covered_elders_before"] = _covered_elders_per_facility(
                self.base.cells, fac[was_open], net, std)
        access = self._access(final, fac[open_mask])
        names_t = (dict(zip(study.townships["code"], study.townships["name"], strict=False))
                   if study.townships is not None else None)
        names_c = dict(zip(study.counties["code"], study.counties["name"], strict=True))
        t = self._tables
        t["coverage_by_township"] = area_table(final, _open(fac), level="township", names=names_t)
        t["coverage_by_county"] = area_table(final, _open(fac), level="county", names=names_c)
        t["coverage_study_area"] = area_table(final, _open(fac), level="study_area")
        t["gaps"] = _gaps_table(final, study, names_t, names_c)
        by_year = {"demand_year": self.scenario.demand_year, "cells_2020": self.cells_2020}
        indicators = _indicators(study, self.base, _open(study.facilities), net, std, **by_year)
        t["indicators"] = indicators
        self.indicators = indicators
        if changed:
            self.indicators = t["indicators_final"] = _indicators(study, final, _open(fac), net,
                                                                  std, **by_year)
        t["unreachable"] = _locate_cells(final.report.unreachable_table(), final.cells, study,
                                         names_t, names_c)
        if "lost_coverage" in t:
            t["lost_coverage"] = _locate_cells(t["lost_coverage"], self.base.cells, study,
                                               names_t, names_c)
        fairness = {k: fairness_report(final, k) for k in final.report.kinds}
        t["worst_served_townships"] = _worst_table(fairness, study, names_t, names_c)
        fac_table = pd.DataFrame(fac.drop(columns="geometry"))
        ll = fac.to_crs(4326).geometry
        fac_table["lon"], fac_table["lat"] = ll.x.round(6), ll.y.round(6)
        t["facilities"] = fac_table.sort_values("id", kind="stable")
        sc = self.scenario
        floor = int(sc.analyses.get("coverage", {}).get("age_floor", 60))
        self.summary = {
            "scenario": sc.name,
            "description": sc.description,
            "elder_coverage_version": __version__,
            "lang": self.lang,
            "synthetic": bool(study.meta.get("synthetic", False)),
            "study_area": {"counties": sorted(study.counties["code"].tolist()),
                           "crs": study.crs.to_string()},
            "demand_year": sc.demand_year,
            "demand": self.demand_info,
            "elders_total": int(round(final.cells["elders_60"].sum())),
            "elders_65": int(round(final.cells.get("elders_65", pd.Series([0])).sum())),
            "elders_80": int(round(final.cells.get("elders_80", pd.Series([0])).sum())),
            "age_floor": floor,
            "kinds": _kind_summary(final, floor),
            "kinds_before": _kind_summary(self.base, floor) if changed else None,
            "indicators": _records(self.indicators),
            "indicators_before": _records(indicators) if changed else None,
            "analyses": self.analyses,
            "fairness": {k: {key: v for key, v in f.items() if key not in ("worst", "kind")}
                         for k, f in fairness.items()},
            "access_places_per_1000": access,
            "outputs": dict(sc.outputs),
            # What the readers assumed or repaired comes first: it qualifies every figure.
            "notes": [*study.meta.get("notes", []), *final.report.messages,
                      *self.demand_info["notes"], *coordinate_notes(self.record)],
            "run_record": self.record,
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
                         cell_size_m=study.cell_size_m,
                         title=self.scenario.description or self.scenario.name,
                         isochrones=_isochrones(self.facilities, self.net, self.std),
                         roads=study.graph, places=study.villages,
                         synthetic=bool(self.summary.get("synthetic")))
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


def _closed_centres(plan) -> list[dict[str, Any]]:
    """Per closed centre: covered elders whose nearest centre it was, still covered, lost."""
    kind = "township_centre"
    before, after = plan.cells_before, plan.cells_after
    elders = before["elders_60"].to_numpy(float)
    nearest = before[f"{kind}_nearest_id"].to_numpy()
    was = before[f"{kind}_covered"].fillna(False).to_numpy(bool)
    still = after[f"{kind}_covered"].fillna(False).to_numpy(bool)
    names = dict(zip(plan.assessment["id"], plan.assessment["name"], strict=True))
    out = []
    for cid in plan.closed:
        mine = was & (nearest == cid)
        receivers = plan.merges.loc[plan.merges["from_id"] == cid, "to_name"].astype(str)
        out.append({"id": str(cid), "name": str(names.get(cid, cid)),
                    "covered_before": int(round(elders[mine].sum())),
                    "still_covered": int(round(elders[mine & still].sum())),
                    "lost": int(round(elders[mine & ~still].sum())),
                    "receivers": list(dict.fromkeys(receivers))})
    return out


def _localized_reasons(assessment: pd.DataFrame, lang: str) -> pd.DataFrame:
    from elder_coverage.labels import localize_message

    out = assessment.copy()
    out["reasons"] = [localize_message(r, lang) if r else r for r in out["reasons"]]
    return out


def _area_names(df: pd.DataFrame, names_t: dict | None, names_c: dict) -> pd.DataFrame:
    """``township_name`` / ``county_name`` beside their codes (empty when no layer names them)."""
    out = df.copy()
    for col, names in (("township", names_t), ("county", names_c)):
        code = f"{col}_code"
        if code in out:
            at = out.columns.get_loc(code) + 1
            out.insert(at, f"{col}_name", out[code].map(names or {}).fillna("").astype(str))
    return out


def _gaps_table(final: CoverageResult, study: StudyData, names_t, names_c) -> pd.DataFrame:
    """Places holding the most uncovered elders, per facility kind (top 100 of each)."""
    parts = [ranked_gaps(final, k, villages=study.villages, top=100).assign(kind=k)
             for k in final.report.kinds]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["kind"])
    table = table[["kind", *[c for c in table.columns if c != "kind"]]]
    return _area_names(table, names_t, names_c)


def _worst_table(fairness: dict[str, dict], study: StudyData, names_t, names_c) -> pd.DataFrame:
    """Worst-served townships per kind, with their names and counties."""
    parts = [f["worst"].assign(kind=k) for k, f in fairness.items()]
    table = pd.concat(parts, ignore_index=True)
    if study.townships is not None and "county_code" in study.townships:
        county = dict(zip(study.townships["code"], study.townships["county_code"], strict=False))
    else:
        county = {}
    table.insert(1, "name", table["code"].map(names_t or {}).fillna("").astype(str))
    table.insert(2, "county_code", table["code"].map(county))
    table = _area_names(table, None, names_c)
    return table[["kind", *[c for c in table.columns if c != "kind"]]]


def _locate_cells(table: pd.DataFrame, cells: gpd.GeoDataFrame, study: StudyData, names_t,
                  names_c) -> pd.DataFrame:
    """Where each listed ``cell_id`` lies: county, township, nearest village, WGS84 lon/lat.

    A cell id alone means nothing to a planner; the village is the nearest village point
    (as in the gaps table), labelled ``nearest_village_*`` because cells have no village.
    """
    from scipy.spatial import cKDTree

    idx = pd.Index(cells["cell_id"]).get_indexer(table["cell_id"])
    if (idx < 0).any():
        raise ValueError(f"cells {table['cell_id'][idx < 0].tolist()[:5]} are not in the study")
    sub = cells.iloc[idx]
    out = table.drop(columns=[c for c in ("county_code", "township_code") if c in table])
    out = out.reset_index(drop=True)
    for col in ("county_code", "township_code"):
        if col in sub:
            out[col] = sub[col].to_numpy()
    vil = study.villages
    if vil is not None and len(vil):
        near = np.zeros(0, dtype=int)
        if len(sub):
            _, near = cKDTree(np.column_stack([vil.geometry.x, vil.geometry.y])).query(
                np.column_stack([sub.geometry.x, sub.geometry.y]), k=1)
        out["nearest_village_code"] = vil["code"].astype(str).to_numpy()[near]
        out["nearest_village_name"] = (vil["name"].astype(str).to_numpy()[near]
                                       if "name" in vil else "")
    ll = sub.geometry.to_crs(4326)
    out["lon"], out["lat"] = ll.x.round(6).to_numpy(), ll.y.round(6).to_numpy()
    return _area_names(out, names_t, names_c)


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
