"""``python -m elder_coverage.sample``: build the embedded Jilin sample into the data folder.

The data folder is ``data/processed`` in a source checkout, else ``$ELDER_COVERAGE_CACHE`` or
the user cache folder (rules: :mod:`elder_coverage.sample.paths`); ``--out`` overrides it.
"""

from __future__ import annotations

import argparse
import sys

from elder_coverage.sample.build import (
    AREAS,
    DEFAULT_AREA,
    DEFAULT_RESOLUTION_M,
    DEFAULT_SEED,
    build_sample,
    check_resolution,
    sample_dir,
    sample_is_current,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elder_coverage.sample", description=__doc__)
    parser.add_argument("--area", default=DEFAULT_AREA, choices=sorted(AREAS),
                        help="study area (default: the five rural counties of Jilin City)")
    parser.add_argument("--resolution", type=float, default=DEFAULT_RESOLUTION_M,
                        help="elder-grid cell size in metres (default 250)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", help="output folder (default <data folder>/<area>_<res>m; the "
                                      "data folder is data/processed in a source checkout, "
                                      "else $ELDER_COVERAGE_CACHE or the user cache folder)")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when the folder holds a sample built from the same "
                             "raw files, code and parameters")
    args = parser.parse_args(argv)
    from elder_coverage.cli import report_errors

    with report_errors("sample", prog="python -m elder_coverage.sample") as status:
        check_resolution(args.resolution, args.area)
        out = args.out or sample_dir(args.area, args.resolution)
        if args.if_missing and sample_is_current(out, args.area, args.resolution, args.seed):
            print(f"sample present and current: {out}")
            return 0
        path = build_sample(out, area=args.area, resolution=args.resolution, seed=args.seed)
        print(f"sample written: {path}")
    return status.code


if __name__ == "__main__":
    sys.exit(main())
