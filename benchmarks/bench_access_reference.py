"""Walking coverage: the graph method against a friction-surface (AccessMod-style) reference.

Prints, per walking kind, the share of elders covered within the 15-minute walk by the graph
method (edge entry + direct off-road trips, ``elder_coverage.engine.compute_coverage``) and by
an independent cost-distance computation (roads burned into a raster at their walking pace,
other land at the off-road walking speed, scikit-image ``MCP_Geometric``; see
``tests/raster_reference.py``), on the Jilin sample and on a real OpenStreetMap extract::

    PYTHONPATH=coverage python benchmarks/bench_access_reference.py              # both
    PYTHONPATH=coverage python benchmarks/bench_access_reference.py --section osm \
        --osm ../shared/data/osm/West-Oakland.osm.bz2      # from a worktree

Also printed on the sample: the graph method with the off-road detour factor set to 1 (the
raster walks off-road in straight-ish lines, 8 directions), which separates the two sources of
difference (detour factor, raster discretisation), and the share of elders living within 300 m
straight-line of a facility who are covered by it (issue 9's acceptance: >= 99 %).
Needs scikit-image (``pip install scikit-image``, a dev dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the raster reference lives with the tests

from raster_reference import raster_times  # noqa: E402

from elder_coverage.costs import access_metres_per_minute  # noqa: E402
from elder_coverage.engine import compute_coverage  # noqa: E402
from elder_coverage.standards import load_standards  # noqa: E402
from elder_coverage.travel import RoadNetwork  # noqa: E402

WALK_KINDS = ("dining_hall", "rural_courtyard", "day_care")
OSM = ROOT.parent / "shared" / "data" / "osm" / "West-Oakland.osm.bz2"


def _share(elders: np.ndarray, mask: np.ndarray) -> float:
    return float(elders[mask].sum() / elders.sum()) if elders.sum() else 0.0


def compare(cells: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, G, *, minutes: float,
            resolution_m: float, kinds=WALK_KINDS) -> dict:
    """Graph-method and raster-reference walking coverage per kind."""
    std_over = {k: {"minutes": minutes} for k in kinds}
    net = RoadNetwork(G)
    std = load_standards(std_over)
    speed = access_metres_per_minute(net.mode("walk"), std, "walk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        graph = compute_coverage(cells, fac, net, std, kinds=kinds).cells
        t_graph = time.perf_counter() - t0
        no_detour = compute_coverage(
            cells, fac, net, load_standards({**std_over, "access": {"walk_detour": 1.0}}),
            kinds=kinds).cells
    elders = cells["elders_60"].to_numpy(float)
    cxy = cells.geometry.get_coordinates().to_numpy()
    out = {"cells": len(cells), "elders": round(float(elders.sum())), "minutes": minutes,
           "offroad_m_per_min": round(speed, 2), "raster_resolution_m": resolution_m,
           "graph_seconds": round(t_graph, 1), "kinds": {}}
    for kind in kinds:
        sub = fac[fac["kind"] == kind]
        fxy = sub.geometry.get_coordinates().to_numpy()
        t0 = time.perf_counter()
        ref = raster_times(G, cxy, fxy, offroad_m_per_min=speed, limit_min=minutes,
                           resolution_m=resolution_m)
        t_ref = time.perf_counter() - t0
        cov_g = graph[f"{kind}_covered"].to_numpy(bool)
        cov_1 = no_detour[f"{kind}_covered"].to_numpy(bool)
        cov_r = np.isfinite(ref)
        near = graph[f"{kind}_dist_m"].to_numpy(float) <= 300.0
        out["kinds"][kind] = {
            "facilities": int(len(sub)),
            "graph_share": round(_share(elders, cov_g), 4),
            "raster_share": round(_share(elders, cov_r), 4),
            "difference_pp": round(100 * (_share(elders, cov_g) - _share(elders, cov_r)), 2),
            "graph_detour1_share": round(_share(elders, cov_1), 4),
            "graph_only_elders": round(float(elders[cov_g & ~cov_r].sum())),
            "raster_only_elders": round(float(elders[cov_r & ~cov_g].sum())),
            "within_300m_covered_share": round(float(elders[near & cov_g].sum()
                                                     / max(elders[near].sum(), 1e-9)), 4),
            "raster_seconds": round(t_ref, 1),
        }
    return out


def section_sample(args) -> dict:
    from elder_coverage.study import load_sample

    s = load_sample(area="jilin_city_rural")
    fac = s.facilities
    if "status" in fac:
        fac = fac[fac["status"].fillna("open") == "open"]
    cells = s.cells[s.cells["elders_60"] > 0].reset_index(drop=True)
    res = compare(cells, fac, s.graph, minutes=15.0, resolution_m=args.resolution)
    return {"section": "sample jilin_city_rural", **res}


def section_osm(args) -> dict:
    import osmnx as ox

    if not args.osm.exists():
        return {"section": "osm", "skipped": f"{args.osm} absent (pass --osm)"}
    G = ox.graph_from_xml(args.osm, retain_all=True)
    G = ox.project_graph(G)
    for _u, _v, d in G.edges(data=True):
        d["walk_min"] = d["length"] / 50.0  # 3.0 km/h, as elder_coverage.io.roads
    xy = np.array([[d["x"], d["y"]] for _n, d in G.nodes(data=True)])
    (x0, y0), (x1, y1) = xy.min(axis=0) - 100, xy.max(axis=0) + 100
    gx, gy = np.meshgrid(np.arange(x0, x1, 25.0), np.arange(y0, y1, 25.0))
    cells = gpd.GeoDataFrame(
        {"cell_id": np.arange(gx.size), "elders_60": 1.0},
        geometry=gpd.points_from_xy(gx.ravel(), gy.ravel()), crs=G.graph["crs"])
    rng = np.random.default_rng(0)
    kinds, pts = [], []
    for kind, n in zip(WALK_KINDS, (3, 4, 2), strict=True):
        kinds += [kind] * n
        pts.append(rng.uniform([x0, y0], [x1, y1], size=(n, 2)))
    p = np.vstack(pts)
    fac = gpd.GeoDataFrame({"id": [f"f{i}" for i in range(len(p))], "kind": kinds},
                           geometry=gpd.points_from_xy(p[:, 0], p[:, 1]), crs=G.graph["crs"])
    res = compare(cells, fac, G, minutes=5.0, resolution_m=5.0)
    return {"section": "osm West-Oakland (one elder per 25 m cell, random sites, 5 min)",
            "nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
            "extent_km": [round((x1 - x0) / 1000, 2), round((y1 - y0) / 1000, 2)], **res}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--section", choices=("sample", "osm", "all"), default="all")
    ap.add_argument("--resolution", type=float, default=25.0,
                    help="raster pixel size on the sample (m)")
    ap.add_argument("--osm", type=Path, default=OSM,
                    help=f"OpenStreetMap XML extract (default {OSM})")
    args = ap.parse_args(argv)
    for name, fn in (("sample", section_sample), ("osm", section_osm)):
        if args.section in (name, "all"):
            print(json.dumps(fn(args), indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
