"""Hostile scenario files: each is refused before any work, in one line naming file and key.

Every case writes a scenario into a planner's folder and runs ``elder-coverage run`` on it,
then checks the exit status (2), that the message names the scenario file and the key,
that nothing of the planner's changed (content hashes) and that no output was started.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile import refused, user_tree

from elder_coverage._validate import check_number
from elder_coverage.scenario import parse_scenario

HEAD = "name: hostile\nanalyses: {coverage: {}}\n"
CLOSE = "name: hostile\nanalyses:\n  close_merge: {close: failing, %s}\n"
NEW = "name: hostile\nanalyses:\n  new_sites: {kind: dining_hall, %s}\n"

# case: (scenario text, texts the message must contain besides the file name)
CASES = {
    # Output names (issue 8 items 3 and 5).
    "map_is_dot": (HEAD + "outputs: {map: '.'}\n", ("outputs.map", "names a folder")),
    "map_is_summary": (HEAD + "outputs: {map: summary.json}\n", ("outputs.map", ".html")),
    "same_name_twice": (HEAD + "outputs: {map: out.html, report: out.html}\n",
                        ("outputs.report", "outputs.map", "overwrite")),
    "same_name_other_case": (HEAD + "outputs: {map: Out.HTML, report: out.html}\n",
                             ("outputs.report", "overwrite")),
    "output_inside_another": (HEAD + "outputs: {map: c.gpkg/map.html, geopackage: c.gpkg}\n",
                              ("outputs.map", "outputs.geopackage", "folder")),
    "output_inside_a_table": (HEAD + "outputs: {report: summary.json/report.html}\n",
                              ("outputs.report", "reserved")),
    "name_300_characters": (HEAD + "outputs: {report: %s.html}\n" % ("r" * 295),
                            ("outputs.report", "too long", "300 characters")),
    "name_100_chinese_characters": (HEAD + "outputs: {report: %s.html}\n" % ("报" * 100),
                                    ("outputs.report", "too long", "305 bytes")),
    "hidden_name": (HEAD + "outputs: {map: .elder-coverage-output.html}\n",
                    ("outputs.map", "hidden")),
    "trailing_slash": (HEAD + "outputs: {map: 'maps/'}\n", ("outputs.map", "names a folder")),
    "windows_reserved_character": (HEAD + "outputs: {map: 'a:b.html'}\n",
                                   ("outputs.map", "':'")),
    "geopackage_as_csv": (HEAD + "outputs: {geopackage: cells.csv}\n",
                          ("outputs.geopackage", ".gpkg")),
    # NaN and infinity (issue 8 item 4).
    "nan_coverage_target": (CLOSE % "coverage_target: .nan",
                            ("analyses.close_merge.coverage_target", "finite", "nan")),
    "inf_max_distance": (CLOSE % "max_distance_km: .inf",
                         ("analyses.close_merge.max_distance_km", "finite", "inf")),
    "minus_inf_min_occupancy": (CLOSE % "min_occupancy: -.inf",
                                ("analyses.close_merge.min_occupancy", "finite")),
    "nan_time_limit": (NEW % "time_limit_s: .NaN", ("analyses.new_sites.time_limit_s", "finite")),
    "nan_new_sites_target": (NEW % "target: .nan", ("analyses.new_sites.target", "finite")),
    "nan_in_standards": (HEAD + "standards: {dining_hall: {minutes: .nan}}\n",
                         ("standards.dining_hall.minutes", "finite")),
    # Structure and encoding (issue 8 item 5).
    "deeply_nested": (HEAD + "standards: " + "[" * 5000 + "]" * 5000 + "\n",
                      ("nested too deeply",)),
    "county_empty_list": (CLOSE % "county: []", ("analyses.close_merge.county", "one county")),
    "population_invalid_unknown": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif, invalid: ignore}\n  facilities: facilities.csv\n"
        "  roads: straight_line\nanalyses: {coverage: {}}\n",
        ("inputs.population.invalid", "raise, mask")),
    "population_outside_unknown": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif, outside: keep}\n  facilities: facilities.csv\n"
        "  roads: straight_line\nanalyses: {coverage: {}}\n",
        ("inputs.population.outside", "raise, drop")),
    "source_crs_unknown": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {table: facilities.csv, column: n, source_crs: 'EPSG:99999999'}\n"
        "  facilities: facilities.csv\n  roads: straight_line\nanalyses: {coverage: {}}\n",
        ("inputs.population.source_crs", "coordinate reference system")),
    "source_crs_on_a_raster": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif, source_crs: 'EPSG:4326'}\n"
        "  facilities: facilities.csv\n  roads: straight_line\nanalyses: {coverage: {}}\n",
        ("inputs.population.source_crs", "only for a table")),
    "courtyards_at_township_seats": (NEW.replace("dining_hall", "rural_courtyard")
                                     % "candidates: seats",
                                     ("analyses.new_sites.candidates", "villages or both")),
    "township_measure_without_townships": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif}\n  facilities: facilities.csv\n"
        "  roads: straight_line\nanalyses:\n"
        "  new_sites: {kind: dining_hall, measure: townships}\n",
        ("analyses.new_sites.measure", "needs inputs.townships")),
    "new_sites_without_candidates": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif}\n  facilities: facilities.csv\n"
        "  roads: straight_line\nanalyses:\n  new_sites: {kind: dining_hall}\n",
        ("analyses.new_sites.candidates", "inputs.townships", "inputs.villages")),
    "facilities_source_crs_unknown": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif}\n"
        "  facilities: {path: facilities.csv, source_crs: 'CGCS2000 please'}\n"
        "  roads: straight_line\nanalyses: {coverage: {}}\n",
        ("inputs.facilities.source_crs", "coordinate reference system")),
    "facilities_mapping_misspelt": (
        "name: x\nstudy_area: {boundary: county.geojson}\ninputs:\n"
        "  population: {raster: elders.tif}\n  facilities: {paht: facilities.csv}\n"
        "  roads: straight_line\nanalyses: {coverage: {}}\n",
        ("inputs.facilities.paht", "did you mean 'path'")),
}


@pytest.fixture
def user(tmp_path: Path) -> Path:
    root = user_tree(tmp_path / "user")
    # Stand-ins for the planner's data: validation must stop before reading them.
    (root / "county.geojson").write_text('{"type": "FeatureCollection", "features": []}',
                                         encoding="utf-8")
    (root / "elders.tif").write_bytes(b"II*\x00")
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_scenario_is_refused_before_any_work(case, user, tmp_path, capsys):
    text, expect = CASES[case]
    scenario = user / f"{case}.yaml"
    scenario.write_text(text, encoding="utf-8")
    refused(capsys, tmp_path, "run", scenario, "--out", tmp_path / "out",
            expect=(str(scenario), *expect))


def test_county_not_in_the_sample_names_the_key(user, tmp_path, capsys, sample_path):
    # Only the data can say a county is unknown; the message still names the key.
    scenario = user / "county.yaml"
    scenario.write_text("name: x\nstudy_area: {sample: jilin_city_rural, counties: [长春市]}\n"
                        "inputs: {roads: straight_line}\nanalyses: {coverage: {}}\n",
                        encoding="utf-8")
    refused(capsys, tmp_path, "run", scenario, "--out", tmp_path / "out",
            expect=(str(scenario), "study_area.counties", "长春市", "not in the study area"))


def test_gbk_encoded_scenario(user, tmp_path, capsys):
    scenario = user / "gbk.yaml"
    scenario.write_bytes("name: 舒兰敬老院撤并\nanalyses: {coverage: {}}\n".encode("gbk"))
    refused(capsys, tmp_path, "run", scenario, "--out", tmp_path / "out",
            expect=(str(scenario), "line 1", "not UTF-8", "GBK", "save the file as UTF-8"))


def test_utf8_with_byte_order_mark_is_fine():
    import yaml

    from elder_coverage.scenario import _decode

    text = _decode(Path("s.yaml"), "\ufeffname: 舒兰\n".encode())
    assert yaml.safe_load(text) == {"name": "舒兰"}


def test_scenario_that_is_a_folder(user, tmp_path, capsys):
    refused(capsys, tmp_path, "run", user / "notes", "--out", tmp_path / "out",
            expect=(str(user / "notes"), "is a folder"))


def test_oversized_scenario_file(user, tmp_path, capsys):
    scenario = user / "huge.yaml"
    scenario.write_text(HEAD + "# " + "x" * 1_100_000 + "\n", encoding="utf-8")
    refused(capsys, tmp_path, "run", scenario, "--out", tmp_path / "out",
            expect=(str(scenario), "too large"))


def test_yaml_alias_bomb_is_refused_quickly(user, tmp_path, capsys):
    # "Billion laughs": nine levels of nine aliases would be 387 million entries if expanded.
    lines = ["name: x", "analyses: {coverage: {}}", "standards:", "  l0: &l0 [.nan]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    scenario = user / "bomb.yaml"
    scenario.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused(capsys, tmp_path, "run", scenario, "--out", tmp_path / "out",
            expect=(str(scenario), "standards.l"))


# --- the scenario keys that replace library options ----------------------------------------

def test_population_options_are_accepted_and_kept(tmp_path):
    (tmp_path / "county.geojson").write_text("{}", encoding="utf-8")
    (tmp_path / "elders.csv").write_text("x,y,n\n", encoding="utf-8")
    sc = parse_scenario({
        "name": "own", "study_area": {"boundary": "county.geojson"},
        "inputs": {"population": {"table": "elders.csv", "column": "n", "invalid": "mask",
                                  "outside": "drop", "source_crs": "EPSG:4547"},
                   "facilities": "elders.csv", "roads": "straight_line"},
        "analyses": {"coverage": {}}}, source=tmp_path / "s.yaml")
    assert sc.population == {"table": (tmp_path / "elders.csv").resolve(), "column": "n",
                             "invalid": "mask", "outside": "drop", "source_crs": "EPSG:4547"}


def _stop_at(monkeypatch, module, name: str) -> dict:
    """Replace a reader by one that records its keyword arguments and stops the load."""
    seen: dict = {}

    def fake(path, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(module, name, fake)
    return seen


def test_source_crs_of_file_inputs_is_accepted_and_reaches_the_readers(tmp_path, monkeypatch):
    from elder_coverage import study

    for name in ("county.shp", "facilities.csv", "towns.shp", "villages.shp", "e.tif"):
        (tmp_path / name).write_bytes(b"x")
    sc = parse_scenario({
        "name": "own",
        "study_area": {"boundary": {"path": "county.shp", "source_crs": "EPSG:4490"}},
        "inputs": {"population": {"raster": "e.tif"}, "roads": "straight_line",
                   "facilities": {"path": "facilities.csv", "source_crs": 4547},
                   "townships": {"path": "towns.shp"},
                   "villages": {"path": "villages.shp", "source_crs": "EPSG:4490"}},
        "analyses": {"coverage": {}}}, source=tmp_path / "s.yaml")
    crs = {k: v["source_crs"] for k, v in sc.read_options.items() if "source_crs" in v}
    assert crs == {"boundary": "EPSG:4490", "facilities": "4547", "villages": "EPSG:4490"}
    assert sc.townships == (tmp_path / "towns.shp").resolve()
    seen = _stop_at(monkeypatch, study, "read_boundaries")
    with pytest.raises(RuntimeError, match="stop here"):
        from elder_coverage.stages import load_study

        load_study(sc)
    assert seen["source_crs"] == "EPSG:4490"


def test_population_options_reach_the_readers(tmp_path, monkeypatch):
    import geopandas as gpd
    from shapely.geometry import box

    from elder_coverage import study

    gpd.GeoDataFrame({"code": ["220299"], "name": ["示例县"]}, geometry=[box(126, 43, 127, 44)],
                     crs=4326).to_file(tmp_path / "county.geojson", driver="GeoJSON")
    seen = _stop_at(monkeypatch, study, "read_elder_table")
    with pytest.raises(RuntimeError, match="stop here"):
        study.load_user_data(tmp_path / "county.geojson",
                             {"table": tmp_path / "e.csv", "column": "n", "invalid": "mask",
                              "outside": "drop", "source_crs": "EPSG:4547"},
                             tmp_path / "f.csv")
    assert (seen["invalid"], seen["outside"], seen["source_crs"]) == ("mask", "drop",
                                                                      "EPSG:4547")


# --- the one number check ---------------------------------------------------------------

@pytest.mark.parametrize(("value", "kwargs", "problem"), [
    (0.5, {"lo": 0, "hi": 1}, None),
    (1, {"lo": 0, "hi": 1}, None),
    (float("nan"), {"lo": 0, "hi": 1}, "must be a finite number, got nan"),
    (float("-inf"), {}, "must be a finite number, got -inf"),
    (True, {}, "must be a number, got bool True"),
    ("0.5", {}, "must be a number, got str '0.5'"),
    (2.5, {"integer": True}, "must be an integer, got float 2.5"),
    (1.5, {"lo": 0, "hi": 1}, "must be between 0 and 1, got 1.5"),
    (0, {"lo": 0, "lo_open": True}, "must be > 0, got 0"),
    (0, {"lo": 0, "hi": 10, "lo_open": True}, "must be between 0 (excluded) and 10, got 0"),
    (-1, {"lo": 0}, "must be ≥ 0, got -1"),
    (11, {"hi": 10}, "must be ≤ 10, got 11"),
])
def test_check_number(value, kwargs, problem):
    assert check_number(value, **kwargs) == problem
