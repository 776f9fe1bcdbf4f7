"""Who is reached by which facility: per-cell, per-kind coverage.

For every populated demand cell and every facility kind the engine reports the nearest facility,
its straight-line distance (m), the network travel time (min, when a road graph is given), how
many facilities lie within the kind's service standard, and whether the cell is covered.

The routing itself (snapping to the road, searches, off-road legs) lives in
:mod:`elder_coverage.costs`, which every stage reads its travel costs from; this module turns
those trips into per-cell results. Straight-line work uses :class:`scipy.spatial.cKDTree`
(nearest by ``query``, counts by ``query_ball_point(return_length=True)``) in chunks of cells
to bound memory. Network work joins
cells and facilities to their nearest usable road *edge* (and to the main part of the graph
when that edge is on a fragment; :meth:`elder_coverage.travel.TravelGraph.attach`), the gap
travelled at the mode's off-network speed, then runs ONE multi-source Dijkstra per kind from
the facilities over the reversed graph (:func:`elder_coverage.travel.nearest_source`); counts
within the limit come from bounded searches (:func:`elder_coverage.travel.reach_within`). Two
off-network trips are weighed against the road trip and win when faster: along a shared edge,
and directly across country (straight line × ``access.<mode>_detour`` at the off-network
speed, :func:`elder_coverage.costs.direct_times`), the latter up to the kind's standard.

Cells that cannot be reached (farther from every road than an off-road leg within the
standard allows and no facility directly within it, or only joined to a part of the graph with
no facility of the kind) keep their row: ``<kind>_reachable`` is False, ``<kind>_covered``
False, and their ids are listed in :class:`CoverageReport`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from elder_coverage._inputs import (
    CoverageInputError,
    check_same_crs,
    populated_mask,
    prepare_inputs,
)
from elder_coverage.costs import (
    TravelCosts,
    _trips,
    attach_points,
    longest_minutes,
    network_nearest,
    straight_line_nearest,
)
from elder_coverage.standards import KindStandard, Standards
from elder_coverage.travel import (
    Attachment,
    ConnectivityReport,
    RoadNetwork,
    TravelGraph,
    warn_if_disconnected,
)

__all__ = ["RESULT_COLUMNS", "CoverageInputError", "CoverageReport", "CoverageResult",
           "CoverageWarning", "check_same_crs", "compute_coverage", "merge_coverage"]

#: Per-kind result columns, in order; ``{kind}`` is replaced by the facility kind.
RESULT_COLUMNS: tuple[str, ...] = (
    "{kind}_nearest_id",
    "{kind}_dist_m",
    "{kind}_time_min",
    "{kind}_n_within",
    "{kind}_covered",
    "{kind}_reachable",
)



class CoverageWarning(UserWarning):
    """Something was left out of coverage (no facilities of a kind, unreachable cells...)."""


@dataclass
class CoverageReport:
    """What the engine could not evaluate normally; nothing is dropped silently.

    Attributes
    ----------
    kinds : tuple of str
        Kinds evaluated.
    missing_kinds : list of str
        Kinds with no facilities: every cell is uncovered and unreachable for them.
    fallback_kinds : list of str
        Kinds whose standard is network-based but were judged on ``radius_m`` because no graph
        was given.
    unreachable_cells : dict
        Kind → ``cell_id`` values of populated cells that reach no facility of the kind, by
        road or directly off-road within the standard (too far from every road, or joined
        only to a part of the graph without such a facility).
    unsnapped_facilities : dict
        Kind → ``id`` values of facilities too far from the road graph to join it (see
        :func:`elder_coverage.costs.attach_points`); they serve only cells within the
        standard directly off-road.
    connectivity : dict
        Travel mode → :class:`elder_coverage.travel.ConnectivityReport`.
    messages : list of str
        Human-readable notes, one per problem.
    """

    kinds: tuple[str, ...] = ()
    missing_kinds: list[str] = field(default_factory=list)
    fallback_kinds: list[str] = field(default_factory=list)
    unreachable_cells: dict[str, np.ndarray] = field(default_factory=dict)
    unsnapped_facilities: dict[str, np.ndarray] = field(default_factory=dict)
    connectivity: dict[str, ConnectivityReport] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def unreachable_table(self) -> pd.DataFrame:
        """Long table (kind, cell_id) of every unreachable populated cell."""
        parts = [pd.DataFrame({"kind": k, "cell_id": ids})
                 for k, ids in self.unreachable_cells.items() if len(ids)]
        if not parts:
            return pd.DataFrame({"kind": pd.Series(dtype=object),
                                 "cell_id": pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        return "\n".join(self.messages) if self.messages else "coverage: no problems found"


@dataclass
class CoverageResult:
    """Output of :func:`compute_coverage`.

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        The input cells (same rows, same order) plus, per kind, the columns of
        :data:`RESULT_COLUMNS`.
    report : CoverageReport
    standards : Standards
        The standards applied.
    used_network : dict
        Kind → True when coverage was decided on network travel time.
    costs : TravelCosts or None
        The travel costs the counts were read from, when given to :func:`compute_coverage`.
    """

    cells: gpd.GeoDataFrame
    report: CoverageReport
    standards: Standards
    used_network: dict[str, bool]
    costs: TravelCosts | None = None


# --------------------------------------------------------------------------- public API


def compute_coverage(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    *,
    kinds: Iterable[str] | None = None,
    populated_only: bool = True,
    counts: bool = True,
    chunk_size: int = 1_000_000,
    costs: TravelCosts | None = None,
) -> CoverageResult:
    """Per-cell, per-kind coverage of demand cells by facilities.

    Parameters
    ----------
    cells : geopandas.GeoDataFrame
        Cell-centre points in a projected CRS with ``cell_id`` and ``elders_60`` (persons);
        ``elders_65``, ``elders_80`` and area codes are carried through.
    facilities : geopandas.GeoDataFrame
        Facility points (same CRS) with ``id`` and ``kind``. Pass only the facilities that
        should count (e.g. filter ``status == "open"`` first).
    graph : networkx.MultiDiGraph or RoadNetwork, optional
        Projected road graph with ``walk_min`` / ``drive_min`` edge times (minutes). Without
        it, network standards fall back to their ``radius_m`` (reported in
        ``report.fallback_kinds``).
    standards : Standards or mapping, optional
        Service standards, or overrides merged on the packaged defaults.
    kinds : iterable of str, optional
        Kinds to evaluate (default: every kind with a standard).
    populated_only : bool
        Evaluate only cells with elders; the others get NA in the per-kind columns and
        ``covered`` False (they hold nobody, so totals are unaffected).
    counts : bool
        Compute ``<kind>_n_within`` (bounded searches on the network side). When False the
        column is NA and ``covered`` is decided from the nearest facility alone.
    chunk_size : int
        Cells per KD-tree query.
    costs : TravelCosts, optional
        Costs of the same cells to these facilities (:func:`elder_coverage.costs.travel_costs`):
        the counts within a network standard are read from them instead of being searched
        again.

    Returns
    -------
    CoverageResult
        ``.cells`` has, per kind: ``<kind>_nearest_id`` (facility ``id``, nearest under the
        kind's deciding measure), ``<kind>_dist_m`` (straight-line metres to the nearest
        facility as the crow flies), ``<kind>_time_min`` (network minutes to the nearest
        facility by road, cell → facility, including off-network gaps; NaN without a graph),
        ``<kind>_n_within`` (facilities within the standard), ``<kind>_covered`` (bool) and
        ``<kind>_reachable`` (nullable bool: a facility can be reached at all).

    Raises
    ------
    CoverageInputError
        Bad cells or facilities (naming the rows), CRS mismatch or geographic CRS.
    StandardsError
        A requested kind without standard, or invalid overrides.

    Warns
    -----
    CoverageWarning
        A kind with no facilities, unreachable cells or facilities.
    DisconnectedGraphWarning
        The usable road graph of a travel mode is split into several parts.
    """
    std, cell_xy, fac_xy, net, kinds = prepare_inputs(cells, facilities, graph, standards, kinds)
    if costs is not None and not np.array_equal(costs.cell_ids, cells["cell_id"].to_numpy()):
        raise ValueError("costs: computed for other cells than these")
    report = CoverageReport(kinds=tuple(kinds))
    n = len(cells)
    evaluated = populated_mask(cells) if populated_only else np.ones(n, dtype=bool)
    ev = np.flatnonzero(evaluated)
    ev_xy = cell_xy[ev]
    cell_ids = cells["cell_id"].to_numpy()
    fac_kind = facilities["kind"].to_numpy()
    fac_ids = facilities["id"].to_numpy()
    new_columns: list[pd.DataFrame] = []
    attached_cells: dict[str, Attachment] = {}
    used_network: dict[str, bool] = {}

    for kind in kinds:
        ks: KindStandard = std[kind]
        rows = np.flatnonzero(fac_kind == kind)
        use_net = ks.uses_network(net is not None)
        used_network[kind] = use_net
        if ks.mode == "network" and net is None:
            report.fallback_kinds.append(kind)
        cols = _empty_columns(n)
        if rows.size == 0:
            report.missing_kinds.append(kind)
            msg = f"{kind}: no facilities of this kind; all {ev.size} evaluated cells uncovered"
            report.messages.append(msg)
            warnings.warn(msg, CoverageWarning, stacklevel=2)
            cols["n_within_known"][ev] = True
            cols["reachable_known"][ev] = True
            new_columns.append(_frame(cells.index, kind, cols))
            continue
        kxy = fac_xy[rows]
        near_s, dist_s, cnt_s = straight_line_nearest(ev_xy, kxy, ks.radius_m,
                                                      chunk_size=chunk_size)
        cols["dist_m"][ev] = dist_s
        if net is not None:
            # Straight-line kinds still get a travel time for reference; only kinds judged on
            # the network raise connectivity and joining problems.
            tg = net.mode(ks.travel)
            if use_net and ks.travel not in report.connectivity:
                report.connectivity[ks.travel] = warn_if_disconnected(tg)
                if not report.connectivity[ks.travel].connected:
                    report.messages.append(report.connectivity[ks.travel].message())
            horizon = longest_minutes(std, ks.travel)
            if ks.travel not in attached_cells:
                attached_cells[ks.travel] = attach_points(tg, ev_xy, std, ks.travel,
                                                          role="origin", horizon_min=horizon)
            trips = _trips(tg, attached_cells[ks.travel], ev_xy, kxy, std, ks.travel, horizon,
                           dist_s)
            lost = ~trips.facs.attached
            if use_net and lost.any():
                report.unsnapped_facilities[kind] = fac_ids[rows[lost]]
                msg = (f"{kind}: {int(lost.sum())} facilit(y/ies) too far from the "
                       f"{ks.travel} graph to join it are reached only directly off-road, "
                       f"e.g. id={fac_ids[rows[lost]][:3].tolist()}")
                report.messages.append(msg)
                warnings.warn(msg, CoverageWarning, stacklevel=2)
            known = None
            if costs is not None and kind in costs and use_net and counts:
                kc = costs.for_facilities(facilities, kind)
                if (kc.unit, kc.limit) != ("min", ks.minutes):
                    raise ValueError(f"costs: {kind} was costed in {kc.unit} up to {kc.limit}, "
                                     f"the standard is {ks.minutes} min")
                known = kc.counts()[ev]
            near_n, time_n, cnt_n = network_nearest(trips, ks.minutes,
                                                    counts=use_net and counts and known is None)
            if known is not None:
                cnt_n = known
            cols["time_min"][ev] = np.where(np.isfinite(time_n), time_n, np.nan)
        if use_net:
            reachable = near_n >= 0
            nearest = near_n
            covered = reachable & (time_n <= ks.minutes)
            cnt = cnt_n
            if cnt is not None:
                covered = cnt > 0
            bad = ~reachable
            if bad.any():
                report.unreachable_cells[kind] = cell_ids[ev[bad]]
                msg = (f"{kind}: {int(bad.sum())} populated cell(s) cannot reach any facility "
                       f"by {ks.travel}, neither by road nor directly off-road within the "
                       f"standard (too far from every road, or only on a part of the graph "
                       f"without such a facility), e.g. cell_id="
                       f"{cell_ids[ev[bad]][:3].tolist()}")
                report.messages.append(msg)
                warnings.warn(msg, CoverageWarning, stacklevel=2)
        else:
            reachable = np.ones(ev.size, dtype=bool)
            nearest = near_s
            covered = cnt_s > 0 if counts else dist_s <= ks.radius_m
            cnt = cnt_s if counts else None
        cols["covered"][ev] = covered
        cols["reachable"][ev] = reachable
        cols["reachable_known"][ev] = True
        if cnt is not None:
            cols["n_within"][ev] = cnt
            cols["n_within_known"][ev] = True
        found = nearest >= 0
        if found.all() and ev.size == n:
            cols["nearest_id"] = fac_ids[rows[nearest]]
        else:
            ids = np.full(n, None, dtype=object)
            ids[ev[found]] = fac_ids[rows[nearest[found]]]
            cols["nearest_id"] = ids
        new_columns.append(_frame(cells.index, kind, cols))

    # One concat instead of 30 column inserts; replaces result columns of an earlier run.
    extra = pd.concat(new_columns, axis=1) if new_columns else pd.DataFrame(index=cells.index)
    base = cells.drop(columns=[c for c in extra.columns if c in cells.columns])
    out = pd.concat([base, extra], axis=1)
    out = gpd.GeoDataFrame(out, geometry=cells.geometry.name, crs=cells.crs)
    return CoverageResult(cells=out, report=report, standards=std, used_network=used_network,
                          costs=costs)


def merge_coverage(base: CoverageResult, part: CoverageResult) -> CoverageResult:
    """``base`` with the kinds evaluated in ``part`` replaced by ``part``'s results.

    After a plan changes the facilities of some kinds (centres closed, sites added), only
    those kinds are evaluated again; the others keep their columns, counts and notes. The
    result equals evaluating every kind again on the changed facilities: per-kind columns in
    the same order and the notes in the order :func:`compute_coverage` writes them.

    Raises
    ------
    ValueError
        ``part`` was computed on other cells or with other standards.
    """
    if not (np.array_equal(base.cells["cell_id"].to_numpy(), part.cells["cell_id"].to_numpy())
            and base.standards == part.standards):
        raise ValueError("merge_coverage: the two results are for other cells or standards")
    changed = set(part.report.kinds)
    cols = [c for k in changed for c in (t.format(kind=k) for t in RESULT_COLUMNS)]
    cells = base.cells.copy()
    cells[cols] = part.cells[cols]
    b, p = base.report, part.report
    kinds = b.kinds + tuple(k for k in p.kinds if k not in b.kinds)
    pick = {k: (p if k in changed else b) for k in kinds}
    used = {k: (part if k in changed else base).used_network.get(k, False) for k in kinds}
    report = CoverageReport(
        kinds=kinds,
        missing_kinds=[k for k in kinds if k in pick[k].missing_kinds],
        fallback_kinds=[k for k in kinds if k in pick[k].fallback_kinds],
        unreachable_cells={k: pick[k].unreachable_cells[k] for k in kinds
                           if k in pick[k].unreachable_cells},
        unsnapped_facilities={k: pick[k].unsnapped_facilities[k] for k in kinds
                              if k in pick[k].unsnapped_facilities},
        connectivity={**b.connectivity, **p.connectivity},
    )
    std = base.standards
    for k in kinds:
        # As compute_coverage writes them: the graph's note before the first kind using it.
        if k not in pick[k].missing_kinds and used[k]:
            travel = std[k].travel
            conn = report.connectivity.get(travel)
            note = conn.message() if conn is not None and not conn.connected else None
            if note is not None and note not in report.messages:
                report.messages.append(note)
        report.messages.extend(m for m in pick[k].messages if m.startswith(f"{k}: "))
    return CoverageResult(cells=cells, report=report, standards=std, used_network=used)


def _empty_columns(n: int) -> dict[str, Any]:
    return {
        "nearest_id": np.full(n, None, dtype=object),
        "dist_m": np.full(n, np.nan),
        "time_min": np.full(n, np.nan),
        "n_within": np.zeros(n, dtype=np.int32),
        "n_within_known": np.zeros(n, dtype=bool),
        "covered": np.zeros(n, dtype=bool),
        "reachable": np.zeros(n, dtype=bool),
        "reachable_known": np.zeros(n, dtype=bool),
    }


def _frame(index: pd.Index, kind: str, cols: dict[str, Any]) -> pd.DataFrame:
    # Cells never evaluated get NA (pandas nullable dtypes) rather than a misleading 0/False.
    n_within = pd.arrays.IntegerArray(cols["n_within"], ~cols["n_within_known"])
    reachable = pd.arrays.BooleanArray(cols["reachable"], ~cols["reachable_known"])
    return pd.DataFrame(
        {
            f"{kind}_nearest_id": cols["nearest_id"],
            f"{kind}_dist_m": cols["dist_m"],
            f"{kind}_time_min": cols["time_min"],
            f"{kind}_n_within": n_within,
            f"{kind}_covered": cols["covered"],
            f"{kind}_reachable": reachable,
        },
        index=index,
    )
