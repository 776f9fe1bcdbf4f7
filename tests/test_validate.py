"""The option vocabulary: each constraint names the parameter and the value it refuses."""

import re

import numpy as np
import pytest

from elder_coverage._errors import SettingsError
from elder_coverage._validate import (
    NON_NEGATIVE,
    POSITIVE,
    SHARE,
    Interval,
    count,
    number,
    one_of,
    optional_number,
    vector,
)
from elder_coverage.optimize import backup_coverage, max_coverage, p_median, set_cover


@pytest.mark.parametrize("call, message", [
    (lambda: number("coverage_target", 1.5, SHARE),
     "coverage_target must be between 0 and 1, got 1.5"),
    (lambda: number("budget", -1, NON_NEGATIVE), "budget must be ≥ 0, got -1"),
    (lambda: number("budget", float("nan"), NON_NEGATIVE),
     "budget must be a finite number, got nan"),
    (lambda: number("budget", np.inf, NON_NEGATIVE), "budget must be a finite number, got inf"),
    (lambda: number("budget", "5", NON_NEGATIVE), "budget must be a number, got '5'"),
    (lambda: number("budget", True, NON_NEGATIVE), "budget must be a number, got True"),
    (lambda: optional_number("time_limit", 0, POSITIVE, unit="seconds"),
     "time_limit must be > 0, got 0 (seconds or None)"),
    (lambda: number("mip_gap", 1.0, Interval(0, 1, closed="left")),
     "mip_gap must be in [0, 1), got 1.0"),
    (lambda: number("x", 5, Interval(None, 3, closed="neither")), "x must be < 3, got 5"),
    (lambda: count("p", 1.5), "p must be a whole number ≥ 0, got 1.5"),
    (lambda: count("p", -1), "p must be a whole number ≥ 0, got -1"),
    (lambda: count("p", True), "p must be a whole number ≥ 0, got True"),
    (lambda: count("n_clusters", 0, lo=1), "n_clusters must be a whole number ≥ 1, got 0"),
    (lambda: one_of("method", "magic", ("auto", "exact")),
     "method must be one of ['auto', 'exact'], got 'magic'"),
    (lambda: one_of("method", ["x"], {"auto"}), "method must be one of ['auto'], got ['x']"),
    (lambda: vector("capacity", [1, 2], 3),
     "capacity must have one value per site (length 3), got shape (2,)"),
    (lambda: vector("weights", [1.0, -1.0, np.nan], 3, per="demand row"),
     "weights[1] = -1.0 must be ≥ 0 (2 bad values)"),
    (lambda: vector("site_cost", [1.0, np.inf], 2), "site_cost[1] = inf must be a finite number"),
    (lambda: vector("capacity", ["a"], 1), "capacity must be numbers, got ['a']"),
])
def test_messages_name_parameter_and_value(call, message):
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        call()


def test_accepted_values_come_back_converted():
    assert number("limit", np.float32(2.5), NON_NEGATIVE) == 2.5
    assert number("limit", np.inf, NON_NEGATIVE, allow_inf=True) == np.inf
    assert optional_number("time_limit", None, POSITIVE) is None
    assert count("p", np.int64(3)) == 3 and count("p", 4.0) == 4
    assert vector("capacity", [1, np.inf], 2, allow_inf=True).tolist() == [1.0, np.inf]
    assert vector("capacity", 2, 3).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("call, message", [
    (lambda c: p_median(c, 1, time_limit=-1), "time_limit must be > 0, got -1 (seconds or None)"),
    (lambda c: p_median(c, 1.5), "p must be a whole number ≥ 0, got 1.5"),
    (lambda c: p_median(c, 1, method="fast"),
     "method must be one of ['auto', 'exact', 'heuristic'], got 'fast'"),
    (lambda c: p_median(c, 1, capacity=[1, -2, 1]), "capacity[1] = -2.0 must be ≥ 0"),
    (lambda c: p_median(c, 1, weights=[1.0]),
     "weights must have one value per demand row (length 2), got shape (1,)"),
    (lambda c: set_cover(c, 5.0, coverage_target=1.2),
     "coverage_target must be between 0 and 1, got 1.2"),
    (lambda c: max_coverage(c, 1, 5.0, budget=-3, site_cost=[1, 1, 1]),
     "budget must be ≥ 0, got -3"),
    (lambda c: max_coverage(c, 1, "near"), "limit must be a number, got 'near' (cost units)"),
    (lambda c: backup_coverage(c, p=1, limit=2.0, first_weight=2),
     "first_weight must be between 0 and 1, got 2"),
])
def test_optimisers_use_the_vocabulary(call, message):
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
        call(np.ones((2, 3)))
