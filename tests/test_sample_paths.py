"""Where built samples go: set_data_dir, then ELDER_COVERAGE_CACHE, then the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from elder_coverage._errors import InstallError, SettingsError
from elder_coverage.sample import paths
from elder_coverage.sample.build import sample_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _reset():
    yield
    paths.set_data_dir(None)


def test_checkout_default_is_data_processed(monkeypatch):
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    assert paths.checkout_root() == ROOT
    assert paths.data_dir_origin() == (ROOT / "data" / "processed",
                                       "the source checkout's data/processed")
    assert sample_dir() == ROOT / "data" / "processed" / "jilin_city_rural_250m"


def test_env_var_beats_checkout_and_set_data_dir_beats_both(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / "env"))
    assert paths.data_dir_origin() == (tmp_path / "env", "set by ELDER_COVERAGE_CACHE")
    assert sample_dir("province", 100) == tmp_path / "env" / "province_100m"
    assert paths.set_data_dir(tmp_path / "mine") == tmp_path / "mine"
    folder, rule = paths.data_dir_origin()
    assert folder == tmp_path / "mine" and "set_data_dir" in rule
    paths.set_data_dir(None)
    assert paths.data_dir() == tmp_path / "env"
    monkeypatch.setenv(paths.ENV_VAR, "  ")  # blank counts as unset
    assert paths.data_dir() == ROOT / "data" / "processed"


def test_relative_folders_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert paths.set_data_dir("samples") == tmp_path / "samples"
    paths.set_data_dir(None)
    monkeypatch.setenv(paths.ENV_VAR, "cache")
    assert paths.data_dir() == tmp_path / "cache"


def test_set_data_dir_refuses_a_file(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(SettingsError, match="not a folder"):
        paths.set_data_dir(f)
    assert paths.data_dir_origin()[1] != "set by elder_coverage.sample.paths.set_data_dir()"


def test_raw_file_names_the_packaged_sources():
    assert paths.raw_file("jilin_counties.geojson").stat().st_size > 100_000
    with pytest.raises(InstallError, match="jilin_townships.csv"):
        paths.raw_file("no_such.csv")
