"""New dining halls and rural courtyards: fewest sites to reach a target, or the best N.

Candidates are the settlements that do not yet have a facility of the kind (villages,
township seats or both); existing facilities of the kind stay open (fixed). What must be
served is chosen with ``measure``:

- ``"elders"``: persons aged 60+ in the demand cells (weight = elders);
- ``"townships"``: township-level units — the policy's "a dining hall in every township": a
  township is served by a site located in it (``township_code``) or whose standard reaches its
  seat, as in :mod:`elder_coverage.indicators` (weight 1 per township);
- ``"villages"``: villages with many older people (≥ ``many_elders`` aged 60+) — the policy's
  "a courtyard in every village with many older people": served by a site registered to the
  village (``village_code``) or whose standard reaches the village point (weight 1 per village).

A coverage target (share 0-1 of the weight) gives a set-cover model (fewest new sites);
``max_new`` gives a maximal-covering model (most weight with that many new sites). With
``max_new`` a planner may choose another model (``model=``, scenario key
``analyses.new_sites.model``): ``backup_coverage`` (most weight within the standard of two
sites, so a closed or full centre leaves its area served), ``capacitated_max_coverage`` (the
most elders assigned within the standard and the places of each site) or ``p_center`` (the
least worst travel cost within the standard). All run on the sparse demand × site reach
matrix of the engine.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage._errors import SettingsError
from elder_coverage.costs import TravelCosts, reach_matrix
from elder_coverage.kinds import kind as kind_of
from elder_coverage.policy import assumption
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import as_network

#: Villages with at least this many residents aged 60+ count as "many older people" (the
#: registry's ``assumptions.high_need_village.min_elders_60``, shared with the indicators).
DEFAULT_MANY_ELDERS = assumption("high_need_village", "min_elders_60")
#: Models a plan can use (``model=``); all but ``set_cover`` need ``max_new``.
MODELS = ("set_cover", "max_coverage", "backup_coverage", "capacitated_max_coverage",
          "p_center")


@dataclass
class NewSitesPlan:
    """Result of :func:`plan_new_sites`.

    Attributes
    ----------
    kind, measure : str
    new_sites : GeoDataFrame
        Chosen candidates: ``id``, ``name``, ``kind``, ``source`` (village / seat code),
        ``covered_gain`` (weight newly served by this site alone, in order of choice).
    before, after : dict
        ``served`` (weight), ``total``, ``share``, ``sites`` for the kind.
    unreachable : list
        Demand ids (cell_id or code) that no existing or candidate site can serve.
    optimisation : dict
        Model, status, objective, gap, seconds, message.
    """

    kind: str
    measure: str
    new_sites: gpd.GeoDataFrame
    before: dict[str, float]
    after: dict[str, float]
    unreachable: list
    optimisation: dict[str, Any] = field(default_factory=dict)


def demand_points(
    measure: str,
    cells: gpd.GeoDataFrame,
    seats: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    many_elders: int = DEFAULT_MANY_ELDERS,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Demand points and weights for a measure (see the module docstring).

    Returns
    -------
    points : GeoDataFrame
        Points with ``cell_id`` (a unique id: cell id or area code) and ``elders_60``.
    weights : ndarray
        Elders (``"elders"``) or 1 per township/village.
    """
    if measure == "elders":
        pts = cells[cells["elders_60"] > 0].reset_index(drop=True)
        return pts, pts["elders_60"].to_numpy(float)
    if measure == "townships":
        if seats is None or seats.empty:
            raise ValueError("measure 'townships' needs township seats")
        pts = seats.assign(cell_id=seats["code"], elders_60=0.0)[["cell_id", "elders_60",
                                                                  "geometry"]]
        return pts.reset_index(drop=True), np.ones(len(pts))
    if measure == "villages":
        if villages is None or "elders_60" not in villages:
            raise ValueError("measure 'villages' needs village points with elders_60")
        sel = villages[(villages["elders_60"] >= many_elders)
                       & ~villages.get("is_urban", pd.Series(False, index=villages.index))]
        pts = sel.assign(cell_id=sel["code"])[["cell_id", "elders_60", "geometry"]]
        return pts.reset_index(drop=True), np.ones(len(pts))
    raise ValueError(f"measure must be elders, townships or villages, not {measure!r}")


def candidate_sites(
    kind: str,
    facilities: gpd.GeoDataFrame,
    seats: gpd.GeoDataFrame | None,
    villages: gpd.GeoDataFrame | None,
    candidates: str = "both",
) -> gpd.GeoDataFrame:
    """Settlements without a facility of ``kind``, as candidate site points.

    Which settlements may take a new site of ``kind`` is the registry's ``new_site``
    (``kinds.yaml``): rural courtyards are village-level, so only rural villages are candidates
    for them. A kind the registry proposes no new sites of may still use seats and villages.
    """
    allowed = kind_of(kind).new_site or ("seats", "villages")
    have = facilities.loc[facilities["kind"] == kind]
    taken_v = set(have.get("village_code", pd.Series(dtype=str)).dropna())
    taken_t = set(have.loc[have.get("village_code", pd.Series("", index=have.index))
                           .fillna("").eq(""), "township_code"].dropna()) \
        if "township_code" in have else set()
    def as_candidates(places: gpd.GeoDataFrame, township: pd.Series) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame({
            "id": "NEW-" + places["code"], "name": places["name"], "source": places["code"],
            "township_code": township, "county_code": places["county_code"]},
            geometry=places.geometry.to_numpy(), crs=places.crs)

    parts = []
    if candidates in ("seats", "both") and seats is not None and "seats" in allowed:
        s = seats[~seats["code"].isin(taken_t)]
        parts.append(as_candidates(s, s["code"]))
    if candidates in ("villages", "both") and villages is not None and (
            "villages" in allowed or "rural_villages" in allowed):
        v = villages[~villages["code"].isin(taken_v)]
        if "villages" not in allowed and "is_urban" in v:
            v = v[~v["is_urban"].astype(bool)]
        parts.append(as_candidates(v, v["township_code"]))
    if not parts:
        raise ValueError(f"no candidate sites for {kind} (candidates={candidates!r})")
    out = pd.concat(parts, ignore_index=True)
    out = out.drop_duplicates("id").reset_index(drop=True)
    return gpd.GeoDataFrame(out.assign(kind=kind), crs=parts[0].crs)


def plan_new_sites(
    kind: str,
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: Any = None,
    standards: Standards | dict | None = None,
    *,
    seats: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    measure: str = "elders",
    target: float | None = 1.0,
    max_new: int | None = None,
    candidates: str = "both",
    many_elders: int = DEFAULT_MANY_ELDERS,
    time_limit: float | None = 60.0,
    model: str | None = None,
    new_capacity: float | None = None,
    costs: TravelCosts | None = None,
) -> NewSitesPlan:
    """Fewest new sites of ``kind`` to reach ``target``, or the best ``max_new`` sites.

    Parameters
    ----------
    kind : str
        ``dining_hall``, ``rural_courtyard``, ``day_care`` or ``township_centre``.
    cells, facilities, graph, standards
        As in :func:`elder_coverage.engine.compute_coverage`.
    seats, villages : GeoDataFrame, optional
        Township seats and villages: candidates and the township/village measures.
    measure : {"elders", "townships", "villages"}
    target : float, optional
        Share (0-1) of the measure to serve; the reachable maximum is reported when the
        target cannot be met. Ignored when ``max_new`` is given.
    max_new : int, optional
        Open exactly this many new sites (or fewer if fewer help), maximising what is served.
    candidates : {"villages", "seats", "both"}
    many_elders : int
        Threshold of the ``"villages"`` measure (persons aged 60+).
    time_limit : float, optional
        Solver seconds.
    model : str, optional
        One of :data:`MODELS`; default ``set_cover`` for a target, ``max_coverage`` with
        ``max_new``. The others need ``max_new``.
    new_capacity : float, optional
        ``capacitated_max_coverage``: places per new site (persons); existing sites use their
        ``capacity`` column. Required by that model.
    costs : TravelCosts, optional
        Travel costs of (a superset of) ``cells``, matched by ``cell_id``, to the existing
        facilities (:mod:`elder_coverage.costs`, e.g. the run's): with the ``"elders"``
        measure their columns are reused and only the candidate sites are routed.

    Returns
    -------
    NewSitesPlan
        With ``backup_coverage`` the ``before``/``after`` dicts also hold
        ``served_twice``; with ``capacitated_max_coverage`` ``after`` holds
        ``served_within_capacity``.
    """
    model = _check_model(model, max_new, new_capacity)
    problem = _problem(kind, cells, facilities, graph, standards, seats=seats, villages=villages,
                       measure=measure, candidates=candidates, many_elders=many_elders,
                       costs=costs)
    return _plan(problem, model=model, target=target, max_new=max_new, time_limit=time_limit,
                 new_capacity=new_capacity)


def _check_model(model: str | None, max_new: int | None, new_capacity: float | None) -> str:
    model = model or ("max_coverage" if max_new is not None else "set_cover")
    if model not in MODELS:
        raise SettingsError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    if model != "set_cover" and max_new is None:
        raise SettingsError(f"model {model!r} needs max_new (the number of new sites)")
    if model == "capacitated_max_coverage" and new_capacity is None:
        raise SettingsError("model 'capacitated_max_coverage' needs new_capacity (places per "
                            "new site)")
    return model


@dataclass(frozen=True)
class _Problem:
    """Demand, existing and candidate sites of one siting question, with their costs."""

    kind: str
    measure: str
    pts: gpd.GeoDataFrame
    weights: np.ndarray
    existing: gpd.GeoDataFrame
    cand: gpd.GeoDataFrame
    reach: Any
    n_exist: int


def _problem(kind: str, cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, graph: Any,
             standards: Standards | dict | None, *, seats: gpd.GeoDataFrame | None,
             villages: gpd.GeoDataFrame | None, measure: str, candidates: str,
             many_elders: int, costs: TravelCosts | None) -> _Problem:
    std = resolve_standards(standards)
    net = as_network(graph)
    pts, weights = demand_points(measure, cells, seats, villages, many_elders)
    existing = facilities[(facilities["kind"] == kind)
                          & facilities.get("status", pd.Series("open", index=facilities.index))
                          .fillna("open").eq("open")]
    cand = candidate_sites(kind, facilities, seats, villages, candidates)
    sites = pd.concat([
        gpd.GeoDataFrame({"id": existing["id"].to_numpy(), "kind": kind},
                         geometry=existing.geometry.to_numpy(), crs=existing.crs),
        cand[["id", "kind", "geometry"]],
    ], ignore_index=True)
    sites = gpd.GeoDataFrame(sites, crs=cand.crs)
    n_exist = len(existing)
    reach = _site_costs(pts, sites, n_exist, net, std, kind=kind, measure=measure,
                        costs=costs)
    if measure in ("townships", "villages"):
        area = "township_code" if measure == "townships" else "village_code"
        codes = np.concatenate([existing.get(area, pd.Series(None, index=existing.index))
                                .astype(object).to_numpy(),
                                cand["township_code" if measure == "townships" else "source"]
                                .to_numpy()])
        reach = _with_membership(reach, pts["cell_id"].to_numpy(), codes)
    return _Problem(kind, measure, pts, weights, existing, cand, reach, n_exist)


def _site_costs(pts: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, n_exist: int, net: Any,
                std: Standards, *, kind: str, measure: str,
                costs: TravelCosts | None) -> Any:
    """Demand × sites costs within the standard; the existing sites' columns taken from
    ``costs`` when every demand cell has a row there."""
    import scipy.sparse as sp

    if costs is None or measure != "elders" or kind not in costs:
        return reach_matrix(pts, sites, net, std, kind=kind)
    rows = pd.Index(costs.cell_ids).get_indexer(pts["cell_id"])
    if (rows < 0).any():
        return reach_matrix(pts, sites, net, std, kind=kind)
    old = costs[kind].columns(sites["id"].iloc[:n_exist]).matrix[rows]
    new = reach_matrix(pts, sites.iloc[n_exist:], net, std, kind=kind)
    return sp.csr_array(sp.hstack([old, new], format="csr"))


def _plan(problem: _Problem, *, model: str, target: float | None, max_new: int | None,
          time_limit: float | None, new_capacity: float | None) -> NewSitesPlan:
    """Solve one siting question on its (already computed) costs."""
    from elder_coverage.optimize import (
        backup_coverage,
        capacitated_max_coverage,
        max_coverage,
        p_center,
        set_cover,
    )

    kind, measure, pts, weights = problem.kind, problem.measure, problem.pts, problem.weights
    existing, cand, reach, n_exist = (problem.existing, problem.cand, problem.reach,
                                      problem.n_exist)
    fixed = np.arange(n_exist)
    served_before = _served(reach, weights, fixed)
    total = float(weights.sum())
    extra: dict[str, float] = {}
    if model != "set_cover" and max_new is None:  # _check_model stops this first
        raise SettingsError(f"model {model!r} needs max_new (the number of new sites)")
    p = n_exist + (max_new or 0)
    if model == "set_cover":
        res = set_cover(reach, np.inf, weights=weights, fixed=fixed, time_limit=time_limit,
                        coverage_target=target)
    elif model == "max_coverage":
        res = max_coverage(reach, p, np.inf, weights=weights, fixed=fixed,
                           time_limit=time_limit)
    elif model == "backup_coverage":
        res = backup_coverage(reach, p=p, limit=np.inf, weights=weights, fixed=fixed,
                              time_limit=time_limit)
    elif model == "capacitated_max_coverage":
        cap = np.concatenate([_capacities(existing, kind),
                              np.full(len(cand), float(new_capacity or 0.0))])
        res = capacitated_max_coverage(reach, p=p, limit=np.inf, capacity=cap,
                                       weights=weights, fixed=fixed, time_limit=time_limit)
        extra["served_within_capacity"] = res.objective
    else:
        res = p_center(reach, p=p, weights=weights, fixed=fixed, time_limit=time_limit)
    opt = {"model": model, "status": res.status, "objective": res.objective, "gap": res.gap,
           "bound": res.bound, "seconds": round(res.seconds, 3), "message": res.message}
    chosen = np.array([s for s in res.sites.tolist() if s >= n_exist], dtype=int)
    new = cand.iloc[chosen - n_exist].copy() if chosen.size else cand.iloc[[]].copy()
    # Order the new sites by marginal gain, so the list reads as a build sequence.
    new["covered_gain"] = _marginal_gains(reach, weights, fixed, chosen)
    new = new.sort_values("covered_gain", ascending=False, kind="stable").reset_index(drop=True)
    all_sites = np.concatenate([fixed, chosen])
    served_after = _served(reach, weights, all_sites)
    reachable_any = np.diff(reach.tocsr().indptr) > 0
    before = {"served": served_before, "total": total,
              "share": served_before / total if total else 0.0, "sites": n_exist}
    after = {"served": served_after, "total": total,
             "share": served_after / total if total else 0.0, "sites": n_exist + len(new),
             **extra}
    if model == "backup_coverage":
        before["served_twice"] = _served(reach, weights, fixed, times=2)
        after["served_twice"] = _served(reach, weights, all_sites, times=2)
    return NewSitesPlan(
        kind=kind, measure=measure, new_sites=new, before=before, after=after,
        unreachable=pts.loc[~reachable_any, "cell_id"].tolist(),
        optimisation=opt,
    )


def _with_membership(reach, demand_codes: np.ndarray, site_codes: np.ndarray):
    """Add (cost 0) the pairs where the site is registered to the demand unit itself."""
    import scipy.sparse as sp

    index = {c: i for i, c in enumerate(demand_codes)}
    pairs = [(index[c], j) for j, c in enumerate(site_codes) if c in index]
    if not pairs:
        return reach
    r, c = np.array(pairs).T
    coo = sp.coo_array(reach)
    rows = np.concatenate([coo.row, r])
    cols = np.concatenate([coo.col, c])
    vals = np.concatenate([coo.data, np.zeros(len(r))])
    # Keep the smallest cost per pair (explicit zeros stay stored: they mean "served").
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_array((vals[first], (rows[first], cols[first])), shape=reach.shape)


def _served(reach, weights: np.ndarray, sites: np.ndarray, times: int = 1) -> float:
    """Weight within the standard of at least ``times`` of the sites."""
    if len(sites) == 0:
        return 0.0
    hit = reach.tocsc()[:, np.asarray(sites, int)].tocsr()
    return float(weights[np.diff(hit.indptr) >= times].sum())


def _capacities(existing: gpd.GeoDataFrame, kind: str) -> np.ndarray:
    """Places of the existing sites (persons); a missing or bad value is an error."""
    if "capacity" not in existing:
        raise ValueError(f"capacitated_max_coverage needs a 'capacity' column for the existing "
                         f"{kind} facilities")
    cap = pd.to_numeric(existing["capacity"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(cap) | (cap < 0))
    if bad.size:
        fid = existing["id"].iloc[bad[0]]
        raise ValueError(f"facility {fid!r}: capacity {existing['capacity'].iloc[bad[0]]!r} is "
                         "not a number ≥ 0 (needed by capacitated_max_coverage)")
    return cap


def _marginal_gains(reach, weights, fixed, chosen) -> list[float]:
    csc = reach.tocsc()
    served = np.zeros(reach.shape[0], bool)
    if len(fixed):
        served[np.diff(csc[:, fixed].tocsr().indptr) > 0] = True
    gains = []
    for s in chosen:
        col = csc[:, [int(s)]].tocoo().row
        new = col[~served[col]]
        gains.append(float(weights[new].sum()))
        served[col] = True
    return gains


def tradeoff_curve(
    kind: str,
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    graph: Any = None,
    standards: Standards | dict | None = None,
    *,
    max_new: int = 20,
    step: int = 1,
    **kwargs: Any,
) -> pd.DataFrame:
    """Served weight against the number of new sites (0, step, … max_new), each optimal.

    Returns
    -------
    DataFrame
        ``new_sites``, ``served``, ``share``, ``status``.
    """
    # plan_new_sites' own keyword defaults, so that the curve and a single plan agree.
    options = {name: par.default for name, par in
               inspect.signature(plan_new_sites).parameters.items()
               if par.kind is inspect.Parameter.KEYWORD_ONLY and name != "max_new"}
    unknown = set(kwargs) - set(options)
    if unknown:
        raise TypeError(f"tradeoff_curve: unexpected options {sorted(unknown)}")
    options.update(kwargs)
    given = {k: options.pop(k) for k in ("seats", "villages", "measure", "candidates",
                                         "many_elders", "costs")}
    settings = options
    settings["model"] = _check_model(settings["model"], max_new, settings["new_capacity"])
    # The costs are the same for every n: computed once, each n solved on them.
    problem = _problem(kind, cells, facilities, graph, standards, **given)
    rows = []
    for n in range(0, max_new + 1, step):
        plan = _plan(problem, **settings, max_new=max(n, 1))
        if n == 0:
            rows.append({"new_sites": 0, "served": plan.before["served"],
                         "share": plan.before["share"], "status": "existing"})
            continue
        rows.append({"new_sites": n, "served": plan.after["served"],
                     "share": plan.after["share"], "status": plan.optimisation["status"]})
    return pd.DataFrame(rows)
