"""Siting optimiser against spopt (PySAL): same random planar instances, same answers, times.

Prints figures; not run by the tests. Every solve (ours and spopt's) runs in a fresh Python
process so that its peak RSS is its own and one solve cannot warm up or bloat the next::

    python benchmarks/bench_spopt.py                 # full sizes (≈ 15 min on 2 cores)
    python benchmarks/bench_spopt.py --quick         # small sizes, a minute or so
    python benchmarks/bench_spopt.py --case mclp     # one case (see the list below)
    python benchmarks/bench_spopt.py --solver cbc    # spopt through CBC instead of HiGHS

Instances (deterministic seeds): demand points in a 60 km × 40 km region, 70 % of them in 40
Gaussian settlements (σ 0.8-3 km) and 30 % scattered; integer weights (elders, lognormal,
≥ 1); candidate sites: 60 % near demand points (σ 500 m), 40 % anywhere; cost = Euclidean
distance in metres rounded to an integer, the same dense ``float64`` matrix for both.

Cases (the project's targets are for the full sizes):

* ``mclp``: maximal covering, 10,000 demand × 500 sites, p = 50, 2.5 km radius (≈ 72 % of
  the weight covered). Target: ours ≤ 7 s.
* ``pmedian``: p-median, 5,000 × 300, p = 20, proven optimal. Target: ours ≤ 30 s and
  ≤ 2 GB peak RSS.
* ``lscp-3km``, ``lscp-5km``: set covering, 5,000 × 300, radius 3 km / 5 km; rows that no
  site reaches within the radius are dropped from the matrix both sides get (spopt's LSCP
  is infeasible otherwise), the number dropped is printed.
* ``mclp-3km``, ``mclp-4km``: the ``mclp`` instance at the coverage levels planners target
  (≈ 81 % and 95 % covered). Aim (issue 13): ≤ 10 s proven optimal at 4 km.
* ``pcenter``: p-center, 1,500 × 150, p = 10 (spopt's ``PCenter`` has an assignment
  variable per pair, so the full 10,000 × 500 would be 5 M columns for it).
* ``cmclp``: capacitated maximal covering, 2,000 × 200, p = 20, 2.5 km, 1,000 places per
  site, split assignment. spopt has no such class (pysal/spopt#222, #415); the reference is
  the same formulation written in PuLP the way spopt builds its models (one variable per
  site and per pair within the radius) and solved by the same PuLP solver.

spopt builds a PuLP model (``from_cost_matrix``) and solves it with the fastest solver PuLP
has here (``--solver auto``): HiGHS through highspy for the covering models, CBC for the
p-median (see :func:`pick_solver`), each falling back to the other. spopt's time is model building +
solving (``solve(results=False)``: no client/facility lists); ours is the whole call. Both
are asked for the same tolerances (relative gap 1e-6, absolute gap 0.999 on these integral
objectives). spopt gets a wall-clock cap per case (``--spopt-cap``, building included): the
solver's own time limit is what is left after building (HiGHS does not always honour it:
its presolve of the 1.5 M-column p-median ran 10 minutes past a 300 s limit), and a worker
still running 120 s after the cap is killed. If spopt does not finish, its column shows
"> cap" and the ratio is a lower bound.

The objectives must agree within a relative 1e-6 (or, when spopt stopped early, ours must lie
between spopt's bound and its incumbent); otherwise the row says MISMATCH and the script exits
with status 1 after printing everything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.distance import cdist

REGION_M = (60_000.0, 40_000.0)
N_SETTLEMENTS = 40
REL_TOL = 1e-6
GAP_REL = 1e-6
GAP_ABS = 0.999  # objectives are integers here (integer weights × integer metres)


@dataclass
class Case:
    name: str
    model: str  # "mclp" | "pmedian" | "lscp"
    n_demand: int
    n_sites: int
    seed: int
    p: int | None = None
    radius: float | None = None
    spopt_cap: float = 300.0
    targets: dict = field(default_factory=dict)  # seconds / peak_mb / optimal


def full_cases(cap_pmedian: float, cap_cover: float) -> list[Case]:
    return [
        Case("mclp", "mclp", 10_000, 500, seed=1, p=50, radius=2500.0, spopt_cap=cap_cover,
             targets={"seconds": 7.0}),
        Case("pmedian", "pmedian", 5_000, 300, seed=2, p=20, spopt_cap=cap_pmedian,
             targets={"seconds": 30.0, "peak_mb": 2048.0, "optimal": True}),
        Case("lscp-3km", "lscp", 5_000, 300, seed=3, radius=3000.0, spopt_cap=cap_cover,
             targets={"optimal": True}),
        Case("lscp-5km", "lscp", 5_000, 300, seed=3, radius=5000.0, spopt_cap=cap_cover,
             targets={"optimal": True, "seconds": 0.5}),
        Case("mclp-3km", "mclp", 10_000, 500, seed=1, p=50, radius=3000.0,
             spopt_cap=cap_cover, targets={"optimal": True}),
        Case("mclp-4km", "mclp", 10_000, 500, seed=1, p=50, radius=4000.0,
             spopt_cap=cap_cover, targets={"seconds": 10.0, "optimal": True}),
        Case("pcenter", "pcenter", 1_500, 150, seed=4, p=10, spopt_cap=cap_cover,
             targets={"optimal": True}),
        Case("cmclp", "cmclp", 2_000, 200, seed=5, p=20, radius=2500.0, spopt_cap=cap_cover,
             targets={"optimal": True}),
    ]


def quick_cases(cap: float) -> list[Case]:
    return [
        Case("mclp", "mclp", 2_000, 150, seed=1, p=15, radius=2500.0, spopt_cap=cap),
        Case("pmedian", "pmedian", 1_000, 100, seed=2, p=10, spopt_cap=cap),
        Case("lscp-3km", "lscp", 1_000, 100, seed=3, radius=3000.0, spopt_cap=cap),
        Case("lscp-5km", "lscp", 1_000, 100, seed=3, radius=5000.0, spopt_cap=cap),
        Case("mclp-4km", "mclp", 2_000, 150, seed=1, p=15, radius=4000.0, spopt_cap=cap),
        Case("pcenter", "pcenter", 500, 60, seed=4, p=6, spopt_cap=cap),
        Case("cmclp", "cmclp", 800, 80, seed=5, p=8, radius=2500.0, spopt_cap=cap),
    ]

#: Places per site in the ``cmclp`` case (persons): binding at the busier sites.
CMCLP_CAPACITY = 1000.0


# --------------------------------------------------------------------------- instances


def planar_instance(n_demand: int, n_sites: int, seed: int, full_demand: int):
    """Demand points with integer weights, candidate sites, integer Euclidean metres.

    A smaller ``n_demand`` than ``full_demand`` shrinks the region (and the number of
    settlements) in proportion, so densities, and the meaning of a radius, stay the same.
    """
    rng = np.random.default_rng(seed)
    scale = n_demand / full_demand
    w_m, h_m = REGION_M[0] * scale ** 0.5, REGION_M[1] * scale ** 0.5
    k = max(3, round(N_SETTLEMENTS * scale))
    centres = rng.uniform([0, 0], [w_m, h_m], size=(k, 2))
    sd = rng.uniform(800.0, 3000.0, k)
    n_cl = int(n_demand * 0.7)
    c = rng.integers(0, k, n_cl)
    pts = np.vstack([centres[c] + rng.normal(size=(n_cl, 2)) * sd[c, None],
                     rng.uniform([0, 0], [w_m, h_m], size=(n_demand - n_cl, 2))])
    pts = np.clip(pts, 0.0, [w_m, h_m])
    weights = np.maximum(1, np.round(rng.lognormal(2.0, 1.0, n_demand))).astype(np.int64)
    m_near = int(n_sites * 0.6)
    sites = np.vstack([pts[rng.integers(0, n_demand, m_near)]
                       + rng.normal(size=(m_near, 2)) * 500.0,
                       rng.uniform([0, 0], [w_m, h_m], size=(n_sites - m_near, 2))])
    cost = np.rint(cdist(pts, sites))
    return cost, weights


# --------------------------------------------------------------------------- workers


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM).

    Not ``getrusage().ru_maxrss``: Linux carries the parent's RSS at fork over into the
    child's ru_maxrss (exec keeps the old address space's high-water mark), so a worker
    started by this script would report at least the parent's size.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_ours(spec: dict) -> dict:
    from elder_coverage.optimize import (
        capacitated_max_coverage,
        max_coverage,
        p_center,
        p_median,
        set_cover,
    )

    cost = np.load(spec["cost"])
    w = np.load(spec["weights"])
    base = _rss_mb()
    t0 = time.perf_counter()
    if spec["model"] == "mclp":
        res = max_coverage(cost, spec["p"], spec["radius"], weights=w,
                           time_limit=spec["time_limit"])
    elif spec["model"] == "pmedian":
        res = p_median(cost, spec["p"], weights=w, time_limit=spec["time_limit"])
    elif spec["model"] == "pcenter":
        res = p_center(cost, p=spec["p"], time_limit=spec["time_limit"])
    elif spec["model"] == "cmclp":
        res = capacitated_max_coverage(cost, p=spec["p"], limit=spec["radius"],
                                       capacity=CMCLP_CAPACITY, weights=w,
                                       time_limit=spec["time_limit"])
    else:
        res = set_cover(cost, spec["radius"], time_limit=spec["time_limit"])
    wall = time.perf_counter() - t0
    out = {"seconds": wall, "objective": float(res.objective), "bound": float(res.bound),
           "status": res.status, "gap": float(res.gap), "n_sites": int(res.sites.size),
           "method": res.method, "message": res.message,
           "covered_share": (float(res.covered_weight / res.total_weight)
                             if spec["model"] in ("mclp", "cmclp") else None),
           "base_mb": base, "peak_mb": _peak_mb()}
    keep = ("lagrangian_seconds", "sites_fixed_closed", "sites_fixed_open", "sites_in_milp",
            "radius_rounds", "milp_seconds", "patterns", "nonzeros", "set_cover_solves",
            "start_radius", "pairs")
    out["details"] = {k: res.details[k] for k in keep if k in res.details}
    return out


def make_solver(name: str, time_limit: float, log: str):
    import pulp

    if name == "HiGHS":
        return pulp.HiGHS(msg=False, gapRel=GAP_REL, gapAbs=GAP_ABS, timeLimit=time_limit)
    if name == "HiGHS_CMD":
        return pulp.HiGHS_CMD(msg=False, gapRel=GAP_REL, gapAbs=GAP_ABS, timeLimit=time_limit)
    return pulp.PULP_CBC_CMD(msg=False, gapRel=GAP_REL, gapAbs=GAP_ABS, timeLimit=time_limit,
                             logPath=log)


def _cbc_bound(path: str) -> float:
    """The lower bound a time-limited CBC run printed (NaN when absent)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return float("nan")
    for line in text.splitlines():
        if line.startswith("Lower bound:"):
            return float(line.split(":")[1])
    return float("nan")


def worker_spopt(spec: dict) -> dict:
    import pulp
    from spopt.locate import LSCP, MCLP, PCenter, PMedian

    cost = np.load(spec["cost"])
    w = np.load(spec["weights"])
    base = _rss_mb()
    t0 = time.perf_counter()
    if spec["model"] == "mclp":
        model = MCLP.from_cost_matrix(cost, w, spec["radius"], p_facilities=spec["p"])
    elif spec["model"] == "pmedian":
        model = PMedian.from_cost_matrix(cost, w, p_facilities=spec["p"])
    elif spec["model"] == "pcenter":
        model = PCenter.from_cost_matrix(cost, p_facilities=spec["p"])
    elif spec["model"] == "cmclp":
        model = PulpCapacitatedMCLP(cost, w, spec["radius"], spec["p"], CMCLP_CAPACITY)
    else:
        model = LSCP.from_cost_matrix(cost, spec["radius"])
    build = time.perf_counter() - t0
    print(f"built {build:.3f}", flush=True)  # read by the parent if this worker is killed
    log = spec["result"] + ".solver.log"
    solver = make_solver(spec["solver"], max(1.0, spec["cap"] - build), log)
    t1 = time.perf_counter()
    error = ""
    try:
        model.solve(solver, results=False)
    except RuntimeError as exc:  # spopt's check_status: no solution
        error = str(exc)
    solve = time.perf_counter() - t1
    objective = pulp.value(model.problem.objective)
    status, gap, bound = pulp.LpStatus[model.problem.status], float("nan"), float("nan")
    h = getattr(model.problem, "solverModel", None)
    if spec["solver"] == "HiGHS" and h is not None:
        import highspy

        ms = h.getModelStatus()
        status = {highspy.HighsModelStatus.kOptimal: "optimal",
                  highspy.HighsModelStatus.kTimeLimit: "time_limit"}.get(
                      ms, h.modelStatusToString(ms))
        info = h.getInfo()
        gap, bound = float(info.mip_gap), float(info.mip_dual_bound)
        if spec["model"] in ("mclp", "cmclp"):
            bound = -bound  # PuLP hands HiGHS the maximisation as min of -objective
        if info.primal_solution_status != 2:  # no feasible solution (PuLP then reports 0)
            objective, status = None, "no solution"
    else:
        status = {pulp.LpSolutionOptimal: "optimal",
                  pulp.LpSolutionIntegerFeasible: "time_limit",
                  pulp.LpSolutionNoSolutionFound: "no solution"}.get(
                      model.problem.sol_status, status)
        if status == "optimal":
            bound, gap = float(objective), 0.0
        else:
            # CBC's log bound is for the minimisation it solves; only used for minimising.
            bound = (_cbc_bound(log) if spec["model"] not in ("mclp", "cmclp")
                     else float("nan"))
            if status == "no solution":
                objective = None
            elif objective is not None and np.isfinite(bound):
                gap = abs(objective - bound) / max(abs(objective), 1e-12)
    return {"seconds": build + solve, "build_seconds": build, "solve_seconds": solve,
            "objective": float("nan") if objective is None else float(objective),
            "bound": bound, "status": status, "gap": gap, "error": error, "base_mb": base,
            "peak_mb": _peak_mb()}


class PulpCapacitatedMCLP:
    """Capacitated MCLP in PuLP, built the way spopt builds its models (spopt has none).

    Variables: ``y_j`` binary per site, ``z_ij`` in [0, 1] per pair within the radius;
    max Σ w_i z_ij, Σ_j z_ij ≤ 1, Σ_i w_i z_ij ≤ capacity · y_j, z_ij ≤ y_j, Σ y = p.
    Exposes ``problem`` and ``solve(solver, results=False)`` like a spopt model.
    """

    def __init__(self, cost, weights, radius, p, capacity):
        import pulp

        n, m = cost.shape
        prob = pulp.LpProblem("cmclp", pulp.LpMaximize)
        y = [pulp.LpVariable(f"y_{j}", cat="Binary") for j in range(m)]
        rows, cols = np.nonzero(cost <= radius)
        z = {(i, j): pulp.LpVariable(f"z_{i}_{j}", 0, 1) for i, j in zip(rows, cols, strict=True)}
        prob += pulp.lpSum(float(weights[i]) * v for (i, _), v in z.items())
        by_row: dict[int, list] = {}
        by_site: dict[int, list] = {}
        for (i, j), v in z.items():
            by_row.setdefault(i, []).append(v)
            by_site.setdefault(j, []).append((float(weights[i]), v))
            prob += v <= y[j]
        for vs in by_row.values():
            prob += pulp.lpSum(vs) <= 1
        for j, items in by_site.items():
            prob += pulp.lpSum(wi * v for wi, v in items) <= capacity * y[j]
        prob += pulp.lpSum(y) == p
        self.problem = prob

    def solve(self, solver, results: bool = False):
        self.problem.solve(solver)
        return self


def run_worker(spec: dict, workdir: Path, kill_after: float) -> dict:
    """Run one solve in a fresh interpreter; poll its peak RSS; kill it after ``kill_after``."""
    tag = f"{spec['case']}-{spec['who']}"
    spec = dict(spec, result=str(workdir / f"{tag}.json"))
    log = workdir / f"{tag}.log"
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    t0 = time.perf_counter()
    hwm = 0.0
    with open(log, "w") as fh:
        # Own session: a solver the worker starts (CBC) is killed with it.
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        killed = False
        while True:
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                hwm = max(hwm, _tree_hwm_mb(proc.pid))
                if time.perf_counter() - t0 > kill_after:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    killed = True
                    break
    wall = time.perf_counter() - t0
    if killed:
        out = {"killed": True, "seconds": wall, "peak_mb": hwm, "status": "killed",
               "objective": float("nan"), "bound": float("nan"), "gap": float("nan")}
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("built "):
                out["build_seconds"] = float(line.split()[1])
        return out
    if proc.returncode != 0 or not Path(spec["result"]).exists():
        tail = log.read_text(errors="replace")[-2000:]
        return {"failed": True, "seconds": wall, "peak_mb": hwm, "status": "error",
                "objective": float("nan"), "bound": float("nan"), "gap": float("nan"),
                "error": f"exit {proc.returncode}: {tail}"}
    out = json.loads(Path(spec["result"]).read_text())
    # A solver child (CBC) runs next to the Python model: the polled sum counts both.
    out["peak_mb"] = max(out["peak_mb"], hwm)
    return out


def _tree_hwm_mb(pid: int) -> float:
    """Sum of the peak RSS (VmHWM) of a process and its descendants, MB."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024.0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                total += sum(_tree_hwm_mb(int(c)) for c in fh.read().split())
    except OSError:
        pass
    return total


# --------------------------------------------------------------------------- checks


def agree(model: str, ours: dict, theirs: dict) -> tuple[bool | None, str]:
    """True/False when comparable, None when spopt gave nothing to compare with."""
    a, b = ours["objective"], theirs["objective"]
    if not np.isfinite(a) or not np.isfinite(b):
        return None, "not compared (no objective on one side)"
    if ours["status"] == "optimal" and theirs["status"] == "optimal":
        ok = abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1.0)
        return ok, f"ours {a:.10g} vs spopt {b:.10g}"
    if ours["status"] == "optimal":
        # spopt stopped early: the optimum lies between its bound and its incumbent.
        lo, hi = ((theirs["bound"], b) if model not in ("mclp", "cmclp")
                  else (b, theirs["bound"]))
        tol = REL_TOL * max(abs(a), 1.0)
        ok = ((not np.isfinite(lo) or a >= lo - tol) and (not np.isfinite(hi) or a <= hi + tol))
        return ok, (f"ours {a:.10g} (optimal) within spopt's [{lo:.10g}, {hi:.10g}]" if ok else
                    f"ours {a:.10g} (optimal) outside spopt's [{lo:.10g}, {hi:.10g}]")
    return None, f"not compared (ours {ours['status']}, spopt {theirs['status']})"


def pick_solver(choice: str, model: str) -> str:
    """PuLP solver for spopt: the one that is fastest here for the model.

    ``auto``: HiGHS (through highspy) for the covering models; CBC first for the p-median,
    whose 1.5 M-variable assignment model HiGHS 1.16 does not get through: on the quick
    1,000 × 100 instance it found no feasible solution in 70 s (its root LP did not finish),
    where CBC proved the optimum in 110 s. Falls back to whatever PuLP has.
    """
    import pulp

    avail = pulp.listSolvers(onlyAvailable=True)
    highs, cbc = ["HiGHS", "HiGHS_CMD"], ["PULP_CBC_CMD"]
    order = {"auto": cbc + highs if model == "pmedian" else highs + cbc,
             "highs": highs, "cbc": cbc}[choice]
    for name in order:
        if name in avail:
            return name
    raise SystemExit(f"no solver of {order} available to PuLP (available: {avail})")


def _fmt_s(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small instances (a minute or so)")
    p.add_argument("--case", action="append",
                   help="run only this case (repeatable): mclp, pmedian, lscp-3km, "
                        "lscp-5km, mclp-3km, mclp-4km, pcenter, cmclp")
    p.add_argument("--solver", choices=["auto", "highs", "cbc"], default="auto",
                   help="PuLP solver for spopt (auto: HiGHS for covering, CBC for p-median)")
    p.add_argument("--spopt-cap", type=float, default=None,
                   help="wall-clock seconds for each spopt run, building included "
                        "(default: 420 for the p-median, 240 for the covering models; "
                        "60 with --quick)")
    p.add_argument("--ours-limit", type=float, default=600.0,
                   help="time_limit passed to our functions (a guard, not a target)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        spec = json.loads(args.worker)
        out = (worker_ours if spec["who"] == "ours" else worker_spopt)(spec)
        Path(spec["result"]).write_text(json.dumps(out))
        return 0

    if args.quick:
        cases = quick_cases(args.spopt_cap or 60.0)
    else:
        cases = full_cases(args.spopt_cap or 420.0, args.spopt_cap or 240.0)
    if args.case:
        unknown = set(args.case) - {c.name for c in cases}
        if unknown:
            p.error(f"unknown case(s) {sorted(unknown)}")
        cases = [c for c in cases if c.name in args.case]
    for case in cases:
        pick_solver(args.solver, case.model)  # fail early when none is available
    full_demand = {"mclp": 10_000, "pmedian": 5_000, "lscp": 5_000, "pcenter": 1_500,
                   "cmclp": 2_000}

    from importlib.metadata import version

    import pulp
    import spopt

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start; Python {platform.python_version()}")
    print(f"spopt {spopt.__version__}, PuLP {pulp.__version__}, highspy "
          f"{version('highspy')}; PuLP's available solvers: "
          f"{', '.join(pulp.listSolvers(onlyAvailable=True))} (--solver {args.solver}); "
          "ours: HiGHS via elder_coverage.optimize, 1 thread (its default); spopt's solver at its "
          "default thread count")
    print(f"{'quick' if args.quick else 'full'} sizes; each solve in a fresh process\n",
          flush=True)

    rows, checks, notes = [], [], []
    results: dict[str, tuple[Case, dict, dict]] = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_spopt_") as tmp:
        work = Path(tmp)
        for case in cases:
            cost, w = planar_instance(case.n_demand, case.n_sites, case.seed,
                                      full_demand[case.model])
            dropped = 0
            if case.model == "lscp":
                ok = (cost <= case.radius).any(axis=1)
                dropped = int((~ok).sum())
                cost, w = cost[ok], w[ok]
            np.save(work / f"{case.name}-cost.npy", cost)
            np.save(work / f"{case.name}-w.npy", w)
            spec = {"case": case.name, "model": case.model, "p": case.p,
                    "radius": case.radius, "cost": str(work / f"{case.name}-cost.npy"),
                    "weights": str(work / f"{case.name}-w.npy")}
            print(f"[{case.name}] {cost.shape[0]} × {cost.shape[1]}"
                  + (f", {dropped} rows beyond {case.radius:g} m of every site dropped"
                     if dropped else "") + "; ours …", end=" ", flush=True)
            ours = run_worker(dict(spec, who="ours", time_limit=args.ours_limit), work,
                              kill_after=args.ours_limit + 120)
            print(f"{ours['seconds']:.2f} s ({ours['status']}); spopt …", end=" ", flush=True)
            solver = pick_solver(args.solver, case.model)
            theirs = run_worker(dict(spec, who="spopt", solver=solver, cap=case.spopt_cap),
                                work, kill_after=case.spopt_cap + 120)
            print(f"{theirs['seconds']:.1f} s ({theirs['status']})", flush=True)
            for who, r in (("ours", ours), ("spopt", theirs)):
                if r.get("error"):
                    notes.append(f"{case.name} {who}: {r['error'][:400]}")
            ok, how = agree(case.model, ours, theirs)
            checks.append((case.name, ok, how))
            results[case.name] = (case, ours, theirs)
            finished = theirs["status"] == "optimal"
            sp_s = (_fmt_s(theirs["seconds"]) if finished
                    else f"> {_fmt_s(min(theirs['seconds'], case.spopt_cap))} (cap, "
                         f"{theirs['status']})")
            if "build_seconds" in theirs:
                sp_s += f" [build {_fmt_s(theirs['build_seconds'])}]"
            ratio = theirs["seconds"] / ours["seconds"] if ours["seconds"] > 0 else np.nan
            if not finished:
                ratio = min(ratio, case.spopt_cap / ours["seconds"])
            ratio_s = f"{ratio:.1f}×" if finished else f"≥ {ratio:.1f}×"
            size = f"{cost.shape[0]:,} × {cost.shape[1]}"
            param = (f"p={case.p}" if case.p else "") + (
                f"{', ' if case.p else ''}r={case.radius / 1000:g} km" if case.radius else "")
            extra = ""
            if ours.get("covered_share") is not None:
                extra = f"; {ours['covered_share']:.1%} covered"
            if case.model == "lscp":
                extra = f"; {ours.get('n_sites', '?')} sites"
            solver_s = {"PULP_CBC_CMD": "CBC"}.get(solver, solver)
            if case.model == "cmclp":
                solver_s += " (PuLP model; spopt has none)"
            rows.append((case.name, size, param, f"{ours['seconds']:.2f}", sp_s, solver_s,
                         ratio_s, f"{ours['peak_mb']:.0f} ({ours.get('base_mb', 0):.0f})",
                         f"{theirs['peak_mb']:.0f}",
                         f"{ours['status']} / {theirs['status']}",
                         f"{ours['gap']:.2g} / {theirs['gap']:.2g}",
                         ("ok" if ok else "MISMATCH" if ok is False else "n/c") + extra))
            if ours.get("details"):
                notes.append(f"{case.name} ours: {ours.get('method')}: {ours['details']}")

    head = ("case", "demand × sites", "params", "ours s", "spopt s", "spopt solver",
            "spopt/ours", "ours peak MB (before solve)", "spopt peak MB", "status ours / spopt",
            "gap ours / spopt", "objective")
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; whole run "
          f"{time.perf_counter() - t_start:.0f} s")
    for name, ok, how in checks:
        print(f"check {name}: {'ok' if ok else 'MISMATCH' if ok is False else 'n/c'} — {how}")
    for n in notes:
        print("note", n)

    print()
    scope = " (quick sizes: the targets are for the full run)" if args.quick else ""
    for name, (case, ours, _) in results.items():
        t = case.targets
        if not t:
            continue
        parts, passed = [], True
        if "seconds" in t:
            good = ours["seconds"] <= t["seconds"]
            passed &= good
            parts.append(f"{ours['seconds']:.2f} s (≤ {t['seconds']:g} s)")
        if "peak_mb" in t:
            good = ours["peak_mb"] <= t["peak_mb"]
            passed &= good
            parts.append(f"peak RSS {ours['peak_mb']:.0f} MB (≤ {t['peak_mb']:.0f} MB)")
        if t.get("optimal"):
            good = ours["status"] == "optimal" and ours["gap"] <= GAP_REL
            passed &= good
            parts.append(f"status {ours['status']}, gap {ours['gap']:.2g}")
        check = next(ok for n, ok, _ in checks if n == name)
        if check is False:
            passed = False
            parts.append("objective MISMATCH with spopt")
        print(f"target {name}: {'PASS' if passed else 'FAIL'} — {', '.join(parts)}{scope}")
    return 1 if any(ok is False for _, ok, _ in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
