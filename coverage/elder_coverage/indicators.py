"""Policy indicators: value, target, year and gap for each elder-care planning target.

Indicators (``indicator`` column) and how each is measured:

``township_centre_seat_coverage``
    Share of township-level units (乡镇 and 街道) whose seat is within the ``township_centre``
    service standard of a township centre. Targets 60 % (2025), 80 % (2029).
``township_dining_hall`` / ``urban_community_dining_hall``
    Share of rural townships (``is_urban`` False) and of urban street communities (街道,
    ``is_urban`` True) "with" a dining hall. Target 100 % by end 2025. *With* means: a dining
    hall located in the unit (its ``township_code``), OR a dining hall whose ``dining_hall``
    standard covers the unit's seat. The first counts halls registered to the unit even when
    its seat is far; the second credits a hall just across the boundary that residents at the
    seat actually use.
``village_courtyard_coverage``
    Share of villages with many older people (``elders_60 >= many_elders``, default 100)
    covered by a rural courtyard: the village point within the ``rural_courtyard`` standard, or
    a courtyard registered to the village (``village_code``). Target 100 % by 2029.
``community_15min_share``
    Share of elders 60+ in cells covered by any community-level service (dining hall, rural
    courtyard, day care) under their standards (by default the 15-minute elderly walk). The
    100 % / 2029 target is a planning assumption (no national figure), override via
    ``targets``.
``nursing_bed_share``
    Nursing beds / beds over :data:`elder_coverage.aggregate.BED_KINDS`. Targets 55 % (2025), 70 %
    (2029).
``floor_area_per_elder``
    Elder-care floor area (``floor_area_m2`` summed over facilities) per elder 60+, target
    0.12 m² per person; "not available" when no facility reports floor area.

``gap = target - value``: positive is a shortfall, zero or negative means the target is met.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from elder_coverage.aggregate import BED_KINDS, COMMUNITY_KINDS, covered_any
from elder_coverage.engine import (
    CoverageInputError,
    CoverageResult,
    check_same_crs,
    compute_coverage,
)
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import RoadNetwork, TravelGraph, as_network

#: indicator → ((year, target), ...). Shares are 0-1; floor area in m² per elder.
DEFAULT_TARGETS: dict[str, tuple[tuple[int | None, float], ...]] = {
    "township_centre_seat_coverage": ((2025, 0.60), (2029, 0.80)),
    "township_dining_hall": ((2025, 1.0),),
    "urban_community_dining_hall": ((2025, 1.0),),
    "village_courtyard_coverage": ((2029, 1.0),),
    "community_15min_share": ((2029, 1.0),),
    "nursing_bed_share": ((2025, 0.55), (2029, 0.70)),
    "floor_area_per_elder": ((None, 0.12),),
}

LABELS: dict[str, tuple[str, str, str]] = {
    "township_centre_seat_coverage": (
        "乡镇（街道）区域养老服务中心覆盖率",
        "Townships whose seat is within reach of a township centre", "share"),
    "township_dining_hall": (
        "乡镇老年助餐服务覆盖率", "Rural townships with an elder dining hall", "share"),
    "urban_community_dining_hall": (
        "城市街道（社区）老年助餐服务覆盖率",
        "Urban street communities with an elder dining hall", "share"),
    "village_courtyard_coverage": (
        "老年人口较多村养老大院（互助点）覆盖率",
        "Villages with many older people covered by a rural courtyard", "share"),
    "community_15min_share": (
        "一刻钟养老服务圈覆盖老年人比例",
        "Elders within a 15-minute walk of a community service", "share"),
    "nursing_bed_share": ("护理型床位占比", "Nursing-care share of elder-care beds", "share"),
    "floor_area_per_elder": (
        "老年人人均养老服务设施建筑面积", "Elder-care floor area per elder", "m2/person"),
}

COLUMNS: tuple[str, ...] = ("indicator", "label_zh", "label_en", "value", "target", "year",
                            "gap", "unit", "numerator", "denominator", "note")


def _seats(townships: gpd.GeoDataFrame, seats: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """One row per township: ``code`` and seat Point (None where unknown)."""
    for col in ("code", "is_urban"):
        if col not in townships:
            raise CoverageInputError(f"townships: missing column {col!r}")
    dup = townships["code"].duplicated()
    if dup.any():
        raise CoverageInputError(
            f"townships: duplicated code {townships.loc[dup, 'code'].iloc[0]!r}")
    if seats is not None:
        if "code" not in seats:
            raise CoverageInputError("seats: missing column 'code' (township code)")
        by_code = dict(zip(_text(seats["code"]), seats.geometry, strict=True))
        geom = [by_code.get(c) for c in _text(townships["code"])]
        out = gpd.GeoDataFrame(townships[["code"]].copy(),
                               geometry=gpd.GeoSeries(geom, index=townships.index,
                                                      crs=seats.crs), crs=seats.crs)
    else:
        types = townships.geometry.geom_type
        bad = types.notna() & (types != "Point")
        if bad.any():
            raise CoverageInputError(
                f"townships: code={townships.loc[bad, 'code'].iloc[0]!r} has a "
                f"{types[bad].iloc[0]} geometry; pass seat points with seats=")
        out = gpd.GeoDataFrame(townships[["code"]].copy(), geometry=townships.geometry,
                               crs=townships.crs)
    return out


def _points_covered(points: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, kind: str,
                    net: RoadNetwork | None, std: Standards) -> np.ndarray:
    """Covered flag per point (False where the point has no geometry)."""
    has = points.geometry.notna() & ~points.geometry.is_empty
    out = np.zeros(len(points), dtype=bool)
    if not has.any():
        return out
    pts = points.loc[has]
    demand = gpd.GeoDataFrame({"cell_id": np.arange(len(pts)), "elders_60": 1},
                              geometry=pts.geometry.to_numpy(), crs=points.crs)
    with warnings.catch_warnings():
        # A kind without facilities is reported through the indicator's note instead.
        warnings.filterwarnings("ignore", message=f"{kind}: no facilities")
        res = compute_coverage(demand, facilities, net, std, kinds=[kind], counts=False)
    out[np.flatnonzero(has.to_numpy())] = res.cells[f"{kind}_covered"].to_numpy(dtype=bool)
    return out


def _text(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), None).map(
        lambda v: None if v is None else str(v).strip()).to_numpy()


def policy_indicators(
    coverage: CoverageResult | gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame | None,
    villages: gpd.GeoDataFrame | None = None,
    *,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    seats: gpd.GeoDataFrame | None = None,
    many_elders: float = 100,
    targets: Mapping[str, Sequence[tuple[int | None, float]]] | None = None,
    bed_kinds: Sequence[str] = BED_KINDS,
) -> pd.DataFrame:
    """Compute the policy indicators with their targets and gaps.

    Parameters
    ----------
    coverage : CoverageResult or GeoDataFrame
        Cells from :func:`elder_coverage.engine.compute_coverage` (with the community kinds).
    facilities : GeoDataFrame
        Facilities used for coverage (``id``, ``kind``, ``capacity``; optional
        ``nursing_beds``, ``floor_area_m2``, ``township_code``, ``village_code``).
    townships : GeoDataFrame
        Township-level units: ``code``, ``is_urban`` (bool, True for 街道), seat Point geometry
        (or polygons plus ``seats``).
    villages : GeoDataFrame, optional
        Village points with ``code`` and ``elders_60`` (persons); without it the courtyard
        indicator is reported as not available.
    graph, standards
        Road graph and service standards, as for the coverage run (pass the same ones).
    seats : GeoDataFrame, optional
        Seat points with ``code`` = township code, when ``townships`` holds polygons.
    many_elders : float
        A village has "many older people" from this many elders aged 60+.
    targets : mapping, optional
        Replace targets per indicator: ``{indicator: [(year, target), ...]}``.
    bed_kinds : sequence of str
        Kinds whose capacity counts as beds.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: one row per indicator and target year; ``value`` NaN with a
        ``note`` when not available.

    Raises
    ------
    CoverageInputError
        Missing columns, duplicated township codes, CRS mismatch between the layers.
    """
    std = resolve_standards(
        coverage.standards if standards is None and isinstance(coverage, CoverageResult)
        else standards)
    cells = coverage.cells if isinstance(coverage, CoverageResult) else coverage
    net = as_network(graph)
    seat_pts = _seats(townships, seats) if townships is not None else None
    check_same_crs(cells=cells, facilities=facilities, township_seats=seat_pts,
                   villages=villages,
                   road_graph=net.crs if net is not None and net.crs is not None else None)
    tg = dict(DEFAULT_TARGETS)
    if targets:
        unknown = set(targets) - set(DEFAULT_TARGETS)
        if unknown:
            raise CoverageInputError(f"targets: unknown indicator {sorted(unknown)[0]!r}; "
                                     f"expected one of {sorted(DEFAULT_TARGETS)}")
        tg.update({k: tuple(v) for k, v in targets.items()})
    rows: list[dict[str, Any]] = []

    def add(ind: str, num: float, den: float, note: str = "", value: float | None = None):
        if value is None:
            value = num / den if den > 0 else np.nan
        zh, en, unit = LABELS[ind]
        for year, target in tg[ind]:
            rows.append({"indicator": ind, "label_zh": zh, "label_en": en, "value": value,
                         "target": target, "year": year,
                         "gap": target - value if np.isfinite(value) else np.nan,
                         "unit": unit, "numerator": num, "denominator": den, "note": note})

    kinds_present = set(facilities["kind"])
    township_indicators = ("township_centre_seat_coverage", "township_dining_hall",
                           "urban_community_dining_hall")
    if townships is None:
        # A planner's own data may come without a township layer: say so, compute the rest.
        for ind in township_indicators:
            add(ind, np.nan, np.nan, "not available: no township layer given")
    else:
        codes = _text(townships["code"])
        urban = townships["is_urban"].astype(bool).to_numpy()
        no_seat = int((seat_pts.geometry.isna() | seat_pts.geometry.is_empty).sum())
        seat_note = (f"{no_seat} township(s) without a seat point counted as not covered"
                     if no_seat else "")

        # Township centres reaching the seat.
        tc = _points_covered(seat_pts, facilities, "township_centre", net, std)
        note = seat_note if "township_centre" in kinds_present else "no township centres given"
        add("township_centre_seat_coverage", float(tc.sum()), float(len(tc)), note)

        # Dining hall inside the unit, or covering its seat.
        dh_seat = _points_covered(seat_pts, facilities, "dining_hall", net, std)
        halls = facilities.loc[facilities["kind"] == "dining_hall"]
        hall_towns = (set(_text(halls["township_code"])) - {None, ""}
                      if "township_code" in halls else set())
        has_hall = dh_seat | np.isin(codes, list(hall_towns))
        for ind, mask, what in (("township_dining_hall", ~urban, "rural townships"),
                                ("urban_community_dining_hall", urban, "urban street communities")):
            den = float(mask.sum())
            note = seat_note if den else f"no {what} in the township table"
            add(ind, float((has_hall & mask).sum()), den, note)

    # Rural courtyards for villages with many older people.
    if villages is None:
        add("village_courtyard_coverage", np.nan, np.nan, "not available: no village table")
    else:
        for col in ("code", "elders_60"):
            if col not in villages:
                raise CoverageInputError(f"villages: missing column {col!r}")
        many = pd.to_numeric(villages["elders_60"], errors="coerce").fillna(0).to_numpy() \
            >= many_elders
        big = villages.loc[many]
        cov = _points_covered(big, facilities, "rural_courtyard", net, std)
        yards = facilities.loc[facilities["kind"] == "rural_courtyard"]
        if "village_code" in yards:
            cov |= np.isin(_text(big["code"]), list(set(_text(yards["village_code"])) - {None}))
        note = f"villages with >= {many_elders:g} elders aged 60+"
        if not len(big):
            note = f"no village has >= {many_elders:g} elders aged 60+"
        add("village_courtyard_coverage", float(cov.sum()), float(len(big)), note)

    # Elders within the quarter-hour circle of any community service.
    elders = pd.to_numeric(cells["elders_60"]).to_numpy(dtype=float)
    present = [k for k in COMMUNITY_KINDS if f"{k}_covered" in cells]
    limits = ", ".join(f"{k} {std[k].minutes:g} min {std[k].travel}" for k in present)
    if present:
        inside = covered_any(cells, present)
        add("community_15min_share", float(elders[inside].sum()), float(elders.sum()),
            f"standards: {limits}")
    else:
        add("community_15min_share", np.nan, float(elders.sum()),
            "not available: coverage has no community-level kinds")

    # Beds.
    beds = facilities.loc[facilities["kind"].isin(list(bed_kinds))]
    cap = pd.to_numeric(beds["capacity"], errors="coerce").fillna(0).to_numpy(dtype=float)
    if "nursing_beds" in beds and beds["nursing_beds"].notna().any():
        nurse = pd.to_numeric(beds["nursing_beds"], errors="coerce")
        missing = int(nurse.isna().sum())
        note = f"{missing} facilit(y/ies) without nursing_beds counted as 0" if missing else ""
        add("nursing_bed_share", float(nurse.fillna(0).sum()), float(cap.sum()), note)
    else:
        add("nursing_bed_share", np.nan, float(cap.sum()),
            "not available: facilities have no nursing_beds")

    # Floor area per elder.
    if "floor_area_m2" in facilities and facilities["floor_area_m2"].notna().any():
        area = pd.to_numeric(facilities["floor_area_m2"], errors="coerce")
        missing = int(area.isna().sum())
        note = (f"{missing} of {len(area)} facilities report no floor area (value is a lower "
                "bound)" if missing else "")
        add("floor_area_per_elder", float(area.sum()), float(elders.sum()), note)
    else:
        add("floor_area_per_elder", np.nan, float(elders.sum()),
            "not available: facilities have no floor_area_m2")

    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["year"] = out["year"].astype("Int64")
    return out
