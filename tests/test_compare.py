"""compare: run records, refusal of unlike study areas, differences stated first."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.affinity import translate
from test_run_own_data import _make_inputs

from elder_coverage.cli import main
from elder_coverage.compare import IncomparableRunsError, compare_runs, format_comparison
from elder_coverage.gcj02 import wgs84_to_gcj02

SCENARIO = ("name: {name}\nlang: en\nstudy_area: {{boundary: {boundary}}}\n"
            "inputs:\n  population: {{worldpop_dir: worldpop}}\n  facilities: {facilities}\n"
            "  roads: roads.osm\n{extra}analyses: {{coverage: {{}}}}\n")


def _scenario(folder, name, *, boundary="county.geojson", facilities="facilities.csv",
              extra=""):
    path = folder / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, boundary=boundary, facilities=facilities,
                                    extra=extra), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Small own-data runs: a base, one with a 10-minute dining-hall standard and a different
    facility list, and one over another county (same rasters, so the cells overlap)."""
    d = tmp_path_factory.mktemp("cmp")
    _make_inputs(d)
    county = gpd.read_file(d / "county.geojson")
    # Another county: the eastern half of the raster, with its own code and name.
    other = county.assign(code=["220300"], name=["另一县"])
    other["geometry"] = other.geometry.intersection(translate(county.union_all(), xoff=0.04))
    other.to_file(d / "other.geojson", driver="GeoJSON")
    fac = (d / "facilities.csv").read_text(encoding="utf-8")
    (d / "facilities_b.csv").write_text(fac.replace("F3,示例养老大院,农村养老大院,20",
                                                    "F3,示例养老大院,农村养老大院,25"),
                                        encoding="utf-8")
    # The same list as Amap would give it: every lon/lat shifted to GCJ-02.
    table = pd.read_csv(d / "facilities.csv", dtype=str)
    glon, glat = wgs84_to_gcj02(table["经度"].astype(float), table["纬度"].astype(float))
    table.assign(经度=glon, 纬度=glat).to_csv(d / "facilities_gcj.csv", index=False)
    (d / "facilities_c.csv").write_text(
        "编号,名称,类型,床位数,经度,纬度\nF2,示例助老餐厅,助老餐厅,40,126.45,43.88\n",
        encoding="utf-8")
    out = {}
    for name, kwargs in {
        "base": {},
        "strict": {"facilities": "facilities_b.csv",
                   "extra": "standards: {dining_hall: {minutes: 10}}\n"},
        "other_area": {"boundary": "other.geojson", "facilities": "facilities_c.csv"},
        "amap": {"facilities": "{path: facilities_gcj.csv, coordinates: gcj02}"},
    }.items():
        out[name] = d / "out" / name
        assert main(["run", str(_scenario(d, name, **kwargs)), "--out", str(out[name])]) == 0
    return out


def test_run_folder_records_scenario_standards_area_and_fingerprints(runs):
    folder = runs["strict"]
    s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    rec = s["run_record"]
    assert (folder / "scenario.yaml").read_text(encoding="utf-8").startswith("name: strict")
    assert rec["scenario_file"]["path"].endswith("strict.yaml")
    assert rec["standards"]["kinds"]["dining_hall"]["minutes"] == 10
    assert rec["standards"]["kinds"]["rural_courtyard"]["minutes"] == 15
    assert rec["study_area"]["counties"] == ["220299"]
    assert rec["study_area"]["boundary"].endswith("county.geojson")
    assert rec["inputs"]["facilities"]["coordinates"] == "wgs84"
    assert len(rec["inputs"]["facilities"]["sha256"]) == 64
    assert set(rec["inputs"]) == {"population", "facilities", "roads"}


def test_like_runs_list_standard_and_input_changes_first(runs, capsys):
    result = compare_runs(runs["base"], runs["strict"])
    d = result["differences"]
    assert d["study_area"] == [] and d["unrecorded"] == []
    assert [(x["key"], x["a"], x["b"]) for x in d["standards"]] == [
        ("kinds.dining_hall.minutes", 15.0, 10.0)]
    keys = {x["key"] for x in d["inputs"]}
    # The facility list changed (one capacity), the population and roads did not.
    assert "facilities.sha256" in keys and not any(k.startswith("population") for k in keys)
    assert "scenario_file" in keys
    text = format_comparison(result, lang="en")
    head = text.split("Indicators:")[0]
    assert "standards: kinds.dining_hall.minutes: 15.000 → 10.000" in head
    assert "inputs: facilities.sha256" in head
    assert main(["compare", str(runs["base"]), str(runs["strict"]), "--lang", "zh"]) == 0
    assert "服务标准: kinds.dining_hall.minutes" in capsys.readouterr().out


def test_identical_runs_say_so(runs):
    result = compare_runs(runs["base"], runs["base"])
    assert all(not v for v in result["differences"].values())
    assert "same study area, standards and inputs." in format_comparison(result, lang="en")


def test_unlike_study_areas_are_refused_unless_forced(runs, capsys):
    with pytest.raises(IncomparableRunsError) as err:
        compare_runs(runs["base"], runs["other_area"])
    keys = {d["key"] for d in err.value.differences}
    assert {"counties", "sha256"} <= keys
    assert main(["compare", str(runs["base"]), str(runs["other_area"])]) == 2
    msg = capsys.readouterr().err
    assert "different study areas" in msg and "counties: ['220299'] → ['220300']" in msg
    assert main(["compare", str(runs["base"]), str(runs["other_area"]), "--force",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["differences"]["study_area"]


def test_old_run_without_record_is_compared_with_a_warning(runs, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(runs["base"], old)
    s = json.loads((old / "summary.json").read_text(encoding="utf-8"))
    del s["run_record"]
    (old / "summary.json").write_text(json.dumps(s, ensure_ascii=False), encoding="utf-8")
    result = compare_runs(old, runs["base"])
    assert result["differences"]["unrecorded"] == [
        {"section": "record", "key": "run_record", "a": "a", "b": None}]
    assert "written before run records" in format_comparison(result, lang="en")


def test_gcj02_list_is_noted_and_covers_as_the_wgs84_list(runs):
    s = json.loads((runs["amap"] / "summary.json").read_text(encoding="utf-8"))
    assert "facilities: coordinates converted from GCJ-02 (Amap/Tencent 高德/腾讯) to WGS84" \
        in s["notes"]
    assert s["run_record"]["inputs"]["facilities"]["coordinates"] == "gcj02"
    result = compare_runs(runs["base"], runs["amap"])
    keys = {(d["key"], d["a"], d["b"]) for d in result["differences"]["inputs"]}
    assert ("facilities.coordinates", "wgs84", "gcj02") in keys
    assert result["differences"]["standards"] == []
    for kind, c in result["coverage"].items():
        assert c["covered_a"] == c["covered_b"] and c["gained"] == c["lost"] == 0, kind
    fa = pd.read_csv(runs["base"] / "facilities.csv", encoding="utf-8-sig")
    fb = pd.read_csv(runs["amap"] / "facilities.csv", encoding="utf-8-sig")
    assert (fa[["lon", "lat"]] - fb[["lon", "lat"]]).abs().max().max() < 1e-6
