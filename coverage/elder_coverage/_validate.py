"""One vocabulary for checking options: numbers in an interval, counts, choices, vectors.

In the spirit of scikit-learn's ``_param_validation`` and osmnx's ``_validate``: a few small
constraints, each saying *why* a value is refused, and helpers that raise
:class:`~elder_coverage._errors.SettingsError` with a message naming the parameter and the
value (``"time_limit must be > 0, got 0"``). The optimiser options, the scenario reader and
the sample builder use them, so a planner sees the same wording everywhere.

Examples
--------
>>> number("coverage_target", 0.95, Interval(0, 1))
0.95
>>> number("coverage_target", 1.5, Interval(0, 1))
Traceback (most recent call last):
...
elder_coverage._errors.SettingsError: coverage_target must be between 0 and 1, got 1.5
>>> count("p", 3)
3
>>> one_of("method", "exact", ("exact", "heuristic"))
'exact'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import numpy as np

from elder_coverage._errors import SettingsError

__all__ = [
    "NON_NEGATIVE",
    "POSITIVE",
    "SHARE",
    "Interval",
    "check_number",
    "count",
    "number",
    "one_of",
    "optional_number",
    "show",
    "vector",
]

T = TypeVar("T")


def show(value: Any, limit: int = 80) -> str:
    """``repr`` of a value, shortened for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Interval:
    """Real numbers between ``lo`` and ``hi`` (None: unbounded on that side).

    Attributes
    ----------
    lo, hi : float or None
        Bounds.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    """

    lo: float | None = None
    hi: float | None = None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def problem(self, value: float) -> str | None:
        """Why the (finite) ``value`` is outside, or None.

        >>> Interval(0, None, closed="neither").problem(0.0)
        'must be > 0'
        """
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        below = self.lo is not None and (value < self.lo if lo_in else value <= self.lo)
        above = self.hi is not None and (value > self.hi if hi_in else value >= self.hi)
        if not (below or above):
            return None
        if self.hi is None:
            return f"must be {'≥' if lo_in else '>'} {self.lo:g}"
        if self.lo is None:
            return f"must be {'≤' if hi_in else '<'} {self.hi:g}"
        if lo_in and hi_in:
            return f"must be between {self.lo:g} and {self.hi:g}"
        left, right = "[" if lo_in else "(", "]" if hi_in else ")"
        return f"must be in {left}{self.lo:g}, {self.hi:g}{right}"


#: Non-negative reals, strictly positive reals, and shares (0-1).
NON_NEGATIVE = Interval(0, None)
POSITIVE = Interval(0, None, closed="neither")
SHARE = Interval(0, 1)


def check_number(
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
    lo_open: bool = False,
) -> str | None:
    """Why ``value`` is not an allowed number, or None when it is.

    The one constraint check for every number a scenario or the command line reads: a real
    ``int``/``float`` (not a bool, not a string), finite (YAML's ``.nan`` and ``.inf`` are
    refused: a NaN target compares false with everything and would silently pass every
    test), and inside ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``).

    Parameters
    ----------
    value : any
        As read from YAML or the command line.
    lo, hi : float, optional
        Bounds, inclusive unless ``lo_open``; None for no bound.
    integer : bool, default False
        Require a whole number.
    lo_open : bool, default False
        Exclude ``lo`` itself (e.g. a cell size must be > 0 m).

    Returns
    -------
    str or None
        A message fragment such as ``"must be a finite number, got nan"``.

    Examples
    --------
    >>> check_number(float("nan"))
    'must be a finite number, got nan'
    >>> check_number(0, lo=0, lo_open=True)
    'must be > 0, got 0'
    """
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not ok_type:
        return f"must be {kind}, got {type(value).__name__} {show(value)}"
    if not math.isfinite(value):
        return f"must be a finite number, got {show(value)}"
    below = lo is not None and (value <= lo if lo_open else value < lo)
    if below or (hi is not None and value > hi):
        if hi is None or lo is None:
            bound = f"{'>' if lo_open else '≥'} {lo:g}" if hi is None else f"≤ {hi:g}"
            return f"must be {bound}, got {show(value)}"
        above = " (excluded)" if lo_open else ""
        return f"must be between {lo:g}{above} and {hi:g}, got {show(value)}"
    return None


def _fail(name: str, problem: str, value: Any, unit: str = "") -> SettingsError:
    return SettingsError(f"{name} {problem}, got {show(value)}{f' ({unit})' if unit else ''}")


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def number(name: str, value: Any, interval: Interval = Interval(), *,
           allow_inf: bool = False, unit: str = "") -> float:
    """``value`` as a float, if it is a real number inside ``interval``.

    Parameters
    ----------
    name : str
        Parameter name, for the message.
    value : any
        The option as given (Python or numpy number; not a bool or a string).
    interval : Interval
        Allowed range.
    allow_inf : bool
        Accept +inf (e.g. "no capacity limit").
    unit : str
        Unit for the message, e.g. ``"seconds"``.

    Raises
    ------
    SettingsError
        ``"<name> must …, got <value>"``.
    """
    if not _real(value):
        raise _fail(name, "must be a number", value, unit)
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0)):
        raise _fail(name, "must be a finite number", value, unit)
    problem = interval.problem(v)
    if problem:
        raise _fail(name, problem, value, unit)
    return v


def optional_number(name: str, value: Any, interval: Interval = Interval(), *,
                    unit: str = "") -> float | None:
    """Like :func:`number`, with None passed through (e.g. ``time_limit=None``: no limit)."""
    if value is None:
        return None
    return number(name, value, interval, unit=f"{unit} or None".strip())


def count(name: str, value: Any, lo: int = 0) -> int:
    """A whole number ≥ ``lo`` (an ``int``, numpy integer or whole ``float``; not a bool).

    >>> count("n_clusters", 4.0, lo=1)
    4
    """
    whole = isinstance(value, numbers.Integral) or (
        isinstance(value, float) and value.is_integer())
    if isinstance(value, bool | np.bool_) or not whole or value < lo:
        raise _fail(name, f"must be a whole number ≥ {lo}", value)
    return int(value)


@overload
def one_of(name: str, value: T, options: Collection[T]) -> T: ...
@overload
def one_of(name: str, value: Any, options: Collection[Any]) -> Any: ...
def one_of(name: str, value: Any, options: Collection[Any]) -> Any:
    """``value`` if it is one of ``options``."""
    try:
        ok = value in options
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        raise _fail(name, f"must be one of {sorted(map(str, options))}", value)
    return value


def vector(name: str, values: Any, length: int, interval: Interval = NON_NEGATIVE, *,
           allow_inf: bool = False, per: str = "site") -> np.ndarray:
    """A 1-D float array of ``length`` values inside ``interval`` (a scalar is broadcast).

    Parameters
    ----------
    name : str
        Parameter name, for the message.
    values : scalar or array_like
        The option as given.
    length : int
        Required length.
    interval : Interval
        Allowed range of every value (default ≥ 0).
    allow_inf : bool
        Accept +inf values.
    per : str
        What each value belongs to, for the message ("site", "demand row").

    Raises
    ------
    SettingsError
        Wrong shape (``"<name> must have one value per site (length 3), got shape (2,)"``)
        or a bad value (``"<name>[1] = -1.0 must be ≥ 0"``).

    Examples
    --------
    >>> vector("capacity", 5, 3).tolist()
    [5.0, 5.0, 5.0]
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise _fail(name, "must be numbers", values) from exc
    if arr.ndim == 0:
        arr = np.full(length, float(arr))
    if arr.shape != (length,):
        raise SettingsError(f"{name} must have one value per {per} (length {length}), got "
                            f"shape {arr.shape}")
    finite = np.isfinite(arr) | (allow_inf & (arr == np.inf))
    inside = np.ones(length, bool)
    lo_in, hi_in = interval.closed in ("both", "left"), interval.closed in ("both", "right")
    if interval.lo is not None:
        inside &= arr >= interval.lo if lo_in else arr > interval.lo
    if interval.hi is not None:
        inside &= arr <= interval.hi if hi_in else arr < interval.hi
    bad = np.flatnonzero(~(finite & inside))
    if bad.size:
        k = bad[0]
        v = float(arr[k])
        problem = ("must be a finite number" if not finite[k]
                   else interval.problem(v) or "is out of range")
        more = f" ({bad.size} bad values)" if bad.size > 1 else ""
        raise SettingsError(f"{name}[{k}] = {v!r} {problem}{more}")
    return arr
