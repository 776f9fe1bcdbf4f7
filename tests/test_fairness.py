import numpy as np
import pandas as pd
import pytest

from elder_coverage.fairness import _weighted_gini, fairness_report


def _cells():
    return pd.DataFrame({
        "cell_id": [1, 2, 3, 4],
        "elders_60": [10.0, 30.0, 20.0, 40.0],
        "elders_80": [1.0, 5.0, 2.0, 8.0],
        "township_code": ["A", "A", "B", "B"],
        "dining_hall_covered": [True, False, True, True],
        "dining_hall_time_min": [5.0, 30.0, 10.0, np.inf],
    })


def test_fairness_by_hand():
    r = fairness_report(_cells(), "dining_hall")
    assert r["elders_80_beyond"] == 5 and r["share_80_beyond"] == pytest.approx(5 / 16)
    worst = r["worst"]
    assert list(worst["code"]) == ["A", "B"]
    assert worst.loc[0, "covered_share"] == pytest.approx(10 / 40)
    # Elder-weighted mean time of reachable elders: A = (10*5+30*30)/40; B = 10 (cell 4 cut off)
    assert worst.loc[0, "mean_time_min"] == pytest.approx(950 / 40)
    assert worst.loc[1, "mean_time_min"] == pytest.approx(10.0)
    # Weighted times 5(10), 10(20), 30(30): 90% of 60 elders is reached at 30 min.
    assert r["p90_time_min"] == 30.0


def test_gini_extremes():
    assert _weighted_gini(np.array([0.5, 0.5, 0.5]), np.array([1.0, 2.0, 3.0])) == pytest.approx(0)
    # Two equal groups, one with everything: Gini 0.5.
    assert _weighted_gini(np.array([0.0, 1.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
