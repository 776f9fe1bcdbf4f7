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
    assert gpd.read_file(sample_path / "townships.gpkg", layer="cells")["synthetic"].all()
    seats = gpd.read_file(sample_path / "townships.gpkg", layer="seats")
    assert set(seats["seat_source"]) <= {"real", "real_snapped", "synthetic"}
    assert (seats["synthetic"] == seats["seat_source"].eq("synthetic")).all()
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


def _real_seat_table():
    return pd.read_csv(RAW_DIR / "jilin_township_seats.csv", dtype={"code": str}).set_index("code")


def test_seats_coincide_with_the_real_points(sample_path):
    """Every township with a real point has its seat there (< 1 m); the others are flagged."""
    from pyproj import Geod

    seats = gpd.read_file(sample_path / "townships.gpkg", layer="seats")
    real = _real_seat_table()
    has = seats["code"].isin(real.index)
    # 65 of the 78 townships of the five counties have a point in Vonng/adcode.
    assert has.sum() == 65 and len(seats) == 78
    assert (seats.loc[has, "seat_source"] == "real").all()
    assert (seats.loc[~has, "seat_source"] == "synthetic").all()
    ll = seats[has].to_crs(4326)
    _, _, dist = Geod(ellps="WGS84").inv(ll.geometry.x.to_numpy(), ll.geometry.y.to_numpy(),
                                         real.loc[ll["code"], "lon"].to_numpy(),
                                         real.loc[ll["code"], "lat"].to_numpy())
    assert dist.max() < 1.0, dist.max()


def test_seats_match_the_reference_seat_file(sample_path, shared_jilin):
    """The committed seats are those of ../shared (GCJ-02 already converted to WGS84 there)."""
    from pyproj import Geod

    ref = pd.read_csv(shared_jilin / "township_seats_jilin.csv", dtype={"code": str})
    ref = ref.dropna(subset=["lon", "lat"]).assign(code=lambda d: d["code"] + "000")
    ref = ref.set_index("code")
    seats = gpd.read_file(sample_path / "townships.gpkg", layer="seats")
    seats = seats[seats["seat_source"] == "real"].to_crs(4326)
    _, _, dist = Geod(ellps="WGS84").inv(seats.geometry.x.to_numpy(), seats.geometry.y.to_numpy(),
                                         ref.loc[seats["code"], "lon"].to_numpy(),
                                         ref.loc[seats["code"], "lat"].to_numpy())
    assert len(seats) == 65 and dist.max() < 1.0


def test_townships_and_villages_lie_in_their_own_county(sample_path):
    counties = gpd.read_file(sample_path / "counties.gpkg").set_index("code").geometry
    seats = gpd.read_file(sample_path / "townships.gpkg", layer="seats")
    cells = gpd.read_file(sample_path / "townships.gpkg", layer="cells")
    villages = gpd.read_file(sample_path / "villages.gpkg")
    for frame in (seats, villages):
        assert all(counties[c].covers(p) for c, p in zip(frame["county_code"], frame.geometry,
                                                         strict=True))
    # Cells are clipped to their county: no more than rounding noise outside it.
    for c, cell in zip(cells["county_code"], cells.geometry, strict=True):
        assert cell.difference(counties[c]).area < 1.0, c


def test_hosted_zone_layout_keeps_every_township_in_its_county(tmp_path):
    """Baicheng's development zone 220871 has no polygon: its townships share 洮北区's area,
    and 洮北区's own townships stay inside 洮北区."""
    out = build_sample(tmp_path / "bc", area=("220802",), resolution=2000)
    counties = gpd.read_file(out / "counties.gpkg").set_index("code")
    assert list(counties.index) == ["220802", "220871"]
    assert not counties.loc["220871", "real_geometry"]
    cells = gpd.read_file(out / "townships.gpkg", layer="cells")
    seats = gpd.read_file(out / "townships.gpkg", layer="seats")
    host = counties.geometry["220802"]
    assert all(c.difference(host).area < 1.0 for c in cells.geometry)
    zone = cells[cells["county_code"] == "220871"].union_all()
    assert abs(zone.area - counties.geometry["220871"].area) < 1.0
    # Cells tile the district: no gaps, no overlaps (areas add up to the polygon's).
    assert abs(cells.area.sum() - host.area) < 1e-6 * host.area
    real = _real_seat_table()
    assert (seats["seat_source"].eq("real") == seats["code"].isin(real.index)).all()


def test_known_seats_stay_and_synthetic_ones_keep_inside():
    import shapely

    from elder_coverage.sample.layout import place_township_seats, snap_inside

    square = shapely.box(0, 0, 10_000, 10_000)
    tw = pd.DataFrame({"name": ["甲街道", "乙街道", "丙镇", "丁乡"]})
    known = np.array([[2000.0, 3000.0], [np.nan, np.nan], [8000.0, 8000.0], [np.nan, np.nan]])
    xy = place_township_seats(square, tw, np.random.default_rng(1), known=known)
    assert np.array_equal(xy[[0, 2]], known[[0, 2]])
    assert shapely.contains_xy(square, xy[:, 0], xy[:, 1]).all()
    # The synthetic sub-district rings the real one (the county town), within ~1.3 km.
    assert np.hypot(*(xy[1] - xy[0])) < 800 + 350 * np.sqrt(2)
    assert np.allclose(snap_inside(square, np.array([12_000.0, 5000.0])), [9950.0, 5000.0])


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


def test_roads_join_the_seats_and_villages(study):
    """Every seat (real ones included) and every village is a node of the road graph."""
    from scipy.spatial import cKDTree

    nodes = np.array([(d["x"], d["y"]) for _, d in study.graph.nodes(data=True)])
    tree = cKDTree(nodes)
    for layer in (study.seats, study.villages):
        dist, _ = tree.query(layer.geometry.get_coordinates().to_numpy())
        assert dist.max() < 0.1, dist.max()  # node coordinates are kept to 0.1 m
