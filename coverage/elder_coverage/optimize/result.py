"""The answer every siting model returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Status words a result can carry.
STATUSES = ("optimal", "time_limit", "feasible", "infeasible", "nothing_to_cover")


def _frozen(a, dtype) -> np.ndarray:
    arr = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class OptimizeResult:
    """Outcome of any siting model of :mod:`elder_coverage.optimize`.

    Attributes
    ----------
    objective : float
        p-median: weighted travel cost (weight × cost unit, e.g. persons × minutes) over the
        reachable demand rows. p-center: the worst cost (e.g. minutes) of a counted row.
        max_coverage: weight covered within the limit (persons). backup_coverage: θ × weight
        covered once + (1 − θ) × weight covered twice (persons). capacitated_max_coverage:
        weight assigned within limit and capacity (persons). set_cover: number of open
        sites, fixed ones included (or their total ``site_cost``). NaN when no solution is
        known.
    sites : numpy.ndarray of int
        Sorted indices of the open sites (columns of ``cost``), fixed sites included.
    assignment : numpy.ndarray of int
        Per demand row, the site serving it: the nearest open site (p-median), the nearest
        open site within the limit (coverage models), the site taking the largest share
        (capacitated, ``split=True``); -1 when none.
    gap : float
        Relative gap between ``objective`` and ``bound`` (0 when proven optimal).
    status : str
        ``"optimal"`` (proven within the tolerance), ``"time_limit"`` (stopped early; best
        solution so far), ``"feasible"`` (heuristic answer with a bound but no proof),
        ``"infeasible"`` (no choice satisfies the request, see ``message``) or
        ``"nothing_to_cover"`` (set cover: no demand with weight > 0 is within the limit of
        an allowed site, so only the sites the rules force are open).
    seconds : float
        Wall-clock seconds spent, model building included.
    bound : float
        Proven bound on the optimum: lower for minimising models, upper for max_coverage.
    unreachable_demand : numpy.ndarray of int
        Demand rows that no allowed site reaches (within ``limit`` for the coverage models).
        They are left out of the model and reported here, never dropped silently.
    message : str
        Human-readable explanation (why infeasible, what was reduced, which method).
    model, method : str
        Which model and which solution method produced the result.
    covered : numpy.ndarray of bool or None
        Coverage models: whether each demand row is within the limit of an open site.
    covered_weight, total_weight : float
        Covered weight (coverage models; NaN for the p-median) and total demand weight.
    """

    objective: float
    sites: np.ndarray
    assignment: np.ndarray
    gap: float
    status: str
    seconds: float
    bound: float
    unreachable_demand: np.ndarray
    message: str = ""
    model: str = ""
    method: str = ""
    covered: np.ndarray | None = None
    covered_weight: float = float("nan")
    total_weight: float = float("nan")
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")
        object.__setattr__(self, "sites", _frozen(self.sites, np.int64))
        object.__setattr__(self, "assignment", _frozen(self.assignment, np.int64))
        object.__setattr__(self, "unreachable_demand", _frozen(self.unreachable_demand, np.int64))
        if self.covered is not None:
            object.__setattr__(self, "covered", _frozen(self.covered, bool))

    @property
    def feasible(self) -> bool:
        """True when the result holds a solution (possibly not proven optimal)."""
        return self.status != "infeasible" and bool(np.isfinite(self.objective))

    def __repr__(self) -> str:
        return (f"OptimizeResult(model={self.model!r}, status={self.status!r}, "
                f"objective={self.objective:.6g}, bound={self.bound:.6g}, gap={self.gap:.3g}, "
                f"sites={self.sites.size}, unreachable={self.unreachable_demand.size}, "
                f"seconds={self.seconds:.3f})")


def relative_gap(objective: float, bound: float) -> float:
    """``|objective - bound| / max(|objective|, 1e-12)``, NaN when either is unknown."""
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return float("nan")
    diff = abs(objective - bound)
    if diff <= 1e-12 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-12)


def infeasible(model: str, n_demand: int, message: str, seconds: float,
               unreachable: np.ndarray, *, minimise: bool = True,
               total_weight: float = float("nan")) -> OptimizeResult:
    """A result saying no choice satisfies the request, with the reason."""
    return OptimizeResult(
        objective=float("nan"), sites=np.empty(0, np.int64),
        assignment=np.full(n_demand, -1, np.int64), gap=float("nan"), status="infeasible",
        seconds=seconds, bound=float("inf") if minimise else float("-inf"),
        unreachable_demand=unreachable, message=message, model=model, method="",
        total_weight=total_weight,
    )


def no_solution(model: str, method: str, n_demand: int, bound: float, message: str, *,
                seconds: float, unreachable: np.ndarray, total_weight: float,
                details: dict) -> OptimizeResult:
    """A result saying the time limit ran out before any solution was found (bound known)."""
    return OptimizeResult(
        objective=float("nan"), sites=np.empty(0, np.int64),
        assignment=np.full(n_demand, -1, np.int64), gap=float("nan"), status="time_limit",
        seconds=seconds, bound=bound, unreachable_demand=unreachable, message=message,
        model=model, method=method, total_weight=total_weight, details=details)


def settle_bound(bound: float, objective: float, status: str, integral: bool,
                 minimise: bool = True) -> float:
    """The proven bound to report next to ``objective``.

    With whole-number objective values the bound rounds towards the objective (a minimum
    of at least 41.2 is at least 42); a proven optimum's bound never lies beyond the objective
    itself (solver tolerances can put it a hair past).
    """
    if integral and np.isfinite(bound):
        bound = float(np.ceil(bound - 1e-6)) if minimise else float(np.floor(bound + 1e-6))
    if status == "optimal":
        bound = min(bound, objective) if minimise else max(bound, objective)
    return float(bound)
