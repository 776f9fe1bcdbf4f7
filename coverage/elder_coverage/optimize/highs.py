"""One call into HiGHS for a MILP given as sparse arrays."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

INF = highspy.kHighsInf
_BANNER_SHOWN = False


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance.

    HiGHS prints its copyright banner on the process's stdout when the first instance is
    created, before any option can switch logging off; in a planner's command-line report
    that line is noise, so the first construction runs with file descriptor 1 pointed at
    the null device.
    """
    global _BANNER_SHOWN
    saved = None
    if not _BANNER_SHOWN:
        _BANNER_SHOWN = True
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError):  # no usable fd 1 (some embedded hosts): keep the banner
            saved = None
    if saved is None:
        h = highspy.Highs()
    else:
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


@dataclass
class MilpOutcome:
    """What HiGHS returned: status word, solution (or None), objective and dual bound."""

    status: str  # "optimal", "time_limit", "infeasible", "error"
    x: np.ndarray | None
    objective: float
    bound: float
    seconds: float
    message: str
    nodes: int = 0
    highs_status: str = ""  # HiGHS's own model-status text, e.g. "Optimal", "Time limit reached"


def solve_milp(cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, integer: np.ndarray,
               matrix: sp.csr_array | sp.csr_matrix, row_lower: np.ndarray,
               row_upper: np.ndarray, *, maximise: bool = False, offset: float = 0.0,
               time_limit: float | None = None, mip_rel_gap: float = 1e-6,
               mip_abs_gap: float = 1e-6, start: np.ndarray | None = None, seed: int = 0,
               threads: int = 1, verbose: bool = False,
               options: dict | None = None) -> MilpOutcome:
    """Solve ``opt cost·x + offset`` s.t. ``row_lower ≤ A x ≤ row_upper``, bounds, integrality.

    The whole model is handed over in one ``passModel`` call (row-wise CSR), never one
    coefficient at a time. ``start`` is a full primal vector used as the first incumbent.
    Deterministic: fixed seed, one thread unless told otherwise.
    """
    t0 = time.perf_counter()
    a = sp.csr_array(matrix)
    n_row, n_col = a.shape
    if n_col == 0:
        # HiGHS answers a model without columns with status "Empty" and no solution, yet
        # x = () is its one point (e.g. every allowed site fixed): optimal if the rows admit 0.
        if np.all(np.asarray(row_lower) <= 0) and np.all(np.asarray(row_upper) >= 0):
            return MilpOutcome("optimal", np.zeros(0), float(offset), float(offset),
                               time.perf_counter() - t0, "")
        return MilpOutcome("infeasible", None, np.nan, np.nan, time.perf_counter() - t0, "")
    h = new_highs()
    h.setOptionValue("output_flag", bool(verbose))
    h.setOptionValue("random_seed", int(seed))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    integrality = np.asarray(integer, dtype=np.int32)
    status = h.passModel(
        int(n_col), int(n_row), int(a.nnz), 2, -1 if maximise else 1, float(offset),
        np.ascontiguousarray(cost, dtype=float), np.ascontiguousarray(lower, dtype=float),
        np.ascontiguousarray(upper, dtype=float), np.ascontiguousarray(row_lower, dtype=float),
        np.ascontiguousarray(row_upper, dtype=float), a.indptr.astype(np.int32),
        a.indices.astype(np.int32), np.ascontiguousarray(a.data, dtype=float), integrality)
    if status != highspy.HighsStatus.kOk:
        return MilpOutcome("error", None, np.nan, np.nan, time.perf_counter() - t0,
                           f"HiGHS rejected the model ({status})")
    if start is not None:
        h.setSolution(int(n_col), np.arange(n_col, dtype=np.int32),
                      np.ascontiguousarray(start, dtype=float))
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_x else None
    obj = float(info.objective_function_value) if has_x else np.nan
    is_mip = bool(integrality.any())
    bound = float(info.mip_dual_bound) if is_mip else obj
    nodes = int(info.mip_node_count) if is_mip else 0
    if x is not None and start is not None:
        actual = float(np.dot(np.asarray(cost, dtype=float), x)) + float(offset)
        if abs(actual - obj) > 1e-6 * max(1.0, abs(obj)):
            # HiGHS (seen with 1.16, presolve on) can report the objective of its best
            # solution yet hand back the MIP start's column values. Solve again without
            # the start; with no time left, report the values it did return for what they are.
            left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            if left is None or left > 0.05:
                again = solve_milp(cost, lower, upper, integer, matrix, row_lower, row_upper,
                                   maximise=maximise, offset=offset, time_limit=left,
                                   mip_rel_gap=mip_rel_gap, mip_abs_gap=mip_abs_gap,
                                   start=None, seed=seed, threads=threads, verbose=verbose,
                                   options=options)
                if again.x is not None:
                    again.seconds = time.perf_counter() - t0
                    return again
            return MilpOutcome("time_limit", x, actual, bound, time.perf_counter() - t0,
                               "HiGHS returned its MIP start, not the solution it reported",
                               nodes, h.modelStatusToString(ms))
    seconds = time.perf_counter() - t0
    text = h.modelStatusToString(ms)
    M = highspy.HighsModelStatus
    if ms == M.kOptimal:
        return MilpOutcome("optimal", x, obj, bound if np.isfinite(bound) else obj, seconds,
                           "", nodes, text)
    if ms in (M.kInfeasible, M.kUnboundedOrInfeasible):
        return MilpOutcome("infeasible", None, np.nan, np.nan, seconds, "", nodes, text)
    if ms in (M.kTimeLimit, M.kIterationLimit, M.kSolutionLimit, M.kInterrupt):
        return MilpOutcome("time_limit", x, obj, bound, seconds, f"HiGHS stopped: {text}",
                           nodes, text)
    return MilpOutcome("error", x, obj, bound, seconds, f"HiGHS ended with status {text}",
                       nodes, text)


class RowBlocks:
    """Collects constraint rows block by block as (local row, column, value) triplets."""

    def __init__(self) -> None:
        self.n_row = 0
        self._r: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []

    def add(self, n: int, rows, cols, vals, lower, upper) -> int:
        """Append ``n`` rows; ``rows`` are numbered 0..n-1 within the block. Returns the offset."""
        off = self.n_row
        rows = np.asarray(rows, np.int64)
        self._r.append(rows + off)
        self._c.append(np.asarray(cols, np.int64))
        self._v.append(np.broadcast_to(np.asarray(vals, float), rows.shape).copy())
        self._lo.append(np.broadcast_to(np.asarray(lower, float), (n,)).copy())
        self._hi.append(np.broadcast_to(np.asarray(upper, float), (n,)).copy())
        self.n_row += n
        return off

    def build(self, n_col: int) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
        """The constraint matrix and its row bounds."""
        if not self._r:
            return (sp.csr_array((0, n_col)), np.zeros(0), np.zeros(0))
        r = np.concatenate(self._r)
        c = np.concatenate(self._c)
        v = np.concatenate(self._v)
        a = sp.csr_array((v, (r, c)), shape=(self.n_row, n_col))
        a.sum_duplicates()
        return a, np.concatenate(self._lo), np.concatenate(self._hi)
