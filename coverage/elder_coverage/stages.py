"""The stages of a scenario run, as plain functions that take and return frozen results.

load → costs → coverage → close/merge → new sites → tables → map → report

Each stage reads only what earlier stages returned, so a notebook can call them one by one
and look at every intermediate result; :func:`elder_coverage.runner.run_scenario` calls them
in this order and hands the results to one writer. Nothing here writes a file.

Examples
--------
>>> from elder_coverage import stages
>>> from elder_coverage.runner import default_scenario
>>> prep = stages.load(default_scenario())                       # doctest: +SKIP
>>> costs = stages.costs(prep)                                   # doctest: +SKIP
>>> base = stages.coverage(prep, costs)                          # doctest: +SKIP
>>> closure = stages.close_merge(prep, base)                     # doctest: +SKIP
>>> added = stages.new_sites(prep, closure, base)                # doctest: +SKIP
>>> res = stages.tables(prep, base, closure, added)              # doctest: +SKIP
>>> res.summary["kinds"]["dining_hall"]["covered_share"]         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage import __version__
from elder_coverage._errors import SettingsError
from elder_coverage.aggregate import area_table
from elder_coverage.close_merge import KIND as CLOSE_MERGE_KIND
from elder_coverage.close_merge import CloseMergePlan, Criteria, plan_close_merge
from elder_coverage.costs import TravelCosts, travel_costs
from elder_coverage.engine import CoverageResult, compute_coverage, merge_coverage
from elder_coverage.fairness import fairness_reports
from elder_coverage.new_sites import NewSitesPlan, plan_new_sites
from elder_coverage.record import coordinate_notes, run_record
from elder_coverage.scenario import RUN_TABLES, Scenario, ScenarioError
from elder_coverage.standards import Standards, load_standards
from elder_coverage.study import (
    StudyData,
    load_sample,
    load_user_data,
    read_own_facilities,
    read_village_points,
    select_counties,
)
from elder_coverage.tables import (
    closed_centres,
    gaps_table,
    indicators_by_year,
    kind_summary,
    localized_reasons,
    locate_cells,
    records,
    worst_table,
)
from elder_coverage.travel import RoadNetwork

__all__ = ["Closure", "NewSites", "Prepared", "Results", "close_merge", "costs", "coverage",
           "load", "load_study", "make_map", "make_report", "new_sites", "planned_facilities",
           "tables"]

#: Facility statuses that serve elders (``new``: sites a plan adds).
SERVING = ("open", "new")


@dataclass(frozen=True)
class Prepared:
    """What every later stage reads: the study, its demand, standards and road network.

    Attributes
    ----------
    scenario : Scenario
    lang : {"zh", "en"}
        Labels of the map, report and summary.
    study : StudyData
        Inputs, with the cells' elders (persons) of the scenario's ``demand_year``.
    cells_2020 : geopandas.GeoDataFrame
        The census-year cells: each indicator is judged again on its own target year.
    demand : dict
        ``year``, projection ``notes`` and ``elders_by_year`` (persons).
    standards : Standards
    network : RoadNetwork or None
        The road graph, each travel mode prepared once; None for straight-line runs.
    facilities : geopandas.GeoDataFrame
        The study's facilities with ``status`` filled in (``open`` when not given).
    record : dict
        Inputs, fingerprints and settings of the run (``summary.json`` → ``run_record``).
    """

    scenario: Scenario
    lang: str
    study: StudyData
    cells_2020: gpd.GeoDataFrame
    demand: Mapping[str, Any]
    standards: Standards
    network: RoadNetwork | None
    facilities: gpd.GeoDataFrame
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Closure:
    """The close/merge analysis: the plan and what the run reports of it."""

    plan: CloseMergePlan
    summary: Mapping[str, Any]
    tables: Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class NewSites:
    """The new-sites analysis: the plan and what the run reports of it."""

    plan: NewSitesPlan
    summary: Mapping[str, Any]
    table: pd.DataFrame


@dataclass(frozen=True)
class Results:
    """Everything the run reports, before anything is written.

    Attributes
    ----------
    base, final : CoverageResult
        Coverage of today's open facilities, and after the plans (the same object when the
        scenario has no plan). ``final.cells`` carries ``<kind>_places_per_1000`` (E2SFCA).
    facilities : geopandas.GeoDataFrame
        Every facility with its ``status`` after the plans (closed, new), ``covered_elders``
        (persons within its standard), ``covered_elders_before`` when a plan ran, and
        ``elders_per_place`` (E2SFCA load).
    tables : dict
        Output table name (:data:`elder_coverage.scenario.RUN_TABLES`) → table.
    indicators : pandas.DataFrame
        Policy indicators of the final state (after the plans).
    summary : dict
        The content of ``summary.json``.
    """

    base: CoverageResult
    final: CoverageResult
    facilities: gpd.GeoDataFrame
    tables: Mapping[str, pd.DataFrame]
    indicators: pd.DataFrame
    summary: Mapping[str, Any]
    closure: Closure | None = None
    new: NewSites | None = None


# --------------------------------------------------------------------------- load


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
        # parse_scenario requires all three when the study area is a boundary file.
        if scenario.boundary is None or scenario.population is None or \
                scenario.facilities is None:
            raise ScenarioError("study_area.boundary, inputs.population and inputs.facilities "
                                "are required without a sample")
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


def load(scenario: Scenario, lang: str | None = None) -> Prepared:
    """Read the inputs, project the elders to the scenario's ``demand_year``, load standards.

    Raises
    ------
    ScenarioError
        ``analyses.coverage.age_floor`` needs an age column the cells do not have, or a
        county named in the scenario is not in the study area.
    """
    from elder_coverage.demand import elders_by_year, projection_notes, rescale_cells

    study = load_study(scenario)
    year = scenario.demand_year
    cells_2020 = study.cells
    demand = {"year": year, "notes": projection_notes(year),
              "elders_by_year": elders_by_year(
                  sorted(study.cells["county_code"].astype(str).unique()))}
    if year != 2020:
        study = dataclasses.replace(study, cells=rescale_cells(study.cells, year))
    floor = _age_floor(scenario)
    if f"elders_{floor}" not in study.cells:
        raise ScenarioError(f"analyses.coverage.age_floor: {floor} needs a population "
                            f"column 'elders_{floor}', which the study's cells do not have")
    std = load_standards(overrides=scenario.standards or None)
    net = study.road_network()
    fac = study.facilities.copy()
    fac["status"] = fac["status"].fillna("open") if "status" in fac else "open"
    return Prepared(scenario=scenario, lang=lang or scenario.lang, study=study,
                    cells_2020=cells_2020, demand=demand, standards=std, network=net,
                    facilities=fac, record=run_record(scenario, study, std))


# --------------------------------------------------------------------------- costs, coverage


def costs(prep: Prepared) -> TravelCosts:
    """Travel costs from every cell to every open facility, within each kind's standard."""
    return travel_costs(prep.study.cells, _serving(prep.facilities), prep.network,
                        prep.standards)


def coverage(prep: Prepared, costs: TravelCosts | None = None) -> CoverageResult:
    """Coverage of today's open facilities (counts within the standard read from ``costs``)."""
    return compute_coverage(prep.study.cells, _serving(prep.facilities), prep.network,
                            prep.standards, costs=costs)


# --------------------------------------------------------------------------- plans


def close_merge(prep: Prepared, base: CoverageResult) -> Closure | None:
    """Which township centres close and where their residents go (None without the analysis)."""
    p = prep.scenario.analyses.get("close_merge")
    if p is None:
        return None
    study = prep.study
    with _scenario_key(prep.scenario, "analyses.close_merge.county"):
        codes = select_counties(study.counties, [p["county"]]) if p.get("county") else None
    cells, fac = study.cells, _serving(prep.facilities)
    costs = base.costs
    if codes is not None:
        inside = cells["county_code"].isin(codes).to_numpy()
        cells = cells[inside]
        fac = fac[fac["county_code"].isin(codes)]
        costs = costs.rows(inside) if costs is not None else None
    crit = Criteria(**{k: p[k] for k in ("built_before", "min_occupancy",
                                          "require_fire_safety") if k in p})
    plan = plan_close_merge(cells.reset_index(drop=True), fac.reset_index(drop=True),
                            prep.network, prep.standards, criteria=crit,
                            close=p.get("close", "failing"),
                            coverage_target=p.get("coverage_target", 1.0),
                            max_distance_km=p.get("max_distance_km"),
                            time_limit=p.get("time_limit_s", 60),
                            costs=costs[CLOSE_MERGE_KIND] if costs is not None else None)
    a = plan.assessment
    summary = {
        "county": codes[0] if codes else None,
        "centres_assessed": int(len(a)),
        "failing": a.loc[a["fails"], "id"].tolist(),
        "closed": plan.closed,
        "kept_needed": a.loc[a["decision"] == "keep (needed)", "id"].tolist(),
        "kind": CLOSE_MERGE_KIND,
        "coverage_target": p.get("coverage_target", 1.0),
        "before": plan.before, "after": plan.after,
        "residents_moved": int(plan.merges["residents_moved"].sum()),
        "elders_losing_coverage": int(round(plan.lost_coverage["elders_60"].sum())),
        "closed_centres": closed_centres(plan),
        "optimisation": {k: v for k, v in plan.optimisation.items() if k != "seconds"},
    }
    tables = {"close_merge_assessment": localized_reasons(plan.assessment, prep.lang),
              "merges": plan.merges, "lost_coverage": plan.lost_coverage}
    return Closure(plan=plan, summary=summary, tables=tables)


def new_sites(prep: Prepared, closure: Closure | None = None,
              base: CoverageResult | None = None) -> NewSites | None:
    """Where new sites of one kind reach the target (None without the analysis).

    Runs on the facilities left open by ``closure``; the existing sites' travel costs are
    read from ``base`` (today's coverage) when given.
    """
    p = prep.scenario.analyses.get("new_sites")
    if p is None:
        return None
    with _scenario_key(prep.scenario, "analyses.new_sites.county"):
        study = prep.study.restrict([p["county"]]) if p.get("county") else prep.study
    fac = planned_facilities(prep, closure, None)
    if p.get("county"):
        fac = fac[fac["county_code"].isin(study.counties["code"])]
    plan = plan_new_sites(
        p["kind"], study.cells, _serving(fac), prep.network, prep.standards, seats=study.seats,
        villages=study.villages, measure=p.get("measure", "elders"),
        target=p.get("target", 1.0), max_new=p.get("max_new"),
        candidates=p.get("candidates", "both"), time_limit=p.get("time_limit_s", 60),
        model=p.get("model"), new_capacity=p.get("new_capacity"),
        costs=base.costs if base is not None else None)
    new = plan.new_sites
    ll = new.to_crs(4326).geometry
    table = pd.DataFrame(new.drop(columns="geometry")).assign(lon=ll.x.round(6),
                                                              lat=ll.y.round(6))
    summary = {
        "kind": p["kind"], "measure": plan.measure, "n_new": int(len(new)),
        "before": plan.before, "after": plan.after,
        "unreachable": [str(u) for u in plan.unreachable],
        "optimisation": {k: v for k, v in plan.optimisation.items() if k != "seconds"},
    }
    return NewSites(plan=plan, summary=summary, table=table)


def planned_facilities(prep: Prepared, closure: Closure | None,
                       new: NewSites | None) -> gpd.GeoDataFrame:
    """Every facility after the plans: closed centres marked ``closed``, new sites added."""
    fac = prep.facilities.copy()
    if closure is not None:
        fac.loc[fac["id"].isin(closure.plan.closed), "status"] = "closed"
    if new is not None and len(new.plan.new_sites):
        add = new.plan.new_sites.assign(status="new", capacity=0, synthetic=False)
        keep = [c for c in add.columns if c in fac.columns]
        fac = gpd.GeoDataFrame(pd.concat([fac, add[keep]], ignore_index=True), crs=fac.crs)
    return fac


# --------------------------------------------------------------------------- tables


def tables(prep: Prepared, base: CoverageResult, closure: Closure | None = None,
           new: NewSites | None = None) -> Results:
    """Coverage after the plans, per-facility figures, E2SFCA, indicators and every table."""
    study, std, net, sc = prep.study, prep.standards, prep.network, prep.scenario
    changed = closure is not None or new is not None
    fac = planned_facilities(prep, closure, new)
    final = _final_coverage(prep, base, fac) if changed else base
    weights = final.cells["elders_60"].to_numpy(float)
    open_mask = fac["status"].isin(SERVING).to_numpy()
    fac["covered_elders"] = 0
    fac.loc[open_mask, "covered_elders"] = _within_reach(final, fac[open_mask], weights)
    if changed:
        # Before and after side by side: a closed centre served elders before it closed.
        was_open = fac["status"].isin(["open", "closed"]).to_numpy()
        fac["covered_elders_before"] = pd.array([pd.NA] * len(fac), dtype="Int64")
        fac.loc[was_open, "covered_elders_before"] = _within_reach(
            base, fac[was_open], base.cells["elders_60"].to_numpy(float))
    final, access = _access(final, fac, prep)
    if not changed:
        base = final
    names_t = (dict(zip(study.townships["code"], study.townships["name"], strict=False))
               if study.townships is not None else None)
    names_c = dict(zip(study.counties["code"], study.counties["name"], strict=True))
    t: dict[str, pd.DataFrame] = {}
    if closure is not None:
        t.update(closure.tables)
    if new is not None:
        t["new_sites"] = new.table
    serving = _serving(fac)
    t["coverage_by_township"] = area_table(final, serving, level="township", names=names_t)
    t["coverage_by_county"] = area_table(final, serving, level="county", names=names_c)
    t["coverage_study_area"] = area_table(final, serving, level="study_area")
    t["gaps"] = gaps_table(final, study, names_t, names_c)
    by_year = {"demand_year": sc.demand_year, "cells_2020": prep.cells_2020, "scaled": {}}
    before = indicators_by_year(study, base, _serving(prep.facilities), net, std, **by_year)
    t["indicators"] = indicators = before
    if changed:
        indicators = t["indicators_final"] = indicators_by_year(study, final, serving, net,
                                                                std, **by_year)
    t["unreachable"] = locate_cells(final.report.unreachable_table(), final.cells, study,
                                    names_t, names_c)
    if "lost_coverage" in t:
        t["lost_coverage"] = locate_cells(t["lost_coverage"], base.cells, study, names_t,
                                          names_c)
    fairness = fairness_reports(final, final.report.kinds)
    t["worst_served_townships"] = worst_table(fairness, study, names_t, names_c)
    fac_table = pd.DataFrame(fac.drop(columns="geometry"))
    ll = fac.to_crs(4326).geometry
    fac_table["lon"], fac_table["lat"] = ll.x.round(6), ll.y.round(6)
    t["facilities"] = fac_table.sort_values("id", kind="stable")
    unlisted = set(t) - set(RUN_TABLES)
    if unlisted:  # a bug: scenario validation could not protect these names
        raise RuntimeError(f"tables missing from scenario.RUN_TABLES: {sorted(unlisted)}")
    floor = _age_floor(sc)
    analyses = {}
    if closure is not None:
        analyses["close_merge"] = closure.summary
    if new is not None:
        analyses["new_sites"] = new.summary
    summary = {
        "scenario": sc.name,
        "description": sc.description,
        "elder_coverage_version": __version__,
        "lang": prep.lang,
        "synthetic": bool(study.meta.get("synthetic", False)),
        "study_area": {"counties": sorted(study.counties["code"].tolist()),
                       "crs": study.crs.to_string()},
        "demand_year": sc.demand_year,
        "demand": dict(prep.demand),
        "elders_total": int(round(final.cells["elders_60"].sum())),
        "elders_65": int(round(final.cells.get("elders_65", pd.Series([0])).sum())),
        "elders_80": int(round(final.cells.get("elders_80", pd.Series([0])).sum())),
        "age_floor": floor,
        "kinds": kind_summary(final, floor),
        "kinds_before": kind_summary(base, floor) if changed else None,
        "indicators": records(indicators),
        "indicators_before": records(before) if changed else None,
        "analyses": analyses,
        "fairness": {k: {key: v for key, v in f.items() if key not in ("worst", "kind")}
                     for k, f in fairness.items()},
        "access_places_per_1000": access,
        "outputs": dict(sc.outputs),
        # What the readers assumed or repaired comes first: it qualifies every figure.
        "notes": [*study.meta.get("notes", []), *final.report.messages,
                  *prep.demand["notes"], *coordinate_notes(dict(prep.record))],
        "run_record": prep.record,
    }
    return Results(base=base, final=final, facilities=fac, tables=t, indicators=indicators,
                   summary=summary, closure=closure, new=new)


def _final_coverage(prep: Prepared, base: CoverageResult,
                    fac: gpd.GeoDataFrame) -> CoverageResult:
    """Coverage after the plans: only kinds whose open facilities changed are evaluated again,
    on costs that reuse every column of a facility that stayed open."""
    serving = _serving(fac)
    before = _serving(prep.facilities)
    changed = [k for k in base.report.kinds
               if sorted(str(i) for i in before.loc[before["kind"] == k, "id"])
               != sorted(str(i) for i in serving.loc[serving["kind"] == k, "id"])]
    cells, net, std = prep.study.cells, prep.network, prep.standards
    after_costs = travel_costs(cells, serving, net, std, kinds=base.report.kinds,
                               reuse=base.costs)
    if not changed:
        return dataclasses.replace(base, cells=base.cells.copy(), costs=after_costs)
    part = compute_coverage(cells, serving, net, std, kinds=changed, costs=after_costs)
    return dataclasses.replace(merge_coverage(base, part), costs=after_costs)


def _within_reach(cov: CoverageResult, fac: gpd.GeoDataFrame, weights: np.ndarray) -> np.ndarray:
    """Elders (persons) within each facility's standard (a cell counts for every facility)."""
    out = np.zeros(len(fac))
    kinds = fac["kind"].to_numpy()
    for kind in sorted(set(kinds)):
        cols = np.flatnonzero(kinds == kind)
        out[cols] = _costs(cov).for_facilities(fac, kind).within_reach(weights)
    return np.round(out).astype(int)


def _access(final: CoverageResult, fac: gpd.GeoDataFrame,
            prep: Prepared) -> tuple[CoverageResult, dict[str, float]]:
    """E2SFCA per kind: places per 1,000 elders on each cell and load on each facility.

    Returns the final coverage with ``<kind>_places_per_1000`` on its cells and the
    elder-weighted mean access of the study area per kind; sets ``elders_per_place`` on
    ``fac``.
    """
    from elder_coverage.access import access_table

    out = {}
    # A shallow copy: only the new columns are added (copy-on-write leaves final.cells as is).
    cells = final.cells.copy(deep=False)
    elders = cells["elders_60"].to_numpy(float)
    serving = fac[fac["status"].isin(SERVING).to_numpy()]
    for kind in final.report.kinds:
        if not (serving["kind"] == kind).any():
            continue
        res = access_table(cells, serving, kind, prep.network, prep.standards,
                           costs=_costs(final).for_facilities(serving, kind))
        col = f"{kind}_places_per_1000"
        cells[col] = res.cells[col].to_numpy()
        load = dict(zip(res.facilities["id"], res.facilities["elders_per_place"], strict=True))
        sel = fac["kind"] == kind
        fac.loc[sel, "elders_per_place"] = fac.loc[sel, "id"].map(load).astype(float).round(3)
        out[kind] = round(float(np.average(cells[col].fillna(0), weights=elders)), 4) \
            if elders.sum() else 0.0
    return dataclasses.replace(final, cells=cells), out


# --------------------------------------------------------------------------- map, report


def make_map(prep: Prepared, res: Results) -> folium.Map:
    """The interactive map of the final state (closed centres and merge lines drawn)."""
    from elder_coverage.maps import coverage_map

    closure = res.closure
    closed = closure.plan.closed if closure is not None else []
    study = prep.study
    # Closed centres stay in the layer so the map can draw them and their merge lines.
    shown = res.facilities[res.facilities["status"] != "new"]
    # The isochrones (GEOS unions, which release the GIL) are dissolved in another thread
    # while the other layers are built; the map asks for them last.
    with ThreadPoolExecutor(max_workers=1) as pool:
        iso = pool.submit(_isochrones, res.facilities, prep.network, prep.standards)
        return coverage_map(study.counties, study.townships, res.final.cells, shown,
                            standards=prep.standards,
                            merges=closure.plan.merges if closure is not None else None,
                            closed_ids=closed,
                            new_sites=res.new.plan.new_sites if res.new is not None else None,
                            lang=prep.lang, cell_size_m=study.cell_size_m,
                            title=prep.scenario.description or prep.scenario.name,
                            isochrones=iso.result, roads=study.graph, places=study.villages,
                            synthetic=bool(res.summary.get("synthetic")))


def make_report(prep: Prepared, res: Results) -> str:
    """The report page (HTML, in the run's language)."""
    from elder_coverage.report import report_html

    t = res.tables
    return report_html(summary=res.summary, indicators=res.indicators,
                       counties_table=t["coverage_by_county"],
                       townships_table=t["coverage_by_township"],
                       merges=res.closure.plan.merges if res.closure is not None else None,
                       new_sites=t.get("new_sites"), lang=prep.lang,
                       title=prep.scenario.name)


# --------------------------------------------------------------------------- helpers


def _costs(cov: CoverageResult) -> TravelCosts:
    if cov.costs is None:  # a bug: the run's coverage is always computed on its costs
        raise RuntimeError("coverage result without travel costs")
    return cov.costs


def _serving(fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "status" not in fac:
        return fac
    return fac[fac["status"].fillna("open").isin(SERVING)]


def _age_floor(scenario: Scenario) -> int:
    return int(scenario.analyses.get("coverage", {}).get("age_floor", 60))


def _isochrones(facilities: gpd.GeoDataFrame, net: RoadNetwork | None, std: Standards):
    if net is None:
        return None
    from elder_coverage.isochrones import service_area_isochrones

    return service_area_isochrones(_serving(facilities), net, std)


@contextmanager
def _scenario_key(scenario: Scenario, key: str) -> Iterator[None]:
    """Name the scenario key whose value the data rejected (a county not in the study area)."""
    try:
        yield
    except SettingsError as exc:
        where = f"{scenario.source}: " if scenario.source else ""
        raise ScenarioError(f"{where}{key}: {exc}") from None
