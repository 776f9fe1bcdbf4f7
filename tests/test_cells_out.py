"""A run's cells are stored once: one layer, after-values, ``_before`` only where changed."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from elder_coverage.compare import _read_run
from elder_coverage.io.cells_out import cells_for_output, read_cells, write_cells


def _cells(covered):
    return gpd.GeoDataFrame({
        "cell_id": [7, 8, 9],
        "elders_60": [5.0, 3.0, 0.0],
        "county_code": ["220283"] * 3,
        "dining_hall_nearest_id": ["DI1", "DI1", None],
        "dining_hall_dist_m": [573.610914321, 9208.96266, np.nan],
        "dining_hall_covered": covered,
        "dining_hall_reachable": pd.array([True, False, pd.NA], dtype="boolean"),
    }, geometry=[Point(357375, 4945125), Point(357625, 4945125), Point(356375, 4944875)],
        crs=32652)


@pytest.mark.parametrize("name", ["cells.gpkg", "cells.parquet"])
def test_coverage_only_run_writes_each_cell_once_with_exact_values(tmp_path, name):
    cells = _cells([True, False, False])
    path = write_cells(tmp_path / name, cells, cells)
    if name.endswith(".gpkg"):
        assert [str(n) for n, _ in pyogrio.list_layers(path)] == ["cells"]
    back = read_cells(path, geometry=True)
    assert list(back.columns[:-1]) == list(cells.columns[:-1])
    assert back["elders_60"].tolist() == [5, 3, 0]  # whole persons written as integers
    assert back["dining_hall_dist_m"].iloc[:2].tolist() == [573.610914321, 9208.96266]
    assert pd.isna(back["dining_hall_dist_m"].iloc[2])
    assert back["dining_hall_covered"].astype(bool).tolist() == [True, False, False]
    # NA stays missing, False is false (not the text 'False').
    reach = back["dining_hall_reachable"]
    assert bool(reach.iloc[0]) and not bool(reach.iloc[1]) and pd.isna(reach.iloc[2])
    assert back.geometry.x.tolist() == [357375, 357625, 356375]


def test_changed_columns_only_get_a_before_column(tmp_path):
    before = _cells([True, False, False])
    after = _cells([True, True, False]).assign(dining_hall_places_per_1000=[1.5, 0.25, 0.0])
    frame = cells_for_output(before, after)
    assert [c for c in frame.columns if c.endswith("_before")] == ["dining_hall_covered_before"]
    assert list(frame.columns).index("dining_hall_covered_before") == \
        list(frame.columns).index("dining_hall_covered") + 1
    write_cells(tmp_path / "cells.gpkg", before, after)
    back = read_cells(tmp_path / "cells.gpkg")
    assert back["dining_hall_covered"].tolist() == [True, True, False]
    assert back["dining_hall_covered_before"].tolist() == [True, False, False]
    assert back["dining_hall_places_per_1000"].tolist() == [1.5, 0.25, 0.0]


def test_compare_reads_parquet_and_old_two_layer_files(tmp_path):
    (tmp_path / "facilities.csv").write_text("id,status\nF1,open\n", encoding="utf-8")
    # An old run folder: cells before in layer 'cells', after in 'cells_final'.
    (tmp_path / "summary.json").write_text('{"scenario": "old"}', encoding="utf-8")
    _cells([False, False, False]).to_file(tmp_path / "cells.gpkg", layer="cells")
    _cells([True, True, False]).to_file(tmp_path / "cells.gpkg", layer="cells_final")
    assert _read_run(tmp_path)[2]["dining_hall_covered"].tolist() == [True, True, False]
    (tmp_path / "summary.json").write_text('{"scenario": "new", "outputs": '
                                           '{"geopackage": "c.parquet"}}', encoding="utf-8")
    write_cells(tmp_path / "c.parquet", None, _cells([False, True, False]))
    assert _read_run(tmp_path)[2]["dining_hall_covered"].tolist() == [False, True, False]


def _every_column_type(n=40):
    rng = np.random.default_rng(n)
    missing = rng.random(n) < 0.2
    dist = rng.uniform(0, 5000, n)
    dist[missing] = np.nan
    return gpd.GeoDataFrame({
        "cell_id": np.arange(n, dtype=np.int64) * 3,
        "elders_60": rng.integers(0, 50, n).astype(float),  # whole: compacted to int32
        "share": rng.random(n),
        "dining_hall_dist_m": dist,
        "dining_hall_covered": rng.random(n) < 0.5,
        "dining_hall_n_within": pd.array(np.where(missing, None, rng.integers(0, 4, n)),
                                         dtype="Int32"),
        "dining_hall_reachable": pd.array(np.where(missing, None, rng.random(n) < 0.5),
                                          dtype="boolean"),
        "county_code": pd.array(np.where(missing, None, "220283"), dtype="string[pyarrow]"),
        "township_code": pd.array(["220283101"] * n, dtype="str"),
        "dining_hall_nearest_id": np.where(missing, None, "DI1").astype(object),
        "embedded_centre_nearest_id": np.full(n, None, dtype=object),
        "name": ["一村"] * n,
    }, geometry=gpd.points_from_xy(357000 + rng.uniform(-1e4, 1e4, n),
                                   4945000 + rng.uniform(-1e4, 1e4, n)), crs=32652)


def _pyogrio_file(path, before, after):
    """The cell file as written before the direct Arrow path: pyogrio's own conversion."""
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-11-01T00:00:00Z"})
    pyogrio.write_dataframe(cells_for_output(before, after), path, layer="cells",
                            driver="GPKG", use_arrow=True)
    return path.read_bytes()


def test_direct_arrow_geopackage_is_byte_identical_to_pyogrios(tmp_path, monkeypatch):
    cells = _every_column_type()
    after = cells.assign(dining_hall_covered=~cells["dining_hall_covered"])
    for before in (cells, None):
        want = _pyogrio_file(tmp_path / "want.gpkg", before, after)
        with monkeypatch.context() as m:
            # The direct path must be the one taken for these columns.
            m.setattr(pyogrio, "write_dataframe", lambda *a, **k: pytest.fail("not direct"))
            got = write_cells(tmp_path / "got.gpkg", before, after).read_bytes()
        assert got == want
        (tmp_path / "want.gpkg").unlink()


@pytest.mark.parametrize("change", ["datetime", "categorical", "multipoint", "empty_point",
                                    "z_point", "no_crs"])
def test_other_columns_and_geometries_give_the_same_file_too(tmp_path, change):
    from shapely.geometry import MultiPoint

    cells = _every_column_type(6)
    if change == "datetime":
        cells["seen"] = pd.Timestamp("2024-05-01")
    elif change == "categorical":
        cells["kind"] = pd.Categorical(["a", "b"] * 3)
    elif change == "multipoint":
        cells.loc[0, "geometry"] = MultiPoint([(357000, 4945000), (357100, 4945000)])
    elif change == "empty_point":
        cells.loc[0, "geometry"] = Point()
    elif change == "z_point":
        cells = cells.set_geometry(gpd.points_from_xy(cells.geometry.x, cells.geometry.y,
                                                      np.arange(6.0)), crs=32652)
    else:
        cells = cells.set_crs(None, allow_override=True)
    want = _pyogrio_file(tmp_path / "want.gpkg", cells, cells)
    assert write_cells(tmp_path / "got.gpkg", cells, cells).read_bytes() == want


def _fake_run(cells, geopackage="cells.gpkg"):
    from types import SimpleNamespace

    prep = SimpleNamespace(scenario=SimpleNamespace(source=None,
                                                    outputs={"geopackage": geopackage}))
    res = SimpleNamespace(tables={"gaps": pd.DataFrame({"code": ["v1"], "uncovered": [3.0]})},
                          summary={"scenario": "t"}, base=SimpleNamespace(cells=cells),
                          final=SimpleNamespace(cells=cells))
    return prep, res


def _writer_threads():
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("write-cells")]


def test_write_run_writes_the_cells_beside_the_other_files(tmp_path):
    from elder_coverage.runner import write_run

    cells = _every_column_type()
    write_run(tmp_path, *_fake_run(cells))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.gpkg", "gaps.csv",
                                                           "summary.json"]
    assert (tmp_path / "cells.gpkg").read_bytes() == \
        _pyogrio_file(tmp_path / "want.gpkg", cells, cells)
    assert (tmp_path / "gaps.csv").read_text(encoding="utf-8-sig") == "code,uncovered\nv1,3\n"
    assert not _writer_threads()


def test_write_run_errors_of_either_writer_are_raised_after_both_ended(tmp_path, monkeypatch):
    import elder_coverage.runner as runner

    cells = _every_column_type()
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="a cell file ends in"):
        runner.write_run(tmp_path / "a", *_fake_run(cells, geopackage="cells.shp"))
    assert not _writer_threads()

    def broken_csv(df, path):
        raise OSError("disk full")

    monkeypatch.setattr(runner, "_write_csv", broken_csv)
    (tmp_path / "b").mkdir()
    with pytest.raises(OSError, match="disk full"):
        runner.write_run(tmp_path / "b", *_fake_run(cells))
    # The cell file was finished (written whole, atomically) before the error came out.
    assert not _writer_threads()
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["cells.gpkg"]
    assert read_cells(tmp_path / "b" / "cells.gpkg")["cell_id"].tolist() == \
        cells["cell_id"].tolist()
