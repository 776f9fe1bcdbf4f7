"""The new siting models through plan_new_sites and scenarios (analyses.new_sites.model)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_new_sites import STD, _layout
from test_scenario_validation import _error

from elder_coverage.new_sites import candidate_sites, plan_new_sites
from elder_coverage.scenario import parse_scenario


def _positions(cells, fac, seats, villages):
    cand = candidate_sites("dining_hall", fac, seats, villages, "both")
    xy = cells.geometry.get_coordinates().to_numpy()
    exist = fac.geometry.get_coordinates().to_numpy()
    cxy = cand.geometry.get_coordinates().to_numpy()
    return xy, exist, cxy, cells["elders_60"].to_numpy(float)


def _dist(xy, sites):
    return np.hypot(*(xy[:, None, :] - np.asarray(sites)[None, :, :]).transpose(2, 0, 1))


@pytest.mark.parametrize("seed", range(3))
def test_backup_model_maximises_elders_within_two_sites(seed):
    seats, villages, cells, fac = _layout(seed)
    xy, exist, cxy, w = _positions(cells, fac, seats, villages)
    plan = plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats, villages=villages,
                          max_new=2, model="backup_coverage")
    best = max(float(w[((_dist(xy, np.vstack([exist, cxy[list(c)]])) <= 1000).sum(axis=1)
                        >= 2)].sum()) for c in itertools.combinations(range(len(cxy)), 2))
    assert plan.optimisation["model"] == "backup_coverage"
    assert plan.after["served_twice"] == pytest.approx(best)
    assert plan.before["served_twice"] == 0.0  # one existing hall covers nobody twice


@pytest.mark.parametrize("seed", range(3))
def test_p_center_model_minimises_the_worst_distance(seed):
    seats, villages, cells, fac = _layout(seed)
    xy, exist, cxy, _ = _positions(cells, fac, seats, villages)
    allsites = np.vstack([exist, cxy])
    d_all = _dist(xy, allsites)
    d_all[d_all > 1000] = np.inf  # beyond the standard: not a pair of the reach matrix
    counted = np.isfinite(d_all).any(axis=1)
    best = np.inf
    for c in itertools.combinations(range(len(cxy)), 3):
        d = d_all[:, [0] + [1 + j for j in c]].min(axis=1)[counted]
        best = min(best, d.max())
    plan = plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats, villages=villages,
                          max_new=3, model="p_center")
    opt = plan.optimisation
    if not np.isfinite(best):
        assert opt["status"] == "infeasible"
        return
    assert opt["status"] == "optimal"
    assert opt["objective"] == pytest.approx(best)


def test_capacitated_model_respects_places():
    seats, villages, cells, fac = _layout(2)
    plan = plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats, villages=villages,
                          max_new=2, model="capacitated_max_coverage", new_capacity=10)
    served, within = plan.after["served_within_capacity"], plan.after["served"]
    assert served <= within + 1e-9
    # The existing hall holds 30, each new site 10: no more than 50 places in all.
    assert served <= 50 + 1e-9
    # Places so large they never bind: the plain maximal covering answer.
    big = plan_new_sites("dining_hall", cells, fac.assign(capacity=1e9), None, STD,
                         seats=seats, villages=villages, max_new=2,
                         model="capacitated_max_coverage", new_capacity=1e9)
    plain = plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats,
                           villages=villages, max_new=2)
    assert big.after["served_within_capacity"] == pytest.approx(plain.after["served"])


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "p_center"}, "needs max_new"),
    ({"model": "magic", "max_new": 1}, "model must be one of"),
    ({"model": "capacitated_max_coverage", "max_new": 1}, "new_capacity"),
])
def test_bad_model_requests_raise(kwargs, match):
    seats, villages, cells, fac = _layout(0)
    with pytest.raises(ValueError, match=match):
        plan_new_sites("dining_hall", cells, fac, None, STD, seats=seats, villages=villages,
                       **kwargs)


def test_capacity_column_errors_name_the_facility():
    seats, villages, cells, fac = _layout(0)
    with pytest.raises(ValueError, match="facility 'D1'"):
        plan_new_sites("dining_hall", cells, fac.assign(capacity="lots"), None, STD,
                       seats=seats, villages=villages, max_new=1,
                       model="capacitated_max_coverage", new_capacity=5)


def test_scenario_accepts_every_model():
    for model in ("set_cover", "max_coverage", "backup_coverage", "p_center"):
        sc = parse_scenario({"name": "a", "analyses": {"new_sites": {
            "kind": "dining_hall", "max_new": 3, "model": model}}})
        assert sc.analyses["new_sites"]["model"] == model
    sc = parse_scenario({"name": "a", "analyses": {"new_sites": {
        "kind": "dining_hall", "max_new": 3, "model": "capacitated_max_coverage",
        "new_capacity": 40}}})
    assert sc.analyses["new_sites"]["new_capacity"] == 40


@pytest.mark.parametrize("body, key, words", [
    ("{kind: dining_hall, model: p_centre}", "analyses.new_sites.model", "must be one of"),
    ("{kind: dining_hall, model: backup_coverage}", "analyses.new_sites.max_new", "required"),
    ("{kind: dining_hall, max_new: 2, model: capacitated_max_coverage}",
     "analyses.new_sites.new_capacity", "required"),
    ("{kind: dining_hall, max_new: 2, model: capacitated_max_coverage, new_capacity: -1}",
     "analyses.new_sites.new_capacity", "≥ 0"),
])
def test_scenario_model_errors_name_the_key(tmp_path, body, key, words):
    msg = _error(tmp_path, f"name: a\nanalyses:\n  new_sites: {body}\n")
    assert key in msg and words in msg


def test_cli_runs_a_backup_scenario(tmp_path, sample_path):
    """elder-coverage run with analyses.new_sites.model: the summary carries the model."""
    import json

    from elder_coverage.cli import main

    scenario = tmp_path / "backup.yaml"
    scenario.write_text(
        "name: backup_halls\nstudy_area: {sample: jilin_city_rural}\nanalyses:\n"
        "  new_sites: {kind: dining_hall, max_new: 3, measure: townships, "
        "model: backup_coverage}\noutputs: {report: report.html}\n", encoding="utf-8")
    assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 0
    ns = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))[
        "analyses"]["new_sites"]
    assert ns["optimisation"]["model"] == "backup_coverage"
    assert ns["optimisation"]["status"] == "optimal"
    assert ns["n_new"] <= 3
    assert ns["after"]["served_twice"] == ns["optimisation"]["objective"]
    assert ns["after"]["served_twice"] >= ns["before"]["served_twice"]
