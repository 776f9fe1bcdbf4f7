"""The embedded Jilin sample: census-exact, deterministic, flagged synthetic, Jilin-like."""

import hashlib
import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import rasterio

from elder_coverage.sample.build import AREAS, RAW_DIR, build_sample
from elder_coverage.sample.census import load_census
from elder_coverage.study import load_sample


@pytest.fixture(scope="module")
def study(sample_path):
    return load_sample(sample_path)


def test_per_county_grid_sums_equal_census(study):
    census = load_census(RAW_DIR / "census2020_jilin_counties.csv")
    sums = study.cells.groupby("county_code")[["elders_60", "elders_65", "elders_80"]].sum()
    assert sorted(sums.index) == sorted(AREAS["jilin_city_rural"])
    for code, row in sums.iterrows():
        for age in (60, 65, 80):
            assert abs(row[f"elders_{age}"] - census.loc[code, f"age{age}"]) <= 1, (code, age)
    assert study.cells["township_code"].notna().all()


def test_age_bands_nest_cell_by_cell(study):
    c = study.cells
    assert (c["elders_80"] <= c["elders_65"]).all() and (c["elders_65"] <= c["elders_60"]).all()


def test_everything_synthetic_is_flagged(sample_path, study):
    assert study.facilities["synthetic"].astype(bool).all()
    for layer in ("cells", "seats"):
        assert gpd.read_file(sample_path / "townships.gpkg", layer=layer)["synthetic"].all()
    assert gpd.read_file(sample_path / "villages.gpkg")["synthetic"].all()
    with rasterio.open(sample_path / "elders_60.tif") as src:
        assert src.tags()["SYNTHETIC"] == "yes"
    assert study.graph.graph.get("synthetic") in (True, "True")
    manifest = json.loads((sample_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["note"]


def test_one_township_per_real_name_and_one_village_per_real_name(study):
    tw = pd.read_csv(RAW_DIR / "jilin_townships.csv", dtype=str)
    vi = pd.read_csv(RAW_DIR / "jilin_villages.csv", dtype=str)
    codes = AREAS["jilin_city_rural"]
    assert sorted(study.townships["code"]) == sorted(tw.loc[tw.county_code.isin(codes), "code"])
    assert sorted(study.villages["code"]) == sorted(vi.loc[vi.county_code.isin(codes), "code"])
    # Villages lie inside their own township cell.
    cells = study.townships.set_index("code")
    inside = [cells.geometry[t].buffer(1).contains(p)
              for t, p in zip(study.villages["township_code"], study.villages.geometry,
                              strict=True)]
    assert np.mean(inside) == 1.0


def test_village_elders_partition_the_grid(study):
    assert study.villages["elders_60"].sum() == study.cells["elders_60"].sum()


def test_facilities_leave_the_targets_unmet(study):
    f = study.facilities
    assert (f.kind == "county_home").sum() == 5
    centres = f[f.kind == "township_centre"]
    assert 0.5 < len(centres) / len(study.townships) < 0.9
    failing = (centres.built_year < 1995) | (~centres.fire_safety_ok.astype(bool)) | (
        centres.occupancy < 0.3)
    assert 3 <= failing.sum() < len(centres)
    seats_with_hall = f[f.kind == "dining_hall"].township_code.nunique()
    assert seats_with_hall < len(study.townships)


def test_road_graph_is_connected_within_each_county(study):
    G = study.graph
    assert nx.is_weakly_connected(G)
    for _, _, d in G.edges(data=True):
        assert d["length"] > 0 and d["drive_min"] > 0 and d["walk_min"] > 0
        assert d["highway"] in {"primary", "secondary", "tertiary", "unclassified"}


def test_seat_spacing_looks_like_jilin(study, shared_jilin):
    """Synthetic seats are spaced like the real ones (median nearest-neighbour distance)."""
    from scipy.spatial import cKDTree

    real = pd.read_csv(shared_jilin / "township_seats_jilin.csv").dropna(subset=["lon"])
    real = real[real["areaCode"].astype(str).isin(AREAS["jilin_city_rural"])]
    real_xy = gpd.GeoSeries(gpd.points_from_xy(real.lon, real.lat), crs=4326).to_crs(
        study.crs).get_coordinates().to_numpy()
    ours = study.seats.geometry.get_coordinates().to_numpy()

    def nn(xy):
        d, _ = cKDTree(xy).query(xy, k=2)
        return np.median(d[:, 1])

    ratio = nn(ours) / nn(real_xy)
    assert 0.5 < ratio < 2.0, ratio


def test_build_is_deterministic(tmp_path):
    """Same raw inputs and seed → the same bytes (one county, coarse grid, to stay quick)."""
    hashes = []
    for k in range(2):
        out = build_sample(tmp_path / f"b{k}", area=("220221",), resolution=500)
        hashes.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in sorted(out.iterdir())})
    assert hashes[0] == hashes[1]
    assert set(hashes[0]) >= {"elders_60.tif", "facilities.gpkg", "roads.graphml", "manifest.json"}


def test_failed_build_leaves_nothing_behind(tmp_path):
    with pytest.raises(ValueError, match="county codes without a polygon"):
        build_sample(tmp_path / "bad", area=("999999",))
    assert not (tmp_path / "bad").exists()
    assert list(tmp_path.iterdir()) == []


def test_stale_sample_is_detected(tmp_path):
    """A sample built from other raw files, code or parameters is not reused."""
    from elder_coverage.sample.build import sample_is_current

    out = build_sample(tmp_path / "s", area=("220221",), resolution=1000)
    assert sample_is_current(out, ("220221",), 1000)
    assert not sample_is_current(out, ("220221",), 500)
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in RAW_DIR.iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    from elder_coverage.sample.build import build_fingerprint

    same = build_fingerprint(("220221",), 1000, 20201101, raw)
    (raw / "jilin_villages.csv").write_text("code,name,township_code,county_code\n")
    assert build_fingerprint(("220221",), 1000, 20201101, raw) != same
