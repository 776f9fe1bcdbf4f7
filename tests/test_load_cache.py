"""Loading a sample: the cached study equals the parsed one; cells find their polygon fast."""

from __future__ import annotations

import os
import shutil

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from elder_coverage.io.load_cache import NO_CACHE_ENV, cache_path, folder_key
from elder_coverage.io.population import _locate
from elder_coverage.study import _load_sample_files, load_sample


@pytest.fixture(autouse=True)
def _own_signing_key(tmp_path, monkeypatch):
    # The cache is signed with a key in the user cache folder; the tests keep theirs in their
    # own folder, so they neither need a writable home nor touch the real key.
    from elder_coverage.io import load_cache

    monkeypatch.setattr(load_cache, "key_path", lambda: tmp_path / "home" / "load-cache.key")


def _same_study(a, b):
    for name in ("counties", "townships", "seats", "villages", "cells", "facilities"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).attrs == getattr(b, name).attrs, name
    assert a.crs == b.crs and a.meta == b.meta and a.cell_size_m == b.cell_size_m
    assert a.graph.graph == b.graph.graph
    assert list(a.graph.nodes(data=True)) == list(b.graph.nodes(data=True))
    assert list(a.graph.edges(keys=True, data=True)) == \
        list(b.graph.edges(keys=True, data=True))


def test_cached_sample_equals_the_parsed_files(tmp_path, sample_path, monkeypatch):
    monkeypatch.delenv(NO_CACHE_ENV, raising=False)
    folder = tmp_path / "data" / "sample"
    shutil.copytree(sample_path, folder)
    first = load_sample(folder)  # parses and writes the cache
    key = folder_key(folder)
    assert cache_path(folder, key).is_file()
    assert cache_path(folder, key).parent == tmp_path / "data" / ".cache"
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in
                                                              sample_path.iterdir())
    cached = load_sample(folder)
    assert cached is not first and cached.cells is not first.cells
    _same_study(cached, _load_sample_files(folder))
    assert int(round(cached.cells["elders_60"].sum())) == 430_318

    # A changed file is a new key; the old cache file is replaced, not kept beside it.
    st = (folder / "villages.gpkg").stat()
    os.utime(folder / "villages.gpkg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert folder_key(folder) != key
    monkeypatch.setenv(NO_CACHE_ENV, "1")
    load_sample(folder)
    assert cache_path(folder, key).is_file()  # off: nothing written or removed
    monkeypatch.delenv(NO_CACHE_ENV)
    load_sample(folder)
    assert [p.name for p in (tmp_path / "data" / ".cache").iterdir()] == \
        [cache_path(folder, folder_key(folder)).name]


def test_damaged_cache_is_parsed_again(tmp_path, sample_path, monkeypatch):
    monkeypatch.delenv(NO_CACHE_ENV, raising=False)
    folder = tmp_path / "sample"
    shutil.copytree(sample_path, folder)
    path = cache_path(folder, folder_key(folder))
    path.parent.mkdir()
    path.write_bytes(b"not a pickle")
    assert len(load_sample(folder).cells) == 86_717


@pytest.mark.parametrize("column", ["code", "county_code"])
def test_locate_gives_the_codes_of_the_spatial_join_it_replaces(column):
    polys = gpd.GeoDataFrame({"code": ["220201", "220202", "220203"],
                              "county_code": [220200.0, "220201", "220300"]},
                             geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10), box(0, 0, 5, 5)],
                             crs=32652)
    # Inside one, on the shared edge, at a corner, outside all, inside two overlapping ones.
    cells = gpd.GeoDataFrame({"cell_id": range(5)}, geometry=[
        Point(15, 5), Point(10, 5), Point(10, 0), Point(30, 30), Point(2, 2)], crs=32652)
    got = _locate(cells, polys, column).tolist()
    # The spatial join keeps the first polygon in its own index order where several hold a
    # cell (here the small overlapping box); _locate must give the same, cell for cell.
    hit = gpd.sjoin(cells[["geometry"]], polys, how="inner", predicate="intersects")
    hit = hit[~hit.index.duplicated(keep="first")]
    want = [None] * len(cells)
    for i, v in zip(hit.index, hit[column], strict=True):
        want[i] = None if pd.isna(v) else str(int(v)) if isinstance(v, float) else v
    assert got == want
    assert got[0] == {"code": "220202", "county_code": "220201"}[column] and got[3] is None


def test_cached_sample_routes_on_its_stored_cell_join(tmp_path, sample_path, monkeypatch):
    """The cells' nearest-edge join travels in the cache; costs read from it are the same as
    those of a network that searches the edge tree itself."""
    import pickle

    import numpy as np
    import shapely

    from elder_coverage.costs import travel_costs
    from elder_coverage.travel import RoadNetwork

    monkeypatch.delenv(NO_CACHE_ENV, raising=False)
    folder = tmp_path / "sample"
    shutil.copytree(sample_path, folder)
    load_sample(folder)
    cached = load_sample(folder)
    net = cached.road_network()
    assert net is cached.network and net.G is cached.graph
    xy = np.column_stack([cached.cells.geometry.x, cached.cells.geometry.y])
    assert [k[3] for k in net._joins] == [len(xy)]  # walk and drive share one edge set

    fac = cached.facilities[cached.facilities["status"].fillna("open") == "open"]
    searched: list[int] = []
    real = shapely.STRtree.query_nearest

    def counting(self, geoms, *args, **kwargs):
        searched.append(len(geoms))
        return real(self, geoms, *args, **kwargs)

    monkeypatch.setattr(shapely.STRtree, "query_nearest", counting)
    kinds = ["dining_hall", "township_centre"]
    stored = travel_costs(cached.cells, fac, net, kinds=kinds)
    assert len(xy) not in searched  # the cells were not searched again
    fresh = travel_costs(cached.cells, fac, RoadNetwork(cached.graph), kinds=kinds)
    assert len(xy) in searched
    for kind in kinds:
        a, b = stored[kind].matrix, fresh[kind].matrix
        assert a.nnz > 0 and (a != b).nnz == 0 and np.array_equal(a.indices, b.indices)

    # A pickled network keeps its graph and joins, not its travel graphs (rebuilt on use).
    again = pickle.loads(pickle.dumps(net))
    assert again.G is not None and not again._graphs and list(again._joins) == list(net._joins)
    # A study copied without its graph (straight-line runs) never routes on the old one.
    import dataclasses

    assert dataclasses.replace(cached, graph=None).road_network() is None
    other = dataclasses.replace(cached, graph=cached.graph.copy())
    assert other.road_network() is not cached.network


class _Planted:
    """A pickle that touches a file when unpickled: what a hostile cache file could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).touch, (self.marker,))


def test_cache_file_not_signed_with_the_users_key_is_never_unpickled(tmp_path, sample_path,
                                                                      monkeypatch):
    import pickle
    import stat

    from elder_coverage.io import load_cache

    monkeypatch.delenv(NO_CACHE_ENV, raising=False)
    folder = tmp_path / "sample"
    shutil.copytree(sample_path, folder)
    load_sample(folder)
    key_file = tmp_path / "home" / "load-cache.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    path = cache_path(folder, folder_key(folder))
    signed = path.read_bytes()
    assert signed.startswith(load_cache._MAGIC)

    marker = tmp_path / "ran"
    payload = pickle.dumps(_Planted(marker))
    forged = [payload,  # a bare pickle (the old format)
              load_cache._MAGIC + bytes(32) + payload,  # a made-up signature
              signed[:len(load_cache._MAGIC) + 32] + payload]  # a real signature, other data
    for content in forged:
        path.write_bytes(content)
        study = load_sample(folder)  # parsed again, and the cache rewritten
        assert not marker.exists()
        assert int(round(study.cells["elders_60"].sum())) == 430_318
        assert path.read_bytes()[:len(load_cache._MAGIC)] == load_cache._MAGIC

    # Another key (another user's, or a new one) does not read this user's file either.
    assert load_cache.read_cached(folder, folder_key(folder)) is not None
    key_file.write_bytes(bytes(32))
    assert load_cache.read_cached(folder, folder_key(folder)) is None
    # A key others may rewrite signs nothing: no cache is read or written.
    key_file.chmod(0o622)
    assert load_cache._signing_key(create=True) is None
    path.unlink()
    load_sample(folder)
    assert not path.exists()
