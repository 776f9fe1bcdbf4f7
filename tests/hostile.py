"""Helpers of the hostile-input suites: fingerprint a user's folder, find leftovers, build small
inputs (rasters, boundaries, OSM files), run the CLI."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Polygon, box

from elder_coverage.cli import EXIT_USAGE, main


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry below ``root``: file content hashes and modes, link targets, folders.

    Two equal digests mean nothing was added, removed, renamed, changed or re-moded.
    """
    out = {}
    for base, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(base) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if p.is_symlink():
                out[rel] = f"link→{os.readlink(p)}"
            elif p.is_dir():
                out[rel] = f"dir {oct(st.st_mode)}"
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = f"file {oct(st.st_mode)} {st.st_mtime_ns} {digest}"
    return out


def leftovers(root: Path) -> list[str]:
    """Temporary or half-written entries a run left anywhere below ``root``."""
    found = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            if name.startswith(".") and (name.endswith((".tmp", ".old")) or ".tmp." in name
                                         or name == ".elder-coverage-partial.json"):
                found.append((Path(base) / name).relative_to(root).as_posix())
    return sorted(found)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """Exit status and standard error of ``elder-coverage ARGV`` run in this process."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    return code, _without_progress(capsys.readouterr().err)


_PROGRESS_LINE = re.compile(r"^\S.* \[\d+/\d+\] .*…|^\S.*: done in [\d.]+ s$")


def _without_progress(err: str) -> str:
    # Stage lines ("elder-coverage run [1/7] load …") go to standard error when it is not a
    # terminal; the refusal itself is the one line left.
    return "".join(line for line in err.splitlines(keepends=True)
                   if not _PROGRESS_LINE.match(line))


def user_tree(root: Path) -> Path:
    """A planner's working folder: a scenario, data files, a notes sub-folder, a link."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "scenario.yaml").write_text("name: mine\nanalyses: {coverage: {}}\n",
                                        encoding="utf-8")
    (root / "facilities.csv").write_text("编号,名称\nF1,敬老院\n", encoding="utf-8")
    (root / "notes").mkdir()
    (root / "notes" / "plan.txt").write_text("do not delete\n", encoding="utf-8")
    (root / "latest").symlink_to("notes")
    return root


def refused(capsys, tmp_path: Path, *argv, expect: tuple[str, ...], code: int = 2) -> str:
    """Run the CLI, expect a one-line refusal, and check ``tmp_path`` is exactly as before.

    ``expect``: texts the message must contain (the option or key and the path).
    """
    before = tree_digest(tmp_path)
    status, err = run_cli(capsys, *argv)
    assert status == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for text in expect:
        assert text in err, (text, err)
    assert tree_digest(tmp_path) == before, "the planner's files were changed"
    assert leftovers(tmp_path) == []
    return err


# --- inputs -------------------------------------------------------------------------

LON0, LAT0, RES = 126.40, 43.90, 0.005
ROWS, COLS = 8, 10
#: The test county: the raster's full extent, 126.40–126.45 E, 43.86–43.90 N.
COUNTY_BOX = box(LON0, LAT0 - ROWS * RES, LON0 + COLS * RES, LAT0)


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path → digest)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_raster(path: Path, data: np.ndarray, *, nodata=None, scale=None, offset=None,
                 lon0: float = LON0, lat0: float = LAT0, res: float = RES) -> Path:
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1],
                       count=1, dtype=data.dtype, crs="EPSG:4326",
                       transform=from_origin(lon0, lat0, res, res), nodata=nodata) as dst:
        dst.write(data, 1)
        if scale is not None:
            dst.scales = (scale,)
        if offset is not None:
            dst.offsets = (offset,)
    return path


def write_county(path: Path, geom=COUNTY_BOX, name: str = "示例县") -> Path:
    gpd.GeoDataFrame({"code": ["220299"], "name": [name]}, geometry=[geom],
                     crs=4326).to_file(path)
    return path


def triangle() -> Polygon:
    """Lower-left half of the county box (a non-rectangular study area)."""
    x0, y0 = LON0, LAT0 - ROWS * RES
    return Polygon([(x0, y0), (x0 + COLS * RES, y0), (x0, LAT0)])


FACILITIES_CSV = (
    "编号,名称,类型,床位数,状态,经度,纬度\n"
    "F1,示例敬老院,乡镇敬老院,60,运营中,126.43,43.87\n"
    "F2,示例助老餐厅,助老餐厅,40,正常运营,126.42,43.88\n"
)


def grid_osm(lon0: float = LON0 + 0.002, lat0: float = LAT0 - 0.002, n: int = 5,
             step: float = 0.009) -> str:
    """A small street grid as OSM XML (n × n nodes, residential streets)."""
    nodes, ways, ids = [], [], {}
    for i in range(n):
        for j in range(n):
            ids[i, j] = len(ids) + 1
            nodes.append(f'<node id="{ids[i, j]}" lat="{lat0 - i * step * 0.8:.6f}" '
                         f'lon="{lon0 + j * step:.6f}"/>')
    for i in range(n):
        refs = "".join(f'<nd ref="{ids[i, j]}"/>' for j in range(n))
        ways.append(f'<way id="{100 + i}">{refs}<tag k="highway" v="residential"/></way>')
    for j in range(n):
        refs = "".join(f'<nd ref="{ids[i, j]}"/>' for i in range(n))
        ways.append(f'<way id="{200 + j}">{refs}<tag k="highway" v="tertiary"/></way>')
    return ('<?xml version="1.0"?><osm version="0.6">' + "".join(nodes + ways) + "</osm>")


def own_data(folder: Path, *, raster: np.ndarray | None = None, facilities: str = FACILITIES_CSV,
             roads: str | None = None, extra: str = "") -> Path:
    """A complete own-data scenario in ``folder``; returns the scenario file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = raster if raster is not None else np.full((ROWS, COLS), 2.0, dtype="float32")
    write_raster(folder / "elders.tif", data)
    write_county(folder / "county.geojson")
    (folder / "facilities.csv").write_text(facilities, encoding="utf-8")
    (folder / "roads.osm").write_text(roads or grid_osm(), encoding="utf-8")
    scenario = folder / "scenario.yaml"
    scenario.write_text(
        "name: hostile\nlang: en\nstudy_area: {boundary: county.geojson}\n"
        "inputs:\n  population: {raster: elders.tif}\n  facilities: facilities.csv\n"
        f"  roads: roads.osm\n{extra}analyses: {{coverage: {{}}}}\n", encoding="utf-8")
    return scenario


def run_refused(scenario: Path, out: Path, capsys) -> str:
    """Run the CLI expecting a refusal: exit 2, nothing written, inputs unchanged.

    Returns the error message printed on stderr.
    """
    before = snapshot(scenario.parent)
    code = main(["run", str(scenario), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert not out.exists(), "a refused run must leave no output folder"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")
                 or (p.name.startswith(out.name) and p != out)]
    assert not leftovers, f"partial output left behind: {leftovers}"
    assert snapshot(scenario.parent) == before, "the user's files were changed"
    return err


#: Files a reader must never leave beside the user's inputs (GDAL statistics side-cars,
#: temporary files of an interrupted write).
STRAY = ("*.aux.xml", "*.tmp", ".*.tmp", "*.ovr", "*.lock")


@pytest.fixture(autouse=True)
def no_stray_files(tmp_path: Path):
    """After every hostile test: nothing was written beside the inputs but what it made."""
    yield
    stray = [str(p.relative_to(tmp_path)) for pattern in STRAY for p in tmp_path.rglob(pattern)]
    assert not stray, f"files left beside the inputs: {stray}"
