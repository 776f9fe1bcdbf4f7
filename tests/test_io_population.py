"""Elder population loaders: WorldPop band sets, single-band rasters, grids and point tables."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from elder_coverage.io import (
    InputError,
    raster_to_cells,
    read_boundaries,
    read_elder_raster,
    read_elder_table,
    read_worldpop,
)
from elder_coverage.schema import CELL_COLUMNS

# A 3 x 4 grid of 0.01-degree cells near Jilin city, north-west corner at 126.45E 43.83N.
WEST, NORTH, RES = 126.45, 43.83, 0.01
ROWS, COLS = 3, 4
TRANSFORM = from_origin(WEST, NORTH, RES, RES)
IDX = np.arange(ROWS * COLS, dtype=np.float64).reshape(ROWS, COLS)  # 0..11
AGES = (60, 65, 70, 75, 80)


def write_tif(path: Path, data: np.ndarray, *, crs: str | None = "EPSG:4326",
              nodata: float | None = -99999.0) -> Path:
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1],
                       count=1, dtype="float32", crs=crs, transform=TRANSFORM,
                       nodata=nodata) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


def band(sex: str, age: int) -> np.ndarray:
    # Women: cell index + age; men: 2 * age everywhere. Exact in float32.
    return IDX + age if sex == "f" else np.full((ROWS, COLS), 2.0 * age)


@pytest.fixture
def worldpop(tmp_path: Path) -> Path:
    folder = tmp_path / "worldpop"
    folder.mkdir()
    for sex in "fm":
        for age in (55, *AGES):  # 55 must not count towards 60+
            write_tif(folder / f"chn_{sex}_{age}_2020.tif", band(sex, age))
    write_tif(folder / "chn_ppp_2020.tif", IDX * 100)  # total population: ignored
    return folder


# Hand sums. 60+: 5 female bands give 5*idx + (60+65+70+75+80) = 5*idx + 350, male bands
# 2*350 = 700, so 5*idx + 1050. 65+: 4*idx + 3*(65+70+75+80) = 4*idx + 870. 80+: idx + 240.
def expected(age: int) -> np.ndarray:
    return {60: 5 * IDX + 1050, 65: 4 * IDX + 870, 80: IDX + 240}[age]


def test_worldpop_sums_age_floors(worldpop: Path) -> None:
    r = read_worldpop(worldpop)
    assert list(r.layers) == ["elders_60", "elders_65", "elders_80"]
    for age in (60, 65, 80):
        np.testing.assert_array_equal(r.layers[f"elders_{age}"], expected(age))
    assert r.total("elders_60") == 5 * 66 + 12 * 1050 == 12930
    assert r.total("elders_65") == 4 * 66 + 12 * 870 == 10704
    assert r.total("elders_80") == 66 + 12 * 240 == 2946
    assert r.layers["elders_60"][2, 3] == 5 * 11 + 1050
    assert r.crs.to_epsg() == 4326 and r.transform == TRANSFORM
    assert sorted(r.files["elders_80"]) == ["chn_f_80_2020.tif", "chn_m_80_2020.tif"]
    assert len(r.files["elders_60"]) == 10 and not r.masked.any()


def test_worldpop_single_floor(worldpop: Path) -> None:
    r = read_worldpop(worldpop, ages=[80])
    assert list(r.layers) == ["elders_80"]
    np.testing.assert_array_equal(r.layers["elders_80"], expected(80))


def test_worldpop_missing_band_names_folder_and_band(worldpop: Path) -> None:
    (worldpop / "chn_m_75_2020.tif").unlink()
    with pytest.raises(InputError, match=r"worldpop: WorldPop bands missing for 60\+: m_75"):
        read_worldpop(worldpop)
    # 80+ does not need the 75 band.
    assert read_worldpop(worldpop, ages=[80]).total("elders_80") == 2946


def test_worldpop_ambiguous_years(worldpop: Path) -> None:
    write_tif(worldpop / "chn_f_60_2015.tif", band("f", 60))
    with pytest.raises(InputError, match="several WorldPop sets.*year="):
        read_worldpop(worldpop)
    assert read_worldpop(worldpop, year=2020).total("elders_60") == 12930


def test_worldpop_nodata_cell_is_an_error_naming_file_band_and_pixel(worldpop: Path) -> None:
    data = band("m", 70)
    data[1, 2] = -99999.0
    write_tif(worldpop / "chn_m_70_2020.tif", data)
    with pytest.raises(InputError) as exc:
        read_worldpop(worldpop)
    msg = str(exc.value)
    assert "chn_m_70_2020.tif: band 1" in msg and "pixel row 1, col 2" in msg
    assert "nodata" in msg and "invalid='mask'" in msg
    assert exc.value.path.endswith("chn_m_70_2020.tif") and exc.value.band == "1"
    # Clipped to columns 2-3, the pixel keeps its whole-file number.
    with pytest.raises(InputError, match=r"pixel row 1, col 2 \(x=126.475000, y=43.815000\)"):
        read_worldpop(worldpop, clip_to=(126.471, 43.80, 126.49, 43.83))


def test_worldpop_mask_option_excludes_the_cell_in_every_layer(worldpop: Path) -> None:
    data = band("m", 70)
    data[1, 2] = -99999.0
    write_tif(worldpop / "chn_m_70_2020.tif", data)
    r = read_worldpop(worldpop, invalid="mask")
    assert r.masked.sum() == 1 and r.masked[1, 2]
    # The 70 band feeds 60+ and 65+ only, yet the cell is masked in 80+ too, so every
    # layer describes the same cells.
    for age in (60, 65, 80):
        lay = r.layers[f"elders_{age}"]
        assert np.isnan(lay[1, 2])
        assert r.total(f"elders_{age}") == expected(age).sum() - expected(age)[1, 2]
    cells = raster_to_cells(r)
    assert len(cells) == 11 and cells.attrs["masked_cells"] == 1
    assert cells["elders_60"].sum() == 12930 - (5 * 6 + 1050)


@pytest.mark.parametrize(("value", "what"), [(np.nan, "nan"), (-3.0, "-3.0")])
def test_worldpop_nan_or_negative_cell_is_an_error(worldpop: Path, value: float,
                                                   what: str) -> None:
    data = band("f", 65)
    data[0, 1] = value
    write_tif(worldpop / "chn_f_65_2020.tif", data)
    with pytest.raises(InputError, match=rf"chn_f_65_2020.tif: band 1: .*pixel row 0, col 1.*"
                                         rf"= {what}"):
        read_worldpop(worldpop)


def test_garbage_tif_names_the_file(worldpop: Path) -> None:
    (worldpop / "chn_f_80_2020.tif").write_bytes(b"this is not a GeoTIFF\x00\x01" * 10)
    with pytest.raises(InputError, match=r"chn_f_80_2020.tif: not a readable raster"):
        read_worldpop(worldpop)


def test_empty_tif_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "elders.tif"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"elders.tif: file is empty"):
        read_elder_raster(p)


def test_raster_without_crs_is_an_error(tmp_path: Path) -> None:
    p = write_tif(tmp_path / "nocrs.tif", IDX, crs=None)
    with pytest.raises(InputError, match=r"nocrs.tif: band 1: raster has no CRS"):
        read_elder_raster(p)


def test_band_with_a_different_grid_is_an_error(worldpop: Path) -> None:
    p = worldpop / "chn_f_60_2020.tif"
    with rasterio.open(p, "w", driver="GTiff", height=ROWS, width=COLS, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(WEST + RES, NORTH, RES, RES)) as dst:
        dst.write(band("f", 60).astype(np.float32), 1)
    with pytest.raises(InputError, match=r"chn_f_60_2020.tif: band 1: transform .* differs"):
        read_worldpop(worldpop)


def test_single_band_raster_to_cells_conserves_counts_and_centres(tmp_path: Path) -> None:
    data = IDX.copy()  # cell (0, 0) holds 0 elders and is not a demand cell
    data[1, 1] = 2.5
    p = write_tif(tmp_path / "elders65.tif", data)
    r = read_elder_raster(p, age=65)
    assert list(r.layers) == ["elders_65"]
    cells = raster_to_cells(r)
    assert list(cells.columns) == ["cell_id", "elders_65", "county_code", "township_code",
                                   "geometry"]
    assert len(cells) == 11
    assert cells["elders_65"].sum() == r.total("elders_65") == 66 - 5 + 2.5
    assert cells.crs.to_epsg() == 32652  # lon 126.47 lies east of 126E
    assert cells.attrs["source_crs"] == "EPSG:4326"
    assert cells["county_code"].isna().all() and cells["township_code"].isna().all()
    # Cell (row 2, col 3): id 2 * 4 + 3 = 11, centre at 126.485E 43.805N in lon/lat.
    row = cells.set_index("cell_id").loc[11]
    assert row["elders_65"] == 11
    x, y = Transformer.from_crs(4326, 32652, always_xy=True).transform(
        WEST + 3.5 * RES, NORTH - 2.5 * RES)
    assert row.geometry.x == pytest.approx(x, abs=1e-6)
    assert row.geometry.y == pytest.approx(y, abs=1e-6)


def test_raster_to_cells_explicit_crs(worldpop: Path) -> None:
    cells = raster_to_cells(read_worldpop(worldpop), crs="EPSG:32651")
    assert cells.crs.to_epsg() == 32651
    assert set(CELL_COLUMNS) <= set(cells.columns)
    assert cells[["elders_60", "elders_65", "elders_80"]].sum().tolist() == [12930, 10704, 2946]


def townships_file(tmp_path: Path, *, east_edge: float = WEST + COLS * RES) -> Path:
    # Two townships of county 220203: the west half (columns 0-1) and the east half (2-3).
    mid = WEST + 2 * RES
    south = NORTH - ROWS * RES
    gdf = gpd.GeoDataFrame(
        {"XZQDM": ["220203100", "220203101"], "XZQMC": ["西镇", "东镇"]},
        geometry=[box(WEST, south, mid, NORTH), box(mid, south, east_edge, NORTH)],
        crs=4326,
    )
    p = tmp_path / "townships.gpkg"
    gdf.to_file(p)
    return p


def test_cells_get_township_and_county_codes(worldpop: Path, tmp_path: Path) -> None:
    towns = read_boundaries(townships_file(tmp_path))
    cells = raster_to_cells(read_worldpop(worldpop), townships=towns)
    by_town = cells.groupby("township_code")["elders_60"].sum()
    # West half: columns 0-1, idx 0,1,4,5,8,9 (sum 27): 5 * 27 + 6 * 1050.
    assert by_town["220203100"] == 5 * 27 + 6 * 1050
    assert by_town["220203101"] == 5 * (66 - 27) + 6 * 1050
    assert (cells["county_code"] == "220203").all()


def test_cells_outside_study_area_are_an_error_or_dropped(worldpop: Path,
                                                          tmp_path: Path) -> None:
    # The east township stops one column short, so column 3 lies outside.
    towns = read_boundaries(townships_file(tmp_path, east_edge=WEST + 3 * RES))
    r = read_worldpop(worldpop)
    with pytest.raises(InputError, match=r"worldpop: field 'geometry': 3 populated cell\(s\) "
                                         r"outside the study area at pixel \(row 0, col 3\)"):
        raster_to_cells(r, townships=towns)
    cells = raster_to_cells(r, townships=towns, outside="drop")
    dropped = cells.attrs["dropped_outside"]
    col3 = expected(60)[:, 3].sum()  # idx 3, 7, 11: 5 * 21 + 3 * 1050
    assert dropped["cells"] == 3 and dropped["elders_60"] == col3 == 5 * 21 + 3 * 1050
    assert cells["elders_60"].sum() + dropped["elders_60"] == 12930


def test_clip_reads_whole_cells_and_keeps_cell_ids(worldpop: Path) -> None:
    full = raster_to_cells(read_worldpop(worldpop)).set_index("cell_id")
    # A box inside columns 1-2, rows 0-1 (cell edges are at 126.46/126.47/126.48).
    clip = (126.465, 43.815, 126.475, 43.825)
    r = read_worldpop(worldpop, clip_to=clip)
    assert r.shape == (2, 2) and r.offset == (0, 1)
    part = raster_to_cells(r).set_index("cell_id")
    assert sorted(part.index) == [1, 2, 5, 6]
    assert part["elders_60"].sum() == expected(60)[0:2, 1:3].sum()
    for cid in part.index:
        assert part.loc[cid, "elders_60"] == full.loc[cid, "elders_60"]
        assert part.loc[cid].geometry.equals_exact(full.loc[cid].geometry, 1e-6)


def test_clip_to_a_boundary_layer_then_drop_outside(worldpop: Path, tmp_path: Path) -> None:
    # The usual real-data path: read only the window around the townships, keep the cells
    # inside them. The east township stops at column 2, so column 3 is outside the window.
    towns = read_boundaries(townships_file(tmp_path, east_edge=WEST + 3 * RES))
    r = read_worldpop(worldpop, clip_to=towns)
    assert r.shape == (3, 3) and r.offset == (0, 0)
    cells = raster_to_cells(r, crs=towns.crs, townships=towns, outside="drop")
    assert "dropped_outside" not in cells.attrs
    assert cells["elders_60"].sum() == expected(60)[:, :3].sum()


# ---- vector grids and point tables -------------------------------------------------------

def test_csv_point_table_with_chinese_columns(tmp_path: Path) -> None:
    p = tmp_path / "elders.csv"
    p.write_text("网格编号,经度,纬度,60岁及以上人口,65岁及以上人口\n"
                 "101,126.50,43.80,120,80\n"
                 "102,126.51,43.81,0,0\n"
                 "103,126.52,43.82,35.5,20\n", encoding="utf-8")
    cells = read_elder_table(p)
    assert cells["cell_id"].tolist() == [101, 103]  # the empty row is not a demand cell
    assert cells["elders_60"].tolist() == [120, 35.5]
    assert cells["elders_65"].tolist() == [80, 20]
    assert "elders_80" not in cells and cells.crs.to_epsg() == 32652
    assert cells.attrs["source_crs"] == "EPSG:4326"


@pytest.mark.parametrize(("value", "shown"), [("", "nan"), ("-4", "'-4'"), ("abc", "'abc'")])
def test_table_bad_count_names_row_and_field(tmp_path: Path, value: str, shown: str) -> None:
    p = tmp_path / "elders.csv"
    p.write_text(f"lon,lat,pop60\n126.5,43.8,10\n126.6,43.9,{value}\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"elders.csv: row 2, field 'pop60': .*\({shown}\)"):
        read_elder_table(p)
    cells = read_elder_table(p, invalid="mask")
    assert cells["elders_60"].tolist() == [10] and cells.attrs["masked_rows"] == 1


def test_table_older_group_larger_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "elders.csv"
    p.write_text("lon,lat,elders_60,elders_80\n126.5,43.8,10,2\n126.6,43.9,5,7\n")
    with pytest.raises(InputError, match=r"row 2, field 'elders_80': elders_80 \(7\) exceeds"):
        read_elder_table(p)


def test_table_without_count_column(tmp_path: Path) -> None:
    p = tmp_path / "elders.csv"
    p.write_text("lon,lat,people\n126.5,43.8,10\n")
    with pytest.raises(InputError, match=r"elders.csv: no elder-count column"):
        read_elder_table(p)
    assert read_elder_table(p, columns={60: "people"})["elders_60"].tolist() == [10]


def test_gpkg_grid_polygons_become_centroids(tmp_path: Path) -> None:
    cells_4326 = [box(WEST + c * RES, NORTH - (r + 1) * RES, WEST + (c + 1) * RES, NORTH - r * RES)
                  for r in range(2) for c in range(2)]
    grid = gpd.GeoDataFrame({"cell_id": ["a", "b", "c", "d"], "elders_60": [1.0, 2, 3, 4],
                             "elders_65": [1.0, 1, 2, 3], "elders_80": [0.0, 1, 1, 1]},
                            geometry=cells_4326, crs=4326).to_crs(32652)
    p = tmp_path / "grid.gpkg"
    grid.to_file(p)
    cells = read_elder_table(p, crs=32652)
    assert cells["cell_id"].tolist() == ["a", "b", "c", "d"]
    assert cells["elders_60"].sum() == 10 and cells["elders_80"].sum() == 3
    expect = grid.geometry.centroid
    for got, want in zip(cells.geometry, expect, strict=True):
        assert got.distance(want) < 1e-6
    assert cells.attrs["source_crs"] == "EPSG:32652"


def test_table_rows_outside_study_area_are_named(tmp_path: Path) -> None:
    towns = read_boundaries(townships_file(tmp_path))
    p = tmp_path / "elders.csv"
    p.write_text("lon,lat,elders_60\n126.455,43.825,10\n127.5,43.8,4\n126.485,43.805,6\n"
                 "120.0,45.0,1\n")
    with pytest.raises(InputError, match=r"elders.csv: rows 2, 4, field 'geometry': 2 row\(s\) "
                                         "outside the study area"):
        read_elder_table(p, townships=towns)
    cells = read_elder_table(p, townships=towns, outside="drop")
    assert cells["township_code"].tolist() == ["220203100", "220203101"]
    assert cells.attrs["dropped_outside"] == {"cells": 2, "elders_60": 5.0}


def test_table_duplicate_cell_id(tmp_path: Path) -> None:
    p = tmp_path / "elders.csv"
    p.write_text("id,lon,lat,elders_60\n7,126.5,43.8,1\n8,126.5,43.9,1\n7,126.6,43.8,1\n")
    with pytest.raises(InputError, match=r"rows 1, 3, field 'id': cell id '7'"):
        read_elder_table(p)


def test_point_outside_lonlat_range(tmp_path: Path) -> None:
    p = tmp_path / "elders.csv"
    p.write_text("lon,lat,elders_60\n43.8,126.5,1\n")
    with pytest.raises(InputError, match=r"row 1, field 'lat': .*look swapped"):
        read_elder_table(p)


def test_cells_in_one_township_sum_like_the_raster(worldpop: Path, tmp_path: Path) -> None:
    # Conservation over a spatial join: every cell falls in exactly one township even
    # though the township edge runs along cell edges, and points on it are counted once.
    towns = read_boundaries(townships_file(tmp_path))
    r = read_worldpop(worldpop)
    cells = raster_to_cells(r, townships=towns)
    assert len(cells) == ROWS * COLS and cells["cell_id"].is_unique
    assert math.isclose(cells["elders_60"].sum(), r.total("elders_60"), rel_tol=0, abs_tol=0)
    assert isinstance(cells, gpd.GeoDataFrame) and isinstance(cells["elders_60"], pd.Series)
    assert all(isinstance(g, Point) for g in cells.geometry)
