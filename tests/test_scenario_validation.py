"""Bad scenario files: each gives a clear message naming the file and the key."""

import pytest

from elder_coverage.scenario import ScenarioError, load_scenario, parse_scenario


def _write(tmp_path, text):
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path, text) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert str(path) in msg
    return msg


def test_minimal_scenario_defaults():
    sc = parse_scenario({"name": "baseline", "analyses": {"coverage": {}}})
    assert sc.sample == "jilin_city_rural" and sc.lang == "zh"
    assert sc.outputs == {"map": "map.html", "report": "report.html", "geopackage": "cells.gpkg"}


def test_unknown_key_names_it_and_suggests(tmp_path):
    msg = _error(tmp_path, "name: a\nanalyses:\n  coverge: {}\n")
    assert "analyses.coverge" in msg and "did you mean 'coverage'" in msg


def test_unknown_top_level_key(tmp_path):
    msg = _error(tmp_path, "name: a\nanalyses: {coverage: {}}\noutput: {map: m.html}\n")
    assert "output: unknown key" in msg and "outputs" in msg


def test_wrong_type(tmp_path):
    msg = _error(tmp_path, "name: a\nanalyses:\n  new_sites: {kind: dining_hall, max_new: ten}\n")
    assert "analyses.new_sites.max_new" in msg and "must be an integer" in msg


def test_missing_file(tmp_path):
    msg = _error(tmp_path, "name: a\ninputs: {facilities: nowhere.csv}\nanalyses: {coverage: {}}\n")
    assert "inputs.facilities" in msg and "file not found" in msg and "nowhere.csv" in msg


def test_target_out_of_range(tmp_path):
    msg = _error(tmp_path, "name: a\nanalyses:\n  new_sites: {kind: dining_hall, target: 1.5}\n")
    assert "analyses.new_sites.target" in msg and "between 0 and 1" in msg


@pytest.mark.parametrize("bad", ["../escape.html", "/tmp/abs.html", "sub/../../x.html"])
def test_output_path_escaping_the_folder(tmp_path, bad):
    msg = _error(tmp_path, f"name: a\nanalyses: {{coverage: {{}}}}\noutputs: {{map: '{bad}'}}\n")
    assert "outputs.map" in msg and "inside the output folder" in msg


def test_unknown_kind_in_standards(tmp_path):
    text = "name: a\nstandards: {canteen: {minutes: 10}}\nanalyses: {coverage: {}}\n"
    msg = _error(tmp_path, text)
    assert "standards" in msg and "canteen" in msg


def test_yaml_with_python_tags_is_not_executed(tmp_path):
    msg = _error(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    assert "not valid YAML" in msg


def test_no_analyses(tmp_path):
    msg = _error(tmp_path, "name: a\n")
    assert "analyses" in msg and "at least one" in msg


def test_relative_input_paths_resolve_against_the_file(tmp_path):
    (tmp_path / "fac.csv").write_text("id,name,kind,capacity,lon,lat\n")
    sc = load_scenario(_write(tmp_path, "name: a\ninputs: {facilities: fac.csv}\n"
                                        "analyses: {coverage: {}}\n"))
    assert sc.facilities == (tmp_path / "fac.csv").resolve()
