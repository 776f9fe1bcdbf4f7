"""Our models and spopt (PySAL) on identical Jilin-sample instances: same objectives.

Demand: the villages of one sample county (weights = their elders 60+); candidate sites:
its township seats; cost: winter driving minutes on the sample road graph (cell → site,
including the off-road gaps), the same dense matrix for both. spopt builds a PuLP model
solved by CBC; ours goes to HiGHS.
"""

import warnings

import geopandas as gpd
import numpy as np
import pulp
import pytest
from spopt.locate import LSCP, MCLP, PMedian

from elder_coverage.costs import reach_matrix
from elder_coverage.optimize import max_coverage, p_median, set_cover
from elder_coverage.study import load_sample
from elder_coverage.travel import RoadNetwork

LIMIT_MIN = 20.0


@pytest.fixture(scope="module")
def instance(sample_path):
    study = load_sample(sample_path).restrict(["永吉县"])
    v = study.villages
    demand = gpd.GeoDataFrame({"cell_id": v["code"], "elders_60": v["elders_60"].astype(float)},
                              geometry=v.geometry, crs=v.crs)
    seats = study.seats
    sites = gpd.GeoDataFrame({"id": seats["code"], "kind": "township_centre"},
                             geometry=seats.geometry, crs=seats.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cost = reach_matrix(demand, sites, RoadNetwork(study.graph), kind="township_centre",
                            limit=500.0)
    dense = np.full(cost.shape, np.inf)
    coo = cost.tocoo()
    dense[coo.row, coo.col] = coo.data
    keep = np.isfinite(dense).any(axis=1) & (demand["elders_60"].to_numpy() > 0)
    dense = dense[keep]
    # spopt needs finite numbers: an unreachable pair gets a cost no model will pick.
    finite = np.where(np.isfinite(dense), dense, 1e6)
    return finite, demand["elders_60"].to_numpy()[keep]


def _cbc():
    return pulp.PULP_CBC_CMD(msg=False)


def test_lscp_same_number_of_sites(instance):
    cost, w = instance
    coverable = (cost <= LIMIT_MIN).any(axis=1)
    c = cost[coverable]
    theirs = LSCP.from_cost_matrix(c, LIMIT_MIN).solve(_cbc())
    ours = set_cover(c, LIMIT_MIN)
    assert ours.status == "optimal"
    assert len(ours.sites) == round(pulp.value(theirs.problem.objective))


@pytest.mark.parametrize("p", [2, 4])
def test_mclp_same_covered_elders(instance, p):
    cost, w = instance
    theirs = MCLP.from_cost_matrix(cost, w, LIMIT_MIN, p_facilities=p).solve(_cbc())
    ours = max_coverage(cost, p, LIMIT_MIN, weights=w)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-6)


@pytest.mark.parametrize("p", [3, 5])
def test_p_median_same_weighted_travel(instance, p):
    cost, w = instance
    theirs = PMedian.from_cost_matrix(cost, w, p_facilities=p).solve(_cbc())
    ours = p_median(cost, p, weights=w)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-6)
