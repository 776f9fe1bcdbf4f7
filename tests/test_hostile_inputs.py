"""Messages that suggest an option name the scenario key that sets it, and such keys exist
(issue 8 item 5); bad values of those keys are refused naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hostile import (
    FACILITIES_CSV,
    no_stray_files,  # noqa: F401 (autouse: no stray files)
    write_county,
)

import elder_coverage.io as cio
from elder_coverage.scenario import ScenarioError, parse_scenario

IO_DIR = Path(cio.__file__).parent


def _sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(IO_DIR.glob("*.py")))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_county(tmp_path / "c.geojson")
    (tmp_path / "f.csv").write_text(FACILITIES_CSV, encoding="utf-8")
    (tmp_path / "wp").mkdir()
    return tmp_path


def base(**inputs) -> dict:
    return {"name": "x", "study_area": {"boundary": "c.geojson"},
            "inputs": {"population": {"table": "f.csv", "column": "床位数"},
                       "facilities": "f.csv", "roads": "straight_line", **inputs},
            "analyses": {"coverage": {}}}


def test_every_population_key_named_in_a_message_exists(folder: Path) -> None:
    keys = set(re.findall(r"inputs\.population\.(\w+)", _sources()))
    assert {"invalid", "outside", "iso", "year", "column"} <= keys
    values = {"invalid": "mask", "outside": "drop", "iso": "chn", "year": 2020,
              "column": "床位数"}
    pop = {"table": "f.csv", **{k: values[k] for k in keys}}
    sc = parse_scenario(base(population=pop), source=folder / "s.yaml")
    assert {k: sc.population[k] for k in keys} == {k: values[k] for k in keys}


def test_every_file_option_named_in_a_message_exists(folder: Path) -> None:
    # Messages show e.g. "facilities: {path: sites.csv, source_crs: 'EPSG:32652'}".
    named = re.findall(r"(\w+): \{path: [\w.]+, (\w+): ", _sources())
    assert {k for _, k in named} >= {"source_crs", "layer", "encoding", "code_column"}
    values = {"source_crs": "EPSG:4326", "layer": "towns", "encoding": "GBK",
              "code_column": "code"}
    for where, key in named:
        entry = {"path": "c.geojson", key: values[key]}
        if where == "boundary":
            raw = base()
            raw["study_area"] = {"boundary": entry}
        else:
            raw = base(**{where: entry})
        sc = parse_scenario(raw, source=folder / "s.yaml")
        assert sc.read_options[where] == {key: values[key]}


@pytest.mark.parametrize(("patch", "message"), [
    ({"population": {"table": "f.csv", "column": "床位数", "invalid": "skip"}},
     r"inputs.population.invalid: must be one of raise, mask, got 'skip'"),
    ({"population": {"table": "f.csv", "column": "床位数", "outside": True}},
     r"inputs.population.outside: must be one of raise, drop, got True"),
    ({"facilities": {"path": "f.csv", "source_crs": "WGS 84 please"}},
     r"inputs.facilities.source_crs: not a coordinate reference system pyproj knows"),
    ({"facilities": {"path": "f.csv", "code_column": "x"}},
     r"inputs.facilities.code_column: unknown key"),
    ({"facilities": {"layer": "x"}}, r"inputs.facilities.path: required"),
    ({"facilities": {"path": "missing.csv"}}, r"inputs.facilities.path: file not found"),
    ({"seats": "f.csv"}, r"inputs.seats: needs inputs.townships"),
])
def test_bad_values_of_the_new_keys_name_the_key(folder: Path, patch: dict,
                                                  message: str) -> None:
    with pytest.raises(ScenarioError, match=rf"s.yaml: {message}"):
        parse_scenario(base(**patch), source=folder / "s.yaml")


def test_code_column_reaches_the_boundary_reader(folder: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame({"QHDM": ["220299"], "QHMC": ["示例县"]},
                     geometry=[box(126.4, 43.86, 126.45, 43.9)], crs=4326).to_file(
        folder / "odd.geojson")
    with pytest.raises(cio.InputError, match=r"odd.geojson: no code column .*code_column"):
        cio.read_boundaries(folder / "odd.geojson")
    raw = base()
    raw["study_area"] = {"boundary": {"path": "odd.geojson", "code_column": "QHDM",
                                      "name_column": "QHMC"}}
    sc = parse_scenario(raw, source=folder / "s.yaml")
    b = cio.read_boundaries(sc.boundary, **sc.read_options["boundary"])
    assert b[["code", "name"]].values.tolist() == [["220299", "示例县"]]
