"""Policy indicators: value, target, year, scope and source of each elder-care planning target.

What each indicator measures, its targets and the document and clause they come from are in
the registry ``policy.yaml`` (:mod:`elder_coverage.policy`); this module computes the
numerators and denominators. Every output row carries ``source`` (文号 and clause), ``scope``
(province / city / study area) and ``year``. An indicator whose input is missing is reported
with ``value`` NaN and a ``note`` starting "not available:" that says why; no other quantity
is put in its place.

Counting rules the documents leave to the measurer:

* A facility belongs to a township (county) by its ``township_code`` (``county_code``), or,
  where the code is blank and the township (county) layer has polygons, by the polygon it
  lies in.
* Regional centres (kind ``township_centre``): *built* in a township (2025 city target) means
  registered to it; a township is *covered* (2029 province target, 乡镇 only) when it has its
  own centre, is listed in a centre's ``serves_townships`` (a cross-township centre) or, as
  the registry's ``regional_centre.serves_by_reach`` allows, its seat is within the
  ``township_centre`` service standard of a centre.
* Dining halls: a township or street *has* one registered to it or reaching its seat.
* High-need villages: every criterion set under ``assumptions.high_need_village`` must hold
  (count of elders 60+, elders within a walking radius, share of 80+); the note shows how the
  indicator moves with the count threshold.
* A count target set for the whole city (beds) is pro-rated to a smaller study area by its
  share of the city's elders 60+; shares are compared as they are.

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
import shapely
from scipy.spatial import cKDTree

from elder_coverage._inputs import check_keyed_table
from elder_coverage.aggregate import BED_KINDS, COMMUNITY_KINDS, covered_any
from elder_coverage.engine import (
    CoverageInputError,
    CoverageResult,
    check_same_crs,
    compute_coverage,
)
from elder_coverage.kinds import kinds_with_role
from elder_coverage.policy import (
    Indicator,
    Policy,
    PolicyError,
    Target,
    assumption,
    load_policy,
)
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import RoadNetwork, TravelGraph, as_network

COLUMNS: tuple[str, ...] = ("indicator", "label_zh", "label_en", "value", "target", "year",
                            "gap", "unit", "numerator", "denominator", "note", "source",
                            "scope", "spatial")
#: Kinds whose land counts as community elder-care facility land (社区养老服务设施): the
#: ``community_land`` role of ``kinds.yaml``.
COMMUNITY_LAND_KINDS: tuple[str, ...] = kinds_with_role("community_land")
#: ``scope`` of a descriptive figure (no target): the study area itself.
STUDY_AREA_SCOPE = "study_area"
_NA = "not available: "


def _seats(townships: gpd.GeoDataFrame, seats: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """One row per township: ``code`` and seat Point (None where unknown)."""
    check_keyed_table(townships, "townships", ["is_urban"], "code")
    if seats is not None:
        if "code" not in seats:
            raise CoverageInputError("seats: missing column 'code' (township code)")
        by_code = dict(zip(_text(seats["code"]), seats.geometry, strict=True))
        geom = [by_code.get(c) for c in _text(townships["code"])]
        return gpd.GeoDataFrame(townships[["code"]].copy(),
                                geometry=gpd.GeoSeries(geom, index=townships.index,
                                                       crs=seats.crs), crs=seats.crs)
    types = townships.geometry.geom_type
    bad = types.notna() & (types != "Point")
    if bad.any():
        raise CoverageInputError(
            f"townships: code={townships.loc[bad, 'code'].iloc[0]!r} has a "
            f"{types[bad].iloc[0]} geometry; pass seat points with seats=")
    return gpd.GeoDataFrame(townships[["code"]].copy(), geometry=townships.geometry,
                            crs=townships.crs)


def _points_covered(points: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, kind: str,
                    net: RoadNetwork | None, std: Standards,
                    memo: list | None = None) -> np.ndarray:
    """Covered flag per point (False where the point has no geometry).

    ``memo`` (a list, see ``reach_memo`` of :func:`policy_indicators`) keeps each answer with
    the very facilities, network and standards objects and the points' WKB it was computed
    for, and answers a later call on the same of all four from it: a point's reach depends on
    nothing else, so the indicators of a second demand year route no point again.
    """
    has = points.geometry.notna() & ~points.geometry.is_empty
    out = np.zeros(len(points), dtype=bool)
    if not has.any() or not (facilities["kind"] == kind).any():
        return out
    wkb = shapely.to_wkb(points.geometry.to_numpy()) if memo is not None else None
    for m_kind, m_fac, m_net, m_std, m_wkb, m_out in memo or ():
        # Identity, not equality, of the inputs: the memo holds them, so no id is reused.
        if (m_kind == kind and m_fac is facilities and m_net is net and m_std is std
                and np.array_equal(m_wkb, wkb)):
            return m_out.copy()
    pts = points.loc[has]
    demand = gpd.GeoDataFrame({"cell_id": np.arange(len(pts)), "elders_60": 1},
                              geometry=pts.geometry.to_numpy(), crs=points.crs)
    with warnings.catch_warnings():
        # A kind without facilities is reported through the indicator's note instead.
        warnings.filterwarnings("ignore", message=f"{kind}: no facilities")
        res = compute_coverage(demand, facilities, net, std, kinds=[kind], counts=False)
    out[np.flatnonzero(has.to_numpy())] = res.cells[f"{kind}_covered"].to_numpy(dtype=bool)
    if memo is not None:
        memo.append((kind, facilities, net, std, wkb, out.copy()))
    return out


def _member(values: np.ndarray, allowed: set) -> np.ndarray:
    """``values`` in ``allowed``, by hashing (np.isin sorts object arrays: slow on villages)."""
    return pd.Series(values, dtype=object).isin(allowed).to_numpy(dtype=bool)


def _text(values: pd.Series) -> np.ndarray:
    return np.array([None if v is None or pd.isna(v) or str(v).strip() == "" else str(v).strip()
                     for v in values.astype(object)], dtype=object)


def _area_of(facilities: gpd.GeoDataFrame, column: str,
             areas: gpd.GeoDataFrame | None) -> np.ndarray:
    """Area code per facility: ``column`` where given, else the polygon of ``areas`` it is in."""
    codes = (_text(facilities[column]) if column in facilities
             else np.full(len(facilities), None, dtype=object))
    blank = np.array([c is None for c in codes])
    if blank.any() and areas is not None and len(areas) and \
            areas.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        pts = gpd.GeoDataFrame(geometry=facilities.geometry.to_numpy()[blank], crs=facilities.crs)
        hit = gpd.sjoin(pts, areas[["code", areas.geometry.name]].to_crs(facilities.crs),
                        how="left", predicate="within")
        hit = hit[~hit.index.duplicated(keep="first")].sort_index()
        codes[blank] = _text(hit["code"])
    return codes


def _of_kind(facilities: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    return facilities.loc[facilities["kind"] == kind]


def _scope_text(policy: Policy, scope: str, lang: str = "zh") -> str:
    return str(policy.scopes[scope][lang])


class _Rows:
    """Collects output rows, one per indicator and target, in registry order."""

    def __init__(self, policy: Policy, overrides: Mapping[str, Sequence[Target]],
                 elders_total: float, counties: gpd.GeoDataFrame | None):
        self.policy, self.overrides = policy, overrides
        self.elders_total, self.counties = elders_total, counties
        self.rows: dict[str, list[dict[str, Any]]] = {k: [] for k in policy.indicators}

    def _city_share(self) -> tuple[float, str]:
        """Share of the city's elders 60+ in the study area, and the sentence saying so."""
        city = self.policy.scopes["city"]
        total = float(city.get("elders_60") or 0)
        if total <= 0:
            raise PolicyError("policy.yaml: scopes.city.elders_60 is needed to pro-rate a "
                              "city-wide target")
        share = self.elders_total / total
        return share, (f"study area holds {share:.1%} of {city['zh']}'s {total:,.0f} persons "
                       f"60+ ({city.get('elders_60_source', '')})")

    def _outside_city(self) -> bool:
        if self.counties is None:
            return False
        code = str(self.policy.scopes["city"]["code"])
        col = "city_code" if "city_code" in self.counties else "code"
        codes = [c for c in _text(self.counties[col]) if c is not None]
        return bool(codes) and not any(c.startswith(code) for c in codes)

    def add(self, key: str, num: float, den: float, note: str = "", *,
            value: float | None = None) -> None:
        ind: Indicator = self.policy.indicators[key]
        if value is None:
            value = num / den if np.isfinite(den) and den > 0 else np.nan
        base = {"indicator": key, "label_zh": ind.label["zh"], "label_en": ind.label["en"],
                "value": value, "unit": ind.unit, "numerator": num, "denominator": den,
                "spatial": ind.spatial}
        targets = self.overrides.get(key, ind.targets)
        if not targets:
            self.rows[key].append({**base, "target": np.nan, "year": None, "gap": np.nan,
                                   "note": note, "scope": STUDY_AREA_SCOPE,
                                   "source": ind.reference or "descriptive (no target)"})
            return
        for t in targets:
            target, extra = t.value, ""
            if t.scope == "city" and self._outside_city():
                target, extra = np.nan, (f"target set for {_scope_text(self.policy, 'city')}; "
                                         "the study area lies outside it")
            elif t.scope == "city" and ind.unit == "beds":
                share, said = self._city_share()
                if share < 0.995:
                    rule = self.policy.assumptions.get("city_target_in_smaller_area", {})
                    if rule.get("rule") != "elders_60_share":
                        raise PolicyError("policy.yaml: assumptions.city_target_in_smaller_"
                                          f"area.rule {rule.get('rule')!r} is not known")
                    target = t.value * share
                    extra = (f"target {t.value:,.0f} is for all of "
                             f"{_scope_text(self.policy, 'city')}; {said}: pro-rated to "
                             f"{target:,.0f} (rule: elders_60_share)")
            elif t.scope == "city" and self.counties is not None:
                share, said = self._city_share()
                if share < 0.995:
                    extra = (f"target set for all of {_scope_text(self.policy, 'city')}; "
                             "compared with the study area's rate")
            gap = target - value if np.isfinite(value) and np.isfinite(target) else np.nan
            self.rows[key].append({**base, "target": target, "year": t.year, "gap": gap,
                                   "note": "; ".join(s for s in (note, extra) if s),
                                   "scope": t.scope, "source": t.source})

    def frame(self) -> pd.DataFrame:
        missing = [k for k, v in self.rows.items() if not v]
        if missing:
            raise PolicyError(f"policy.yaml: indicator {missing[0]!r} has no computation in "
                              "elder_coverage.indicators")
        out = pd.DataFrame([r for rows in self.rows.values() for r in rows],
                           columns=list(COLUMNS))
        out["year"] = pd.array(out["year"].tolist(), dtype="Int64")
        return out


def high_need_villages(
    villages: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame | None = None,
    *,
    min_elders_60: float | None = None,
    concentration_radius_m: float = assumption("high_need_village", "concentration_radius_m"),
    min_elders_within_radius: float | None = None,
    min_share_80: float | None = None,
) -> np.ndarray:
    """Which villages count as "many, concentrated, high-need" (all criteria that are set).

    Parameters
    ----------
    villages : GeoDataFrame
        Village points with ``elders_60`` (persons); ``elders_80`` (persons) is used for the
        need criterion when present; rows with ``is_urban`` True (urban communities) never
        qualify.
    cells : GeoDataFrame, optional
        Demand cells (``elders_60``, ``elders_80``, persons) in the villages' CRS; needed for the
        concentration criterion and, without a village ``elders_80``, for the need criterion.
    min_elders_60 : float, optional
        Count: at least this many persons aged 60+ in the village.
    concentration_radius_m : float
        Radius (metres) around the village point for the cell-based criteria; default
        ``policy.yaml`` ``assumptions.high_need_village.concentration_radius_m``.
    min_elders_within_radius : float, optional
        Concentration: at least this many persons 60+ in cells within the radius.
    min_share_80 : float, optional
        Need: share of 80+ among 60+ at least this (0-1).

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    CoverageInputError
        A criterion is set but its input column is missing (the message names it).
    """
    if "elders_60" not in villages:
        raise CoverageInputError("villages: missing column 'elders_60'")
    n60 = pd.to_numeric(villages["elders_60"], errors="coerce").fillna(0).to_numpy(float)
    # The documents speak of rural villages (村); urban communities (社区) are not candidates.
    keep = (~villages["is_urban"].astype(bool).to_numpy() if "is_urban" in villages
            else np.ones(len(villages), dtype=bool))
    if min_elders_60 is not None:
        keep &= n60 >= min_elders_60
    need_cells = min_elders_within_radius is not None or (
        min_share_80 is not None and "elders_80" not in villages)
    if need_cells:
        if cells is None or "elders_60" not in cells:
            raise CoverageInputError("high-need villages: the concentration/need criteria need "
                                     "demand cells with 'elders_60'")
        xy = np.column_stack([cells.geometry.x, cells.geometry.y])
        vxy = np.column_stack([villages.geometry.x, villages.geometry.y])
        near = cKDTree(xy).query_ball_point(vxy, r=concentration_radius_m) if len(xy) else \
            [[] for _ in range(len(vxy))]
        c60 = pd.to_numeric(cells["elders_60"]).to_numpy(float)
        within60 = np.array([c60[i].sum() for i in near], dtype=float)
        if min_elders_within_radius is not None:
            keep &= within60 >= min_elders_within_radius
    if min_share_80 is not None:
        if "elders_80" in villages:
            n80 = pd.to_numeric(villages["elders_80"], errors="coerce").to_numpy(float)
            share = np.divide(n80, n60, out=np.zeros_like(n60), where=n60 > 0)
        else:
            if "elders_80" not in cells:
                raise CoverageInputError("high-need villages: min_share_80 needs 'elders_80' on "
                                         "the villages or the demand cells")
            c80 = pd.to_numeric(cells["elders_80"]).to_numpy(float)
            within80 = np.array([c80[i].sum() for i in near], dtype=float)
            share = np.divide(within80, within60, out=np.zeros_like(within60),
                              where=within60 > 0)
        keep &= share >= min_share_80
    return keep


def _village_criteria(policy: Policy, given: Mapping[str, Any] | None) -> dict[str, Any]:
    base = dict(policy.assumptions.get("high_need_village", {}))
    sens = base.pop("sensitivity", [])
    if given:
        unknown = set(given) - set(base)
        if unknown:
            raise CoverageInputError(f"village_criteria: unknown key {sorted(unknown)[0]!r}; "
                                     f"expected {sorted(base)}")
        base.update(given)
    return {**base, "sensitivity": list(sens)}


def _criteria_text(c: Mapping[str, Any]) -> str:
    parts = []
    if c.get("min_elders_60") is not None:
        parts.append(f">= {c['min_elders_60']:g} elders 60+")
    if c.get("min_elders_within_radius") is not None:
        parts.append(f">= {c['min_elders_within_radius']:g} elders 60+ within "
                     f"{c['concentration_radius_m']:g} m")
    if c.get("min_share_80") is not None:
        parts.append(f"80+ share >= {c['min_share_80']:.0%}")
    return ("high-need villages: rural, " + (", ".join(parts) or "every village")
            + " (assumptions, policy.yaml)")


def _parse_overrides(policy: Policy,
                     targets: Mapping[str, Sequence[tuple[int | None, float]]] | None
                     ) -> dict[str, tuple[Target, ...]]:
    if not targets:
        return {}
    unknown = set(targets) - set(policy.indicators)
    if unknown:
        raise CoverageInputError(f"targets: unknown indicator {sorted(unknown)[0]!r}; "
                                 f"expected one of {sorted(policy.indicators)}")
    # A planner's own target is for the study area itself: never pro-rated or scope-checked.
    return {key: tuple(Target(float(v), y, STUDY_AREA_SCOPE, "user override", "")
                       for y, v in pairs) for key, pairs in targets.items()}


def policy_indicators(
    coverage: CoverageResult | gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    townships: gpd.GeoDataFrame | None,
    villages: gpd.GeoDataFrame | None = None,
    *,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    seats: gpd.GeoDataFrame | None = None,
    counties: gpd.GeoDataFrame | None = None,
    residents: float | None = None,
    village_criteria: Mapping[str, Any] | None = None,
    targets: Mapping[str, Sequence[tuple[int | None, float]]] | None = None,
    policy: Policy | None = None,
    bed_kinds: Sequence[str] = BED_KINDS,
    reach_memo: list | None = None,
) -> pd.DataFrame:
    """Compute the policy indicators of the registry with their targets, gaps and sources.

    Parameters
    ----------
    coverage : CoverageResult or GeoDataFrame
        Cells from :func:`elder_coverage.engine.compute_coverage` (with the community kinds);
        ``elders_60`` (persons) is the elder denominator.
    facilities : GeoDataFrame
        Open facilities (``id``, ``kind``, ``capacity``; optional ``nursing_beds``,
        ``floor_area_m2`` and ``land_m2`` in m², ``county_managed``, ``serves_townships``,
        ``county_code``, ``township_code``, ``village_code``).
    townships : GeoDataFrame or None
        Township-level units: ``code``, ``is_urban`` (bool, True for 街道), seat Point geometry
        (or polygons plus ``seats``). None: the township indicators are not available.
    villages : GeoDataFrame, optional
        Village points with ``code`` and ``elders_60`` (persons).
    graph, standards
        Road graph and service standards, as for the coverage run (pass the same ones).
    seats : GeoDataFrame, optional
        Seat points with ``code`` = township code, when ``townships`` holds polygons.
    counties : GeoDataFrame, optional
        Counties of the study area (``code``; ``city_code`` when known): the denominator of the
        county-facility indicator and the check of a city target's scope.
    residents : float, optional
        Residents of all ages in the study area (persons), the denominator of the land
        standard; a ``residents`` column of the cells is used when this is not given.
    village_criteria : mapping, optional
        Replace high-need village criteria of ``policy.yaml`` (``min_elders_60``,
        ``concentration_radius_m`` in metres, ``min_elders_within_radius``, ``min_share_80``).
    targets : mapping, optional
        Replace targets per indicator: ``{indicator: [(year, target), ...]}``; such rows have
        source "user override".
    policy : Policy, optional
        A registry other than the packaged ``policy.yaml``.
    bed_kinds : sequence of str
        Kinds whose capacity counts as elder-care beds.
    reach_memo : list, optional
        An empty list to share between calls that differ only in elders (the indicators of
        several demand years): which township seats and villages the facilities reach is
        kept in it and routed once. Valid while the facilities, road network and standards
        objects are not changed in place between the calls.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per indicator and target (one row for a descriptive
        figure): ``value`` NaN with a "not available: …" ``note`` when an input is missing.

    Raises
    ------
    CoverageInputError
        Missing columns, duplicated township codes, CRS mismatch between the layers, unknown
        indicator or village criterion.
    """
    pol = policy or load_policy()
    std = resolve_standards(
        coverage.standards if standards is None and isinstance(coverage, CoverageResult)
        else standards)
    cells = coverage.cells if isinstance(coverage, CoverageResult) else coverage
    net = as_network(graph)
    seat_pts = _seats(townships, seats) if townships is not None else None
    check_same_crs(cells=cells, facilities=facilities, township_seats=seat_pts,
                   villages=villages, counties=counties,
                   road_graph=net.crs if net is not None and net.crs is not None else None)
    elders = pd.to_numeric(cells["elders_60"]).to_numpy(dtype=float)
    out = _Rows(pol, _parse_overrides(pol, targets), float(elders.sum()), counties)
    kinds_present = set(facilities["kind"])

    _township_indicators(out, pol, facilities, townships, seat_pts, net, std, kinds_present,
                         memo=reach_memo)
    _county_managed(out, facilities)
    _villages(out, pol, cells, facilities, villages, net, std, village_criteria,
              memo=reach_memo)
    _counties(out, facilities, counties)
    _beds(out, facilities, elders, bed_kinds)
    _land_and_floor(out, cells, facilities, elders, residents)

    present = [k for k in COMMUNITY_KINDS if f"{k}_covered" in cells]
    if present:
        limits = ", ".join(f"{k} {std[k].minutes:g} min {std[k].travel}" for k in present)
        inside = covered_any(cells, present)
        out.add("community_15min_share", float(elders[inside].sum()), float(elders.sum()),
                f"standards: {limits}")
    else:
        out.add("community_15min_share", np.nan, float(elders.sum()),
                _NA + "coverage has no community-level kinds")
    return out.frame()


def _township_indicators(out: _Rows, pol: Policy, facilities: gpd.GeoDataFrame,
                         townships: gpd.GeoDataFrame | None, seat_pts: gpd.GeoDataFrame | None,
                         net: RoadNetwork | None, std: Standards, kinds_present: set, *,
                         memo: list | None = None) -> None:
    keys = ("regional_centre_built_rate", "regional_centre_township_coverage",
            "township_dining_hall", "urban_community_dining_hall", "embedded_centre_street")
    if townships is None:
        # A planner's own data may come without a township layer: say so, compute the rest.
        for key in keys:
            out.add(key, np.nan, np.nan, _NA + "no township layer given")
        return
    codes = _text(townships["code"])
    urban = townships["is_urban"].astype(bool).to_numpy()
    no_seat = int((seat_pts.geometry.isna() | seat_pts.geometry.is_empty).sum())
    seat_note = (f"{no_seat} township(s) without a seat point counted as not reached"
                 if no_seat else "")

    def has_registered(kind: str) -> np.ndarray:
        fac = _of_kind(facilities, kind)
        where = set(_area_of(fac, "township_code", townships)) - {None}
        return _member(codes, where)

    centre_kind = pol.assumptions.get("regional_centre", {}).get("kind", "township_centre")
    own = has_registered(centre_kind)
    none_note = "" if centre_kind in kinds_present else f"no {centre_kind} facilities given"
    out.add("regional_centre_built_rate", float(own.sum()), float(len(codes)), none_note)

    centres = _of_kind(facilities, centre_kind)
    listed = set()
    if "serves_townships" in centres:
        for v in _text(centres["serves_townships"]):
            listed |= {s.strip() for s in str(v or "").replace("；", ";").split(";") if s.strip()}
    by_list = _member(codes, listed) & ~own
    by_reach = np.zeros(len(codes), dtype=bool)
    if pol.assumptions.get("regional_centre", {}).get("serves_by_reach", False):
        by_reach = _points_covered(seat_pts, facilities, centre_kind, net, std,
                                   memo) & ~own & ~by_list
    rural = ~urban
    served = (own | by_list | by_reach) & rural
    if rural.any():
        note = (f"{int((own & rural).sum())} with their own centre, "
                f"{int((by_list & rural).sum())} listed in a centre's serves_townships, "
                f"{int((by_reach & rural).sum())} reached by a centre in another township "
                f"({std[centre_kind].minutes:g} min {std[centre_kind].travel})")
        out.add("regional_centre_township_coverage", float(served.sum()), float(rural.sum()),
                "; ".join(s for s in (note, seat_note, none_note) if s))
    else:
        out.add("regional_centre_township_coverage", 0.0, 0.0,
                _NA + "no rural townships (乡镇) in the township table")

    hall = _points_covered(seat_pts, facilities, "dining_hall", net, std, memo) | \
        has_registered("dining_hall")
    for key, mask, what in (("township_dining_hall", rural, "rural townships (乡镇)"),
                            ("urban_community_dining_hall", urban, "streets (街道)")):
        if mask.any():
            out.add(key, float((hall & mask).sum()), float(mask.sum()), seat_note)
        else:
            out.add(key, 0.0, 0.0, _NA + f"no {what} in the township table")

    if urban.any():
        emb = has_registered("embedded_centre") & urban
        note = "" if "embedded_centre" in kinds_present else \
            "no embedded_centre (综合嵌入式社区居家养老服务中心) in the facility list"
        out.add("embedded_centre_street", float(emb.sum()), float(urban.sum()), note)
    else:
        out.add("embedded_centre_street", 0.0, 0.0,
                _NA + "no streets (街道) in the township table")


def _county_managed(out: _Rows, facilities: gpd.GeoDataFrame) -> None:
    centres = _of_kind(facilities, "township_centre")
    key = "township_centre_county_managed"
    if not len(centres):
        out.add(key, 0.0, 0.0, _NA + "no township welfare centres (township_centre) given")
        return
    if "county_managed" not in centres or centres["county_managed"].isna().all():
        out.add(key, np.nan, float(len(centres)),
                _NA + "facilities have no county_managed (县级直管) attribute")
        return
    flag = centres["county_managed"].astype("boolean")
    unknown = int(flag.isna().sum())
    note = (f"{unknown} centre(s) without county_managed counted as not directly managed "
            "(value is a lower bound)" if unknown else "")
    out.add(key, float(flag.fillna(False).sum()), float(len(centres)), note)


def _courtyard_reach(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                     net: RoadNetwork | None, std: Standards,
                     memo: list | None = None) -> np.ndarray:
    """Village has a courtyard: one registered to it or within the courtyard standard."""
    if "code" not in villages:
        raise CoverageInputError("villages: missing column 'code'")
    cov = _points_covered(villages, facilities, "rural_courtyard", net, std, memo)
    yards = _of_kind(facilities, "rural_courtyard")
    if "village_code" in yards:
        cov |= _member(_text(villages["code"]), set(_text(yards["village_code"])) - {None})
    return cov


def _scan(villages: gpd.GeoDataFrame, cells: gpd.GeoDataFrame | None, cov: np.ndarray,
          crit: Mapping[str, Any], thresholds: Sequence[float]) -> pd.DataFrame:
    others = {k: crit[k] for k in ("concentration_radius_m", "min_elders_within_radius",
                                   "min_share_80")}
    rows = []
    for th in thresholds:
        sel = high_need_villages(villages, cells, min_elders_60=th, **others)
        n, k = int(sel.sum()), int((cov & sel).sum())
        rows.append({"min_elders_60": th, "villages": n, "covered": k,
                     "share": k / n if n else np.nan})
    return pd.DataFrame(rows, columns=["min_elders_60", "villages", "covered", "share"])


def courtyard_threshold_scan(
    villages: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame | None = None,
    *,
    thresholds: Sequence[float] | None = None,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    village_criteria: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
) -> pd.DataFrame:
    """How the courtyard indicator moves with the "many elders" count threshold.

    Parameters
    ----------
    villages, facilities, cells
        As for :func:`policy_indicators` (cells only for the concentration/need criteria).
    thresholds : sequence of float, optional
        Counts of persons 60+ to try; default the registry's ``sensitivity`` list.
    graph, standards
        Road graph and service standards.
    village_criteria : mapping, optional
        Other criteria held fixed (as for :func:`policy_indicators`).
    policy : Policy, optional

    Returns
    -------
    pandas.DataFrame
        ``min_elders_60`` (persons), ``villages`` (qualifying), ``covered``, ``share`` (0-1,
        NaN when no village qualifies).
    """
    crit = _village_criteria(policy or load_policy(), village_criteria)
    cov = _courtyard_reach(villages, facilities, as_network(graph), resolve_standards(standards))
    return _scan(villages, cells, cov, crit,
                 crit["sensitivity"] if thresholds is None else thresholds)


def _villages(out: _Rows, pol: Policy, cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
              villages: gpd.GeoDataFrame | None, net: RoadNetwork | None, std: Standards,
              given: Mapping[str, Any] | None, *, memo: list | None = None) -> None:
    key = "village_courtyard_coverage"
    crit = _village_criteria(pol, given)
    if villages is None:
        out.add(key, np.nan, np.nan, _NA + "no village table")
        return
    # Coverage of every village once, so that the threshold scan costs nothing more.
    cov = _courtyard_reach(villages, facilities, net, std, memo)
    need = high_need_villages(villages, cells, min_elders_60=crit["min_elders_60"],
                              **{k: crit[k] for k in ("concentration_radius_m",
                                                      "min_elders_within_radius",
                                                      "min_share_80")})
    scan = _scan(villages, cells, cov, crit, crit["sensitivity"])
    note = _criteria_text(crit)
    if len(scan):
        note += "; by count threshold " + ", ".join(
            f">= {r.min_elders_60:g}: {r.covered}/{r.villages} = "
            + ("n/a" if np.isnan(r.share) else f"{r.share:.0%}") for r in scan.itertuples())
    if not need.any():
        out.add(key, 0.0, 0.0, _NA + "no village meets the criteria; " + note)
        return
    out.add(key, float((cov & need).sum()), float(need.sum()), note)


def _counties(out: _Rows, facilities: gpd.GeoDataFrame,
              counties: gpd.GeoDataFrame | None) -> None:
    key = "county_destitute_care_facility"
    if counties is None or "code" not in counties:
        out.add(key, np.nan, np.nan, _NA + "no county layer given")
        return
    codes = [c for c in _text(counties["code"]) if c is not None]
    homes = _of_kind(facilities, "county_home")
    have = set(_area_of(homes, "county_code", counties)) - {None}
    out.add(key, float(sum(c in have for c in codes)), float(len(codes)),
            "county_home counted as the county-level home for disabled extremely poor elders")


def _beds(out: _Rows, facilities: gpd.GeoDataFrame, elders: np.ndarray,
          bed_kinds: Sequence[str]) -> None:
    beds = facilities.loc[facilities["kind"].isin(list(bed_kinds))]
    cap = float(pd.to_numeric(beds["capacity"], errors="coerce").fillna(0).sum())
    kinds = "beds of " + ", ".join(bed_kinds)
    out.add("beds_total", cap, np.nan, kinds, value=cap)
    out.add("beds_per_1000_elders", cap, float(elders.sum()) / 1000.0, kinds)
    if "nursing_beds" in beds and beds["nursing_beds"].notna().any():
        nurse = pd.to_numeric(beds["nursing_beds"], errors="coerce")
        missing = int(nurse.isna().sum())
        note = f"{missing} facilit(y/ies) without nursing_beds counted as 0" if missing else ""
        out.add("nursing_bed_share", float(nurse.fillna(0).sum()), cap, note)
    else:
        out.add("nursing_bed_share", np.nan, cap, _NA + "facilities have no nursing_beds")


def _land_and_floor(out: _Rows, cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                    elders: np.ndarray, residents: float | None) -> None:
    key = "community_land_per_resident"
    if residents is None and "residents" in cells:
        residents = float(pd.to_numeric(cells["residents"]).sum())
    comm = facilities.loc[facilities["kind"].isin(list(COMMUNITY_LAND_KINDS))]
    if "land_m2" not in comm or comm["land_m2"].isna().all():
        out.add(key, np.nan, np.nan if residents is None else float(residents),
                _NA + "facilities give no land_m2 (land area); floor area is not land")
    elif residents is None or residents <= 0:
        out.add(key, float(pd.to_numeric(comm["land_m2"]).sum()), np.nan,
                _NA + "no count of residents of all ages (the standard is per resident)")
    else:
        land = pd.to_numeric(comm["land_m2"], errors="coerce")
        missing = int(land.isna().sum())
        note = "the standard is planned per district (分区); study-area value shown"
        if missing:
            note += f"; {missing} community facilit(y/ies) without land_m2 (value is a lower bound)"
        out.add(key, float(land.sum()), float(residents), note)

    if "floor_area_m2" in facilities and facilities["floor_area_m2"].notna().any():
        area = pd.to_numeric(facilities["floor_area_m2"], errors="coerce")
        missing = int(area.isna().sum())
        note = (f"{missing} of {len(area)} facilities report no floor area (value is a lower "
                "bound)" if missing else "")
        out.add("floor_area_per_elder", float(area.sum()), float(elders.sum()), note)
    else:
        out.add("floor_area_per_elder", np.nan, float(elders.sum()),
                _NA + "facilities have no floor_area_m2")
