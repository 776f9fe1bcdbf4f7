"""Capacity-aware access: the enhanced two-step floating catchment area (E2SFCA).

Luo & Qi (2009), *Health & Place* 15(4):1100-1107. With cost ``d_ij`` from cell ``i`` to
facility ``j`` (minutes or metres), catchment ``d0``, weight ``W(d)`` (0 beyond ``d0``),
elders ``P_i`` and places ``S_j`` (beds or seats):

1. Supply-to-demand ratio of each facility ``R_j = S_j / Σ_k P_k W(d_kj)``: places per elder
   in its catchment, each elder counted with the weight of their distance.
2. Access of each cell ``A_i = Σ_j R_j W(d_ij)``: places per elder available to that cell.

Reported as places per 1,000 elders. The facility *load* is ``1 / R_j`` (weighted elders per
place). A facility with nobody in its catchment gets ``R_j = 0`` (it adds no access; its load is
0), since the ratio is undefined there.

Distance decay (``decay``):

``"stepped"`` (default)
    Luo & Qi's sub-zones: the catchment is cut into equal sub-zones with weights
    ``zone_weights`` (default 1.00, 0.68, 0.22: their slow-decay Gaussian weights for 0-10,
    10-20 and 20-30 min zones). Sub-zone upper bounds are inclusive.
``"gaussian"``
    Continuous Gaussian as in Dai (2010) / Wan et al. (2012):
    ``W(d) = (exp(-½(d/d0)²) - exp(-½)) / (1 - exp(-½))``, 1 at ``d = 0`` and 0 at ``d0``.
``"binary"``
    ``W = 1`` inside the catchment: the original 2SFCA.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from elder_coverage.costs import KindCosts, reach_matrix
from elder_coverage.engine import CoverageInputError
from elder_coverage.schema import AGE_COLUMNS
from elder_coverage.standards import Standards, resolve_standards
from elder_coverage.travel import RoadNetwork, TravelGraph, as_network

#: Luo & Qi (2009) slow-decay weights for three equal sub-zones of the catchment.
LUO_QI_WEIGHTS: tuple[float, ...] = (1.00, 0.68, 0.22)

DecayArg = str | Callable[[np.ndarray, float], np.ndarray]


def stepped_weight(cost: np.ndarray, catchment: float,
                   zone_weights: Sequence[float] = LUO_QI_WEIGHTS) -> np.ndarray:
    """Weight by equal sub-zones of the catchment (upper bounds inclusive); 0 beyond it."""
    cost = np.asarray(cost, dtype=float)
    zw = np.asarray(zone_weights, dtype=float)
    if zw.size == 0 or (zw < 0).any() or (zw > 1).any():
        raise ValueError(f"zone_weights must be values in [0, 1], got {list(zone_weights)}")
    k = zw.size
    zone = np.ceil(cost / catchment * k).astype(np.int64) - 1
    zone = np.clip(zone, 0, None)
    out = np.zeros(cost.shape)
    inside = cost <= catchment
    out[inside] = zw[np.minimum(zone[inside], k - 1)]
    return out


def gaussian_weight(cost: np.ndarray, catchment: float) -> np.ndarray:
    """Gaussian decay rescaled to 1 at zero cost and 0 at the catchment edge."""
    cost = np.asarray(cost, dtype=float)
    edge = np.exp(-0.5)
    w = (np.exp(-0.5 * (cost / catchment) ** 2) - edge) / (1 - edge)
    return np.where(cost <= catchment, np.clip(w, 0.0, 1.0), 0.0)


def _weights(cost: np.ndarray, catchment: float, decay: DecayArg,
             zone_weights: Sequence[float]) -> np.ndarray:
    if callable(decay):
        return np.asarray(decay(cost, catchment), dtype=float)
    if decay == "stepped":
        return stepped_weight(cost, catchment, zone_weights)
    if decay == "gaussian":
        return gaussian_weight(cost, catchment)
    if decay == "binary":
        return (np.asarray(cost) <= catchment).astype(float)
    raise ValueError(f"decay: {decay!r} is not one of 'stepped', 'gaussian', 'binary' "
                     "or a function (cost, catchment) -> weight")


def e2sfca(
    reach: sp.sparray | sp.spmatrix,
    demand: np.ndarray,
    supply: np.ndarray,
    catchment: float,
    *,
    decay: DecayArg = "stepped",
    zone_weights: Sequence[float] = LUO_QI_WEIGHTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E2SFCA on a sparse cost matrix.

    Parameters
    ----------
    reach : scipy sparse matrix
        (n_cells × n_facilities) cost of each pair within reach (minutes or metres); pairs not
        stored are out of reach. Stored zeros are real zero costs.
    demand : numpy.ndarray
        (n_cells,) elders per cell (persons).
    supply : numpy.ndarray
        (n_facilities,) places (beds/seats).
    catchment : float
        Catchment size ``d0`` in the unit of ``reach``.
    decay : {"stepped", "gaussian", "binary"} or callable
        Distance-decay function (see module docstring).
    zone_weights : sequence of float
        Sub-zone weights for ``"stepped"``.

    Returns
    -------
    access : numpy.ndarray
        (n_cells,) places per elder available to each cell (``A_i``).
    ratio : numpy.ndarray
        (n_facilities,) places per weighted elder in each catchment (``R_j``; 0 when empty).
    weighted_demand : numpy.ndarray
        (n_facilities,) distance-weighted elders in each catchment (``Σ P_k W_kj``).
    """
    if not catchment > 0:
        raise ValueError(f"catchment must be positive, got {catchment}")
    r = sp.csr_array(reach)
    demand = np.asarray(demand, dtype=float)
    supply = np.asarray(supply, dtype=float)
    if r.shape != (demand.size, supply.size):
        raise ValueError(f"reach is {r.shape} but there are {demand.size} cells and "
                         f"{supply.size} facilities")
    w = sp.csr_array((_weights(r.data, catchment, decay, zone_weights), r.indices, r.indptr),
                     shape=r.shape)
    weighted = w.T @ demand
    ratio = np.divide(supply, weighted, out=np.zeros_like(supply), where=weighted > 0)
    access = w @ ratio
    return access, ratio, weighted


@dataclass
class AccessResult:
    """E2SFCA results for one facility kind.

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        Input cells plus ``<kind>_places_per_1000`` (places per 1,000 elders within reach).
    facilities : geopandas.GeoDataFrame
        Facilities of the kind plus ``weighted_elders`` (persons, distance-weighted, in the
        catchment), ``places_per_1000`` (``1000 R_j``) and ``elders_per_place`` (load).
    catchment : float
        Catchment used.
    unit : str
        "min" (network) or "m" (straight line).
    """

    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    catchment: float
    unit: str


def access_table(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    kind: str,
    graph: nx.MultiDiGraph | RoadNetwork | TravelGraph | None = None,
    standards: Standards | Mapping[str, Any] | None = None,
    *,
    age: int = 60,
    catchment: float | None = None,
    decay: DecayArg = "stepped",
    zone_weights: Sequence[float] = LUO_QI_WEIGHTS,
    costs: KindCosts | None = None,
) -> AccessResult:
    """E2SFCA of one facility kind on demand cells, using the kind's service standard.

    Parameters
    ----------
    cells, facilities, graph, standards
        As in :func:`elder_coverage.engine.compute_coverage`; facilities need ``capacity``.
    kind : str
        Facility kind.
    age : {60, 65, 80}
        Which elder count is the demand.
    catchment : float, optional
        Catchment (minutes on the network, metres otherwise); default the kind's limit.
    decay, zone_weights
        See :func:`e2sfca`.
    costs : KindCosts, optional
        Costs of these cells to the facilities of ``kind`` (:mod:`elder_coverage.costs`,
        columns in table order): used instead of routing again when they were computed up to
        the catchment, in its unit.

    Raises
    ------
    CoverageInputError
        Missing or negative ``capacity`` (naming the facility), unknown age.
    """
    if age not in AGE_COLUMNS:
        raise CoverageInputError(f"age: {age} is not one of {sorted(AGE_COLUMNS)}")
    col = AGE_COLUMNS[age]
    if col not in cells:
        raise CoverageInputError(f"cells: missing column {col!r}")
    std = resolve_standards(standards)
    net = as_network(graph)
    ks = std[kind]
    use_net = ks.uses_network(net is not None)
    limit = catchment if catchment is not None else (ks.minutes if use_net else ks.radius_m)
    fac = facilities.loc[facilities["kind"] == kind].copy()
    if "capacity" not in fac:
        raise CoverageInputError("facilities: missing column 'capacity' (places) for E2SFCA")
    cap = pd.to_numeric(fac["capacity"], errors="coerce")
    bad = cap.isna() | (cap < 0)
    if bad.any():
        raise CoverageInputError(f"facilities: id={fac.loc[bad, 'id'].iloc[0]!r} has missing "
                                 f"or negative capacity {fac.loc[bad, 'capacity'].iloc[0]!r}")
    unit = "min" if use_net else "m"
    if costs is not None and (costs.unit, costs.limit) == (unit, float(limit)):
        if not np.array_equal(costs.facility_ids, fac["id"].to_numpy()):
            raise ValueError(f"costs: columns are not the {kind} facilities of this table")
        mat = costs.matrix
    else:
        mat = reach_matrix(cells, facilities, net, std, kind=kind, limit=limit)
    demand = pd.to_numeric(cells[col]).to_numpy(dtype=float)
    access, ratio, weighted = e2sfca(mat, demand, cap.to_numpy(dtype=float), limit,
                                     decay=decay, zone_weights=zone_weights)
    # One new column: the others are shared with ``cells`` (copy-on-write keeps it unchanged)
    # instead of copying a province's 40 columns for each kind.
    out_cells = cells.copy(deep=False)
    out_cells[f"{kind}_places_per_1000"] = access * 1000.0
    fac["weighted_elders"] = weighted
    fac["places_per_1000"] = ratio * 1000.0
    fac["elders_per_place"] = np.divide(weighted, cap.to_numpy(dtype=float),
                                        out=np.full(len(fac), np.nan),
                                        where=cap.to_numpy(dtype=float) > 0)
    return AccessResult(cells=out_cells, facilities=fac, catchment=float(limit), unit=unit)
