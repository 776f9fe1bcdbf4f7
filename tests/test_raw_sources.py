"""The packaged raw sources are complete and agree with the reference copies in shared/."""

import runpy
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from elder_coverage.sample.census import PROVINCE_60_PLUS, UNCODED_ZONES, load_census
from elder_coverage.sample.paths import raw_dir

ROOT = Path(__file__).resolve().parents[1]
RAW = raw_dir()


def test_raw_sources_are_package_data_with_one_copy():
    """The package folder is the only copy: the repository's data/raw keeps the script."""
    assert RAW == ROOT / "coverage" / "elder_coverage" / "data" / "raw"
    kept = {p.name for p in (ROOT / "data" / "raw").iterdir()}
    assert kept == {"README.md", "fetch_sources.py"}
    assert not (ROOT / "coverage" / "elder_coverage" / "sample" / "raw.py").exists()


def test_sources_md_lists_every_raw_file():
    text = (RAW / "SOURCES.md").read_text(encoding="utf-8")
    for f in sorted(RAW.iterdir()):
        if f.name != "SOURCES.md":
            assert f"`{f.name}`" in text, f"{f.name} missing from SOURCES.md"
    for word in ("Licence", "Rebuild"):
        assert word in text


def test_census_sums_to_province_total():
    census = load_census(RAW / "census2020_jilin_counties.csv")
    assert int(census["age60"].sum()) == PROVINCE_60_PLUS
    assert int(census.loc[list(UNCODED_ZONES), "age60"].sum()) == 70_705
    # Each zone's own census row (printed without a code), not a split of the total.
    assert census.loc[list(UNCODED_ZONES), "age60"].tolist() == [12_824, 32_400, 9_506, 15_975]
    assert (census["age80"] <= census["age65"]).all() and (census["age65"] <= census["age60"]).all()


def test_census_matches_reference_table(shared_jilin):
    ref = pd.read_csv(shared_jilin / "census2020_county_jilin.csv")
    ref = ref[ref["区划代码"].notna()].copy()
    ref["code"] = ref["区划代码"].astype(int).astype(str)
    ref = ref.set_index("code")
    ours = pd.read_csv(RAW / "census2020_jilin_counties.csv", dtype={"code": str}).set_index("code")
    common = ours.index.intersection(ref.index)
    assert len(common) == len(ours)
    assert (ref.loc[common, "人口数_合计"].astype(int) == ours.loc[common, "total"]).all()
    assert (ref.loc[common, "城镇人口"].astype(int) == ours.loc[common, "urban"]).all()


def test_names_and_codes():
    tw = pd.read_csv(RAW / "jilin_townships.csv", dtype=str)
    vi = pd.read_csv(RAW / "jilin_villages.csv", dtype=str)
    assert len(tw) == 1075 and tw["code"].str.len().eq(12).all() and tw["code"].is_unique
    assert 11_000 < len(vi) < 13_000 and vi["code"].str.len().eq(12).all()
    assert set(vi["township_code"]) <= set(tw["code"])


def test_county_polygons_hold_the_real_township_seats(shared_jilin):
    counties = gpd.read_file(RAW / "jilin_counties.geojson")
    assert counties.crs.to_epsg() == 4326 and counties.is_valid.all() and len(counties) == 60
    seats = pd.read_csv(shared_jilin / "township_seats_jilin.csv").dropna(subset=["lon", "lat"])
    pts = gpd.GeoDataFrame(seats, geometry=gpd.points_from_xy(seats.lon, seats.lat), crs=4326)
    joined = gpd.sjoin(pts, counties[["code", "geometry"]].rename(columns={"code": "county"}))
    # Real seats (WGS84) fall in their own county: evidence the GCJ-02 shift was undone.
    share = (joined["county"] == joined["areaCode"].astype(str)).sum() / len(pts)
    assert share > 0.99, share


def test_seat_table_matches_reference(shared_jilin):
    ref = pd.read_csv(shared_jilin / "township_seats_jilin.csv", dtype={"code": str})
    ref = ref.dropna(subset=["lon", "lat"])
    ours = pd.read_csv(RAW / "jilin_township_seats.csv", dtype={"code": str})
    assert len(ours) == len(ref) == 714
    assert list(ours["code"]) == sorted(ref["code"] + "000")
    ref = ref.set_index(ref["code"] + "000").loc[ours["code"]]
    assert (ours["lon"].to_numpy() == ref["lon"].to_numpy()).all()
    assert (ours["lat"].to_numpy() == ref["lat"].to_numpy()).all()
    tw = pd.read_csv(RAW / "jilin_townships.csv", dtype=str)
    assert set(ours["code"]) <= set(tw["code"])


def test_age_sex_tables_match_reference(shared_jilin):
    """Spot values typed from the reference copies: 2010 province men 60-64, 2020 蛟河 women 85+."""
    t10 = pd.read_csv(RAW / "census2010_jilin_age_sex.csv", dtype={"code": str}).set_index("code")
    t20 = pd.read_csv(RAW / "census2020_jilin_age_sex.csv", dtype={"code": str}).set_index("code")
    assert len(t10) == 70 and len(t20) == 79
    assert t10.loc["220000", "m60"] == 653182 and t10.loc["220000", "f85"] == 64180
    ref20 = pd.read_csv(shared_jilin / "census2020_county_jilin.csv")
    jiaohe = ref20[ref20["区划代码"] == 220281.0].iloc[0]
    assert t20.loc["220281", "f85"] == int(jiaohe["女_85岁以上"])
    assert t20.loc["220281", "m50"] == int(jiaohe["男_50到54岁"])


@pytest.mark.parametrize("path", sorted(RAW.glob("*")))
def test_raw_files_are_small(path):
    assert path.stat().st_size < 3_000_000


def test_fetch_script_rebuilds_the_shared_tables_byte_for_byte(shared_jilin, tmp_path):
    """The maintainer's script, now outside the package, still writes the packaged files."""
    script = runpy.run_path(str(ROOT / "data" / "raw" / "fetch_sources.py"), run_name="fetch")
    assert script["PACKAGE_RAW"] == RAW
    assert script["main"](["--from-shared", str(shared_jilin), "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["census2010_jilin_age_sex.csv", "census2020_jilin_age_sex.csv",
                       "jilin_township_seats.csv"]
    for name in written:
        assert (tmp_path / name).read_bytes() == (RAW / name).read_bytes(), name
