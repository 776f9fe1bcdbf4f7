"""Boundary loader: code/name normalisation, reprojection, parts, bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from elder_coverage.io import InputError, read_boundaries


def townships(**cols) -> gpd.GeoDataFrame:
    base = {"XZQDM": [220203100.0, 220203101.0], "XZQMC": ["旺起镇", "江南乡"]}
    base.update(cols)
    return gpd.GeoDataFrame(base, geometry=[box(126.5, 43.8, 126.6, 43.9),
                                            box(126.6, 43.8, 126.7, 43.9)], crs=4326)


def test_gpkg_with_land_survey_field_names(tmp_path: Path) -> None:
    p = tmp_path / "towns.gpkg"
    townships().to_file(p)
    b = read_boundaries(p)
    assert b.columns.tolist()[:2] == ["code", "name"]
    assert b["code"].tolist() == ["220203100", "220203101"]  # float codes become text
    assert b["name"].tolist() == ["旺起镇", "江南乡"]
    assert b.crs.to_epsg() == 32652 and b.attrs["source_crs"] == "EPSG:4326"
    # 0.1 x 0.1 degree at 43.85N: about 8.03 km x 11.1 km.
    assert b.area.iloc[0] / 1e6 == pytest.approx(89.2, rel=0.01)


def test_geojson_with_explicit_columns_and_crs(tmp_path: Path) -> None:
    g = townships().rename(columns={"XZQDM": "乡镇编码", "XZQMC": "乡镇"})
    p = tmp_path / "towns.geojson"
    g.to_file(p, driver="GeoJSON")
    with pytest.raises(InputError, match=r"towns.geojson: no code column"):
        read_boundaries(p)
    b = read_boundaries(p, code_column="乡镇编码", name_column="乡镇", crs=32651)
    assert b.crs.to_epsg() == 32651 and b["name"].tolist() == ["旺起镇", "江南乡"]


def test_split_township_is_dissolved(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame({"code": ["1", "1", "2"], "name": ["甲", "甲", "乙"]},
                         geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1), box(1, 0, 2, 1)],
                         crs=32652)
    p = tmp_path / "t.gpkg"
    g.to_file(p)
    b = read_boundaries(p, crs=32652)
    assert b["code"].tolist() == ["1", "2"]
    assert b.area.tolist() == pytest.approx([2.0, 1.0])


def test_code_with_two_names_is_an_error(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame({"code": ["1", "1"], "name": ["甲", "乙"]},
                         geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1)], crs=32652)
    p = tmp_path / "t.gpkg"
    g.to_file(p)
    with pytest.raises(InputError, match=r"t.gpkg: rows 1, 2, field 'code': code 1 is used by"):
        read_boundaries(p)


def test_missing_code_value(tmp_path: Path) -> None:
    p = tmp_path / "t.gpkg"
    townships(XZQDM=[220203100.0, None]).to_file(p)
    with pytest.raises(InputError, match=r"t.gpkg: row 2, field 'XZQDM': code is missing"):
        read_boundaries(p)


def test_points_are_not_boundaries(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame({"code": ["1"]}, geometry=[Point(126.5, 43.8)], crs=4326)
    p = tmp_path / "t.gpkg"
    g.to_file(p)
    with pytest.raises(InputError, match=r"t.gpkg: row 1, field 'geometry': geometry is Point"):
        read_boundaries(p)


def test_shapefile_without_crs(tmp_path: Path) -> None:
    p = tmp_path / "t.shp"
    townships().to_file(p)
    p.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"t.shp: has no CRS"):
        read_boundaries(p)
    assert read_boundaries(p, source_crs=4326).crs.to_epsg() == 32652


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    bad = tmp_path / "t.gpkg"
    bad.write_bytes(b"not a geopackage at all" * 20)
    with pytest.raises(InputError, match=r"t.gpkg: cannot be read as a vector file"):
        read_boundaries(bad)
    empty = tmp_path / "e.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputError, match=r"e.geojson: has no features"):
        read_boundaries(empty)
