"""Elders of the target years: Hamilton–Perry projection of Jilin's counties to 2025–2030.

The policy targets are dated (2025, 2029) while the census is of 2020. This module projects
each county's residents by sex and five-year age band with the **Hamilton–Perry
cohort-change-ratio method** (Hamilton & Perry 1962; Swanson, Schlottmann & Schmidt 2010,
*Population Research and Policy Review* 29:47–63), from the 2010 and 2020 censuses, and
rescales the elder grid to the projected county totals.

Method and assumptions (also returned by :func:`projection_notes` into every run's notes)

1. **Cohort-change ratios** over the 2010→2020 decade, per crosswalk unit and sex:
   ``CCR[a] = P2020[a] / P2010[a-10]`` for the five-year band starting at age ``a``; for the
   open band, ``CCR[85+] = P2020[85+] / P2010[75+]`` (75-79, 80-84 and 85+ of 2010 together:
   the treatment of the terminal group in Swanson et al. 2010). The ratios fold mortality and
   net migration of 2010-2020 together and are assumed to hold for 2020-2030.
2. **2030** (one ten-year step): ``P2030[a] = CCR[a] × P2020[a-10]``;
   ``P2030[85+] = CCR[85+] × P2020[75+]``.
3. **2025** (half a step): the five-year ratio is the square root of the ten-year ratio that
   ends in the same band, i.e. the cohort's change is spread evenly (geometrically) over the
   decade: ``P2025[a] = √CCR[a] × P2020[a-5]``; ``P2025[85+] = √CCR[85+] × P2020[80+]``.
4. **2029** (and any year between 2025 and 2030): linear interpolation of each county × sex
   × band count between 2025 and 2030, ``P2029 = P2025 + 0.8 (P2030 − P2025)``.
5. **Crosswalk** (:data:`CROSSWALK`): ratios are computed on units that are the same area
   in 2010 and 2020 and applied to each 2020 county's own 2020 counts. Renamed units
   (九台 220181 → 220113, 公主岭 220381 → 220184, 扶余县 220724 → 扶余市 220781) map one to
   one; the development zones carved out of urban districts after 2010 (Changchun 220171-4,
   Jilin 220271-3, Songyuan 220771, Baicheng 220871) are merged with the districts they were
   carved from (see ``elder_coverage.sample.layout.HOST_DISTRICTS``), so their ratios are
   those of the merged unit.
6. Only the bands the elders of 2020-2030 come from are used (40+ in 2010, 50+ in 2020), so
   births and children do not enter. Residents by place of usual residence, as in the census.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from elder_coverage.sample import paths
from elder_coverage.sample.grid import largest_remainder
from elder_coverage.scenario import DEMAND_YEARS

#: The packaged raw sources (``elder_coverage/data/raw``) holding the age-sex tables.
RAW_DIR = paths.raw_dir()
BASE_YEAR, LAUNCH_YEAR = 2010, 2020
#: Five-year band starts of the committed tables; the last band is open-ended (85+).
BANDS: tuple[int, ...] = (40, 45, 50, 55, 60, 65, 70, 75, 80, 85)
SEXES: tuple[str, ...] = ("m", "f")
#: Disjoint age groups the grid is rescaled by: 60-64, 65-79, 80+ (nested 60+ ⊃ 65+ ⊃ 80+).
AGE_GROUPS: dict[str, tuple[int, ...]] = {"60-64": (60,), "65-79": (65, 70, 75),
                                          "80+": (80, 85)}


@dataclass(frozen=True)
class CrosswalkUnit:
    """An area that is the same in both censuses, under its 2010 and its 2020 codes."""

    name: str
    codes_2010: tuple[str, ...]
    codes_2020: tuple[str, ...]
    note: str


#: Units whose codes or boundaries changed between the 2010 and 2020 censuses; every other
#: 2020 county is its own unit under the same code in 2010.
CROSSWALK: tuple[CrosswalkUnit, ...] = (
    CrosswalkUnit("九台", ("220181",), ("220113",), "九台市 became 九台区 (2014); same area"),
    CrosswalkUnit("公主岭", ("220381",), ("220184",),
                  "公主岭市 moved from 四平市 to 长春市 (2020); same area"),
    CrosswalkUnit("扶余", ("220724",), ("220781",), "扶余县 became 扶余市 (2013); same area"),
    CrosswalkUnit("长春市区", ("220102", "220103", "220104", "220105", "220106"),
                  ("220102", "220103", "220104", "220105", "220106",
                   "220171", "220172", "220173", "220174"),
                  "four development zones carved out of the five urban districts after 2010"),
    CrosswalkUnit("吉林市区", ("220202", "220203", "220204", "220211"),
                  ("220202", "220203", "220204", "220211", "220271", "220272", "220273"),
                  "three development zones (uncoded in the 2020 census) carved out of the "
                  "four urban districts"),
    CrosswalkUnit("松原宁江", ("220702",), ("220702", "220771"),
                  "吉林松原经济开发区 (uncoded in the 2020 census) carved out of 宁江区"),
    CrosswalkUnit("白城洮北", ("220802",), ("220802", "220871"),
                  "吉林白城经济开发区 carved out of 洮北区"),
)


def band_columns(bands: tuple[int, ...] = BANDS) -> list[str]:
    """Columns of the age-sex tables: ``m60`` = men aged 60-64; the last band is open."""
    return [f"{s}{a}" for a in bands for s in SEXES]


def load_age_sex(path: str | Path) -> pd.DataFrame:
    """Read a committed age-sex table (raw source ``census20x0_jilin_age_sex.csv``).

    Parameters
    ----------
    path : path-like
        CSV with ``code``, ``name`` and the columns of :func:`band_columns` (persons).

    Returns
    -------
    DataFrame
        Indexed by 6-digit code (str), ``name`` and integer band columns (persons).
    """
    table = pd.read_csv(path, dtype={"code": str})
    missing = [c for c in ["code", "name", *band_columns()] if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    values = table[band_columns()]
    bad = values.isna().any(axis=1) | (values < 0).any(axis=1)
    if bad.any():
        raise ValueError(f"{path}: missing or negative counts in rows "
                         f"{[int(i) + 2 for i in np.flatnonzero(bad)]} (line numbers)")
    if table["code"].duplicated().any():
        dup = sorted(set(table.loc[table["code"].duplicated(), "code"]))
        raise ValueError(f"{path}: duplicate codes {dup}")
    return table.set_index("code")


def _is_county(code: str) -> bool:
    # Province (220000) and prefecture rows (2201 00 …) end in "00"; counties do not.
    return not code.endswith("00")


def crosswalk_table(codes_2010: list[str] | pd.Index, codes_2020: list[str] | pd.Index
                    ) -> pd.DataFrame:
    """Which 2010 counties form the base of each 2020 county.

    Parameters
    ----------
    codes_2010, codes_2020 : list of str
        County codes present in each census table (province and city rows are ignored).

    Returns
    -------
    DataFrame
        Indexed by 2020 county code, with ``unit`` (name of the crosswalk unit),
        ``codes_2010`` (tuple of str) and ``note``.

    Raises
    ------
    ValueError
        When a 2020 county has no 2010 base, or a 2010 county would serve two units.
    """
    c10 = {c for c in codes_2010 if _is_county(c)}
    c20 = sorted(c for c in codes_2020 if _is_county(c))
    rows = {}
    for unit in CROSSWALK:
        present = [c for c in unit.codes_2020 if c in c20]
        if present and len(present) < len(unit.codes_2020):
            # A unit's ratios need all of its 2020 parts, or the base and launch areas differ.
            raise ValueError(f"crosswalk unit {unit.name}: 2020 table has {present} but not "
                             f"{sorted(set(unit.codes_2020) - set(present))}")
        for code in unit.codes_2020:
            rows[code] = (unit.name, unit.codes_2010, unit.note)
    for code in c20:
        if code not in rows and code in c10:
            rows[code] = (code, (code,), "same code and area in 2010 and 2020")
    missing = [c for c in c20 if c not in rows or not set(rows[c][1]) <= c10]
    if missing:
        raise ValueError(f"2020 counties without a 2010 base in the crosswalk: {missing}")
    used: dict[str, str] = {}
    for unit, base, _ in rows.values():
        for b in base:
            if used.setdefault(b, unit) != unit:
                raise ValueError(f"2010 county {b} is the base of two units: {used[b]}, {unit}")
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["unit", "codes_2010", "note"])
    out.index.name = "code"
    return out.loc[c20]


def _projectable(first: int, bands: tuple[int, ...]) -> list[tuple[str, int]]:
    # (sex, band index) of the bands a ten-year ratio exists for, sex-major like the columns.
    return [(s, k) for s in SEXES for k in range(first, len(bands))]


def _cohort_before(table: pd.DataFrame, sex: str, k: int, shift: int,
                   bands: tuple[int, ...]) -> pd.Series:
    """Persons who reach band ``k`` after ``shift`` five-year steps: band ``k - shift``, or for
    the open last band every band from ``k - shift`` up (they all stay in the open band)."""
    if k == len(bands) - 1:
        return table[[f"{sex}{b}" for b in bands[k - shift:]]].sum(axis=1)
    return table[f"{sex}{bands[k - shift]}"]


def cohort_change_ratios(base: pd.DataFrame, launch: pd.DataFrame, *,
                         bands: tuple[int, ...] = BANDS, step: int = 10) -> pd.DataFrame:
    """Hamilton–Perry cohort-change ratios between two censuses ``step`` years apart.

    Parameters
    ----------
    base, launch : DataFrame
        Persons by band column (:func:`band_columns` of ``bands``), one row per unit, same
        index; the last band is open-ended.
    bands : tuple of int
        Five-year band starts, the last one open-ended.
    step : int
        Years between the censuses (a multiple of the band width, 5).

    Returns
    -------
    DataFrame
        Same index; a column per sex and band that can be projected (band start ≥
        ``bands[0] + step``): ``CCR[a] = launch[a] / base[a - step]``, and for the open band
        ``launch[open] / base[open - step and older]``.
    """
    shift = step // 5
    out = {}
    for s, k in _projectable(shift, bands):
        col = f"{s}{bands[k]}"
        denom = _cohort_before(base, s, k, shift, bands)
        if (denom <= 0).any():
            raise ValueError(f"no base-year persons for the cohort reaching {col} in units "
                             f"{list(denom.index[denom <= 0])}: the ratio is undefined")
        out[col] = launch[col] / denom
    return pd.DataFrame(out, index=launch.index)


def project_bands(launch: pd.DataFrame, ccr: pd.DataFrame, *, horizon: int,
                  bands: tuple[int, ...] = BANDS, step: int = 10) -> pd.DataFrame:
    """Project the launch-year counts ``horizon`` years ahead (5 or ``step``).

    Parameters
    ----------
    launch : DataFrame
        Persons by band column at the launch year (one row per county).
    ccr : DataFrame
        Cohort-change ratios of each row's unit (:func:`cohort_change_ratios`), same index.
    horizon : int
        5 (half a step: square root of the ten-year ratio) or ``step`` years.
    bands, step
        As in :func:`cohort_change_ratios`.

    Returns
    -------
    DataFrame
        Projected persons (float) for the bands ≥ ``bands[0] + step``.
    """
    if horizon not in (5, step):
        raise ValueError(f"horizon must be 5 or {step} years, got {horizon}")
    shift = horizon // 5
    power = horizon / step
    out = {}
    for s, k in _projectable(step // 5, bands):
        col = f"{s}{bands[k]}"
        out[col] = _cohort_before(launch, s, k, shift, bands) * ccr[col] ** power
    return pd.DataFrame(out, index=launch.index)


def project_counties(raw_dir: str | Path = RAW_DIR, *,
                     years: tuple[int, ...] = DEMAND_YEARS) -> pd.DataFrame:
    """Residents by county, sex and band (60-64 … 85+) in each of ``years``.

    Parameters
    ----------
    raw_dir : path-like
        Folder with ``census2010_jilin_age_sex.csv`` and ``census2020_jilin_age_sex.csv``.
    years : tuple of int
        Any of 2020 (the census), 2025, 2030 and years between 2025 and 2030.

    Returns
    -------
    DataFrame
        MultiIndex (``year``, ``code``) of 2020 county codes, columns ``m60`` … ``f85``
        (persons, float; 2020 rows are the census integers).
    """
    raw = Path(raw_dir)
    files = [raw / f"census{y}_jilin_age_sex.csv" for y in (BASE_YEAR, LAUNCH_YEAR)]
    stamp = tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files)
    launch, p25, p30 = (f.copy() for f in _launch_and_steps(str(raw.resolve()), stamp))
    frames = {}
    for year in years:
        if year == LAUNCH_YEAR:
            frames[year] = launch
        elif 2025 <= year <= 2030:
            frames[year] = p25 + (year - 2025) / 5 * (p30 - p25)
        else:
            raise ValueError(f"demand year must be 2020 or between 2025 and 2030, got {year}")
    return pd.concat(frames, names=["year", "code"])


@functools.lru_cache(maxsize=4)
def _launch_and_steps(raw: str, stamp: tuple[int, ...]
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # Cached by folder and file times: runs, notebooks and tests ask for several years.
    del stamp
    raw = Path(raw)
    t10 = load_age_sex(raw / "census2010_jilin_age_sex.csv")
    t20 = load_age_sex(raw / "census2020_jilin_age_sex.csv")
    cw = crosswalk_table(t10.index, t20.index)
    units = sorted(set(cw["unit"]))
    cols = band_columns()
    base = pd.DataFrame([t10.loc[list(cw.loc[cw.unit == u, "codes_2010"].iloc[0]), cols].sum()
                         for u in units], index=units)
    launch_u = pd.DataFrame([t20.loc[cw.index[cw.unit == u], cols].sum() for u in units],
                            index=units)
    ccr = cohort_change_ratios(base, launch_u).loc[cw["unit"]].set_axis(cw.index)
    launch = t20.loc[cw.index, cols]
    elder_cols = band_columns(tuple(b for b in BANDS if b >= 60))
    p25 = project_bands(launch, ccr, horizon=5)[elder_cols]
    p30 = project_bands(launch, ccr, horizon=10)[elder_cols]
    return launch[elder_cols].astype(float), p25, p30


def elders_for_year(year: int, *, counties: list[str] | None = None,
                    raw_dir: str | Path = RAW_DIR) -> pd.DataFrame:
    """Elders aged 60+, 65+ and 80+ per county in ``year`` (census 2020 or projection).

    Parameters
    ----------
    year : int
        2020 or a year from 2025 to 2030 (e.g. a policy target year, 2025 or 2029).
    counties : list of str, optional
        2020 county codes to return; default all of Jilin.
    raw_dir : path-like
        Folder of the committed census tables.

    Returns
    -------
    DataFrame
        Indexed by county code: ``age60``, ``age65``, ``age80`` (persons, rounded to whole
        persons per group, so 80+ ≤ 65+ ≤ 60+).
    """
    bands = project_counties(raw_dir, years=(year,)).loc[year]
    if counties is not None:
        unknown = sorted(set(counties) - set(bands.index))
        if unknown:
            raise ValueError(f"no census rows for county codes {unknown} (Jilin 2020 codes)")
        bands = bands.loc[list(counties)]
    return group_integers(bands)


def group_integers(bands: pd.DataFrame) -> pd.DataFrame:
    """Whole persons in the disjoint groups 60-64 / 65-79 / 80+, summed to 60+/65+/80+."""
    g = {name: bands[[f"{s}{a}" for a in ages for s in SEXES]].sum(axis=1).round().astype(
        np.int64) for name, ages in AGE_GROUPS.items()}
    return pd.DataFrame({"age60": g["60-64"] + g["65-79"] + g["80+"],
                         "age65": g["65-79"] + g["80+"], "age80": g["80+"]})


def rescale_cells(cells: pd.DataFrame, year: int, *, raw_dir: str | Path = RAW_DIR,
                  county_column: str = "county_code") -> pd.DataFrame:
    """The demand cells with their elders rescaled from 2020 to ``year``.

    Each county's cells are scaled per disjoint age group (60-64, 65-79, 80+) by the ratio of
    the county's projected to its 2020 census count, then rounded to whole persons by the
    largest-remainder method, so that every county × group sums exactly to
    ``round(ratio × its 2020 cell sum)`` (the projected census figure for the sample, whose
    cells sum to the census) and 80+ ≤ 65+ ≤ 60+ holds in every cell. ``year = 2020``
    returns the cells unchanged.

    Parameters
    ----------
    cells : DataFrame
        Demand cells with ``elders_60``, ``elders_65``, ``elders_80`` (persons) and the
        county code column.
    year : int
        Target year (2020, or 2025 to 2030).
    raw_dir : path-like
        Folder of the committed census tables.
    county_column : str
        Column with the 2020 county code of each cell.

    Returns
    -------
    DataFrame
        A copy of ``cells`` with the three elder columns replaced (int64).
    """
    if year == LAUNCH_YEAR:
        return cells.copy()
    if county_column not in cells.columns:
        raise ValueError(f"demand cells need a {county_column!r} column to be rescaled to {year}")
    proj = project_counties(raw_dir, years=(LAUNCH_YEAR, year))
    # Codes once per distinct value (a province has 800 k cells and 60 counties).
    county, uniq = pd.factorize(cells[county_column].astype(str), sort=True)
    codes = [str(c) for c in uniq]
    unknown = sorted(set(codes) - set(proj.loc[LAUNCH_YEAR].index))
    if unknown:
        raise ValueError(f"cannot project demand to {year}: county codes {unknown} of the demand "
                         "cells are not Jilin 2020 census counties")
    ratios = _group_ratios(proj, codes, year)
    # Each county's cells as one slice of a stable sort by county: the cells keep their order
    # within the county (largest_remainder breaks ties by it), and no boolean mask over all
    # cells is built per county and group (60 counties × 3 groups on 800 k cells).
    order = np.argsort(county, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(county, minlength=len(codes)))])
    e60, e65, e80 = (cells[c].to_numpy(float) for c in ("elders_60", "elders_65", "elders_80"))
    parts = {"60-64": e60 - e65, "65-79": e65 - e80, "80+": e80}
    new = {}
    for group in AGE_GROUPS:
        then = parts[group][order]
        now = np.zeros(len(cells), dtype=np.int64)
        for j in range(len(codes)):
            expected = then[bounds[j]:bounds[j + 1]] * ratios[group][j]
            now[bounds[j]:bounds[j + 1]] = largest_remainder(expected,
                                                             int(round(expected.sum())))
        new[group] = np.empty_like(now)
        new[group][order] = now
    # Only the three elder columns are new: the other columns are shared, not copied
    # (copy-on-write keeps ``cells`` itself unchanged).
    out = cells.copy(deep=False)
    out["elders_80"] = new["80+"]
    out["elders_65"] = new["65-79"] + new["80+"]
    out["elders_60"] = new["60-64"] + new["65-79"] + new["80+"]
    return out


def _group_ratios(proj: pd.DataFrame, codes: list[str], year: int) -> dict[str, np.ndarray]:
    """Projected over 2020 persons per age group (:data:`AGE_GROUPS`) for each county.

    Parameters
    ----------
    proj : DataFrame
        :func:`project_counties` of 2020 and ``year``.
    codes : list of str
        2020 county codes, in the order of the returned arrays.
    year : int

    Returns
    -------
    dict
        Group → ratio per county (0 where the county had nobody of the group in 2020).
    """
    out = {}
    for group, ages in AGE_GROUPS.items():
        cols = [f"{s}{a}" for a in ages for s in SEXES]
        # Each county's sum over its few band columns in column order, as a Series sum of
        # one row would add them: the ratios are the same doubles as one lookup per county.
        then = proj.loc[LAUNCH_YEAR].loc[codes, cols].to_numpy(float)
        now = proj.loc[year].loc[codes, cols].to_numpy(float)
        out[group] = np.array([now[j].sum() / then[j].sum() if then[j].sum() > 0 else 0.0
                               for j in range(len(codes))])
    return out


def elders_by_year(counties: list[str], *, years: tuple[int, ...] = DEMAND_YEARS,
                   raw_dir: str | Path = RAW_DIR) -> dict[str, dict[str, int]] | None:
    """Study-area elders in each year, for a run's summary (None outside Jilin's counties).

    Parameters
    ----------
    counties : list of str
        2020 county codes of the study area.
    years : tuple of int
        Years to report.
    raw_dir : path-like
        Folder of the committed census tables.

    Returns
    -------
    dict or None
        ``{"2020": {"60+": persons, "65+": …, "80+": …}, "2029": {…}, …}``; None when a
        county is not a Jilin 2020 census county (planner's own data elsewhere) or the census
        tables are not there.
    """
    raw = Path(raw_dir)
    if not all((raw / f"census{y}_jilin_age_sex.csv").is_file() for y in (BASE_YEAR, LAUNCH_YEAR)):
        return None  # a raw_dir without the age-sex tables (a caller's own folder): no report
    known = set(project_counties(raw_dir, years=(LAUNCH_YEAR,)).loc[LAUNCH_YEAR].index)
    if not counties or not set(counties) <= known:
        return None
    out = {}
    for year in years:
        e = elders_for_year(year, counties=list(counties), raw_dir=raw_dir).sum()
        out[str(year)] = {"60+": int(e["age60"]), "65+": int(e["age65"]),
                          "80+": int(e["age80"])}
    return out


def projection_notes(year: int) -> list[str]:
    """The assumptions behind the elders of ``year``, for a run's notes (English)."""
    if year == LAUNCH_YEAR:
        return ["demand: 2020 census (no projection)"]
    return [
        f"demand: elders of {year} projected from the 2010 and 2020 censuses with the "
        "Hamilton–Perry cohort-change-ratio method (Swanson, Schlottmann & Schmidt 2010), by "
        "county, sex and five-year band; 2010–2020 ratios (mortality and migration together) "
        "assumed to hold to 2030",
        "demand: open band 85+ from the 75+ of ten years earlier; 2025 with the square root "
        "of the ten-year ratios; years between 2025 and 2030 by linear interpolation "
        "(2029 = 2025 + 0.8 × (2030 − 2025))",
        "demand: ratios on areas that are the same in both censuses (renamed counties mapped; "
        "development zones merged with the districts they were carved from)",
        "demand: each county's grid rescaled per age group (60-64, 65-79, 80+); the spatial "
        "pattern within a county is that of 2020",
    ]
