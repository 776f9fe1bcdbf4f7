"""Facility tables: CSV or Excel (lon/lat, 经度/纬度 or x/y), GeoJSON, GeoPackage, Shapefile.

Output follows ``elder_coverage.schema``: ``id``, ``name``, ``kind`` (one of ``FACILITY_KINDS``),
``capacity`` and whichever optional columns the file has, as points in a metric CRS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from elder_coverage.io._common import (
    INSIDE_TOLERANCE_M,
    PathLike,
    add_note,
    check_file,
    check_inside,
    code_text,
    norm_name,
    notes_of,
    points_from_table,
    read_points,
    record_source,
    rename_columns,
)
from elder_coverage.io.crs import to_metric
from elder_coverage.io.errors import InputError
from elder_coverage.kinds import allowed_kinds_text, facility_kinds, load_kinds, match_kind
from elder_coverage.schema import FACILITY_OPTIONAL, FACILITY_REQUIRED

#: Column names accepted for each schema column (matched case-insensitively). The 10-letter
#: names are what a Shapefile's DBF truncates the schema names to.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("编号", "机构编号", "设施编号", "编码", "facility_id", "序号"),
    "name": ("名称", "机构名称", "设施名称", "name_zh"),
    "kind": ("类型", "机构类型", "设施类型", "类别", "type", "category"),
    "capacity": ("床位数", "床位", "核定床位", "床位数量", "座位数", "餐位数", "容量", "beds",
                 "seats"),
    "nursing_beds": ("护理床位", "护理床位数", "护理型床位", "nursing_be"),
    "occupancy": ("入住率", "occupancy_rate"),
    "built_year": ("建成年份", "建成时间", "建设年份", "建成年代", "year_built"),
    "fire_safety_ok": ("消防合格", "消防验收", "消防", "fire_safet", "fire_ok"),
    "status": ("状态", "运营状态"),
    "floor_area_m2": ("建筑面积", "养老服务面积", "面积", "floor_area"),
    "land_m2": ("用地面积", "占地面积", "土地面积", "land_area"),
    "county_managed": ("县级直管", "是否县级直管", "县直管", "county_man"),
    "serves_townships": ("服务乡镇", "覆盖乡镇", "serves_tow"),
    "county_code": ("县代码", "区县代码", "county_cod"),
    "township_code": ("乡镇代码", "township_c"),
    "village_code": ("村代码", "village_co"),
    "synthetic": ("合成",),
}

#: Chinese words accepted for each kind: the parts of its label and the other words planners
#: write (``kinds.yaml``). 敬老院 are township-run homes; 幸福院 are village mutual-aid sites.
KIND_SYNONYMS: dict[str, str] = {w: k.code for k in facility_kinds() for w in k.zh_words}

#: Status words planners write, by the schema status they mean (matched after trimming,
#: lower-casing and removing spaces, ``_`` and ``-``). A word not listed is an error rather
#: than a guess: reading an unknown word as "not open" once dropped every facility of a file.
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "open": ("open", "active", "operating", "operational", "inoperation", "inuse", "running",
             "trialoperation", "运营", "运营中", "在营", "正常运营", "营业", "营业中", "正常营业",
             "正常", "开放", "在用", "使用中", "试运营", "试营业", "已运营", "已开业", "开业",
             "投入使用", "已投入使用", "启用", "已启用"),
    "planned": ("planned", "proposed", "underconstruction", "规划", "规划中", "拟建", "在建",
                "筹建", "筹建中", "建设中", "待建", "未开业", "待运营"),
    "closed": ("closed", "inactive", "suspended", "merged", "关闭", "已关闭", "停业", "停运",
               "撤并", "已撤并", "撤销", "已撤销", "暂停", "暂停运营", "暂停营业", "停用",
               "闲置", "歇业", "注销", "已注销"),
    # A run's own facilities.csv marks the sites it added "new"; fed back in, they stay so.
    "new": ("new",),
}


def _status_key(v: Any) -> str:
    return re.sub(r"[\s_\-]+", "", str(v)).lower()


STATUS_LOOKUP: dict[str, str] = {_status_key(w): status for status, words in STATUS_WORDS.items()
                                 for w in words}


def normalise_status(value: Any) -> str | None:
    """Schema status (``"open"``, ``"planned"``, ``"closed"``, ``"new"``) of a Chinese or
    English word, None for a blank, or ``"?"`` for a word not in :data:`STATUS_WORDS`."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if str(value).strip() == "":
        return None
    return STATUS_LOOKUP.get(_status_key(value), "?")


_TRUE = {"true", "t", "yes", "y", "1", "是", "合格", "通过", "已验收", "有"}
_FALSE = {"false", "f", "no", "n", "0", "否", "不合格", "未通过", "未验收", "无"}


#: :func:`elder_coverage.kinds.word_key` of every accepted kind word → kind code.
KIND_LOOKUP: Mapping[str, str] = load_kinds().lookup


def normalise_kind(value: Any) -> str | None:
    """Schema kind of an English or Chinese label (``"老年食堂"`` → ``"dining_hall"``) or None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    found = match_kind(value)
    return None if found is None else found.code


def _rows(mask: np.ndarray) -> list[int]:
    return (np.flatnonzero(mask) + 1).tolist()


def _numbers(df: pd.DataFrame, col: str, path: PathLike, field: str) -> pd.Series:
    raw = df[col]
    text = raw if pd.api.types.is_numeric_dtype(raw) else raw.astype(str).str.strip()
    num = pd.to_numeric(text, errors="coerce")
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    bad = num.isna() & ~blank
    if bad.any():
        r = np.flatnonzero(bad.to_numpy())
        raise InputError(f"not a number ({raw.iloc[r[0]]!r})", path=path, row=(r + 1).tolist(),
                         field=field)
    return num.astype(float)


def _occupancy(df: pd.DataFrame, path: PathLike, field: str) -> pd.Series:
    raw = df["occupancy"]
    text = raw.astype(str).str.strip()
    pct = text.str.endswith("%") & raw.notna()
    num = pd.to_numeric(text.str.rstrip("%"), errors="coerce")
    blank = raw.isna() | (text == "")
    bad = num.isna() & ~blank
    if bad.any():
        r = np.flatnonzero(bad.to_numpy())
        raise InputError(f"occupancy is not a number ({raw.iloc[r[0]]!r})", path=path,
                         row=(r + 1).tolist(), field=field)
    num = num.where(~pct, num / 100.0)
    out = (num < 0) | (num > 1)
    if out.any():
        r = np.flatnonzero(out.to_numpy())
        raise InputError(f"occupancy {num.iloc[r[0]]:g} is outside 0–1 (write 85% or 0.85)",
                         path=path, row=(r + 1).tolist(), field=field)
    return num.astype(float)


def _booleans(df: pd.DataFrame, col: str, path: PathLike, field: str) -> pd.Series:
    def one(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return pd.NA
        if isinstance(v, bool | np.bool_):
            return bool(v)
        t = str(v).strip().lower()
        if t.endswith(".0"):
            t = t[:-2]
        if t == "":
            return pd.NA
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        return None

    vals = df[col].map(one)
    bad = vals.map(lambda v: v is None)
    if bad.any():
        r = np.flatnonzero(bad.to_numpy())
        raise InputError(f"{df[col].iloc[r[0]]!r} is not yes/no (true/false, 是/否, 合格/不合格)",
                         path=path, row=(r + 1).tolist(), field=field)
    return vals.astype("boolean")


def read_facilities(
    path: PathLike,
    *,
    crs: Any = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    layer: str | int | None = None,
    source_crs: Any = None,
    lon: str | None = None,
    lat: str | None = None,
    x: str | None = None,
    y: str | None = None,
    columns: Mapping[str, str] | None = None,
    encoding: str | None = None,
    tolerance_m: float = INSIDE_TOLERANCE_M,
    sheet: str | int | None = None,
    coordinates: str = "wgs84",
) -> gpd.GeoDataFrame:
    """Read and validate a facility table.

    Parameters
    ----------
    path : str or PathLike
        ``.csv`` (UTF-8 or GBK; coordinates in ``lon``/``lat``, ``经度``/``纬度``, or ``x``/``y``
        with ``source_crs``), an Excel workbook ``.xlsx`` with the same columns, or a
        GeoJSON/GeoPackage/Shapefile of points (polygons are reduced to an interior point).
    crs : optional
        Metric CRS of the result. Default: the UTM zone of the facilities' centre. Pass the
        CRS of the boundary or demand layer so all layers agree.
    study_area : GeoDataFrame or GeoSeries, optional
        Polygons (e.g. from :func:`~elder_coverage.io.read_boundaries`); facilities more than
        ``tolerance_m`` outside are an error, those nearer are kept with a note.
    layer : str or int, optional
        Layer of a multi-layer file.
    source_crs : optional
        CRS of ``x``/``y`` columns, or of a vector file that declares none.
    lon, lat, x, y : str, optional
        Coordinate column names, when not one of the recognised names.
    columns : mapping, optional
        Extra ``{file column: schema column}`` renames, e.g. ``{"机构床位": "capacity"}``.
    encoding : str, optional
        Text encoding of a Shapefile without ``.cpg`` (default: detected, with a note).
    tolerance_m : float, default 50
        Metres a facility may lie outside ``study_area`` (digitising noise) and be kept.
    sheet : str or int, optional
        Worksheet of an Excel file, by name or 0-based position; default the first.
    coordinates : {"wgs84", "gcj02", "bd09"}
        Datum of longitude/latitude: points geocoded with Amap or Tencent are GCJ-02, with
        Baidu BD-09 (both 300–700 m off WGS84 in Jilin); they are converted to WGS84.

    Returns
    -------
    GeoDataFrame
        One row per facility in file order, ``id`` (str, unique), ``name``, ``kind`` (a
        ``schema.FACILITY_KINDS`` value), ``capacity`` (beds or seats, int), the optional
        schema columns present (``occupancy`` 0–1, ``nursing_beds`` and ``built_year`` as
        nullable ints, ``fire_safety_ok`` nullable bool, ``status`` open/planned/closed or
        None when blank), then the file's other columns. ``attrs["source_crs"]``,
        ``attrs["source_path"]`` and ``attrs["coordinates"]`` record the origin,
        ``attrs["notes"]`` any assumption made.

    Raises
    ------
    InputError
        Naming the file and the row(s)/field: empty or unreadable file, no CRS, missing
        required column or value, unknown kind, duplicate id, negative or fractional
        capacity, nursing beds above capacity, occupancy outside 0–1, implausible year,
        unknown status word, non-point geometry, or a facility outside ``study_area``.
    """
    raw = read_source_points(path, layer=layer, sheet=sheet, coordinates=coordinates,
                             source_crs=source_crs, lon=lon, lat=lat, x=x, y=y,
                             encoding=encoding)
    src_crs = raw.crs
    notes = notes_of(raw)
    geom_name = raw.geometry.name
    if columns:
        raw = raw.rename(columns=dict(columns))
    original = {c: c for c in raw.columns}
    renamed = rename_columns(raw, COLUMN_ALIASES)
    field_of = {new: old for old, new in zip(original, renamed.columns, strict=True)}
    df = renamed

    _check_required(df, raw, geom_name, path, field_of)
    out = gpd.GeoDataFrame(index=df.index, geometry=df.geometry, crs=src_crs)
    out["id"] = _ids(df, path, field_of)
    out["name"] = df["name"].astype(str).str.strip()
    out["kind"] = _kinds(df, path, field_of)
    cap = _capacity(df, path, field_of)
    out["capacity"] = cap.astype(np.int64)
    for col, values in _optional_columns(df, cap, path, field_of):
        out[col] = values

    known = set(FACILITY_REQUIRED) | set(FACILITY_OPTIONAL) | {geom_name}
    for col in df.columns:
        if col not in known and col not in out.columns and norm_name(col) != "geometry":
            out[col] = df[col]

    out = to_metric(out.reset_index(drop=True), crs)
    out = _as_points(out, path)
    for note in notes:
        add_note(out, note)
    out = check_inside(out, study_area, path, label=out["id"], tolerance_m=tolerance_m)
    order = [c for c in (*FACILITY_REQUIRED, *FACILITY_OPTIONAL) if c in out.columns]
    rest = [c for c in out.columns if c not in order and c != out.geometry.name]
    out = out[[*order, *rest, out.geometry.name]]
    out = record_source(out, src_crs, path)
    out.attrs["coordinates"] = coordinates
    return out


def _check_required(df: pd.DataFrame, raw: pd.DataFrame, geom_name: str, path: PathLike,
                    field_of: Mapping[str, str]) -> None:
    for col in FACILITY_REQUIRED:
        if col not in df.columns:
            names = ", ".join((col, *COLUMN_ALIASES.get(col, ())))
            raise InputError(f"required column missing (accepted names: {names}); columns "
                             f"are {[c for c in raw.columns if c != geom_name]}",
                             path=path, field=col)
    for col in FACILITY_REQUIRED:
        blank = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if blank.any():
            raise InputError("required value is missing", path=path, row=_rows(blank.to_numpy()),
                             field=field_of[col])


def _ids(df: pd.DataFrame, path: PathLike, field_of: Mapping[str, str]) -> pd.Series:
    ids = code_text(df["id"])
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids[dup].iloc[0]
        rows = _rows((ids == first).to_numpy())
        raise InputError(f"duplicate id {first!r} (each facility needs its own id)",
                         path=path, row=rows, field=field_of["id"])
    return ids.astype(str)


def _kinds(df: pd.DataFrame, path: PathLike, field_of: Mapping[str, str]) -> pd.Series:
    kinds = df["kind"].map(normalise_kind)
    bad = kinds.isna().to_numpy()
    if bad.any():
        r = np.flatnonzero(bad)
        raise InputError(f"unknown kind {df['kind'].iloc[r[0]]!r}; allowed kinds: "
                         f"{allowed_kinds_text()}", path=path, row=(r + 1).tolist(),
                         field=field_of["kind"])
    return kinds.astype(str)


def _capacity(df: pd.DataFrame, path: PathLike, field_of: Mapping[str, str]) -> pd.Series:
    cap = _numbers(df, "capacity", path, field_of["capacity"])
    for mask, why in ((cap < 0, "capacity is negative"),
                      (~np.isfinite(cap) | (cap != np.round(cap)),
                       "capacity must be a whole number of beds or seats")):
        if mask.any():
            r = np.flatnonzero(mask.to_numpy())
            raise InputError(f"{why} ({cap.iloc[r[0]]:g})", path=path, row=(r + 1).tolist(),
                             field=field_of["capacity"])
    return cap


def _optional_columns(df: pd.DataFrame, cap: pd.Series, path: PathLike,
                      field_of: Mapping[str, str]) -> list[tuple[str, Any]]:
    """The optional schema columns present, checked, in schema order."""
    out: list[tuple[str, Any]] = []
    if "nursing_beds" in df:
        nb = _numbers(df, "nursing_beds", path, field_of["nursing_beds"])
        # A blank optional value is missing data, not an error.
        bad = nb.notna() & ((nb < 0) | (nb != np.round(nb)) | (nb > cap))
        if bad.any():
            r = np.flatnonzero(bad.to_numpy())
            raise InputError(f"nursing beds {nb.iloc[r[0]]:g} must be a whole number between "
                             f"0 and capacity ({cap.iloc[r[0]]:g})", path=path,
                             row=(r + 1).tolist(), field=field_of["nursing_beds"])
        out.append(("nursing_beds", nb.astype("Int64")))
    if "occupancy" in df:
        out.append(("occupancy", _occupancy(df, path, field_of["occupancy"])))
    if "built_year" in df:
        yr = _numbers(df, "built_year", path, field_of["built_year"])
        bad = yr.notna() & ((yr < 1800) | (yr > 2100) | (yr != np.round(yr)))
        if bad.any():
            r = np.flatnonzero(bad.to_numpy())
            raise InputError(f"built year {yr.iloc[r[0]]:g} is not a plausible year",
                             path=path, row=(r + 1).tolist(), field=field_of["built_year"])
        out.append(("built_year", yr.astype("Int64")))
    if "fire_safety_ok" in df:
        out.append(("fire_safety_ok",
                    _booleans(df, "fire_safety_ok", path, field_of["fire_safety_ok"])))
    if "status" in df:
        st = df["status"].map(normalise_status)
        bad = (st == "?").to_numpy()
        if bad.any():
            r = np.flatnonzero(bad)
            accepted = "; ".join(f"{k}: {', '.join(v)}" for k, v in STATUS_WORDS.items())
            raise InputError(f"unknown status {df['status'].iloc[r[0]]!r}; accepted words "
                             f"(blank means open) — {accepted}", path=path,
                             row=(r + 1).tolist(), field=field_of["status"])
        out.append(("status", st))
    return out + _optional_other(df, path, field_of)


def _optional_other(df: pd.DataFrame, path: PathLike,
                    field_of: Mapping[str, str]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for col, what in (("floor_area_m2", "floor area"), ("land_m2", "land area")):
        if col in df:
            fa = _numbers(df, col, path, field_of[col])
            if (fa < 0).any():
                r = np.flatnonzero((fa < 0).to_numpy())
                raise InputError(f"{what} is negative ({fa.iloc[r[0]]:g})", path=path,
                                 row=(r + 1).tolist(), field=field_of[col])
            out.append((col, fa))
    if "county_managed" in df:
        out.append(("county_managed",
                    _booleans(df, "county_managed", path, field_of["county_managed"])))
    if "serves_townships" in df:
        out.append(("serves_townships", df["serves_townships"].astype(object).map(
            lambda v: None if pd.isna(v) or not str(v).strip() else str(v).strip())))
    for col in ("county_code", "township_code", "village_code"):
        if col in df:
            out.append((col, code_text(df[col])))
    if "synthetic" in df:
        out.append(("synthetic", _booleans(df, "synthetic", path, field_of["synthetic"])))
    return out


def _as_points(gdf: gpd.GeoDataFrame, path: PathLike) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    kinds = geom.geom_type.to_numpy()
    single_multi = (kinds == "MultiPoint") & (geom.count_geometries().to_numpy() == 1)
    areal = np.isin(kinds, ["Polygon", "MultiPolygon"])
    ok = (kinds == "Point") | single_multi | areal
    if not ok.all():
        r = np.flatnonzero(~ok)
        raise InputError(f"geometry is {kinds[r[0]]}; facilities must be points (or polygons)",
                         path=path, row=(r + 1).tolist(), field="geometry")
    if single_multi.any() or areal.any():
        fixed = geom.copy()
        fixed[single_multi] = geom[single_multi].get_geometry(0)
        # An interior point, not the centroid: an L-shaped compound's centroid can fall outside.
        fixed[areal] = geom[areal].representative_point()
        gdf = gdf.set_geometry(fixed)
    return gdf


EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def read_excel_table(path: PathLike, *, sheet: str | int | None = None) -> pd.DataFrame:
    """One worksheet of an Excel workbook as text columns, ready for the table readers.

    Parameters
    ----------
    path : str or PathLike
        ``.xlsx`` / ``.xlsm`` workbook (read with openpyxl).
    sheet : str or int, optional
        Worksheet name or 0-based position; default the first sheet.

    Returns
    -------
    DataFrame
        Every cell as text (so ids such as ``007`` keep their zeros), header names
        stripped, blank rows at the end (formatting left below the data) removed. Row
        numbers in later errors count data rows, as for CSV: row 1 is the sheet's line 2.

    Raises
    ------
    InputError
        Unreadable workbook, unknown sheet, or a sheet without data rows.
    """
    p = check_file(path)
    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except Exception as exc:  # zipfile, openpyxl and XML errors all mean "not a workbook"
        raise InputError(f"cannot be read as an Excel .xlsx workbook: {exc}", path=p) from exc
    names = book.sheet_names
    if sheet is None:
        name = names[0]
    elif isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise InputError(f"sheet position {sheet} out of range; sheets are {names}", path=p)
        name = names[sheet]
    elif sheet in names:
        name = sheet
    else:
        raise InputError(f"no sheet named {sheet!r}; sheets are {names}", path=p)
    with book:
        df = pd.read_excel(book, sheet_name=name, dtype=str)
    df.columns = [str(c).strip() for c in df.columns]
    filled = df.apply(lambda c: c.notna() & (c.astype(str).str.strip() != "")).any(axis=1)
    last = np.flatnonzero(filled.to_numpy())
    df = df.iloc[: last[-1] + 1 if last.size else 0]
    if len(df) == 0:
        raise InputError(f"sheet {name!r} has a header but no data rows", path=p)
    return df


def read_source_points(
    path: PathLike, *, layer: str | int | None = None, sheet: str | int | None = None,
    coordinates: str = "wgs84", source_crs: Any = None, lon: str | None = None,
    lat: str | None = None, x: str | None = None, y: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Points of a CSV, Excel or vector file, with GCJ-02 / BD-09 longitude/latitude undone.

    Parameters are those of :func:`read_facilities`. Returns the file's rows as points in
    the file's CRS (EPSG:4326 after a GCJ-02 or BD-09 conversion), columns as written.
    """
    from elder_coverage.gcj02 import COORDINATE_SYSTEMS, to_wgs84

    if coordinates not in COORDINATE_SYSTEMS:
        raise InputError(f"coordinates must be one of {', '.join(COORDINATE_SYSTEMS)}, got "
                         f"{coordinates!r}", path=path)
    p = check_file(path)
    if p.suffix.lower() == ".xls":
        raise InputError("Excel 97-2003 workbooks (.xls) are not read; open the file in Excel "
                         "or WPS and save it as .xlsx (另存为 .xlsx 格式)", path=p)
    if p.suffix.lower() in EXCEL_SUFFIXES:
        raw = points_from_table(read_excel_table(p, sheet=sheet), p, lon=lon, lat=lat, x=x, y=y,
                                source_crs=source_crs)
    else:
        if sheet is not None:
            raise InputError("sheet= applies to Excel workbooks (.xlsx) only", path=p)
        raw = read_points(p, layer=layer, source_crs=source_crs, lon=lon, lat=lat, x=x, y=y,
                          encoding=encoding)
    if coordinates == "wgs84":
        return raw
    # GCJ-02 and BD-09 are defined on longitude/latitude only: a projected file cannot be
    # in them, and one not in plain geographic degrees is a mistake worth stopping on.
    if raw.crs is None or not raw.crs.is_geographic:
        raise InputError(f"coordinates: {coordinates} needs longitude/latitude in degrees, but "
                         f"the file's CRS is {raw.crs}", path=p)
    import shapely

    def shift(xy: np.ndarray) -> np.ndarray:
        wlon, wlat = to_wgs84(xy[:, 0], xy[:, 1], coordinates)
        return np.column_stack([wlon, wlat])

    moved = gpd.GeoSeries(shapely.transform(raw.geometry.to_numpy(), shift), index=raw.index,
                          crs=4326)
    out = raw.set_crs(4326, allow_override=True)
    out[out.geometry.name] = moved
    return out
