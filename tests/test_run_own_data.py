"""A scenario on a planner's own files (no sample): WorldPop folder, facility CSV, OSM roads."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from elder_coverage.cli import main

LON0, LAT0, RES, ROWS, COLS = 126.40, 43.90, 0.005, 12, 16


def _make_inputs(folder):
    rng = np.random.default_rng(1)
    wp = folder / "worldpop"
    wp.mkdir()
    total60 = 0.0
    for sex in "fm":
        for age in (55, 60, 65, 70, 75, 80):
            band = rng.poisson(3.0, (ROWS, COLS)).astype("float32")
            total60 += band.sum() if age >= 60 else 0.0
            with rasterio.open(wp / f"chn_{sex}_{age}_2020.tif", "w", driver="GTiff",
                               height=ROWS, width=COLS, count=1, dtype="float32",
                               crs="EPSG:4326", transform=from_origin(LON0, LAT0, RES, RES),
                               nodata=-99999) as dst:
                dst.write(band, 1)
    gpd.GeoDataFrame({"code": ["220299"], "name": ["示例县"]},
                     geometry=[box(LON0, LAT0 - ROWS * RES, LON0 + COLS * RES, LAT0)],
                     crs=4326).to_file(folder / "county.geojson", driver="GeoJSON")
    (folder / "facilities.csv").write_text(
        "编号,名称,类型,床位数,入住率,建成年份,消防合格,经度,纬度\n"
        "F1,示例敬老院,乡镇敬老院,60,0.5,1990,否,126.43,43.87\n"
        "F2,示例助老餐厅,助老餐厅,40,,2021,是,126.45,43.88\n"
        "F3,示例养老大院,农村养老大院,20,,2019,是,126.47,43.86\n", encoding="utf-8")
    nodes, ways, ids = [], [], {}
    for i in range(7):
        for j in range(9):
            ids[i, j] = len(ids) + 1
            nodes.append(f'<node id="{ids[i, j]}" lat="{LAT0 - 0.005 - i * 0.008:.6f}" '
                         f'lon="{LON0 + 0.004 + j * 0.009:.6f}"/>')
    for i in range(7):
        refs = "".join(f'<nd ref="{ids[i, j]}"/>' for j in range(9))
        ways.append(f'<way id="{len(ways) + 1}">{refs}<tag k="highway" v="residential"/></way>')
    for j in range(9):
        refs = "".join(f'<nd ref="{ids[i, j]}"/>' for i in range(7))
        ways.append(f'<way id="{len(ways) + 1}">{refs}<tag k="highway" v="tertiary"/></way>')
    (folder / "roads.osm").write_text('<?xml version="1.0"?><osm version="0.6">'
                                      + "".join(nodes + ways) + "</osm>", encoding="utf-8")
    (folder / "scenario.yaml").write_text(
        "name: own-data\nlang: en\nstudy_area: {boundary: county.geojson}\n"
        "inputs:\n  population: {worldpop_dir: worldpop}\n  facilities: facilities.csv\n"
        "  roads: roads.osm\nanalyses: {coverage: {}}\n", encoding="utf-8")
    return total60


def test_scenario_on_own_files(tmp_path):
    total60 = _make_inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "scenario.yaml"), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # Every WorldPop elder of the 60+ bands is counted once (the boundary is the raster extent).
    assert s["elders_total"] == round(total60)
    assert s["synthetic"] is False
    assert s["kinds"]["dining_hall"]["network"] is True
    fac = pd.read_csv(out / "facilities.csv")
    assert sorted(fac["kind"]) == ["dining_hall", "rural_courtyard", "township_centre"]
    assert (out / "map.html").stat().st_size > 0 and (out / "report.html").stat().st_size > 0
    # No township layer was given: those indicators say so instead of inventing a value.
    town = [i for i in s["indicators"] if i["indicator"] == "township_dining_hall"]
    assert town and town[0]["value"] is None and "no township layer" in town[0]["note"]
    nursing = [i for i in s["indicators"] if i["indicator"] == "nursing_bed_share"]
    assert nursing[0]["value"] is None and "no nursing_beds" in nursing[0]["note"]


def test_scenario_with_a_township_layer(tmp_path):
    _make_inputs(tmp_path)
    half = LON0 + COLS * RES / 2
    gpd.GeoDataFrame({"code": ["220299100000", "220299001000"], "name": ["示例镇", "示例街道"]},
                     geometry=[box(LON0, LAT0 - ROWS * RES, half, LAT0),
                               box(half, LAT0 - ROWS * RES, LON0 + COLS * RES, LAT0)],
                     crs=4326).to_file(tmp_path / "towns.geojson", driver="GeoJSON")
    text = (tmp_path / "scenario.yaml").read_text(encoding="utf-8")
    (tmp_path / "scenario.yaml").write_text(
        text.replace("  roads: roads.osm\n", "  roads: roads.osm\n  townships: towns.geojson\n"),
        encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "scenario.yaml"), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = {(i["indicator"], i["year"]): i for i in s["indicators"]}
    assert rows[("township_dining_hall", 2025)]["denominator"] == 1
    assert rows[("urban_community_dining_hall", 2025)]["denominator"] == 1
    towns = pd.read_csv(out / "coverage_by_township.csv", dtype={"code": str})
    assert set(towns["code"]) == {"220299100000", "220299001000"}
    assert towns["elders_60"].sum() == s["elders_total"]
