"""Demand aggregation (MiniBatchKMeans) and the aggregated p-median's error bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from elder_coverage.optimize import aggregate_demand, p_median, p_median_aggregated


def settlements(seed: int, n: int = 400, m: int = 25):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 20_000, (8, 2))
    pts = centres[rng.integers(0, 8, n)] + rng.normal(0, 900, (n, 2))
    w = rng.integers(1, 40, n).astype(float)
    sites = rng.uniform(0, 20_000, (m, 2))
    return pts, w, sites


def test_hand_computed_groups_and_error():
    xy = np.array([[0.0, 0.0], [2.0, 0.0], [100.0, 0.0], [100.0, 4.0]])
    agg = aggregate_demand(xy, weights=[1, 1, 3, 1], n_clusters=2)
    order = np.argsort(agg.centres[:, 0])
    np.testing.assert_allclose(agg.centres[order], [[1.0, 0.0], [100.0, 1.0]])
    np.testing.assert_allclose(agg.weights[order], [2.0, 4.0])
    assert agg.error == pytest.approx(1 + 1 + 3 * 1 + 1 * 3)
    assert agg.max_distance == pytest.approx(3.0)
    assert agg.labels[0] == agg.labels[1] != agg.labels[2] == agg.labels[3]


def test_weight_is_conserved_and_zero_weight_points_are_labelled():
    pts, w, _ = settlements(1)
    w[:50] = 0.0
    agg = aggregate_demand(pts, weights=w, n_clusters=30, seed=3)
    assert agg.weights.sum() == pytest.approx(w.sum())
    assert agg.labels.shape == (400,) and agg.labels.max() < agg.weights.size
    np.testing.assert_allclose(np.bincount(agg.labels, weights=w), agg.weights)
    moved = np.hypot(*(pts - agg.centres[agg.labels]).T)
    assert agg.error == pytest.approx(float((w * moved).sum()))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [20, 60])
def test_bound_brackets_the_full_optimum(seed, k):
    pts, w, sites = settlements(seed)
    full = p_median(cdist(pts, sites), 5, weights=w)
    assert full.status == "optimal"
    agg = p_median_aggregated(pts, sites, p=5, weights=w, n_clusters=k, seed=seed)
    assert agg.status in ("optimal", "feasible")
    # Scored on every original point, and the bound is a true lower bound.
    chosen = cdist(pts, sites[agg.sites]).min(axis=1)
    assert agg.objective == pytest.approx(float((w * chosen).sum()))
    assert agg.bound <= full.objective + 1e-6 <= agg.objective + 1e-6
    assert agg.gap == pytest.approx((agg.objective - agg.bound) / agg.objective)
    assert agg.details["aggregation_error"] > 0


def test_one_group_per_point_is_exact():
    pts, w, sites = settlements(5, n=60, m=10)
    full = p_median(cdist(pts, sites), 3, weights=w)
    agg = p_median_aggregated(pts, sites, p=3, weights=w, n_clusters=60)
    assert agg.details["aggregation_error"] == pytest.approx(0.0, abs=1e-6)
    assert agg.status == "optimal"
    assert agg.objective == pytest.approx(full.objective)


def test_cost_per_metre_scales_objective_and_bound():
    pts, w, sites = settlements(2, n=120, m=12)
    metres = p_median_aggregated(pts, sites, p=3, weights=w, n_clusters=30)
    minutes = p_median_aggregated(pts, sites, p=3, weights=w, n_clusters=30,
                                  cost_per_metre=1 / 500.0)  # 30 km/h
    assert minutes.objective == pytest.approx(metres.objective / 500.0)
    assert minutes.bound == pytest.approx(metres.bound / 500.0)


def test_dense_limit_message_points_to_aggregation(monkeypatch):
    import elder_coverage.optimize.pmedian as pm

    monkeypatch.setattr(pm, "DENSE_LIMIT", 10)
    with pytest.raises(ValueError, match="aggregate_demand"):
        p_median(np.ones((4, 3)), 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"xy": [[0.0, np.nan], [1.0, 1.0]]}, r"xy\[0\]"),
    ({"xy": [[0.0, 1.0, 2.0]]}, "shape"),
    ({"weights": [1.0, -1.0]}, r"weights\[1\]"),
    ({"n_clusters": 3}, "exceeds"),
    ({"n_clusters": 0}, "n_clusters"),
])
def test_bad_input_names_the_field(kwargs, match):
    args = {"xy": [[0.0, 0.0], [1.0, 1.0]], "weights": [1.0, 1.0], "n_clusters": 1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        aggregate_demand(args.pop("xy"), **args)
