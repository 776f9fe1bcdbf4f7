"""Siting optimiser with HiGHS: p-median, p-center, maximal, backup and capacitated covering,
set cover; the close/merge model of welfare centres and the transport of their residents.

All models take an ``n_demand × n_sites`` cost matrix (numpy or scipy.sparse; NaN/inf or an
absent sparse entry is an unreachable pair) and return an :class:`OptimizeResult`.
"""

from .aggregation import DemandAggregation, aggregate_demand, p_median_aggregated
from .backup import backup_coverage, coverage_depth
from .capacitated import capacitated_max_coverage
from .center import p_center
from .closure import ClosureSolution, closure_groups, solve_closure
from .covering import max_coverage, set_cover
from .orlib import read_orlib, read_orlib_optima
from .pmedian import p_median
from .result import OptimizeResult
from .transport import assign_residents

__all__ = [
    "ClosureSolution",
    "DemandAggregation",
    "OptimizeResult",
    "aggregate_demand",
    "assign_residents",
    "backup_coverage",
    "capacitated_max_coverage",
    "closure_groups",
    "coverage_depth",
    "max_coverage",
    "p_center",
    "p_median",
    "p_median_aggregated",
    "read_orlib",
    "read_orlib_optima",
    "set_cover",
    "solve_closure",
]
