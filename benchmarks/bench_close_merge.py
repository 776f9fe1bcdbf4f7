"""Province-scale closing/merging of township welfare centres (issue: siting, province scale).

Every township centre of the Jilin sample (whole province) is assessed; every failing centre
is closed unless needed to keep ``--target`` of today's covered elders covered or to house the
residents of the closed ones (one MILP, HiGHS). Demand = the ~12,000 villages with their
elders (each populated cell is given to its nearest village, so villages partition the grid).
Prints sizes, the time of each step, the solver status and gap, and the plan's headline.

    .venv/bin/python benchmarks/bench_close_merge.py [--resolution 250] [--time-limit 110]
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from pathlib import Path

import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=float, default=250.0)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--max-distance-km", type=float, default=60.0)
    ap.add_argument("--time-limit", type=float, default=110.0)
    args = ap.parse_args()
    warnings.simplefilter("ignore", UserWarning)

    from elder_coverage.close_merge import plan_close_merge
    from elder_coverage.sample.build import build_sample, sample_dir
    from elder_coverage.study import load_sample
    from elder_coverage.travel import RoadNetwork

    folder = sample_dir("province", args.resolution)
    t = time.perf_counter()
    if not (folder / "manifest.json").exists():
        build_sample(folder, area="province", resolution=args.resolution)
        print(f"built province sample at {args.resolution:g} m: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    study = load_sample(folder)
    load_s = time.perf_counter() - t
    v = study.villages
    demand = gpd.GeoDataFrame({"cell_id": v["code"], "elders_60": v["elders_60"].astype(float),
                               "township_code": v["township_code"],
                               "county_code": v["county_code"]},
                              geometry=v.geometry, crs=v.crs)
    centres = study.facilities[study.facilities["kind"] == "township_centre"]
    print(f"province sample: {len(centres)} township centres, {len(demand)} villages as demand "
          f"({demand['elders_60'].sum():,.0f} elders 60+), road graph "
          f"{study.graph.number_of_nodes():,} nodes; load {load_s:.1f} s")

    t0 = time.perf_counter()
    net = RoadNetwork(study.graph)
    plan = plan_close_merge(demand, study.facilities, net, coverage_target=args.target,
                            max_distance_km=args.max_distance_km, time_limit=args.time_limit)
    total = time.perf_counter() - t0
    opt = plan.optimisation
    failing = int(plan.assessment["fails"].sum())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"failing centres: {failing} of {len(plan.assessment)}; closed {len(plan.closed)}, "
          f"kept because needed {failing - len(plan.closed)}")
    print(f"solver: {opt['model']} status={opt['status']} gap={opt['gap']:.2e} "
          f"solve={opt['seconds']:.1f} s")
    print(f"residents moved: {int(plan.merges['residents_moved'].sum())}; elders losing "
          f"township-centre coverage: {plan.lost_coverage['elders_60'].sum():,.0f} "
          f"({plan.before['covered_elders']:,} → {plan.after['covered_elders']:,})")
    print(f"close/merge total (coverage before/after, distances, MILP, merge table): "
          f"{total:.1f} s (goal < 120 s); peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
