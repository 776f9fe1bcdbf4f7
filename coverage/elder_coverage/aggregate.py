"""Coverage and supply per township, county and the whole study area; ranked gaps.

Every elder is counted exactly once: each cell belongs to exactly one township row and one
county row (cells without a code go to an explicit ``"unassigned"`` row, never dropped), and
for every kind ``covered + uncovered = total`` in every row. With whole-person counts the
identities hold exactly in floating point (sums of integers below 2**53 are exact).

Beds are the ``capacity`` of facilities of :data:`BED_KINDS` (dining-hall seats are not beds),
attributed to areas by the facility's own ``township_code`` / ``county_code``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from elder_coverage.engine import CoverageInputError, CoverageResult
from elder_coverage.kinds import kinds_with_role
from elder_coverage.schema import AGE_COLUMNS, FACILITY_KINDS

#: Row label for cells or facilities without an area code.
UNASSIGNED = "unassigned"
#: Row label of the whole study area.
STUDY_AREA = "study_area"
#: Kinds whose ``capacity`` counts as elder-care beds (dining halls count seats): the
#: ``beds`` role of ``kinds.yaml``.
BED_KINDS: tuple[str, ...] = kinds_with_role("beds")
#: Community-level services of the quarter-hour walking circle (``community`` role).
COMMUNITY_KINDS: tuple[str, ...] = kinds_with_role("community")
#: Combined coverage columns: covered by ANY of the listed kinds.
DEFAULT_COMBINED: dict[str, tuple[str, ...]] = {"community": COMMUNITY_KINDS}

LEVELS: dict[str, str | None] = {
    "township": "township_code",
    "county": "county_code",
    STUDY_AREA: None,
}


def _cells_of(coverage: CoverageResult | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return coverage.cells if isinstance(coverage, CoverageResult) else coverage


def area_codes(frame: pd.DataFrame, column: str) -> pd.Series:
    """Area code per row as text; missing or blank codes become :data:`UNASSIGNED`."""
    if column not in frame:
        return pd.Series(UNASSIGNED, index=frame.index, dtype=object)
    # A province has a million cells but a few thousand codes: clean each distinct code once.
    # Factorized in the column's own dtype: an Arrow string column is hashed in Arrow, not
    # first turned into a million Python strings (the text of each distinct value is the same).
    pos, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    clean = np.array([str(v).strip() or UNASSIGNED for v in uniques] + [UNASSIGNED],
                     dtype=object)
    return pd.Series(clean[pos], index=frame.index, dtype=object)


def covered_any(cells: pd.DataFrame, kinds: Sequence[str]) -> np.ndarray:
    """True where a cell is covered by at least one of ``kinds``."""
    out = np.zeros(len(cells), dtype=bool)
    for k in kinds:
        col = f"{k}_covered"
        if col not in cells:
            raise CoverageInputError(f"coverage table has no column {col!r}; run "
                                     f"compute_coverage with kind {k!r}")
        out |= cells[col].to_numpy(dtype=bool)
    return out


def _coverage_kinds(cells: pd.DataFrame, kinds: Sequence[str] | None) -> list[str]:
    if kinds is not None:
        return list(kinds)
    return [k for k in FACILITY_KINDS if f"{k}_covered" in cells]


def area_table(
    coverage: CoverageResult | gpd.GeoDataFrame,
    facilities: pd.DataFrame | None = None,
    *,
    level: str = "township",
    kinds: Sequence[str] | None = None,
    age: int = 60,
    combined: Mapping[str, Sequence[str]] | None = None,
    bed_kinds: Sequence[str] = BED_KINDS,
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Elders, coverage and beds for each area of one level.

    Parameters
    ----------
    coverage : CoverageResult or GeoDataFrame
        Output of :func:`elder_coverage.engine.compute_coverage` (cells with ``<kind>_covered``).
    facilities : DataFrame, optional
        Facilities with ``kind``, ``capacity`` (places), optional ``nursing_beds`` and area
        codes; without it the bed columns are NaN.
    level : {"township", "county", "study_area"}
    kinds : sequence of str, optional
        Kinds to report (default: every kind with a ``_covered`` column).
    age : {60, 65, 80}
        Age floor of the covered/uncovered counts.
    combined : mapping, optional
        Extra "covered by any of" groups; default ``{"community": COMMUNITY_KINDS}`` when all
        three are present. Pass ``{}`` for none.
    bed_kinds : sequence of str
        Kinds whose capacity counts as beds.
    names : mapping, optional
        Area code → name, added as a ``name`` column.

    Returns
    -------
    pandas.DataFrame
        One row per area (sorted by code, ``unassigned`` last): ``level``, ``code``,
        ``n_cells``, ``elders_60/65/80`` (persons), for each kind or group ``<k>_covered``,
        ``<k>_uncovered`` (persons aged ``age``+) and ``<k>_share`` (0-1, NaN with no elders),
        ``beds``, ``nursing_beds``, ``beds_per_1000`` (beds per 1,000 elders aged ``age``+)
        and ``nursing_bed_share`` (0-1). Missing ``nursing_beds`` count as 0.
    """
    if level not in LEVELS:
        raise CoverageInputError(f"level: {level!r} is not one of {list(LEVELS)}")
    if age not in AGE_COLUMNS:
        raise CoverageInputError(f"age: {age} is not one of {sorted(AGE_COLUMNS)}")
    cells = _cells_of(coverage)
    main = AGE_COLUMNS[age]
    if main not in cells:
        raise CoverageInputError(f"cells: missing column {main!r}")
    kinds = _coverage_kinds(cells, kinds)
    if combined is None:
        combined = ({"community": COMMUNITY_KINDS}
                    if all(f"{k}_covered" in cells for k in COMMUNITY_KINDS) else {})
    col = LEVELS[level]
    key = (pd.Series(STUDY_AREA, index=cells.index, dtype=object) if col is None
           else area_codes(cells, col))
    data = {"_key": key.to_numpy()}
    data["n_cells"] = np.ones(len(cells), dtype=np.int64)
    for c in AGE_COLUMNS.values():
        data[c] = (pd.to_numeric(cells[c]).to_numpy(dtype=float) if c in cells
                   else np.full(len(cells), np.nan))
    elders = data[main]
    groups: dict[str, np.ndarray] = {k: cells[f"{k}_covered"].to_numpy(dtype=bool)
                                     for k in kinds}
    for name, members in combined.items():
        groups[name] = covered_any(cells, members)
    for k, mask in groups.items():
        # Two disjoint masked sums, so covered + uncovered partitions the total exactly.
        data[f"{k}_covered"] = np.where(mask, elders, 0.0)
        data[f"{k}_uncovered"] = np.where(mask, 0.0, elders)
    frame = pd.DataFrame(data)
    table = frame.groupby("_key", sort=True, dropna=False).sum(min_count=0)
    for k in groups:
        tot = table[main].to_numpy()
        table[f"{k}_share"] = np.divide(table[f"{k}_covered"].to_numpy(), tot,
                                        out=np.full(len(table), np.nan), where=tot > 0)
    ordered = ["n_cells", *AGE_COLUMNS.values()]
    for k in groups:
        ordered += [f"{k}_covered", f"{k}_uncovered", f"{k}_share"]
    table = table[ordered]
    beds = _beds_by_area(facilities, col, bed_kinds)
    if beds is not None:
        table = table.join(beds, how="outer")
        for c in ordered:
            table[c] = table[c].fillna(0)
        table["n_cells"] = table["n_cells"].astype(np.int64)
        for c in ("beds", "nursing_beds"):
            table[c] = table[c].fillna(0.0)
        tot = table[main].to_numpy()
        table["beds_per_1000"] = np.divide(table["beds"].to_numpy() * 1000.0, tot,
                                           out=np.full(len(table), np.nan), where=tot > 0)
        b = table["beds"].to_numpy()
        table["nursing_bed_share"] = np.divide(table["nursing_beds"].to_numpy(), b,
                                               out=np.full(len(table), np.nan), where=b > 0)
    else:
        for c in ("beds", "nursing_beds", "beds_per_1000", "nursing_bed_share"):
            table[c] = np.nan
    table.index.name = "code"
    table = table.reset_index()
    # Areas by code, the unassigned row last so it stays visible at the bottom.
    table["_last"] = table["code"] == UNASSIGNED
    table = table.sort_values(["_last", "code"], kind="stable").drop(columns="_last")
    table.insert(0, "level", level)
    if names is not None:
        table.insert(2, "name", table["code"].map(lambda c: names.get(c, "")))
    return table.reset_index(drop=True)


def _beds_by_area(facilities: pd.DataFrame | None, col: str | None,
                  bed_kinds: Sequence[str]) -> pd.DataFrame | None:
    if facilities is None:
        return None
    for c in ("kind", "capacity"):
        if c not in facilities:
            raise CoverageInputError(f"facilities: missing column {c!r}")
    fac = facilities.loc[facilities["kind"].isin(list(bed_kinds))]
    cap = pd.to_numeric(fac["capacity"], errors="coerce")
    if cap.isna().any() or (cap < 0).any():
        bad = fac.loc[cap.isna() | (cap < 0)].iloc[0]
        raise CoverageInputError(f"facilities: id={bad.get('id')!r} has missing or negative "
                                 f"capacity {bad['capacity']!r}")
    nursing = (pd.to_numeric(fac["nursing_beds"], errors="coerce").fillna(0.0)
               if "nursing_beds" in fac else pd.Series(0.0, index=fac.index))
    key = (pd.Series(STUDY_AREA, index=fac.index, dtype=object) if col is None
           else area_codes(fac, col))
    out = pd.DataFrame({"_key": key.to_numpy(), "beds": cap.to_numpy(dtype=float),
                        "nursing_beds": nursing.to_numpy(dtype=float)})
    return out.groupby("_key", sort=True).sum()


def area_tables(
    coverage: CoverageResult | gpd.GeoDataFrame,
    facilities: pd.DataFrame | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Township, county and study-area rows stacked in one table (``level`` tells them apart).

    Keyword arguments are passed to :func:`area_table`.
    """
    parts = [area_table(coverage, facilities, level=lv, **kwargs) for lv in LEVELS]
    return pd.concat(parts, ignore_index=True)


def _lonlat(geom: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    if geom.crs is None:
        raise CoverageInputError("cannot give lon/lat: layer has no CRS")
    ll = geom.to_crs(4326)
    return ll.x.to_numpy(), ll.y.to_numpy()


def ranked_gaps(
    coverage: CoverageResult | gpd.GeoDataFrame,
    kind: str | Sequence[str],
    *,
    villages: gpd.GeoDataFrame | None = None,
    age: int = 60,
    top: int | None = 50,
) -> pd.DataFrame:
    """Places holding the most uncovered elders, largest first.

    Parameters
    ----------
    coverage : CoverageResult or GeoDataFrame
        Output of :func:`elder_coverage.engine.compute_coverage`.
    kind : str or sequence of str
        A facility kind, or several (a cell is covered if any of them covers it).
    villages : GeoDataFrame, optional
        Village points with ``code`` (and ``name``, ``township_code``). Each uncovered cell
        is given to its nearest village point and villages are ranked; without it cells are
        ranked.
    age : {60, 65, 80}
        Age floor of the counts.
    top : int or None
        Rows to return (None: all with at least one uncovered elder).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``code`` (village code or ``cell_id``), ``name``, ``township_code``,
        ``county_code``, ``n_cells``, ``uncovered`` (persons), ``share`` of all uncovered
        elders, ``cum_share``, ``lon``, ``lat`` (WGS84 degrees of the village point or cell).
    """
    return ranked_gaps_of(coverage, [kind], villages=villages, age=age, top=top)[0]


def ranked_gaps_of(
    coverage: CoverageResult | gpd.GeoDataFrame,
    kinds: Sequence[str | Sequence[str]],
    *,
    villages: gpd.GeoDataFrame | None = None,
    age: int = 60,
    top: int | None = 50,
) -> list[pd.DataFrame]:
    """:func:`ranked_gaps` of each of several kinds, in their order.

    What does not depend on the kind is done once for all of them: the nearest village of
    every cell some kind leaves uncovered (one KD-tree query instead of one per kind), the
    villages' or cells' codes and WGS84 coordinates.

    Parameters
    ----------
    coverage : CoverageResult or GeoDataFrame
        Output of :func:`elder_coverage.engine.compute_coverage`.
    kinds : sequence
        Each item a facility kind or a sequence of kinds (covered by any of them).
    villages, age, top
        As for :func:`ranked_gaps`.

    Returns
    -------
    list of pandas.DataFrame
        One :func:`ranked_gaps` table per item of ``kinds``.
    """
    cells = _cells_of(coverage)
    if age not in AGE_COLUMNS:
        raise CoverageInputError(f"age: {age} is not one of {sorted(AGE_COLUMNS)}")
    elders = pd.to_numeric(cells[AGE_COLUMNS[age]]).to_numpy(dtype=float)
    uncovered = [np.where(covered_any(cells, [k] if isinstance(k, str) else list(k)), 0.0,
                          elders) for k in kinds]
    need = np.zeros(len(cells), dtype=bool)
    for unc in uncovered:
        need |= unc > 0
    places = (_CellPlaces(cells, need) if villages is None
              else _VillagePlaces(cells, villages, need))
    return [_rank(places.table(unc), float(unc.sum()), top) for unc in uncovered]


class _CellPlaces:
    """Uncovered cells ranked as themselves: codes and WGS84 points of the cells in need."""

    def __init__(self, cells: gpd.GeoDataFrame, need: np.ndarray):
        self.cells = cells
        idx = np.flatnonzero(need)
        lon, lat = np.full(len(cells), np.nan), np.full(len(cells), np.nan)
        lon[idx], lat[idx] = _lonlat(cells.geometry.iloc[idx])
        self.lon, self.lat = lon, lat
        self.township = area_codes(cells, "township_code").to_numpy()
        self.county = area_codes(cells, "county_code").to_numpy()

    def table(self, unc: np.ndarray) -> pd.DataFrame:
        keep = np.flatnonzero(unc > 0)
        return pd.DataFrame({
            "code": self.cells["cell_id"].to_numpy()[keep],
            "name": "",
            "township_code": self.township[keep],
            "county_code": self.county[keep],
            "n_cells": 1,
            "uncovered": unc[keep],
            "lon": self.lon[keep],
            "lat": self.lat[keep],
        })


class _VillagePlaces:
    """Uncovered cells given to their nearest village point, found once for every kind."""

    def __init__(self, cells: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, need: np.ndarray):
        if "code" not in villages:
            raise CoverageInputError("villages: missing column 'code'")
        if villages.crs is None or cells.crs is None or villages.crs != cells.crs:
            raise CoverageInputError(f"CRS mismatch: cells are in {cells.crs} but villages in "
                                     f"{villages.crs}; reproject one to the other")
        idx = np.flatnonzero(need)
        vx = np.column_stack([villages.geometry.x, villages.geometry.y])
        cx = np.column_stack([cells.geometry.x.to_numpy()[idx], cells.geometry.y.to_numpy()[idx]])
        # A point's nearest village does not depend on the other points asked with it.
        self.nearest = np.full(len(cells), -1, dtype=np.int64)
        if len(idx):
            self.nearest[idx] = cKDTree(vx).query(cx, k=1)[1]
        self.code = villages["code"].astype(str).to_numpy()
        self.name = villages["name"].to_numpy() if "name" in villages else None
        self.township = area_codes(villages, "township_code").to_numpy()
        self.county = area_codes(villages, "county_code").to_numpy()
        self.lon, self.lat = _lonlat(villages.geometry)

    def table(self, unc: np.ndarray) -> pd.DataFrame:
        keep = np.flatnonzero(unc > 0)
        # groupby sums as before (compensated): the same doubles in every share.
        grouped = pd.DataFrame({"v": self.nearest[keep], "uncovered": unc[keep]}).groupby(
            "v").agg(n_cells=("uncovered", "size"), uncovered=("uncovered", "sum"))
        v = grouped.index.to_numpy()
        return pd.DataFrame({
            "code": self.code[v],
            "name": self.name[v] if self.name is not None else "",
            "township_code": self.township[v],
            "county_code": self.county[v],
            "n_cells": grouped["n_cells"].to_numpy(),
            "uncovered": grouped["uncovered"].to_numpy(),
            "lon": self.lon[v],
            "lat": self.lat[v],
        })


def _rank(out: pd.DataFrame, total: float, top: int | None) -> pd.DataFrame:
    """Places sorted by uncovered elders (code breaks ties), with rank and shares."""
    out = out.sort_values(["uncovered", "code"], ascending=[False, True], kind="stable")
    out["share"] = out["uncovered"] / total if total > 0 else np.nan
    out["cum_share"] = out["share"].cumsum()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    cols = ["rank", "code", "name", "township_code", "county_code", "n_cells", "uncovered",
            "share", "cum_share", "lon", "lat"]
    out = out[cols].reset_index(drop=True)
    return out if top is None else out.head(top)
