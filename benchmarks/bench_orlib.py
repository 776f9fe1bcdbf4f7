"""OR-Library p-median instances pmed1-pmed40 (Beasley 1985) solved to proven optimality.

Reads the instances from ``../shared/benchmarks/orlib/`` (not part of the repository), runs
:func:`elder_coverage.optimize.p_median` on each with the default (exact) settings and prints, per
instance, the size, the status, our objective against the published optimum, the proven
bound, the method that closed the gap and the seconds (reading the file and all-pairs
shortest paths are timed separately). Exits non-zero when an instance does not reach its
optimum or the total exceeds ``--budget`` seconds.

    .venv/bin/python benchmarks/bench_orlib.py [--only 1-10] [--budget 600]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORLIB = ROOT.parent / "shared" / "benchmarks" / "orlib"


def _parse_range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orlib", type=Path, default=ORLIB, help="folder with pmedN.txt, pmedopt.txt")
    ap.add_argument("--only", default="1-40", help="instance numbers, e.g. 1-5,16")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds allowed for all solves together (default 600 = 10 min)")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="per-instance solver time limit in seconds (default none)")
    args = ap.parse_args()
    if not (args.orlib / "pmedopt.txt").exists():
        print(f"SKIP: OR-Library instances not found in {args.orlib}")
        return 0

    from elder_coverage.optimize import p_median, read_orlib, read_orlib_optima

    optima = read_orlib_optima(args.orlib / "pmedopt.txt")
    head = (f"{'inst':>6} {'n':>4} {'p':>3} {'status':>9} {'objective':>9} {'optimum':>8} "
            f"{'bound':>8} {'read s':>6} {'solve s':>8}  method")
    print(head)
    print("-" * len(head))
    total = read_total = 0.0
    failures: list[str] = []
    for k in _parse_range(args.only):
        name = f"pmed{k}"
        t = time.perf_counter()
        dist, p = read_orlib(args.orlib / f"{name}.txt")
        read_s = time.perf_counter() - t
        res = p_median(dist, p, time_limit=args.time_limit)
        total += res.seconds
        read_total += read_s
        ok = res.status == "optimal" and abs(res.objective - optima[name]) < 0.5
        if not ok:
            failures.append(name)
        print(f"{name:>6} {dist.shape[0]:>4} {p:>3} {res.status:>9} {res.objective:>9.0f} "
              f"{optima[name]:>8.0f} {res.bound:>8.0f} {read_s:>6.2f} {res.seconds:>8.2f}  "
              f"{res.method}{'' if ok else '  <-- NOT OPTIMAL'}", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("-" * len(head))
    print(f"solve total {total:.1f} s (+ {read_total:.1f} s reading and shortest paths); "
          f"peak RSS {peak_mb:.0f} MB")
    verdict = "PASS" if not failures and total <= args.budget else "FAIL"
    print(f"{verdict}: {len(_parse_range(args.only)) - len(failures)} of "
          f"{len(_parse_range(args.only))} instances at their published optimum, proven; "
          f"solve total {total:.1f} s (budget {args.budget:.0f} s)"
          + (f"; not optimal: {', '.join(failures)}" if failures else ""))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
