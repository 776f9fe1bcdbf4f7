"""How coverage and travel are spread across places: who is served worst.

Averages hide the townships left far behind; planners asked for the worst-served places
and for the oldest elders (80+), who walk least, beyond the standard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from elder_coverage.aggregate import area_codes
from elder_coverage.engine import CoverageResult


def fairness_report(
    coverage: CoverageResult | pd.DataFrame,
    kind: str,
    *,
    level: str = "township_code",
    worst: int = 10,
) -> dict[str, object]:
    """Spread of coverage and travel for one facility kind.

    Parameters
    ----------
    coverage : CoverageResult or DataFrame
        Engine output (cells with ``<kind>_covered`` and ``<kind>_time_min`` or
        ``<kind>_dist_m``, ``elders_60``, ``elders_80``).
    kind : str
        Facility kind.
    level : str
        Area column to rank (``township_code`` or ``county_code``).
    worst : int
        Number of worst-served areas to list.

    Returns
    -------
    dict
        ``share_80_beyond`` (share of elders 80+ outside the standard), ``elders_80_beyond``
        (persons), ``gini_covered_share`` (Gini index of the areas' covered shares, weighted
        by their elders: 0 = equal), ``worst`` (DataFrame: ``code``, ``elders_60``,
        ``covered_share``, ``mean_time_min`` — elder-weighted time to the nearest facility
        over reachable elders — sorted worst first), ``p90_time_min`` (90th percentile of
        elder-weighted travel time).
    """
    cells = coverage.cells if isinstance(coverage, CoverageResult) else coverage
    covered = cells[f"{kind}_covered"].fillna(False).to_numpy(bool)
    e60 = cells["elders_60"].to_numpy(float)
    e80 = cells["elders_80"].to_numpy(float) if "elders_80" in cells else np.zeros(len(cells))
    t = cells[f"{kind}_time_min"].to_numpy(float) if f"{kind}_time_min" in cells else None
    if t is None or np.isnan(t).all():
        t = cells[f"{kind}_dist_m"].to_numpy(float)
    codes = area_codes(cells, level)
    ok = np.isfinite(t)
    frame = pd.DataFrame({"code": codes, "elders_60": e60, "covered": e60 * covered,
                          "wt": np.where(ok, e60 * np.where(ok, t, 0), 0.0),
                          "w_ok": np.where(ok, e60, 0.0)})
    g = frame.groupby("code", sort=True).sum()
    g["covered_share"] = g["covered"] / g["elders_60"].where(g["elders_60"] > 0)
    g["mean_time_min"] = g["wt"] / g["w_ok"].where(g["w_ok"] > 0)
    table = g.reset_index()[["code", "elders_60", "covered_share", "mean_time_min"]]
    table = table.sort_values(["covered_share", "mean_time_min"], ascending=[True, False],
                              kind="stable").reset_index(drop=True)
    total80 = e80.sum()
    return {
        "kind": kind,
        "elders_80_beyond": int(round(e80[~covered].sum())),
        "share_80_beyond": float(e80[~covered].sum() / total80) if total80 else 0.0,
        "gini_covered_share": _weighted_gini(g["covered_share"].fillna(0).to_numpy(),
                                             g["elders_60"].to_numpy()),
        "p90_time_min": _weighted_quantile(t[ok], e60[ok], 0.9) if ok.any() else float("nan"),
        "worst": table.head(worst),
    }


def _weighted_gini(x: np.ndarray, w: np.ndarray) -> float:
    """Gini index of values ``x`` with weights ``w`` (0 when all equal)."""
    if w.sum() <= 0 or len(x) < 2:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cw = np.cumsum(w)
    cxw = np.cumsum(x * w)
    if cxw[-1] == 0:
        return 0.0
    # Area between the line of equality and the Lorenz curve (trapezoid rule).
    lorenz = np.concatenate([[0.0], cxw / cxw[-1]])
    pop = np.concatenate([[0.0], cw / cw[-1]])
    return float(1.0 - np.sum((pop[1:] - pop[:-1]) * (lorenz[1:] + lorenz[:-1])))


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cw = np.cumsum(w)
    return float(v[np.searchsorted(cw, q * cw[-1])])
