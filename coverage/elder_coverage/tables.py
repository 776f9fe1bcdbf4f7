"""Output tables of a run: per-kind summaries, indicators by target year, gaps, places.

Pure functions of the stage results (:mod:`elder_coverage.stages`): they build the tables a
planner reads (``coverage_by_*.csv``, ``gaps.csv``, ``unreachable.csv`` ...) and the pieces of
``summary.json``; writing them is :func:`elder_coverage.runner.write_run`'s job.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage.aggregate import ranked_gaps_of
from elder_coverage.close_merge import KIND as CLOSE_MERGE_KIND
from elder_coverage.engine import CoverageResult
from elder_coverage.study import StudyData

__all__ = ["area_names", "closed_centres", "gaps_table", "indicators_by_year", "kind_summary",
           "locate_cells", "localized_reasons", "records", "worst_table"]


def kind_summary(cov: CoverageResult, age_floor: int = 60) -> dict[str, dict[str, Any]]:
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


def indicators_by_year(study: StudyData, cov: CoverageResult, facilities, net, std, *,
                       demand_year: int = 2020, cells_2020: pd.DataFrame | None = None,
                       scaled: dict[int, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Policy indicators, each judged on the elders of its own target year.

    Rows without a year (descriptive figures) use the run's ``demand_year``. A row for 2025 or
    2029 is computed again on the cells rescaled to that year's projected elders (and the
    villages' elders scaled by their county's ratio), so that a 2029 target is judged on the
    elders of 2029 (``demand_year`` column). Where no projection exists (own data outside
    Jilin) the run's elders are used and the note says so. ``scaled`` keeps the cells of
    each year once computed (pass the same dict for the before and after indicators).
    """
    from elder_coverage.indicators import policy_indicators

    # Which township seats and villages each kind reaches depends only on the facilities,
    # roads and standards, not on the elders: computed for the first year, reused for others.
    reach: list = []

    def compute(c: CoverageResult, villages) -> pd.DataFrame:
        return policy_indicators(c, facilities, townships=study.townships, seats=study.seats,
                                 villages=villages, counties=study.counties, graph=net,
                                 standards=std, reach_memo=reach)

    base = compute(cov, study.villages)
    base["demand_year"] = demand_year
    years = sorted({int(y) for y in base["year"].dropna()} - {demand_year})
    if cells_2020 is None or not years:
        return base
    if scaled is None:
        scaled = {}
    for year in years:
        rows = (base["year"] == year).fillna(False).to_numpy(dtype=bool)
        try:
            ratio = _year_cells(cells_2020, year, scaled)
        except (ValueError, KeyError):
            base.loc[rows, "note"] = [_join_note(n, f"judged on the elders of {demand_year}: "
                                                  f"no projection to {year} for these counties")
                                      for n in base.loc[rows, "note"]]
            continue
        again = compute(dataclasses.replace(cov, cells=_with_elders(cov.cells, scaled[year])),
                        _scaled_villages(study.villages, ratio))
        if not (again["indicator"].tolist() == base["indicator"].tolist()
                and again["year"].equals(base["year"])):
            raise RuntimeError("indicator rows differ between demand years")  # a bug
        for c in again.columns:
            if c in base.columns:
                base.loc[rows, c] = again.loc[rows, c].to_numpy()
        base.loc[rows, "demand_year"] = year
    return base


def _year_cells(cells_2020: pd.DataFrame, year: int, scaled: dict[int, pd.DataFrame]
                ) -> pd.Series:
    """Rescale the census cells to ``year`` once (kept in ``scaled``); county elder ratios.

    Returns
    -------
    pandas.Series
        Projected over 2020 elders 60+ per 2020 county code.

    Raises
    ------
    ValueError, KeyError
        No projection to ``year`` for the cells' counties.
    """
    from elder_coverage.demand import elders_for_year, rescale_cells

    if year not in scaled:
        scaled[year] = rescale_cells(cells_2020, year)
    # Distinct codes first: iterating 800 k Arrow strings one by one took a second.
    codes = sorted(str(c) for c in cells_2020["county_code"].astype(str).unique())
    return (elders_for_year(year, counties=codes)["age60"]
            / elders_for_year(2020, counties=codes)["age60"])


def _with_elders(cells: gpd.GeoDataFrame, scaled: pd.DataFrame) -> gpd.GeoDataFrame:
    """``cells`` with the elder columns of ``scaled`` (same cells), every other column shared.

    A shallow copy: copy-on-write keeps ``cells`` unchanged, and the 40 columns of a
    province's cells are not copied for three replaced ones.
    """
    out = cells.copy(deep=False)
    for c in ("elders_60", "elders_65", "elders_80"):
        if c in out and c in scaled:
            col = scaled[c]
            out[c] = (col.to_numpy() if col.index.equals(out.index)
                      else col.loc[out.index].to_numpy())
    return out


def _scaled_villages(villages: gpd.GeoDataFrame | None, ratio: pd.Series
                     ) -> gpd.GeoDataFrame | None:
    """Villages with ``elders_60`` scaled by their county's ratio (whole persons)."""
    if villages is None or "elders_60" not in villages or "county_code" not in villages:
        return villages
    out = villages.copy(deep=False)
    f = out["county_code"].astype(str).map(ratio).fillna(1.0).to_numpy()
    out["elders_60"] = np.round(out["elders_60"].to_numpy(float) * f)
    return out


def _join_note(note: Any, extra: str) -> str:
    return extra if note is None or (isinstance(note, float) and math.isnan(note)) or not note \
        else f"{note}; {extra}"


def closed_centres(plan) -> list[dict[str, Any]]:
    """Per closed centre: covered elders whose nearest centre it was, still covered, lost."""
    kind = CLOSE_MERGE_KIND
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


def localized_reasons(assessment: pd.DataFrame, lang: str) -> pd.DataFrame:
    from elder_coverage.labels import localize_message

    out = assessment.copy()
    out["reasons"] = [localize_message(r, lang) if r else r for r in out["reasons"]]
    return out


def area_names(df: pd.DataFrame, names_t: dict | None, names_c: dict) -> pd.DataFrame:
    """``township_name`` / ``county_name`` beside their codes (empty when no layer names them)."""
    out = df.copy()
    for col, names in (("township", names_t), ("county", names_c)):
        code = f"{col}_code"
        if code in out:
            at = out.columns.get_loc(code) + 1
            out.insert(at, f"{col}_name", out[code].map(names or {}).fillna("").astype(str))
    return out


def gaps_table(final: CoverageResult, study: StudyData, names_t, names_c) -> pd.DataFrame:
    """Places holding the most uncovered elders, per facility kind (top 100 of each)."""
    kinds = list(final.report.kinds)
    ranked = ranked_gaps_of(final, kinds, villages=study.villages, top=100) if kinds else []
    parts = [t.assign(kind=k) for k, t in zip(kinds, ranked, strict=True)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["kind"])
    table = table[["kind", *[c for c in table.columns if c != "kind"]]]
    return area_names(table, names_t, names_c)


def worst_table(fairness: dict[str, dict], study: StudyData, names_t, names_c) -> pd.DataFrame:
    """Worst-served townships per kind, with their names and counties."""
    parts = [f["worst"].assign(kind=k) for k, f in fairness.items()]
    table = pd.concat(parts, ignore_index=True)
    if study.townships is not None and "county_code" in study.townships:
        county = dict(zip(study.townships["code"], study.townships["county_code"], strict=False))
    else:
        county = {}
    table.insert(1, "name", table["code"].map(names_t or {}).fillna("").astype(str))
    table.insert(2, "county_code", table["code"].map(county))
    table = area_names(table, None, names_c)
    return table[["kind", *[c for c in table.columns if c != "kind"]]]


def locate_cells(table: pd.DataFrame, cells: gpd.GeoDataFrame, study: StudyData, names_t,
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
    return area_names(out, names_t, names_c)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON records, as ``summary.json`` holds it (NaN → null, 10 digits)."""
    return json.loads(df.to_json(orient="records", force_ascii=False, double_precision=10))
