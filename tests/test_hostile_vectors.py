"""Hostile vector files and tables: status words, multi-layer GeoPackages, Shapefiles without
.cpg, counts written as text, places outside the study area, coordinates without a CRS, and
full-precision output tables (issue 8 items 4, 5, 7)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from hostile import (
    FACILITIES_CSV,
    LAT0,
    LON0,
    no_stray_files,  # noqa: F401 (autouse: no stray files)
    own_data,
    run_refused,
    snapshot,
    write_county,
)
from pyproj import Transformer
from shapely.geometry import Point, box

from elder_coverage.cli import main
from elder_coverage.io import (
    InputError,
    notes_of,
    read_boundaries,
    read_elder_table,
    read_facilities,
    read_seats,
    read_villages,
)
from elder_coverage.scenario import ScenarioError, parse_scenario

HEAD = "编号,名称,类型,床位数,状态,经度,纬度\n"


def facility_csv(tmp_path: Path, statuses: list[str]) -> Path:
    rows = "".join(f"F{i},站点{i},助老餐厅,10,{s},126.42,43.88\n" for i, s in enumerate(statuses))
    p = tmp_path / "sites.csv"
    p.write_text(HEAD + rows, encoding="utf-8")
    return p


@pytest.mark.parametrize("word", ["运营中", "正常运营", "营业中", "在用", "试运营", "active",
                                  "operating", "Open", " in use "])
def test_common_open_words_mean_open(tmp_path: Path, word: str) -> None:
    f = read_facilities(facility_csv(tmp_path, [word]))
    assert f["status"].tolist() == ["open"]


def test_planned_closed_and_blank_status(tmp_path: Path) -> None:
    words = ["规划中", "已关闭", "停用", "", "under construction"]
    f = read_facilities(facility_csv(tmp_path, words))
    got = [None if pd.isna(v) else v for v in f["status"]]
    assert got == ["planned", "closed", "closed", None, "planned"]


def test_unknown_status_is_an_error_listing_accepted_words(tmp_path: Path) -> None:
    p = facility_csv(tmp_path, ["运营中", "待定状态"])
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as exc:
        read_facilities(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: row 2, field '状态': unknown status '待定状态'")
    assert "open: open, active, operating" in msg and "运营中" in msg and "closed:" in msg
    assert snapshot(tmp_path) == before


def test_cli_unknown_status_exits_2_naming_file_row_field(tmp_path: Path, capsys) -> None:
    sc = own_data(tmp_path / "in", facilities=FACILITIES_CSV.replace("正常运营", "暂定"))
    err = run_refused(sc, tmp_path / "out", capsys)
    assert "facilities.csv: row 2, field '状态': unknown status '暂定'" in err


def two_layer_gpkg(path: Path) -> Path:
    towns = gpd.GeoDataFrame({"code": ["1", "2"], "name": ["东风街道", "双河镇"]},
                             geometry=[box(126.40, 43.86, 126.42, 43.90),
                                       box(126.42, 43.86, 126.45, 43.90)], crs=4326)
    towns.to_file(path, layer="towns")
    gpd.GeoDataFrame({"code": ["9"], "name": ["错层"]}, geometry=[box(0, 0, 1, 1)],
                     crs=4326).to_file(path, layer="old_towns")
    return path


def test_multi_layer_geopackage_needs_a_layer(tmp_path: Path) -> None:
    p = two_layer_gpkg(tmp_path / "towns.gpkg")
    with pytest.raises(InputError, match=r"towns.gpkg: field 'layer': file has 2 layers "
                                         r"\(towns, old_towns\); pass layer=.*layer: towns"):
        read_boundaries(p)
    assert read_boundaries(p, layer="towns")["name"].tolist() == ["东风街道", "双河镇"]


def test_cli_multi_layer_refused_then_chosen_by_scenario_key(tmp_path: Path, capsys) -> None:
    sc = own_data(tmp_path / "in", extra="  townships: towns.gpkg\n")
    two_layer_gpkg(tmp_path / "in" / "towns.gpkg")
    err = run_refused(sc, tmp_path / "out", capsys)
    assert "towns.gpkg: field 'layer': file has 2 layers" in err
    sc.write_text(sc.read_text(encoding="utf-8").replace(
        "townships: towns.gpkg", "townships: {path: towns.gpkg, layer: towns}"), encoding="utf-8")
    assert main(["run", str(sc), "--out", str(tmp_path / "out")]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    # The seat assumption is recorded in summary.json and in the report.
    assert any("township seats taken as interior points" in n for n in s["notes"])
    assert "township seats taken as interior points" in (
        tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def gbk_shapefile(folder: Path) -> Path:
    towns = gpd.GeoDataFrame({"区划代码": ["1", "2"], "名称": ["东风街道", "双河镇"]},
                             geometry=[box(126.40, 43.86, 126.42, 43.90),
                                       box(126.42, 43.86, 126.45, 43.90)], crs=4326)
    p = folder / "towns.shp"
    towns.to_file(p, engine="pyogrio", encoding="GBK")
    p.with_suffix(".cpg").unlink()
    return p


def test_gbk_shapefile_without_cpg_is_detected_and_noted(tmp_path: Path) -> None:
    p = gbk_shapefile(tmp_path)
    before = snapshot(tmp_path)
    towns = read_boundaries(p)
    assert towns["name"].tolist() == ["东风街道", "双河镇"]
    assert towns["name"].str.endswith("街道").tolist() == [True, False]
    assert any("towns.shp: Shapefile has no .cpg file; its text was read as GB18030" in n
               for n in notes_of(towns))
    assert snapshot(tmp_path) == before  # no .cpg written for the user


def test_shapefile_encoding_named_by_the_scenario(tmp_path: Path) -> None:
    p = gbk_shapefile(tmp_path)
    towns = read_boundaries(p, encoding="GBK")
    assert towns["name"].tolist() == ["东风街道", "双河镇"] and not notes_of(towns)
    write_county(tmp_path / "c.geojson")
    (tmp_path / "f.csv").write_text(FACILITIES_CSV, encoding="utf-8")
    sc = parse_scenario({"name": "x", "study_area": {"boundary": "c.geojson"},
                         "inputs": {"population": {"table": "f.csv", "column": "床位数"},
                                    "facilities": "f.csv", "roads": "straight_line",
                                    "townships": {"path": "towns.shp", "encoding": "GBK"}},
                         "analyses": {"coverage": {}}}, source=tmp_path / "s.yaml")
    assert sc.read_options == {"townships": {"encoding": "GBK"}}
    with pytest.raises(ScenarioError, match=r"s.yaml: inputs.townships.encoding: unknown "
                                            r"encoding 'klingon'"):
        parse_scenario({"name": "x", "study_area": {"boundary": "c.geojson"},
                        "inputs": {"population": {"table": "f.csv", "column": "床位数"},
                                   "facilities": "f.csv", "roads": "straight_line",
                                   "townships": {"path": "towns.shp", "encoding": "klingon"}},
                        "analyses": {"coverage": {}}}, source=tmp_path / "s.yaml")


def village_csv(tmp_path: Path, rows: str) -> Path:
    p = tmp_path / "villages.csv"
    p.write_text("村代码,村名,60岁以上人口,经度,纬度\n" + rows, encoding="utf-8")
    return p


def test_village_counts_written_with_units_are_read(tmp_path: Path) -> None:
    p = village_csv(tmp_path, "1,甲村,300人,126.41,43.89\n2,乙村,\"1,200\",126.42,43.88\n"
                              "3,丙村,３５ 人,126.43,43.87\n4,丁村,80,126.44,43.87\n")
    v = read_villages(p)
    assert v["elders_60"].tolist() == [300.0, 1200.0, 35.0, 80.0]
    assert v["code"].tolist() == ["1", "2", "3", "4"]


def test_village_count_that_is_not_persons_names_row_and_field(tmp_path: Path) -> None:
    p = village_csv(tmp_path, "1,甲村,300人,126.41,43.89\n2,乙村,120户,126.42,43.88\n")
    with pytest.raises(InputError, match=r"villages.csv: row 2, field '60岁以上人口': '120户' "
                                         r"is not a number of persons"):
        read_villages(p)


def test_villages_outside_the_study_area_are_left_out_with_a_note(tmp_path: Path) -> None:
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    p = village_csv(tmp_path, "1,甲村,300,126.41,43.89\n2,外村,500,127.41,43.89\n"
                              "3,乙村,40,126.43,43.87\n")
    v = read_villages(p, study_area=county, crs=county.crs)
    assert v["code"].tolist() == ["1", "3"] and v["elders_60"].sum() == 340
    assert any("1 of 3 villages (500 elders aged 60+) lie outside" in n for n in notes_of(v))
    far = village_csv(tmp_path, "2,外村,500,127.41,43.89\n")
    with pytest.raises(InputError, match=r"villages.csv: field 'geometry': none of the 1 "
                                         r"villages lies inside"):
        read_villages(far, study_area=county)


def test_elder_table_counts_as_text(tmp_path: Path) -> None:
    p = tmp_path / "grid.csv"
    p.write_text("id,60岁以上人口,经度,纬度\n1,300人,126.41,43.89\n2,\"1,250\",126.42,43.88\n",
                 encoding="utf-8")
    cells = read_elder_table(p)
    assert cells["elders_60"].tolist() == [300.0, 1250.0]
    p.write_text("id,60岁以上人口,经度,纬度\n1,三百,126.41,43.89\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"grid.csv: row 1, field '60岁以上人口': elder count "
                                         r"is missing, not a number of persons.*"
                                         r"inputs.population.invalid: mask"):
        read_elder_table(p)


def _lonlat_outside(metres: float) -> tuple[float, float]:
    """A point ``metres`` south of the county's southern edge at lon 126.42."""
    utm = Transformer.from_crs(4326, 32652, always_xy=True)
    x, y = utm.transform(126.42, LAT0 - 0.04)
    return Transformer.from_crs(32652, 4326, always_xy=True).transform(x, y - metres)


def test_facility_a_few_metres_outside_is_kept_with_a_note(tmp_path: Path) -> None:
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    lon, lat = _lonlat_outside(3.0)
    p = tmp_path / "sites.csv"
    p.write_text(HEAD + "F1,边界站,助老餐厅,10,,126.43,43.87\n"
                 f"F2,边界外站,助老餐厅,10,,{lon:.7f},{lat:.7f}\n", encoding="utf-8")
    f = read_facilities(p, study_area=county, crs=county.crs)
    assert len(f) == 2
    # 3 m south of the parallel; the UTM chord of the edge sags 0.3 m further north.
    assert any(re.search(r"sites.csv: 1 point\(s\) \(id F2\) lie up to 3\.\d m outside the "
                         r"study area boundary and were kept \(tolerance 50 m\)", n)
               for n in notes_of(f))


def test_facility_far_outside_is_an_error_with_its_distance(tmp_path: Path) -> None:
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    lon, lat = _lonlat_outside(400.0)
    p = tmp_path / "sites.csv"
    p.write_text(HEAD + f"F9,远站,助老餐厅,10,,{lon:.7f},{lat:.7f}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"sites.csv: row 1, field 'geometry': 1 point\(s\) "
                                         r"outside the study area \(id F9\), up to 400 m"):
        read_facilities(p, study_area=county)


def test_sample_facilities_csv_can_be_fed_back(sample_path: Path, tmp_path: Path) -> None:
    # The sample's facilities, written as a planner would get them (lon/lat to 6 decimals).
    counties = read_boundaries(sample_path / "counties.gpkg")
    fac = gpd.read_file(sample_path / "facilities.gpkg").to_crs(4326)
    table = pd.DataFrame({"id": fac["id"], "name": fac["name"], "kind": fac["kind"],
                          "capacity": fac["capacity"], "lon": fac.geometry.x.round(6),
                          "lat": fac.geometry.y.round(6)})
    p = tmp_path / "facilities.csv"
    table.to_csv(p, index=False)
    back = read_facilities(p, study_area=counties, crs=counties.crs)
    assert len(back) == len(fac)


def test_xy_without_crs_names_the_scenario_key(tmp_path: Path) -> None:
    p = tmp_path / "xy.csv"
    p.write_text("id,name,kind,capacity,x,y\nA,a,day_care,5,500000,4850000\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"xy.csv: field 'x': .*source_crs=.*facilities: "
                                         r"\{path: sites.csv, source_crs: 'EPSG:32652'\}"):
        read_facilities(p)
    f = read_facilities(p, source_crs="EPSG:32652")
    assert f.geometry.iloc[0].x == pytest.approx(500000.0)


def test_shapefile_without_prj_names_the_scenario_key(tmp_path: Path) -> None:
    p = tmp_path / "c.shp"
    gpd.GeoDataFrame({"code": ["1"]}, geometry=[box(126.4, 43.8, 126.5, 43.9)],
                     crs=4326).to_file(p)
    p.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"c.shp: has no CRS.*source_crs"):
        read_boundaries(p)
    with pytest.raises(ScenarioError, match=r"study_area.boundary.source_crs: not a coordinate "
                                                 r"reference system"):
        parse_scenario({"name": "x", "study_area": {"boundary": {"path": "c.shp",
                                                                 "source_crs": "EPSG:nope"}}},
                       source=tmp_path / "s.yaml")
    assert len(read_boundaries(p, source_crs="EPSG:4326")) == 1


def test_seats_layer_replaces_the_interior_point_assumption(tmp_path: Path, capsys) -> None:
    sc = own_data(tmp_path / "in", extra="  townships: {path: towns.gpkg, layer: towns}\n"
                                         "  seats: seats.csv\n")
    two_layer_gpkg(tmp_path / "in" / "towns.gpkg")
    seats = tmp_path / "in" / "seats.csv"
    seats.write_text("区划代码,名称,经度,纬度\n1,东风街道,126.405,43.895\n3,无此乡,126.43,43.87\n",
                     encoding="utf-8")
    err = run_refused(sc, tmp_path / "out", capsys)
    assert "seats.csv: row 2, field '区划代码': seat code 3 is not a township code" in err
    seats.write_text("区划代码,名称,经度,纬度\n1,东风街道,126.405,43.895\n2,双河镇,126.43,43.87\n",
                     encoding="utf-8")
    assert main(["run", str(sc), "--out", str(tmp_path / "out")]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert not any("interior points" in n for n in s["notes"])


def test_read_seats_needs_one_seat_per_township(tmp_path: Path) -> None:
    towns = read_boundaries(two_layer_gpkg(tmp_path / "t.gpkg"), layer="towns")
    p = tmp_path / "seats.csv"
    p.write_text("code,name,lon,lat\n1,东风街道,126.405,43.895\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"seats.csv: field 'code': 1 township\(s\) have no "
                                         r"seat point: 2"):
        read_seats(p, townships=towns)


def test_output_tables_keep_full_precision_and_whole_counts(tmp_path: Path) -> None:
    from elder_coverage.runner import _write_csv

    df = pd.DataFrame({"code": ["220000"], "elders_60": [5551165.4], "dining_hall_covered":
                       [1234567.6], "dining_hall_share": [0.1234567891234],
                       "lon": [126.123456789], "lat": [43.987654321]})
    _write_csv(df, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text(encoding="utf-8")
    assert text.splitlines()[1] == ("220000,5551165,1234568,0.1234567891234,126.123456789,"
                                    "43.987654321")
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["lon"].iloc[0] == 126.123456789  # not 126.123 (≈ 40 m off)


def test_cli_output_counts_are_integers(tmp_path: Path) -> None:
    sc = own_data(tmp_path / "in")
    assert main(["run", str(sc), "--out", str(tmp_path / "out")]) == 0
    county = (tmp_path / "out" / "coverage_by_county.csv").read_text(encoding="utf-8")
    header, row = county.splitlines()[:2]
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert values["elders_60"] == "160"  # 80 cells × 2 persons
    assert "e+" not in county
    # The run's facilities.csv can be fed back in as a facility list.
    back = read_facilities(tmp_path / "out" / "facilities.csv",
                           study_area=read_boundaries(tmp_path / "in" / "county.geojson"))
    assert back["id"].tolist() == ["F1", "F2"] and back["status"].tolist() == ["open", "open"]


def test_points_on_the_study_area_keep_their_county_code(tmp_path: Path) -> None:
    from elder_coverage.study import _area_of

    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    lon, lat = _lonlat_outside(3.0)
    pts = gpd.GeoSeries([Point(lon, lat), Point(LON0 + 0.01, LAT0 - 0.01),
                         Point(LON0 + 1.0, LAT0)], crs=4326).to_crs(county.crs)
    got = [v if isinstance(v, str) else None for v in _area_of(pts, county)]
    # Just outside (kept by the facility reader) gets the county; 80 km away gets none.
    assert got == ["220299", "220299", None]


def test_cli_gbk_townships_keep_the_urban_test_and_say_which_encoding(tmp_path: Path) -> None:
    sc = own_data(tmp_path / "in", extra="  townships: towns.shp\n")
    gbk_shapefile(tmp_path / "in")
    before = snapshot(tmp_path / "in")
    assert main(["run", str(sc), "--out", str(tmp_path / "out")]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert any("towns.shp: Shapefile has no .cpg file; its text was read as GB18030" in n
               for n in s["notes"])
    assert any("names ending in 街道 (1 of 2 are 街道)" in n for n in s["notes"])
    towns = pd.read_csv(tmp_path / "out" / "coverage_by_township.csv", dtype={"code": str})
    assert set(towns["name"]) == {"东风街道", "双河镇"}
    assert snapshot(tmp_path / "in") == before


def test_geopackage_with_a_styles_table_is_one_layer(tmp_path: Path) -> None:
    import pyogrio

    p = tmp_path / "c.gpkg"
    # QGIS keeps layer styles in an attribute-only table: not a second layer to choose from.
    pyogrio.write_dataframe(pd.DataFrame({"styleName": ["默认"], "styleQML": ["<qgis/>"]}), p,
                            layer="layer_styles", driver="GPKG")
    gpd.GeoDataFrame({"code": ["220299"], "name": ["示例县"]},
                     geometry=[box(126.40, 43.86, 126.45, 43.90)], crs=4326).to_file(
        p, layer="county", driver="GPKG")
    assert sorted(str(n) for n, _ in pyogrio.list_layers(p)) == ["county", "layer_styles"]
    b = read_boundaries(p)
    assert b["code"].tolist() == ["220299"]


def test_gbk_facility_csv_is_read_and_the_encoding_noted(tmp_path: Path) -> None:
    p = tmp_path / "sites.csv"
    p.write_bytes(FACILITIES_CSV.encode("gbk"))
    f = read_facilities(p)
    assert f["name"].tolist() == ["示例敬老院", "示例助老餐厅"]
    assert any("sites.csv: text is not UTF-8; read as GB18030" in n for n in notes_of(f))
    assert not notes_of(read_facilities(write_utf8(tmp_path / "u.csv", FACILITIES_CSV)))


def write_utf8(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_elder_table_wholly_outside_is_an_error_not_zero(tmp_path: Path) -> None:
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    p = write_utf8(tmp_path / "grid.csv", "id,elders_60,lon,lat\n1,30,127.41,43.89\n"
                                          "2,20,127.42,43.88\n")
    with pytest.raises(InputError, match=r"grid.csv: does not overlap the study area: all 2 "
                                         r"populated row\(s\) \(50 elders aged 60\+\)"):
        read_elder_table(p, counties=county, outside="drop")
    p = write_utf8(tmp_path / "grid.csv", "id,elders_60,lon,lat\n1,30,127.41,43.89\n"
                                          "2,20,126.42,43.88\n")
    cells = read_elder_table(p, counties=county, outside="drop")
    assert cells["elders_60"].tolist() == [20.0]
    assert any("30 of 50 elders aged 60+ (60.0%) in 1 row(s) lie outside" in n
               for n in notes_of(cells))


def test_ids_quoted_in_notes_reach_the_report_escaped(tmp_path: Path) -> None:
    lon, lat = _lonlat_outside(3.0)
    evil = "<img src=x onerror=alert(1)>"
    sc = own_data(tmp_path / "in", facilities=FACILITIES_CSV + (
        f'"{evil}",边界外站,助老餐厅,10,运营中,{lon:.7f},{lat:.7f}\n'))
    assert main(["run", str(sc), "--out", str(tmp_path / "out")]) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert any(f"(id {evil}) lie up to 3." in n for n in s["notes"])
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert evil not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
