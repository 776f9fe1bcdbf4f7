"""README documents every scenario key the validator accepts and every file a run writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box
from test_run_own_data import COLS, LAT0, LON0, RES, ROWS, _make_inputs

from elder_coverage.cli import main
from elder_coverage.scenario import scenario_keys

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    nxt = re.search(r"^#{2,4} ", text[start + len(heading):], flags=re.M)
    return text[start: start + len(heading) + (nxt.start() if nxt else len(text))]


def _table(heading: str) -> dict[str, str]:
    """First-column `name` → the whole row, for the table under a README heading."""
    rows = {}
    for line in _section(heading).splitlines():
        m = re.match(r"\| `([^`]+)` \|(.*)$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_every_validator_key_is_documented_and_nothing_else():
    documented = _table("#### Scenario keys")
    keys = scenario_keys()
    assert sorted(set(keys) - set(documented)) == [], "keys missing from README"
    assert sorted(set(documented) - set(keys)) == [], "README documents keys the validator rejects"
    for key, words in keys.items():
        for word in words or ():
            assert f"`{word}`" in documented[key], (key, word)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """A small own-data run with every analysis, so that every output file is written."""
    d = tmp_path_factory.mktemp("full")
    _make_inputs(d)
    with open(d / "facilities.csv", "a", encoding="utf-8") as fh:
        fh.write("F4,第二敬老院,乡镇敬老院,80,0.5,2015,是,126.46,43.85\n")
    half = LON0 + COLS * RES / 2
    gpd.GeoDataFrame({"code": ["220299100000", "220299001000"], "name": ["示例镇", "示例街道"]},
                     geometry=[box(LON0, LAT0 - ROWS * RES, half, LAT0),
                               box(half, LAT0 - ROWS * RES, LON0 + COLS * RES, LAT0)],
                     crs=4326).to_file(d / "towns.geojson", driver="GeoJSON")
    gpd.GeoDataFrame({"code": ["220299100201", "220299001001"], "name": ["甲村", "乙社区"],
                      "elders_60": [120, 80]},
                     geometry=[Point(126.42, 43.87), Point(126.46, 43.86)],
                     crs=4326).to_file(d / "villages.geojson", driver="GeoJSON")
    (d / "full.yaml").write_text(
        "name: full\nlang: en\nstudy_area: {boundary: county.geojson}\n"
        "inputs:\n  population: {worldpop_dir: worldpop}\n  facilities: facilities.csv\n"
        "  roads: roads.osm\n  townships: towns.geojson\n  villages: villages.geojson\n"
        "analyses:\n  coverage: {}\n"
        "  close_merge: {county: '220299', close: 1, coverage_target: 0.0}\n"
        "  new_sites: {kind: dining_hall, measure: elders, target: 0.9, max_new: 3}\n",
        encoding="utf-8")
    out = d / "out"
    assert main(["run", str(d / "full.yaml"), "--out", str(out)]) == 0
    return out


def test_every_file_a_run_writes_is_documented(full_run):
    documented = set(_table("### What a run folder holds"))
    written = {p.name for p in full_run.iterdir()}
    assert written == documented


def test_tables_name_kinds_places_and_open_in_excel(full_run):
    for csv in full_run.glob("*.csv"):
        # UTF-8 with a BOM: Excel on Chinese Windows would read plain UTF-8 as GBK.
        assert csv.read_bytes().startswith(b"\xef\xbb\xbf"), csv.name
    s = json.loads((full_run / "summary.json").read_text(encoding="utf-8"))
    gaps = pd.read_csv(full_run / "gaps.csv", dtype=str)
    assert set(gaps["kind"]) == {k for k, v in s["kinds"].items() if v["uncovered_elders"] > 0}
    assert set(gaps["name"]) <= {"甲村", "乙社区"} and "township_name" in gaps
    worst = pd.read_csv(full_run / "worst_served_townships.csv", dtype=str)
    assert set(worst["name"]) <= {"示例镇", "示例街道"} and worst["name"].notna().all()
    assert set(worst["county_name"]) == {"示例县"}
    lost = pd.read_csv(full_run / "lost_coverage.csv", dtype={"township_code": str})
    cm = s["analyses"]["close_merge"]
    assert lost["elders_60"].sum() == cm["elders_losing_coverage"] > 0
    assert {"township_name", "nearest_village_name", "lon", "lat"} <= set(lost.columns)
    # Coordinates keep 6 decimals (cell centres of the 0.005° grid end in 25 or 75).
    assert (lost["lon"] * 1e4 % 50).round(6).isin([25.0]).all()
    unreachable = pd.read_csv(full_run / "unreachable.csv")
    assert {"kind", "cell_id", "township_name", "nearest_village_code", "lon", "lat"} <= set(
        unreachable.columns)
