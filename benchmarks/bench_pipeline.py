"""End-to-end run benchmark: stage seconds, output sizes and the province speed aims.

Prints figures; not run by the tests. Runs, each in its own Python process (so that imports
and caches are those of a fresh ``elder-coverage run``), through
:func:`elder_coverage.runner.run_scenario` into a temporary folder:

* ``demo``: the packaged demo scenario (coverage, close/merge, new sites) on the Jilin City
  rural sample;
* ``province``: coverage only on the province sample at 250 m (``--sample`` folder, default
  ``data/processed/province_250m``); skipped with a message when it is not built.

For each run: the seconds per stage from its ``run_log.json`` (key ``seconds``; the
``*_solve`` entries are parts of their stage and not added again), the total, and the sizes
of the cell file and ``map.html``. For the province run the aims are checked and printed as
PASS/FAIL: end to end under 30 s, and every stage but ``coverage`` together at most twice
the coverage stage.

Usage::

    python benchmarks/bench_pipeline.py                       # demo and province
    python benchmarks/bench_pipeline.py --only province --sample data/processed/province_250m
    python benchmarks/bench_pipeline.py --no-cache            # parse the sample files again
    python benchmarks/bench_pipeline.py --cells cells.parquet # GeoParquet cell file
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Aims of the province coverage run (issue: output size and load/map speed).
TOTAL_AIM_S = 30.0
OTHER_TO_COVERAGE_AIM = 2.0


def _one(which: str, sample: str | None, out: Path, cells: str) -> dict:
    """Run one scenario in this process; return its run log, sizes and wall time."""
    from elder_coverage import runner, stages

    if which == "demo":
        scenario = runner.default_scenario()
    else:
        from elder_coverage.scenario import parse_scenario

        scenario = parse_scenario({"name": "province coverage",
                                   "study_area": {"sample": "province"},
                                   "analyses": {"coverage": {}}})
    if sample is not None:
        from elder_coverage.study import load_sample

        # The given folder as it is: never rebuilt, whatever its fingerprint says.
        stages.load_sample = lambda area, _f=Path(sample): load_sample(_f)
    import dataclasses

    scenario = dataclasses.replace(scenario, outputs={**scenario.outputs, "geopackage": cells})
    t = time.perf_counter()
    result = runner.run_scenario(scenario, out)
    wall = time.perf_counter() - t
    log = json.loads((out / "run_log.json").read_text(encoding="utf-8"))
    return {"which": which, "wall_s": round(wall, 2), "seconds": log["seconds"],
            "cells_bytes": (out / cells).stat().st_size,
            "map_bytes": (out / scenario.outputs["map"]).stat().st_size,
            "cells_file": cells, "elders_total": result.summary.get("elders_total")}


def _in_subprocess(which: str, sample: str | None, cells: str, no_cache: bool,
                   keep: str | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "coverage"), env.get("PYTHONPATH", "")])
    if no_cache:
        env["ELDER_COVERAGE_NO_CACHE"] = "1"
    with tempfile.TemporaryDirectory(prefix=f"bench_{which}_") as tmp:
        out = Path(keep) / which if keep else Path(tmp) / "run"
        cmd = [sys.executable, __file__, "--one", which, "--out", str(out), "--cells", cells]
        if sample is not None:
            cmd += ["--sample" if which == "province" else "--demo-sample", sample]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{which} run failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def _stages(seconds: dict) -> dict:
    # '<analysis>_solve' is the solver's part of its stage: counting it again double-counts.
    return {k: float(v) for k, v in seconds.items() if not k.endswith("_solve") and v is not None}


def _report(res: dict, check: bool) -> bool:
    stages = _stages(res["seconds"])
    total = sum(stages.values())
    print(f"\n== {res['which']} ({res['cells_file']})")
    for name, s in stages.items():
        print(f"  {name:<12} {s:8.2f} s")
    print(f"  {'total':<12} {total:8.2f} s   (wall in run_scenario {res['wall_s']:.2f} s)")
    print(f"  cells file   {res['cells_bytes'] / 1e6:8.1f} MB")
    print(f"  map.html     {res['map_bytes'] / 1e6:8.2f} MB")
    if not check:
        return True
    # The coverage work is the travel costs and the coverage read from them.
    cov = stages.get("costs", 0.0) + stages.get("coverage", 0.0)
    other = total - cov
    ratio = other / cov if cov else float("inf")
    ok_total = total < TOTAL_AIM_S
    ok_ratio = ratio <= OTHER_TO_COVERAGE_AIM
    print(f"  aim: end to end < {TOTAL_AIM_S:.0f} s: {'PASS' if ok_total else 'FAIL'} "
          f"({total:.1f} s, {total / TOTAL_AIM_S:.2f}× the aim)")
    print(f"  aim: non-coverage stages ≤ {OTHER_TO_COVERAGE_AIM:.0f}× costs + coverage: "
          f"{'PASS' if ok_ratio else 'FAIL'} ({other:.1f} s / {cov:.1f} s = {ratio:.2f}×)")
    return ok_total and ok_ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("demo", "province"))
    p.add_argument("--sample", default=str(ROOT / "data" / "processed" / "province_250m"),
                   help="built province sample folder (python -m elder_coverage.sample "
                        "--area province --resolution 250)")
    p.add_argument("--demo-sample", help="built Jilin City rural sample folder for the demo, "
                                          "used as it is (default: the package's own, "
                                          "rebuilt when stale)")
    p.add_argument("--cells", default="cells.gpkg", help="cell file name (.gpkg or .parquet)")
    p.add_argument("--no-cache", action="store_true",
                   help="parse the sample files (ELDER_COVERAGE_NO_CACHE=1)")
    p.add_argument("--keep", help="write the run folders to KEEP/demo and KEEP/province "
                                   "(new or earlier run folders) instead of a temporary folder")
    p.add_argument("--one", choices=("demo", "province"), help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        sample = args.sample if args.one == "province" else args.demo_sample
        print(json.dumps(_one(args.one, sample, Path(args.out), args.cells)))
        return 0
    print(f"uptime: {os.popen('uptime').read().strip()}")
    print(f"cache: {'off' if args.no_cache else 'on (the first run of new files fills it)'}")
    ok = True
    if args.only in (None, "demo"):
        _report(_in_subprocess("demo", args.demo_sample, args.cells, args.no_cache,
                               args.keep), check=False)
    if args.only in (None, "province"):
        if not (Path(args.sample) / "manifest.json").is_file():
            print(f"\n== province: skipped, no built sample at {args.sample} (build it with "
                  "python -m elder_coverage.sample --area province --resolution 250)")
        else:
            ok = _report(_in_subprocess("province", args.sample, args.cells, args.no_cache,
                                        args.keep), check=True)
    print(f"\nuptime: {os.popen('uptime').read().strip()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
