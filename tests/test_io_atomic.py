"""Atomic writers: the target is replaced whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point

from elder_coverage.io import atomic_open, write_csv, write_geotiff, write_gpkg, write_json


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    p = tmp_path / "out.csv"
    write_csv(pd.DataFrame({"a": [1, 2]}), p)
    before = p.read_text()
    with pytest.raises(RuntimeError):
        with atomic_open(p) as fh:
            fh.write("half a fi")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == before == "a\n1\n2\n"
    assert leftovers(tmp_path) == []


def test_unserialisable_json_leaves_nothing(tmp_path: Path) -> None:
    p = tmp_path / "out.json"
    with pytest.raises(TypeError):
        write_json({"a": object()}, p)
    assert not p.exists() and leftovers(tmp_path) == []
    write_json({"名称": "敬老院", "n": np.int64(3), "v": np.array([1.5])}, p)
    assert json.loads(p.read_text(encoding="utf-8")) == {"名称": "敬老院", "n": 3, "v": [1.5]}
    assert "敬老院" in p.read_text(encoding="utf-8")


def test_gpkg_replaces_one_layer_and_keeps_others(tmp_path: Path) -> None:
    p = tmp_path / "study.gpkg"
    a = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(0, 0)], crs=32652)
    b = gpd.GeoDataFrame({"v": [2, 3]}, geometry=[Point(1, 1), Point(2, 2)], crs=32652)
    write_gpkg(a, p, layer="cells")
    write_gpkg(b, p, layer="sites")
    write_gpkg(b, p, layer="cells")
    layers = dict(pyogrio.list_layers(p))
    assert set(layers) == {"cells", "sites"}
    assert gpd.read_file(p, layer="cells")["v"].tolist() == [2, 3]
    assert leftovers(tmp_path) == []


def test_geotiff_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "elders.tif"
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = from_origin(126.45, 43.83, 0.01, 0.01)
    write_geotiff(data, p, transform=t, crs="EPSG:4326", nodata=-1.0)
    with rasterio.open(p) as src:
        np.testing.assert_array_equal(src.read(1), data)
        assert src.transform == t and src.crs.to_epsg() == 4326 and src.nodata == -1.0
    assert leftovers(tmp_path) == []


def test_atomic_dir_replaces_only_on_success(tmp_path):
    from elder_coverage.io.atomic import atomic_dir

    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (out / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("boom")
    # The earlier run is intact and no temporary folder is left.
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with atomic_dir(tmp_path / "fresh") as tmp:
        raise_later = tmp
    assert not raise_later.exists() and (tmp_path / "fresh").is_dir()
