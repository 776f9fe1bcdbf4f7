import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from elder_coverage.aggregate import area_codes
from elder_coverage.fairness import (
    _weighted_gini,
    _weighted_quantile,
    fairness_report,
    fairness_reports,
    stable_argsort,
)


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


# Few distinct values, so that ties, NaN, infinities and both zeros all occur.
_FLOATS = st.sampled_from([0.0, -0.0, 1.5, 2.0, -3.25, np.nan, np.inf, -np.inf, 7.0, 1e-300])


@settings(max_examples=200, deadline=None)
@given(values=st.one_of(
    hnp.arrays(np.float64, st.integers(0, 60), elements=_FLOATS),
    hnp.arrays(np.float64, st.integers(0, 60), elements=st.floats(allow_nan=True)),
    hnp.arrays(np.int64, st.integers(0, 60), elements=st.integers(-3, 3))))
def test_stable_argsort_is_numpys_stable_sort(values):
    assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


def _quantile_reference(values, weights, q):
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cw, q * cw[-1])])


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.tuples(st.sampled_from([1.0, 2.5, 2.5, 4.0, 10.0, 0.1]),
                               st.floats(0.01, 1e4)), min_size=1, max_size=50),
       q=st.floats(0.0, 1.0))
def test_weighted_quantile_equals_the_stable_sort_reference(data, q):
    values = np.array([d[0] for d in data])
    weights = np.array([d[1] for d in data])
    assert _weighted_quantile(values, weights, q) == _quantile_reference(values, weights, q)


def _report_reference(cells, kind):
    """The report as first written: grouped by the area codes' text."""
    covered = cells[f"{kind}_covered"].fillna(False).to_numpy(bool)
    e60 = cells["elders_60"].to_numpy(float)
    t = cells[f"{kind}_time_min"].to_numpy(float)
    if np.isnan(t).all():  # no network time: the straight-line distance
        t = cells[f"{kind}_dist_m"].to_numpy(float)
    ok = np.isfinite(t)
    frame = pd.DataFrame({"code": area_codes(cells, "township_code"), "elders_60": e60,
                          "covered": e60 * covered,
                          "wt": np.where(ok, e60 * np.where(ok, t, 0), 0.0),
                          "w_ok": np.where(ok, e60, 0.0)})
    g = frame.groupby("code", sort=True).sum()
    g["covered_share"] = g["covered"] / g["elders_60"].where(g["elders_60"] > 0)
    g["mean_time_min"] = g["wt"] / g["w_ok"].where(g["w_ok"] > 0)
    table = g.reset_index()[["code", "elders_60", "covered_share", "mean_time_min"]]
    return table.sort_values(["covered_share", "mean_time_min"], ascending=[True, False],
                             kind="stable").reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.tuples(st.sampled_from(["B", "A", " A", None, "", "C"]),
                               st.floats(0, 1000), st.booleans(), st.booleans(),
                               st.sampled_from([1.0, 2.75, 30.0, np.inf, np.nan])),
                     min_size=1, max_size=60))
def test_reports_of_several_kinds_equal_the_text_grouping_reference(data):
    cells = pd.DataFrame({
        "township_code": [d[0] for d in data],
        "elders_60": [d[1] for d in data],
        "elders_80": [d[1] / 4 for d in data],
        "dining_hall_covered": [d[2] for d in data],
        "day_care_covered": [d[3] for d in data],
        "dining_hall_time_min": [d[4] for d in data],
        "day_care_time_min": [d[4] * 2 for d in data],
        "dining_hall_dist_m": [i * 80.0 for i in range(len(data))],
        "day_care_dist_m": [i * 90.0 for i in range(len(data))],
    })
    reports = fairness_reports(cells, ["dining_hall", "day_care"], worst=100)
    assert list(reports) == ["dining_hall", "day_care"]
    for kind, r in reports.items():
        want = _report_reference(cells, kind)
        got = r["worst"]
        assert got["code"].tolist() == want["code"].tolist()
        for col in ("elders_60", "covered_share", "mean_time_min"):
            assert np.array_equal(got[col].to_numpy(float), want[col].to_numpy(float),
                                  equal_nan=True)
        one = fairness_report(cells, kind, worst=100)
        pd.testing.assert_frame_equal(one.pop("worst"), got)
        # repr: a NaN p90 (no reachable elder) equals itself.
        assert repr(one) == repr({k: v for k, v in r.items() if k != "worst"})
