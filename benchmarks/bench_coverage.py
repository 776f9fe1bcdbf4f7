"""Coverage-engine benchmark: province-size straight-line and network runs, geopandas reference.

Prints figures; not run by the tests. Each section runs in its own process so that its peak
RSS is its own::

    python benchmarks/bench_coverage.py                 # every section
    python benchmarks/bench_coverage.py --section straight   # one of: straight, allcells,
                                                             # network, nxconvert, geopandas
    python benchmarks/bench_coverage.py --sample data/processed/province_100m
        # use a built sample (python -m elder_coverage.sample --area province --resolution 100)
        # instead of the synthetic province for the straight-line section

Synthetic input (until the sample builder's province grid is used): a 500 km × 374 km extent
(187,000 km², Jilin's area) cut into 100 m cells = 18.7 M grid cells. Settlements are discs
around 9 prefecture cities, 60 county seats, 1,000 township seats, 9,300 administrative
villages and 60,000 hamlets (自然屯; Jilin's orders of magnitude), which populates ≈4-5 % of
the cells: the share of settlement land (城镇村及工矿用地, roughly 8,000 km²) in Jilin.
5,551,165 elders aged 60+ (2020 census, province) are spread over the populated cells. ≈13 k
facilities of the five kinds sit in the settlements.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from elder_coverage.costs import straight_line_nearest
from elder_coverage.engine import compute_coverage
from elder_coverage.schema import FACILITY_KINDS
from elder_coverage.travel import RoadNetwork, from_arrays

CRS = "EPSG:32652"
X0, Y0 = 300_000.0, 4_600_000.0
PROVINCE_KM = (500.0, 374.0)
COUNTY_KM = (56.0, 56.0)  # ~3,100 km², an average Jilin county
ELDERS_60 = 5_551_165
#: Province counts; smaller extents get them in proportion to their area.
#: name: (count, radius m, relative elder density).
SETTLEMENTS = {"city": (9, 6000.0, 4.0), "county_seat": (60, 2500.0, 2.5),
               "town": (1000, 600.0, 1.5), "village": (9300, 300.0, 1.0),
               "hamlet": (60000, 130.0, 0.8)}
FACILITIES = {"county_home": 60, "township_centre": 700, "rural_courtyard": 6000,
              "dining_hall": 4800, "day_care": 1500}
STRAIGHT = {k: {"mode": "straight_line"} for k in FACILITY_KINDS}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Region:
    width_m: float
    height_m: float
    res: float
    n_grid: int
    cells: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    seats: dict[str, np.ndarray]


def synthetic_region(km: tuple[float, float], res: float = 100.0, seed: int = 0,
                     counts_scale: float | None = None) -> Region:
    """Grid of ``km`` at ``res`` metres with settlements, elders and facilities."""
    rng = np.random.default_rng(seed)
    w, h = km[0] * 1000.0, km[1] * 1000.0
    nx_, ny = int(w // res), int(h // res)
    scale = (km[0] * km[1]) / (PROVINCE_KM[0] * PROVINCE_KM[1]) if counts_scale is None \
        else counts_scale
    weight = np.zeros((ny, nx_), dtype=np.float32)
    seats: dict[str, np.ndarray] = {}
    for name, (count, radius, dens) in SETTLEMENTS.items():
        n = max(1, int(round(count * scale)))
        pts = rng.uniform([0, 0], [w, h], size=(n, 2))
        seats[name] = pts
        radii = radius * rng.uniform(0.6, 1.4, size=n)
        for (x, y), r in zip(pts, radii, strict=True):
            c0, c1 = int(max(0, (x - r) // res)), int(min(nx_, (x + r) // res + 1))
            r0, r1 = int(max(0, (y - r) // res)), int(min(ny, (y + r) // res + 1))
            if c0 >= c1 or r0 >= r1:
                continue
            cx = (np.arange(c0, c1) + 0.5) * res
            cy = (np.arange(r0, r1) + 0.5) * res
            d = np.hypot(cx[None, :] - x, cy[:, None] - y)
            # Denser at the centre; ragged edge so settlements are not perfect discs.
            inside = d <= r * rng.uniform(0.8, 1.0, size=d.shape)
            block = weight[r0:r1, c0:c1]
            block[inside] = np.maximum(block[inside], dens * (1.5 - d[inside] / r))
    rows, cols = np.nonzero(weight)
    val = weight[rows, cols] * rng.lognormal(0.0, 0.5, size=rows.size)
    e60 = val / val.sum() * ELDERS_60 * scale
    xy = np.column_stack([X0 + (cols + 0.5) * res, Y0 + (rows + 0.5) * res])
    # Township = nearest town seat; county = nearest county seat.
    towns = seats["town"] + [X0, Y0]
    cseats = seats["county_seat"] + [X0, Y0]
    t_idx = cKDTree(towns).query(xy, workers=-1)[1]
    c_idx = cKDTree(cseats).query(xy, workers=-1)[1]
    cells = gpd.GeoDataFrame(
        {"cell_id": np.arange(rows.size), "elders_60": e60, "elders_65": e60 * 0.68,
         "elders_80": e60 * 0.115,
         "county_code": pd.Series(c_idx).map(lambda i: f"22{i:04d}").to_numpy(),
         "township_code": pd.Series(t_idx).map(lambda i: f"22{i:07d}").to_numpy()},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)
    fac = _facilities(rng, seats, xy, weight[rows, cols], scale)
    return Region(w, h, res, nx_ * ny, cells, fac, seats)


def _facilities(rng, seats, cell_xy, cell_w, scale) -> gpd.GeoDataFrame:
    urban = np.flatnonzero(cell_w >= 1.5)
    parts = []
    for kind, count in FACILITIES.items():
        n = max(1, int(round(count * scale)))
        if kind == "county_home":
            base = seats["county_seat"][rng.integers(0, len(seats["county_seat"]), n)] \
                + [X0, Y0]
            pts = base + rng.normal(0, 800, size=(n, 2))
        elif kind == "township_centre":
            base = seats["town"][rng.integers(0, len(seats["town"]), n)] + [X0, Y0]
            pts = base + rng.normal(0, 300, size=(n, 2))
        elif kind == "rural_courtyard":
            base = seats["village"][rng.integers(0, len(seats["village"]), n)] + [X0, Y0]
            pts = base + rng.normal(0, 150, size=(n, 2))
        else:
            # Halls and day care mostly in towns and cities, the rest in villages.
            k_urban = int(n * (0.6 if kind == "dining_hall" else 0.85))
            pick = cell_xy[urban[rng.integers(0, urban.size, k_urban)]] \
                + rng.uniform(-50, 50, size=(k_urban, 2))
            base = seats["village"][rng.integers(0, len(seats["village"]), n - k_urban)] \
                + [X0, Y0]
            pts = np.vstack([pick, base + rng.normal(0, 150, size=(n - k_urban, 2))])
        parts.append(pd.DataFrame({"kind": kind, "x": pts[:, 0], "y": pts[:, 1]}))
    df = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(
        {"id": [f"F{i:05d}" for i in range(len(df))], "name": "synthetic", "kind": df["kind"],
         "capacity": rng.integers(10, 120, len(df))},
        geometry=gpd.points_from_xy(df["x"], df["y"]), crs=CRS)


def _load_sample(folder: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, int]:
    from elder_coverage.study import load_sample

    study = load_sample(folder)
    return study.cells, study.facilities, int(study.meta["counts"]["grid_cells"])


# --------------------------------------------------------------------------- sections


def section_straight(args) -> dict:
    t0 = time.perf_counter()
    if args.sample:
        cells, fac, n_grid = _load_sample(args.sample)
        source = args.sample
    else:
        reg = synthetic_region(PROVINCE_KM, 100.0, seed=1)
        cells, fac, n_grid = reg.cells, reg.facilities, reg.n_grid
        source = "synthetic province"
    t_gen = time.perf_counter() - t0
    rss_before = rss_mb()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = compute_coverage(cells, fac, standards=STRAIGHT)
    t_eng = time.perf_counter() - t0
    out = res.cells
    covered = {k: float(out.loc[out[f"{k}_covered"], "elders_60"].sum() / out["elders_60"].sum())
               for k in FACILITY_KINDS}
    return {"section": "straight", "load_avg_1min": os.getloadavg()[0],
            "source": source, "grid_cells": n_grid,
            "populated_cells": len(cells), "populated_share": len(cells) / n_grid,
            "facilities": int(len(fac)), "input_build_s": t_gen, "engine_s": t_eng,
            "rss_before_engine_mb": rss_before, "peak_rss_mb": peak_rss_mb(),
            "share_covered_60": covered}


def section_allcells(args) -> dict:
    """Every one of the 18.7 M grid cells through the array core (as if all populated)."""
    reg = synthetic_region(PROVINCE_KM, 100.0, seed=1)
    fac = reg.facilities
    nx_, ny = int(reg.width_m // 100), int(reg.height_m // 100)
    del reg
    xs = X0 + (np.arange(nx_) + 0.5) * 100.0
    ys = Y0 + (np.arange(ny) + 0.5) * 100.0
    xy = np.empty((nx_ * ny, 2))
    xy[:, 0] = np.tile(xs, ny)
    xy[:, 1] = np.repeat(ys, nx_)
    fxy = np.column_stack([fac.geometry.x, fac.geometry.y])
    radii = {"county_home": 25000.0, "township_centre": 12000.0, "rural_courtyard": 1000.0,
             "dining_hall": 1000.0, "day_care": 1000.0}
    times = {}
    rss_before = rss_mb()
    t_all = time.perf_counter()
    for kind, r in radii.items():
        t0 = time.perf_counter()
        sel = (fac["kind"] == kind).to_numpy()
        near, dist, cnt = straight_line_nearest(xy, fxy[sel], r)
        times[kind] = time.perf_counter() - t0
        del near, dist, cnt
    return {"section": "allcells", "load_avg_1min": os.getloadavg()[0],
            "grid_cells": len(xy), "facilities": int(len(fac)),
            "engine_s": time.perf_counter() - t_all, "per_kind_s": times,
            "rss_before_engine_mb": rss_before, "peak_rss_mb": peak_rss_mb()}


def planar_road_grid(width_m: float, height_m: float, spacing: float, seed: int = 2):
    """Planar street grid with 8 % of links missing and faster arterial lines every 10th."""
    rng = np.random.default_rng(seed)
    nx_, ny = int(width_m // spacing) + 1, int(height_m // spacing) + 1
    ii, jj = np.meshgrid(np.arange(nx_), np.arange(ny), indexing="xy")
    ii, jj = ii.ravel(), jj.ravel()
    jitter = rng.uniform(-0.2, 0.2, size=(ii.size, 2)) * spacing
    xy = np.column_stack([X0 + ii * spacing, Y0 + jj * spacing]) + jitter
    node = jj * nx_ + ii
    east = node[ii < nx_ - 1]
    north = node[jj < ny - 1]
    u = np.concatenate([east, north])
    v = np.concatenate([east + 1, north + nx_])
    arterial = np.concatenate([(jj[ii < nx_ - 1] % 10) == 0, (ii[jj < ny - 1] % 10) == 0])
    keep = rng.random(u.size) > 0.08
    u, v, arterial = u[keep], v[keep], arterial[keep]
    length = np.hypot(*(xy[u] - xy[v]).T) * rng.uniform(1.0, 1.3, size=u.size)
    speed = np.where(arterial, 60.0, 30.0) * 1000 / 60  # m/min
    walk = length / 50.0  # 3.0 km/h
    drive = length / speed
    uu, vv = np.concatenate([u, v]), np.concatenate([v, u])
    return xy, uu, vv, np.concatenate([walk, walk]), np.concatenate([drive, drive])


def section_network(args) -> dict:
    reg = synthetic_region(PROVINCE_KM, 100.0, seed=1)
    cells, fac = reg.cells, reg.facilities
    t0 = time.perf_counter()
    xy, u, v, walk, drive = planar_road_grid(reg.width_m, reg.height_m, args.spacing)
    t_graph = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = RoadNetwork(travel_graphs={
        "walk": from_arrays(xy, u, v, walk, crs=CRS, travel="walk"),
        "drive": from_arrays(xy, u, v, drive, crs=CRS, travel="drive")})
    t_csr = time.perf_counter() - t0
    rss_before = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = compute_coverage(cells, fac, net, counts=False)
    t_nearest, c_nearest = time.perf_counter() - t0, time.process_time() - c0
    out = res.cells
    unreach = {k: int((~out[f"{k}_reachable"].fillna(False).astype(bool)).sum())
               for k in FACILITY_KINDS}
    med = {k: float(np.nanmedian(out[f"{k}_time_min"])) for k in FACILITY_KINDS}
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compute_coverage(cells, fac, net, counts=True)
    t_counts, c_counts = time.perf_counter() - t0, time.process_time() - c0
    return {"section": "network", "load_avg_1min": os.getloadavg()[0],
            "nodes": int(len(xy)), "directed_edges": int(u.size),
            "populated_cells": len(cells), "facilities": int(len(fac)),
            "graph_arrays_s": t_graph, "csr_build_s": t_csr,
            "nearest_all_kinds_s": t_nearest, "with_counts_all_kinds_s": t_counts,
            # CPU seconds (all threads): on the shared 2-core machine wall time mostly
            # measures the other jobs.
            "nearest_all_kinds_cpu_s": c_nearest, "with_counts_all_kinds_cpu_s": c_counts,
            "unreachable_cells": unreach, "median_time_min": med,
            "rss_before_engine_mb": rss_before, "peak_rss_mb": peak_rss_mb()}


def section_nxconvert(args) -> dict:
    """Cost of turning an osmnx-style networkx graph of the same size into CSR matrices."""
    import networkx as nx

    from elder_coverage.travel import travel_graph

    w, h = PROVINCE_KM[0] * 1000, PROVINCE_KM[1] * 1000
    xy, u, v, walk, drive = planar_road_grid(w, h, args.spacing)
    t0 = time.perf_counter()
    G = nx.MultiDiGraph(crs=CRS)
    G.add_nodes_from((i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(xy))
    G.add_edges_from(
        (int(a), int(b), {"walk_min": float(wm), "drive_min": float(dm)})
        for a, b, wm, dm in zip(u, v, walk, drive, strict=True))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    travel_graph(G, "walk")
    travel_graph(G, "drive")
    t_conv = time.perf_counter() - t0
    return {"section": "nxconvert", "load_avg_1min": os.getloadavg()[0],
            "nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
            "networkx_build_s": t_build, "to_csr_both_modes_s": t_conv,
            "peak_rss_mb": peak_rss_mb()}


RADII = {"county_home": 25000.0, "township_centre": 12000.0, "rural_courtyard": 1000.0,
         "dining_hall": 1000.0, "day_care": 1000.0}


def geopandas_way(cells: gpd.GeoDataFrame, fac: gpd.GeoDataFrame, refine: bool):
    """Buffer + sjoin per kind (+ sjoin_nearest for the nearest distance).

    ``refine`` buffers by the radius of the circumscribing 64-gon and keeps pairs whose exact
    distance is within the radius: without it the polygon, inscribed in the circle, misses
    cells just inside the radius.
    """
    out = {}
    base = cells[["cell_id", "elders_60", "geometry"]]
    for kind, r in RADII.items():
        fk = fac.loc[fac["kind"] == kind, ["id", "geometry"]]
        rb = r / math.cos(math.pi / 64) if refine else r
        buf = gpd.GeoDataFrame({"id": fk["id"].to_numpy()}, geometry=fk.buffer(rb).to_numpy(),
                               crs=fk.crs)
        sj = gpd.sjoin(base, buf, how="inner", predicate="within")
        if refine:
            fpt = fk.set_index("id").geometry
            d = sj.geometry.distance(gpd.GeoSeries(fpt.loc[sj["id"]].to_numpy(),
                                                   index=sj.index, crs=fk.crs))
            sj = sj.loc[d.to_numpy() <= r]
        n_within = sj.groupby(level=0).size().reindex(base.index, fill_value=0)
        near = gpd.sjoin_nearest(base, fk, how="left", distance_col="d")
        near = near[~near.index.duplicated()]
        out[kind] = (n_within.to_numpy(), near["d"].reindex(base.index).to_numpy())
    return out


def _compare_once(cells, fac, repeat: int = 1):
    """Best-of-``repeat`` times: the machine is shared, the minimum is the least disturbed."""
    t_eng, t_gpd = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = compute_coverage(cells, fac, standards=STRAIGHT).cells
        t_eng.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = geopandas_way(cells, fac, refine=True)
        t_gpd.append(time.perf_counter() - t0)
    return res, ref, min(t_eng), min(t_gpd)


def section_geopandas(args) -> dict:
    county = synthetic_region(COUNTY_KM, 100.0, seed=3)
    cells, fac = county.cells, county.facilities
    # Warm-up (imports, GEOS/STRtree first use) so both sides are timed hot.
    _compare_once(cells.head(200), fac)
    res, ref, t_eng, t_gpd = _compare_once(cells, fac, repeat=5)
    totals = {}
    for kind in RADII:
        n_within, dist = ref[kind]
        ours = res[f"{kind}_covered"].to_numpy()
        assert (res[f"{kind}_n_within"].to_numpy() == n_within).all(), kind
        np.testing.assert_allclose(res[f"{kind}_dist_m"].to_numpy(), dist, rtol=1e-9)
        e = cells["elders_60"].to_numpy()
        ours_total, ref_total = e[ours].sum(), e[n_within > 0].sum()
        assert ours_total == ref_total, (kind, ours_total, ref_total)
        totals[kind] = float(ours_total)
    plain = geopandas_way(cells, fac, refine=False)
    missed = {k: int(((plain[k][0] > 0) != (ref[k][0] > 0)).sum()) for k in RADII}
    # Province: engine on everything; geopandas on a random 5 % of cells, scaled up.
    prov = synthetic_region(PROVINCE_KM, 100.0, seed=1)
    sub = prov.cells.sample(frac=0.05, random_state=0)
    t0 = time.perf_counter()
    geopandas_way(sub, prov.facilities, refine=True)
    t_gpd_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compute_coverage(prov.cells, prov.facilities, standards=STRAIGHT)
    t_eng_prov = time.perf_counter() - t0
    return {"section": "geopandas", "load_avg_1min": os.getloadavg()[0],
            "county_cells": len(cells), "county_facilities": len(fac),
            "county_grid_cells": county.n_grid,
            "county_engine_s": t_eng, "county_geopandas_s": t_gpd,
            "county_ratio": t_gpd / t_eng, "covered_elders_equal": totals,
            "plain_buffer_sjoin_disagreeing_cells": missed,
            "province_cells": len(prov.cells), "province_facilities": len(prov.facilities),
            "province_engine_s": t_eng_prov,
            "province_geopandas_sample_cells": len(sub),
            "province_geopandas_sample_s": t_gpd_sub,
            "province_geopandas_extrapolated_s": t_gpd_sub * len(prov.cells) / len(sub),
            "province_ratio_extrapolated": t_gpd_sub * len(prov.cells) / len(sub) / t_eng_prov,
            "peak_rss_mb": peak_rss_mb()}


SECTIONS = {"straight": section_straight, "allcells": section_allcells,
            "network": section_network, "nxconvert": section_nxconvert,
            "geopandas": section_geopandas}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--section", choices=sorted(SECTIONS))
    p.add_argument("--sample", help="built sample folder to use instead of the synthetic grid")
    p.add_argument("--spacing", type=float, default=600.0,
                   help="road-grid spacing in metres (600 m over the province ≈ 520 k nodes)")
    args = p.parse_args(argv)
    if args.section:
        print(json.dumps(SECTIONS[args.section](args), indent=2, ensure_ascii=False))
        return 0
    for name in SECTIONS:
        cmd = [sys.executable, __file__, "--section", name, "--spacing", str(args.spacing)]
        if args.sample:
            cmd += ["--sample", args.sample]
        print(f"== {name}", flush=True)
        rc = subprocess.call(cmd)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
