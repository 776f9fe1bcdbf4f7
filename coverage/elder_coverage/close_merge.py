"""Close or merge township welfare centres (撤并整合) and place their residents.

Policy asks to close or merge welfare centres that are run-down, fail fire safety or stand
empty, and to turn the good ones into regional centres. :func:`assess_centres` says which
centres fail and why; :func:`plan_close_merge` chooses which of them to close — every failing
centre unless it is needed to keep coverage at a target (set cover over the failing ones,
the rest kept), or a fixed number (p-median: least elder-weighted travel time) — then moves
each closed centre's residents to receiving centres with spare beds by the shortest road
distance (a transportation problem solved with HiGHS), and recomputes coverage cell by cell
so that the before/after figures agree elder by elder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage._errors import InfeasiblePlanError
from elder_coverage.costs import (
    KindCosts,
    TravelCosts,
    reach_matrix,
    road_distance_m,
    straight_distance_m,
    travel_costs,
)
from elder_coverage.engine import compute_coverage
from elder_coverage.kinds import kinds_with_role
from elder_coverage.optimize import p_median
from elder_coverage.optimize.closure import closure_groups, solve_closure
from elder_coverage.optimize.transport import assign_residents
from elder_coverage.policy import assumption
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import as_network

#: The kind assessed for closing or merging: the ``close_merge`` role of ``kinds.yaml``.
(KIND,) = kinds_with_role("close_merge")


@dataclass(frozen=True)
class Criteria:
    """When a welfare centre fails (any one reason is enough).

    The reasons are those of 吉民发〔2025〕20号 measure 2; the defaults are the registry's
    ``assumptions.closure`` (``policy.yaml``).

    Attributes
    ----------
    built_before : int
        Built before this year: run-down stock.
    min_occupancy : float
        Occupancy (0-1) below this: standing (nearly) empty.
    require_fire_safety : bool
        A failed fire-safety inspection fails the centre.
    """

    built_before: int = assumption("closure", "built_before")
    min_occupancy: float = assumption("closure", "min_occupancy")
    require_fire_safety: bool = assumption("closure", "require_fire_safety")


def assess_centres(facilities: gpd.GeoDataFrame, criteria: Criteria = Criteria()) -> pd.DataFrame:
    """Which township centres fail the closing criteria, and why.

    Parameters
    ----------
    facilities : GeoDataFrame
        Facilities; rows of kind ``township_centre`` with status open are assessed.
    criteria : Criteria

    Returns
    -------
    DataFrame
        ``id``, ``name``, ``county_code``, ``capacity``, ``occupancy``, ``residents``
        (persons: occupancy × beds, rounded), ``spare_beds``, ``built_year``,
        ``fire_safety_ok``, ``fails`` (bool) and ``reasons`` (text; missing data is not a
        failure but is named).
    """
    fac = _open_centres(facilities)
    reasons = []
    for row in fac.itertuples():
        why = []
        by = getattr(row, "built_year", pd.NA)
        if pd.notna(by) and int(by) < criteria.built_before:
            why.append(f"built {int(by)} (< {criteria.built_before})")
        occ = getattr(row, "occupancy", np.nan)
        if pd.notna(occ) and float(occ) < criteria.min_occupancy:
            why.append(f"occupancy {float(occ):.0%} (< {criteria.min_occupancy:.0%})")
        fs = getattr(row, "fire_safety_ok", pd.NA)
        if criteria.require_fire_safety and pd.notna(fs) and not bool(fs):
            why.append("failed fire safety")
        reasons.append("; ".join(why))
    out = pd.DataFrame({
        "id": fac["id"].to_numpy(),
        "name": fac["name"].to_numpy(),
        "county_code": fac.get("county_code", pd.Series(pd.NA, index=fac.index)).to_numpy(),
        "capacity": fac["capacity"].to_numpy(),
        "occupancy": fac.get("occupancy", pd.Series(np.nan, index=fac.index)).to_numpy(),
        "built_year": fac.get("built_year", pd.Series(pd.NA, index=fac.index)).to_numpy(),
        "fire_safety_ok": fac.get("fire_safety_ok", pd.Series(pd.NA, index=fac.index)).to_numpy(),
    })
    occ = pd.to_numeric(out["occupancy"], errors="coerce").fillna(0.0)
    out["residents"] = np.round(occ * out["capacity"]).astype(int)
    out["spare_beds"] = (out["capacity"] - out["residents"]).clip(lower=0).astype(int)
    out["reasons"] = reasons
    out["fails"] = out["reasons"] != ""
    return out


@dataclass
class CloseMergePlan:
    """Result of :func:`plan_close_merge`.

    Attributes
    ----------
    assessment : DataFrame
        :func:`assess_centres` of the centres in scope, plus ``decision`` (keep, close,
        keep (needed)).
    closed : list of str
        Ids of the centres to close.
    merges : DataFrame
        One row per (closed → receiving) pair: ``from_id``, ``from_name``, ``to_id``,
        ``to_name``, ``road_km``, ``residents_moved`` (persons),
        ``receiving_occupancy_before`` / ``_after`` (0-1), ``catchment_elders_moved``
        (elders 60+ whose nearest centre was the closed one and is now the receiving one).
    before, after : dict
        ``covered_elders`` (60+ within the standard of an open centre), ``covered_share``,
        ``mean_time_min`` (elder-weighted time to the nearest centre, reachable elders) and
        ``centres``.
    lost_coverage : DataFrame
        Cells that lose coverage: ``cell_id``, ``elders_60``, ``township_code``.
    cells_before, cells_after : GeoDataFrame
        Engine output for township centres before and after.
    optimisation : dict
        Model, status, objective, gap, seconds, message.
    """

    assessment: pd.DataFrame
    closed: list[str]
    merges: pd.DataFrame
    before: dict[str, float]
    after: dict[str, float]
    lost_coverage: pd.DataFrame
    cells_before: gpd.GeoDataFrame
    cells_after: gpd.GeoDataFrame
    optimisation: dict[str, Any] = field(default_factory=dict)


def _open_centres(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    fac = facilities[facilities["kind"] == KIND]
    if "status" in fac:
        fac = fac[fac["status"].fillna("open").isin(["open"])]
    return fac.reset_index(drop=True)


def _coverage_stats(cells: gpd.GeoDataFrame, n_centres: int) -> dict[str, float]:
    elders = cells["elders_60"].to_numpy(float)
    covered = cells[f"{KIND}_covered"].fillna(False).to_numpy(bool)
    t = cells[f"{KIND}_time_min"].to_numpy(float)
    if np.isnan(t).all():
        t = cells[f"{KIND}_dist_m"].to_numpy(float)
    ok = np.isfinite(t)
    total = float(elders.sum())
    return {
        "centres": int(n_centres),
        "elders": int(round(total)),
        "covered_elders": int(round(elders[covered].sum())),
        "covered_share": float(elders[covered].sum() / total) if total else 0.0,
        "mean_time_min": float(np.average(t[ok], weights=elders[ok])) if elders[ok].sum() else
        float("nan"),
    }


def plan_close_merge(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: Any = None,
    standards: Standards | dict | None = None,
    *,
    criteria: Criteria = Criteria(),
    close: str | int = "failing",
    coverage_target: float = 1.0,
    max_distance_km: float | None = None,
    time_limit: float | None = 60.0,
    costs: KindCosts | None = None,
) -> CloseMergePlan:
    """Choose which township welfare centres to close and where their residents go.

    Parameters
    ----------
    cells : GeoDataFrame
        Demand cells (``cell_id``, ``elders_60`` persons) of the area considered.
    facilities : GeoDataFrame
        Facilities of the area; open ``township_centre`` rows are the candidates.
    graph : networkx.MultiDiGraph or RoadNetwork, optional
        Road graph; without it, straight-line standards and distances are used.
    standards : Standards or dict, optional
        Service standards (overrides merged on the defaults).
    criteria : Criteria
        What makes a centre fail.
    close : "failing" or int
        ``"failing"``: close every failing centre unless it is needed to keep the covered
        elders at ``coverage_target`` × today's (fewest failing centres kept: set cover).
        An int ``n``: close exactly ``n`` failing centres, those whose loss costs least in
        elder-weighted travel time (p-median over the kept centres).
    coverage_target : float
        Share (0-1) of today's covered elders that must stay covered (``"failing"`` mode).
    max_distance_km : float, optional
        Residents are not moved farther than this by road.
    time_limit : float, optional
        Seconds for the solver; the best plan found is returned with its gap.
    costs : KindCosts, optional
        Travel costs of ``cells`` (rows in order) to at least the open township centres,
        within their standard (:mod:`elder_coverage.costs`, e.g. the run's): coverage before
        and after and who is covered by whom are read from them instead of routed again.

    Returns
    -------
    CloseMergePlan

    Raises
    ------
    InfeasiblePlanError
        ``n`` larger than the failing centres, or not enough spare beds for the residents.
    """
    std = resolve_standards(standards)
    net = as_network(graph)
    assessment = assess_centres(facilities, criteria)
    centres = _open_centres(facilities)
    if centres.empty:
        raise InfeasiblePlanError("no open township centres in the area")
    failing = assessment["fails"].to_numpy()
    kc = _centre_costs(costs, cells, centres, net, std)
    cell_ids = cells["cell_id"].to_numpy()
    before = compute_coverage(cells, centres, net, std, kinds=[KIND],
                              costs=TravelCosts(cell_ids, {KIND: kc})).cells
    t0 = time.perf_counter()
    candidates = np.flatnonzero(failing)
    fixed = np.flatnonzero(~failing)
    xy = centres.geometry.get_coordinates().to_numpy()
    opt: dict[str, Any] = {"candidates": int(candidates.size)}
    if close == "failing":
        dist_all = _distances(net, std, xy[candidates], xy, max_distance_km)
        sol = _solve_failing(before, kc, assessment, candidates, dist_all,
                             coverage_target=coverage_target, time_limit=time_limit)
        opt.update(model="closure_milp", status=sol.status, objective=sol.objective,
                   gap=sol.gap, message=sol.message)
        if sol.status not in ("optimal", "time_limit"):
            raise InfeasiblePlanError(sol.message)
        closed_idx = candidates[~sol.keep]
        kept_idx = np.sort(np.concatenate([fixed, candidates[sol.keep]]))
        flows = sol.flows[~sol.keep][:, kept_idx]
        dist = dist_all[~sol.keep][:, kept_idx]
    else:
        n_close = int(close)
        if n_close > candidates.size:
            raise InfeasiblePlanError(
                f"close={n_close} but only {candidates.size} centres fail the criteria "
                f"({', '.join(assessment.loc[failing, 'id'])})")
        rows = np.flatnonzero(before["elders_60"].to_numpy(float) > 0)
        # Costs up to a few times the standard: beyond that a centre serves nobody in
        # practice. Elders whom only closing centres reach within that horizon are left
        # unserved at a penalty of twice the horizon, so the model prefers closures whose
        # elders can be served elsewhere but still answers when some cannot.
        horizon = 4 * (std[KIND].minutes if net is not None else std[KIND].radius_m)
        cost = reach_matrix(before.iloc[rows], centres, net, std, kind=KIND, limit=horizon)
        res = p_median(cost, len(centres) - n_close,
                       weights=before["elders_60"].to_numpy(float)[rows], fixed=fixed,
                       forbidden=None, time_limit=time_limit, unassigned_penalty=2 * horizon)
        opt.update(model="p_median", status=res.status, objective=res.objective, gap=res.gap,
                   message=res.message)
        if res.status == "infeasible":
            raise InfeasiblePlanError(res.message)
        kept_idx = np.array(sorted(set(res.sites.tolist()) | set(fixed.tolist())), int)
        closed_idx = np.array(sorted(set(range(len(centres))) - set(kept_idx.tolist())), int)
        dist = _distances(net, std, xy[closed_idx], xy[kept_idx], max_distance_km)
        flows = assign_residents(assessment["residents"].to_numpy()[closed_idx],
                                 assessment["spare_beds"].to_numpy()[kept_idx], dist * 1000)
    opt["seconds"] = round(time.perf_counter() - t0, 3)
    decision = np.where(failing, "keep (needed)", "keep").astype(object)
    decision[closed_idx] = "close"
    assessment = assessment.assign(decision=decision)

    kept = centres.iloc[kept_idx]
    after = compute_coverage(cells, kept, net, std, kinds=[KIND], costs=TravelCosts(
        cell_ids, {KIND: kc.columns(kept["id"])})).cells
    merges = _merge_table(centres, assessment, closed_idx, kept_idx, flows, dist, before, after)
    nb = before[f"{KIND}_covered"].fillna(False).to_numpy(bool)
    na = after[f"{KIND}_covered"].fillna(False).to_numpy(bool)
    lost = before.loc[nb & ~na, ["cell_id", "elders_60", "township_code"]].reset_index(drop=True)
    return CloseMergePlan(
        assessment=assessment, closed=centres["id"].iloc[closed_idx].tolist(), merges=merges,
        before=_coverage_stats(before, len(centres)),
        after=_coverage_stats(after, len(kept_idx)),
        lost_coverage=lost, cells_before=before, cells_after=after, optimisation=opt,
    )


def _centre_costs(costs: KindCosts | None, cells: gpd.GeoDataFrame, centres: gpd.GeoDataFrame,
                  net: Any, std: Standards) -> KindCosts:
    """Costs of the cells to the open centres, columns in centre order."""
    if costs is None:
        return travel_costs(cells, centres, net, std, kinds=[KIND])[KIND]
    if costs.matrix.shape[0] != len(cells) or costs.kind != KIND:
        raise ValueError(f"costs: expected {KIND} costs of {len(cells)} cells, got "
                         f"{costs.kind} of {costs.matrix.shape[0]}")
    return costs.columns(centres["id"])


def _distances(net, std, from_xy, to_xy, max_distance_km) -> np.ndarray:
    """Road km (straight-line km without a graph); inf beyond ``max_distance_km``."""
    d = (road_distance_m(net, from_xy, to_xy, max_snap_m=std.access.max_snap_m)
         if net is not None else straight_distance_m(from_xy, to_xy)) / 1000.0
    if max_distance_km is not None:
        d = np.where(d <= max_distance_km, d, np.inf)
    return d


def _solve_failing(before, kc, assessment, candidates, dist_all, *, coverage_target,
                   time_limit):
    """Set up :func:`elder_coverage.optimize.closure.solve_closure` for the failing centres."""
    elders = before["elders_60"].to_numpy(float)
    covered = before[f"{KIND}_covered"].fillna(False).to_numpy(bool) & (elders > 0)
    rows = np.flatnonzero(covered)
    # Membership is the sparsity pattern (a zero-minute pair is stored), hence ones.
    pattern = kc.pattern[rows]
    is_failing = np.zeros(kc.matrix.shape[1], bool)
    is_failing[candidates] = True
    by_passing = (pattern @ (~is_failing).astype(float)) > 0
    # Cells that only failing centres serve, grouped by which ones.
    groups, group_weight = closure_groups(pattern[np.flatnonzero(~by_passing)][:, candidates],
                                          elders[rows][~by_passing])
    need = coverage_target * elders[rows].sum() - elders[rows][by_passing].sum()
    receiver_failing = np.full(kc.matrix.shape[1], -1)
    receiver_failing[candidates] = np.arange(len(candidates))
    return solve_closure(groups, group_weight, need,
                         assessment["residents"].to_numpy()[candidates],
                         assessment["spare_beds"].to_numpy(), receiver_failing, dist_all,
                         time_limit=time_limit)


def _merge_table(centres, assessment, closed_idx, kept_idx, flows, dist, before,
                 after) -> pd.DataFrame:
    cols = ["from_id", "from_name", "to_id", "to_name", "road_km", "residents_moved",
            "receiving_occupancy_before", "receiving_occupancy_after", "catchment_elders_moved",
            "elders_losing_coverage"]
    if closed_idx.size == 0:
        return pd.DataFrame(columns=cols)
    cap = assessment["capacity"].to_numpy()[kept_idx].astype(float)
    res_before = assessment["residents"].to_numpy()[kept_idx].astype(float)
    res_after = res_before + flows.sum(axis=0)
    ids = centres["id"].to_numpy()
    nb = before[f"{KIND}_nearest_id"].to_numpy()
    na = after[f"{KIND}_nearest_id"].to_numpy()
    lose = (before[f"{KIND}_covered"].fillna(False).to_numpy(bool)
            & ~after[f"{KIND}_covered"].fillna(False).to_numpy(bool))
    elders = before["elders_60"].to_numpy(float)
    receiver = {ids[k]: b for b, k in enumerate(kept_idx)}
    rows = []
    for a, ci in enumerate(closed_idx):
        # Every receiver of residents or of catchment elders, even one taking no residents.
        catchment = nb == ids[ci]
        shifted = {receiver[i] for i in na[catchment & (elders > 0)] if i in receiver}
        targets = sorted(set(np.flatnonzero(flows[a] > 0).tolist()) | shifted)
        if not targets:  # nobody living there: the nearest receiver by road
            targets = [int(np.argmin(dist[a]))]
        for b in targets:
            ki = kept_idx[b]
            moved = catchment & (na == ids[ki])
            rows.append({
                "from_id": ids[ci], "from_name": centres["name"].iloc[ci],
                "to_id": ids[ki], "to_name": centres["name"].iloc[ki],
                "road_km": round(float(dist[a, b]), 2) if np.isfinite(dist[a, b]) else None,
                "residents_moved": int(flows[a, b]),
                "receiving_occupancy_before": round(res_before[b] / cap[b], 3) if cap[b] else None,
                "receiving_occupancy_after": round(res_after[b] / cap[b], 3) if cap[b] else None,
                "catchment_elders_moved": int(round(elders[moved].sum())),
                "elders_losing_coverage": int(round(elders[moved & lose].sum())),
            })
    return pd.DataFrame(rows, columns=cols)
