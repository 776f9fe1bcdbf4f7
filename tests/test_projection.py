"""Hamilton–Perry projection of elders: hand-computed cases, the crosswalk, conservation."""

import numpy as np
import pandas as pd
import pytest

from elder_coverage.demand import (
    CROSSWALK,
    RAW_DIR,
    cohort_change_ratios,
    crosswalk_table,
    elders_for_year,
    load_age_sex,
    project_bands,
    project_counties,
    rescale_cells,
)
from elder_coverage.sample.census import PROVINCE_60_PLUS

BANDS = (50, 55, 60, 65)  # a toy table: the last band, 65+, is open-ended


def _toy():
    # One county. Men: CCR[60] = 81/100 = 0.81, CCR[65+] = 64/(40+35+25) = 0.64.
    # Women: CCR[60] = 90/100 = 0.9, CCR[65+] = 80/(50+30+20) = 0.8.
    base = pd.DataFrame({"m50": [100], "f50": [100], "m55": [40], "f55": [50],
                         "m60": [35], "f60": [30], "m65": [25], "f65": [20]}, index=["c"])
    launch = pd.DataFrame({"m50": [200], "f50": [100], "m55": [150], "f55": [100],
                           "m60": [81], "f60": [90], "m65": [64], "f65": [80]}, index=["c"])
    return base, launch


def test_cohort_change_ratios_by_hand():
    base, launch = _toy()
    ccr = cohort_change_ratios(base, launch, bands=BANDS)
    assert ccr.loc["c"].to_dict() == pytest.approx({"m60": 0.81, "m65": 0.64,
                                                    "f60": 0.9, "f65": 0.8})


def test_ten_and_five_year_projection_by_hand():
    base, launch = _toy()
    ccr = cohort_change_ratios(base, launch, bands=BANDS)
    p30 = project_bands(launch, ccr, horizon=10, bands=BANDS).loc["c"]
    # 2030: men 60-64 = 0.81 × 200 (men 50-54 of 2020); men 65+ = 0.64 × (150 + 81 + 64).
    assert p30.to_dict() == pytest.approx({"m60": 162.0, "m65": 188.8,
                                           "f60": 90.0, "f65": 216.0})
    p25 = project_bands(launch, ccr, horizon=5, bands=BANDS).loc["c"]
    # 2025: √0.81 × 150 (men 55-59); men 65+ = √0.64 × (81 + 64); women √0.9 × 100, √0.8 × 170.
    assert p25.to_dict() == pytest.approx({"m60": 135.0, "m65": 116.0,
                                           "f60": np.sqrt(0.9) * 100, "f65": np.sqrt(0.8) * 170})
    with pytest.raises(ValueError, match="horizon"):
        project_bands(launch, ccr, horizon=7, bands=BANDS)


def test_undefined_ratio_is_an_error():
    base, launch = _toy()
    base.loc["c", "m50"] = 0
    with pytest.raises(ValueError, match="m60 in units \\['c'\\]"):
        cohort_change_ratios(base, launch, bands=BANDS)


def test_2029_interpolates_2025_and_2030_per_band():
    p = project_counties(years=(2025, 2029, 2030))
    expected = p.loc[2025] + 0.8 * (p.loc[2030] - p.loc[2025])
    assert np.allclose(p.loc[2029].to_numpy(), expected.to_numpy())


def test_one_real_county_by_hand():
    """永吉 (220221, same code and area in both censuses) from the table values directly."""
    t10 = load_age_sex(RAW_DIR / "census2010_jilin_age_sex.csv").loc["220221"]
    t20 = load_age_sex(RAW_DIR / "census2020_jilin_age_sex.csv").loc["220221"]
    p = project_counties(years=(2025, 2030))
    assert p.loc[(2030, "220221"), "f60"] == pytest.approx(t20["f60"] / t10["f50"] * t20["f50"])
    old10 = t10[["m75", "m80", "m85"]].sum()
    assert p.loc[(2030, "220221"), "m85"] == pytest.approx(
        t20["m85"] / old10 * t20[["m75", "m80", "m85"]].sum())
    assert p.loc[(2025, "220221"), "m70"] == pytest.approx(
        np.sqrt(t20["m70"] / t10["m60"]) * t20["m65"])


def test_merged_unit_shares_its_ratio():
    """The development zone 220871 and its host 洮北 220802 get the ratios of their union."""
    t10 = load_age_sex(RAW_DIR / "census2010_jilin_age_sex.csv")
    t20 = load_age_sex(RAW_DIR / "census2020_jilin_age_sex.csv")
    ratio = (t20.loc[["220802", "220871"], "m60"].sum() / t10.loc["220802", "m50"])
    p = project_counties(years=(2030,)).loc[2030]
    for code in ("220802", "220871"):
        assert p.loc[code, "m60"] == pytest.approx(ratio * t20.loc[code, "m50"])


def test_crosswalk_gives_every_2020_county_a_2010_base():
    t10 = load_age_sex(RAW_DIR / "census2010_jilin_age_sex.csv")
    t20 = load_age_sex(RAW_DIR / "census2020_jilin_age_sex.csv")
    cw = crosswalk_table(t10.index, t20.index)
    counties20 = [c for c in t20.index if not c.endswith("00")]
    counties10 = [c for c in t10.index if not c.endswith("00")]
    assert sorted(cw.index) == sorted(counties20) and len(cw) == 69
    assert cw.loc["220184", "codes_2010"] == ("220381",)
    assert cw.loc["220781", "codes_2010"] == ("220724",)
    assert cw.loc["220113", "codes_2010"] == ("220181",)
    # Every 2010 county is the base of exactly one unit: the units partition the province.
    bases = cw.drop_duplicates("unit")["codes_2010"].explode()
    assert sorted(bases) == sorted(counties10)
    assert {u.name for u in CROSSWALK} <= set(cw["unit"])


def test_crosswalk_refuses_a_county_without_base_and_a_split_unit():
    with pytest.raises(ValueError, match="without a 2010 base.*220184"):
        crosswalk_table(["220102"], ["220184"])
    with pytest.raises(ValueError, match="220871"):
        crosswalk_table(["220802"], ["220802"])


def test_2020_is_the_census():
    census = pd.read_csv(RAW_DIR / "census2020_jilin_counties.csv", dtype={"code": str})
    census = census.set_index("code")
    e = elders_for_year(2020)
    assert int(e["age60"].sum()) == PROVINCE_60_PLUS
    for col in ("age60", "age65", "age80"):
        assert (e.loc[census.index, col] == census[col]).all()


def test_projected_elders_grow_and_nest():
    e20, e29 = elders_for_year(2020), elders_for_year(2029)
    assert (e29["age80"] <= e29["age65"]).all() and (e29["age65"] <= e29["age60"]).all()
    # The 1961-65 cohorts (55-59 in 2020) turn 60: the province's 60+ grows by over a fifth.
    assert e29["age60"].sum() > 1.2 * e20["age60"].sum()
    with pytest.raises(ValueError, match="999999"):
        elders_for_year(2029, counties=["999999"])
    with pytest.raises(ValueError, match="2040"):
        elders_for_year(2040)


def _cells():
    rng = np.random.default_rng(3)
    n = 40
    e80 = rng.integers(0, 20, n)
    e65 = e80 + rng.integers(0, 50, n)
    e60 = e65 + rng.integers(0, 40, n)
    return pd.DataFrame({"cell_id": np.arange(n), "elders_60": e60, "elders_65": e65,
                         "elders_80": e80,
                         "county_code": np.where(np.arange(n) < 25, "220281", "220221")})


def test_rescale_2020_is_identity():
    cells = _cells()
    pd.testing.assert_frame_equal(rescale_cells(cells, 2020), cells)


def test_rescale_conserves_each_county_and_group():
    cells = _cells()
    out = rescale_cells(cells, 2029)
    p = project_counties(years=(2020, 2029))
    groups = {"60-64": ["m60", "f60"], "65-79": ["m65", "f65", "m70", "f70", "m75", "f75"],
              "80+": ["m80", "f80", "m85", "f85"]}
    for code, g in cells.groupby("county_code"):
        new = out.loc[g.index]
        parts_then = {"60-64": g.elders_60 - g.elders_65, "65-79": g.elders_65 - g.elders_80,
                      "80+": g.elders_80}
        parts_now = {"60-64": new.elders_60 - new.elders_65,
                     "65-79": new.elders_65 - new.elders_80, "80+": new.elders_80}
        for name, cols in groups.items():
            ratio = p.loc[(2029, code), cols].sum() / p.loc[(2020, code), cols].sum()
            assert parts_now[name].sum() == round(parts_then[name].sum() * ratio)
            # Whole persons, each cell within one person of its exact share.
            assert (np.abs(parts_now[name] - parts_then[name] * ratio) < 1).all()
    assert (out.elders_80 <= out.elders_65).all() and (out.elders_65 <= out.elders_60).all()


def _rescale_reference(cells, year):
    """The rescaling as first written: one boolean mask per county and group."""
    from elder_coverage.demand import AGE_GROUPS, SEXES
    from elder_coverage.sample.grid import largest_remainder

    proj = project_counties(years=(2020, year))
    county, uniq = pd.factorize(cells["county_code"].astype(str), sort=True)
    e60, e65, e80 = (cells[c].to_numpy(float) for c in ("elders_60", "elders_65", "elders_80"))
    parts = {"60-64": e60 - e65, "65-79": e65 - e80, "80+": e80}
    new = {g: np.zeros(len(cells), dtype=np.int64) for g in AGE_GROUPS}
    for j, code in enumerate(str(c) for c in uniq):
        sel = county == j
        for group, ages in AGE_GROUPS.items():
            cols = [f"{s}{a}" for a in ages for s in SEXES]
            then = proj.loc[(2020, code), cols].sum()
            ratio = proj.loc[(year, code), cols].sum() / then if then > 0 else 0.0
            expected = parts[group][sel] * ratio
            new[group][sel] = largest_remainder(expected, int(round(expected.sum())))
    return new["80+"], new["65-79"] + new["80+"], new["60-64"] + new["65-79"] + new["80+"]


@pytest.mark.parametrize("year", [2025, 2029])
def test_rescale_equals_the_per_county_mask_reference(year):
    """Counties interleaved in any order, ties in the remainders: the same whole persons."""
    rng = np.random.default_rng(year)
    n = 3000
    e80 = rng.integers(0, 4, n)  # small counts: many equal fractional parts to break
    e65 = e80 + rng.integers(0, 6, n)
    e60 = e65 + rng.integers(0, 5, n)
    cells = pd.DataFrame({"cell_id": np.arange(n), "elders_60": e60.astype(float),
                          "elders_65": e65.astype(float), "elders_80": e80.astype(float),
                          "county_code": rng.choice(["220281", "220221", "220102", "220781"],
                                                    n)}, index=np.arange(n)[::-1] * 7)
    before = cells.copy()
    out = rescale_cells(cells, year)
    e80_ref, e65_ref, e60_ref = _rescale_reference(cells, year)
    assert np.array_equal(out["elders_80"].to_numpy(), e80_ref)
    assert np.array_equal(out["elders_65"].to_numpy(), e65_ref)
    assert np.array_equal(out["elders_60"].to_numpy(), e60_ref)
    assert out["elders_60"].dtype == np.int64 and out.index.equals(cells.index)
    pd.testing.assert_frame_equal(cells, before)  # the input is left as it was
    pd.testing.assert_frame_equal(out[["cell_id", "county_code"]],
                                  before[["cell_id", "county_code"]])


def test_rescale_refuses_counties_outside_jilin():
    cells = _cells().assign(county_code="110101")
    with pytest.raises(ValueError, match="110101"):
        rescale_cells(cells, 2025)


def test_sample_grid_rescaled_to_2029_sums_to_the_projection(sample_path):
    from elder_coverage.study import load_sample

    cells = load_sample(sample_path).cells
    out = rescale_cells(cells, 2029)
    sums = out.groupby("county_code")[["elders_60", "elders_65", "elders_80"]].sum()
    e = elders_for_year(2029, counties=list(sums.index))
    assert (sums.to_numpy() == e[["age60", "age65", "age80"]].to_numpy()).all()


def test_scenario_demand_year_is_validated():
    from elder_coverage.scenario import ScenarioError, parse_scenario

    base = {"name": "y", "analyses": {"coverage": {}}}
    assert parse_scenario(base).demand_year == 2020
    assert parse_scenario({**base, "demand_year": 2029}).demand_year == 2029
    for bad in (2027, "2029", True):
        with pytest.raises(ScenarioError, match="demand_year: must be one of 2020, 2025, 2029"):
            parse_scenario({**base, "demand_year": bad})


def test_cli_year_option():
    from elder_coverage.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["coverage", "--out", "o", "--year", "2029"]).year == 2029
    assert parser.parse_args(["run", "s.yaml", "--out", "o", "--year", "2025"]).year == 2025
    assert parser.parse_args(["run", "s.yaml", "--out", "o"]).year is None
    with pytest.raises(SystemExit):
        parser.parse_args(["coverage", "--out", "o", "--year", "2031"])


@pytest.mark.parametrize("year", [2020, 2029])
def test_run_uses_the_elders_of_its_demand_year(sample_path, tmp_path, year):
    """One county, coverage only: 2020 is the census exactly, 2029 the projection exactly."""
    from elder_coverage.runner import run_scenario

    out = run_scenario({"name": f"y{year}", "demand_year": year,
                        "study_area": {"sample": "jilin_city_rural", "counties": ["220221"]},
                        "analyses": {"coverage": {}}}, tmp_path / "run")
    s = out.summary
    assert s["demand_year"] == year
    expected = elders_for_year(year, counties=["220221"]).loc["220221"]
    assert s["elders_total"] == expected["age60"] == s["demand"]["elders_by_year"][str(year)]["60+"]
    assert s["elders_80"] == expected["age80"]
    assert s["demand"]["elders_by_year"]["2020"]["60+"] == 64_312  # 永吉, 2020 census
    assert any("Hamilton–Perry" in n for n in s["notes"]) == (year != 2020)


def test_elders_by_year_outside_jilin_or_without_tables(tmp_path):
    from elder_coverage.demand import elders_by_year

    assert elders_by_year(["110101"]) is None
    assert elders_by_year(["220221"], raw_dir=tmp_path) is None
    both = elders_by_year(["220221", "220281"], years=(2020,))
    assert both == {"2020": {"60+": 64_312 + 87_191, "65+": 43_851 + 59_122,
                             "80+": 6_448 + 9_979}}
