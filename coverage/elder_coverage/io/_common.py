"""Reading helpers shared by the loaders: files, CSV encodings, columns, CRS, study area."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from elder_coverage.io.crs import SOURCE_CRS_ATTR, crs_label
from elder_coverage.io.errors import InputError

PathLike = str | os.PathLike[str]

#: Longitude / latitude column names accepted in tables, matched case-insensitively.
LON_NAMES: tuple[str, ...] = ("lon", "lng", "long", "longitude", "经度", "x_wgs84")
LAT_NAMES: tuple[str, ...] = ("lat", "latitude", "纬度", "y_wgs84")
X_NAMES: tuple[str, ...] = ("x", "easting", "x坐标")
Y_NAMES: tuple[str, ...] = ("y", "northing", "y坐标")

TABLE_SUFFIXES = (".csv", ".txt", ".tsv")

#: Key under ``GeoDataFrame.attrs`` (graphs: ``G.graph``) of the readers' notes: assumptions
#: made and repairs done, in words a planner can check; the run copies them to its summary.
NOTES_ATTR = "notes"

#: How far (metres) a point may lie outside the study area and still count as inside it:
#: boundary files and facility lists are digitised separately, and coordinates written with
#: 6 decimals (0.11 m) or from a coarser map are routinely a few metres off a border.
INSIDE_TOLERANCE_M = 50.0

#: Hints naming the scenario key that sets an option, appended to loader messages so that a
#: planner running a scenario knows where to write it.
SCENARIO_SOURCE_CRS = ("in a scenario, give the input as a mapping with source_crs, e.g. "
                       "facilities: {path: sites.csv, source_crs: 'EPSG:32652'}")
SCENARIO_LAYER = ("in a scenario, give the input as a mapping with layer, e.g. "
                  "townships: {path: towns.gpkg, layer: towns}")
SCENARIO_ENCODING = ("in a scenario, give the input as a mapping with encoding, e.g. "
                     "townships: {path: towns.shp, encoding: GBK}")


def add_note(obj: Any, text: str) -> None:
    """Append a note to ``obj.attrs`` (GeoDataFrame) or ``obj.graph`` (networkx graph)."""
    store = obj.graph if hasattr(obj, "graph") and isinstance(obj.graph, dict) else obj.attrs
    notes = list(store.get(NOTES_ATTR) or [])
    if text not in notes:
        notes.append(text)
    store[NOTES_ATTR] = notes


def notes_of(obj: Any) -> list[str]:
    """The notes recorded on a GeoDataFrame or graph by :func:`add_note` (a new list)."""
    if obj is None:
        return []
    store = obj.graph if hasattr(obj, "graph") and isinstance(obj.graph, dict) else obj.attrs
    notes = store.get(NOTES_ATTR) or []
    return [notes] if isinstance(notes, str) else list(notes)


_COUNT_UNITS = re.compile(r"(人|名|口|位|户|persons?|people)$", re.IGNORECASE)


def parse_counts(values: pd.Series) -> pd.Series:
    """Person counts as floats, reading what spreadsheets hold: ``"300人"``, ``"1,200"``,
    full-width ``"３００"``; NaN where the text is not a count (the caller names the row).

    A unit other than persons (``"300户"``, households) is not a count of persons, so it
    is left unparsed rather than read as one.
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)

    def one(v: Any) -> float:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        if isinstance(v, int | float | np.integer | np.floating):
            return float(v)
        t = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "").replace(" ", "")
        m = _COUNT_UNITS.search(t)
        if m is not None:
            if m.group(1) == "户":
                return np.nan
            t = t[: m.start()]
        try:
            return float(t)
        except ValueError:
            return np.nan

    return values.map(one).astype(float)


def check_file(path: PathLike) -> Path:
    """Existing, non-empty file (or folder) or an InputError naming it."""
    p = Path(path)
    if not p.exists():
        raise InputError("file does not exist", path=p)
    if p.is_file() and p.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path=p)
    return p


def norm_name(name: Any) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def find_column(
    columns: Iterable[Any], aliases: Sequence[str], *, explicit: str | None = None,
    path: PathLike | None = None, what: str = "column",
) -> str | None:
    """The first column of ``columns`` whose normalised name is in ``aliases``.

    ``explicit`` (a caller-given column name) must exist and wins over the aliases.
    """
    cols = list(columns)
    if explicit is not None:
        if explicit not in cols:
            raise InputError(f"{what} column {explicit!r} not found; columns are {cols}",
                             path=path, field=explicit)
        return explicit
    by_norm = {}
    for c in cols:
        by_norm.setdefault(norm_name(c), c)
    for a in aliases:
        if norm_name(a) in by_norm:
            return by_norm[norm_name(a)]
    return None


def read_csv(path: PathLike, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV that may be UTF-8 (with or without BOM) or GB18030/GBK.

    Spreadsheets saved on Chinese-locale Windows write GBK by default, so UTF-8 is tried
    first and GB18030 (a superset of GBK) second.
    """
    p = check_file(path)
    sep = kwargs.pop("sep", "\t" if p.suffix.lower() == ".tsv" else ",")
    last: Exception | None = None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            df = pd.read_csv(p, encoding=enc, sep=sep, skipinitialspace=True, **kwargs)
            break
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError as exc:
            raise InputError("file has no header or rows", path=p) from exc
        except (pd.errors.ParserError, ValueError) as exc:
            raise InputError(f"cannot be parsed as CSV: {exc}", path=p) from exc
    else:
        raise InputError(f"text is neither UTF-8 nor GB18030: {last}", path=p)
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise InputError("file has a header but no data rows", path=p)
    if enc == "gb18030" and last is not None:
        add_note(df, f"{p.name}: text is not UTF-8; read as GB18030 (GBK), the encoding of "
                     "spreadsheets saved on Chinese-locale Windows")
    return df


def points_from_table(
    df: pd.DataFrame, path: PathLike, *, lon: str | None = None, lat: str | None = None,
    x: str | None = None, y: str | None = None, source_crs: Any = None,
) -> gpd.GeoDataFrame:
    """Point GeoDataFrame from lon/lat columns (WGS84) or x/y columns in ``source_crs``."""
    lon_c = find_column(df.columns, LON_NAMES, explicit=lon, path=path, what="longitude")
    lat_c = find_column(df.columns, LAT_NAMES, explicit=lat, path=path, what="latitude")
    if (lon_c is None) != (lat_c is None):
        missing = "latitude (lat/纬度)" if lat_c is None else "longitude (lon/经度)"
        raise InputError(f"has {lon_c or lat_c!r} but no {missing} column", path=path,
                         field=lon_c or lat_c)
    if lon_c is not None and x is None and y is None:
        xc, yc, crs = lon_c, lat_c, CRS.from_epsg(4326)
        if source_crs is not None and not CRS.from_user_input(source_crs).is_geographic:
            raise InputError(f"lon/lat columns are in degrees but source_crs={source_crs!r} "
                             "is projected", path=path, field=lon_c)
        if source_crs is not None:
            crs = CRS.from_user_input(source_crs)
    else:
        xc = find_column(df.columns, X_NAMES, explicit=x, path=path, what="x")
        yc = find_column(df.columns, Y_NAMES, explicit=y, path=path, what="y")
        if xc is None or yc is None:
            raise InputError(
                "no coordinate columns: expected lon/lat (or 经度/纬度, longitude/latitude) "
                f"or x/y with source_crs; columns are {list(df.columns)}", path=path)
        if source_crs is None:
            raise InputError(f"coordinates in {xc!r}/{yc!r} have no CRS; pass source_crs= "
                             f"(e.g. 'EPSG:32652'; {SCENARIO_SOURCE_CRS})", path=path, field=xc)
        crs = CRS.from_user_input(source_crs)
    coords = {}
    for c in (xc, yc):
        vals = pd.to_numeric(df[c], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(vals.to_numpy(dtype=float)))
        if bad.size:
            raise InputError(f"coordinate missing or not a number ({df[c].iloc[bad[0]]!r})",
                             path=path, row=(bad + 1).tolist(), field=c)
        coords[c] = vals.to_numpy(dtype=float)
    if crs.is_geographic:
        for c, lim in ((xc, 180.0), (yc, 90.0)):
            bad = np.flatnonzero(np.abs(coords[c]) > lim)
            if bad.size:
                hint = ""
                if c == yc and np.all(np.abs(coords[xc]) <= 90):
                    hint = " (longitude and latitude columns look swapped)"
                raise InputError(f"{coords[c][bad[0]]} is outside ±{lim:g} degrees{hint}",
                                 path=path, row=(bad + 1).tolist(), field=c)
    gdf = gpd.GeoDataFrame(
        df.drop(columns=[xc, yc]),
        geometry=gpd.points_from_xy(coords[xc], coords[yc]),
        crs=crs,
    )
    gdf.attrs = dict(df.attrs)
    return gdf


def _layers(p: Path) -> list[str]:
    """Names of the layers with geometry; attribute-only tables (QGIS keeps its styles in a
    ``layer_styles`` table of the GeoPackage) are not candidates."""
    import pyogrio

    try:
        return [str(name) for name, geom in pyogrio.list_layers(p) if geom is not None]
    except Exception:  # noqa: BLE001 - unreadable files are reported by the read itself
        return []


def _shapefile_encoding(p: Path) -> str | None:
    """Encoding of a Shapefile's text when it has no ``.cpg``: ``"UTF-8"``, ``"GB18030"`` or
    None when every text is ASCII (nothing to decode).

    Without a ``.cpg`` GDAL assumes ISO-8859-1 and Chinese names come out garbled, which
    then breaks tests such as "names ending in 街道". The raw bytes are recovered by reading
    as Latin-1 and tried as UTF-8 first (strict, so GBK text fails it), then GB18030.
    """
    import pyogrio

    raw = pyogrio.read_dataframe(p, encoding="latin1", read_geometry=False)
    texts = [str(c) for c in raw.columns]
    for c in raw.columns:
        if raw[c].dtype == object:
            texts.extend(v for v in raw[c] if isinstance(v, str))
    blobs = [t.encode("latin1") for t in texts if not t.isascii()]
    if not blobs:
        return None
    for enc in ("utf-8", "gb18030"):
        try:
            for b in blobs:
                b.decode(enc)
        except UnicodeDecodeError:
            continue
        return "UTF-8" if enc == "utf-8" else "GB18030"
    raise InputError("Shapefile has no .cpg file and its text is neither UTF-8 nor GBK/"
                     f"GB18030; name the encoding ({SCENARIO_ENCODING})", path=p)


def read_vector(
    path: PathLike, *, layer: str | int | None = None, source_crs: Any = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read any OGR vector file (GeoPackage, GeoJSON, Shapefile, …) with a CRS on record.

    Parameters
    ----------
    path : str or PathLike
        The file.
    layer : str or int, optional
        Required when the file has several layers: reading "the first one" silently picks
        whatever the file's author happened to save first.
    source_crs : optional
        Used only when the file declares none (e.g. a Shapefile without its ``.prj``);
        otherwise a missing CRS is an error, since guessing it misplaces every point.
    encoding : str, optional
        Text encoding of a Shapefile without ``.cpg``. Default: detected (UTF-8 or
        GB18030/GBK) and stated in ``attrs["notes"]``.
    """
    p = check_file(path)
    if layer is None:
        names = _layers(p)
        if len(names) > 1:
            raise InputError(f"file has {len(names)} layers ({', '.join(names)}); pass "
                             f"layer= to choose one ({SCENARIO_LAYER})", path=p, field="layer")
        # Named, since GDAL's first layer may be an attribute table listed before it.
        layer = names[0] if names else None
    note = None
    if encoding is None and p.suffix.lower() == ".shp" and not p.with_suffix(".cpg").exists():
        try:
            encoding = _shapefile_encoding(p)
        except InputError:
            raise
        except Exception:  # noqa: BLE001 - the read below reports an unreadable file
            encoding = None
        if encoding is not None:
            note = (f"{p.name}: Shapefile has no .cpg file; its text was read as {encoding} "
                    "(detected; GBK is read as GB18030, its superset)")
    try:
        gdf = gpd.read_file(p, layer=layer, engine="pyogrio",
                            **({"encoding": encoding} if encoding else {}))
    except LookupError as exc:
        raise InputError(f"unknown text encoding {encoding!r}", path=p) from exc
    except Exception as exc:  # pyogrio raises several DataSource/Field error types
        raise InputError(f"cannot be read as a vector file: {exc}", path=p) from exc
    if len(gdf) == 0:
        raise InputError("has no features", path=p)
    if gdf.crs is None:
        if source_crs is None:
            raise InputError("has no CRS (for a Shapefile, the .prj file is missing); pass "
                             f"source_crs= if you know it, e.g. 'EPSG:4326' "
                             f"({SCENARIO_SOURCE_CRS})", path=p)
        gdf = gdf.set_crs(source_crs)
    gdf.columns = [str(c).strip() if c != gdf.geometry.name else c for c in gdf.columns]
    if note:
        add_note(gdf, note)
    return gdf


def read_points(
    path: PathLike, *, layer: str | int | None = None, source_crs: Any = None,
    lon: str | None = None, lat: str | None = None, x: str | None = None, y: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Points from a CSV (lon/lat or x/y columns) or any vector file, with a CRS."""
    p = check_file(path)
    if p.suffix.lower() in TABLE_SUFFIXES:
        # Text first: ids and codes such as "007" must keep their leading zeros.
        df = read_csv(p, dtype=str)
        return points_from_table(df, p, lon=lon, lat=lat, x=x, y=y, source_crs=source_crs)
    gdf = read_vector(p, layer=layer, source_crs=source_crs, encoding=encoding)
    missing = np.flatnonzero((gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy())
    if missing.size:
        raise InputError("feature has no geometry", path=p, row=(missing + 1).tolist(),
                         field="geometry")
    return gdf


def record_source(gdf: gpd.GeoDataFrame, source_crs: Any, path: PathLike) -> gpd.GeoDataFrame:
    gdf.attrs[SOURCE_CRS_ATTR] = crs_label(source_crs)
    gdf.attrs["source_path"] = os.fspath(path)
    return gdf


def study_area(boundaries: gpd.GeoDataFrame | gpd.GeoSeries, crs: Any):
    """Union of ``boundaries`` in ``crs`` (one shapely geometry)."""
    if boundaries.crs is None:
        raise ValueError("boundary layer has no CRS")
    return boundaries.geometry.to_crs(crs).union_all()


def check_inside(
    gdf: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame | gpd.GeoSeries | None, path: PathLike,
    *, label: pd.Series | None = None, tolerance_m: float = INSIDE_TOLERANCE_M,
) -> gpd.GeoDataFrame:
    """Raise an InputError naming every row of ``gdf`` farther than ``tolerance_m`` outside
    ``boundaries``; rows outside but within it are accepted with a note.

    ``gdf`` must be in a metric CRS. Points on the boundary line count as inside. Returns
    ``gdf`` (with the note in ``attrs["notes"]`` when some rows were accepted so).
    """
    if boundaries is None:
        return gdf
    area = study_area(boundaries, gdf.crs)
    outside = np.flatnonzero(~gdf.geometry.intersects(area).to_numpy())
    if outside.size == 0:
        return gdf
    dist = gdf.geometry.iloc[outside].distance(area).to_numpy()
    far = outside[dist > tolerance_m]
    near = outside[dist <= tolerance_m]

    def ids(idx: np.ndarray) -> str:
        if label is None:
            return ""
        shown = [str(v) for v in label.iloc[idx[:10]]]
        return f" (id {', '.join(shown)}{', …' if idx.size > 10 else ''})"

    if far.size:
        worst = float(dist.max())
        raise InputError(f"{far.size} point(s) outside the study area{ids(far)}, up to "
                         f"{worst:,.0f} m from it (points up to {tolerance_m:g} m outside are "
                         "accepted as digitising noise)", path=path,
                         row=(far + 1).tolist(), field="geometry")
    add_note(gdf, f"{os.path.basename(os.fspath(path))}: {near.size} point(s){ids(near)} lie "
                  f"up to {float(dist.max()):.1f} m outside the study area boundary and were "
                  f"kept (tolerance {tolerance_m:g} m)")
    return gdf


def rename_columns(df: pd.DataFrame, aliases: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Rename recognised columns to their schema names; unknown columns are kept as they are."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for target, names in aliases.items():
        col = find_column(
            [c for c in df.columns if c not in mapping], (target, *names))
        if col is not None and target not in taken:
            mapping[col] = target
            taken.add(target)
    return df.rename(columns=mapping)


def code_text(values: pd.Series) -> pd.Series:
    """Administrative codes as digit strings (``220102``, not ``220102.0``), None if missing.

    Codes read as floats or ints must compare equal to the text codes used elsewhere.
    """
    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float | np.floating) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        return str(v).strip() or None
    return values.map(one).astype(object)
