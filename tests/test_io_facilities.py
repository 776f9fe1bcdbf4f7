"""Facility loader: formats, Chinese columns and labels, and one test per kind of bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from elder_coverage.io import InputError, normalise_kind, read_boundaries, read_facilities
from elder_coverage.schema import FACILITY_KINDS, KIND_LABELS

ENGLISH_CSV = (
    "id,name,kind,capacity,nursing_beds,occupancy,built_year,fire_safety_ok,status,lon,lat\n"
) + """F1,Chengxi home,county_home,120,40,0.75,2012,true,open,126.55,43.84
F2,Dongcun courtyard,rural_courtyard,12,,,2019,,planned,126.60,43.80
F3,Beishan dining,dining_hall,40,0,0.5,,false,open,126.52,43.86
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_english_csv(tmp_path: Path) -> None:
    f = read_facilities(write(tmp_path, "sites.csv", ENGLISH_CSV))
    assert f.columns.tolist() == ["id", "name", "kind", "capacity", "nursing_beds", "occupancy",
                                  "built_year", "fire_safety_ok", "status", "geometry"]
    assert f["id"].tolist() == ["F1", "F2", "F3"]
    assert f["kind"].tolist() == ["county_home", "rural_courtyard", "dining_hall"]
    assert f["capacity"].tolist() == [120, 12, 40] and f["capacity"].dtype == "int64"
    assert f["nursing_beds"].tolist()[0] == 40 and pd.isna(f["nursing_beds"].iloc[1])
    assert f["occupancy"].iloc[0] == 0.75 and pd.isna(f["occupancy"].iloc[1])
    assert f["fire_safety_ok"].tolist()[0] is True and pd.isna(f["fire_safety_ok"].iloc[1])
    assert f["status"].tolist() == ["open", "planned", "open"]
    assert f.crs.to_epsg() == 32652 and f.attrs["source_crs"] == "EPSG:4326"
    x, y = Transformer.from_crs(4326, 32652, always_xy=True).transform(126.55, 43.84)
    assert f.geometry.iloc[0].x == pytest.approx(x) and f.geometry.iloc[0].y == pytest.approx(y)


CHINESE_CSV = """编号,名称,类型,床位数,护理床位,入住率,建成年份,消防合格,状态,经度,纬度
001,城西养老院,县级养老机构,150,60,85%,2010,是,运营,126.55,43.84
002,东村大院,农村养老大院,10,,,2018,否,运营,126.60,43.80
003,北山助老餐厅,助老餐厅,30,,,,,,126.52,43.86
004,南街老年食堂,老年食堂,25,,,,,规划,126.53,43.85
005,社区照料中心,日间照料中心,20,5,0.4,2020,合格,运营,126.54,43.83
006,红旗镇敬老院,乡镇敬老院,60,20,0.6,2005,不合格,停业,126.57,43.82
007,片区中心,区域养老服务中心,80,30,0.7,2021,是,运营,126.58,43.81
"""


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_chinese_csv_columns_and_kind_labels(tmp_path: Path, encoding: str) -> None:
    f = read_facilities(write(tmp_path, "机构.csv", CHINESE_CSV, encoding=encoding))
    assert f["id"].tolist() == ["001", "002", "003", "004", "005", "006", "007"]  # zeros kept
    assert f["name"].iloc[0] == "城西养老院"
    assert f["kind"].tolist() == ["county_home", "rural_courtyard", "dining_hall", "dining_hall",
                                  "day_care", "township_centre", "township_centre"]
    assert f["capacity"].tolist() == [150, 10, 30, 25, 20, 60, 80]
    assert f["occupancy"].iloc[0] == pytest.approx(0.85)
    assert f["fire_safety_ok"].tolist()[:2] == [True, False]
    assert f["fire_safety_ok"].iloc[4] and not f["fire_safety_ok"].iloc[5]
    assert f["status"].iloc[0] == "open" and f["status"].iloc[3] == "planned"
    assert f["status"].iloc[5] == "closed" and pd.isna(f["status"].iloc[2])
    assert f["built_year"].iloc[0] == 2010


def test_every_schema_label_maps_back_to_its_kind() -> None:
    for kind in FACILITY_KINDS:
        assert normalise_kind(kind) == kind
        assert normalise_kind(KIND_LABELS[kind]["en"]) == kind
        assert normalise_kind(KIND_LABELS[kind]["zh"]) == kind
        for part in KIND_LABELS[kind]["zh"].split("/"):
            assert normalise_kind(part) == kind
    assert normalise_kind(" Day Care ") == "day_care"
    assert normalise_kind("养老院") is None


def test_xy_columns_with_crs_option(tmp_path: Path) -> None:
    x, y = Transformer.from_crs(4326, 32651, always_xy=True).transform(125.3, 43.9)
    text = f"id,name,kind,capacity,x,y\nA,Changchun home,county_home,200,{x},{y}\n"
    p = write(tmp_path, "xy.csv", text)
    f = read_facilities(p, source_crs="EPSG:32651")
    assert f.crs.to_epsg() == 32651 and f.attrs["source_crs"] == "EPSG:32651"
    assert f.geometry.iloc[0].x == pytest.approx(x) and f.geometry.iloc[0].y == pytest.approx(y)
    g = read_facilities(p, source_crs="EPSG:32651", crs="EPSG:32652")
    assert g.crs.to_epsg() == 32652


def test_xy_columns_without_crs_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "xy.csv", "id,name,kind,capacity,x,y\nA,a,day_care,5,500000,4850000\n")
    with pytest.raises(InputError, match=r"xy.csv: field 'x': .*no CRS; pass source_crs="):
        read_facilities(p)


def sites_gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1, 2], "name": ["甲", "乙"], "kind": ["日间照料中心", "township_centre"],
         "capacity": [20, 50], "occupancy": [0.5, 0.9], "fire_safety_ok": [True, False]},
        geometry=[Point(126.50, 43.80), Point(126.70, 43.90)], crs=4326)


@pytest.mark.parametrize(("name", "driver"), [("sites.geojson", "GeoJSON"),
                                              ("sites.gpkg", "GPKG")])
def test_geojson_and_gpkg(tmp_path: Path, name: str, driver: str) -> None:
    p = tmp_path / name
    sites_gdf().to_file(p, driver=driver)
    f = read_facilities(p)
    assert f["id"].tolist() == ["1", "2"]
    assert f["kind"].tolist() == ["day_care", "township_centre"]
    assert f["capacity"].tolist() == [20, 50]
    assert f["fire_safety_ok"].tolist() == [True, False]
    assert f.crs.to_epsg() == 32652


def test_shapefile_with_projected_crs_and_truncated_names(tmp_path: Path) -> None:
    g = sites_gdf().to_crs(32652)
    g["nursing_beds"] = [5, 10]  # the DBF truncates this to "nursing_be"
    p = tmp_path / "sites.shp"
    g.to_file(p)
    f = read_facilities(p)
    assert f["nursing_beds"].tolist() == [5, 10]
    assert f.attrs["source_crs"] == "EPSG:32652"
    assert f.geometry.iloc[0].distance(g.geometry.iloc[0]) < 1e-6


def test_shapefile_without_prj_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "sites.shp"
    sites_gdf().to_file(p)
    p.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"sites.shp: has no CRS .*\.prj"):
        read_facilities(p)
    assert read_facilities(p, source_crs=4326)["capacity"].tolist() == [20, 50]


def test_polygon_footprints_become_interior_points(tmp_path: Path) -> None:
    g = sites_gdf()
    g["geometry"] = [box(126.50, 43.80, 126.501, 43.801), box(126.70, 43.90, 126.701, 43.901)]
    p = tmp_path / "sites.gpkg"
    g.to_file(p)
    f = read_facilities(p)
    fp = g.to_crs(f.crs).geometry
    assert all(f.geometry.iloc[i].within(fp.iloc[i]) for i in range(2))


def test_line_geometry_is_an_error(tmp_path: Path) -> None:
    g = sites_gdf()
    g["geometry"] = [Point(126.5, 43.8), LineString([(126.7, 43.9), (126.71, 43.9)])]
    p = tmp_path / "sites.gpkg"
    g.to_file(p)
    with pytest.raises(InputError, match=r"sites.gpkg: row 2, field 'geometry': geometry is "
                                         "LineString"):
        read_facilities(p)


# ---- one test per bad input ---------------------------------------------------------------

def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"sites.csv: file is empty"):
        read_facilities(write(tmp_path, "sites.csv", ""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"sites.csv: file has a header but no data rows"):
        read_facilities(write(tmp_path, "sites.csv", "id,name,kind,capacity,lon,lat\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope.csv: file does not exist"):
        read_facilities(tmp_path / "nope.csv")


def test_unknown_kind_names_row_value_and_allowed_kinds(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("dining_hall,40", "养老院,40")
    with pytest.raises(InputError) as exc:
        read_facilities(write(tmp_path, "sites.csv", text))
    msg = str(exc.value)
    assert "sites.csv: row 3, field 'kind': unknown kind '养老院'" in msg
    for kind in FACILITY_KINDS:
        assert kind in msg
    assert "日间照料中心" in msg
    assert exc.value.rows == (3,) and exc.value.field == "kind"


def test_unknown_kind_with_chinese_header_names_the_chinese_field(tmp_path: Path) -> None:
    text = CHINESE_CSV.replace("日间照料中心,20", "照护站,20")
    with pytest.raises(InputError, match=r"row 5, field '类型': unknown kind '照护站'"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_duplicate_id_names_both_rows(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("F3,", "F1,")
    with pytest.raises(InputError, match=r"sites.csv: rows 1, 3, field 'id': duplicate id 'F1'"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_missing_required_column(tmp_path: Path) -> None:
    text = "id,name,kind,lon,lat\nA,a,day_care,126.5,43.8\n"
    with pytest.raises(InputError, match=r"sites.csv: field 'capacity': required column "
                                         r"missing \(accepted names: capacity, 床位数"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_missing_required_value(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("Dongcun courtyard", "")
    with pytest.raises(InputError, match=r"row 2, field 'name': required value is missing"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_negative_capacity(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("rural_courtyard,12", "rural_courtyard,-12")
    with pytest.raises(InputError, match=r"sites.csv: row 2, field 'capacity': capacity is "
                                         r"negative \(-12\)"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_capacity_not_a_number(tmp_path: Path) -> None:
    text = CHINESE_CSV.replace("北山助老餐厅,助老餐厅,30", "北山助老餐厅,助老餐厅,三十")
    with pytest.raises(InputError, match=r"row 3, field '床位数': not a number \('三十'\)"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_fractional_capacity(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("rural_courtyard,12", "rural_courtyard,12.5")
    with pytest.raises(InputError, match=r"row 2, field 'capacity': capacity must be a whole"):
        read_facilities(write(tmp_path, "sites.csv", text))


@pytest.mark.parametrize("value", ["1.5", "-0.1", "120%"])
def test_occupancy_outside_unit_interval(tmp_path: Path, value: str) -> None:
    text = ENGLISH_CSV.replace("0.75", value)
    with pytest.raises(InputError, match=r"sites.csv: row 1, field 'occupancy': occupancy .* "
                                         "is outside 0–1"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_nursing_beds_above_capacity(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("120,40", "120,140")
    with pytest.raises(InputError, match=r"row 1, field 'nursing_beds': nursing beds 140"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_bad_yes_no(tmp_path: Path) -> None:
    text = CHINESE_CSV.replace("2010,是", "2010,也许")
    with pytest.raises(InputError, match=r"row 1, field '消防合格': '也许' is not yes/no"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_implausible_year(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("2019", "19")
    with pytest.raises(InputError, match=r"row 2, field 'built_year': built year 19"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_missing_coordinate(tmp_path: Path) -> None:
    text = ENGLISH_CSV.replace("126.60,43.80", ",43.80")
    with pytest.raises(InputError, match=r"sites.csv: row 2, field 'lon': coordinate missing"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_no_coordinate_columns(tmp_path: Path) -> None:
    text = "id,name,kind,capacity\nA,a,day_care,5\n"
    with pytest.raises(InputError, match=r"sites.csv: no coordinate columns"):
        read_facilities(write(tmp_path, "sites.csv", text))


def test_points_outside_study_area_name_rows_and_ids(tmp_path: Path) -> None:
    area = gpd.GeoDataFrame({"code": ["220203"], "name": ["丰满区"]},
                            geometry=[box(126.50, 43.82, 126.58, 43.88)], crs=4326)
    ap = tmp_path / "county.gpkg"
    area.to_file(ap)
    county = read_boundaries(ap)
    with pytest.raises(InputError, match=r"sites.csv: row 2, field 'geometry': 1 point\(s\) "
                                         r"outside the study area \(id F2\)"):
        read_facilities(write(tmp_path, "sites.csv", ENGLISH_CSV), study_area=county)
    ok = ENGLISH_CSV.replace("126.60,43.80", "126.56,43.85")
    f = read_facilities(write(tmp_path, "ok.csv", ok), study_area=county, crs=county.crs)
    assert len(f) == 3 and f.crs == county.crs


def test_extra_columns_are_kept_after_the_schema(tmp_path: Path) -> None:
    text = "id,name,kind,capacity,lon,lat,备注\nA,a,day_care,5,126.5,43.8,新建\n"
    f = read_facilities(write(tmp_path, "sites.csv", text))
    assert f.columns.tolist() == ["id", "name", "kind", "capacity", "备注", "geometry"]
    assert f["备注"].iloc[0] == "新建"
