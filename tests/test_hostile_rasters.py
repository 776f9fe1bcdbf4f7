"""Hostile population rasters: each is read correctly or refused with a message naming the file,
band and the scenario key that helps, and nothing of the user's is changed (issue 8 items 4–5)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from hostile import (
    COLS,
    LAT0,
    LON0,
    RES,
    ROWS,
    no_stray_files,  # noqa: F401 (autouse: no stray files)
    own_data,
    run_refused,
    snapshot,
    triangle,
    write_county,
    write_raster,
)

from elder_coverage.io import (
    InputError,
    notes_of,
    raster_to_cells,
    read_boundaries,
    read_elder_raster,
    read_worldpop,
)


@pytest.fixture
def county(tmp_path: Path) -> gpd.GeoDataFrame:
    return read_boundaries(write_county(tmp_path / "county.geojson"))


def test_scale_and_offset_are_applied(tmp_path: Path, county) -> None:
    # Stored 0..79 as uint16 with scale 0.5 and offset 1: persons = stored * 0.5 + 1.
    stored = np.arange(ROWS * COLS, dtype="uint16").reshape(ROWS, COLS)
    p = write_raster(tmp_path / "scaled.tif", stored, scale=0.5, offset=1.0)
    before = snapshot(tmp_path)
    r = read_elder_raster(p)
    assert r.total() == pytest.approx(stored.sum() * 0.5 + ROWS * COLS * 1.0)  # 1580 + 80
    assert r.layers["elders_60"][0, 3] == pytest.approx(2.5)
    cells = raster_to_cells(r, counties=county)
    assert cells["elders_60"].sum() == pytest.approx(1660.0)
    assert any("× 0.5 + 1" in n for n in notes_of(cells))
    assert snapshot(tmp_path) == before


def test_zero_scale_is_refused(tmp_path: Path) -> None:
    p = write_raster(tmp_path / "zero.tif", np.ones((2, 2), "uint8"), scale=0.0)
    with pytest.raises(InputError, match=r"zero.tif: band 1: band scale 0"):
        read_elder_raster(p)


def test_nodata_zero_is_read_as_empty_cells(tmp_path: Path, county) -> None:
    data = np.zeros((ROWS, COLS), dtype="float32")
    data[2, 3], data[5, 7] = 12.0, 30.0
    r = read_elder_raster(write_raster(tmp_path / "nd0.tif", data, nodata=0))
    assert not r.masked.any() and r.total() == 42.0
    cells = raster_to_cells(r, counties=county)
    assert len(cells) == 2 and cells["elders_60"].sum() == 42.0
    assert any("nodata value 0 read as 0 persons" in n for n in notes_of(cells))


def test_nodata_minus_one_inside_the_area_names_pixel_and_scenario_key(tmp_path: Path) -> None:
    data = np.full((ROWS, COLS), 3.0, dtype="float32")
    data[4, 6] = -1
    p = write_raster(tmp_path / "nd-1.tif", data, nodata=-1)
    with pytest.raises(InputError, match=r"nd-1.tif: band 1: 1 cell\(s\) are nodata.* pixel row "
                                         r"4, col 6 .*= nodata.*inputs.population.invalid: mask"):
        read_elder_raster(p)
    r = read_elder_raster(p, invalid="mask")
    assert r.masked.sum() == 1 and r.total() == 3.0 * (ROWS * COLS - 1)
    assert any("1 nodata" in n for n in r.notes)


def test_nodata_outside_a_non_rectangular_area_is_not_an_error(tmp_path: Path) -> None:
    # Cells whose centre is outside the triangle hold nodata, as WorldPop tiles do at sea.
    tri = gpd.GeoDataFrame({"code": ["220299"], "name": ["示例县"]}, geometry=[triangle()],
                           crs=4326)
    data = np.full((ROWS, COLS), 2.0, dtype="float32")
    rows, cols = np.indices((ROWS, COLS))
    # Centre (c + .5, r + .5) in cells; inside the lower-left triangle when below the diagonal.
    inside = (cols + 0.5) / COLS + (ROWS - rows - 0.5) / ROWS < 1
    data[~inside] = -99999
    p = write_raster(tmp_path / "wp.tif", data, nodata=-99999)
    with pytest.raises(InputError, match="nodata"):
        read_elder_raster(p)  # without the study area every nodata cell counts
    r = read_elder_raster(p, study_area=tri)
    cells = raster_to_cells(r, counties=tri, outside="drop")
    assert cells["elders_60"].sum() == pytest.approx(2.0 * inside.sum())
    assert "dropped_outside" not in cells.attrs


def test_worldpop_tiles_over_a_non_rectangular_boundary(tmp_path: Path) -> None:
    wp = tmp_path / "worldpop"
    wp.mkdir()
    data = np.full((ROWS, COLS), 1.0, dtype="float32")
    data[0, -1] = -99999  # top-right corner: outside the triangle
    for sex in "fm":
        for age in (60, 65, 70, 75, 80):
            write_raster(wp / f"chn_{sex}_{age}_2020.tif", data, nodata=-99999)
    tri = gpd.GeoSeries([triangle()], crs=4326)
    before = snapshot(tmp_path)
    r = read_worldpop(wp, clip_to=tri, study_area=tri)
    county = gpd.GeoDataFrame({"code": ["1"], "name": ["x"]}, geometry=tri, crs=4326)
    cells = raster_to_cells(r, counties=county, outside="drop")
    rows, cols = np.indices((ROWS, COLS))
    inside = ((cols + 0.5) / COLS + (ROWS - rows - 0.5) / ROWS < 1).sum()
    assert cells["elders_60"].sum() == pytest.approx(10.0 * inside)  # 10 bands of 1 person
    assert snapshot(tmp_path) == before


def test_raster_partly_outside_says_how_many_elders_were_left_out(tmp_path: Path) -> None:
    # The raster reaches 4 columns east of the county: 4 of 14 columns lie outside.
    data = np.full((ROWS, COLS + 4), 5.0, dtype="float32")
    r = read_elder_raster(write_raster(tmp_path / "wide.tif", data))
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    cells = raster_to_cells(r, counties=county, outside="drop")
    assert cells["elders_60"].sum() == 5.0 * ROWS * COLS
    assert cells.attrs["dropped_outside"] == {"cells": ROWS * 4, "elders_60": 5.0 * ROWS * 4}
    # Population is conserved: counted + left out = raster total.
    assert cells["elders_60"].sum() + 160.0 == r.total()
    assert any("160 of 560 elders aged 60+ (28.6%) in 32 raster cell(s) lie outside" in n
               for n in notes_of(cells))


def test_raster_partly_outside_without_drop_names_the_scenario_key(tmp_path: Path) -> None:
    data = np.full((ROWS, COLS + 4), 5.0, dtype="float32")
    r = read_elder_raster(write_raster(tmp_path / "wide.tif", data))
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    with pytest.raises(InputError, match=r"wide.tif: field 'geometry': 32 populated cell.*"
                                         r"inputs.population.outside: drop"):
        raster_to_cells(r, counties=county)


def test_raster_that_does_not_overlap_is_an_error(tmp_path: Path) -> None:
    data = np.full((ROWS, COLS), 5.0, dtype="float32")
    # One degree east of the county.
    r = read_elder_raster(write_raster(tmp_path / "far.tif", data, lon0=LON0 + 1.0))
    county = read_boundaries(write_county(tmp_path / "c.geojson"))
    with pytest.raises(InputError, match=r"far.tif: does not overlap the study area: all 80 "
                                         r"populated raster cell\(s\) \(400 elders aged 60\+\) "
                                         r"lie outside it; data extent lon 127.4025"):
        raster_to_cells(r, counties=county, outside="drop")


def test_clip_window_that_misses_the_raster(tmp_path: Path) -> None:
    p = write_raster(tmp_path / "far.tif", np.ones((ROWS, COLS), "float32"), lon0=LON0 + 1.0)
    area = gpd.GeoSeries([triangle()], crs=4326)
    with pytest.raises(InputError, match=r"far.tif: clip area .* does not overlap the raster"):
        read_elder_raster(p, clip_to=area)


def test_cli_raster_outside_the_study_area_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    sc = own_data(tmp_path / "in")
    write_raster(tmp_path / "in" / "elders.tif", np.full((ROWS, COLS), 2.0, "float32"),
                 lon0=LON0 + 2.0, lat0=LAT0 + 1.0)
    err = run_refused(sc, tmp_path / "out", capsys)
    assert "elders.tif: does not overlap the study area" in err


def test_cli_nodata_inside_refused_then_masked_by_scenario_key(tmp_path, capsys) -> None:
    data = np.full((ROWS, COLS), 2.0, dtype="float32")
    data[1, 1] = -1
    sc = own_data(tmp_path / "in", raster=data)
    write_raster(tmp_path / "in" / "elders.tif", data, nodata=-1)
    err = run_refused(sc, tmp_path / "out", capsys)
    assert "elders.tif: band 1: 1 cell(s) inside the study area are nodata" in err
    assert "inputs.population.invalid: mask" in err
    text = sc.read_text(encoding="utf-8").replace("{raster: elders.tif}",
                                                  "{raster: elders.tif, invalid: mask}")
    sc.write_text(text, encoding="utf-8")
    from elder_coverage.cli import main

    assert main(["run", str(sc), "--out", str(tmp_path / "out")]) == 0
    import json

    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert s["elders_total"] == 2 * (ROWS * COLS - 1)
    assert any("1 nodata, NaN or negative cell(s) inside the study area excluded" in n
               for n in s["notes"])


def test_res_constant_matches_the_county(tmp_path: Path) -> None:
    # Guard for the helpers above: the county box is the raster extent exactly.
    c = read_boundaries(write_county(tmp_path / "c.geojson")).to_crs(4326).total_bounds
    assert c == pytest.approx([LON0, LAT0 - ROWS * RES, LON0 + COLS * RES, LAT0])
