"""Facility lists as Excel workbooks and in Amap (GCJ-02) / Baidu (BD-09) coordinates."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from elder_coverage import stages
from elder_coverage.engine import compute_coverage
from elder_coverage.gcj02 import wgs84_to_bd09, wgs84_to_gcj02
from elder_coverage.io.errors import InputError
from elder_coverage.io.facilities import read_facilities
from elder_coverage.scenario import ScenarioError, parse_scenario
from elder_coverage.standards import load_standards
from elder_coverage.travel import RoadNetwork

ROWS = pd.DataFrame({
    "编号": ["007", "008", "009"],
    "名称": ["甲助老餐厅", "乙养老大院", "丙敬老院"],
    "类型": ["老年食堂", "农村幸福院", "乡镇敬老院"],
    "床位数": [30, 12, 60],
    "入住率": ["", "", "85%"],
    "经度": [126.55, 126.56, 126.57],
    "纬度": [43.85, 43.86, 43.87],
})


def _xlsx(path, sheets):
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    return path


def test_excel_uses_the_csv_synonyms_and_keeps_leading_zeros(tmp_path):
    xlsx = _xlsx(tmp_path / "名录.xlsx", {"说明": pd.DataFrame({"a": [1]}), "机构": ROWS})
    fac = read_facilities(xlsx, sheet="机构", crs="EPSG:32652")
    ROWS.to_csv(tmp_path / "f.csv", index=False)
    ref = read_facilities(tmp_path / "f.csv", crs="EPSG:32652")
    assert fac["id"].tolist() == ["007", "008", "009"]
    assert fac["kind"].tolist() == ["dining_hall", "rural_courtyard", "township_centre"]
    assert fac["capacity"].tolist() == [30, 12, 60]
    assert fac["occupancy"].iloc[2] == pytest.approx(0.85)
    assert np.allclose(fac.geometry.x, ref.geometry.x, atol=1e-6)
    assert np.allclose(fac.geometry.y, ref.geometry.y, atol=1e-6)
    # By position: sheet 1 is the second sheet.
    assert read_facilities(xlsx, sheet=1, crs="EPSG:32652")["id"].tolist() == fac["id"].tolist()


def test_excel_first_sheet_by_default_and_trailing_blank_rows_ignored(tmp_path):
    padded = pd.concat([ROWS, pd.DataFrame([[None] * ROWS.shape[1]] * 3,
                                           columns=ROWS.columns)], ignore_index=True)
    fac = read_facilities(_xlsx(tmp_path / "f.xlsx", {"Sheet1": padded}))
    assert len(fac) == 3


def test_excel_errors_name_file_sheet_row_and_field(tmp_path):
    bad = ROWS.copy()
    bad.loc[1, "类型"] = "养老超市"
    xlsx = _xlsx(tmp_path / "f.xlsx", {"机构": bad})
    with pytest.raises(InputError, match=r"f\.xlsx: row 2, field '类型': unknown kind '养老超市'"):
        read_facilities(xlsx)
    with pytest.raises(InputError, match=r"no sheet named '名单'; sheets are \['机构'\]"):
        read_facilities(xlsx, sheet="名单")
    with pytest.raises(InputError, match="sheet position 3 out of range"):
        read_facilities(xlsx, sheet=3)
    empty = _xlsx(tmp_path / "e.xlsx", {"机构": ROWS.iloc[:0]})
    with pytest.raises(InputError, match="e.xlsx: sheet '机构' has a header but no data rows"):
        read_facilities(empty)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0 an OLE2 workbook")
    with pytest.raises(InputError, match=r"old.xls: Excel 97-2003 .* save it as .xlsx"):
        read_facilities(tmp_path / "old.xls")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(InputError, match="broken.xlsx: cannot be read as an Excel"):
        read_facilities(tmp_path / "broken.xlsx")


def test_scenario_mapping_is_validated(tmp_path):
    ROWS.to_csv(tmp_path / "f.csv", index=False)
    base = {"name": "x", "analyses": {"coverage": {}}}
    sc = parse_scenario({**base, "inputs": {"facilities": {"path": "f.csv",
                                                            "coordinates": "gcj02"}}},
                        tmp_path / "s.yaml")
    assert sc.facilities == (tmp_path / "f.csv").resolve()
    assert sc.read_options == {"facilities": {"coordinates": "gcj02"}}
    for body, message in (
        ({"path": "f.csv", "coordinates": "gcj-02"},
         "inputs.facilities.coordinates: must be one of wgs84, gcj02, bd09"),
        ({"coordinates": "bd09"}, "inputs.facilities.path: required"),
        ({"path": "f.csv", "sheet": "机构"}, "inputs.facilities.sheet: applies to Excel"),
        ({"path": "f.csv", "crs": "gcj02"}, "inputs.facilities.crs: unknown key"),
    ):
        with pytest.raises(ScenarioError, match=message):
            parse_scenario({**base, "inputs": {"facilities": body}}, tmp_path / "s.yaml")


# --- the sample's own facilities, converted forward, give the same coverage ---------------

@pytest.fixture(scope="module")
def sample_study(sample_path):
    """The default sample, loaded once, and its facilities as a full-precision lon/lat table."""
    study = stages.load_sample()
    fac = gpd.read_file(sample_path / "facilities.gpkg")
    area = gpd.read_file(sample_path / "counties.gpkg").to_crs(fac.crs).union_all()
    # One sample courtyard (RU00588) stands 0.7 m outside its county polygon, which the
    # facility reader rejects; it is left out of every variant alike.
    fac = fac[fac.within(area)]
    ll = fac.to_crs(4326).geometry
    table = pd.DataFrame(fac.drop(columns="geometry")).assign(lon=ll.x, lat=ll.y)
    return study, table


def _covered_by_kind(study_and_table, monkeypatch, tmp_path, facilities):
    study, _ = study_and_table
    # The scenario path end to end (validation, load_study, reader), on the sample loaded once.
    monkeypatch.setattr(stages, "load_sample", lambda area: study)
    sc = parse_scenario({"name": "x", "study_area": {"sample": "jilin_city_rural",
                                                      "counties": ["舒兰市"]},
                         "inputs": {"facilities": facilities},
                         "analyses": {"coverage": {}}}, tmp_path / "s.yaml")
    loaded = stages.load_study(sc)
    std = load_standards()
    cov = compute_coverage(loaded.cells, loaded.facilities, RoadNetwork(loaded.graph), std)
    elders = cov.cells["elders_60"].to_numpy(float)
    out = {k: float(elders[cov.cells[f"{k}_covered"].fillna(False).to_numpy(bool)].sum())
           for k in cov.report.kinds}
    return out, loaded.facilities


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_excel_gcj02_and_bd09_inputs_cover_exactly_as_the_wgs84_csv(sample_study, monkeypatch,
                                                                     tmp_path):
    _, table = sample_study
    table.to_csv(tmp_path / "wgs84.csv", index=False)
    _xlsx(tmp_path / "wgs84.xlsx", {"说明": pd.DataFrame({"a": [1]}), "设施": table})
    glon, glat = wgs84_to_gcj02(table["lon"], table["lat"])
    table.assign(lon=glon, lat=glat).to_csv(tmp_path / "gcj02.csv", index=False)
    blon, blat = wgs84_to_bd09(table["lon"], table["lat"])
    _xlsx(tmp_path / "bd09.xlsx", {"设施": table.assign(lon=blon, lat=blat)})

    ref, ref_fac = _covered_by_kind(sample_study, monkeypatch, tmp_path, "wgs84.csv")
    assert ref["rural_courtyard"] > 0 and ref["dining_hall"] > 0
    variants = {
        "xlsx": {"path": "wgs84.xlsx", "sheet": "设施"},
        "gcj02": {"path": "gcj02.csv", "coordinates": "gcj02"},
        "bd09": {"path": "bd09.xlsx", "coordinates": "bd09"},
    }
    for name, spec in variants.items():
        got, fac = _covered_by_kind(sample_study, monkeypatch, tmp_path, spec)
        assert got == ref, name
        # The conversion back to WGS84 is exact to far below a metre.
        shift = fac.geometry.distance(ref_fac.geometry, align=False).max()
        assert shift < 1e-3, (name, shift)

    # Read as WGS84 by mistake, the GCJ-02 points move by hundreds of metres: the option
    # matters, which is what makes the equalities above a real test.
    wrong = read_facilities(tmp_path / "gcj02.csv", crs=ref_fac.crs).set_index("id")
    right = ref_fac.set_index("id")
    moved = wrong.geometry.distance(right.geometry.reindex(wrong.index))
    assert moved.min() > 200
